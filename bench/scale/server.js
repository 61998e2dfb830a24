// The server side of the scale benchmark, forked by bench/run.js with an IPC
// channel and --expose-gc.
//
//   node --expose-gc bench/scale/server.js ws|wasmsocket [deflate]
//
// With "deflate", the server accepts permessage-deflate (its defaults).
//
// Listens on 127.0.0.1, sends { port } once listening, and answers
// { cmd: "mem" } with the process's memory after a full GC: RSS, JS heap
// used, external / array buffers, and (wasmsocket) the wasm memory's size,
// plus the number of open connections, the handshakes completed and the CPU
// time used so far. Each accepted connection gets an echo handler, as an app
// would give it; the connections stay idle.

import { setTimeout as sleep } from "node:timers/promises";

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
  const { WebSocketServer } = await import("wasmsocket");
  // The same module instance the package uses (node_modules/wasmsocket is
  // this workspace's pkg/), so this is the package's wasm memory.
  const { wasm_memory } = await import("../../pkg/wasm/wasmsocket.js");
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
