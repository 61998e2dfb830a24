// websocket.dll's API in JavaScript (`import { … } from "wasmsocket/component"`):
// the Windows WebSocket Protocol Component's thirteen functions under their
// own names, its constants with their values, over the same engine as the
// rest of the package. Runtime-neutral: the entries (node/component.js,
// component-browser.js) load the engine and re-export this file.
//
// The component does no I/O: the application writes the HTTP heads, moves
// the bytes and completes every action it is handed, as with the DLL:
//
//   const h = WebSocketCreateClientHandle();
//   const added = WebSocketBeginClientHandshake(h, [], [], [{ name: "Host", value: host }]);
//   // …write "GET / HTTP/1.1", Host and `added`; read the 101 and its headers…
//   WebSocketEndClientHandshake(h, responseHeaders);
//   WebSocketSend(h, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, { data }, "my send");
//   WebSocketReceive(h, null, "my receive");
//   for (;;) {
//     const a = WebSocketGetAction(h, WEB_SOCKET_ALL_ACTION_QUEUE);
//     let n = 0;
//     if (a.action === WEB_SOCKET_SEND_TO_NETWORK_ACTION) n = await write(a.buffers[0].data);
//     if (a.action === WEB_SOCKET_RECEIVE_FROM_NETWORK_ACTION) n = await readInto(a.buffers[0].data);
//     if (a.action === WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION) use(a.bufferType, a.buffers);
//     WebSocketCompleteAction(h, a.actionContext, n);   // every action, once
//     if (a.action === WEB_SOCKET_NO_ACTION) break;
//   }
//
// Where C passes pointers and counts, JS passes and gets these shapes:
// - a handle is an opaque object; WebSocketDeleteHandle frees its memory at
//   once (a handle never deleted is freed when it is garbage-collected), and
//   every later call with it throws WS_E_INVALID_OPERATION, but another
//   WebSocketDeleteHandle, which does nothing;
// - a property is `{ type, value }`: a number for a ULONG, a boolean (or a
//   number, 0 being false) for a BOOL, an ArrayBuffer or a view for
//   WEB_SOCKET_ALLOCATED_BUFFER_PROPERTY_TYPE (the size rule is the DLL's;
//   the 8-byte alignment rule does not apply);
// - a header is `{ name, value }`, strings;
// - a buffer is `{ data: Uint8Array }`, or `{ reason: Uint8Array, status }`
//   for a close (what WebSocketSend takes as a close buffer is one with a
//   `status`); ping and pong sends take none (null);
// - an application context is any JS value, handed back as it was given;
//   the component's own sends (the pong answering a ping, the close frame
//   owed after a protocol error) come with `undefined`;
// - buffer types are the unsigned values websocket.h writes (0x80000000 …);
//   WebSocketSend takes their signed spelling (`type | 0`, as a C program
//   may print them) too; HRESULTs are signed, as C sees them.
//
// Bytes cross by copy. WebSocketSend copies the buffer at once (it is the
// application's again on return, not only at INDICATE_SEND_COMPLETE);
// SEND_TO_NETWORK and INDICATE_RECEIVE_COMPLETE hand out fresh arrays the
// application may keep, except that data received for a WebSocketReceive
// given a buffer is written into that buffer (its `data`) and handed out as
// a subarray of it, but for a close's reason, and a pong's payload longer
// than the buffer (control payloads are not cut to fit), which come fresh. Received text is checked as it comes (unless
// WEB_SOCKET_DISABLE_UTF8_VERIFICATION_PROPERTY_TYPE), and each piece ends
// on a character boundary where it can hold a character, so each decodes
// on its own. RECEIVE_FROM_NETWORK hands out the handle's network buffer (its
// receive buffer size, JS memory: a subarray of the allocated buffer if one
// was given, else an array made when the handle is): fill its start and
// complete with the count; 0 cancels the receive. A stale or unknown action
// context is ignored.
//
// A call that returns an HRESULT in C throws a WebSocketComponentError
// (`hresult`, `code`) where C would fail. Arguments that cannot be passed to
// the component at all (a list that is not an array, a length that is not
// an integer, a string where bytes go) are E_INVALIDARG, in every function.

import {
  ComponentHandle,
  component_global_property,
  wasm_memory,
} from "../wasm-component/wasmsocket.js";

