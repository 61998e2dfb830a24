// The server half for Node: accepts WebSocket connections on its own port,
// from an existing http(s).Server's `upgrade` event, or over any transport
// handed to `accept`, and gives the application the same WHATWG-shaped
// WebSocket the client side uses.
//
// The engine reads and judges every opening request, whatever its source:
// requests that Node's HTTP server already parsed are written back into
// bytes and fed through the same parser, so every refusal (400, 405, 426,
// 431) comes from one place. The application's policy (path, origin or
// other checks, subprotocol choice) runs between the engine's REQUEST event
// and its answer.

import { EventEmitter } from "node:events";
import net from "node:net";
import tls from "node:tls";

import { Engine, Status, Tag } from "../engine.js";
import { Session } from "../session.js";
import {
  engineConfig,
  toTransport,
  traceHeads,
  WebSocket,
} from "../websocket.js";

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
 * @property {number} [maxMessageSize] @property {number} [maxHeadSize] @property {number} [keepalive]
 * @property {number} [handshakeTimeout] default 10000 ms
 * @property {(record: object) => void} [trace] called with every handshake head and frame
 * @property {number} [closeTimeout] default 5000 ms
 */

export class WebSocketServer extends EventEmitter {
  /** @type {Set<WebSocket>} */
  clients = new Set();
  #options;
  #config;
  #listener = null;
  #attached = null;
  #pending = new Set();
  #closed = false;

  /** @param {ServerOptions} options */
  constructor(options = {}, onListening) {
    super();
    this.#options = { handshakeTimeout: 10000, closeTimeout: 5000, ...options };
    this.#config = engineConfig(this.#options, { server: true });
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
        this.accept(socket),
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
    this.accept(request, socket, head);
  };

  /**
   * Completes a handshake over any transport and resolves to the accepted
   * WebSocket, or to null if the handshake was refused or failed.
   *
   * - `accept(transport)`: the transport carries the opening request itself
   *   (a socket, a Duplex, a `{ readable, writable }` pair);
   * - `accept(request, transport, head)`: from an `upgrade` event, where Node
   *   has read the request and `head` holds the bytes that came after it.
   */
  accept(requestOrTransport, transport, head) {
    let request = null;
    if (transport === undefined) transport = requestOrTransport;
    else request = requestOrTransport;
    return new Promise((resolve) =>
      this.#handshake(request, transport, head, resolve),
    );
  }

  #handshake(incoming, rawTransport, head, resolve) {
    const transport = toTransport(rawTransport);
    if (this.#closed) {
      transport.destroy();
      return resolve(null);
    }
    // The address is read only when asked for: a socket caches it in an
    // object of its own, memory an idle connection need not carry.
    const peer = {
      get remoteAddress() {
        return rawTransport.remoteAddress ?? incoming?.socket?.remoteAddress;
      },
      get remotePort() {
        return rawTransport.remotePort ?? incoming?.socket?.remotePort;
      },
      secure: Boolean(rawTransport.encrypted ?? incoming?.socket?.encrypted),
    };
    const engine = Engine.server(this.#config, performance.now());
    const session = new Session(engine, null);
    let settled = false;
    const settle = (ws) => {
      if (settled) return;
      settled = true;
      this.#pending.delete(session);
      resolve(ws);
    };
    session.handler = {
      event: (tag, value) => {
        if (tag === Tag.REQUEST) this.#decide(session, peer, settle);
        else if (tag === Tag.ERROR)
          this.emit("handshakeError", new Error(value), {
            remoteAddress: peer.remoteAddress,
            remotePort: peer.remotePort,
          });
        else if (tag === Tag.CLOSED) {
          session.finish();
          settle(null);
        }
      },
    };
    this.#pending.add(session);
    session.attach(transport);
    if (incoming) session.receive(requestHead(incoming));
    if (head?.length) session.receive(head);
  }

