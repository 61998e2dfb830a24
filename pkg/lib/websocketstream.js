// WebSocketStream and WebSocketError: the streams-based WebSocket interface
// (Chromium since 124, Deno; proposed to the WHATWG WebSockets Standard) over
// a Session, as websocket.js is for the event-based one. One message is one
// chunk each way: text a string, binary a Uint8Array.
//
// Backpressure is kept end to end, which is the point of the interface:
// - reading: once the readable's queue is full (desiredSize <= 0) the
//   transport is paused (a Node socket stops reading, a stream pair is not
//   pulled), and resumed when the readable pulls again; a stream nobody
//   reads costs its queue, one transport chunk and the transport's own
//   buffer, whatever the peer sends;
// - writing: a write() resolves only once the transport has accepted the
//   message's last byte, so the writable's queue (and writer.ready) tells the
//   application how far behind the peer is.
// Once closing has started, reading resumes (the peer's close must be read)
// and messages are dropped, as the proposal says.

import { Status, Tag } from "./engine.js";
import {
  checkProtocolList,
  clientSession,
  closeCodeFor,
  toUSVString,
  traceHeads,
  webSocketURL,
} from "./websocket.js";

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

/** Accepted connections reach the constructor with this token. */
const fromServer = Symbol("wasmsocket.fromServer");
/** WebSocketErrors the connection makes carry any code (1006, 1002, …),
 * which the public constructor would refuse. */
const unvalidated = Symbol("wasmsocket.unvalidated");

const noop = () => {};

/** WebIDL dictionary argument: undefined or null is empty, other non-objects
 * are a TypeError. */
function dictionary(value, what) {
  if (value == null) return {};
  if (typeof value !== "object" && typeof value !== "function") {
    throw new TypeError(`${what} must be an object`);
  }
  return value;
}

/** WebIDL `[EnforceRange] unsigned short`. */
function enforceUint16(value, what) {
  const x = Number(value);
  if (!Number.isFinite(x)) throw new TypeError(`${what} must be finite`);
  const n = Math.trunc(x);
  if (n < 0 || n > 65535) throw new TypeError(`${what} is out of range`);
  return n;
}

/** WebSocketCloseInfo: `{ closeCode, reason }`, converted as WebIDL does. */
function closeInfo(value, what) {
  const init = dictionary(value, what);
  const code = init.closeCode;
  const reason = init.reason;
  return {
    code: code === undefined ? undefined : enforceUint16(code, "closeCode"),
    reason: reason === undefined ? "" : toUSVString(reason),
  };
}

/** A chunk written to the writable as what the engine sends: bytes (a
 * BufferSource, not shared or resizable, as WebIDL allows) or text. */
function toMessage(chunk) {
  const tag = Object.prototype.toString.call(chunk);
  if (tag === "[object ArrayBuffer]") {
    if (chunk.resizable) throw new TypeError("a resizable ArrayBuffer");
    return new Uint8Array(chunk);
  }
  if (ArrayBuffer.isView(chunk)) {
    const b = chunk.buffer;
    if (Object.prototype.toString.call(b) !== "[object ArrayBuffer]")
      throw new TypeError("a view of a SharedArrayBuffer");
    if (b.resizable) throw new TypeError("a view of a resizable ArrayBuffer");
    return new Uint8Array(b, chunk.byteOffset, chunk.byteLength);
  }
  if (tag === "[object SharedArrayBuffer]")
    throw new TypeError("a SharedArrayBuffer");
  return toUSVString(chunk);
}

/** The readable's high-water mark in messages (see the `highWaterMark`
 * option): 1 as the proposal's streams have by default. */
function highWaterMarkOf(value) {
  if (value === undefined) return 1;
  const n = Number(value);
  if (Number.isNaN(n) || n < 0) {
    throw new RangeError(`highWaterMark must be 0 or more, not ${value}`);
  }
  return n;
}

/** A DOMException for how the closing handshake ends writing. */
const closingError = () =>
  new DOMException(
    "The WebSocket is closing: nothing more can be written",
    "InvalidStateError",
  );

/**
 * A WebSocket error with the close code and reason it came with
 * (`closeCode` null when there was none). Given to `writable.abort()` or
 * `readable.cancel()`, it closes with its code and reason.
 */
