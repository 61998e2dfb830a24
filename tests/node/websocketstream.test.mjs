// WebSocketStream and WebSocketError: the API's shapes and errors, message
// typing, write() settling only once the transport took the bytes, closing,
// the server's `stream` option, and backpressure both ways with memory
// measured (256 MiB offered to a reader that does not read, and written to
// a peer that does not read) over a Node socket, a Duplex and a WHATWG
// stream pair, with the package's server at the other end.
//
// Run: node --test tests/node/websocketstream.test.mjs
// (the memory figures are printed as TAP diagnostics: add
// --test-reporter=tap to see them)

import assert from "node:assert/strict";
import net from "node:net";
import { Duplex } from "node:stream";
import { describe, test } from "node:test";
import v8 from "node:v8";
import vm from "node:vm";

import {
  control,
  WebSocketServer,
  WebSocket,
} from "../../pkg/lib/node/index.js";
import { WebSocketServer as NeutralServer } from "../../pkg/lib/server.js";
import { streamTransport } from "../../pkg/lib/transport.js";
import {
  WebSocketError,
  WebSocketStream,
} from "../../pkg/lib/websocketstream.js";
import { wasm_memory } from "../../pkg/wasm/wasmsocket.js";

import { delay, startServer, waitFor, within } from "./helpers.mjs";

const T = { timeout: 30_000 };
const BIG = { timeout: 180_000 };
const MiB = 1 << 20;

/** A full collection before a measurement: V8's (Node, Deno) or Bun's. */
const gc = (() => {
  if (typeof globalThis.Bun?.gc === "function")
    return () => globalThis.Bun.gc(true);
  try {
    v8.setFlagsFromString("--expose-gc");
    return vm.runInNewContext("gc");
  } catch {
    return () => {};
  }
})();

// ----- helpers -------------------------------------------------------------

/** A package server on 127.0.0.1 handing out WebSocketStreams (or
 * WebSockets with `stream: false`); `next()` is the next connection. */
async function streamServer(options = {}) {
  const server = new WebSocketServer({ port: 0, stream: true, ...options });
  await new Promise((resolve) => server.once("listening", resolve));
  const queue = [];
  const waiting = [];
  server.on("connection", (conn, request) => {
    const entry = { conn, request };
    if (waiting.length > 0) waiting.shift()(entry);
    else queue.push(entry);
  });
  return {
    server,
    url: (path = "/") => `ws://127.0.0.1:${server.address().port}${path}`,
    next: () =>
      within(
        queue.length > 0
          ? Promise.resolve(queue.shift())
          : new Promise((resolve) => waiting.push(resolve)),
        10_000,
        "a server connection",
      ),
    close: () => within(server.close(), 10_000, "server.close()"),
  };
}

/** "pending" unless `promise` settles within `ms` (it cannot, in the tests
 * that use this, until the test lets it: no timing is asserted). */
const state = (promise, ms = 50) =>
  Promise.race([
    promise.then(
      () => "resolved",
      () => "rejected",
    ),
    delay(ms).then(() => "pending"),
  ]);

/** Resolves once `progress()` stopped changing for `quiet` ms: the sender
 * stalled (or finished, which the callers tell apart). */
async function stalled(progress, { quiet = 400, limit = 60_000 } = {}) {
  const start = Date.now();
  let last = -1;
  let since = Date.now();
  for (;;) {
    const now = progress();
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quiet) {
      return now;
    }
    if (Date.now() - start > limit) throw new Error("never stalled");
    await delay(25);
  }
}

/** Resident memory and wasm memory, after a full collection. */
function memory() {
  gc();
  return {
    rss: process.memoryUsage().rss,
    wasm: wasm_memory().buffer.byteLength,
  };
}

const mib = (n) => `${(n / MiB).toFixed(1)} MiB`;

/**
 * Two Node Duplex ends joined in memory, with backpressure kept: a write
 * to one end is called back only once the other end's reader can take
 * more, as with a socket, so a reader that stops stalls the writer.
 */
