// Publish: one server process publishes 1 KiB binary messages to every one
// of n subscribers (raw sockets in a second process), wasmsocket's
// `server.publish` against ws's broadcast loop (`for (const ws of clients)
// ws.send(data)`). Measured per case: deliveries per second (messages ×
// subscribers over the wall time until the last subscriber has every byte)
// and the server's CPU time per delivery. Two ways to publish: a burst (all
// messages in one synchronous loop, as a server does that handles a batch of
// input) and paced (one message per turn of the event loop).
// Servers: bench/publish/server.js; subscribers: bench/publish/client.js.

import path from "node:path";

import { benchDir, forkRpc, log, median } from "./util.js";

const serverScript = path.join(benchDir, "publish/server.js");
const clientScript = path.join(benchDir, "publish/client.js");
const SIZE = 1024;
/** A binary message of SIZE bytes on the wire: a 4-byte header. */
const FRAME = SIZE + 4;

/** One round of every case against one server process of `impl`. */
async function round(impl, subscriberCounts, count) {
  const out = [];
  for (const n of subscriberCounts) {
    const server = forkRpc(serverScript, [impl]);
    const { port } = await server.ready;
    const client = forkRpc(clientScript, [String(port)]);
    try {
      const opened = await client.call({ cmd: "open", n, concurrency: 50 });
      if (opened.failed > 0) throw new Error(`${opened.failed} failed to open`);
      for (;;) {
        const { n: subscribed } = await server.call({ cmd: "subscribers" });
        if (subscribed === n) break;
      }
      let total = 0;
      const publish = async (paced, messages) => {
        total += messages * FRAME;
        const cpu0 = (await server.call({ cmd: "subscribers" })).cpuUs;
        const t0 = performance.now();
        const delivered = client.call({ cmd: "await", total });
        await server.call({
          cmd: "publish",
          count: messages,
          size: SIZE,
          paced,
        });
        await delivered;
        const ms = performance.now() - t0;
        const cpu1 = (await server.call({ cmd: "subscribers" })).cpuUs;
        return {
          deliveriesPerSec: (messages * n) / (ms / 1000),
          cpuNsPerDelivery: ((cpu1 - cpu0) * 1000) / (messages * n),
        };
      };
      // Warm-up, both ways, then the measured cases.
      await publish(false, count);
      await publish(true, count);
      for (const paced of [false, true]) {
        out.push({ impl, n, paced, ...(await publish(paced, count)) });
      }
    } finally {
      await client.stop();
      await server.stop();
    }
  }
  return out;
}

export async function publishSection({ quick, rounds = quick ? 1 : 3 }) {
  const subscriberCounts = quick ? [100] : [1000, 10000];
  const count = quick ? 10 : 20;
  const impls = ["ws", "wasmsocket"];
  const raw = [];
  for (let r = 0; r < rounds; r++) {
    for (const impl of impls) {
      log(`publish: round ${r + 1}/${rounds} ${impl}`);
      raw.push(...(await round(impl, subscriberCounts, count)));
    }
  }
  const cases = [];
  for (const n of subscriberCounts) {
    for (const paced of [false, true]) {
      const of = (impl, key) =>
        median(
          raw
            .filter((x) => x.impl === impl && x.n === n && x.paced === paced)
            .map((x) => x[key]),
        );
      const row = { n, paced, messages: count, size: SIZE };
      for (const impl of impls) {
        row[impl] = {
          deliveriesPerSec: of(impl, "deliveriesPerSec"),
          cpuNsPerDelivery: of(impl, "cpuNsPerDelivery"),
        };
      }
      row.speedup = row.wasmsocket.deliveriesPerSec / row.ws.deliveriesPerSec;
      row.cpuRatio = row.wasmsocket.cpuNsPerDelivery / row.ws.cpuNsPerDelivery;
      cases.push(row);
    }
  }
  return { rounds, cases, raw };
}

// Run on its own: node bench/lib/publish.js [quick]
if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await publishSection({ quick: process.argv[2] === "quick" });
  for (const c of result.cases)
    console.log(
      `${c.n} subscribers, ${c.paced ? "paced" : "burst"}: ` +
        `ws ${Math.round(c.ws.deliveriesPerSec)}/s ${c.ws.cpuNsPerDelivery.toFixed(0)} ns; ` +
        `wasmsocket ${Math.round(c.wasmsocket.deliveriesPerSec)}/s ${c.wasmsocket.cpuNsPerDelivery.toFixed(0)} ns; ` +
        `${c.speedup.toFixed(2)}× faster, ${c.cpuRatio.toFixed(2)}× CPU`,
    );
}
