// An echo server for the loopback benchmark, in its own process.
//
//   node bench/echo/server.js ws|wasmsocket|raw [deflate]
//
// With "deflate", the ws and wasmsocket servers accept permessage-deflate
// (perMessageDeflate: true, both with their defaults).
//
// Prints {"port": N} once listening on 127.0.0.1, then echoes until killed.
// Each server is written the way an app would write it with that library:
//   ws          on("message", (data, isBinary)) → send(data, { binary: isBinary })
//   wasmsocket  onmessage (binaryType "arraybuffer") → send(event.data)
//   raw         a net.Server writing the bytes straight back, each message
//               whole once its last byte came (as a WebSocket server writes
//               a message): the physical ceiling for the length-prefixed echo
//               of bench/echo/client.js

import net from "node:net";

import { lengthPrefixed } from "../lib/framing.js";

const impl = process.argv[2];
const deflate = process.argv[3] === "deflate";

/**
 * A 'data' listener that echoes length-prefixed messages without copying
 * them: chunks are held until the messages in them are whole, then written
 * back with one writev. Writing every 64 KiB chunk as it came would cost 16
 * writes per 1 MiB message.
 */
function echoWhole(socket) {
  const held = [];
  let whole = 0; // end of the last whole message in the chunk being read
  const scan = lengthPrefixed((end) => (whole = end));
  return (chunk) => {
    whole = 0;
    scan(chunk);
    if (whole === 0) {
      held.push(chunk);
      return;
    }
    socket.cork();
    for (const c of held) socket.write(c);
    held.length = 0;
    socket.write(whole === chunk.length ? chunk : chunk.subarray(0, whole));
    socket.uncork();
    if (whole < chunk.length) held.push(chunk.subarray(whole));
  };
}

const host = "127.0.0.1";
const ready = (port) => process.stdout.write(JSON.stringify({ port }) + "\n");
// Exit cleanly on a signal, so `node --cpu-prof` writes its profile.
for (const signal of ["SIGINT", "SIGTERM"])
  process.on(signal, () => process.exit(0));

if (impl === "ws") {
  const { WebSocketServer } = await import("ws");
  const server = new WebSocketServer({
    port: 0,
    host,
    perMessageDeflate: deflate,
  });
  server.on("connection", (ws) => {
    ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on("error", () => {});
  });
  server.on("listening", () => ready(server.address().port));
} else if (impl === "wasmsocket") {
  const { WebSocketServer } = await import("wasmsocket");
  const server = new WebSocketServer({
    port: 0,
    host,
    perMessageDeflate: deflate,
  });
  server.on("connection", (ws) => {
    ws.binaryType = "arraybuffer";
    ws.onmessage = (event) => ws.send(event.data);
  });
  server.on("listening", () => ready(server.address().port));
} else if (impl === "raw") {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.on("data", echoWhole(socket));
    socket.on("error", () => {});
  });
  server.listen(0, host, () => ready(server.address().port));
} else {
  throw new Error(`unknown server ${impl}`);
}
