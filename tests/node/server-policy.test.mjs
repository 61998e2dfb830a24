// The server's policies for peers that do not keep up or go quiet:
// `maxBackpressure` with `backpressure: "close" | "drop"`, the `drain` event,
// `idleTimeout` (and `keepalive`, its other name) and `maxLifetime`. A peer
// that never reads is the package's own client with its reading paused.
//
// Run: node --test tests/node/server-policy.test.mjs

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { control, WebSocket, WebSocketServer } from "wasmsocket";

import { delay, once, waitFor } from "./helpers.mjs";

const T = { timeout: 30000 };
const MiB = 1 << 20;
const CHUNK = new Uint8Array(64 * 1024).fill(7);

/** A listening server with `options`, a client connected to it, and the
 * server's side of that connection. */
async function connect(t, options = {}) {
  const server = new WebSocketServer({
    port: 0,
    host: "127.0.0.1",
    ...options,
  });
  t.after(() => server.close());
  await once(server, "listening");
  const accepted = once(server, "connection");
  const client = new WebSocket(`ws://127.0.0.1:${server.address().port}/`);
  client.binaryType = "arraybuffer";
  await once(client, "open");
  const [ws] = await accepted;
  return { server, client, ws };
}

/** Sends 64 MiB in 64 KiB messages, 1 MiB per turn of the event loop so the
 * transport can take what the peer lets it; returns the largest
 * bufferedAmount seen after a send while open (once closing, WHATWG counts
 * every send in it, though none is kept). */
async function send64MiB(ws) {
  let peak = 0;
  for (let turn = 0; turn < 64; turn++) {
    for (let i = 0; i < 16; i++) {
      ws.send(CHUNK);
      if (ws.readyState === WebSocket.OPEN)
        peak = Math.max(peak, ws.bufferedAmount);
    }
    await delay(1);
  }
  return peak;
}

describe("maxBackpressure", () => {
  test(
    '"close": a peer that never reads is closed with 1008 and costs about the limit',
    T,
    async (t) => {
      const limit = 4 * MiB;
      const { client, ws } = await connect(t, { maxBackpressure: limit });
      control(client).pause();
      const rss = process.memoryUsage().rss;
      const peak = await send64MiB(ws);
      const grown = process.memoryUsage().rss - rss;
      assert.ok(peak <= limit, `bufferedAmount peaked at ${peak}`);
      assert.equal(ws.readyState, WebSocket.CLOSING);
      assert.ok(ws.droppedMessages >= 1);
      assert.equal(ws.droppedBytes, ws.droppedMessages * CHUNK.length);
      // Generous: the limit, the kernel's socket buffers and the heap's slack;
      // queuing all 64 MiB costs about 90 MiB.
      assert.ok(
        grown < 32 * MiB,
        `RSS grew by ${(grown / MiB).toFixed(1)} MiB`,
      );
      const closed = once(client, "close");
      control(client).resume();
      const event = await closed;
      assert.equal(event.code, 1008);
      assert.equal(event.reason, "backpressure limit reached");
    },
  );

  test(
    '"drop": messages past the limit are dropped and counted, the connection stays',
    T,
    async (t) => {
      const limit = 2 * MiB;
      const { client, ws } = await connect(t, {
        maxBackpressure: limit,
        backpressure: "drop",
      });
      control(client).pause();
      const peak = await send64MiB(ws);
      assert.ok(peak <= limit, `bufferedAmount peaked at ${peak}`);
      assert.equal(ws.readyState, WebSocket.OPEN);
      assert.ok(ws.droppedMessages > 0);
      assert.equal(ws.droppedBytes, ws.droppedMessages * CHUNK.length);
      const expected = 1024 - ws.droppedMessages;
      let received = 0;
      client.onmessage = () => received++;
      control(client).resume();
      await waitFor(() => received === expected, {
        message: `received ${received} of ${expected}`,
      });
      ws.send("after");
      const last = await once(client, "message");
      assert.equal(last.data, "after");
      assert.equal(received, expected + 1);
    },
  );

  test(
    "drain fires once a slow reader brings bufferedAmount to drainThreshold",
    T,
    async (t) => {
      const { client, ws } = await connect(t, {
        maxBackpressure: 8 * MiB,
        drainThreshold: MiB,
      });
      control(client).pause();
      let drains = 0;
      ws.ondrain = () => drains++;
      const drained = once(ws, "drain");
      for (let i = 0; ws.bufferedAmount <= 2 * MiB; i++) {
        assert.ok(i < 2048, "bufferedAmount never passed 2 MiB");
        ws.send(CHUNK);
        if (i % 16 === 15) await delay(1);
      }
      assert.equal(drains, 0);
      control(client).resume();
      const event = await drained;
      assert.equal(event.type, "drain");
      assert.ok(ws.bufferedAmount <= MiB);
      assert.equal(drains, 1);
      assert.equal(ws.droppedMessages, 0);
    },
  );

  test(
    "no drain for a reader that keeps up under drainThreshold",
    T,
    async (t) => {
      const { client, ws } = await connect(t, { drainThreshold: 4 * MiB });
      let drains = 0;
      ws.ondrain = () => drains++;
      let received = 0;
      client.onmessage = () => received++;
      for (let i = 0; i < 32; i++) ws.send(CHUNK);
      await waitFor(() => received === 32);
      assert.equal(drains, 0);
      assert.equal(ws.bufferedAmount, 0);
    },
  );

  test(
    'the control face\'s sends are bounded too: fragments past the limit close even under "drop"',
    T,
    async (t) => {
      const limit = 2 * MiB;
      const { client, ws } = await connect(t, {
        maxBackpressure: limit,
        backpressure: "drop",
      });
      control(client).pause();
      const rss = process.memoryUsage().rss;
      for (
        let turn = 0;
        turn < 64 && ws.readyState === WebSocket.OPEN;
        turn++
      ) {
        for (let i = 0; i < 16 && ws.readyState === WebSocket.OPEN; i++) {
          control(ws).sendFragment(CHUNK, { fin: false });
        }
        await delay(1);
      }
      const grown = process.memoryUsage().rss - rss;
      assert.equal(ws.readyState, WebSocket.CLOSING);
      assert.ok(
        grown < 32 * MiB,
        `RSS grew by ${(grown / MiB).toFixed(1)} MiB`,
      );
    },
  );

  test(
    'a ping past the limit follows the policy: "drop" leaves it out',
    T,
    async (t) => {
      const { client, ws } = await connect(t, {
        maxBackpressure: MiB,
        backpressure: "drop",
      });
      control(client).pause();
      let sent = 0;
      while (ws.droppedMessages === 0) {
        for (let i = 0; i < 16; i++, sent++) ws.send(CHUNK);
        await delay(1);
      }
      control(ws).ping("dropped");
      const pings = [];
      client.addEventListener("ping", (e) =>
        pings.push(new TextDecoder().decode(e.data)),
      );
      let received = 0;
      client.onmessage = () => received++;
      control(client).resume();
      const expected = sent - ws.droppedMessages;
      await waitFor(() => received === expected, {
        message: `received ${received} of ${expected}`,
      });
      control(ws).ping("sent");
      await waitFor(() => pings.length > 0);
      assert.deepEqual(pings, ["sent"]);
      assert.equal(ws.readyState, WebSocket.OPEN);
    },
  );

  test("backpressure must be close or drop", () => {
    assert.throws(
      () => new WebSocketServer({ backpressure: "block" }),
      TypeError,
    );
  });
});

