// The WHATWG `WebSocket` interface (HTML Standard / WebSockets Standard) over
// a Session. Everything about the protocol happens in the engine; this file
// holds the DOM-shaped object: WebIDL conversions, readyState, events and
// their order, bufferedAmount, binaryType.

import {
  Engine,
  Status,
  Tag,
  checkClose,
  checkCloseFrame,
  checkProtocols,
  makeConfig,
} from "./engine.js";
import { Listeners, listening } from "./event-target.js";
import { CloseEvent, ErrorEvent, MessageEvent, PlainEvent } from "./events.js";
import { drained, Session } from "./session.js";
import { isStreamPair, isTransport, streamTransport } from "./transport.js";

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

/**
 * What differs between runtimes, filled in by the entry point:
 * `dial(url, options)` makes the default transport for a ws:/wss: URL, and
 * `adapt(transport)` turns a runtime-specific transport (a Node Duplex) into
 * the transport shape, or returns undefined.
 */
export const platform = {
  dial: null,
  adapt: () => undefined,
  baseURL: () => globalThis.document?.baseURI,
};

/** Accepted connections reach the constructor with this token. */
const fromServer = Symbol("wasmsocket.fromServer");

/** Turns a user-supplied transport option into the transport shape. */
export function toTransport(t) {
  if (isTransport(t)) return t;
  if (isStreamPair(t)) return streamTransport(t);
  const adapted = platform.adapt(t);
  if (adapted) return adapted;
  throw new TypeError(
    "options.transport must be a transport, a Node Duplex or a { readable, writable } stream pair",
  );
}

/** The serialized origin of a URL; "null" (an opaque origin's) for one
 * that does not parse. A server socket's URL is made of the peer's request,
 * which the engine has checked, but no peer byte may reach a throw. */
function originOf(url) {
  try {
    return new URL(url).origin;
  } catch {
    return "null";
  }
}

function syntaxError(message) {
  return new DOMException(message, "SyntaxError");
}

