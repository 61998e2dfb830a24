// Type declarations for WebSocketStream and WebSocketError (lib/websocketstream.js):
// the streams-based WebSocket interface, as in Chromium and Deno and the
// WHATWG proposal, with the package's non-standard options.

import type { WebSocketOptions } from "./index.js";

/** A close code and reason, for `close()` and `WebSocketError`. */
export interface WebSocketCloseInfo {
  /** 1000 or 3000-4999 (else InvalidAccessError); with only a reason, 1000. */
  closeCode?: number;
  /** At most 123 bytes of UTF-8 (else SyntaxError). */
  reason?: string;
}

/** `opened`'s value: one message is one chunk each way. */
export interface WebSocketOpenInfo {
  /** Messages received: text as strings, binary as Uint8Arrays. */
  readable: ReadableStream<string | Uint8Array>;
  /** One write, one message: a BufferSource is binary, anything else is
   * converted to a string and sent as text. A write resolves once the
   * transport has taken the whole message. */
  writable: WritableStream<string | BufferSource>;
  /** The subprotocol the server chose, or "". */
  protocol: string;
  /** The extensions in use, as the server's header gave them, or "". */
  extensions: string;
}

/** `closed`'s value after a clean close. */
export interface WebSocketCloseResult {
  /** The peer's close code (1005 when its close frame had none). */
  closeCode: number;
  reason: string;
}

/**
 * The standard options (`protocols`, `signal`) and, in the same object, the
 * non-standard ones WebSocket takes as its third argument.
 */
export interface WebSocketStreamOptions extends WebSocketOptions {
  /** Subprotocols to offer (a sequence: a lone string is a TypeError). */
  protocols?: Iterable<string>;
  /** Aborting it before the opening handshake ends rejects `opened` and
   * `closed` with its reason (an AbortError) and closes the connection;
   * later it does nothing. */
  signal?: AbortSignal;
  /**
   * Messages the readable queues before reading from the transport stops
   * (default 1; 0 reads only while a read() waits; Infinity never stops).
   * Counted in messages, each at most `maxMessageSize` bytes.
   */
  highWaterMark?: number;
}

/** A WebSocket error with the close code and reason it came with. Given to
 * `writable.abort()` or `readable.cancel()`, it closes with them. */
export declare class WebSocketError extends DOMException {
  constructor(message?: string, init?: WebSocketCloseInfo);
  /** null when there was none. */
  readonly closeCode: number | null;
  readonly reason: string;
}

/** The streams-based WebSocket: backpressure both ways. */
export declare class WebSocketStream {
  constructor(url: string | URL, options?: WebSocketStreamOptions);
  readonly url: string;
  /** Resolves once open; rejects with a WebSocketError if the connection
   * fails first, or with the signal's reason if aborted. */
  readonly opened: Promise<WebSocketOpenInfo>;
  /** Resolves after a clean close; rejects with a WebSocketError (closeCode
   * 1006 without a close frame) after an unclean one. */
  readonly closed: Promise<WebSocketCloseResult>;
  /** Starts the closing handshake; while opening, fails the connection. */
  close(closeInfo?: WebSocketCloseInfo): void;
}