// WEB_SOCKET_ACTION
export const WEB_SOCKET_NO_ACTION = 0;
export const WEB_SOCKET_SEND_TO_NETWORK_ACTION = 1;
export const WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION = 2;
export const WEB_SOCKET_RECEIVE_FROM_NETWORK_ACTION = 3;
export const WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION = 4;

// WEB_SOCKET_ACTION_QUEUE
export const WEB_SOCKET_SEND_ACTION_QUEUE = 1;
export const WEB_SOCKET_RECEIVE_ACTION_QUEUE = 2;
export const WEB_SOCKET_ALL_ACTION_QUEUE = 3;

// WEB_SOCKET_BUFFER_TYPE
export const WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE = 0x80000000;
export const WEB_SOCKET_UTF8_FRAGMENT_BUFFER_TYPE = 0x80000001;
export const WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE = 0x80000002;
export const WEB_SOCKET_BINARY_FRAGMENT_BUFFER_TYPE = 0x80000003;
export const WEB_SOCKET_CLOSE_BUFFER_TYPE = 0x80000004;
export const WEB_SOCKET_PING_PONG_BUFFER_TYPE = 0x80000005;
export const WEB_SOCKET_UNSOLICITED_PONG_BUFFER_TYPE = 0x80000006;

// WEB_SOCKET_PROPERTY_TYPE
export const WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE = 0;
export const WEB_SOCKET_SEND_BUFFER_SIZE_PROPERTY_TYPE = 1;
export const WEB_SOCKET_DISABLE_MASKING_PROPERTY_TYPE = 2;
export const WEB_SOCKET_ALLOCATED_BUFFER_PROPERTY_TYPE = 3;
export const WEB_SOCKET_DISABLE_UTF8_VERIFICATION_PROPERTY_TYPE = 4;
export const WEB_SOCKET_KEEPALIVE_INTERVAL_PROPERTY_TYPE = 5;
export const WEB_SOCKET_SUPPORTED_VERSIONS_PROPERTY_TYPE = 6;

// WEB_SOCKET_CLOSE_STATUS
export const WEB_SOCKET_SUCCESS_CLOSE_STATUS = 1000;
export const WEB_SOCKET_ENDPOINT_UNAVAILABLE_CLOSE_STATUS = 1001;
export const WEB_SOCKET_PROTOCOL_ERROR_CLOSE_STATUS = 1002;
export const WEB_SOCKET_INVALID_DATA_TYPE_CLOSE_STATUS = 1003;
export const WEB_SOCKET_EMPTY_CLOSE_STATUS = 1005;
export const WEB_SOCKET_ABORTED_CLOSE_STATUS = 1006;
export const WEB_SOCKET_INVALID_PAYLOAD_CLOSE_STATUS = 1007;
export const WEB_SOCKET_POLICY_VIOLATION_CLOSE_STATUS = 1008;
export const WEB_SOCKET_MESSAGE_TOO_BIG_CLOSE_STATUS = 1009;
export const WEB_SOCKET_UNSUPPORTED_EXTENSIONS_CLOSE_STATUS = 1010;
export const WEB_SOCKET_SERVER_ERROR_CLOSE_STATUS = 1011;
export const WEB_SOCKET_SECURE_HANDSHAKE_ERROR_CLOSE_STATUS = 1015;

export const WEB_SOCKET_MAX_CLOSE_REASON_LENGTH = 123;

// HRESULTs, signed 32-bit as C sees them.
export const S_OK = 0;
export const E_INVALIDARG = 0x80070057 | 0;
export const E_OUTOFMEMORY = 0x8007000e | 0;
export const WS_E_INVALID_FORMAT = 0x803d0000 | 0;
export const WS_E_NUMERIC_OVERFLOW = 0x803d0002 | 0;
export const WS_E_INVALID_OPERATION = 0x803d0003 | 0;
export const E_INVALID_PROTOCOL_OPERATION = 0x83760001 | 0;
export const E_INVALID_PROTOCOL_FORMAT = 0x83760002 | 0;
export const E_PROTOCOL_EXTENSIONS_NOT_SUPPORTED = 0x83760003 | 0;
export const E_SUBPROTOCOL_NOT_SUPPORTED = 0x83760004 | 0;
export const E_PROTOCOL_VERSION_NOT_SUPPORTED = 0x83760005 | 0;

