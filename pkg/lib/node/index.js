// The Node entry point: loads the engine synchronously from the package's own
// .wasm file and plugs in Node's transports (net, tls, any Duplex).

import { readFileSync } from "node:fs";

import { initSync } from "../../wasm/wasmsocket.js";
import { text } from "../engine.js";
import { CloseEvent, ErrorEvent, MessageEvent } from "../events.js";
import { formatTrace } from "../trace.js";
import { streamTransport } from "../transport.js";
import { control, platform, WebSocket } from "../websocket.js";
import { connectTransport } from "./connect.js";
import { duplexTransport, isDuplex } from "./duplex.js";
import { WebSocketServer } from "./server.js";

initSync({
  module: readFileSync(
    new URL("../../wasm/wasmsocket_bg.wasm", import.meta.url),
  ),
});

platform.dial = (url, options) => connectTransport(url, options.tls);
// Buffer's UTF-8 decoding beats TextDecoder by 2x on short strings.
text.view = (buffer) => Buffer.from(buffer);
text.decode = (view, start, end) => view.utf8Slice(start, end);
text.byteLength = (s) => Buffer.byteLength(s, "utf8");
platform.adapt = (t) => (isDuplex(t) ? duplexTransport(t) : undefined);

export {
  CloseEvent,
  control,
  duplexTransport,
  ErrorEvent,
  formatTrace,
  MessageEvent,
  streamTransport,
  WebSocket,
  WebSocketServer,
};
export default WebSocket;