function pipePair() {
  const ends = [];
  const held = [null, null];
  const make = (me, peer) =>
    new Duplex({
      read() {
        const done = held[peer];
        held[peer] = null;
        done?.();
      },
      write(chunk, _encoding, done) {
        const other = ends[peer];
        if (other.destroyed || other.readableEnded) return done();
        if (other.push(chunk)) done();
        else held[me] = done;
      },
      final(done) {
        if (!ends[peer].destroyed) ends[peer].push(null);
        done();
      },
      destroy(error, done) {
        const other = ends[peer];
        held[me]?.();
        held[me] = null;
        if (!other.destroyed) {
          other.push(null);
          other.destroy();
        }
        done(error);
      },
    });
  ends.push(make(0, 1), make(1, 0));
  return ends;
}

/** Two `{ readable, writable }` byte-stream pairs joined in memory: a
 * write resolves when the other side's reader took it. */
function streamPairs() {
  const a = new TransformStream();
  const b = new TransformStream();
  return [
    { readable: a.readable, writable: b.writable },
    { readable: b.readable, writable: a.writable },
  ];
}

/**
 * The transports the backpressure tests run over: each `connect(opts)`
 * gives a client WebSocketStream joined to a server WebSocketStream,
 * as { client, server, cleanup }.
 */
const carriers = [
  {
    name: "a Node socket (TCP)",
    async connect(options = {}) {
      const s = await streamServer();
      const client = new WebSocketStream(s.url(), options);
      const { conn: server } = await s.next();
      return { client, server, cleanup: () => s.close() };
    },
  },
  {
    name: "a Node Duplex (in-memory, with backpressure)",
    async connect(options = {}) {
      const [mine, theirs] = pipePair();
      const s = new WebSocketServer({ stream: true });
      const accepted = s.accept(theirs);
      const client = new WebSocketStream("ws://in-memory/", {
        ...options,
        transport: mine,
      });
      const server = await within(accepted, 10_000, "accept");
      return { client, server, cleanup: () => s.close() };
    },
  },
  {
    name: "a WHATWG stream pair (runtime-neutral server)",
    async connect(options = {}) {
      const [mine, theirs] = streamPairs();
      const s = new NeutralServer({ stream: true });
      const accepted = s.accept(theirs);
      const client = new WebSocketStream("ws://in-memory/", {
        ...options,
        transport: mine,
      });
      const server = await within(accepted, 10_000, "accept");
      return { client, server, cleanup: () => s.close() };
    },
  },
];

/** Writes `total` bytes as `size`-byte binary messages, each awaited (so
 * one is in flight at a time); `progress.accepted` counts what the
 * transport took. */
function sendAll(writer, total, size, progress) {
  const chunk = new Uint8Array(size).fill(0x61);
  return (async () => {
    for (let sent = 0; sent < total; sent += size) {
      progress.last = writer.write(chunk);
      await progress.last;
      progress.accepted += size;
    }
  })();
}

/** Reads binary messages until `total` bytes came; returns the count. */
async function readAll(reader, total) {
  let bytes = 0;
  let count = 0;
  while (bytes < total) {
    const { value, done } = await reader.read();
    assert.equal(done, false, `the stream ended after ${bytes} bytes`);
    assert.ok(value instanceof Uint8Array);
    assert.equal(value[0], 0x61);
    bytes += value.byteLength;
    count++;
  }
  assert.equal(bytes, total);
  return count;
}

// ----- the API ---------------------------------------------------------------