export class WebSocketError extends DOMException {
  // A getter rather than a data property set after the class: no module
  // side effect, so bundlers drop the module from apps that do not use it.
  get [Symbol.toStringTag]() {
    return "WebSocketError";
  }

  #closeCode = null;
  #reason = "";

  constructor(message = "", init = undefined) {
    super(message === undefined ? "" : String(message), "WebSocketError");
    if (init?.[unvalidated]) {
      this.#closeCode = init.closeCode ?? null;
      this.#reason = init.reason ?? "";
      return;
    }
    const { code, reason } = closeInfo(init, "WebSocketError's init");
    const wire = closeCodeFor(code, reason);
    this.#closeCode = wire < 0 ? null : wire;
    this.#reason = reason;
  }

  get closeCode() {
    return this.#closeCode;
  }
  get reason() {
    return this.#reason;
  }
}

/** A promise with its settlers, marked handled: `opened` and `closed` may
 * reject with nobody listening (most apps await one of them), which must not
 * be an unhandled rejection (it ends a Node process). */
function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(noop);
  return { promise, resolve, reject };
}

export class WebSocketStream {
  // A getter rather than a data property set after the class: no module
  // side effect, so bundlers drop the module from apps that do not use it.
  get [Symbol.toStringTag]() {
    return "WebSocketStream";
  }

  #url;
  #state = CONNECTING;
  #opened = deferred();
  #closed = deferred();
  /** @type {import("./session.js").Session | null} */
  #session = null;
  #readable = null;
  #writable = null;
  /** The readable's and writable's controllers, and whether the readable
   * can still take chunks (not closed, cancelled or errored). */
  #reader = null;
  #writer = null;
  #readableOpen = false;
  #highWaterMark = 1;
  /** The write waiting for the transport: { end, resolve, reject }. */
  #inflight = null;
  /** The error the writable got when the peer closed first. */
  #writeError = null;
  /** writer.close() waiting for the closing handshake. */
  #closing = null;
  /** Set by an abort before the handshake ended: the promises are settled. */
  #handshakeAborted = false;
  #wasEverConnected = false;
  /** The closing handshake was started here (close, abort, cancel), not by
   * the peer. */
  #closedHere = false;
  /** The error that ended the connection, for WebSocketError messages. */
  #failure = null;
  #signal = null;
  #onAbort = null;
  #trace = null;
  /** The server that accepted this stream, told when it closes. */
  #server = null;
  /** A server's `maxLifetime` timer. */
  #lifetime = null;

