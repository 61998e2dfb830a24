// permessage-deflate: echo throughput with compression agreed at both ends
// (compressible JSON-like text and incompressible binary), memory per idle
// connection once compression has run on it, and a compression bomb
// against a 1 MiB limit. ws runs with perMessageDeflate: true, the package
// with its defaults (the same parameters; ws compresses through Node's
// async zlib, the package in its wasm engine).

import path from "node:path";

import { ECHO_PAIRS } from "./echo.js";
import { idleRun } from "./scale.js";
import { benchDir, log, median, runJson, startServer } from "./util.js";

const serverScript = path.join(benchDir, "echo/server.js");
const clientScript = path.join(benchDir, "echo/client.js");
const bombScript = path.join(benchDir, "deflate/bomb.js");

/** The echo section's pairs of ws and wasmsocket (undici and the raw socket
 * have no permessage-deflate). */
export const DEFLATE_PAIRS = ECHO_PAIRS.filter((p) =>
  [p.client, p.server].every((side) => side === "ws" || side === "wasmsocket"),
);

export const DEFLATE_SIZES = [1024, 16 * 1024, 256 * 1024];

export async function deflateSection({ quick }) {
  const rounds = Number(process.env.BENCH_ROUNDS ?? (quick ? 1 : 3));
  const config = {
    deflate: true,
    sizes: quick ? [1024] : DEFLATE_SIZES,
    kinds: ["text", "binary"],
    modes: ["pipelined"],
    warmMs: quick ? 20 : 150,
    ms: quick ? 50 : 500,
  };
  const servers = {};
  for (const impl of ["ws", "wasmsocket"]) {
    servers[impl] = await startServer(serverScript, [impl, "deflate"]);
  }
  const raw = Object.fromEntries(DEFLATE_PAIRS.map((p) => [p.id, []]));
  try {
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < DEFLATE_PAIRS.length; i++) {
        const pair = DEFLATE_PAIRS[(i + r) % DEFLATE_PAIRS.length];
        log(`deflate echo: ${pair.label} (round ${r + 1}/${rounds})`);
        const out = await runJson(clientScript, [
          pair.client,
          String(servers[pair.server].port),
          JSON.stringify(config),
        ]);
        raw[pair.id].push(out.results);
      }
    }
  } finally {
    for (const s of Object.values(servers)) s.child.kill();
  }
  const echo = {};
  for (const pair of DEFLATE_PAIRS) {
    echo[pair.id] = {};
    for (const kind of config.kinds)
      for (const size of config.sizes) {
        const rows = raw[pair.id].map((res) =>
          res.find((x) => x.size === size && x.kind === kind),
        );
        echo[pair.id][`${kind}-${size}`] = {
          mbps: median(rows.map((x) => x.mbps)),
          rounds: rows.map((x) => x.mbps),
        };
      }
  }

  const n = quick ? 100 : 1000;
  const idle = { ws: [], wasmsocket: [] };
  for (let r = 0; r < (quick ? 1 : 2); r++) {
    for (const impl of ["ws", "wasmsocket"]) {
      log(`deflate idle: ${impl}, ${n} connections (round ${r + 1})`);
      idle[impl].push(await idleRun(impl, n, 50, ["deflate"]));
    }
  }

  const bomb = {};
  for (const impl of ["ws", "wasmsocket"]) {
    log(`deflate bomb: ${impl}`);
    bomb[impl] = await runJson(bombScript, [impl], {
      nodeArgs: ["--expose-gc"],
    });
  }
  return { rounds, config, pairs: DEFLATE_PAIRS, echo, idle, n, bomb };
}
