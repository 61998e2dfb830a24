// Idle connections and handshakes, ws against wasmsocket, in interleaved
// rounds (the machine is noisy: medians of rounds, both servers in each).
//
//   node bench/scale/compare.js [n=3000] [rounds=5] [net] [wasmsocket=<dir>]
//
// Prints, per server, the medians of: handshakes per second while opening
// n connections, the server's CPU per handshake (process.cpuUsage; user and
// system apart), and per idle connection the JS heap + wasm memory and the
// RSS. WASMSOCKET_PKG=<dir> measures a copy of the package (server.js).

import path from "node:path";

import { benchDir, forkRpc, median } from "../lib/util.js";

const n = Number(process.argv[2] ?? 3000);
const rounds = Number(process.argv[3] ?? 5);
// More servers may follow: net (a bare socket server, the floor), or
// wasmsocket=<dir> (a copy of the package, e.g. a change tried out of tree).
const impls = ["ws", "wasmsocket", ...process.argv.slice(4)];

async function run(name) {
  const [impl, pkg] = name.split("=");
  const server = forkRpc(path.join(benchDir, "scale/server.js"), [impl], {
    nodeArgs: ["--expose-gc"],
    env: pkg ? { WASMSOCKET_PKG: pkg } : {},
  });
  const { port } = await server.ready;
  const client = forkRpc(path.join(benchDir, "scale/client.js"), [
    String(port),
  ]);
  try {
    // Warm-up: cycles and kept connections, so that the JIT has compiled
    // what both kinds of work run before the measured handshakes.
    await client.call({ cmd: "churn", n: 500, concurrency: 20 });
    await client.call({ cmd: "open", n: 1000, concurrency: 100 });
    await client.call({ cmd: "closeAll", concurrency: 100 });
    const before = (await server.call({ cmd: "mem" })).mem;
    const cpu0 = await server.call({ cmd: "cpu" });
    const opened = await client.call({ cmd: "open", n, concurrency: 100 });
    const cpu1 = await server.call({ cmd: "cpu" });
    const after = (await server.call({ cmd: "mem" })).mem;
    const per = (k) => (after[k] - before[k]) / n;
    const us = (k) => ((cpu1[k] - cpu0[k]) * 1000) / opened.done;
    return {
      hsPerSec: opened.done / (opened.ms / 1000),
      cpuUs: us("cpuMs"),
      userUs: us("userMs"),
      sysUs: us("systemMs"),
      heapWasm: per("heapUsed") + per("wasm"),
      heap: per("heapUsed"),
      wasm: per("wasm"),
      rss: per("rss"),
      failed: opened.failed,
    };
  } finally {
    await client.stop();
    await server.stop();
  }
}

const runs = Object.fromEntries(impls.map((i) => [i, []]));
for (let r = 0; r < rounds; r++) {
  for (const impl of r % 2 ? [...impls].reverse() : impls) {
    runs[impl].push(await run(impl));
  }
}
const rows = {};
for (const impl of impls) {
  rows[impl] = {};
  for (const k of Object.keys(runs[impl][0])) {
    rows[impl][k] = Math.round(median(runs[impl].map((r) => r[k])) * 10) / 10;
  }
}
const [a, b] = impls.map((i) => rows[i]);
console.table(rows);
const x = (k) => (b[k] / a[k]).toFixed(2);
console.log(
  `wasmsocket/ws: handshakes/s ${x("hsPerSec")}x, CPU/handshake ${x("cpuUs")}x ` +
    `(user ${x("userUs")}x, system ${x("sysUs")}x), heap+wasm/conn ` +
    `${x("heapWasm")}x, RSS/conn ${x("rss")}x`,
);
