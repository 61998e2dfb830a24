// The server half of the protocol over any transport, in any runtime: a
// WebSocketServer whose one way in is `accept(transport)` (a stream pair such
// as a WebTransport bidirectional stream, or any transport). It needs no
// `node:` module, so a page can run a client and a server against each other
// and Deno or Bun can serve over their own streams. The Node server
// (node/server.js) adds listening and `upgrade` on top of the same core.
//
// The engine reads and judges every opening request, whatever its source, so
// every refusal (400, 405, 426, 431) comes from one place. The application's
// policy (path, origin or other checks, subprotocol choice) runs between the
// engine's REQUEST event and its answer.

import { Engine, Status, Tag } from "./engine.js";
import { Topics } from "./pubsub.js";
import { Session } from "./session.js";
import {
  engineConfig,
  toTransport,
  traceHeads,
  WebSocket,
} from "./websocket.js";
import { WebSocketStream } from "./websocketstream.js";

/**
 * The core of a server, on any event emitter base with `emit` and
 * `listenerCount` (Node's EventEmitter, or `Emitter` below): one class
 * written once, two bases, so the Node server stays a real EventEmitter.
 */
export function serverCore(Base) {
  return class WebSocketServer extends Base {
    /** @type {Set<WebSocket>} */
    clients = new Set();
    #options;
    #config;
    #pending = new Set();
    #closed = false;
    /** Shared by every accepted WebSocket: backpressure, drain, lifetime. */
    #policy;
    /** @internal Publish/subscribe (pubsub.js), used by the sockets. */
    _topics;

    constructor(options = {}) {
      super();
      this.#options = {
        handshakeTimeout: 10000,
        closeTimeout: 5000,
        ...options,
        // A server drops peers gone silent, as Bun and Deno do.
        idleTimeout: options.idleTimeout ?? options.keepalive ?? 120000,
      };
      const o = this.#options;
      if (![undefined, "close", "drop"].includes(o.backpressure)) {
        throw new TypeError('backpressure must be "close" or "drop"');
      }
      const maxBackpressure = o.maxBackpressure ?? 16 * 1024 * 1024;
      this.#policy = {
        maxBackpressure,
        drop: o.backpressure === "drop",
        drainThreshold: o.drainThreshold ?? Math.floor(maxBackpressure / 2),
        maxLifetime: o.maxLifetime ?? 0,
      };
      this.#config = engineConfig(this.#options, { server: true });
      this._topics = new Topics(this.#config, o.broker);
    }

    /**
     * Sends `data` (a string as text; an ArrayBuffer or view as binary) to
     * every socket subscribed to `topic` (see WebSocket `subscribe`) but
     * `except`, framed once, then to the other processes through the
     * `broker`. Returns how many of this process's sockets it went to.
     */
    publish(topic, data, { except } = {}) {
      topic = String(topic);
      if (typeof data !== "string") data = binary(data);
      const count = this._topics.publish(topic, data, except ?? null);
      this._topics.forward(topic, data);
      return count;
    }

    /** How many of this process's sockets are subscribed to `topic`. */
    subscriberCount(topic) {
      return this._topics.count(String(topic));
    }

    /** Where the server listens: nowhere, here (the Node server overrides). */
    address() {
      return null;
    }

    /**
     * Completes a handshake over a transport that carries the opening
     * request itself, and resolves to the accepted WebSocket, or to null if
     * the handshake was refused or failed.
     */
    accept(transport) {
      return this._accept(transport, {});
    }

    /**
     * The handshake behind `accept`. `head` holds bytes already read from
     * the transport (a request a runtime's HTTP server parsed, written back,
     * and what followed it); `socket` is where the peer's address is read
     * when the transport has none. With `done`, that is called with the
     * WebSocket or null and no promise is made (the Node server's own
     * listeners, which have no use for one).
     */
    _accept(rawTransport, { head, socket } = {}, done) {
      if (done === undefined) {
        return new Promise((resolve) =>
          this._accept(rawTransport, { head, socket }, resolve),
        );
      }
      const transport = toTransport(rawTransport);
      if (this.#closed) {
        transport.destroy();
        return done(null);
      }
      const session = new Session(
        Engine.server(this.#config, performance.now()),
        null,
      );
      let settled = false;
      const settle = (ws) => {
        if (settled) return;
        settled = true;
        this.#pending.delete(session);
        done(ws);
      };
      session.handler = {
        event: (tag, value) => {
          if (tag === Tag.REQUEST)
            this.#decide(session, rawTransport, socket, settle);
          else if (tag === Tag.ERROR) {
            this.emit("handshakeError", new Error(value), {
              remoteAddress: peer(rawTransport, socket, "remoteAddress"),
              remotePort: peer(rawTransport, socket, "remotePort"),
            });
          } else if (tag === Tag.CLOSED) {
            session.finish();
            settle(null);
          }
        },
      };
      this.#pending.add(session);
      session.attach(transport);
      if (head !== undefined)
        for (const bytes of head) if (bytes?.length) session.receive(bytes);
    }

    /**
     * Runs the application's policy on a request, then answers it. Hooks may
     * return promises; the common case (none, or plain values) stays
     * synchronous, with no promise made per handshake, and makes no closure
     * but for what it uses.
     */
    #decide(session, rawTransport, socket, settle) {
      const engine = session.engine;
      const raw = engine.request();
      const secure = Boolean(rawTransport.encrypted ?? socket?.encrypted);
      const request = new HandshakeRequest(
        raw,
        flat(`${secure ? "wss" : "ws"}://${raw.host}${raw.path}`),
        rawTransport,
        socket,
      );
      const o = this.#options;
      const pathOk = o.path === undefined || request.path === o.path;
      if (
        pathOk &&
        !o.verifyClient &&
        (!o.handleProtocols || request.protocols.length === 0)
      ) {
        if (session.finished) return settle(null);
        return this.#open(session, request, null, settle);
      }
      const refuse = (status, reason, extra = {}) => {
        session.command((e) =>
          e.reject(status, reason, Object.entries(extra).flat().map(String)),
        );
        traceHeads(engine, o.trace, true);
        settle(null);
      };
      if (!pathOk) return refuse(404, "Not Found");
      const failed = (error) => {
        this.#hookFailed(error);
        refuse(500, "Internal Server Error");
      };
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
      // Answer outside the session's event pump, so that the app can listen
      // to the socket before the events that follow the answer are handled.
      const status = engine.accept(protocol, null, []);
      if (status !== Status.OK) {
        this.#hookFailed(
          new Error(`handleProtocols chose ${protocol}: ${engine.lastError}`),
        );
        session.command((e) => e.reject(500, "Internal Server Error", []));
        return settle(null);
      }
      traceHeads(engine, this.#options.trace, true);
      // `stream: true` (or `{ highWaterMark }`): hand out WebSocketStreams.
      const stream = this.#options.stream;
      const ws = (stream ? WebSocketStream : WebSocket)._accepted({
        session,
        url: request.href,
        protocol: protocol ?? "",
        extensions: this.#options.perMessageDeflate ? engine.extensions : "",
        trace: this.#options.trace,
        server: this,
        policy: this.#policy,
        highWaterMark: stream?.highWaterMark,
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
     * else on the console: a hook's failure (often on odd input from a peer)
     * must not let one request end the process, as an unheard `error` would.
     */
    #hookFailed(error) {
      if (this.listenerCount("error") > 0) this.emit("error", error);
      else console.error("wasmsocket: a WebSocketServer hook failed:", error);
    }

    /** @internal An accepted socket closed (called by the socket itself, so
     * no listener per socket is needed). */
    _forget(ws, topics) {
      this.clients.delete(ws);
      if (topics) for (const t of topics) this._topics.unsubscribe(ws, t);
    }

    /**
     * Stops accepting, closes every connection with 1001 (after what was
     * already sent to it) and resolves once all of them are closed.
     */
    close(reason = "server shutting down") {
      if (!this.#closed) {
        this.#closed = true;
        for (const session of this.#pending) session.command((e) => e.abort());
      }
      const closing = [...this.clients].map((ws) => {
        if (ws instanceof WebSocketStream) {
          ws._closeWithStatus(1001, reason);
          return ws.closed.catch(() => {});
        }
        if (ws.readyState === WebSocket.CLOSED) return null;
        const closed = new Promise((resolve) =>
          ws.addEventListener("close", resolve, { once: true }),
        );
        ws._closeWithStatus(1001, reason);
        return closed;
      });
      return Promise.all(closing)
        .then(() => this._topics.close())
        .then(() => {
          this.emit("close");
        });
    }
  };
}

/**
 * The few methods of Node's EventEmitter the server's users call (`on`,
 * `once`, `off`, `emit`, `listenerCount`), for runtimes without one.
 * Listeners run in order; one that throws does not stop the others.
 */
export class Emitter {
  #listeners = new Map();

  on(event, listener) {
    const list = this.#listeners.get(event) ?? [];
    this.#listeners.set(event, [...list, listener]);
    return this;
  }

  once(event, listener) {
    const once = (...args) => {
      this.off(event, once);
      listener.apply(this, args);
    };
    once.listener = listener;
    return this.on(event, once);
  }

  off(event, listener) {
    const list = this.#listeners.get(event) ?? [];
    const at = list.findLastIndex(
      (l) => l === listener || l.listener === listener,
    );
    if (at >= 0) this.#listeners.set(event, list.toSpliced(at, 1));
    return this;
  }

  emit(event, ...args) {
    const list = this.#listeners.get(event);
    if (!list?.length) return false;
    for (const listener of list) {
      try {
        listener.apply(this, args);
      } catch (error) {
        report(error);
      }
    }
    return true;
  }

  listenerCount(event) {
    return this.#listeners.get(event)?.length ?? 0;
  }
}

/** The server for runtimes without Node's `net` (browsers, workers, Deno or
 * Bun serving over their own streams): `accept(transport)` only. */
export class WebSocketServer extends serverCore(Emitter) {}

/** An error no caller can take, reported as the runtime reports uncaught ones. */
function report(error) {
  if (typeof globalThis.reportError === "function")
    globalThis.reportError(error);
  else
    setTimeout(() => {
      throw error;
    });
}

/** A publish's binary data as bytes (copied later, when framed). */
function binary(data) {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data))
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError("publish takes a string, an ArrayBuffer or a view");
}

