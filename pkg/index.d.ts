// Type declarations for wasmsocket.

/**
 * Anything that moves bytes. The package adapts Node Duplex streams and
 * WHATWG `{ readable, writable }` pairs to this shape itself.
 */
export interface Transport {
  /** Begin reading: `sink.data` per chunk, `sink.closed` once when reading ends or fails. */
  start(sink: {
    data(chunk: Uint8Array): void;
    closed(error?: unknown): void;
  }): void;
  /** Queue bytes for the peer; call `done` once the transport accepted them. */
  write(bytes: Uint8Array, done: () => void): void;
  /** Close gracefully after the queued bytes. */
  end(): void;
  /** Close at once. */
  destroy(): void;
}

/** A WHATWG byte-stream pair, such as a WebTransport bidirectional stream. */
export interface StreamPair {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
}

/** A Node.js Duplex stream (a socket, one end of a pipe, …), typed loosely to avoid a @types/node dependency. */
export interface DuplexLike {
  on(event: string, listener: (...args: any[]) => void): unknown;
  read(size?: number): unknown;
  write(chunk: Uint8Array, callback?: (error?: Error | null) => void): boolean;
  end(): unknown;
  destroy(error?: Error): unknown;
}

// DOM-only names spelled out, so Node projects without lib "dom" type-check too.
type EventInitLike = {
  bubbles?: boolean;
  cancelable?: boolean;
  composed?: boolean;
};
type ListenerOptions =
  | boolean
  | {
      capture?: boolean;
      once?: boolean;
      passive?: boolean;
      signal?: AbortSignal;
    };
type Listener = ((event: Event) => void) | { handleEvent(event: Event): void };

/** Non-standard options: the optional third constructor argument. */
export interface WebSocketOptions {
  /** Extra handshake request headers. */
  headers?: Record<string, string> | Iterable<[string, string]>;
  /** The `Origin` header to send. */
  origin?: string;
  /** Options for `tls.connect` (Node, `wss:`): `ca`, `rejectUnauthorized`, `servername`, … */
  tls?: Record<string, unknown>;
  /** Carry the connection over this instead of dialing the URL. */
  transport?: Transport | StreamPair | DuplexLike;
  /** Largest message accepted, in bytes (default 64 MiB); larger ones close with 1009. */
  maxMessageSize?: number;
  /** Largest frame accepted, in bytes (default: only the message limit). */
  maxFrameSize?: number;
  /** Largest handshake response head, in bytes (default 16 KiB). */
  maxHeadSize?: number;
  /** Ping after this many ms of silence, give up after twice that (default off). */
  keepalive?: number;
  /** Ms the opening handshake may take (default 30000). */
  handshakeTimeout?: number;
  /** Ms to wait for the peer's side of the closing handshake (default 5000). */
  closeTimeout?: number;
}

export declare class CloseEvent extends Event {
  constructor(
    type: string,
    init?: EventInitLike & {
      wasClean?: boolean;
      code?: number;
      reason?: string;
    },
  );
  readonly wasClean: boolean;
  readonly code: number;
  readonly reason: string;
}

export declare class ErrorEvent extends Event {
  constructor(
    type: string,
    init?: EventInitLike & { message?: string; error?: unknown },
  );
  /** What went wrong, e.g. "protocol error: text message is not valid UTF-8". */
  readonly message: string;
  /** The transport's error, when the transport failed. */
  readonly error: unknown;
}

declare const MessageEventClass: typeof globalThis.MessageEvent;
type MessageEventClass = globalThis.MessageEvent;
export { MessageEventClass as MessageEvent };

interface WebSocketEventMap {
  open: Event;
  message: MessageEvent;
  error: ErrorEvent;
  close: CloseEvent;
}

/** The WHATWG WebSocket interface. */
export declare class WebSocket extends EventTarget {
  constructor(
    url: string | URL,
    protocols?: string | string[],
    options?: WebSocketOptions,
  );

  static readonly CONNECTING: 0;
  static readonly OPEN: 1;
  static readonly CLOSING: 2;
  static readonly CLOSED: 3;
  readonly CONNECTING: 0;
  readonly OPEN: 1;
  readonly CLOSING: 2;
  readonly CLOSED: 3;

  readonly url: string;
  readonly readyState: 0 | 1 | 2 | 3;
  readonly protocol: string;
  readonly extensions: string;
  /** Bytes handed to `send` and not yet accepted by the transport. */
  readonly bufferedAmount: number;
  binaryType: "blob" | "arraybuffer";

  onopen: ((this: WebSocket, ev: Event) => any) | null;
  onmessage: ((this: WebSocket, ev: MessageEvent) => any) | null;
  onerror: ((this: WebSocket, ev: ErrorEvent) => any) | null;
  onclose: ((this: WebSocket, ev: CloseEvent) => any) | null;

  send(data: string | ArrayBufferLike | ArrayBufferView | Blob): void;
  close(code?: number, reason?: string): void;

  addEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: (this: WebSocket, ev: WebSocketEventMap[K]) => any,
    options?: ListenerOptions,
  ): void;
  addEventListener(
    type: string,
    listener: Listener,
    options?: ListenerOptions,
  ): void;
  removeEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: (this: WebSocket, ev: WebSocketEventMap[K]) => any,
    options?: boolean | { capture?: boolean },
  ): void;
  removeEventListener(
    type: string,
    listener: Listener,
    options?: boolean | { capture?: boolean },
  ): void;
}

/** Adapts a WHATWG stream pair (e.g. a WebTransport bidirectional stream) to a Transport. */
export declare function streamTransport(pair: StreamPair): Transport;

/** Node only: adapts a Duplex stream to a Transport. */
export declare function duplexTransport(stream: DuplexLike): Transport;

export default WebSocket;