/** Each HRESULT's winerror.h name, by value. */
const NAMES = new Map(
  Object.entries({
    E_INVALIDARG,
    E_OUTOFMEMORY,
    WS_E_INVALID_FORMAT,
    WS_E_NUMERIC_OVERFLOW,
    WS_E_INVALID_OPERATION,
    E_INVALID_PROTOCOL_OPERATION,
    E_INVALID_PROTOCOL_FORMAT,
    E_PROTOCOL_EXTENSIONS_NOT_SUPPORTED,
    E_SUBPROTOCOL_NOT_SUPPORTED,
    E_PROTOCOL_VERSION_NOT_SUPPORTED,
  }).map(([name, hresult]) => [hresult, name]),
);

/** What each means here, for error messages. */
const MEANINGS = {
  E_INVALIDARG: "an argument is missing, out of range or not allowed here",
  E_OUTOFMEMORY: "memory ran out",
  WS_E_INVALID_FORMAT:
    "headers, subprotocols, extensions or text passed in are malformed",
  WS_E_NUMERIC_OVERFLOW: "an array or size is too small for the answer",
  WS_E_INVALID_OPERATION: "the call is not allowed in the handle's state",
  E_INVALID_PROTOCOL_OPERATION: "the peer broke a rule of the data stream",
  E_INVALID_PROTOCOL_FORMAT: "the peer's handshake or data was malformed",
  E_PROTOCOL_EXTENSIONS_NOT_SUPPORTED:
    "an extension was agreed to that was not offered",
  E_SUBPROTOCOL_NOT_SUPPORTED:
    "the subprotocol chosen was not offered, or none offered was chosen",
  E_PROTOCOL_VERSION_NOT_SUPPORTED:
    "the client asked for a protocol version other than 13",
};

/**
 * What a function that returns an HRESULT in C throws when it fails.
 * `hresult` is the number (signed, as C sees it), `code` its winerror.h
 * name, `operation` the function that failed.
 */
export class WebSocketComponentError extends Error {
  /**
   * @param {string} operation
   * @param {number} hresult
   * @param {string} [detail] said instead of the code's meaning
   */
  constructor(operation, hresult, detail) {
    const hex = (hresult >>> 0).toString(16).toUpperCase().padStart(8, "0");
    const code = NAMES.get(hresult) ?? `0x${hex}`;
    const meaning = detail ?? MEANINGS[code] ?? "failed";
    super(`${operation}: ${meaning} (${code}, 0x${hex})`);
    this.name = "WebSocketComponentError";
    this.hresult = hresult;
    this.code = code;
    this.operation = operation;
  }
}

/** The application contexts the component is given, as slots of a
 * Session's `contexts`: one send and one receive are in flight at most; the
 * component's own sends carry 0, whose slot stays undefined. */
const SENDING = 1;
const RECEIVING = 2;

/** A handle's state, kept away from the handle object the application holds. */
class Session {
  /** @type {ComponentHandle | null} null once deleted */
  inner;
  /** The network is read into this (RECEIVE_FROM_NETWORK's buffer). */
  network;
  /** The application contexts of the send and receive in flight. */
  contexts = [undefined, undefined, undefined];
  /** The `data` of the buffer the receive in flight was given, if any. */
  target = null;
  /** The action context of the outstanding RECEIVE_FROM_NETWORK, or 0. */
  reading = 0;

  constructor(inner, network) {
    this.inner = inner;
    this.network = network;
  }
}

/** What the application holds: opaque; its state is in `sessions`. */
class WebSocketHandle {
  get [Symbol.toStringTag]() {
    return "WebSocketHandle";
  }
}

/** @type {WeakMap<WebSocketHandle, Session>} */
const sessions = new WeakMap();

function session(handle, operation) {
  const s = sessions.get(handle);
  if (s === undefined) {
    throw new WebSocketComponentError(operation, E_INVALIDARG, "not a handle");
  }
  if (s.inner === null) {
    throw new WebSocketComponentError(
      operation,
      WS_E_INVALID_OPERATION,
      "the handle was deleted",
    );
  }
  return s;
}

/** Throws an HRESULT the engine returned, if it is not S_OK. */
function check(operation, hresult) {
  if (hresult !== S_OK) throw new WebSocketComponentError(operation, hresult);
}

/** Runs an engine call that throws its HRESULT as a number. */
function attempt(operation, call) {
  try {
    return call();
  } catch (e) {
    if (typeof e === "number") throw new WebSocketComponentError(operation, e);
    throw e;
  }
}

