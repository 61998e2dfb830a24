// Type-level usage of wasmsocket/component (pkg/component.d.ts), resolved
// as a consumer would. Checked, never run:   npx tsc -p tests/types

import {
  E_INVALID_PROTOCOL_FORMAT,
  WEB_SOCKET_ALL_ACTION_QUEUE,
  WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE,
  WEB_SOCKET_CLOSE_BUFFER_TYPE,
  WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION,
  WEB_SOCKET_KEEPALIVE_INTERVAL_PROPERTY_TYPE,
  WEB_SOCKET_NO_ACTION,
  WEB_SOCKET_PING_PONG_BUFFER_TYPE,
  WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE,
  WEB_SOCKET_RECEIVE_FROM_NETWORK_ACTION,
  WEB_SOCKET_SEND_TO_NETWORK_ACTION,
  WEB_SOCKET_SUCCESS_CLOSE_STATUS,
  WEB_SOCKET_SUPPORTED_VERSIONS_PROPERTY_TYPE,
  WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE,
  WebSocketBeginClientHandshake,
  WebSocketBeginServerHandshake,
  WebSocketCompleteAction,
  WebSocketComponentError,
  WebSocketCreateClientHandle,
  WebSocketCreateServerHandle,
  WebSocketDeleteHandle,
  WebSocketEndClientHandshake,
  WebSocketEndServerHandshake,
  WebSocketGetAction,
  WebSocketGetGlobalProperty,
  WebSocketReceive,
  WebSocketSend,
  type WEB_SOCKET_HANDLE,
  type WEB_SOCKET_HTTP_HEADER,
} from "wasmsocket/component";

const client: WEB_SOCKET_HANDLE = WebSocketCreateClientHandle([
  { type: WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, value: 8192 },
  { type: 2, value: false },
  { type: 3, value: new ArrayBuffer(16384) },
]);
const server = WebSocketCreateServerHandle();

const initial: WEB_SOCKET_HTTP_HEADER[] = [{ name: "Host", value: "a.test" }];
const added = WebSocketBeginClientHandshake(client, ["chat"], null, initial);
const response = WebSocketBeginServerHandshake(
  server,
  "chat",
  [],
  [...initial, ...added],
);
WebSocketEndServerHandshake(server);
const { selectedExtensions, selectedSubprotocol } = WebSocketEndClientHandshake(
  client,
  response,
);
const chosen: number | undefined = selectedSubprotocol;
const accepted: number[] = selectedExtensions;

WebSocketSend(client, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, {
  data: new TextEncoder().encode("hi"),
});
WebSocketSend(client, WEB_SOCKET_PING_PONG_BUFFER_TYPE, null, { any: "value" });
WebSocketSend(client, WEB_SOCKET_CLOSE_BUFFER_TYPE, {
  status: WEB_SOCKET_SUCCESS_CLOSE_STATUS,
  reason: new Uint8Array(0),
});
WebSocketReceive(client, null, 7);
WebSocketReceive(server, { data: new Uint8Array(512) });

// The action narrows the shape of what comes with it.
const a = WebSocketGetAction(client, WEB_SOCKET_ALL_ACTION_QUEUE);
let n = 0;
if (a.action === WEB_SOCKET_SEND_TO_NETWORK_ACTION) {
  const bytes: Uint8Array = a.buffers[0].data;
  n = bytes.length;
} else if (a.action === WEB_SOCKET_RECEIVE_FROM_NETWORK_ACTION) {
  a.buffers[0].data.set([0x81, 0x00]);
  n = 2;
} else if (a.action === WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION) {
  const [buffer] = a.buffers;
  if (a.bufferType === WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE && buffer) {
    const piece = "data" in buffer ? buffer.data : buffer.reason;
    n = piece.length * 0;
  }
} else if (a.action === WEB_SOCKET_NO_ACTION) {
  const none: [] = a.buffers;
  n = none.length;
}
WebSocketCompleteAction(client, a.actionContext, n);

const keepalive: number = WebSocketGetGlobalProperty(
  WEB_SOCKET_KEEPALIVE_INTERVAL_PROPERTY_TYPE,
);
const versions: number[] = WebSocketGetGlobalProperty(
  WEB_SOCKET_SUPPORTED_VERSIONS_PROPERTY_TYPE,
);

try {
  WebSocketGetAction(server, WEB_SOCKET_ALL_ACTION_QUEUE);
} catch (e) {
  if (e instanceof WebSocketComponentError) {
    const failed: boolean = e.hresult === E_INVALID_PROTOCOL_FORMAT;
    const name: string = e.code;
    void [failed, name, e.operation];
  }
}
WebSocketDeleteHandle(client);
WebSocketDeleteHandle(server);

// @ts-expect-error: a property is { type, value }.
WebSocketCreateClientHandle([8192]);
// @ts-expect-error: a queue is 1, 2 or 3.
WebSocketGetAction(server, 4);
// @ts-expect-error: data goes as bytes, not as a string.
WebSocketSend(server, WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE, { data: "hi" });

void [chosen, accepted, keepalive, versions];
