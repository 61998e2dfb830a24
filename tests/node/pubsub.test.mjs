// Publish/subscribe on the server: `ws.subscribe` / `unsubscribe`,
// `server.publish(topic, data, { except })` framing a message once (and
// compressing it once without context takeover), every subscriber's
// backpressure policy, and the broker contract other processes plug into.
//
// Run: node --test tests/node/pubsub.test.mjs

import assert from "node:assert/strict";
import net from "node:net";
import { describe, test } from "node:test";

import { WebSocket as WsClient } from "ws";

import { control, WebSocket, WebSocketServer } from "wasmsocket";

import { Engine } from "../../pkg/lib/engine.js";
import { wasm_memory } from "../../pkg/wasm/wasmsocket.js";
import { delay, messages, once, waitFor } from "./helpers.mjs";

const T = { timeout: 30000 };
const MiB = 1 << 20;

/** A listening server whose sockets subscribe to the topics in their URL's
 * query (`?t=a&t=b`). */
async function listen(t, options = {}) {
  const server = new WebSocketServer({
    port: 0,
    host: "127.0.0.1",
    ...options,
  });
  t.after(() => server.close());
  server.on("connection", (ws, request) => {
    const topics = new URL(request.url, "ws://x").searchParams.getAll("t");
    for (const topic of topics) ws.subscribe(topic);
  });
  await once(server, "listening");
  const url = (...topics) =>
    `ws://127.0.0.1:${server.address().port}/?${topics.map((x) => `t=${x}`).join("&")}`;
  return { server, url };
}

/** Clients of the package (or `Client`) connected to `href`, open. */
async function clients(href, n, Client = WebSocket, options) {
  const list = [];
  for (let i = 0; i < n; i++) {
    const ws = new Client(href, [], options);
    ws.binaryType = "arraybuffer";
    await once(ws, "open");
    list.push(ws);
  }
  return list;
}

/** Waits until `server` has `n` subscribers to `topic`. */
const subscribed = (server, topic, n) =>
  waitFor(() => server.subscriberCount(topic) === n, {
    message: `${server.subscriberCount(topic)} subscribers to ${topic}`,
  });

/**
 * A raw TCP client that opens a WebSocket (offering `extension`) and keeps
 * every byte the server sends after the 101: to see frames as they went.
 */