describe("idleTimeout and maxLifetime", () => {
  for (const option of ["idleTimeout", "keepalive"]) {
    test(
      `${option}: a silent peer is closed with 1006, one that answers pings stays`,
      T,
      async (t) => {
        const silent = await connect(t, { [option]: 200 });
        const live = await connect(t, { [option]: 200 });
        control(silent.client).pause();
        const start = performance.now();
        const event = await once(silent.ws, "close", { timeout: 5000 });
        assert.equal(event.code, 1006);
        // A ping after 200 ms, given up on 200 ms later.
        assert.ok(performance.now() - start >= 350);
        await delay(600);
        assert.equal(live.ws.readyState, WebSocket.OPEN);
        assert.equal(live.client.readyState, WebSocket.OPEN);
      },
    );
  }

  test("idleTimeout: 0 turns it off", T, async (t) => {
    const { client, ws } = await connect(t, { idleTimeout: 0 });
    control(client).pause();
    await delay(600);
    assert.equal(ws.readyState, WebSocket.OPEN);
    control(client).resume();
  });

  test("maxLifetime closes with 1001", T, async (t) => {
    const { client, ws } = await connect(t, { maxLifetime: 300 });
    const start = performance.now();
    const event = await once(client, "close", { timeout: 5000 });
    assert.ok(performance.now() - start >= 250);
    assert.equal(event.code, 1001);
    assert.equal(event.reason, "maximum lifetime reached");
    assert.equal(ws.readyState, WebSocket.CLOSED);
  });

  test("maxLifetime closes a server's WebSocketStream too", T, async (t) => {
    const { client, ws } = await connect(t, {
      maxLifetime: 300,
      stream: true,
    });
    const event = await once(client, "close", { timeout: 5000 });
    assert.equal(event.code, 1001);
    assert.equal(event.reason, "maximum lifetime reached");
    // Its closed promise holds the client's answer (its code, no reason).
    assert.equal((await ws.closed).closeCode, 1001);
  });
});
