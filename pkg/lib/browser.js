// The browser entry point: fetches and compiles the engine asynchronously
// (the SIMD build where the browser supports it, the scalar one elsewhere).
// Browsers have no raw sockets, so every WebSocket here needs
// `options.transport`: a WebTransport bidirectional stream or any other
// `{ readable, writable }` byte-stream pair. The server side is here too
// (`WebSocketServer#accept(transport)`), so a page can run both ends.

import init from "../wasm/wasmsocket.js";
import { encodeFrame, parseFrames } from "./craft.js";
import { CloseEvent, ErrorEvent, MessageEvent } from "./events.js";
import { WebSocketServer } from "./server.js";
import { formatTrace } from "./trace.js";
import { streamTransport } from "./transport.js";
import { bridgeTransport, tunnelTransport } from "./tunnel.js";
import { control, WebSocket } from "./websocket.js";
import { WebSocketError, WebSocketStream } from "./websocketstream.js";
import { webTransportBridgeTransport } from "./webtransport-tunnel.js";

// The smallest module using a v128 instruction: valid only where SIMD is supported.
const simdProbe = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8,
  0, 65, 0, 253, 15, 253, 98, 11,
]);
// Each URL is a literal `new URL(…, import.meta.url)` so that bundlers (Vite,
// webpack 5, Parcel) see both files and emit them as assets.
const wasmUrl = WebAssembly.validate(simdProbe)
  ? new URL("../wasm/wasmsocket_bg.wasm", import.meta.url)
  : new URL("../wasm/wasmsocket_scalar_bg.wasm", import.meta.url);
await init({ module_or_path: wasmUrl });

/** Node only; browsers have no Duplex streams. */
export function duplexTransport() {
  throw new TypeError("duplexTransport needs Node.js streams");
}

export {
  bridgeTransport,
  CloseEvent,
  control,
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
