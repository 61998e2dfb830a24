// A compression bomb against a server with a 1 MiB message limit, in a
// process of its own: 256 MiB of zeros deflated to about 256 KiB, sent by
// a raw client in this same process as one compressed frame. Prints
// { closeCode, rssGrowth } once the server has closed the connection:
// how much the process's RSS rose (after a full GC) while it refused it.
//
//   node --expose-gc bench/deflate/bomb.js ws|wasmsocket

import { once } from "node:events";
import net from "node:net";
import zlib from "node:zlib";

const impl = process.argv[2];
const host = "127.0.0.1";
const LIMIT = 1 << 20;

let port;
if (impl === "ws") {
  const { WebSocketServer } = await import("ws");
  const server = new WebSocketServer({
    port: 0,
    host,
    perMessageDeflate: true,
    maxPayload: LIMIT,
  });
  server.on("connection", (ws) => ws.on("error", () => {}));
  await once(server, "listening");
  port = server.address().port;
} else {
  const { WebSocketServer } = await import("wasmsocket");
  const server = new WebSocketServer({
    port: 0,
    host,
    perMessageDeflate: true,
    maxMessageSize: LIMIT,
  });
  await once(server, "listening");
  port = server.address().port;
}

const raw = zlib.deflateRawSync(Buffer.alloc(256 << 20), {
  level: 9,
  finishFlush: zlib.constants.Z_SYNC_FLUSH,
});
const bomb = raw.subarray(0, raw.length - 4);
const head = Buffer.alloc(14);
head[0] = 0xc2; // FIN, RSV1, binary
head[1] = 0x80 | 127;
head.writeBigUInt64BE(BigInt(bomb.length), 2); // masked with the zero key
const frame = Buffer.concat([head, bomb]);

const socket = net.connect(port, host);
await once(socket, "connect");
socket.write(
  "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
    "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
);
let got = Buffer.alloc(0);
socket.on("data", (d) => (got = Buffer.concat([got, d])));
socket.on("error", () => {});
while (!got.includes("\r\n\r\n")) await new Promise((r) => setTimeout(r, 5));
globalThis.gc();
const before = process.memoryUsage().rss;
socket.write(frame);
await once(socket, "close");
const after = process.memoryUsage().rss;
const frames = got.subarray(got.indexOf("\r\n\r\n") + 4);
const closeCode = frames[0] === 0x88 ? frames.readUInt16BE(2) : null;
process.stdout.write(
  JSON.stringify({
    impl,
    bombBytes: bomb.length,
    closeCode,
    rssGrowth: after - before,
  }) + "\n",
);
process.exit(0);
