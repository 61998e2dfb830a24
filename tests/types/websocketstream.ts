// Type-checks WebSocketStream and WebSocketError as a consumer writes them
// (npx tsc -p tests/types).

import {
  WebSocketError,
  WebSocketServer,
  WebSocketStream,
  type WebSocketCloseResult,
} from "wasmsocket";

export async function streamUsage(signal: AbortSignal): Promise<number> {
  const wss = new WebSocketStream("wss://example.com/feed", {
    protocols: ["v2"],
    signal,
    highWaterMark: 4,
    perMessageDeflate: false,
  });
  const { readable, writable, protocol, extensions } = await wss.opened;
  const writer = writable.getWriter();
  await writer.write("hello");
  await writer.write(new Uint8Array([1, 2, 3]));
  let total = protocol.length + extensions.length;
  const reader = readable.getReader();
  for (let r = await reader.read(); !r.done; r = await reader.read()) {
    const message = r.value;
    total += typeof message === "string" ? message.length : message.byteLength;
  }
  wss.close({ closeCode: 1000, reason: "done" });
  try {
    const result: WebSocketCloseResult = await wss.closed;
    total += result.closeCode;
  } catch (e) {
    if (e instanceof WebSocketError) total += e.closeCode ?? 1006;
  }
  const server = new WebSocketServer({ port: 0, stream: { highWaterMark: 8 } });
  server.on("connection", (connection) => {
    if (connection instanceof WebSocketStream) connection.close();
  });
  await server.close();
  return total + wss.url.length;
}
