// The server half for Node: the runtime-neutral core (../server.js) on Node's
// EventEmitter, plus what only Node has: listening on its own port (TCP or
// TLS) and taking connections from an existing http(s).Server's `upgrade`
// event. Requests that Node's HTTP server already parsed are written back
// into bytes and fed through the engine's parser, so every refusal still
// comes from one place.

import { EventEmitter } from "node:events";
import net from "node:net";
import tls from "node:tls";

import { serverCore } from "../server.js";
import { duplexTransport } from "./duplex.js";

/** What the server's own listeners do with a finished handshake: nothing
 * (the app hears of it through `connection`), so no promise is made. */
const ignore = () => {};

/**
 * @typedef {object} ServerOptions
 * @property {number} [port] listen on this port (0 = any free one)
 * @property {string} [host] address to listen on
 * @property {object} [tls] `tls.createServer` options (key, cert, …) for wss:
 * @property {import("node:http").Server} [server] attach to this server's `upgrade` event
 * @property {string} [path] accept only this path (others get 404)
 * @property {(request: object) => boolean | {status: number, reason?: string, headers?: object} | Promise<any>} [verifyClient]
 *   decide on a request (e.g. by its origin): true accepts, false answers 403, an object another status
 * @property {(protocols: string[], request: object) => string | false | null | undefined} [handleProtocols]
 *   choose one of the offered subprotocols; the default takes none
 * @property {number} [maxMessageSize] @property {number} [maxHeadSize]
 * @property {number} [idleTimeout] ms of silence before a ping, and as long again before closing (1006); default 120000, 0 off
 * @property {number} [keepalive] another name for idleTimeout
 * @property {number} [maxLifetime] ms after which a connection is closed with 1001 (default off)
 * @property {number} [maxBackpressure] bytes queued for a client before sends are refused (default 16 MiB)
 * @property {"close" | "drop"} [backpressure] a refused send closes with 1008 (default) or is only dropped
 * @property {number} [drainThreshold] bufferedAmount at which `drain` fires (default half of maxBackpressure)
 * @property {number} [handshakeTimeout] default 10000 ms
 * @property {(record: object) => void} [trace] called with every handshake head and frame
 * @property {number} [closeTimeout] default 5000 ms
 */

export class WebSocketServer extends serverCore(EventEmitter) {
  #listener = null;
  #attached = null;

  /** @param {ServerOptions} options */
  constructor(options = {}, onListening) {
    super(options);
    if (onListening) this.once("listening", onListening);
    if (options.server) {
      this.#attached = options.server;
      this.#attached.on("upgrade", this.#onUpgrade);
    } else if (options.port !== undefined) {
      const secure = options.tls !== undefined;
      // noDelay at accept: no setsockopt call per connection.
      this.#listener = secure
        ? tls.createServer({ noDelay: true, ...options.tls })
        : net.createServer({ noDelay: true });
      this.#listener.on(secure ? "secureConnection" : "connection", (socket) =>
        this._accept(duplexTransport(socket), { socket }, ignore),
      );
      this.#listener.on("error", (error) => this.emit("error", error));
      this.#listener.on("tlsClientError", (error) =>
        this.emit("clientError", error),
      );
      this.#listener.listen(options.port, options.host, () =>
        this.emit("listening"),
      );
    }
  }

  /** The listening address, as `net.Server#address()`. */
  address() {
    return (this.#listener ?? this.#attached)?.address() ?? null;
  }

  #onUpgrade = (request, socket, head) => {
    this._accept(
      socket,
      { head: [requestHead(request), head], socket: request.socket },
      ignore,
    );
  };

  /**
   * Completes a handshake and resolves to the accepted WebSocket, or to null
   * if the handshake was refused or failed.
   *
   * - `accept(transport)`: the transport carries the opening request itself
   *   (a socket, a Duplex, a `{ readable, writable }` pair);
   * - `accept(request, transport, head)`: from an `upgrade` event, where Node
   *   has read the request and `head` holds the bytes that came after it.
   */
  accept(requestOrTransport, transport, head) {
    if (transport === undefined) return super.accept(requestOrTransport);
    return this._accept(transport, {
      head: [requestHead(requestOrTransport), head],
      socket: requestOrTransport.socket,
    });
  }

  /** Stops listening (or leaves the `upgrade` event), then closes as the core does. */
  close(reason) {
    this.#listener?.close();
    this.#listener = null;
    this.#attached?.off("upgrade", this.#onUpgrade);
    this.#attached = null;
    return super.close(reason);
  }
}

/** Writes a request Node already parsed back into its head's bytes. */
function requestHead(req) {
  let head = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`;
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    head += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
  }
  return head + "\r\n";
}