function invalid(operation, what) {
  return new WebSocketComponentError(operation, E_INVALIDARG, what);
}

/** A ULONG argument: an integer from 0 to 2^32 - 1. */
function ulong(value, operation, what) {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw invalid(operation, `${what} must be an integer from 0 to 2^32 - 1`);
  }
  return value;
}

/** Bytes of a Uint8Array, another view or an ArrayBuffer, without a copy. */
function bytesOf(value, operation, what) {
  if (value instanceof Uint8Array) return value;
  if (ArrayBuffer.isView(value)) {
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  throw invalid(operation, `${what} must be a Uint8Array`);
}

function strings(list, operation, what) {
  if (list == null) return [];
  if (!Array.isArray(list) || list.some((s) => typeof s !== "string")) {
    throw invalid(operation, `${what} must be an array of strings`);
  }
  return list;
}

/** `[{ name, value }, …]` as the engine's flat `[name, value, …]`. */
function flatHeaders(headers, operation, what) {
  if (headers == null) return [];
  const flat = [];
  const ok =
    Array.isArray(headers) &&
    headers.every(
      (h) =>
        typeof h?.name === "string" &&
        typeof h?.value === "string" &&
        flat.push(h.name, h.value),
    );
  if (!ok) throw invalid(operation, `${what} must be { name, value } strings`);
  return flat;
}

function headerList(flat) {
  const headers = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    headers.push({ name: flat[i], value: flat[i + 1] });
  }
  return headers;
}

/** Makes a handle: properties flattened for the engine, its network buffer. */
function create(server, properties, operation) {
  if (properties != null && !Array.isArray(properties)) {
    throw invalid(operation, "properties must be an array");
  }
  const list = properties ?? [];
  const types = new Uint32Array(list.length);
  const values = new Uint32Array(list.length);
  let allocated = null;
  list.forEach((p, i) => {
    types[i] = ulong(p?.type, operation, "a property's type");
    const value = p.value;
    if (types[i] === WEB_SOCKET_ALLOCATED_BUFFER_PROPERTY_TYPE) {
      allocated = bytesOf(value, operation, "the allocated buffer");
      values[i] = allocated.length;
    } else if (typeof value === "boolean") {
      values[i] = value ? 1 : 0;
    } else {
      values[i] = ulong(value, operation, "a property's value");
    }
  });
  const entropy = server
    ? new Uint8Array(0)
    : crypto.getRandomValues(new Uint8Array(48));
  const inner = attempt(operation, () =>
    ComponentHandle.create(server, types, values, entropy),
  );
  const size = inner.receive_buffer_size();
  let network;
  try {
    network = allocated?.subarray(0, size) ?? new Uint8Array(size);
  } catch {
    inner.free();
    throw new WebSocketComponentError(operation, E_OUTOFMEMORY);
  }
  const handle = new WebSocketHandle();
  sessions.set(handle, new Session(inner, network));
  return handle;
}

/**
 * WebSocketCreateClientHandle: a client handle, with
 * `[{ type, value }, …]` properties (receive and send buffer sizes,
 * masking, UTF-8 verification, an allocated buffer). Its key and masks come
 * from `crypto.getRandomValues`.
 * @returns {WebSocketHandle}
 */
export function WebSocketCreateClientHandle(properties) {
  return create(false, properties, "WebSocketCreateClientHandle");
}

/**
 * WebSocketCreateServerHandle: a server handle (properties as for a
 * client; a server's send buffer may be as small as its default, 16).
 * @returns {WebSocketHandle}
 */
export function WebSocketCreateServerHandle(properties) {
  return create(true, properties, "WebSocketCreateServerHandle");
}

/**
 * WebSocketBeginClientHandshake: checks the offer and returns the headers
 * to add to the request (`{ name, value }`). `initialHeaders` must hold
 * Host; the application writes the request line and its own headers.
 */
export function WebSocketBeginClientHandshake(
  handle,
  subprotocols,
  extensions,
  initialHeaders,
) {
  const op = "WebSocketBeginClientHandshake";
  const s = session(handle, op);
  const protocols = strings(subprotocols, op, "subprotocols");
  const offers = strings(extensions, op, "extensions");
  const headers = flatHeaders(initialHeaders, op, "initial headers");
  const added = attempt(op, () =>
    s.inner.begin_client_handshake(protocols, offers, headers),
  );
  return headerList(added);
}

