// Big binary messages, which the package keeps out of wasm memory. Received
// (the engine's host_assembly): whatever way the transport cuts the bytes,
// every message arrives whole and in order, wasm memory holds no more of a
// masked or an unmasked one than the chunk it started in, and a header
// alone reserves no memory. Sent (host_frame):
// each frame is written in its place, a client's masked a window at a time
// in wasm memory, and a server's leaves bufferedAmount once written. The test plays the peer
// over a WHATWG stream pair, so it decides where each chunk ends and when
// each write completes.
//
// Run: node --test tests/node/

import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { test } from "node:test";

import { control, WebSocket, WebSocketServer } from "wasmsocket";
import { WebSocketServer as WsServer } from "ws";

import { wasm_memory } from "../../pkg/wasm/wasmsocket.js";
import { frame, messages, within } from "./helpers.mjs";

const T = { timeout: 20000 };
const KiB = 1024;
const MiB = 1024 * KiB;
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** `wire` cut into chunks whose sizes cycle through `sizes`. */
function cut(wire, sizes) {
  const chunks = [];
  for (let at = 0, i = 0; at < wire.length; i++) {
    const n = Math.min(sizes[i % sizes.length], wire.length - at);
    chunks.push(wire.subarray(at, at + n));
    at += n;
  }
  return chunks;
}

// Sizes around the 64 KiB threshold, one read whole, one well past it; a
// small text message between big ones. Chunks of 1 byte, of a few bytes,
// of about a transport read and of several hundred KiB: a chunk ends inside
// a header, inside a payload, exactly at a message's end, and one chunk
// carries the end of one big message and the start of the next.
const MESSAGES = [
  randomBytes(3 * MiB + 5),
  "between",
  randomBytes(64 * KiB),
  randomBytes(64 * KiB - 1),
  randomBytes(200 * KiB),
  "after",
  randomBytes(70_001),
];
const CUTS = [
  [65536],
  [1, 7, 65536, 100_000, 3, 300_000, 13],
  [9, 2 * MiB],
  [5 * MiB],
];

function assertMessages(got) {
  assert.equal(got.length, MESSAGES.length);
  MESSAGES.forEach((want, i) => {
    if (typeof want === "string") {
      assert.equal(got[i], want, `message ${i}`);
      return;
    }
    assert.ok(got[i] instanceof ArrayBuffer, `message ${i} is an ArrayBuffer`);
    assert.equal(got[i].byteLength, want.length, `message ${i} length`);
    assert.ok(want.equals(Buffer.from(got[i])), `message ${i} bytes`);
  });
}

/** The wire of MESSAGES, masked if `masked`. */
function wireOf(masked) {
  return Buffer.concat(
    MESSAGES.map((m) =>
      typeof m === "string"
        ? frame(1, Buffer.from(m), { mask: masked ? randomBytes(4) : null })
        : frame(2, m, { mask: masked ? randomBytes(4) : null }),
    ),
  );
}

/** Reads `readable` to the end of an HTTP head; returns it as text. */
async function readHead(reader) {
  let head = Buffer.alloc(0);
  while (!head.includes("\r\n\r\n")) {
    const { value, done } = await reader.read();
    assert.ok(!done, "the stream ended inside the head");
    head = Buffer.concat([head, value]);
  }
  return head.toString("latin1");
}

/** A client's opening request, as the test writes it to a server. */
const REQUEST = Buffer.from(
  "GET / HTTP/1.1\r\nHost: big.test\r\nUpgrade: websocket\r\n" +
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
    "Sec-WebSocket-Version: 13\r\n\r\n",
);

/** Wasm memory grew since `before` by at most twice the biggest chunk of
 * `sizes` (chunks are fed into a buffer grown by doubling): a big masked
 * message's pieces leave wasm memory, unmasked, at the end of each chunk
 * (its first half used to stay until half had come); unmasked payload is
 * taken from the chunks, except where a chunk fed whole holds some.
 * Without host assembly the 3 MiB message alone grows it by 8 MiB. */
function assertWasmHeld(before, sizes) {
  const grown = (wasm_memory().buffer.byteLength - before) / KiB;
  const limit = (2 * Math.max(...sizes)) / KiB;
  assert.ok(grown <= limit, `wasm memory grew ${grown} KiB (limit ${limit})`);
}

/** The first `n` messages a ws socket receives: text as strings, binary as
 * Buffers. */
function wsReceived(socket, n) {
  const got = [];
  return new Promise((resolve) =>
    socket.on("message", (data, isBinary) => {
      got.push(isBinary ? data : data.toString());
      if (got.length === n) resolve(got);
    }),
  );
}