/**
 * `s` as one flat string that shares no memory with the strings it was built
 * from. Parts split from the engine's request summary are slices of it, and
 * the socket keeps its URL for its lifetime, so without this every idle
 * connection would carry the whole request text. Reading a concatenation
 * flattens it into a fresh string, and the GC then drops the concatenation
 * that points to it: 48 B kept for a short URL in Node 20, as with JSON's
 * round trip, at a fifth of its cost (~90 against ~450 ns).
 */
function flat(s) {
  s.charCodeAt(0);
  return s;
}

/**
 * The request hooks and `connection` listeners are given. A class, not an
 * object literal with getters: V8 makes such a literal slowly, as a
 * dictionary (measured in Node 20: 4 µs and 1.2 KB against 0.1 µs and
 * 0.2 KB a request). The peer's address is read only when asked for: a
 * socket caches it in an object of its own, memory an idle connection need
 * not carry.
 */
class HandshakeRequest {
  #transport;
  #socket;
  /** The header fields, `name\0value\0…`, and what is made of them when
   * first asked for. */
  #headerText;
  #rawHeaders = null;
  #headers = null;

  constructor(raw, href, transport, socket) {
    const query = raw.path.indexOf("?");
    this.method = "GET";
    this.url = raw.path;
    this.path = query < 0 ? raw.path : raw.path.slice(0, query);
    this.protocols = raw.protocols;
    this.extensions = raw.extensions;
    this.href = href;
    this.#headerText = raw.headerText;
    this.#transport = transport;
    this.#socket = socket;
  }