  /**
   * Runs the application's policy on a request, then answers it. Hooks may
   * return promises; the common case (none, or plain values) stays
   * synchronous, with no promise made per handshake.
   */
  #decide(session, peer, settle) {
    const engine = session.engine;
    const raw = engine.request();
    const { rawHeaders } = raw;
    // No prototype: a header named `constructor` or `__proto__` is a header.
    const headers = Object.create(null);
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
      const key = rawHeaders[i].toLowerCase();
      const value = rawHeaders[i + 1];
      headers[key] = key in headers ? `${headers[key]}, ${value}` : value;
    }
    const query = raw.path.indexOf("?");
    const scheme = peer.secure ? "wss" : "ws";
    const request = {
      method: "GET",
      url: raw.path,
      path: query < 0 ? raw.path : raw.path.slice(0, query),
      headers,
      rawHeaders,
      origin: headers.origin,
      protocols: raw.protocols,
      extensions: raw.extensions,
      get remoteAddress() {
        return peer.remoteAddress;
      },
      get remotePort() {
        return peer.remotePort;
      },
      href: flat(`${scheme}://${raw.host}${raw.path}`),
    };
    const refuse = (status, reason, extra = {}) => {
      session.command((e) =>
        e.reject(status, reason, Object.entries(extra).flat().map(String)),
      );
      traceHeads(engine, this.#options.trace, true);
      settle(null);
    };
    const failed = (error) => {
      this.#hookFailed(error);
      refuse(500, "Internal Server Error");
    };
    const o = this.#options;
    if (o.path !== undefined && request.path !== o.path) {
      return refuse(404, "Not Found");
    }
    const answer = (protocol) => {
      if (session.finished) return settle(null);
      this.#open(session, request, protocol || null, settle);
    };
    const choose = () => {
      if (!o.handleProtocols || request.protocols.length === 0)
        return answer(null);
      hook(
        () => o.handleProtocols([...request.protocols], request),
        answer,
        failed,
      );
    };
    if (!o.verifyClient) return choose();
    hook(
      () => o.verifyClient(request),
      (verdict) => {
        if (verdict === false || verdict == null)
          return refuse(403, "Forbidden");
        if (typeof verdict !== "object") return choose();
        refuse(
          verdict.status ?? 403,
          verdict.reason ?? "Forbidden",
          verdict.headers,
        );
      },
      failed,
    );
  }

  /** Accepts a judged request and hands the app its socket. */
  #open(session, request, protocol, settle) {
    const engine = session.engine;
    // Answer outside the session's event pump, so that the app can listen to
    // the socket before the events that follow the answer are handled.
    const status = engine.accept(protocol, null, []);
    if (status !== Status.OK) {
      this.#hookFailed(
        new Error(`handleProtocols chose ${protocol}: ${engine.lastError}`),
      );
      session.command((e) => e.reject(500, "Internal Server Error", []));
      return settle(null);
    }
    traceHeads(engine, this.#options.trace, true);
    const ws = WebSocket._accepted({
      session,
      url: request.href,
      protocol: protocol ?? "",
      extensions: "",
      trace: this.#options.trace,
      server: this,
    });
    session.handler = ws;
    this.clients.add(ws);
    settle(ws);
    this.emit("connection", ws, request);
    session.pump();
  }

  /**
   * A hook threw, rejected or chose wrongly; the request was answered 500.
   * Reported as an `error` event where the application listens for one,
   * else on stderr: a hook's failure (often on odd input from a peer) must
   * not let one request end the process, as an unheard `error` would.
   */
  #hookFailed(error) {
    if (this.listenerCount("error") > 0) this.emit("error", error);
    else console.error("wasmsocket: a WebSocketServer hook failed:", error);
  }

  /** @internal An accepted socket closed (called by the socket itself, so
   * no listener per socket is needed). */
  _forget(ws) {
    this.clients.delete(ws);
  }

  /**
   * Stops accepting, closes every connection with 1001 (after what was
   * already sent to it) and resolves once all of them are closed.
   */
  close(reason = "server shutting down") {
    const listening = this.#listener;
    if (!this.#closed) {
      this.#closed = true;
      listening?.close();
      this.#attached?.off("upgrade", this.#onUpgrade);
      for (const session of this.#pending) session.command((e) => e.abort());
    }
    const closing = [...this.clients].map((ws) => {
      if (ws.readyState === WebSocket.CLOSED) return null;
      const closed = new Promise((resolve) =>
        ws.addEventListener("close", resolve, { once: true }),
      );
      ws._closeWithStatus(1001, reason);
      return closed;
    });
    return Promise.all(closing).then(() => {
      this.emit("close");
    });
  }
}

/**
 * A copy of `s` that shares no memory with the strings it was built from.
 * Parts split from the engine's request summary are slices of it, and the
 * socket keeps its URL for its lifetime, so without this every idle
 * connection would carry the whole request text. JSON's round trip makes
 * one flat string (48 B for a short URL in Node 20); a slice of a
 * concatenation would keep the slice and its parent (80 B).
 */
function flat(s) {
  return JSON.parse(JSON.stringify(s));
}

/**
 * Runs an application hook and calls `next` with its result: at once for a
 * plain value, once settled for a promise. Only the hook's own throw or
 * rejection goes to `failed`; what `next` does is not the hook's failure.
 */
function hook(call, next, failed) {
  let result;
  try {
    result = call();
  } catch (error) {
    return failed(error);
  }
  if (typeof result?.then === "function") result.then(next, failed);
  else next(result);
}

/** Writes a request Node already parsed back into its head's bytes. */
function requestHead(req) {
  let head = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`;
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    head += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
  }
  return head + "\r\n";
}