/** The first `n` messages a ws server's first client sends. */
function wsServerReceived(server, n) {
  return new Promise((resolve) =>
    server.once("connection", (socket) => resolve(wsReceived(socket, n))),
  );
}

/** A package client over a WHATWG pair, opened by the test playing the
 * server; `writer` writes what the client reads. */
async function openClient(t) {
  const up = new TransformStream();
  const down = new TransformStream();
  const ws = new WebSocket("ws://big.test/", [], {
    transport: { readable: down.readable, writable: up.writable },
  });
  t.after(() => ws.readyState === WebSocket.OPEN && ws.close());
  const opened = new Promise((resolve) => (ws.onopen = resolve));
  const reader = up.readable.getReader();
  const key = /Sec-WebSocket-Key: (\S+)/i.exec(await readHead(reader))[1];
  const accept = createHash("sha1")
    .update(key + GUID)
    .digest("base64");
  const writer = down.writable.getWriter();
  await writer.write(
    Buffer.from(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
        `Connection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
    ),
  );
  await within(opened, 5000, "open");
  return { ws, writer };
}

/** A package server accepting over a WHATWG pair, the test playing the
 * client; `writer` writes what the server reads. */
async function openServer(t) {
  const up = new TransformStream();
  const down = new TransformStream();
  const server = new WebSocketServer({});
  const accepted = server.accept({
    readable: up.readable,
    writable: down.writable,
  });
  const writer = up.writable.getWriter();
  await writer.write(REQUEST);
  const ws = await within(accepted, 5000, "accept() resolving");
  t.after(() => ws.readyState === WebSocket.OPEN && ws.close());
  const reader = down.readable.getReader();
  assert.match(await readHead(reader), /^HTTP\/1\.1 101 /);
  return { ws, writer };
}

/** Writes MESSAGES to `ws` cut into chunks of `sizes`, and checks they
 * arrive whole and in order without growing wasm memory by much. */
async function assertReceivedWhole({ ws, writer }, masked, sizes) {
  const before = wasm_memory().buffer.byteLength;
  ws.binaryType = "arraybuffer";
  const got = messages(ws, MESSAGES.length);
  for (const chunk of cut(wireOf(masked), sizes)) await writer.write(chunk);
  assertMessages(await got);
  assertWasmHeld(before, sizes);
}

for (const sizes of CUTS) {
  test(
    `a client gets big binary messages whole, chunks of ${sizes.join(", ")} bytes`,
    T,
    async (t) => assertReceivedWhole(await openClient(t), false, sizes),
  );
}

for (const sizes of CUTS) {
  test(
    `a server gets big masked binary messages whole, chunks of ${sizes.join(", ")} bytes`,
    T,
    async (t) => assertReceivedWhole(await openServer(t), true, sizes),
  );
}

test(
  "a client's big binary sends reach another server whole and in order, without growing wasm memory by their size",
  T,
  async (t) => {
    // ws checks every frame from a client is masked (§5.1) and unmasks it.
    const peer = new WsServer({ port: 0, host: "127.0.0.1" });
    t.after(() => peer.close());
    await new Promise((resolve) => peer.once("listening", resolve));
    const all = wsServerReceived(peer, MESSAGES.length);
    const ws = new WebSocket(`ws://127.0.0.1:${peer.address().port}/`);
    t.after(() => ws.close());
    await within(new Promise((r) => (ws.onopen = r)), 5000, "open");
    const before = wasm_memory().buffer.byteLength;
    for (const m of MESSAGES) ws.send(m);
    const got = await within(all, 10000, "every message at the server");
    assert.equal(got.length, MESSAGES.length);
    got.forEach((m, i) => assert.deepEqual(m, MESSAGES[i], `message ${i}`));
    // Each big payload passes through wasm memory a window at a time.
    const grown = (wasm_memory().buffer.byteLength - before) / KiB;
    assert.ok(grown <= 256, `wasm memory grew ${grown} KiB`);
  },
);

test(
  "a server's big binary sends leave bufferedAmount as each is written",
  T,
  async (t) => {
    const up = new TransformStream();
    const written = [];
    const pending = [];
    // A transport that holds every write until the test lets it go.
    const writable = new WritableStream({
      write(chunk) {
        written.push(Buffer.from(chunk));
        return new Promise((resolve) => pending.push(resolve));
      },
    });
    const release = async () => {
      await within(
        (async () => {
          while (pending.length === 0)
            await new Promise((r) => setTimeout(r, 1));
        })(),
        5000,
        "a write",
      );
      pending.shift()();
      await new Promise((r) => setTimeout(r, 5));
    };
    const server = new WebSocketServer({});
    const accepted = server.accept({ readable: up.readable, writable });
    const writer = up.writable.getWriter();
    await writer.write(REQUEST);
    await release(); // the 101
    const ws = await within(accepted, 5000, "accept() resolving");
    t.after(() => ws.readyState === WebSocket.OPEN && ws.close());
    const big = randomBytes(100_000);
    ws.send("a");
    ws.send(big);
    ws.send("b");
    assert.equal(ws.bufferedAmount, 100_002);
    await release();
    assert.equal(ws.bufferedAmount, 100_001, "after the first frame");
    await release();
    assert.equal(ws.bufferedAmount, 1, "after the big frame");
    await release();
    assert.equal(ws.bufferedAmount, 0, "after the last");
    const wire = Buffer.concat(written.slice(1));
    assert.ok(
      wire.equals(
        Buffer.concat([
          frame(1, Buffer.from("a")),
          frame(2, big),
          frame(1, Buffer.from("b")),
        ]),
      ),
      "the frames, in order",
    );
  },
);

test(
  "a header alone does not make the package reserve the message's memory",
  T,
  async (t) => {
    const { ws, writer } = await openClient(t);
    // A 60 MiB message (under the 64 MiB default limit) of which 100 KiB come.
    const head = Buffer.alloc(10);
    head[0] = 0x82;
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(60 * MiB), 2);
    const before = process.memoryUsage().arrayBuffers;
    await writer.write(Buffer.concat([head, randomBytes(100 * KiB)]));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const grown = (process.memoryUsage().arrayBuffers - before) / MiB;
    assert.ok(grown < 8, `array buffers grew ${grown.toFixed(1)} MiB`);
    assert.equal(ws.readyState, WebSocket.OPEN);
  },
);