/**
 * WebSocketEndClientHandshake: checks the response's headers (the
 * application checked its status was 101) and opens the data stream.
 * Returns the indices, into the arrays offered, of the extensions the
 * server accepted and of the subprotocol it chose (undefined: none).
 */
export function WebSocketEndClientHandshake(handle, responseHeaders) {
  const op = "WebSocketEndClientHandshake";
  const s = session(handle, op);
  const headers = flatHeaders(responseHeaders, op, "response headers");
  const [subprotocol, ...extensions] = attempt(op, () =>
    s.inner.end_client_handshake(headers),
  );
  return {
    selectedExtensions: extensions,
    selectedSubprotocol: subprotocol < 0 ? undefined : subprotocol,
  };
}

/**
 * WebSocketBeginServerHandshake: checks the request's headers and the
 * application's choice among its offers (a subprotocol or null, extensions)
 * and returns the headers of the 101 response, whose status line the
 * application writes. The data stream may start at once.
 */
export function WebSocketBeginServerHandshake(
  handle,
  subprotocolSelected,
  extensionsSelected,
  requestHeaders,
) {
  const op = "WebSocketBeginServerHandshake";
  const s = session(handle, op);
  if (subprotocolSelected != null && typeof subprotocolSelected !== "string") {
    throw invalid(op, "the subprotocol selected must be a string or null");
  }
  const extensions = strings(extensionsSelected, op, "extensions selected");
  const headers = flatHeaders(requestHeaders, op, "request headers");
  const response = attempt(op, () =>
    s.inner.begin_server_handshake(
      subprotocolSelected ?? undefined,
      extensions,
      headers,
    ),
  );
  return headerList(response);
}

/** WebSocketEndServerHandshake: optional; sending or receiving does it too. */
export function WebSocketEndServerHandshake(handle) {
  const op = "WebSocketEndServerHandshake";
  check(op, session(handle, op).inner.end_server_handshake());
}

/**
 * WebSocketSend: queues a message or a fragment (`{ data }`), a close
 * (`{ reason, status }`, reason optional) or, with no buffer, a ping or an
 * unsolicited pong. One send at a time: the next may be queued once this
 * one was indicated complete. The buffer is copied here.
 */
export function WebSocketSend(handle, bufferType, buffer, context) {
  const op = "WebSocketSend";
  const s = session(handle, op);
  // The signed spelling of a buffer type is the same type.
  const type = ulong(
    bufferType < 0 ? bufferType >>> 0 : bufferType,
    op,
    "the buffer type",
  );
  let hresult;
  if (buffer == null) {
    hresult = s.inner.send_empty(type, SENDING);
  } else if (typeof buffer !== "object") {
    throw invalid(op, "the buffer must be an object or null");
  } else if ("status" in buffer) {
    const { status, reason } = buffer;
    if (!Number.isInteger(status) || status < 0 || status > 0xffff) {
      throw invalid(op, "a close status must be an integer from 0 to 65535");
    }
    const bytes =
      reason == null ? new Uint8Array(0) : bytesOf(reason, op, "the reason");
    hresult = s.inner.send_close(type, status, bytes, SENDING);
  } else {
    hresult = s.inner.send(type, bytesOf(buffer.data, op, "data"), SENDING);
  }
  check(op, hresult);
  s.contexts[SENDING] = context;
}

/**
 * WebSocketReceive: queues a receive of one piece: at most the receive
 * buffer size, or, given `{ data }`, at most `data.length` bytes, written
 * into `data`. One receive at a time.
 */
export function WebSocketReceive(handle, buffer, context) {
  const op = "WebSocketReceive";
  const s = session(handle, op);
  let target = null;
  if (buffer != null) {
    if (typeof buffer !== "object") {
      throw invalid(op, "the buffer must be { data } or null");
    }
    target = bytesOf(buffer.data, op, "data");
  }
  check(op, s.inner.receive(target?.length, RECEIVING));
  s.contexts[RECEIVING] = context;
  s.target = target;
}

/** The memory every handle shares, for copying buffers out. */
let memory = null;

/** `len` bytes at `at` in wasm memory, as a view valid until the next call. */
function wasmBytes(at, len) {
  memory ??= wasm_memory();
  return new Uint8Array(memory.buffer, at, len);
}

