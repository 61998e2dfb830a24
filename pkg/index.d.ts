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
  /** True when the transport keeps no reference to written bytes once it
   * called `done`, so they may be reused for later output. */
  readonly releasesWrites?: boolean;
  /** Stop and restart calling `sink.data` (the session stops reading a peer
   * that pings without reading the pongs). */
  pause?(): void;
  resume?(): void;
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
  /**
   * Node only: reach the server through an HTTP proxy's CONNECT tunnel. A proxy
   * URL (`http:` or `https:`, no scheme meaning `http:`; `user:password@` in it
   * is sent, percent-decoded, as Basic credentials), or `"env"` for the proxy
   * the environment names, read as undici's EnvHttpProxyAgent reads it:
   * `https_proxy`/`HTTPS_PROXY` for wss: (else the http one),
   * `http_proxy`/`HTTP_PROXY` for ws:, minus the hosts `no_proxy`/`NO_PROXY`
   * exempts. Ignored with `transport`.
   */
  proxy?: string | URL | "env" | null | false;
  /** Node only: options for `tls.connect` to an `https:` proxy (`ca`, …); `tls` is for the server. */
  proxyTls?: Record<string, unknown>;
  /** Carry the connection over this instead of dialing the URL. */
  transport?: Transport | StreamPair | DuplexLike;
  /** Largest message accepted, in bytes (default 64 MiB); larger ones close with 1009. */
  maxMessageSize?: number;
  /** Largest frame accepted, in bytes (default: only the message limit). */
  maxFrameSize?: number;
  /** Largest handshake response head, in bytes (default 16 KiB). */
  maxHeadSize?: number;
  /** Ping after this many ms of silence, give up after twice that (default off); 0 is off. */
  keepalive?: number;
  /** The same as `keepalive` (the server's name for it); wins if both are set. */
  idleTimeout?: number;
  /** Ms the opening handshake may take (default 30000). */
  handshakeTimeout?: number;
  /** Ms to wait for the peer's side of the closing handshake (default 5000). */
  closeTimeout?: number;
  /** Most pings the peer may send while their pong waits for it to read (default 64); one more closes with 1008. */
  maxHeldPings?: number;
  /** Offer permessage-deflate (default `true`, as browsers do); `false` offers nothing. */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** Called with both handshake heads and every frame, as the engine read or wrote them. */
  trace?: (record: TraceRecord) => void;
}

/** What the `trace` option reports. */
export type TraceRecord =
  | { kind: "head"; direction: "sent" | "received"; text: string }
  | {
      kind: "frame";
      direction: "sent" | "received";
      opcode: number;
      fin: boolean;
      /** RSV1 = 0b100, RSV2 = 0b010, RSV3 = 0b001. */
      rsv: number;
      masked: boolean;
      length: number;
      /** The first bytes of the payload, unmasked. */
      preview: Uint8Array;
    }
  | {
      /** A message permessage-deflate compressed (sent) or inflated (received). */
      kind: "compressed";
      direction: "sent" | "received";
      /** 1 text, 2 binary. */
      opcode: number;
      /** Its length uncompressed. */
      length: number;
      /** Its first bytes, uncompressed. */
      preview: Uint8Array;
    };

/** permessage-deflate (RFC 7692) settings, in ws's shape. */
export interface PerMessageDeflateOptions {
  /** The server starts every message afresh (a client asks, a server imposes it). */
  serverNoContextTakeover?: boolean;
  /** The client starts every message afresh (a client offers, a server asks). */
  clientNoContextTakeover?: boolean;
  /** Largest window of the server's compressor, 8–15 (8 is used as 9, as zlib does); `true` for no value. */
  serverMaxWindowBits?: number | true;
  /** Largest window of the client's compressor, 8–15; `true` for no value. */
  clientMaxWindowBits?: number | true;
  /** Messages shorter than this many bytes are sent uncompressed (default 1024). */
  threshold?: number;
  /** zlib's compression level, 0–9 (default 6). */
  level?: number;
  /** ws's spelling of `level`. */
  zlibDeflateOptions?: { level?: number };
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

/** `message` events (and the non-standard `ping`/`pong`, whose data is a Uint8Array). */
export declare class MessageEvent<T = any> extends Event {
  constructor(
    type: string,
    init?: EventInitLike & { data?: T; origin?: string },
  );
  readonly data: T;
  readonly origin: string;
  readonly lastEventId: string;
  readonly source: null;
  readonly ports: readonly unknown[];
}

interface WebSocketEventMap {
  open: Event;
  message: MessageEvent;
  error: ErrorEvent;
  close: CloseEvent;
  /** Server side: bufferedAmount fell to the server's `drainThreshold`. */
  drain: Event;
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
  /** Non-standard, server side: fired when bufferedAmount falls to the
   * server's `drainThreshold` after having been above it. */
  ondrain: ((this: WebSocket, ev: Event) => any) | null;
  /** Non-standard, server side: messages `send` did not queue because they
   * would have taken bufferedAmount past `maxBackpressure` (0 on a client). */
  readonly droppedMessages: number;
  /** Non-standard, server side: the bytes of those messages. */
  readonly droppedBytes: number;

