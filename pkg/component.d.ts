// Type declarations for wasmsocket/component: websocket.dll's API (the
// Windows WebSocket Protocol Component) over the package's engine. The
// names, values and rules are the DLL's; lib/component.js says how pointers
// and counts became JS values.

declare const handleBrand: unique symbol;

/** A WebSocket session (`WEB_SOCKET_HANDLE`): opaque. After
 * WebSocketDeleteHandle every call with it throws WS_E_INVALID_OPERATION. */
export interface WEB_SOCKET_HANDLE {
  readonly [handleBrand]: true;
}

export declare const WEB_SOCKET_NO_ACTION: 0;
export declare const WEB_SOCKET_SEND_TO_NETWORK_ACTION: 1;
export declare const WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION: 2;
export declare const WEB_SOCKET_RECEIVE_FROM_NETWORK_ACTION: 3;
export declare const WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION: 4;
/** What the application must do next. */
export type WEB_SOCKET_ACTION = 0 | 1 | 2 | 3 | 4;

export declare const WEB_SOCKET_SEND_ACTION_QUEUE: 1;
export declare const WEB_SOCKET_RECEIVE_ACTION_QUEUE: 2;
export declare const WEB_SOCKET_ALL_ACTION_QUEUE: 3;
/** Which queue WebSocketGetAction looks at. */
export type WEB_SOCKET_ACTION_QUEUE = 1 | 2 | 3;

/** The last (or only) piece of a text message. */
export declare const WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE: 0x80000000;
/** A piece of a text message, more to come. */
export declare const WEB_SOCKET_UTF8_FRAGMENT_BUFFER_TYPE: 0x80000001;
/** The last (or only) piece of a binary message. */
export declare const WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE: 0x80000002;
/** A piece of a binary message, more to come. */
export declare const WEB_SOCKET_BINARY_FRAGMENT_BUFFER_TYPE: 0x80000003;
/** A close frame: its status and reason. */
export declare const WEB_SOCKET_CLOSE_BUFFER_TYPE: 0x80000004;
/** Sent: a ping. Received: the pong answering one. */
export declare const WEB_SOCKET_PING_PONG_BUFFER_TYPE: 0x80000005;
/** A pong nobody asked for (a heartbeat). */
export declare const WEB_SOCKET_UNSOLICITED_PONG_BUFFER_TYPE: 0x80000006;
/** What a buffer holds, with the unsigned values websocket.h writes. */
export type WEB_SOCKET_BUFFER_TYPE =
  | 0x80000000
  | 0x80000001
  | 0x80000002
  | 0x80000003
  | 0x80000004
  | 0x80000005
  | 0x80000006;

/** A number, at least 256; default 4096. */
export declare const WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE: 0;
/** A number; default 4096 (client) or 16 (server), at least 256 (client) or 16 (server). */
export declare const WEB_SOCKET_SEND_BUFFER_SIZE_PROPERTY_TYPE: 1;
/** A boolean: a client does not mask; a server accepts unmasked frames. */
export declare const WEB_SOCKET_DISABLE_MASKING_PROPERTY_TYPE: 2;
/** Memory of the application's, longer than receive + send buffer sizes +
 * 256 bytes: the network is read into it. */
export declare const WEB_SOCKET_ALLOCATED_BUFFER_PROPERTY_TYPE: 3;
/** A boolean: received text is not checked to be UTF-8. */
export declare const WEB_SOCKET_DISABLE_UTF8_VERIFICATION_PROPERTY_TYPE: 4;
/** Global: the keep-alive interval in ms. */
export declare const WEB_SOCKET_KEEPALIVE_INTERVAL_PROPERTY_TYPE: 5;
/** Global: the protocol versions spoken. */
export declare const WEB_SOCKET_SUPPORTED_VERSIONS_PROPERTY_TYPE: 6;
export type WEB_SOCKET_PROPERTY_TYPE = 0 | 1 | 2 | 3 | 4 | 5 | 6;

/** A property a handle is made with (the global ones are refused). */
export type WEB_SOCKET_PROPERTY =
  | { type: 0 | 1; value: number }
  | { type: 2 | 4; value: boolean | number }
  | { type: 3; value: ArrayBuffer | ArrayBufferView };