/**
 * WebSocketGetAction: the next action of `queue` (send, receive or all),
 * to carry out and then complete with WebSocketCompleteAction:
 * `{ action, bufferType, buffers, applicationContext, actionContext }`.
 * `bufferType` is undefined for NO_ACTION, RECEIVE_FROM_NETWORK and a
 * receive indicated complete without data (cancelled or drained by an
 * abort); `buffers` holds 0 or 1 buffer. Throws E_INVALID_PROTOCOL_FORMAT
 * or E_INVALID_PROTOCOL_OPERATION once when the peer broke the protocol,
 * after what arrived before it and the close frame owed to the peer.
 */
export function WebSocketGetAction(handle, queue) {
  const op = "WebSocketGetAction";
  const s = session(handle, op);
  const inner = s.inner;
  check(op, inner.get_action(ulong(queue, op, "the queue")));
  const action = inner.action();
  const actionContext = inner.action_context();
  const applicationContext = s.contexts[inner.application_context()];
  const bufferType = inner.buffer_type() || undefined;
  const buffers = [];
  if (action === WEB_SOCKET_SEND_TO_NETWORK_ACTION) {
    const at = inner.action_data(actionContext);
    buffers.push({ data: wasmBytes(at, inner.buffer_len()).slice() });
  } else if (action === WEB_SOCKET_RECEIVE_FROM_NETWORK_ACTION) {
    s.reading = actionContext;
    buffers.push({ data: s.network });
  } else if (action === WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION) {
    if (inner.buffer_count() > 0) {
      const len = inner.buffer_len();
      const received = wasmBytes(inner.action_data(actionContext), len);
      if (bufferType === WEB_SOCKET_CLOSE_BUFFER_TYPE) {
        buffers.push({
          reason: received.slice(),
          status: inner.close_status(),
        });
      } else if (s.target !== null && len <= s.target.length) {
        s.target.set(received);
        buffers.push({ data: s.target.subarray(0, len) });
      } else {
        buffers.push({ data: received.slice() });
      }
    }
    s.contexts[RECEIVING] = undefined;
    s.target = null;
  } else if (action === WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION) {
    s.contexts[SENDING] = undefined;
  }
  return { action, bufferType, buffers, applicationContext, actionContext };
}

/**
 * WebSocketCompleteAction: hands an action back: the bytes written for
 * SEND_TO_NETWORK (fewer cancels the send and aborts the handle, a frame
 * cut short leaving the stream unusable), the bytes read into the start of
 * the network buffer for RECEIVE_FROM_NETWORK (0 cancels the receive), 0
 * for the others.
 */
export function WebSocketCompleteAction(
  handle,
  actionContext,
  bytesTransferred,
) {
  const op = "WebSocketCompleteAction";
  const s = session(handle, op);
  const n = ulong(bytesTransferred, op, "the bytes transferred");
  if (!(Number.isInteger(actionContext) && actionContext > 0)) return;
  if (actionContext > 0xffffffff) return;
  if (actionContext === s.reading) {
    s.reading = 0;
    const read = s.network.subarray(0, Math.min(n, s.network.length));
    s.inner.complete_receive(actionContext, read);
  } else {
    s.inner.complete_action(actionContext, n);
  }
}

/**
 * WebSocketAbortHandle: the send and receive queued are indicated complete
 * (nothing more is sent or read for them) and new ones fail. Does nothing
 * before the handshake has completed.
 */
export function WebSocketAbortHandle(handle) {
  session(handle, "WebSocketAbortHandle").inner.abort();
}

/** WebSocketDeleteHandle: frees the handle; deleting it again does nothing. */
export function WebSocketDeleteHandle(handle) {
  const s = sessions.get(handle);
  if (s === undefined) {
    throw invalid("WebSocketDeleteHandle", "not a handle");
  }
  s.inner?.free();
  s.inner = null;
  s.network = null;
  s.contexts = null;
  s.target = null;
}

/**
 * WebSocketGetGlobalProperty: the keep-alive interval in ms (a number) or
 * the supported protocol versions (an array: [13]); other types are
 * E_INVALIDARG.
 */
export function WebSocketGetGlobalProperty(type) {
  const op = "WebSocketGetGlobalProperty";
  const t = ulong(type, op, "the property type");
  const values = attempt(op, () => component_global_property(t));
  return t === WEB_SOCKET_KEEPALIVE_INTERVAL_PROPERTY_TYPE
    ? values[0]
    : Array.from(values);
}