  send(data: string | ArrayBufferLike | ArrayBufferView | Blob): void;
  close(code?: number, reason?: string): void;

  /** Non-standard, server side (as Bun): receive the server's `publish` to
   * `topic`. False if subscribed already or closed; throws on a client. */
  subscribe(topic: string): boolean;
  /** Server side: stop receiving `topic`; false if not subscribed. */
  unsubscribe(topic: string): boolean;
  isSubscribed(topic: string): boolean;
  /** Server side: the topics subscribed to, in order. */
  readonly subscriptions: string[];

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

/**
 * The low-level face of a socket, for protocol testing and tools. Pings and
 * pongs from the peer arrive on the socket as non-standard `ping` and `pong`
 * events (MessageEvents whose `data` is a Uint8Array).
 */
export interface Control {
  /** Sends a ping with up to 125 bytes of payload. */
  ping(payload?: string | ArrayBufferLike | ArrayBufferView): void;
  /** Sends a pong (unsolicited: a one-way heartbeat). */
  pong(payload?: string | ArrayBufferLike | ArrayBufferView): void;
  /** Sends one piece of a message sent piece by piece: strings as text, bytes as binary. */
  sendFragment(
    data: string | ArrayBufferLike | ArrayBufferView,
    options?: { fin?: boolean },
  ): void;
  /** Writes bytes to the transport as they are, bypassing every rule. */
  sendRaw(data: ArrayBufferLike | ArrayBufferView): void;
  /**
   * Closes with any code valid on the wire (1001, 1008, 1011, …). With
   * `keepReading`, what the peer sends until its close still fires
   * `message`, `ping` and `pong` (a tool hears the peer out; the WHATWG
   * `close()` drops it).
   */
  close(
    code: number,
    reason?: string,
    options?: { keepReading?: boolean },
  ): void;
  /** Stops reading from the peer (flow control, as ws's `pause()`), where
   * the transport can pause: sockets, Duplexes and stream pairs can. */
  pause(): void;
  /** Reads from the peer again after `pause()`. */
  resume(): void;
  /** Drops the connection without a closing handshake. */
  abort(): void;
}

/** A trace record as text: a head as its lines, a frame as one line. */
export declare function formatTrace(record: TraceRecord): string;

/** A frame of the frame language, field by field (see `parseFrames`). */
export interface FrameFields {
  /** 0-15, the reserved opcodes included. */
  opcode: number;
  fin: boolean;
  /** RSV1 = 0b100, RSV2 = 0b010, RSV3 = 0b001. */
  rsv: number;
  /** The 4-byte masking key, or null: unmasked. */
  mask: Uint8Array | null;
  /** The payload's real length. */
  length: number;
  /** The length the header declares; a bigint past 2^53 - 1. */
  declaredLength: number | bigint;
  /** The payload, unmasked. */
  payload: Uint8Array;
}

/** A frame parsed from the frame language. */
export interface CraftedFrame {
  fields: FrameFields;
  /** The frame as it goes on the wire. */
  bytes: Uint8Array;
  /** `bytes` cut where the spec's `split=` says: one transport write each. */
  writes: Uint8Array[];
}

/**
 * Parses the frame language, e.g. `text nofin "hel"; ping "?"; cont "lo"`
 * (the grammar is at the top of lib/craft.js). `client` (default true)
 * masks frames with a random key unless a frame says otherwise. Throws a
 * SyntaxError naming the bad word.
 */
export declare function parseFrames(
  spec: string,
  options?: { client?: boolean },
): CraftedFrame[];

/** A frame's bytes on the wire; the header declares `declaredLength`
 * (default: the payload's length). */
export declare function encodeFrame(fields: {
  opcode: number;
  fin?: boolean;
  rsv?: number;
  mask?: Uint8Array | null;
  payload?: Uint8Array;
  declaredLength?: number | bigint;
}): Uint8Array;

/** The low-level face of a wasmsocket WebSocket. */
export declare function control(ws: WebSocket): Control;

/** The opening request of an accepted or judged connection. */
export interface ServerRequest {
  method: "GET";
  /** The request target: path and query. */
  url: string;
  /** The path without the query. */
  path: string;
  /** Header fields, names lower-cased, repeated fields joined with ", ". */
  headers: Record<string, string>;
  /** Header fields as received: name, value, name, value, … */
  rawHeaders: string[];
  origin: string | undefined;
  /** Offered subprotocols, in the client's order. */
  protocols: string[];
  /** Offered extensions, as one header value. */
  extensions: string;
  /** The peer's address and port, read from the socket when first asked
   * for: read them while the connection is open (e.g. in the `connection`
   * handler). */
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  /** The ws: or wss: URL the client asked for. */
  href: string;
}

/** Options of `WebSocketServer`. `port`, `host`, `tls` and `server` are Node
 * only; elsewhere connections come in through `accept(transport)`. */
export interface ServerOptions {
  /** Hand out WebSocketStreams (open at once) instead of WebSockets, in
   * `accept()`'s result, the `connection` event and `clients`; an object
   * sets their readable's `highWaterMark` (messages). */
  stream?: boolean | { highWaterMark?: number };
  /** Node only: listen on this port (0 = any free port). */
  port?: number;
  /** Node only: the address to listen on. */
  host?: string;
  /** Node only: `tls.createServer` options (key, cert, …): serve wss:. */
  tls?: Record<string, unknown>;
  /** Node only: attach to this `http.Server`/`https.Server`'s `upgrade` event instead of listening. */
  server?: {
    on(event: "upgrade", listener: (...args: any[]) => void): unknown;
    off(event: "upgrade", listener: (...args: any[]) => void): unknown;
  };
  /** Accept only this path; others are answered 404. */
  path?: string;
  /** Judge a request: true accepts, false answers 403, an object another status. */
  verifyClient?: (
    request: ServerRequest,
  ) =>
    | boolean
    | { status?: number; reason?: string; headers?: Record<string, string> }
    | Promise<
        | boolean
        | { status?: number; reason?: string; headers?: Record<string, string> }
      >;
  /** Choose one of the offered subprotocols (only called when some are offered). */
  handleProtocols?: (
    protocols: string[],
    request: ServerRequest,
  ) =>
    | string
    | false
    | null
    | undefined
    | Promise<string | false | null | undefined>;
  maxMessageSize?: number;
  maxFrameSize?: number;
  maxHeadSize?: number;
  /** Ms without hearing from a client before it is pinged; unanswered for as
   * long again, the connection is closed (1006). Default 120000; 0 turns it off. */
  idleTimeout?: number;
  /** Another name for `idleTimeout` (the client's option); `idleTimeout` wins. */
  keepalive?: number;
  /** Ms after which a connection is closed with 1001, however busy (default off). */
  maxLifetime?: number;
  /** Bytes a connection may have queued for its client (bufferedAmount); a
   * `send` that would pass it is not queued (default 16 MiB). */
  maxBackpressure?: number;
  /** What a send past `maxBackpressure` does besides being counted in
   * `droppedMessages`: "close" closes with 1008 (default), "drop" only drops it. */
  backpressure?: "close" | "drop";
  /** bufferedAmount at which `drain` fires after having been above it
   * (default half of `maxBackpressure`). */
  drainThreshold?: number;
  /** Ms a client has to complete its opening request (default 10000). */
  handshakeTimeout?: number;
  /** Ms to wait for a client's side of the closing handshake (default 5000). */
  closeTimeout?: number;
  maxHeldPings?: number;
  /** Accept permessage-deflate when a client offers it (default `false`, as ws). */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  trace?: (record: TraceRecord) => void;
  /** Carries `publish` to the other processes (see `wasmsocket/redis`). */
  broker?: Broker;
}

/**
 * What a `WebSocketServer` asks of its `broker`: the contract between the
 * server and any broker that carries publications between processes.
 */
export interface Broker {
  /** Called once by the server's constructor. `deliver` publishes to this
   * process's subscribers only (text if a string, binary if bytes). */
  attach(deliver: (topic: string, data: string | Uint8Array) => void): void;
  /** This process got its first subscriber to `topic`. */
  subscribe(topic: string): void;
  /** This process's last subscriber to `topic` left. */
  unsubscribe(topic: string): void;
  /** Called by `server.publish` after local delivery: carry `data` (a string
   * for text, bytes for binary, valid only during the call) to the other
   * processes, not back to this one. */
  publish(topic: string, data: string | Uint8Array): void;
  /** Called by `server.close()`: closes what the broker opened. */
  close(): void | Promise<void>;
}

/** Accepts WebSocket connections and hands out the same WebSocket objects the
 * client side uses. In every runtime it accepts over any transport
 * (`accept`); in Node it also listens, or takes an http(s).Server's upgrades. */
export declare class WebSocketServer {
  constructor(options?: ServerOptions, onListening?: () => void);
  /** The open connections. */
  readonly clients: Set<WebSocket | WebSocketStream>;
  /** Node only: the listening address, as `net.Server#address()`. */
  address(): { address: string; family: string; port: number } | string | null;
  /** Completes a handshake over any transport; resolves to the socket, or null when refused. */
  accept(
    transport: Transport | StreamPair | DuplexLike,
  ): Promise<WebSocket | WebSocketStream | null>;
  /** Node only: from an http(s).Server's `upgrade` event. */
  accept(
    request: unknown,
    socket: DuplexLike,
    head?: Uint8Array,
  ): Promise<WebSocket | WebSocketStream | null>;
  /** Stops accepting and closes every connection with 1001; resolves once all are closed. */
  close(reason?: string): Promise<void>;
  /**
   * Sends `data` (a string as text, bytes as binary) to every socket
   * subscribed to `topic` but `except`, framed once (compressed once where
   * permessage-deflate keeps no context), each under its backpressure
   * policy; then to other processes through the `broker`. Returns how many
   * of this process's sockets it went to.
   */
  publish(
    topic: string,
    data: string | ArrayBufferLike | ArrayBufferView,
    options?: { except?: WebSocket },
  ): number;
  /** How many of this process's sockets are subscribed to `topic`. */
  subscriberCount(topic: string): number;
  on(
    event: "connection",
    listener: (ws: WebSocket | WebSocketStream, request: ServerRequest) => void,
  ): this;
  on(event: "listening" | "close", listener: () => void): this;
  on(event: "error", listener: (error: Error) => void): this;
  on(
    event: "handshakeError",
    listener: (
      error: Error,
      peer: { remoteAddress?: string; remotePort?: number },
    ) => void,
  ): this;
  once(event: string, listener: (...args: any[]) => void): this;
  off(event: string, listener: (...args: any[]) => void): this;
}

/** Adapts a WHATWG stream pair (e.g. a WebTransport bidirectional stream) to a Transport. */
export declare function streamTransport(pair: StreamPair): Transport;

/**
 * A transport to the ws: or wss: server `server` through a bridge
 * (`wasmsocket bridge`) at the ws: URL `bridge`: the bytes ride in the
 * binary messages of a new `WebSocketClass` (by default the runtime's own
 * WebSocket), so a page's engine speaks to any server byte for byte.
 */
export declare function bridgeTransport(
  bridge: string,
  server: string,
  WebSocketClass?: new (url: string) => WebSocketLike,
): Transport;

/** A transport over the binary messages of an open or opening WebSocket
 * (a bridge's tunnel); its non-1000 close becomes the transport's error. */
export declare function tunnelTransport(carrier: WebSocketLike): Transport;

/**
 * A transport to the ws: or wss: server `server` over a new bidirectional
 * stream of `session`, a WebTransport session to a bridge's WebTransport
 * way in (`wasmsocket bridge --webtransport`, under Deno). The stream opens
 * with a request line and the bridge's answer; a refusal becomes the
 * transport's error, "bridge: <reason>".
 */
export declare function webTransportBridgeTransport(
  session: { createBidirectionalStream(): Promise<StreamPair> },
  server: string,
): Transport;

/** What `tunnelTransport` needs of a carrier WebSocket. */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: ArrayBufferView): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, listener: (event: any) => void): void;
}

