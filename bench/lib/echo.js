// Echo over loopback TCP, client and server in separate processes. The
// servers run for the whole section; each pair's client is a fresh process
// per round, and the pairs run interleaved (A B C … A B C …).

import path from "node:path";

import { KINDS, SIZES } from "./frames.js";
import { benchDir, log, median, runJson, startServer } from "./util.js";

const serverScript = path.join(benchDir, "echo/server.js");
const clientScript = path.join(benchDir, "echo/client.js");

export const ECHO_PAIRS = [
  { id: "ws-ws", label: "ws ↔ ws", client: "ws", server: "ws" },
  {
    id: "wasmsocket-wasmsocket",
    label: "wasmsocket ↔ wasmsocket",
    client: "wasmsocket",
    server: "wasmsocket",
  },
  {
    id: "wasmsocket-ws",
    label: "wasmsocket client → ws server",
    client: "wasmsocket",
    server: "ws",
  },
  {
    id: "ws-wasmsocket",
    label: "ws client → wasmsocket server",
    client: "ws",
    server: "wasmsocket",
  },
  {
    id: "undici-ws",
    label: "undici client → ws server",
    client: "undici",
    server: "ws",
  },
  {
    id: "raw",
    label: "raw net.Socket (ceiling)",
    client: "raw",
    server: "raw",
    kinds: ["binary"],
  },
];

/** What a pipelined case costs per message (see echo/client.js). */
export const COSTS = [
  "clientCpuUs",
  "serverCpuUs",
  "clientFaults",
  "serverFaults",
];

export const echoKey = (mode, kind, size) => `${mode}-${kind}-${size}`;

export async function echoSection({ quick }) {
  // Loopback round trips are bimodal here (the two processes on one core or
  // on two), so echo gets more rounds than parse.
  const rounds = Number(process.env.BENCH_ROUNDS ?? (quick ? 1 : 5));
  const config = {
    sizes: quick ? [125, 64 * 1024] : SIZES,
    kinds: KINDS,
    modes: ["pipelined", "latency"],
    warmMs: quick ? 20 : 80,
    ms: quick ? 50 : 200,
    // Throughput windows of 200 ms gave rounds 2x apart on this shared VM,
    // with short windows biased low (TCP, JIT and heap still ramping up).
    pipelinedWarmMs: quick ? 20 : 150,
    pipelinedMs: quick ? 50 : 500,
  };
  const servers = {};
  for (const impl of new Set(ECHO_PAIRS.map((p) => p.server))) {
    servers[impl] = await startServer(serverScript, [impl]);
  }
  const raw = Object.fromEntries(ECHO_PAIRS.map((p) => [p.id, []]));
  try {
    for (let r = 0; r < rounds; r++) {
      const order = ECHO_PAIRS.map(
        (_, i) => ECHO_PAIRS[(i + r) % ECHO_PAIRS.length],
      );
      for (const pair of order) {
        log(`echo: ${pair.label} (round ${r + 1}/${rounds})`);
        const out = await runJson(clientScript, [
          pair.client,
          String(servers[pair.server].port),
          JSON.stringify({
            ...config,
            kinds: pair.kinds ?? config.kinds,
            serverPid: servers[pair.server].child.pid,
          }),
        ]);
        raw[pair.id].push(out.results);
      }
    }
  } finally {
    for (const s of Object.values(servers)) s.child.kill();
  }
  const medians = {};
  for (const pair of ECHO_PAIRS) {
    medians[pair.id] = {};
    for (const mode of config.modes)
      for (const kind of pair.kinds ?? config.kinds)
        for (const size of config.sizes) {
          const rows = raw[pair.id].map((res) =>
            res.find(
              (x) => x.size === size && x.kind === kind && x.mode === mode,
            ),
          );
          const f = mode === "pipelined" ? "mbps" : "medianUs";
          medians[pair.id][echoKey(mode, kind, size)] = {
            [f]: median(rows.map((x) => x[f])),
            ...(mode === "pipelined"
              ? Object.fromEntries(
                  ["msgsPerSec", ...COSTS].map((c) => [
                    c,
                    rows.some((x) => x[c] == null)
                      ? null
                      : median(rows.map((x) => x[c])),
                  ]),
                )
              : { p99Us: median(rows.map((x) => x.p99Us)) }),
            rounds: rows.map((x) => x[f]),
          };
        }
  }
  return { rounds, config, pairs: ECHO_PAIRS, medians };
}
