// Publish/subscribe across processes over Redis: WebSocketServers in child
// processes (fixtures/server-process.mjs), each with a redisBroker, and a
// real redis-server this suite starts on a free loopback port. A missing
// redis-server fails the suite: scripts/setup.sh installs it.

import assert from "node:assert/strict";
import { fork, spawn } from "node:child_process";
import { once as eventOnce } from "node:events";
import net from "node:net";
import { describe, test } from "node:test";

import { createClient } from "redis";

import { WebSocket } from "../../pkg/lib/node/index.js";
import { redisBroker } from "../../pkg/lib/redis.js";
import { record, waitFor } from "../node/helpers.mjs";

const T = { timeout: 30000 };
const FIXTURE = new URL("./fixtures/server-process.mjs", import.meta.url);

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
async function freePort() {
  const server = net.createServer().listen(0, "127.0.0.1");
  await eventOnce(server, "listening");
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * A redis-server of this test's own on a free port, without persistence,
 * killed after the test. `stop()` kills it, `start()` starts it again on the
 * same port; `command(...args)` runs one command through an admin client.
 */
async function startRedis(t) {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let server = null;
  const start = async () => {
    server = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1"]
        .concat(["--save", "", "--appendonly", "no"])
        .concat(["--loglevel", "warning"]),
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const failed = eventOnce(server, "error").then(([error]) => {
      throw new Error(
        `redis-server could not start (${error.code}): run scripts/setup.sh`,
      );
    });
    await Promise.race([failed, waitForPort(port)]);
  };
  const stop = async () => {
    if (server.exitCode !== null || server.signalCode !== null) return;
    server.kill("SIGKILL");
    await eventOnce(server, "exit");
  };
  await start();
  const admin = createClient({ url });
  admin.on("error", () => {});
  await admin.connect();
  t.after(async () => {
    admin.destroy();
    await stop();
  });
  return {
    url,
    start,
    stop,
    command: (...args) => admin.sendCommand(args),
    /** The channels Redis has subscribers for. */
    channels: async () =>
      (await admin.sendCommand(["PUBSUB", "CHANNELS"])).sort(),
    /** How many connections subscribe to `channel`. */
    subscribers: async (channel) =>
      (await admin.sendCommand(["PUBSUB", "NUMSUB", channel]))[1],
  };
}

/** Resolves once something accepts connections on `port`. */
function waitForPort(port) {
  return waitFor(
    () =>
      new Promise((resolve) => {
        const socket = net.connect(port, "127.0.0.1");
        socket.once("connect", () => resolve(socket.destroy() || true));
        socket.once("error", () => resolve(false));
      }),
    { interval: 20, message: `nothing listens on ${port}` },
  );
}

/**
 * A server process with a Redis broker (`mode` "url" or "client"), killed
 * after the test. `ask(message, key)` sends it an IPC message and resolves
 * with its next answer carrying `key`; `stderr` is what it printed.
 */
async function startProcess(t, redis, mode = "url") {
  const child = fork(FIXTURE, [mode, redis.url], {
    stdio: ["ignore", "ignore", "pipe", "ipc"],
  });
  const process = { child, stderr: "" };
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (s) => (process.stderr += s));
  t.after(() => child.kill("SIGKILL"));
  process.ask = (message, key) => {
    const answer = new Promise((resolve, reject) => {
      const onMessage = (m) => {
        if (!(key in m)) return;
        child.off("message", onMessage).off("exit", onExit);
        resolve(m);
      };
      const onExit = (code) =>
        reject(new Error(`server process exited (${code}): ${process.stderr}`));
      child.on("message", onMessage).once("exit", onExit);
    });
    if (message) child.send(message);
    return answer;
  };
  ({ port: process.port } = await process.ask(null, "port"));
  process.publish = async (topic, data) =>
    (
      await process.ask(
        typeof data === "string"
          ? { publish: topic, text: data }
          : { publish: topic, binary: Buffer.from(data).toString("base64") },
        "published",
      )
    ).published;
  return process;
}

/** A client of `server` subscribed to `topic` (by its path), once Redis
 * has `server`'s subscription to the topic. */
