// Scale: many idle connections to one server process (memory per connection,
// handshakes per second), and a connect/close churn (memory returns to its
// plateau). Servers: bench/scale/server.js; clients: bench/scale/client.js.

import path from "node:path";

import { benchDir, forkRpc, log, median, sleep } from "./util.js";

const serverScript = path.join(benchDir, "scale/server.js");
const clientScript = path.join(benchDir, "scale/client.js");

async function withServer(impl, run, extra = []) {
  const server = forkRpc(serverScript, [impl, ...extra], {
    nodeArgs: ["--expose-gc"],
  });
  const { port } = await server.ready;
  const client = forkRpc(clientScript, [String(port), ...extra]);
  try {
    return await run(server, client);
  } finally {
    await client.stop();
    await server.stop();
  }
}

const mem = async (server) => (await server.call({ cmd: "mem" })).mem;

/** One idle-connections run: open n, measure, close all, measure. `extra`:
 * arguments for both scripts ("deflate"). */
export async function idleRun(impl, n, concurrency, extra = []) {
  return withServer(
    impl,
    async (server, client) => {
      // Warm the server up (JIT, first allocations) with a few connections.
      await client.call({ cmd: "churn", n: 200, concurrency: 20 });
      const before = await mem(server);
      const cpu0 = (await server.call({ cmd: "cpu" })).cpuMs;
      const opened = await client.call({ cmd: "open", n, concurrency });
      const cpu1 = (await server.call({ cmd: "cpu" })).cpuMs;
      await sleep(200);
      const after = await mem(server);
      const closed = await client.call({ cmd: "closeAll", concurrency });
      await sleep(200);
      const end = await mem(server);
      const per = (k) => (after[k] - before[k]) / n;
      return {
        n,
        opened: opened.done,
        failed: opened.failed,
        openMs: opened.ms,
        handshakesPerSec: opened.done / (opened.ms / 1000),
        serverCpuUsPerHandshake: ((cpu1 - cpu0) * 1000) / opened.done,
        closeMs: closed.ms,
        openAfter: after.open,
        openAtEnd: end.open,
        perConnection: {
          rss: per("rss"),
          heapUsed: per("heapUsed"),
          external: per("external"),
          wasm: per("wasm"),
          heapPlusWasm: per("heapUsed") + per("wasm"),
        },
        before,
        after,
        end,
      };
    },
    extra,
  );
}

/** The churn: n open+close cycles, memory sampled every `every`. */
async function churnRun(impl, n, every, concurrency) {
  return withServer(impl, async (server, client) => {
    const samples = [{ done: 0, ...(await mem(server)) }];
    const t0 = performance.now();
    let failed = 0;
    for (let done = 0; done < n; done += every) {
      const r = await client.call({
        cmd: "churn",
        n: Math.min(every, n - done),
        concurrency,
      });
      failed += r.failed;
      samples.push({ done: done + r.done, ...(await mem(server)) });
      log(
        `  churn ${impl}: ${done + r.done}/${n}, rss ${(samples.at(-1).rss / 2 ** 20).toFixed(1)} MiB, heap ${(samples.at(-1).heapUsed / 2 ** 20).toFixed(1)} MiB`,
      );
    }
    const ms = performance.now() - t0;
    await sleep(500);
    const end = { done: n, ...(await mem(server)) };
    // The plateau: the samples after the first batch (which includes warm-up).
    const plateau = samples.slice(2, 1 + Math.max(2, samples.length >> 1));
    const plateauOf = (k) => median(plateau.map((s) => s[k]));
    return {
      n,
      failed,
      ms,
      cyclesPerSec: n / (ms / 1000),
      samples,
      end,
      plateau: {
        rss: plateauOf("rss"),
        heapUsed: plateauOf("heapUsed"),
        wasm: plateauOf("wasm"),
      },
      growth: {
        rss: end.rss - plateauOf("rss"),
        heapUsed: end.heapUsed - plateauOf("heapUsed"),
        wasm: end.wasm - plateauOf("wasm"),
      },
    };
  });
}

export async function scaleSection({
  quick,
  contenders = ["ws", "wasmsocket"],
}) {
  const n = Number(process.env.BENCH_IDLE ?? (quick ? 1000 : 10000));
  const churnN = Number(process.env.BENCH_CHURN ?? (quick ? 4000 : 100000));
  const every = Math.max(1, Math.round(churnN / 10));
  // Four rounds: RSS per connection moves by up to 20 % between rounds of
  // one server, and the median of four is steadier than the mean of two.
  const rounds = quick ? 1 : 4;
  const concurrency = 100;
  const idle = Object.fromEntries(contenders.map((c) => [c, []]));
  for (let r = 0; r < rounds; r++) {
    for (const impl of r % 2 ? [...contenders].reverse() : contenders) {
      log(`scale: ${n} idle connections to ${impl} (round ${r + 1}/${rounds})`);
      idle[impl].push(await idleRun(impl, n, concurrency));
    }
  }
  const churn = {};
  for (const impl of contenders) {
    log(`scale: churn of ${churnN} connections to ${impl}`);
    churn[impl] = await churnRun(impl, churnN, every, concurrency);
  }
  return { n, churnN, rounds, concurrency, idle, churn };
}