/** Node only: options of `createBridge`. */
export interface BridgeOptions {
  /** Targets a tunnel may reach, "host:port" ("[v6]:port" for IPv6). */
  allow: string[];
  /** Page origins allowed besides the bridge's own; "*" allows any. */
  origins?: string[];
  /** Tunnels open at once (default 32). */
  maxTunnels?: number;
  port?: number;
  host?: string;
  /** Take this http(s).Server's upgrades instead of listening. */
  server?: ServerOptions["server"];
  /** Only this path. */
  path?: string;
  /** Called with a line per tunnel and per refusal. */
  log?: (line: string) => void;
  /** Options for TLS connections to targets (`ca`, …). */
  tls?: Record<string, unknown>;
}

/**
 * Node only: a bridge that carries pages' raw bytes to allowed TCP or TLS
 * targets, one tunnel per WebSocket to `ws://BRIDGE/?target=host:port[&tls=1]`.
 * Refusals close the tunnel with 1008 (target, origin), 1013 (the cap) or
 * 1014 (unreachable) and a reason.
 */
export declare function createBridge(options: BridgeOptions): WebSocketServer;

/** Node only: adapts a Duplex stream to a Transport. */
export declare function duplexTransport(stream: DuplexLike): Transport;

export default WebSocket;

import type { WebSocketStream } from "./websocketstream.js";
export {
  WebSocketError,
  WebSocketStream,
  type WebSocketCloseInfo,
  type WebSocketCloseResult,
  type WebSocketOpenInfo,
  type WebSocketStreamOptions,
} from "./websocketstream.js";
