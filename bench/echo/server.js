// An echo server for the loopback benchmark, in its own process.
//
//   node bench/echo/server.js ws|wasmsocket|raw
//
// Prints {"port": N} once listening on 127.0.0.1, then echoes until killed.
// Each server is written the way an app would write it with that library:
//   ws          on("message", (data, isBinary)) → send(data, { binary: isBinary })
//   wasmsocket  onmessage (binaryType "arraybuffer") → send(event.data)
//   raw         a net.Server writing every chunk straight back: the physical
//               ceiling for the length-prefixed echo of bench/echo/client.js

import net from "node:net";

const impl = process.argv[2];
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
    perMessageDeflate: false,
  });
  server.on("connection", (ws) => {
    ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on("error", () => {});
  });
  server.on("listening", () => ready(server.address().port));
} else if (impl === "wasmsocket") {
  const { WebSocketServer } = await import("wasmsocket");
  const server = new WebSocketServer({ port: 0, host });
  server.on("connection", (ws) => {
    ws.binaryType = "arraybuffer";
    ws.onmessage = (event) => ws.send(event.data);
  });
  server.on("listening", () => ready(server.address().port));
} else if (impl === "raw") {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.on("data", (chunk) => socket.write(chunk));
    socket.on("error", () => {});
  });
  server.listen(0, host, () => ready(server.address().port));
} else {
  throw new Error(`unknown server ${impl}`);
}