describe("shapes", () => {
  test("opened gives the streams, protocol and extensions", T, async () => {
    const s = await streamServer({
      handleProtocols: (offered) => offered.at(-1),
    });
    try {
      const wss = new WebSocketStream(s.url("/path?q=1"), {
        protocols: ["a", "b"],
      });
      assert.equal(wss.url, `${s.url("/path?q=1")}`);
      assert.equal(
        Object.prototype.toString.call(wss),
        "[object WebSocketStream]",
      );
      const info = await wss.opened;
      assert.deepEqual(Object.keys(info).sort(), [
        "extensions",
        "protocol",
        "readable",
        "writable",
      ]);
      assert.ok(info.readable instanceof ReadableStream);
      assert.ok(info.writable instanceof WritableStream);
      assert.equal(info.protocol, "b");
      assert.equal(typeof info.extensions, "string");
      // The server side's stream is open at once, with the same protocol.
      const { conn, request } = await s.next();
      assert.ok(conn instanceof WebSocketStream);
      assert.equal((await conn.opened).protocol, "b");
      assert.equal(
        conn.url,
        `ws://127.0.0.1:${s.server.address().port}/path?q=1`,
      );
      assert.equal(request.path, "/path");
      assert.ok(s.server.clients.has(conn));
      wss.close();
      assert.deepEqual(await wss.closed, { closeCode: 1005, reason: "" });
      await conn.closed;
      assert.equal(s.server.clients.has(conn), false);
    } finally {
      await s.close();
    }
  });

  test("the constructor's TypeErrors and SyntaxErrors", () => {
    const name = (fn) => {
      try {
        fn();
      } catch (e) {
        return e.name;
      }
      return "none";
    };
    assert.equal(
      name(() => new WebSocketStream()),
      "TypeError",
    );
    assert.equal(
      name(() => new WebSocketStream("ws://h/", true)),
      "TypeError",
    );
    assert.equal(
      name(() => new WebSocketStream("ws://h/", 5)),
      "TypeError",
    );
    assert.equal(
      name(() => new WebSocketStream("ws://h/", { protocols: "x" })),
      "TypeError",
    );
    assert.equal(
      name(() => new WebSocketStream("ws://h/", { signal: {} })),
      "TypeError",
    );
    assert.equal(
      name(() => new WebSocketStream("invalid:")),
      "SyntaxError",
    );
    assert.equal(
      name(() => new WebSocketStream("ftp://h/")),
      "SyntaxError",
    );
    assert.equal(
      name(() => new WebSocketStream("ws://h/#f")),
      "SyntaxError",
    );
    assert.equal(
      name(() => new WebSocketStream("ws://h/", { protocols: ["a", "a"] })),
      "SyntaxError",
    );
    assert.equal(
      name(() => new WebSocketStream("ws://h/", { protocols: ["a b"] })),
      "SyntaxError",
    );
    assert.equal(
      name(() => new WebSocketStream("ws://h/", { highWaterMark: -1 })),
      "RangeError",
    );
  });

  test("WebSocketError: defaults, validation, kind", () => {
    const e = new WebSocketError();
    assert.ok(e instanceof DOMException);
    assert.equal(e.name, "WebSocketError");
    assert.equal(e.code, 0);
    assert.equal(e.message, "");
    assert.equal(e.closeCode, null);
    assert.equal(e.reason, "");
    assert.equal(new WebSocketError("m", { reason: "r" }).closeCode, 1000);
    assert.equal(new WebSocketError("m", { closeCode: 4999 }).closeCode, 4999);
    assert.equal(new WebSocketError("m", null).closeCode, null);
    for (const closeCode of [0, 999, 1001, 1005, 2999, 5000]) {
      assert.throws(
        () => new WebSocketError("", { closeCode }),
        (x) => x.name === "InvalidAccessError",
        `closeCode ${closeCode}`,
      );
    }
    // [EnforceRange] unsigned short: out of range or not finite is a TypeError.
    for (const closeCode of [70000, -1, NaN, Infinity]) {
      assert.throws(
        () => new WebSocketError("", { closeCode }),
        TypeError,
        `closeCode ${closeCode}`,
      );
    }
    assert.throws(() => new WebSocketError("", 3), TypeError);
    // 123 bytes of UTF-8 is the limit, whatever the length in characters.
    assert.equal(
      new WebSocketError("", { reason: "é".repeat(61) }).reason.length,
      61,
    );
    assert.throws(
      () => new WebSocketError("", { reason: "é".repeat(62) }),
      (x) => x.name === "SyntaxError",
    );
  });

  test(
    "close(): validation, and failing a connection still opening",
    T,
    async () => {
      // A server that accepts TCP and never answers the handshake.
      const silent = net.createServer(() => {});
      await new Promise((resolve) => silent.listen(0, "127.0.0.1", resolve));
      const sockets = [];
      silent.on("connection", (s) => sockets.push(s));
      try {
        const wss = new WebSocketStream(
          `ws://127.0.0.1:${silent.address().port}/`,
        );
        assert.throws(() => wss.close(true), TypeError);
        assert.throws(
          () => wss.close({ closeCode: 1001 }),
          (e) => e.name === "InvalidAccessError",
        );
        assert.throws(() => wss.close({ closeCode: 65536 }), TypeError);
        assert.throws(
          () => wss.close({ reason: "x".repeat(124) }),
          (e) => e.name === "SyntaxError",
        );
        wss.close({ closeCode: 4000 });
        const [opened, closed] = await Promise.allSettled([
          wss.opened,
          wss.closed,
        ]);
        assert.equal(opened.status, "rejected");
        assert.ok(opened.reason instanceof WebSocketError);
        assert.equal(closed.status, "rejected");
        assert.ok(closed.reason instanceof WebSocketError);
        assert.equal(closed.reason.closeCode, 1006);
      } finally {
        for (const s of sockets) s.destroy();
        silent.close();
      }
    },
  );

  test(
    "a refused connection rejects opened and closed with WebSocketErrors",
    T,
    async () => {
      const probe = net.createServer();
      await new Promise((resolve) => probe.listen(0, "127.0.0.1", resolve));
      const { port } = probe.address();
      await new Promise((resolve) => probe.close(resolve));
      const wss = new WebSocketStream(`ws://127.0.0.1:${port}/`);
      const [opened, closed] = await Promise.allSettled([
        wss.opened,
        wss.closed,
      ]);
      assert.ok(opened.reason instanceof WebSocketError);
      assert.match(opened.reason.message, /ECONNREFUSED/);
      assert.equal(closed.reason.closeCode, 1006);
    },
  );
});