export declare const WEB_SOCKET_SUCCESS_CLOSE_STATUS: 1000;
export declare const WEB_SOCKET_ENDPOINT_UNAVAILABLE_CLOSE_STATUS: 1001;
export declare const WEB_SOCKET_PROTOCOL_ERROR_CLOSE_STATUS: 1002;
export declare const WEB_SOCKET_INVALID_DATA_TYPE_CLOSE_STATUS: 1003;
/** The close frame had no status (send it with an empty reason for none). */
export declare const WEB_SOCKET_EMPTY_CLOSE_STATUS: 1005;
export declare const WEB_SOCKET_ABORTED_CLOSE_STATUS: 1006;
export declare const WEB_SOCKET_INVALID_PAYLOAD_CLOSE_STATUS: 1007;
export declare const WEB_SOCKET_POLICY_VIOLATION_CLOSE_STATUS: 1008;
export declare const WEB_SOCKET_MESSAGE_TOO_BIG_CLOSE_STATUS: 1009;
export declare const WEB_SOCKET_UNSUPPORTED_EXTENSIONS_CLOSE_STATUS: 1010;
export declare const WEB_SOCKET_SERVER_ERROR_CLOSE_STATUS: 1011;
export declare const WEB_SOCKET_SECURE_HANDSHAKE_ERROR_CLOSE_STATUS: 1015;
/** Longest close reason, in bytes. */
export declare const WEB_SOCKET_MAX_CLOSE_REASON_LENGTH: 123;

/** HRESULTs, signed as C sees them. */
export declare const S_OK: 0;
export declare const E_INVALIDARG: -2147024809;
export declare const E_OUTOFMEMORY: -2147024882;
export declare const WS_E_INVALID_FORMAT: -2143485952;
export declare const WS_E_NUMERIC_OVERFLOW: -2143485950;
export declare const WS_E_INVALID_OPERATION: -2143485949;
export declare const E_INVALID_PROTOCOL_OPERATION: -2089418751;
export declare const E_INVALID_PROTOCOL_FORMAT: -2089418750;
export declare const E_PROTOCOL_EXTENSIONS_NOT_SUPPORTED: -2089418749;
export declare const E_SUBPROTOCOL_NOT_SUPPORTED: -2089418748;
export declare const E_PROTOCOL_VERSION_NOT_SUPPORTED: -2089418747;

/** The winerror.h names of the HRESULTs thrown. */
export type WebSocketComponentErrorCode =
  | "E_INVALIDARG"
  | "E_OUTOFMEMORY"
  | "WS_E_INVALID_FORMAT"
  | "WS_E_NUMERIC_OVERFLOW"
  | "WS_E_INVALID_OPERATION"
  | "E_INVALID_PROTOCOL_OPERATION"
  | "E_INVALID_PROTOCOL_FORMAT"
  | "E_PROTOCOL_EXTENSIONS_NOT_SUPPORTED"
  | "E_SUBPROTOCOL_NOT_SUPPORTED"
  | "E_PROTOCOL_VERSION_NOT_SUPPORTED";

/** What a call that returns an HRESULT in C throws when it fails (and any
 * call with a deleted handle, or arguments that cannot be passed at all). */
export declare class WebSocketComponentError extends Error {
  private constructor();
  readonly name: "WebSocketComponentError";
  /** The HRESULT, signed (e.g. WS_E_INVALID_OPERATION). */
  readonly hresult: number;
  /** Its name in winerror.h. */
  readonly code: WebSocketComponentErrorCode;
  /** The function that failed, e.g. "WebSocketSend". */
  readonly operation: string;
}

/** An HTTP header field (`WEB_SOCKET_HTTP_HEADER`). */
export interface WEB_SOCKET_HTTP_HEADER {
  name: string;
  value: string;
}

/** Data: a message, a fragment, bytes to or from the network. */
export interface WebSocketDataBuffer {
  data: Uint8Array;
}

/** A close frame's status and reason (at most 123 bytes of UTF-8). */
export interface WebSocketCloseBuffer {
  reason: Uint8Array;
  status: number;
}

/** `WEB_SOCKET_BUFFER`: data, or a close's status and reason. */
export type WEB_SOCKET_BUFFER = WebSocketDataBuffer | WebSocketCloseBuffer;

interface ActionBase<A extends WEB_SOCKET_ACTION> {
  action: A;
  /** Passed back to WebSocketCompleteAction; 0 for NO_ACTION. */
  actionContext: number;
  /** The context given to WebSocketSend or WebSocketReceive; undefined for
   * NO_ACTION and the component's own sends (a pong, the close owed after
   * a protocol error). */
  applicationContext: unknown;
}