  /** A flat [name, value, …] list, as Node's IncomingMessage has it. */
  get rawHeaders() {
    return (this.#rawHeaders ??=
      this.#headerText === "" ? [] : this.#headerText.split("\0"));
  }

  /** Lower-case names to values; a repeated field's values joined by ", ". */
  get headers() {
    if (this.#headers !== null) return this.#headers;
    const raw = this.rawHeaders;
    const headers = new HeaderFields();
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const key = raw[i].toLowerCase();
      const before = headers[key];
      headers[key] =
        before === undefined ? raw[i + 1] : `${before}, ${raw[i + 1]}`;
    }
    return (this.#headers = headers);
  }

  get origin() {
    return this.headers.origin;
  }

  get remoteAddress() {
    return peer(this.#transport, this.#socket, "remoteAddress");
  }

  get remotePort() {
    return peer(this.#transport, this.#socket, "remotePort");
  }
}

/**
 * A request's `headers`: no `Object.prototype` in its chain, so a header
 * named `constructor` or `__proto__` is a header; made by a constructor
 * rather than `Object.create(null)`, whose objects start as dictionaries
 * (filling one cost 1.5 µs against 0.9 µs).
 */
function HeaderFields() {}
HeaderFields.prototype = Object.create(null);

/** The peer's `remoteAddress` or `remotePort`, read from the transport or the socket under it only
 * when asked for: a socket caches it in an object of its own, memory an
 * idle connection need not carry. */
function peer(rawTransport, socket, key) {
  return rawTransport[key] ?? socket?.[key];
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
