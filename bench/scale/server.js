// The server side of the scale benchmark, forked by bench/run.js with an IPC
// channel and --expose-gc.
//
//   node --expose-gc bench/scale/server.js ws|wasmsocket [deflate]
//
// WASMSOCKET_PKG=<dir> measures a copy of the package instead of pkg/.
// With "deflate", the server accepts permessage-deflate (its defaults).
//
// Listens on 127.0.0.1, sends { port } once listening, and answers
// { cmd: "mem" } with the process's memory after a full GC: RSS, JS heap
// used, external / array buffers, and (wasmsocket) the wasm memory's size,
// plus the number of open connections, the handshakes completed and the CPU
// time used so far. Each accepted connection gets an echo handler, as an app
// would give it; the connections stay idle.

import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";

const impl = process.argv[2];
const deflate = process.argv[3] === "deflate";
const host = "127.0.0.1";
let open = 0;
let accepted = 0;
let wasmBytes = () => 0;

if (impl === "ws") {
  const { WebSocketServer } = await import("ws");
  const server = new WebSocketServer({
    port: 0,
    host,
    backlog: 4096,
    perMessageDeflate: deflate,
  });
  server.on("connection", (ws) => {
    open++;
    accepted++;
    ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on("error", () => {});
    ws.on("close", () => open--);
  });
  server.on("listening", () => process.send({ port: server.address().port }));
} else if (impl === "wasmsocket") {
  // WASMSOCKET_PKG: a copy of the package to measure instead (a change
  // tried out of tree).
  const pkg = process.env.WASMSOCKET_PKG;
  const { WebSocketServer } = await import(
    pkg ? pathToFileURL(`${pkg}/lib/node/index.js`).href : "wasmsocket"
  );
  // The same module instance the package uses (node_modules/wasmsocket is
  // this workspace's pkg/), so this is the package's wasm memory.
  const { wasm_memory } = await import(
    pkg
      ? pathToFileURL(`${pkg}/wasm/wasmsocket.js`).href
      : "../../pkg/wasm/wasmsocket.js"
  );
  wasmBytes = () => wasm_memory().buffer.byteLength;
  const server = new WebSocketServer({
    port: 0,
    host,
    perMessageDeflate: deflate,
  });
  server.on("connection", (ws) => {
    open++;
    accepted++;
    ws.binaryType = "arraybuffer";
    ws.onmessage = (event) => ws.send(event.data);
    ws.onclose = () => open--;
  });
  server.on("listening", () => process.send({ port: server.address().port }));
} else if (impl === "net") {
  // The floor: a bare net server that answers any request with a fixed 101
  // and keeps the socket (ends it at the client's close frame), as both
  // servers must at least do.
  const net = await import("node:net");
  const answer = Buffer.from(
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
      "Connection: Upgrade\r\nSec-WebSocket-Accept: " +
      "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
  );
  const server = net.createServer({ noDelay: true }, (socket) => {
    open++;
    accepted++;
    // The request, then (churn) the client's close frame: end.
    let requested = false;
    socket.on("data", () => {
      if (requested) socket.end();
      else socket.write(answer);
      requested = true;
    });
    socket.on("error", () => {});
    socket.on("close", () => open--);
  });
  server.listen(0, host, () => process.send({ port: server.address().port }));
} else {
  throw new Error(`unknown server ${impl}`);
}

async function memory() {
  // Let closes and finalizers settle, then collect fully, twice.
  for (let i = 0; i < 3; i++) {
    await sleep(20);
    globalThis.gc();
  }
  const m = process.memoryUsage();
  const cpu = process.cpuUsage();
  return {
    rss: m.rss,
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    wasm: wasmBytes(),
    open,
    accepted,
    cpuMs: (cpu.user + cpu.system) / 1000,
  };
}

process.on("message", async (msg) => {
  if (msg.cmd === "mem") process.send({ mem: await memory(), id: msg.id });
  else if (msg.cmd === "cpu") {
    const cpu = process.cpuUsage();
    process.send({
      cpuMs: (cpu.user + cpu.system) / 1000,
      userMs: cpu.user / 1000,
      systemMs: cpu.system / 1000,
      accepted,
      open,
      id: msg.id,
    });
  } else if (msg.cmd === "snapshot") {
    // For digging into memory per connection (bench/tools/heapsnapshot-diff.js).
    await memory();
    const { writeHeapSnapshot } = await import("node:v8");
    process.send({ file: writeHeapSnapshot(msg.file), id: msg.id });
  } else if (msg.cmd === "exit") process.exit(0);
});
process.on("disconnect", () => process.exit(0));