/** What WebSocketGetAction hands out, by action. */
export type WebSocketActionInfo =
  | (ActionBase<0> & { bufferType: undefined; buffers: [] })
  | (ActionBase<1> & {
      /** What the bytes carry (PING_PONG for the component's own pongs). */
      bufferType: WEB_SOCKET_BUFFER_TYPE;
      /** The bytes to write, a fresh copy. */
      buffers: [WebSocketDataBuffer];
    })
  | (ActionBase<2> & { bufferType: WEB_SOCKET_BUFFER_TYPE; buffers: [] })
  | (ActionBase<3> & {
      bufferType: undefined;
      /** The network buffer: fill its start, complete with the count. */
      buffers: [WebSocketDataBuffer];
    })
  | (ActionBase<4> & {
      /** undefined, with no buffer, when the receive was cancelled or
       * drained by an abort. */
      bufferType: WEB_SOCKET_BUFFER_TYPE | undefined;
      buffers: [] | [WebSocketDataBuffer] | [WebSocketCloseBuffer];
    });

/** A client handle; its key and masks come from crypto.getRandomValues. */
export declare function WebSocketCreateClientHandle(
  properties?: readonly WEB_SOCKET_PROPERTY[] | null,
): WEB_SOCKET_HANDLE;

export declare function WebSocketCreateServerHandle(
  properties?: readonly WEB_SOCKET_PROPERTY[] | null,
): WEB_SOCKET_HANDLE;

/** The headers to add to the request; `initialHeaders` must hold Host. */
export declare function WebSocketBeginClientHandshake(
  handle: WEB_SOCKET_HANDLE,
  subprotocols: readonly string[] | null,
  extensions: readonly string[] | null,
  initialHeaders: readonly WEB_SOCKET_HTTP_HEADER[],
): WEB_SOCKET_HTTP_HEADER[];

/** Checks the 101 response's headers; indices into the arrays offered. */
export declare function WebSocketEndClientHandshake(
  handle: WEB_SOCKET_HANDLE,
  responseHeaders: readonly WEB_SOCKET_HTTP_HEADER[],
): { selectedExtensions: number[]; selectedSubprotocol: number | undefined };

/** Checks the request's headers and the choice made; the 101's headers. */
export declare function WebSocketBeginServerHandshake(
  handle: WEB_SOCKET_HANDLE,
  subprotocolSelected: string | null | undefined,
  extensionsSelected: readonly string[] | null,
  requestHeaders: readonly WEB_SOCKET_HTTP_HEADER[],
): WEB_SOCKET_HTTP_HEADER[];

export declare function WebSocketEndServerHandshake(
  handle: WEB_SOCKET_HANDLE,
): void;

/** Queues a send (the buffer is copied at once); one at a time. */
export declare function WebSocketSend(
  handle: WEB_SOCKET_HANDLE,
  bufferType: WEB_SOCKET_BUFFER_TYPE,
  buffer: WEB_SOCKET_BUFFER | null,
  context?: unknown,
): void;

/** Queues a receive of one piece, into `buffer.data` if given; one at a time. */
export declare function WebSocketReceive(
  handle: WEB_SOCKET_HANDLE,
  buffer: WebSocketDataBuffer | null,
  context?: unknown,
): void;

export declare function WebSocketGetAction(
  handle: WEB_SOCKET_HANDLE,
  queue: WEB_SOCKET_ACTION_QUEUE,
): WebSocketActionInfo;

/** Every action WebSocketGetAction handed out, once: bytes written or read,
 * else 0. */
export declare function WebSocketCompleteAction(
  handle: WEB_SOCKET_HANDLE,
  actionContext: number,
  bytesTransferred: number,
): void;

export declare function WebSocketAbortHandle(handle: WEB_SOCKET_HANDLE): void;

/** Frees the handle at once; deleting it again does nothing. */
export declare function WebSocketDeleteHandle(handle: WEB_SOCKET_HANDLE): void;

export declare function WebSocketGetGlobalProperty(type: 5): number;
export declare function WebSocketGetGlobalProperty(type: 6): number[];
export declare function WebSocketGetGlobalProperty(
  type: WEB_SOCKET_PROPERTY_TYPE,
): number | number[];
