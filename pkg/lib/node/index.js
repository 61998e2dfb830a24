// The Node entry point: loads the engine synchronously from the package's own
// .wasm file and plugs in Node's transports (net, tls, any Duplex).

import { readFileSync } from "node:fs";

import { initSync } from "../../wasm/wasmsocket.js";
import { encodeFrame, parseFrames } from "../craft.js";
import { bytes, text } from "../engine.js";
import { CloseEvent, ErrorEvent, MessageEvent } from "../events.js";
import { formatTrace } from "../trace.js";
import { streamTransport } from "../transport.js";
import { bridgeTransport, tunnelTransport } from "../tunnel.js";
import { control, platform, WebSocket } from "../websocket.js";
import { WebSocketError, WebSocketStream } from "../websocketstream.js";
import { webTransportBridgeTransport } from "../webtransport-tunnel.js";
import { connectTransport } from "./connect.js";
import { createBridge } from "./bridge.js";
import { duplexTransport, isDuplex } from "./duplex.js";
import { WebSocketServer } from "./server.js";

initSync({
  module: readFileSync(
    new URL("../../wasm/wasmsocket_bg.wasm", import.meta.url),
  ),
});

platform.dial = (url, options) => connectTransport(url, options);
// Measured in Node 20: Buffer's UTF-8 decoding beats TextDecoder 2x on short
// strings, and Latin-1 decoding (right for ASCII) beats UTF-8 up to 10x on
// long ones; new memory from allocUnsafe skips the zero-fill slice() does.
text.view = (buffer) => Buffer.from(buffer);
text.decode = (view, start, end, ascii) =>
  ascii && end - start > 64
    ? view.latin1Slice(start, end)
    : view.utf8Slice(start, end);
text.byteLength = (s) => Buffer.byteLength(s, "utf8");
bytes.arrayBuffer = (u8, start, end) => {
  if (end - start < 4096) return u8.slice(start, end).buffer;
  const copy = Buffer.allocUnsafeSlow(end - start);
  copy.set(u8.subarray(start, end));
  return copy.buffer;
};
bytes.alloc = (n) => Buffer.allocUnsafeSlow(n);
bytes.copy = (u8, start, end) => {
  const copy = Buffer.allocUnsafe(end - start);
  copy.set(u8.subarray(start, end));
  return copy;
};
platform.adapt = (t) => (isDuplex(t) ? duplexTransport(t) : undefined);

export {
  bridgeTransport,
  CloseEvent,
  control,
  createBridge,
  duplexTransport,
  encodeFrame,
  ErrorEvent,
  formatTrace,
  MessageEvent,
  parseFrames,
  streamTransport,
  tunnelTransport,
  WebSocket,
  WebSocketError,
  WebSocketServer,
  WebSocketStream,
  webTransportBridgeTransport,
};
export default WebSocket;