/** Resolves once `ws` has failed for want of memory: an error event that
 * says so, then a close with 1006; then checks that another connection still
 * gets a message. Call it before the step that fails. */
function failsForMemory(t, ws) {
  const errored = new Promise((resolve) => (ws.onerror = resolve));
  const closed = new Promise((resolve) => (ws.onclose = resolve));
  return (async () => {
    const error = await within(errored, 5000, "the error event");
    assert.match(error.message, /out of memory for \d+ more bytes/);
    const close = await within(closed, 5000, "the close event");
    assert.equal(close.code, 1006);
    assert.equal(close.wasClean, false);
    const other = await openClient(t);
    const got = messages(other.ws, 1);
    await other.writer.write(frame(1, Buffer.from("still here")));
    assert.deepEqual(await got, ["still here"], "another connection goes on");
  })();
}

test(
  "input there is no memory for fails its connection, not the process",
  T,
  async (t) => {
    const { ws, writer } = await openClient(t);
    const failed = failsForMemory(t, ws);
    // A 60 MiB text message, then a chunk bigger than wasm memory can ever
    // hold (over 2 GiB, never touched: only its first bytes are written).
    const head = Buffer.alloc(10);
    head[0] = 0x81;
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(60 * MiB), 2);
    await writer.write(head);
    const huge = Buffer.allocUnsafeSlow(2 ** 31 + 100);
    huge.fill(0x61, 0, 64);
    await writer.write(huge);
    await failed;
  },
);

test(
  "a message there is no memory for fails its connection; send does not throw",
  T,
  async (t) => {
    const { ws } = await openClient(t);
    const failed = failsForMemory(t, ws);
    // Over 2 GiB, allocated but never touched: more than wasm memory holds.
    const huge = Buffer.allocUnsafeSlow(2 ** 31 + 10);
    ws.send(huge);
    assert.equal(ws.bufferedAmount, huge.length, "counted, never sent");
    await failed;
  },
);

test(
  "a fragment there is no memory for is refused; the connection goes on",
  T,
  async (t) => {
    const { ws } = await openClient(t);
    // Over 2 GiB, allocated but never touched: more than wasm memory holds.
    const huge = Buffer.allocUnsafeSlow(2 ** 31 + 10);
    assert.throws(() => control(ws).sendFragment(huge, { fin: false }), {
      name: "RangeError",
      message: /out of memory for \d+ more bytes/,
    });
    assert.equal(ws.readyState, WebSocket.OPEN);
    control(ws).sendFragment("whole");
    ws.send("after");
    assert.equal(ws.bufferedAmount, 10);
  },
);

// Big messages over real sockets. A package client's TCP socket reads into
// one buffer shared by every such socket (node/duplex.js `readInto`): each
// read must be taken before the next lands, on whatever connection. Long
// ASCII text goes out as a frame made by the host (engine.js
// `#sendTextByHost`), encoded straight into the frame's buffer; other text
// stays on the wasm path.
const TEXTS = [
  "x".repeat(16 * MiB),
  "a".repeat(MiB - 1) + "é", // ASCII but for its last character
  "é".repeat(64 * KiB) + "x".repeat(MiB), // a long ASCII tail after
  "\ud800".repeat(70_000), // lone surrogates, sent as U+FFFD
  "b".repeat(64 * KiB), // exactly the host path's threshold
  "😀".repeat(300_000),
];
const BIG = [
  ...TEXTS,
  randomBytes(16 * MiB),
  randomBytes(MiB),
  randomBytes(64 * KiB + 3),
];