async function rawClient(port, path, extension) {
  const socket = net.connect(port, "127.0.0.1");
  await once(socket, "connect");
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n` +
      (extension ? `Sec-WebSocket-Extensions: ${extension}\r\n` : "") +
      "\r\n",
  );
  let bytes = Buffer.alloc(0);
  socket.on("data", (chunk) => (bytes = Buffer.concat([bytes, chunk])));
  await waitFor(() => bytes.includes("\r\n\r\n"));
  const body = () => bytes.subarray(bytes.indexOf("\r\n\r\n") + 4);
  return { socket, body };
}

describe("subscribe and unsubscribe", () => {
  test(
    "topics of a socket, counted by the server, gone when it closes",
    T,
    async (t) => {
      const { server, url } = await listen(t);
      const accepted = once(server, "connection");
      const [client] = await clients(url(), 1);
      const [ws] = await accepted;
      assert.deepEqual(ws.subscriptions, []);
      assert.equal(ws.subscribe("a"), true);
      assert.equal(ws.subscribe("a"), false, "subscribed already");
      assert.equal(ws.subscribe(7), true, "topics are strings");
      assert.equal(ws.isSubscribed("7"), true);
      assert.deepEqual(ws.subscriptions, ["a", "7"]);
      assert.equal(server.subscriberCount("a"), 1);
      assert.equal(ws.unsubscribe("a"), true);
      assert.equal(ws.unsubscribe("a"), false);
      assert.equal(server.subscriberCount("a"), 0);
      assert.equal(server.publish("a", "nobody"), 0);
      client.close();
      await once(ws, "close");
      assert.equal(server.subscriberCount("7"), 0);
      assert.deepEqual(ws.subscriptions, []);
      assert.equal(ws.subscribe("b"), false, "a closed socket joins nothing");
      assert.equal(server.subscriberCount("b"), 0);
    },
  );

  test("a client's socket cannot subscribe", T, async (t) => {
    const { url } = await listen(t);
    const [client] = await clients(url(), 1);
    assert.throws(() => client.subscribe("a"), { name: "InvalidStateError" });
    assert.equal(client.isSubscribed("a"), false);
    client.close();
  });
});

describe("publish", () => {
  test(
    "text and binary reach every subscriber but `except`, in order with sends",
    T,
    async (t) => {
      const { server, url } = await listen(t);
      const sockets = [];
      server.on("connection", (ws) => sockets.push(ws));
      const subs = await clients(url("news"), 3);
      const [other] = await clients(url("sport"), 1);
      await subscribed(server, "news", 3);
      const got = [
        messages(subs[0], 5),
        messages(subs[1], 2),
        messages(subs[2], 3),
      ];
      let heard = 0;
      other.onmessage = () => heard++;
      sockets[0].send("first");
      assert.equal(server.publish("news", "hello"), 3);
      assert.equal(
        server.publish("news", new Uint16Array([1, 2, 3]), {
          except: sockets[1],
        }),
        2,
      );
      assert.equal(server.publish("news", new ArrayBuffer(70000)), 3);
      sockets[0].send("last");
      const [a, b, c] = await Promise.all(got);
      assert.equal(a[0], "first");
      assert.equal(a[1], "hello");
      assert.deepEqual(
        new Uint8Array(a[2]),
        new Uint8Array([1, 0, 2, 0, 3, 0]),
      );
      assert.equal(a[3].byteLength, 70000);
      assert.equal(a[4], "last");
      assert.equal(b[0], "hello");
      assert.equal(b[1].byteLength, 70000, "except skipped it");
      assert.equal(c.length, 3);
      assert.equal(heard, 0, "another topic heard nothing");
      assert.throws(() => server.publish("news", {}), TypeError);
    },
  );

  test(
    "one frame for every subscriber, compressed once without context takeover",
    T,
    async (t) => {
      const { server } = await listen(t, {
        perMessageDeflate: { serverNoContextTakeover: true },
      });
      const port = server.address().port;
      const deflate = "permessage-deflate";
      const raws = [
        await rawClient(port, "/?t=x", deflate),
        await rawClient(port, "/?t=x", deflate),
        await rawClient(port, "/?t=x"),
      ];
      await subscribed(server, "x", 3);
      const text = "compress me ".repeat(200);
      // Every subscriber took the frame made for it (none framed it again).
      const sendShared = Engine.prototype.sendShared;
      let taken = 0;
      Engine.prototype.sendShared = function (frame) {
        const ok = sendShared.call(this, frame);
        taken += ok;
        return ok;
      };
      try {
        server.publish("x", text);
      } finally {
        Engine.prototype.sendShared = sendShared;
      }
      assert.equal(taken, 3);
      await waitFor(() => raws.every((r) => r.body().length > 0));
      await delay(20);
      const [one, two, plain] = raws.map((r) => r.body());
      assert.deepEqual(one, two, "the same bytes to both");
      assert.equal(one[0], 0xc1, "FIN, RSV1 (compressed), text");
      assert.ok(one.length < text.length / 4, `${one.length} bytes`);
      assert.equal(plain[0], 0x81, "uncompressed where not agreed");
      assert.equal(plain.subarray(4).toString(), text);
      for (const r of raws) r.socket.destroy();
      // ws's client reads what was compressed once, and so does ours.
      const ws = new WsClient(`ws://127.0.0.1:${port}/?t=y`, {
        perMessageDeflate: { serverNoContextTakeover: true },
      });
      await once(ws, "open");
      const [ours] = await clients(`ws://127.0.0.1:${port}/?t=y`, 1);
      await subscribed(server, "y", 2);
      const heard = new Promise((resolve) =>
        ws.on("message", (data) => resolve(String(data))),
      );
      const mine = messages(ours, 2);
      server.publish("y", text);
      server.publish("y", text + "!");
      assert.equal(await heard, text);
      assert.deepEqual(await mine, [text, text + "!"]);
      ws.close();
    },
  );

  test(
    "subscribers with context takeover or a narrower window frame it themselves",
    T,
    async (t) => {
      const { server, url } = await listen(t, { perMessageDeflate: true });
      const [ours] = await clients(url("z"), 1);
      const theirs = new WsClient(url("z"), {
        perMessageDeflate: { serverMaxWindowBits: 10 },
      });
      await once(theirs, "open");
      await subscribed(server, "z", 2);
      const texts = ["a".repeat(3000), "b".repeat(3000), "ab".repeat(2000)];
      const heard = [];
      theirs.on("message", (data) => heard.push(String(data)));
      const mine = messages(ours, 3);
      for (const text of texts) server.publish("z", text);
      assert.deepEqual(await mine, texts);
      await waitFor(() => heard.length === 3);
      assert.deepEqual(heard, texts);
      theirs.close();
    },
  );

  test("a big message is framed without growing wasm memory", T, async (t) => {
    const { server, url } = await listen(t);
    const subs = await clients(url("big"), 2);
    await subscribed(server, "big", 2);
    const got = subs.map((ws) => messages(ws, 2));
    const before = wasm_memory().buffer.byteLength;
    const big = new Uint8Array(6 * MiB).fill(9);
    server.publish("big", big);
    server.publish("big", "é".repeat(2 * MiB));
    assert.equal(wasm_memory().buffer.byteLength, before);
    for (const [binary, text] of await Promise.all(got)) {
      assert.deepEqual(new Uint8Array(binary), big);
      assert.equal(text.length, 2 * MiB);
    }
  });

  test("a Blob being sent keeps its place ahead of a publish", T, async (t) => {
    const { server, url } = await listen(t);
    const accepted = once(server, "connection");
    const [client] = await clients(url("q"), 1);
    const [ws] = await accepted;
    const got = messages(client, 2);
    ws.send(new Blob(["blob"]));
    server.publish("q", "after");
    const [first, second] = await got;
    assert.equal(new TextDecoder().decode(first), "blob");
    assert.equal(second, "after");
  });
});

