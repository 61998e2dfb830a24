// Parse throughput, JavaScript contenders: each in its own process
// (bench/parse/worker.js), interleaved round by round.

import path from "node:path";

import { KINDS, SIZES } from "./frames.js";
import { benchDir, log, median, runJson } from "./util.js";

const worker = path.join(benchDir, "parse/worker.js");

/** id → { label, worker contender, whether ws may load bufferutil } */
export const PARSE_CONTENDERS = [
  {
    id: "wasm-raw",
    label: "wasm engine alone",
    contender: "wasm-raw",
    bufferutil: false,
    // Does not make JS values of the payloads: compared with native only.
    noRatio: true,
  },
  {
    id: "wasmsocket",
    label: "wasmsocket (Engine)",
    contender: "wasmsocket",
    bufferutil: false,
  },
  {
    id: "wasmsocket-websocket",
    label: "wasmsocket WebSocket",
    contender: "wasmsocket-websocket",
    bufferutil: false,
  },
  { id: "ws", label: "ws Receiver", contender: "ws", bufferutil: false },
  {
    id: "ws-bufferutil",
    label: "ws Receiver + bufferutil",
    contender: "ws",
    bufferutil: true,
  },
  {
    id: "ws-websocket",
    label: "ws WebSocket",
    contender: "ws-websocket",
    bufferutil: false,
  },
];

export const parseKey = (masked, kind, size) =>
  `${masked ? "masked" : "unmasked"}-${kind}-${size}`;

export async function parseSection({ quick }) {
  const rounds = Number(process.env.BENCH_ROUNDS ?? (quick ? 1 : 3));
  const config = {
    sizes: quick ? [125, 64 * 1024] : SIZES,
    kinds: KINDS,
    masks: [true, false],
    warmMs: quick ? 20 : 60,
    minMs: quick ? 40 : 250,
    quick,
  };
  const raw = Object.fromEntries(PARSE_CONTENDERS.map((c) => [c.id, []]));
  for (let r = 0; r < rounds; r++) {
    // Rotate the order each round, so no contender always runs first.
    const order = PARSE_CONTENDERS.map(
      (_, i) => PARSE_CONTENDERS[(i + r) % PARSE_CONTENDERS.length],
    );
    for (const c of order) {
      log(`parse: ${c.label} (round ${r + 1}/${rounds})`);
      const env = { ...process.env };
      if (c.bufferutil) delete env.WS_NO_BUFFER_UTIL;
      else env.WS_NO_BUFFER_UTIL = "1";
      const out = await runJson(worker, [c.contender, JSON.stringify(config)], {
        env,
      });
      if (c.contender.startsWith("ws") && out.bufferutil !== c.bufferutil) {
        throw new Error(
          `${c.id}: bufferutil ${out.bufferutil ? "loaded" : "not loaded"}, expected the opposite`,
        );
      }
      raw[c.id].push(out.results);
    }
  }
  const medians = {};
  for (const c of PARSE_CONTENDERS) {
    medians[c.id] = {};
    for (const masked of config.masks)
      for (const kind of config.kinds)
        for (const size of config.sizes) {
          const key = parseKey(masked, kind, size);
          const pick = (f) =>
            median(
              raw[c.id].map(
                (res) =>
                  res.find(
                    (x) =>
                      x.size === size && x.kind === kind && x.masked === masked,
                  )[f],
              ),
            );
          medians[c.id][key] = {
            mbps: pick("mbps"),
            msgsPerSec: pick("msgsPerSec"),
            rounds: raw[c.id].map(
              (res) =>
                res.find(
                  (x) =>
                    x.size === size && x.kind === kind && x.masked === masked,
                ).mbps,
            ),
          };
        }
  }
  return { rounds, config, contenders: PARSE_CONTENDERS, medians };
}