describe("abort signal", () => {
  test("aborted before: AbortError, and nothing is dialled", T, async () => {
    let connections = 0;
    const server = net.createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const wss = new WebSocketStream(
        `ws://127.0.0.1:${server.address().port}/`,
        {
          signal: AbortSignal.abort(),
        },
      );
      await assert.rejects(wss.opened, (e) => e.name === "AbortError");
      await assert.rejects(wss.closed, (e) => e.name === "AbortError");
      // A reason of the application's own is what they reject with.
      const reason = new Error("mine");
      const other = new WebSocketStream("ws://127.0.0.1:1/", {
        signal: AbortSignal.abort(reason),
      });
      await assert.rejects(other.opened, (e) => e === reason);
      await delay(100);
      assert.equal(connections, 0);
    } finally {
      server.close();
    }
  });

  test(
    "aborted during the handshake: AbortError, the socket closed",
    T,
    async () => {
      let connected = false;
      let closedByClient = null;
      const server = net.createServer((s) => {
        connected = true;
        closedByClient = new Promise((resolve) => s.on("close", resolve));
        s.on("error", () => {});
        // Read (and drop) the request, or its end is never seen.
        s.resume();
      });
      await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
      try {
        const controller = new AbortController();
        const wss = new WebSocketStream(
          `ws://127.0.0.1:${server.address().port}/`,
          {
            signal: controller.signal,
          },
        );
        await waitFor(() => connected);
        controller.abort();
        await assert.rejects(wss.opened, (e) => e.name === "AbortError");
        await assert.rejects(wss.closed, (e) => e.name === "AbortError");
        await within(closedByClient, 5000, "the client to close its socket");
      } finally {
        server.close();
      }
    },
  );

  test("aborted once open: nothing happens", T, async () => {
    const s = await streamServer({ stream: false });
    try {
      const controller = new AbortController();
      const wss = new WebSocketStream(s.url(), { signal: controller.signal });
      const { readable, writable } = await wss.opened;
      const { conn } = await s.next();
      conn.binaryType = "arraybuffer";
      conn.onmessage = (e) => conn.send(e.data);
      controller.abort();
      await writable.getWriter().write("still here");
      assert.deepEqual(await readable.getReader().read(), {
        value: "still here",
        done: false,
      });
    } finally {
      await s.close();
    }
  });
});