describe("backpressure", () => {
  test(
    '"drop": a subscriber that never reads costs at most maxBackpressure; the rest get everything',
    T,
    async (t) => {
      const { server, url } = await listen(t, {
        maxBackpressure: MiB,
        backpressure: "drop",
      });
      const sockets = [];
      server.on("connection", (ws) => sockets.push(ws));
      const [slow, fast] = await clients(url("big"), 2);
      await subscribed(server, "big", 2);
      control(slow).pause();
      let received = 0;
      fast.onmessage = () => received++;
      const chunk = new Uint8Array(64 * 1024).fill(1);
      let peak = 0;
      for (let turn = 0; turn < 32; turn++) {
        for (let i = 0; i < 8; i++) server.publish("big", chunk);
        peak = Math.max(peak, sockets[0].bufferedAmount);
        // The reader keeps up, so only the other one is ever behind.
        await waitFor(() => sockets[1].bufferedAmount === 0);
      }
      assert.ok(peak <= MiB, `bufferedAmount peaked at ${peak}`);
      assert.ok(sockets[0].droppedMessages > 0);
      assert.equal(sockets[0].readyState, WebSocket.OPEN);
      await waitFor(() => received === 256, {
        message: `fast got ${received}`,
      });
      assert.equal(sockets[1].droppedMessages, 0);
      control(slow).resume();
    },
  );

  test(
    '"close": a subscriber that never reads is closed with 1008',
    T,
    async (t) => {
      const { server, url } = await listen(t, { maxBackpressure: MiB });
      const [slow] = await clients(url("big"), 1);
      await subscribed(server, "big", 1);
      control(slow).pause();
      const chunk = new Uint8Array(64 * 1024);
      for (
        let turn = 0;
        turn < 32 && server.subscriberCount("big") > 0;
        turn++
      ) {
        for (let i = 0; i < 8; i++) server.publish("big", chunk);
        await delay(1);
      }
      const closed = once(slow, "close");
      control(slow).resume();
      assert.equal((await closed).code, 1008);
      await subscribed(server, "big", 0);
    },
  );

  test(
    "a subscriber whose transport dies mid-publish is dropped, the others carry on",
    T,
    async (t) => {
      const { server } = await listen(t);
      const port = server.address().port;
      const raw = await rawClient(port, "/?t=d");
      const [ours] = await clients(`ws://127.0.0.1:${port}/?t=d`, 1);
      await subscribed(server, "d", 2);
      const got = messages(ours, 100);
      for (let i = 0; i < 100; i++) {
        if (i === 50) raw.socket.destroy();
        server.publish("d", `m${i}`);
        if (i % 10 === 0) await delay(1);
      }
      assert.equal((await got).at(-1), "m99");
      await subscribed(server, "d", 1);
    },
  );
});

describe("brokers", () => {
  /** A broker that records what the server asks of it. */
  function fakeBroker() {
    const calls = [];
    return {
      calls,
      deliver: null,
      attach(deliver) {
        this.deliver = deliver;
        calls.push(["attach"]);
      },
      subscribe: (topic) => calls.push(["subscribe", topic]),
      unsubscribe: (topic) => calls.push(["unsubscribe", topic]),
      publish: (topic, data) => calls.push(["publish", topic, data]),
      close: () => {
        calls.push(["close"]);
        return delay(5);
      },
    };
  }

  test(
    "the server tells its broker of first and last subscribers, publishes and closing",
    T,
    async (t) => {
      const broker = fakeBroker();
      const server = new WebSocketServer({
        port: 0,
        host: "127.0.0.1",
        broker,
      });
      t.after(() => server.close());
      await once(server, "listening");
      const url = `ws://127.0.0.1:${server.address().port}/`;
      const sockets = [];
      server.on("connection", (ws) => {
        ws.subscribe("room");
        sockets.push(ws);
      });
      const [a, b] = await clients(url, 2);
      await subscribed(server, "room", 2);
      assert.deepEqual(broker.calls, [["attach"], ["subscribe", "room"]]);
      const bytes = new Uint8Array([1, 2]);
      const local = Promise.all([messages(a, 1), messages(b, 1)]);
      assert.equal(server.publish("room", bytes), 2);
      for (const [data] of await local)
        assert.deepEqual(new Uint8Array(data), bytes);
      const [call] = broker.calls.splice(2);
      assert.deepEqual(call.slice(0, 2), ["publish", "room"]);
      assert.deepEqual(call[2], bytes);
      // Delivered from another process: local subscribers only, not forwarded.
      const heard = Promise.all([messages(a, 1), messages(b, 1)]);
      broker.deliver("room", "from B");
      assert.deepEqual(await heard, [["from B"], ["from B"]]);
      assert.deepEqual(broker.calls.slice(2), []);
      sockets[0].unsubscribe("room");
      a.close();
      b.close();
      await subscribed(server, "room", 0);
      assert.deepEqual(broker.calls.slice(2), [["unsubscribe", "room"]]);
      await server.close();
      assert.deepEqual(broker.calls.at(-1), ["close"]);
    },
  );
});