/** A server that may hold all of BIG in output for one peer. */
const BIG_SERVER = { host: "127.0.0.1", maxBackpressure: 256 * MiB };

/** What `m` arrives as: lone surrogates become U+FFFD (WHATWG send). */
const expected = (m) => (typeof m === "string" ? m.toWellFormed() : m);

function assertSame(got, sent, who) {
  assert.equal(got.length, sent.length, `${who}: count`);
  got.forEach((m, i) => {
    const want = expected(sent[i]);
    if (typeof want === "string") {
      assert.equal(typeof m, "string", `${who}: message ${i} is text`);
      assert.ok(m === want, `${who}: text ${i} (${m.length} chars) differs`);
    } else {
      assert.ok(
        Buffer.from(m).equals(want),
        `${who}: binary ${i} (${m.byteLength} bytes) differs`,
      );
    }
  });
}

/** A package server on a port that echoes every message. */
async function echoServer(t) {
  // Output held for a slow peer may exceed the default 16 MiB here.
  const server = new WebSocketServer({ ...BIG_SERVER, port: 0 });
  t.after(() => server.close());
  await new Promise((resolve) => server.once("listening", resolve));
  server.on("connection", (ws) => {
    ws.binaryType = "arraybuffer";
    ws.onmessage = (e) => ws.send(e.data);
  });
  return `ws://127.0.0.1:${server.address().port}/`;
}

async function open(t, url) {
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  t.after(() => ws.readyState === WebSocket.OPEN && ws.close());
  await within(new Promise((r) => (ws.onopen = r)), 5000, "open");
  return ws;
}

test(
  "a server's long text reaches ws's client whole, without growing wasm memory by its size",
  T,
  async (t) => {
    const server = new WebSocketServer({ ...BIG_SERVER, port: 0 });
    t.after(() => server.close());
    await new Promise((resolve) => server.once("listening", resolve));
    const { WebSocket: WsClient } = await import("ws");
    const connected = new Promise((r) => server.once("connection", r));
    const peer = new WsClient(`ws://127.0.0.1:${server.address().port}/`);
    t.after(() => peer.close());
    const all = wsReceived(peer, TEXTS.length);
    const ws = await within(connected, 5000, "connection");
    const before = wasm_memory().buffer.byteLength;
    for (const m of TEXTS) ws.send(m);
    const got = await within(all, 15_000, "every message at the client");
    assertSame(got, TEXTS, "ws client");
    // The 16 MiB of ASCII never enter wasm memory; the 1 MiB messages that
    // are not ASCII do, once.
    const grown = (wasm_memory().buffer.byteLength - before) / MiB;
    assert.ok(grown <= 4, `wasm memory grew ${grown} MiB`);
  },
);

test(
  "a client's long text reaches ws's server whole, masked, without growing wasm memory by its size",
  T,
  async (t) => {
    // ws checks every frame from a client is masked (§5.1) and unmasks it.
    const peer = new WsServer({ port: 0, host: "127.0.0.1" });
    t.after(() => peer.close());
    await new Promise((resolve) => peer.once("listening", resolve));
    const all = wsServerReceived(peer, TEXTS.length);
    const ws = await open(t, `ws://127.0.0.1:${peer.address().port}/`);
    const before = wasm_memory().buffer.byteLength;
    for (const m of TEXTS) ws.send(m);
    const got = await within(all, 15_000, "every message at the server");
    assertSame(got, TEXTS, "ws server");
    const grown = (wasm_memory().buffer.byteLength - before) / MiB;
    assert.ok(grown <= 4, `wasm memory grew ${grown} MiB`);
  },
);

test(
  "package ↔ package: big text and binary echo whole over TCP, two clients reading at once",
  T,
  async (t) => {
    const url = await echoServer(t);
    const a = await open(t, url);
    const b = await open(t, url);
    const gotA = messages(a, BIG.length, { timeout: 20_000 });
    const gotB = messages(b, BIG.length, { timeout: 20_000 });
    // Both connections' replies arrive interleaved, read by turns into the
    // one shared read buffer.
    for (const m of BIG) {
      a.send(m);
      b.send(m);
    }
    assertSame(await gotA, BIG, "client a");
    assertSame(await gotB, BIG, "client b");
  },
);