describe("messages", () => {
  test(
    "text is a string, binary a Uint8Array, one write one message (ws peer)",
    T,
    async (t) => {
      const peer = await startServer();
      t.after(() => peer.close());
      const wss = new WebSocketStream(peer.url());
      const { readable, writable } = await wss.opened;
      const writer = writable.getWriter();
      const reader = readable.getReader();
      const bytes = new Uint8Array([0, 1, 2, 255]);
      const sent = [
        "héllo",
        bytes,
        bytes.buffer,
        new DataView(bytes.buffer, 1, 2),
        new Uint16Array([0x0102]),
        "",
        new Uint8Array(0),
        { toString: () => "stringified" },
        "\uD800x",
      ];
      for (const chunk of sent) await writer.write(chunk);
      const conn = await peer.connection();
      const got = await conn.messagesUntil(sent.length);
      assert.deepEqual(
        got.map((m) => m.isBinary),
        [false, true, true, true, true, false, true, false, false],
      );
      assert.equal(got[0].data.toString(), "héllo");
      assert.deepEqual([...got[3].data], [1, 2]);
      assert.equal(got[7].data.toString(), "stringified");
      // A lone surrogate is sent as U+FFFD (USVString).
      assert.equal(got[8].data.toString(), "\uFFFDx");
      // The echo: text as strings, binary as Uint8Arrays of this realm.
      const expected = ["héllo", 4, 4, 2, 2, "", 0, "stringified", "\uFFFDx"];
      for (const want of expected) {
        const { value } = await reader.read();
        if (typeof want === "string") assert.equal(value, want);
        else {
          assert.equal(value.constructor, Uint8Array);
          assert.equal(value.byteLength, want);
        }
      }
      wss.close();
      await wss.closed;
    },
  );

  test(
    "shared, resizable and unstringifiable chunks reject with TypeError",
    T,
    async () => {
      const s = await streamServer();
      try {
        for (const bad of [
          new Uint8Array(new SharedArrayBuffer(4)),
          new ArrayBuffer(4, { maxByteLength: 8 }),
          {
            toString() {
              return this;
            },
          },
        ]) {
          const wss = new WebSocketStream(s.url());
          const { writable } = await wss.opened;
          await assert.rejects(writable.getWriter().write(bad), TypeError);
          await s.next();
          wss.close();
        }
      } finally {
        await s.close();
      }
    },
  );

  test("the non-standard options work as WebSocket's do", T, async () => {
    const s = await streamServer();
    try {
      const trace = [];
      const [mine, theirs] = pipePair();
      const accepted = s.server.accept(theirs);
      const wss = new WebSocketStream("ws://example.test/over-a-duplex", {
        transport: mine,
        headers: { "x-token": "t1" },
        origin: "https://app.example",
        maxMessageSize: 8,
        trace: (r) => trace.push(r.kind),
      });
      const { readable } = await wss.opened;
      const server = await accepted;
      assert.equal(server.url, "ws://example.test/over-a-duplex");
      const w = (await server.opened).writable.getWriter();
      // The client's close (1009) cuts this write short: it rejects.
      const write = w.write("0123456789");
      // Over maxMessageSize: the client closes with 1009.
      await assert.rejects(readable.getReader().read(), WebSocketError);
      const err = await wss.closed.catch((e) => e);
      assert.ok(err instanceof WebSocketError);
      assert.equal(err.closeCode, 1006);
      assert.equal((await server.closed).closeCode, 1009);
      await assert.rejects(write, (e) => e.name === "InvalidStateError");
      assert.ok(trace.includes("head") && trace.includes("frame"));
    } finally {
      await s.close();
    }
  });
});