  /**
   * @param {string | URL} url
   * @param {object} [options] `protocols`, `signal`, and the non-standard
   *   options of WebSocket's third argument (transport, headers, origin,
   *   tls, limits, timeouts, perMessageDeflate, trace), plus `highWaterMark`
   */
  constructor(url, options = undefined) {
    if (url === fromServer) {
      this.#adopt(options);
      return;
    }
    if (arguments.length === 0)
      throw new TypeError("WebSocketStream needs a URL");
    url = toUSVString(url);
    options = dictionary(options, "WebSocketStream's options");
    let protocols = [];
    if (options.protocols !== undefined) {
      const p = options.protocols;
      if (
        p === null ||
        typeof p !== "object" ||
        typeof p[Symbol.iterator] !== "function"
      ) {
        throw new TypeError("options.protocols must be a sequence of strings");
      }
      protocols = Array.from(p, toUSVString);
    }
    const signal = options.signal ?? null;
    if (signal !== null && !(signal instanceof AbortSignal)) {
      throw new TypeError("options.signal must be an AbortSignal");
    }
    const record = webSocketURL(url);
    checkProtocolList(protocols);
    this.#highWaterMark = highWaterMarkOf(options.highWaterMark);
    this.#url = record.href;
    if (typeof options.trace === "function") this.#trace = options.trace;
    if (signal?.aborted) {
      // Aborted before it began: nothing is dialled.
      this.#handshakeAborted = true;
      this.#state = CLOSED;
      this.#opened.reject(signal.reason);
      this.#closed.reject(signal.reason);
      return;
    }
    this.#session = clientSession(record, protocols, options, this);
    if (signal) {
      this.#signal = signal;
      this.#onAbort = () => this.#abortHandshake(signal.reason);
      signal.addEventListener("abort", this.#onAbort, { once: true });
    }
  }

  /** An accepted server-side connection (see server.js): open at once. */
  #adopt({
    session,
    url,
    protocol,
    extensions,
    trace,
    server,
    policy,
    highWaterMark,
  }) {
    this.#url = url;
    this.#server = server ?? null;
    // Writes wait for the transport, so maxBackpressure has nothing to
    // bound here; the server's lifetime applies as to its WebSockets.
    if (policy?.maxLifetime > 0) {
      this.#lifetime = setTimeout(
        () => this._closeWithStatus(1001, "maximum lifetime reached"),
        policy.maxLifetime,
      );
      this.#lifetime.unref?.();
    }
    if (typeof trace === "function") this.#trace = trace;
    this.#highWaterMark = highWaterMarkOf(highWaterMark);
    this.#session = session;
    this.#opening(protocol, extensions);
  }

  /** @internal Used by the server to wrap an accepted session. */
  static _accepted(init) {
    return new WebSocketStream(fromServer, init);
  }

  get url() {
    return this.#url;
  }
  /** Resolves with `{ readable, writable, protocol, extensions }` once open. */
  get opened() {
    return this.#opened.promise;
  }
  /** Resolves with `{ closeCode, reason }` after a clean close, rejects with
   * a WebSocketError after an unclean one. */
  get closed() {
    return this.#closed.promise;
  }

  /** Starts the closing handshake (or fails a connection still opening),
   * with a code (1000 or 3000-4999) and a reason of at most 123 bytes. */
  close(info = undefined) {
    const { code, reason } = closeInfo(info, "close()'s argument");
    this.#closeWith(closeCodeFor(code, reason), reason);
  }

  /** @internal Closes with any wire-valid code (a server's 1001 on shutdown). */
  _closeWithStatus(code, reason = "") {
    this.#closeWith(code, reason, true);
  }

  /** Closes with `code` (-1: none) and `reason`; `anyCode`: one valid on
   * the wire, not only an application's. */
  #closeWith(code, reason, anyCode = false) {
    if (this.#state === CONNECTING) {
      // "Fail the WebSocket connection": the promises reject on CLOSED.
      this.#state = CLOSING;
      this.#session.command((e) => e.abort());
      return;
    }
    if (this.#state !== OPEN) return;
    this.#state = CLOSING;
    this.#closedHere = true;
    // The peer's close has to be read, whatever the readable holds.
    this.#session.pauseReading(false);
    this.#session.command((e) =>
      anyCode ? e.closeWithStatus(code, reason) : e.close(code, reason),
    );
  }

  /** abort() on the writable, cancel() on the readable: a WebSocketError
   * gives its code and reason, anything else none. */
  #closeUsingReason(reason) {
    if (reason instanceof WebSocketError) {
      try {
        const code = closeCodeFor(reason.closeCode ?? undefined, reason.reason);
        return this.#closeWith(code, reason.reason);
      } catch {
        // Not one to send (a received 1006): close without it.
      }
    }
    this.#closeWith(-1, "");
  }

  #abortHandshake(reason) {
    this.#signal = this.#onAbort = null;
    if (this.#state !== CONNECTING) return;
    this.#handshakeAborted = true;
    this.#state = CLOSING;
    this.#opened.reject(reason);
    this.#closed.reject(reason);
    this.#session.command((e) => e.abort());
  }

  #forgetSignal() {
    this.#signal?.removeEventListener("abort", this.#onAbort);
    this.#signal = this.#onAbort = null;
  }

  /** The connection is open: make the streams and resolve `opened`. */
  #opening(protocol, extensions) {
    this.#state = OPEN;
    this.#wasEverConnected = true;
    this.#readableOpen = true;
    // Nothing more is read until the readable pulls (at once, unless its
    // highWaterMark is 0): the proposal's "apply backpressure".
    this.#session.pauseReading(true);
    this.#readable = new ReadableStream(
      {
        start: (controller) => {
          this.#reader = controller;
        },
        pull: () => {
          if (this.#state === OPEN) this.#session.pauseReading(false);
        },
        cancel: (reason) => {
          this.#readableOpen = false;
          this.#closeUsingReason(reason);
        },
      },
      new CountQueuingStrategy({ highWaterMark: this.#highWaterMark }),
    );
    this.#writable = new WritableStream({
      start: (controller) => {
        this.#writer = controller;
      },
      write: (chunk) => this.#write(chunk),
      close: () => {
        this.#closing = deferred();
        this.#closeWith(-1, "");
        return this.#closing.promise;
      },
      abort: (reason) => this.#closeUsingReason(reason),
    });
    this.#opened.resolve({
      readable: this.#readable,
      writable: this.#writable,
      protocol,
      extensions,
    });
  }

  /** The writable's sink: sends one message, settled once the transport has
   * taken its last byte. */
  #write(chunk) {
    const data = toMessage(chunk);
    if (this.#state !== OPEN) throw closingError();
    const session = this.#session;
    const status = session.send(data);
    if (status !== Status.OK) {
      throw new DOMException(
        session.engine.lastError || "The message could not be sent",
        status === Status.INVALID_STATE ? "InvalidStateError" : "SyntaxError",
      );
    }
    const end = session.sentEnd;
    if (session.accepted >= end) return undefined;
    return new Promise((resolve, reject) => {
      this.#inflight = { end, resolve, reject };
    });
  }

  /** Session: the transport accepted output up to `accepted`. */
  written(accepted) {
    const w = this.#inflight;
    if (w !== null && accepted >= w.end && this.#writeError === null) {
      this.#inflight = null;
      w.resolve();
    }
  }

  #rejectInflight(error) {
    const w = this.#inflight;
    if (w === null) return;
    this.#inflight = null;
    w.reject(error);
  }

  #enqueue(value) {
    if (this.#state !== OPEN || !this.#readableOpen) return;
    const c = this.#reader;
    c.enqueue(typeof value === "string" ? value : new Uint8Array(value));
    if (c.desiredSize <= 0) this.#session.pauseReading(true);
  }

  /** Session handler: engine events, in the proposal's order. */
  event(tag, value) {
    switch (tag) {
      case Tag.OPEN:
        if (this.#state !== CONNECTING) break;
        traceHeads(this.#session.engine, this.#trace);
        this.#forgetSignal();
        this.#opening(value.protocol, value.extensions);
        break;
      case Tag.MESSAGE:
        this.#enqueue(value);
        break;
      case Tag.FRAME:
      case Tag.COMPRESSED:
        this.#trace?.(value);
        break;
      case Tag.CLOSE_RECEIVED:
        if (this.#state === OPEN) this.#state = CLOSING;
        if (!this.#closedHere && this.#writer !== null) {
          // The peer closed first: no more writes, and one still under way
          // is not known to be read; it rejects with this error when the
          // connection ends (with `closed`, as Chromium does).
          this.#writeError = closingError();
          this.#writer.error(this.#writeError);
        }
        this.#session.pauseReading(false);
        break;
      case Tag.ERROR: {
        if (this.#state === CONNECTING)
          traceHeads(this.#session.engine, this.#trace);
        if (this.#state !== CLOSED) this.#state = CLOSING;
        const cause = this.#session.transportError;
        this.#failure = cause ? `${value}: ${cause.message}` : value;
        break;
      }
      case Tag.CLOSED:
        this.#finish(value);
        break;
    }
  }

  /** CLOSED: settle everything, as the proposal's "connection is closed"
   * steps say. */
  #finish({ code, reason, wasClean }) {
    // The engine counts a close written as sent; it is once the transport
    // took it, and the connection then ended without an error (a reset: the
    // peer dropped what it had not read).
    if (this.#session.unsent > 0 || this.#session.transportError)
      wasClean = false;
    this.#state = CLOSED;
    clearTimeout(this.#lifetime);
    this.#session.finish();
    this.#server?._forget(this);
    this.#forgetSignal();
    if (this.#handshakeAborted) return;
    if (!this.#wasEverConnected) {
      this.#opened.reject(
        new WebSocketError(this.#failure ?? "The connection was not opened"),
      );
    }
    if (wasClean) {
      if (this.#readableOpen) {
        this.#readableOpen = false;
        this.#reader.close();
      }
      const error = this.#writeError ?? closingError();
      this.#rejectInflight(error);
      if (this.#closing) this.#closing.resolve();
      else this.#writer?.error(error);
      this.#closed.resolve({ closeCode: code, reason });
      return;
    }
    const error = new WebSocketError(
      this.#failure ?? `The connection closed uncleanly (${code})`,
      { [unvalidated]: true, closeCode: code, reason },
    );
    this.#readableOpen = false;
    this.#reader?.error(error);
    this.#writer?.error(error);
    this.#rejectInflight(this.#writeError ?? error);
    this.#closing?.reject(error);
    this.#closed.reject(error);
  }
}