async function subscriber(t, server, topic, redis, subscribers = 1) {
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/${topic}`);
  ws.binaryType = "arraybuffer";
  const events = record(ws);
  await events.next("open");
  t.after(() => ws.close());
  await waitFor(
    async () => (await redis.subscribers(`wasmsocket:${topic}`)) >= subscribers,
    { interval: 20, message: `no subscription to ${topic} in Redis` },
  );
  const data = () => events.of("message").map((e) => e.data);
  return {
    ws,
    events,
    data,
    /** The data of the first `count` messages, once they are there. */
    first: async (count) => {
      await waitFor(() => data().length >= count, { interval: 10 });
      return data().slice(0, count);
    },
  };
}

describe("redisBroker across processes", () => {
  test(
    "a publication in one process reaches another's subscriber, text and binary, exact",
    T,
    async (t) => {
      const redis = await startRedis(t);
      const [a, b] = await Promise.all([
        startProcess(t, redis),
        startProcess(t, redis),
      ]);
      const client = await subscriber(t, a, "t", redis);
      const text = "héllo ✓ \u{1F600}";
      const bytes = new Uint8Array([0, 1, 2, 127, 128, 255, 0]);
      assert.equal(await b.publish("t", text), 0);
      assert.equal(await b.publish("t", bytes), 0);
      const first = await client.events.next("message");
      const second = await client.events.next("message");
      assert.equal(first.data, text);
      assert.ok(second.data instanceof ArrayBuffer);
      assert.deepEqual(new Uint8Array(second.data), bytes);
      // An empty message either way is a message too.
      await b.publish("t", "");
      await b.publish("t", new Uint8Array(0));
      assert.equal((await client.events.next("message")).data, "");
      assert.equal((await client.events.next("message")).data.byteLength, 0);
    },
  );

  test(
    "a process's own subscriber gets its publication once, not again through Redis",
    T,
    async (t) => {
      const redis = await startRedis(t);
      const [a, b] = await Promise.all([
        startProcess(t, redis),
        startProcess(t, redis),
      ]);
      const onA = await subscriber(t, a, "t", redis);
      const onB = await subscriber(t, b, "t", redis, 2);
      assert.equal(await b.publish("t", "from b"), 1);
      // Once A's client has it, Redis has sent it to B's connection too; A's
      // next publication comes after it on that connection.
      await onA.events.next("message");
      assert.equal(await a.publish("t", "from a"), 1);
      assert.equal(await b.publish("t", bytesOf("end")), 1);
      const expected = ["from b", "from a", "end"];
      assert.deepEqual((await onA.first(3)).map(textOf), expected);
      // A's next publication reaches B after the echo of B's "end" would
      // have: by then B's client has each message once (its own ones
      // delivered locally, so in no fixed order with A's).
      await a.publish("t", "last");
      await waitFor(() => onB.data().includes("last"), { interval: 10 });
      const got = onB.data().map(textOf);
      assert.equal(got.at(-1), "last");
      assert.deepEqual(got.slice(0, -1).sort(), ["end", "from a", "from b"]);
    },
  );

  test(
    "except skips one local client only; the last local unsubscribe unsubscribes the channel",
    T,
    async (t) => {
      const redis = await startRedis(t);
      const [a, b] = await Promise.all([
        startProcess(t, redis),
        startProcess(t, redis),
      ]);
      const one = await subscriber(t, a, "u", redis);
      const two = await subscriber(t, a, "u", redis);
      const far = await subscriber(t, b, "u", redis, 2);
      // One subscription per process, however many local subscribers.
      assert.equal(await redis.subscribers("wasmsocket:u"), 2);
      one.ws.send("except u hi");
      assert.equal((await two.events.next("message")).data, "hi");
      assert.equal((await far.events.next("message")).data, "hi");
      await b.publish("u", "after");
      assert.equal((await one.events.next("message")).data, "after");
      assert.equal((await two.events.next("message")).data, "after");
      assert.deepEqual(one.data(), ["after"]);

      one.ws.send("unsubscribe u");
      await b.publish("u", "one left");
      assert.equal((await two.events.next("message")).data, "one left");
      assert.equal(await redis.subscribers("wasmsocket:u"), 2);
      two.ws.close();
      await two.events.next("close");
      await waitFor(
        async () => (await redis.subscribers("wasmsocket:u")) === 1,
        {
          interval: 20,
          message: "A kept its subscription to wasmsocket:u",
        },
      );
      assert.deepEqual(await redis.channels(), ["wasmsocket:u"]);
      assert.equal(await b.publish("u", "gone"), 1);
      assert.deepEqual(await far.first(4), ["hi", "after", "one left", "gone"]);
      assert.deepEqual(one.data(), ["after"]);

      far.ws.close();
      await far.events.next("close");
      await waitFor(async () => (await redis.channels()).length === 0, {
        interval: 20,
        message: "B kept its subscription to wasmsocket:u",
      });
    },
  );

  test(
    "Redis going away ends no process; local publication goes on, and the cross-process one once Redis is back",
    T,
    async (t) => {
      const redis = await startRedis(t);
      const [a, b] = await Promise.all([
        startProcess(t, redis),
        startProcess(t, redis),
      ]);
      const onA = await subscriber(t, a, "t", redis);
      await redis.stop();
      assert.equal(await a.publish("t", "local"), 1);
      assert.equal((await onA.events.next("message")).data, "local");
      // Publications while Redis is down are dropped and reported, once.
      for (let i = 0; i < 20; i++) await b.publish("t", `lost ${i}`);
      await a.ask({ ping: true }, "pong");
      await b.ask({ ping: true }, "pong");
      await waitFor(() => b.stderr.includes("redisBroker"), { interval: 20 });
      for (const { stderr } of [a, b])
        assert.ok(
          (stderr.match(/wasmsocket: redisBroker:/g) ?? []).length <= 1,
          stderr,
        );

      await redis.start();
      // The client library reconnects and resubscribes by itself.
      await waitFor(
        async () => (await redis.subscribers("wasmsocket:t")) === 1,
        {
          timeout: 15000,
          interval: 50,
          message: "A did not resubscribe",
        },
      );
      await waitFor(
        async () => {
          await b.publish("t", "back");
          return onA.data().includes("back");
        },
        { timeout: 15000, interval: 100 },
      );
      assert.deepEqual(onA.data().slice(0, 2), ["local", "back"]);
      assert.equal(a.child.exitCode, null);
      assert.equal(b.child.exitCode, null);
    },
  );

  test(
    "with a client of the caller's: publishes through it, subscribes and closes only a duplicate",
    T,
    async (t) => {
      const redis = await startRedis(t);
      const [a, b] = await Promise.all([
        startProcess(t, redis, "client"),
        startProcess(t, redis, "url"),
      ]);
      const onA = await subscriber(t, a, "t", redis);
      const onB = await subscriber(t, b, "t", redis, 2);
      await a.publish("t", "from the caller's client");
      await onB.first(1);
      await b.publish("t", bytesOf("to the duplicate"));
      const expected = ["from the caller's client", "to the duplicate"];
      assert.deepEqual((await onA.first(2)).map(textOf), expected);
      assert.deepEqual((await onB.first(2)).map(textOf), expected);
      // Closing the server closes the broker's duplicate, not the client.
      const { clientOpen } = await a.ask({ close: true }, "closed");
      assert.equal(clientOpen, true);
      assert.equal(await redis.subscribers("wasmsocket:t"), 1);
    },
  );
});

describe("redisBroker in this process", () => {
  test("needs one of url or client", () => {
    assert.throws(() => redisBroker({}), TypeError);
    assert.throws(
      () => redisBroker({ url: "redis://127.0.0.1", client: {} }),
      TypeError,
    );
  });

  test(
    "commands made before the connection is ready wait for it, in order",
    T,
    async (t) => {
      const redis = await startRedis(t);
      const got = [];
      const broker = redisBroker({ url: redis.url, prefix: "p:" });
      const other = redisBroker({ url: redis.url, prefix: "p:" });
      broker.attach((topic, data) => got.push([topic, data]));
      other.attach(() => assert.fail("a broker got its own publication"));
      broker.subscribe("x");
      broker.unsubscribe("x");
      broker.subscribe("x");
      broker.subscribe("y");
      broker.unsubscribe("y");
      await waitFor(async () => (await redis.subscribers("p:x")) === 1, {
        interval: 20,
      });
      assert.deepEqual(await redis.channels(), ["p:x"]);
      other.publish("x", "text");
      other.publish("x", new Uint8Array([1, 2, 3]).subarray(1));
      other.publish("y", "nobody");
      broker.publish("x", "not to itself");
      await waitFor(() => got.length === 2, { interval: 10 });
      assert.deepEqual(got, [
        ["x", "text"],
        ["x", new Uint8Array([2, 3])],
      ]);
      await Promise.all([broker.close(), other.close()]);
      assert.deepEqual(await redis.channels(), []);
    },
  );

  test(
    "publications past maxPendingBytes are dropped and reported",
    T,
    async (t) => {
      const redis = await startRedis(t);
      const errors = [];
      const broker = redisBroker({
        url: redis.url,
        maxPendingBytes: 100,
        onerror: (error) => errors.push(error.message),
      });
      broker.attach(() => {});
      broker.publish("t", "x".repeat(80));
      broker.publish("t", "x".repeat(80));
      assert.match(errors[0], /dropped: 89 bytes already await Redis/);
      assert.equal(errors.length, 1);
      await broker.close();
    },
  );
});

const bytesOf = (s) => new TextEncoder().encode(s);
const textOf = (data) =>
  typeof data === "string" ? data : new TextDecoder().decode(data);