describe("closing", () => {
  test(
    "a clean close: closed resolves, readable ends, writable errors",
    T,
    async () => {
      const s = await streamServer();
      try {
        const wss = new WebSocketStream(s.url());
        const { readable, writable } = await wss.opened;
        const { conn } = await s.next();
        conn.close({ closeCode: 4001, reason: "bye" });
        assert.deepEqual(await wss.closed, { closeCode: 4001, reason: "bye" });
        assert.deepEqual(await readable.getReader().read(), {
          value: undefined,
          done: true,
        });
        await assert.rejects(
          writable.getWriter().write("late"),
          (e) => e.name === "InvalidStateError",
        );
        assert.deepEqual(await conn.closed, { closeCode: 4001, reason: "" });
      } finally {
        await s.close();
      }
    },
  );

  test("an abrupt close: one WebSocketError everywhere", T, async () => {
    const s = await streamServer({ stream: false });
    try {
      const wss = new WebSocketStream(s.url());
      const { readable, writable } = await wss.opened;
      const { conn } = await s.next();
      control(conn).abort();
      const error = await wss.closed.catch((e) => e);
      assert.ok(error instanceof WebSocketError);
      assert.equal(error.closeCode, 1006);
      await assert.rejects(readable.getReader().read(), (e) => e === error);
      await assert.rejects(writable.getWriter().ready, (e) => e === error);
    } finally {
      await s.close();
    }
  });

  test(
    "writer.close() settles once the closing handshake is done",
    T,
    async () => {
      const s = await streamServer();
      try {
        const wss = new WebSocketStream(s.url());
        const { writable } = await wss.opened;
        const { conn } = await s.next();
        await writable.getWriter().close();
        assert.deepEqual(await wss.closed, { closeCode: 1005, reason: "" });
        await conn.closed;
      } finally {
        await s.close();
      }
    },
  );

  test(
    "abort and cancel with a WebSocketError send its code and reason",
    T,
    async () => {
      const s = await streamServer();
      try {
        for (const side of ["writable", "readable"]) {
          const wss = new WebSocketStream(s.url());
          const info = await wss.opened;
          const { conn } = await s.next();
          const error = new WebSocketError("", {
            closeCode: 4321,
            reason: side,
          });
          if (side === "writable") info.writable.abort(error);
          else info.readable.cancel(error);
          assert.deepEqual(await conn.closed, {
            closeCode: 4321,
            reason: side,
          });
          await wss.closed;
        }
      } finally {
        await s.close();
      }
    },
  );

  test(
    "close() while the readable is full and unread still completes",
    T,
    async () => {
      const s = await streamServer();
      try {
        const wss = new WebSocketStream(s.url());
        await wss.opened;
        const { conn } = await s.next();
        const w = (await conn.opened).writable.getWriter();
        const progress = { accepted: 0 };
        const sending = sendAll(w, 64 * MiB, MiB, progress);
        sending.catch(() => {});
        await stalled(() => progress.accepted);
        assert.ok(progress.accepted < 64 * MiB, "the sender stalled");
        // The peer's close waits behind unread data: reading resumes to find it.
        wss.close({ closeCode: 4002 });
        assert.equal((await wss.closed).closeCode, 4002);
        await assert.rejects(sending);
      } finally {
        await s.close();
      }
    },
  );

  test("server.close() closes its streams with 1001", T, async () => {
    const s = await streamServer();
    const wss = new WebSocketStream(s.url());
    await wss.opened;
    const { conn } = await s.next();
    await s.close();
    assert.equal((await wss.closed).closeCode, 1001);
    assert.equal((await conn.closed).closeCode, 1001);
    assert.equal(s.server.clients.size, 0);
  });
});

describe("write() settles when the transport took the bytes", () => {
  test(
    "a transport that holds its write callbacks holds write()",
    T,
    async () => {
      const [mine, theirs] = streamPairs();
      const inner = streamTransport(mine);
      const held = [];
      let holding = false;
      // The transport contract, with done() held back while `holding`.
      const transport = {
        start: (sink) => inner.start(sink),
        write: (bytes, done) =>
          inner.write(bytes, () => (holding ? held.push(done) : done())),
        end: () => inner.end(),
        destroy: () => inner.destroy(),
        pause: () => inner.pause(),
        resume: () => inner.resume(),
      };
      const server = new NeutralServer({ stream: true });
      const accepted = server.accept(theirs);
      const wss = new WebSocketStream("ws://held/", { transport });
      const { writable } = await wss.opened;
      const peer = await accepted;
      const reader = (await peer.opened).readable.getReader();
      const writer = writable.getWriter();
      holding = true;
      const write = writer.write("one");
      // The peer has it, yet the transport has not called back: pending.
      assert.deepEqual(await reader.read(), { value: "one", done: false });
      assert.equal(await state(write), "pending");
      assert.equal(writer.desiredSize, 0);
      holding = false;
      for (const done of held.splice(0)) done();
      await write;
      assert.equal(writer.desiredSize, 1);
      wss.close();
      await wss.closed;
      await server.close();
    },
  );
});

// ----- backpressure ----------------------------------------------------------