/** WebIDL `[Clamp] unsigned short`. */
function clampUint16(value) {
  let x = Number(value);
  if (Number.isNaN(x)) return 0;
  x = Math.min(Math.max(x, 0), 65535);
  const floor = Math.floor(x);
  const frac = x - floor;
  if (frac !== 0.5) return frac < 0.5 ? floor : floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** WebIDL `USVString`: lone surrogates become U+FFFD. */
export function toUSVString(value) {
  const s = String(value);
  return s.toWellFormed
    ? s.toWellFormed()
    : s.replace(/\p{Surrogate}/gu, "\uFFFD");
}

const isArrayBuffer = (v) =>
  Object.prototype.toString.call(v) === "[object ArrayBuffer]";
const isBlob = (v) => typeof Blob !== "undefined" && v instanceof Blob;
const encoder = new TextEncoder();

/** Header options in any of the shapes fetch accepts, flattened for the engine. */
function flattenHeaders(headers) {
  if (headers == null) return [];
  const entries =
    typeof headers[Symbol.iterator] === "function"
      ? headers
      : Object.entries(headers);
  const flat = [];
  for (const [name, value] of entries) flat.push(String(name), String(value));
  return flat;
}

/**
 * permessage-deflate settings from the `perMessageDeflate` option, in ws's
 * shape: `true`, `false`, or an object with `serverNoContextTakeover`,
 * `clientNoContextTakeover`, `serverMaxWindowBits`, `clientMaxWindowBits`
 * (8-15, or `true` for no value), `threshold` and `level` (also read from
 * ws's `zlibDeflateOptions`); `byDefault` when the option is absent.
 */
function deflateConfig(option, byDefault) {
  const on = option === undefined ? byDefault : Boolean(option);
  if (!on) return { deflate: false };
  const o = typeof option === "object" ? option : {};
  const bits = (name) => {
    const v = o[name];
    if (v === undefined || v === true) return 0;
    if (!Number.isInteger(v) || v < 8 || v > 15) {
      throw new RangeError(`perMessageDeflate.${name} must be 8-15, not ${v}`);
    }
    return v;
  };
  const level = o.level ?? o.zlibDeflateOptions?.level;
  if (
    level !== undefined &&
    !(Number.isInteger(level) && level >= 0 && level <= 9)
  ) {
    throw new RangeError(`perMessageDeflate level must be 0-9, not ${level}`);
  }
  return {
    deflate: true,
    deflate_server_no_context_takeover: Boolean(o.serverNoContextTakeover),
    deflate_client_no_context_takeover: Boolean(o.clientNoContextTakeover),
    deflate_server_max_window_bits: bits("serverMaxWindowBits"),
    deflate_client_max_window_bits: bits("clientMaxWindowBits"),
    deflate_threshold: o.threshold,
    deflate_level: level,
  };
}

/** Engine settings from the non-standard options; a client offers
 * permessage-deflate unless told not to, a server accepts it if told to. */
export function engineConfig(options = {}, { server = false } = {}) {
  return makeConfig({
    ...deflateConfig(options.perMessageDeflate, !server),
    max_message_size: options.maxMessageSize,
    max_frame_size: options.maxFrameSize,
    max_head_size: options.maxHeadSize,
    // One idle story: `idleTimeout` and `keepalive` name the same interval;
    // 0 turns it off.
    keepalive_interval: (options.idleTimeout ?? options.keepalive) || undefined,
    handshake_timeout: options.handshakeTimeout,
    close_timeout: options.closeTimeout,
    max_held_pings: options.maxHeldPings,
    disable_masking: options.disableMasking,
    trace_frames: typeof options.trace === "function",
  });
}

/** Reports both handshake heads to a trace callback, if there is one, in
 * the order they crossed: a client's request first, a server's answer last. */
export function traceHeads(engine, trace, server = false) {
  if (typeof trace !== "function") return;
  const [sent, received] = engine.heads();
  const heads = [
    ["sent", sent],
    ["received", received],
  ];
  if (server) heads.reverse();
  for (const [direction, text] of heads) {
    if (text) trace({ kind: "head", direction, text });
  }
}

/** The WHATWG steps that make a ws: or wss: URL record of a constructor's
 * `url` argument, with the SyntaxError they throw (WebSocket and
 * WebSocketStream share them). */
export function webSocketURL(url) {
  let record;
  try {
    record = new URL(toUSVString(url), platform.baseURL());
  } catch {
    throw syntaxError(`Invalid URL: ${url}`);
  }
  if (record.protocol === "http:") record.protocol = "ws:";
  else if (record.protocol === "https:") record.protocol = "wss:";
  if (record.protocol !== "ws:" && record.protocol !== "wss:") {
    throw syntaxError(
      `Unsupported URL scheme ${record.protocol} (use ws: or wss:)`,
    );
  }
  if (record.hash !== "" || record.href.endsWith("#")) {
    throw syntaxError("A WebSocket URL may not have a fragment");
  }
  return record;
}

/** Throws the constructors' SyntaxError for a bad subprotocol list. */
export function checkProtocolList(list) {
  const bad = checkProtocols(list);
  if (bad) throw syntaxError(bad);
}

/**
 * Starts a client's opening handshake for `handler` (see session.js) over
 * `options.transport`, or over what the runtime dials for `record`, with
 * the non-standard options (headers, origin, tls, limits, …) applied.
 */
export function clientSession(record, protocols, options, handler) {
  // Settings are checked before anything is dialled.
  const config = engineConfig(options);
  const transport = options.transport
    ? toTransport(options.transport)
    : platform.dial?.(record, options);
  if (!transport) {
    throw new TypeError(
      "No transport for this runtime: pass options.transport",
    );
  }
  const request = {
    host: record.host,
    resource: (record.pathname || "/") + record.search,
    protocols,
    extensions: [],
    origin: options.origin,
    headers: flattenHeaders(options.headers),
  };
  let engine;
  try {
    engine = Engine.client(config, request, performance.now());
  } catch (e) {
    transport.destroy();
    throw syntaxError(e.message);
  }
  const session = new Session(engine, handler);
  session.attach(transport);
  return session;
}

/**
 * The close code to send for WHATWG `close(code, reason)` arguments (`code`
 * already converted or undefined, `reason` a USVString), -1 for none; throws
 * the InvalidAccessError or SyntaxError that `close` must.
 */
export function closeCodeFor(code, reason) {
  const wireCode = code ?? (reason ? 1000 : -1);
  const status = checkClose(wireCode, reason);
  if (status === Status.INVALID_CODE) {
    throw new DOMException(
      `Close code ${code} is neither 1000 nor in 3000-4999`,
      "InvalidAccessError",
    );
  }
  if (status !== Status.OK)
    throw syntaxError("Close reason is longer than 123 bytes");
  return wireCode;
}

/** Reach a socket's private low-level face and its on* handler fields;
 * set in the class's static block. */
let controlOf;
let handlerSlots;

export class WebSocket extends Listeners {
  static CONNECTING = CONNECTING;
  static OPEN = OPEN;
  static CLOSING = CLOSING;
  static CLOSED = CLOSED;

  #url;
  #origin;
  #readyState = CONNECTING;
  #protocol = "";
  #extensions = "";
  #binaryType = "blob";
  /** @type {Session} */
  #session;
  /** Sends waiting behind a Blob being read, to keep their order. */
  #queue = null;
  /** Set when the connection failed: the `error` event's message. */
  #failure = null;
  /** The non-standard `trace` option: called with heads and frames. */
  #trace = null;
  /** The on* attributes' handlers: fields of their own, not an object made
   * when the first is set (most apps set two or more). */
  #onopen = null;
  #onmessage = null;
  #onerror = null;
  #onclose = null;
  /** The server that accepted this socket, told when it closes. */
  #server = null;
  /** Set by `control(ws).close(…, { keepReading: true })`: messages, pings
   * and pongs still fire while CLOSING, until the peer's close. */
  #keepReading = false;
  #ondrain = null;
  /** A server's backpressure and lifetime policy (see server.js), what it
   * dropped, and the lifetime timer. */
  #policy = null;
  #droppedMessages = 0;
  #droppedBytes = 0;
  #lifetime = null;
  /** Server side: the topics subscribed to (see pubsub.js), made at the
   * first subscribe. */
  #topics = null;

  /**
   * @param {string | URL} url
   * @param {string | string[]} [protocols]
   * @param {object} [options] non-standard: headers, origin, tls, transport,
   *   maxMessageSize, keepalive, handshakeTimeout, closeTimeout
   */
  constructor(url, protocols = [], options = {}) {
    super();
    if (url === fromServer) {
      this.#adopt(protocols);
      return;
    }
    if (arguments.length === 0) throw new TypeError("WebSocket needs a URL");
    const record = webSocketURL(url);
    const list =
      typeof protocols === "string" ||
      protocols == null ||
      typeof protocols[Symbol.iterator] !== "function"
        ? [String(protocols)]
        : Array.from(protocols, String);
    checkProtocolList(list);

    this.#url = record.href;
    this.#origin = record.origin;
    if (typeof options.trace === "function") this.#trace = options.trace;
    this.#session = clientSession(record, list, options, this);
  }

  /** An accepted server-side connection (see server.js). */
  #adopt({ session, url, protocol, extensions, trace, server, policy }) {
    this.#server = server ?? null;
    if (policy) {
      this.#policy = policy;
      session.drainAt = policy.drainThreshold;
      if (policy.maxLifetime > 0) {
        this.#lifetime = setTimeout(
          () => this._closeWithStatus(1001, "maximum lifetime reached"),
          policy.maxLifetime,
        );
        this.#lifetime.unref?.();
      }
    }
    this.#url = url;
    if (typeof trace === "function") this.#trace = trace;
    // The origin is worked out when first needed (most sockets never need it).
    this.#origin = null;
    this.#protocol = protocol;
    this.#extensions = extensions;
    this.#readyState = OPEN;
    this.#session = session;
  }

  /** @internal Used by the server to wrap an accepted session. */
  static _accepted(init) {
    return new WebSocket(fromServer, init);
  }

  /** The low-level face of this socket; see `control`. */
  #control() {
    const session = this.#session;
    const open = () => {
      if (this.#readyState !== OPEN) {
        throw new DOMException("The socket is not OPEN", "InvalidStateError");
      }
    };
    const check = (status) => {
      if (status !== Status.OK)
        throw usageError(status, session.engine.lastError);
    };
    const bytes = (data) =>
      typeof data === "string" ? encoder.encode(data) : toBytes(data);
    // A server's maxBackpressure bounds these sends too, against all the
    // output queued for the peer. Past it a ping or pong follows the policy;
    // a fragment or raw bytes close with 1008 even under "drop", as leaving
    // out part of the stream would corrupt it.
    const fits = (n, droppable) => {
      const policy = this.#policy;
      if (policy === null) return true;
      if (session.queuedOutput + n <= policy.maxBackpressure) return true;
      if (!(droppable && policy.drop))
        this._closeWithStatus(1008, "backpressure limit reached");
      return false;
    };
    const controlFrame = (pong, payload) => {
      open();
      const p = bytes(payload);
      if (fits(p.byteLength, true))
        check(session.command((e) => e.control(pong, p)));
    };
    return {
      ping: (payload = "") => controlFrame(false, payload),
      pong: (payload = "") => controlFrame(true, payload),
      sendFragment: (data, { fin = true } = {}) => {
        open();
        const piece =
          typeof data === "string" ? toUSVString(data) : toBytes(data);
        if (fits(size(piece), false))
          check(session.sendFragment(piece, typeof piece !== "string", fin));
      },
      sendRaw: (data) => {
        open();
        const raw = toBytes(data);
        if (fits(raw.byteLength, false))
          check(session.command((e) => e.sendRaw(raw)));
      },
      close: (code, reason = "", { keepReading = false } = {}) => {
        this._closeWithStatus(code, reason);
        if (keepReading) this.#keepReading = true;
      },
      pause: () => session.pauseReading(true),
      resume: () => session.pauseReading(false),
      abort: () => {
        if (this.#readyState === CLOSED) return;
        this.#readyState = CLOSING;
        session.command((e) => e.abort());
      },
    };
  }

  static {
    controlOf = (ws) => ws.#control();
    // [read, write] for each on* attribute (see the accessors below).
    handlerSlots = {
      open: [(ws) => ws.#onopen, (ws, fn) => (ws.#onopen = fn)],
      message: [(ws) => ws.#onmessage, (ws, fn) => (ws.#onmessage = fn)],
      error: [(ws) => ws.#onerror, (ws, fn) => (ws.#onerror = fn)],
      close: [(ws) => ws.#onclose, (ws, fn) => (ws.#onclose = fn)],
      drain: [(ws) => ws.#ondrain, (ws, fn) => (ws.#ondrain = fn)],
    };
  }

  /** @internal Closes with any wire-valid code (a server's 1001 on shutdown). */
  _closeWithStatus(code, reason = "") {
    reason = toUSVString(reason);
    const status = checkCloseFrame(clampUint16(code), reason);
    if (status !== Status.OK) {
      const why =
        status === Status.INVALID_CODE
          ? `close code ${code} may not be sent`
          : "close reason is longer than 123 bytes";
      throw usageError(status, why);
    }
    if (this.#readyState === CLOSING || this.#readyState === CLOSED) return;
    this.#readyState = CLOSING;
    // Behind any Blob still being read, so what was sent first goes first.
    const run = () =>
      this.#session.command((e) => e.closeWithStatus(code, reason));
    if (this.#queue) this.#queue.push(run);
    else run();
  }

  get url() {
    return this.#url;
  }
  get readyState() {
    return this.#readyState;
  }
  get protocol() {
    return this.#protocol;
  }
  get extensions() {
    return this.#extensions;
  }
  get bufferedAmount() {
    return this.#session.bufferedAmount;
  }
  /** Server side: messages, and their bytes, that `send` did not queue
   * because the peer was `maxBackpressure` behind. */
  get droppedMessages() {
    return this.#droppedMessages;
  }
  get droppedBytes() {
    return this.#droppedBytes;
  }
  get binaryType() {
    return this.#binaryType;
  }
  set binaryType(value) {
    if (value === "blob" || value === "arraybuffer") this.#binaryType = value;
  }

  /** Sends a string, ArrayBuffer, ArrayBufferView or Blob (WHATWG `send`). */
  send(data) {
    if (arguments.length === 0) throw new TypeError("send needs data");
    if (this.#readyState === CONNECTING) {
      throw new DOMException("Still in CONNECTING state", "InvalidStateError");
    }
    let payload;
    if (isArrayBuffer(data)) payload = new Uint8Array(data);
    else if (ArrayBuffer.isView(data))
      payload = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    else if (isBlob(data)) payload = data;
    else payload = toUSVString(data);

    if (this.#readyState !== OPEN) {
      // Never sent, yet counted for good (WHATWG).
      this.#session.addUnsent(size(payload));
      return;
    }
    this.#sendPayload(payload);
  }

  /**
   * Sends or queues a payload of an OPEN socket, under a server's
   * backpressure policy and behind any Blob being read. A publication
   * (`message` framed once by `topics` for every subscriber) goes out as
   * that shared frame where the session can take it. Returns whether it was
   * sent or queued.
   */
  #sendPayload(payload, message = null, topics = null) {
    const session = this.#session;
    if (this.#policy !== null && this.#overLimit(payload)) return false;
    if (this.#queue) {
      session.addUnsent(size(payload));
      this.#queue.push(payload);
      return true;
    }
    if (isBlob(payload)) {
      session.addUnsent(payload.size);
      this.#queue = [payload];
      this.#drainQueue();
      return true;
    }
    if (
      topics !== null &&
      session.sendShared(topics.frame(message, this.#extensions !== ""))
    ) {
      return true;
    }
    if (session.send(payload) === Status.OK) return true;
    // Refused (the engine is closing, or had no memory for it and failed
    // the connection): never sent, yet counted for good (WHATWG).
    session.addUnsent(size(payload));
    return false;
  }

  /**
   * Server side, non-standard (as Bun and uWebSockets.js): subscribes this
   * socket to `topic`, so that the server's `publish(topic, …)` reaches it.
   * Returns false if it was subscribed already or is closed.
   */
  subscribe(topic) {
    const topics = this.#pubsub();
    topic = String(topic);
    if (this.#readyState === CLOSED || !topics.subscribe(this, topic))
      return false;
    (this.#topics ??= new Set()).add(topic);
    return true;
  }

  /** Server side: the opposite of `subscribe`; false if not subscribed. */
  unsubscribe(topic) {
    topic = String(topic);
    if (!this.#topics?.delete(topic)) return false;
    this.#pubsub().unsubscribe(this, topic);
    return true;
  }

  isSubscribed(topic) {
    return this.#topics?.has(String(topic)) ?? false;
  }

  /** Server side: the topics this socket is subscribed to, in order. */
  get subscriptions() {
    return this.#topics === null ? [] : [...this.#topics];
  }

  /** The server's topics; a client's socket has none to join. */
  #pubsub() {
    if (this.#server === null)
      throw new DOMException(
        "only a server's sockets subscribe to topics",
        "InvalidStateError",
      );
    return this.#server._topics;
  }

  /**
   * @internal A server's publish (pubsub.js): sends one message made for
   * many sockets, framed by `topics` once, under this socket's backpressure
   * policy. Returns whether it was sent (or queued behind a Blob).
   */
  _deliver(message, topics) {
    if (this.#readyState !== OPEN) return false;
    return this.#sendPayload(message.data, message, topics);
  }

  /** Whether `payload` would take the bytes queued for the peer past
   * `maxBackpressure`; if so it is counted as dropped and, unless the policy
   * is "drop", the connection closed with 1008. A string's byte length is
   * only worked out when it might matter. */
  #overLimit(payload) {
    const { maxBackpressure, drop } = this.#policy;
    const room = maxBackpressure - this.#session.bufferedAmount;
    if (typeof payload === "string" && payload.length * 3 <= room) return false;
    const n = size(payload);
    if (n <= room) return false;
    this.#droppedMessages++;
    this.#droppedBytes += n;
    if (!drop) this._closeWithStatus(1008, "backpressure limit reached");
    return true;
  }

  /** Session: bufferedAmount fell to the server's `drainThreshold`. */
  [drained]() {
    this.#fire(PlainEvent, "drain");
  }

  /** Sends queued items in order, reading Blobs as they come up. */
  async #drainQueue() {
    const q = this.#queue;
    while (q.length > 0) {
      let item = q[0];
      if (isBlob(item)) item = new Uint8Array(await item.arrayBuffer());
      q.shift();
      if (this.#session.finished) continue;
      if (typeof item === "function") item();
      else this.#session.send(item, true);
    }
    this.#queue = null;
  }

  /** Starts the closing handshake (WHATWG `close`). */
  close(code = undefined, reason = undefined) {
    if (code !== undefined) code = clampUint16(code);
    reason = reason === undefined ? "" : toUSVString(reason);
    const wireCode = closeCodeFor(code, reason);
    if (this.#readyState === CLOSING || this.#readyState === CLOSED) return;
    this.#readyState = CLOSING;
    const run = () => this.#session.command((e) => e.close(wireCode, reason));
    if (this.#queue) this.#queue.push(run);
    else run();
  }

  /** Whether what arrives now reaches the app: WHATWG drops it once close()
   * was called; a tool that asked to keep reading hears the peer out. */
  #reading() {
    return (
      this.#readyState === OPEN ||
      (this.#readyState === CLOSING && this.#keepReading)
    );
  }

  /** Dispatches a `Class` event of `type`, made only if a listener hears it. */
  #fire(Class, type, init = undefined) {
    if (listening(this, type)) this.dispatchEvent(new Class(type, init));
  }

  /** Session handler: maps engine events onto DOM events, in the spec's order. */
  event(tag, value) {
    switch (tag) {
      case Tag.OPEN:
        // Accepted server-side sockets are OPEN from the start: no event.
        if (this.#readyState !== CONNECTING) break;
        traceHeads(this.#session.engine, this.#trace);
        this.#protocol = value.protocol;
        this.#extensions = value.extensions;
        this.#readyState = OPEN;
        this.#fire(PlainEvent, "open");
        break;
      case Tag.FRAME:
      case Tag.COMPRESSED:
        this.#trace?.(value);
        break;
      case Tag.MESSAGE:
        if (!this.#reading() || !listening(this, "message")) break;
        this.dispatchEvent(
          new MessageEvent("message", {
            data:
              typeof value === "string" || this.#binaryType === "arraybuffer"
                ? value
                : new Blob([value]),
            origin: (this.#origin ??= originOf(this.#url)),
          }),
        );
        break;
      case Tag.PING:
      case Tag.PONG:
        // Not in the WHATWG interface; for tools built on `control`.
        if (!this.#reading()) break;
        this.#fire(MessageEvent, tag === Tag.PING ? "ping" : "pong", {
          data: value,
          origin: (this.#origin ??= originOf(this.#url)),
        });
        break;
      case Tag.CLOSE_RECEIVED:
        this.#readyState = CLOSING;
        break;
      case Tag.ERROR: {
        if (this.#readyState === CONNECTING)
          traceHeads(this.#session.engine, this.#trace);
        this.#readyState = CLOSING;
        const cause = this.#session.transportError;
        this.#failure = {
          message: cause ? `${value}: ${cause.message}` : value,
          error: cause,
        };
        break;
      }
      case Tag.CLOSED:
        // The engine counts a close frame written as sent; it left only if
        // the transport took it before it closed.
        if (this.#session.unsent > 0) value.wasClean = false;
        this.#readyState = CLOSED;
        clearTimeout(this.#lifetime);
        this.#session.finish();
        this.#server?._forget(this, this.#topics);
        this.#topics = null;
        if (this.#failure) this.#fire(ErrorEvent, "error", this.#failure);
        this.#fire(CloseEvent, "close", value);
        break;
    }
  }
}

/**
 * The low-level face of a socket, for protocol testing and tools: ping and
 * pong with a payload, fragments, raw bytes, pausing and resuming reading
 * (flow control), and closing with any code valid on the wire (1001, 1008,
 * 1011, …), optionally still hearing out what the peer sends until its close
 * (`{ keepReading: true }`). Pings and pongs from
 * the peer arrive as non-standard `ping` and `pong` events whose `data` is a
 * Uint8Array.
 */
export function control(ws) {
  if (!(ws instanceof WebSocket))
    throw new TypeError("control() needs a wasmsocket WebSocket");
  return controlOf(ws);
}

function toBytes(data) {
  if (isArrayBuffer(data)) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) {
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  throw new TypeError("expected an ArrayBuffer or a view of one");
}

function usageError(status, message) {
  const name =
    status === Status.INVALID_STATE
      ? "InvalidStateError"
      : status === Status.INVALID_CODE
        ? "InvalidAccessError"
        : "SyntaxError";
  return new DOMException(message, name);
}

function size(payload) {
  if (typeof payload === "string") return encoder.encode(payload).length;
  return isBlob(payload) ? payload.size : payload.byteLength;
}

for (const [name, value] of Object.entries({
  CONNECTING,
  OPEN,
  CLOSING,
  CLOSED,
})) {
  Object.defineProperty(WebSocket.prototype, name, { value, enumerable: true });
}

// onopen / onmessage / onerror / onclose, with EventHandler semantics: the
// listener keeps the position it got when first set. One listener function
// per event type serves every socket (listeners are called with the socket as
// `this`), so setting a handler makes no closure per connection.
for (const [type, [get, set]] of Object.entries(handlerSlots)) {
  function listener(event) {
    return get(this)?.call(this, event);
  }
  Object.defineProperty(WebSocket.prototype, `on${type}`, {
    configurable: true,
    enumerable: true,
    get() {
      return get(this);
    },
    set(fn) {
      const active = get(this) !== null;
      if (typeof fn !== "function" && (typeof fn !== "object" || fn === null)) {
        // Deactivating: setting a handler again later puts it last.
        if (active) this.removeEventListener(type, listener);
        set(this, null);
      } else {
        if (!active) this.addEventListener(type, listener);
        set(this, fn);
      }
    },
  });
}