for (const carrier of carriers) {
  describe(`backpressure over ${carrier.name}`, () => {
    test(
      "256 MiB offered to a reader that does not read: the sender stalls, memory stays bounded",
      BIG,
      async (t) => {
        const TOTAL = 256 * MiB;
        const { client, server, cleanup } = await carrier.connect();
        try {
          const { readable } = await client.opened;
          const writer = (await server.opened).writable.getWriter();
          const before = memory();
          const progress = { accepted: 0, last: null };
          const sending = sendAll(writer, TOTAL, MiB, progress);
          const taken = await stalled(() => progress.accepted);
          const during = memory();
          // The server's write of the next message waits for the transport.
          assert.equal(await state(progress.last), "pending");
          assert.ok(
            taken < 64 * MiB,
            `the sender stalled, after ${mib(taken)}`,
          );
          const rss = during.rss - before.rss;
          const wasm = during.wasm - before.wasm;
          t.diagnostic(
            `sender stalled after ${mib(taken)} of ${mib(TOTAL)}; RSS +${mib(rss)}, wasm memory +${mib(wasm)}`,
          );
          assert.ok(rss < 64 * MiB, `RSS grew by ${mib(rss)}`);
          assert.ok(wasm < 16 * MiB, `wasm memory grew by ${mib(wasm)}`);
          // Reading lets it all through, in order and whole.
          const count = await readAll(readable.getReader(), TOTAL);
          await sending;
          assert.equal(count, TOTAL / MiB);
          client.close();
          await client.closed;
        } finally {
          await cleanup();
        }
      },
    );

    test(
      "256 MiB written to a peer that does not read: write() stays pending, memory stays bounded",
      BIG,
      async (t) => {
        const TOTAL = 256 * MiB;
        const { client, server, cleanup } = await carrier.connect();
        try {
          const { writable } = await client.opened;
          const writer = writable.getWriter();
          const { readable } = await server.opened;
          const before = memory();
          const progress = { accepted: 0, last: null };
          const sending = sendAll(writer, TOTAL, MiB, progress);
          const taken = await stalled(() => progress.accepted);
          const during = memory();
          assert.equal(await state(progress.last), "pending");
          assert.equal(writer.desiredSize, 0);
          assert.ok(
            taken < 64 * MiB,
            `the writer stalled, after ${mib(taken)}`,
          );
          const rss = during.rss - before.rss;
          const wasm = during.wasm - before.wasm;
          t.diagnostic(
            `writes stalled after ${mib(taken)} of ${mib(TOTAL)}; RSS +${mib(rss)}, wasm memory +${mib(wasm)}`,
          );
          assert.ok(rss < 64 * MiB, `RSS grew by ${mib(rss)}`);
          assert.ok(wasm < 16 * MiB, `wasm memory grew by ${mib(wasm)}`);
          const count = await readAll(readable.getReader(), TOTAL);
          await sending;
          assert.equal(count, TOTAL / MiB);
          client.close();
          await client.closed;
        } finally {
          await cleanup();
        }
      },
    );
  });
}

describe("highWaterMark", () => {
  test(
    "0 reads on demand; a larger one queues that many before pausing",
    T,
    async () => {
      for (const highWaterMark of [0, 8]) {
        const [mine, theirs] = streamPairs();
        const server = new NeutralServer({ stream: true });
        const accepted = server.accept(theirs);
        const wss = new WebSocketStream("ws://hwm/", {
          transport: mine,
          highWaterMark,
        });
        const { readable } = await wss.opened;
        const peer = await accepted;
        const w = (await peer.opened).writable.getWriter();
        let sent = 0;
        const sending = (async () => {
          for (; sent < 64; sent++) await w.write(`m${sent}`);
        })();
        sending.catch(() => {});
        const stuck = await stalled(() => sent, { quiet: 200 });
        // At most the queue, one message the session already read, and one
        // in each of the joined streams' queues is taken.
        assert.ok(
          stuck <= highWaterMark + 4,
          `${stuck} taken for ${highWaterMark}`,
        );
        assert.ok(
          stuck >= highWaterMark,
          `${stuck} taken for ${highWaterMark}`,
        );
        const reader = readable.getReader();
        for (let i = 0; i < 64; i++)
          assert.equal((await reader.read()).value, `m${i}`);
        await sending;
        wss.close();
        await wss.closed;
        await server.close();
      }
    },
  );
});

test("a server without `stream` still hands out WebSockets", T, async () => {
  const s = await streamServer({ stream: false });
  try {
    const wss = new WebSocketStream(s.url());
    await wss.opened;
    const { conn } = await s.next();
    assert.ok(conn instanceof WebSocket);
    wss.close();
    await wss.closed;
  } finally {
    await s.close();
  }
});
