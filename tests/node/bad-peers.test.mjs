// The client WebSocket against misbehaving servers. Every server here is a raw
// node:net server on 127.0.0.1 that reads the client's opening request itself
// and then writes exactly the bytes each case needs. Each test checks the
// events the application sees (type, fields, readyState at the time), the
// close code and wasClean, and what the server received on the wire (the
// client's frames, unmasked and parsed, and when the client ended TCP).

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import net from "node:net";
import { test } from "node:test";

import { WebSocket } from "wasmsocket";
import { frame, within } from "./helpers.mjs";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const TEST_TIMEOUT = 10_000;
const now = () => performance.now();
const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Sec-WebSocket-Accept for a Sec-WebSocket-Key. */
const acceptFor = (key) =>
  createHash("sha1")
    .update(key + GUID)
    .digest("base64");

const text = (s) => frame(0x1, Buffer.from(s, "utf8"));
const closeFrame = (code, reason = "") => {
  const p = Buffer.alloc(2 + Buffer.byteLength(reason));
  p.writeUInt16BE(code, 0);
  p.write(reason, 2, "utf8");
  return frame(0x8, p);
};

/** A 101 answer; pass `null` to leave a field out, `extra` for more lines. */
function answer(
  key,
  {
    status = "101 Switching Protocols",
    upgrade = "websocket",
    connection = "Upgrade",
    accept = acceptFor(key),
    extra = [],
  } = {},
) {
  const lines = [`HTTP/1.1 ${status}`];
  if (upgrade !== null) lines.push(`Upgrade: ${upgrade}`);
  if (connection !== null) lines.push(`Connection: ${connection}`);
  if (accept !== null) lines.push(`Sec-WebSocket-Accept: ${accept}`);
  lines.push(...extra);
  return Buffer.from(lines.join("\r\n") + "\r\n\r\n", "latin1");
}

/**
 * The server's end of one TCP connection: parses the client's request head,
 * then every frame the client sends (checking it is masked), and notes when
 * the client ends or the socket closes.
 */
class Peer {
  /** @type {net.Socket} */
  socket;
  /** { method, path, version, headers: Map(lowercase name → value), key } */
  request = null;
  /** Client frames in order: { fin, rsv, opcode, masked, payload, code?, reason?, at }. */
  frames = [];
  /** Bytes after the head that do not (yet) make a whole frame. */
  pending = Buffer.alloc(0);
  /** performance.now() when the client's FIN arrived / the socket closed. */
  endedAt = null;
  closedAt = null;
  socketError = null;
  #head = Buffer.alloc(0);
  #cursor = 0;
  #waiters = new Set();

  constructor(socket) {
    this.socket = socket;
    socket.on("data", (chunk) => this.#data(chunk));
    socket.on("end", () => {
      this.endedAt = now();
      this.#wake();
    });
    socket.on("close", () => {
      this.closedAt = now();
      this.#wake();
    });
    socket.on("error", (e) => {
      this.socketError = e;
    });
  }

  #wake() {
    for (const w of [...this.#waiters]) w();
  }

  #data(chunk) {
    if (!this.request) {
      this.#head = Buffer.concat([this.#head, chunk]);
      const end = this.#head.indexOf("\r\n\r\n");
      if (end < 0) return;
      const [line, ...fields] = this.#head
        .subarray(0, end)
        .toString("latin1")
        .split("\r\n");
      const [method, path, version] = line.split(" ");
      const headers = new Map();
      for (const f of fields) {
        const colon = f.indexOf(":");
        headers.set(
          f.slice(0, colon).trim().toLowerCase(),
          f.slice(colon + 1).trim(),
        );
      }
      this.request = {
        method,
        path,
        version,
        headers,
        key: headers.get("sec-websocket-key"),
      };
      chunk = this.#head.subarray(end + 4);
    }
    this.pending = Buffer.concat([this.pending, chunk]);
    this.#parseFrames();
    this.#wake();
  }

  #parseFrames() {
    for (;;) {
      const b = this.pending;
      if (b.length < 2) return;
      const masked = (b[1] & 0x80) !== 0;
      let len = b[1] & 0x7f;
      let at = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = Number(b.readBigUInt64BE(2));
        at = 10;
      }
      const maskAt = at;
      if (masked) at += 4;
      if (b.length < at + len) return;
      const payload = Buffer.from(b.subarray(at, at + len));
      if (masked)
        for (let i = 0; i < len; i++) payload[i] ^= b[maskAt + (i % 4)];
      const f = {
        fin: (b[0] & 0x80) !== 0,
        rsv: (b[0] >> 4) & 7,
        opcode: b[0] & 0x0f,
        masked,
        payload,
        at: now(),
      };
      if (f.opcode === 0x8 && len >= 2) {
        f.code = payload.readUInt16BE(0);
        f.reason = payload.subarray(2).toString("utf8");
      }
      this.frames.push(f);
      this.pending = b.subarray(at + len);
    }
  }

  #until(predicate, ms, what) {
    return new Promise((resolve, reject) => {
      let timer;
      const check = () => {
        const value = predicate();
        if (value === undefined || value === false) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve(value);
      };
      timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(
          new Error(`server: timed out after ${ms} ms waiting for ${what}`),
        );
      }, ms);
      this.#waiters.add(check);
      check();
    });
  }

  /** The client's opening request, once its head is complete. */
  requestHead(ms = 2000) {
    return this.#until(
      () => this.request ?? undefined,
      ms,
      "the opening request",
    );
  }

  /** The next client frame not yet taken. */
  nextFrame(ms = 2000) {
    return this.#until(
      () =>
        this.frames.length > this.#cursor
          ? this.frames[this.#cursor++]
          : undefined,
      ms,
      `client frame #${this.#cursor}`,
    );
  }

  /** Resolves once the client ended its side of TCP (or the socket closed). */
  clientEnded(ms = 2000) {
    return this.#until(
      () => (this.endedAt ?? this.closedAt ?? undefined) && true,
      ms,
      "the client to end TCP",
    );
  }

  /** Resolves once the socket is fully closed. */
  socketClosed(ms = 2000) {
    return this.#until(() => this.closedAt !== null, ms, "the socket to close");
  }

  write(bytes) {
    return new Promise((resolve, reject) =>
      this.socket.write(bytes, (e) => (e ? reject(e) : resolve())),
    );
  }
}

/**
 * A raw TCP server on 127.0.0.1, port 0, cleaned up after the test.
 * `accept()` resolves with the next connection's Peer.
 */
async function rawServer(t, { allowHalfOpen = false } = {}) {
  const peers = [];
  const waiting = [];
  const server = net.createServer({ allowHalfOpen }, (socket) => {
    const peer = new Peer(socket);
    peers.push(peer);
    waiting.shift()?.(peer);
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address();
  let taken = 0;
  t.after(
    () =>
      new Promise((resolve) => {
        for (const p of peers) p.socket.destroy();
        server.close(() => resolve());
      }),
  );
  return {
    port,
    peers,
    url: `ws://127.0.0.1:${port}/chat?room=1`,
    accept(ms = 2000) {
      const i = taken++;
      if (peers.length > i) return Promise.resolve(peers[i]);
      return within(
        new Promise((resolve) => waiting.push(resolve)),
        ms,
        `server: connection #${i}`,
      );
    },
  };
}

/** Opens a client, recording every event as plain data. */
function client(t, url, protocols = [], options = {}) {
  const ws = new WebSocket(url, protocols, options);
  ws.binaryType = "arraybuffer";
  const events = [];
  let onClose;
  const closed = new Promise((resolve) => (onClose = resolve));
  const waiters = new Set();
  for (const type of ["open", "message", "error", "close"]) {
    ws.addEventListener(type, (e) => {
      const entry = { type, readyState: ws.readyState, at: now() };
      if (type === "message") {
        entry.data = typeof e.data === "string" ? e.data : Buffer.from(e.data);
        entry.origin = e.origin;
      } else if (type === "error") {
        entry.message = e.message;
        entry.error = e.error;
      } else if (type === "close") {
        Object.assign(entry, {
          code: e.code,
          reason: e.reason,
          wasClean: e.wasClean,
        });
        onClose(entry);
      }
      events.push(entry);
      for (const w of [...waiters]) w();
    });
  }
  t.after(() => {
    if (ws.readyState !== WebSocket.CLOSED) ws.close();
  });
  return {
    ws,
    events,
    /** Resolves with the close entry; fails after `ms`. */
    closed: (ms = 3000) =>
      within(
        closed,
        ms,
        `client close event (events so far: ${types(events)})`,
      ),
    /** Resolves once `n` events were fired. */
    count: (n, ms = 2000) =>
      within(
        new Promise((resolve) => {
          const check = () => {
            if (events.length >= n) {
              waiters.delete(check);
              resolve();
            }
          };
          waiters.add(check);
          check();
        }),
        ms,
        `${n} client events (got: ${types(events)})`,
      ),
  };
}

const types = (events) => events.map((e) => e.type).join(", ") || "none";

/**
 * Compares recorded events with `expected`: same types in the same order;
 * every field given in an expected entry must match (a RegExp is matched
 * against the string). `at` and `error` are ignored unless given.
 */
function assertEvents(events, expected) {
  assert.deepEqual(
    events.map((e) => e.type),
    expected.map((e) => e.type),
    `event types: got ${types(events)}`,
  );
  events.forEach((got, i) => {
    const want = expected[i];
    const keys = new Set([...Object.keys(got), ...Object.keys(want)]);
    keys.delete("at");
    if (!("error" in want)) keys.delete("error");
    for (const k of keys) {
      if (want[k] instanceof RegExp) {
        assert.match(got[k], want[k], `event #${i} (${got.type}).${k}`);
      } else {
        assert.deepEqual(got[k], want[k], `event #${i} (${got.type}).${k}`);
      }
    }
  });
}

const ORIGIN = (port) => `ws://127.0.0.1:${port}`;
const failed = (message) => [
  { type: "error", readyState: WebSocket.CLOSED, message },
  {
    type: "close",
    readyState: WebSocket.CLOSED,
    code: 1006,
    reason: "",
    wasClean: false,
  },
];

/** After a failed handshake: the client sent the request head and nothing
 * else, and closed its end of TCP. */
async function assertNothingSentAfterHead(peer) {
  await peer.clientEnded();
  assert.equal(peer.frames.length, 0, "no frames after a failed handshake");
  assert.equal(peer.pending.length, 0, "no bytes after the request head");
}

/** The client's close frame: masked, FIN, the given code, a short UTF-8 reason. */
function assertCloseFrame(f, code) {
  assert.equal(f.opcode, 0x8, `expected a close frame, got opcode ${f.opcode}`);
  assert.equal(f.masked, true, "client frames are masked");
  assert.equal(f.fin, true);
  assert.equal(f.code, code, `close code: got ${f.code} (${f.reason})`);
  assert.ok(Buffer.byteLength(f.reason) <= 123);
}

/** The client's socket is really closed (not only half-closed): writing to
 * it soon fails or closes the server's socket. */
async function assertClientGone(peer, ms = 1000) {
  const start = now();
  while (peer.closedAt === null && peer.socketError === null) {
    if (now() - start > ms)
      assert.fail("the client still holds the TCP connection open");
    peer.socket.write(frame(0x9, Buffer.from("anyone?")), () => {});
    await delay(20);
  }
}

/** Handshake as a correct server; `extra` adds answer lines. */
async function handshake(server, extra = []) {
  const peer = await server.accept();
  const req = await peer.requestHead();
  assert.equal(req.method, "GET");
  assert.equal(req.path, "/chat?room=1");
  assert.equal(req.headers.get("upgrade")?.toLowerCase(), "websocket");
  assert.equal(req.headers.get("sec-websocket-version"), "13");
  assert.equal(Buffer.from(req.key, "base64").length, 16);
  await peer.write(answer(req.key, { extra }));
  return peer;
}

// ---------------------------------------------------------------------------
// 1–3. Bad opening-handshake answers.

test(
  "1. wrong Sec-WebSocket-Accept: no open, error then close 1006",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const server = await rawServer(t);
    const c = client(t, server.url);
    const peer = await server.accept();
    const req = await peer.requestHead();
    await peer.write(
      answer(req.key, { accept: acceptFor("dGhlIHNhbXBsZSBub25jZQ==") }),
    );
    const close = await c.closed();
    assertEvents(c.events, failed(/Sec-WebSocket-Accept/));
    assert.equal(close.code, 1006);
    assert.equal(c.ws.protocol, "");
    await assertNothingSentAfterHead(peer);
  },
);

test(
  "1b. wrong Sec-WebSocket-Accept from a server that keeps the connection open: close within 1 s",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    // The server believes the upgrade worked and waits for frames; it does not
    // close its side when the client ends. A browser fails the connection and
    // closes its socket at once; it does not wait for the server.
    const server = await rawServer(t, { allowHalfOpen: true });
    const c = client(t, server.url);
    const peer = await server.accept();
    const req = await peer.requestHead();
    const answeredAt = now();
    await peer.write(
      answer(req.key, { accept: "AAAAAAAAAAAAAAAAAAAAAAAAAAA=" }),
    );
    const close = await c.closed(8000);
    assertEvents(c.events, failed(/Sec-WebSocket-Accept/));
    const after = close.at - answeredAt;
    assert.ok(
      after < 1000,
      `close event ${after.toFixed(0)} ms after the bad answer`,
    );
    await assertNothingSentAfterHead(peer);
    await assertClientGone(peer);
  },
);

for (const [name, build, message] of [
  [
    "missing Upgrade header",
    (key) => answer(key, { upgrade: null }),
    /Upgrade/,
  ],
  [
    "missing Connection header",
    (key) => answer(key, { connection: null }),
    /Connection/,
  ],
  [
    "status 200 instead of 101",
    (key) =>
      Buffer.from(
        "HTTP/1.1 200 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          `Sec-WebSocket-Accept: ${acceptFor(key)}\r\nContent-Length: 2\r\n\r\nok`,
      ),
    /200/,
  ],
  [
    "302 redirect (not followed)",
    () =>
      Buffer.from(
        "HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n",
      ),
    /302/,
  ],
]) {
  test(
    `2. ${name}: error then close 1006, no open`,
    { timeout: TEST_TIMEOUT },
    async (t) => {
      const server = await rawServer(t);
      const c = client(t, server.url);
      const peer = await server.accept();
      const req = await peer.requestHead();
      await peer.write(build(req.key));
      await c.closed();
      assertEvents(c.events, failed(message));
      await assertNothingSentAfterHead(peer);
      await delay(100);
      assert.equal(
        server.peers.length,
        1,
        "no second connection (no redirect followed, no retry)",
      );
    },
  );
}

test(
  "3. a subprotocol the client did not offer: error then close 1006",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const server = await rawServer(t);
    const c = client(t, server.url, ["chat", "superchat"]);
    const peer = await server.accept();
    const req = await peer.requestHead();
    assert.equal(req.headers.get("sec-websocket-protocol"), "chat, superchat");
    await peer.write(
      answer(req.key, { extra: ["Sec-WebSocket-Protocol: other"] }),
    );
    await c.closed();
    assertEvents(c.events, failed(/subprotocol.*other/));
    assert.equal(c.ws.protocol, "");
    await assertNothingSentAfterHead(peer);
  },
);

// ---------------------------------------------------------------------------
// 4–6. Protocol errors after the handshake: messages before the fault are
// delivered, the client sends a close frame with the right code and waits for
// the server to close TCP; the app then sees error + close 1006.

/** Server side of a failure: take the client's close frame, note the app's
 * readyState then, close TCP, and return the frame. */
async function expectCloseThenHangUp(peer, c, code, ms = 2000) {
  const f = await peer.nextFrame(ms);
  assertCloseFrame(f, code);
  // Failing, the client lets go as soon as its close frame is written
  // (§7.1.7): by the time it arrives here it may already be CLOSED.
  assert.ok(
    c.ws.readyState === WebSocket.CLOSING ||
      c.ws.readyState === WebSocket.CLOSED,
    "readyState once the close frame is on its way",
  );
  peer.socket.end();
  return f;
}

test(
  "4. masked frame from the server: earlier message delivered, close 1002, close 1006",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const server = await rawServer(t);
    const c = client(t, server.url);
    const peer = await handshake(server);
    await peer.write(text("before the fault"));
    await c.count(2);
    await peer.write(
      frame(0x1, Buffer.from("masked!"), { mask: [1, 2, 3, 4] }),
    );
    await expectCloseThenHangUp(peer, c, 1002);
    await c.closed();
    assertEvents(c.events, [
      { type: "open", readyState: WebSocket.OPEN },
      {
        type: "message",
        readyState: WebSocket.OPEN,
        data: "before the fault",
        origin: ORIGIN(server.port),
      },
      ...failed(/mask/),
    ]);
    assert.equal(peer.frames.length, 1, "only the close frame was sent");
  },
);

test(
  "4b. masked frame in the same TCP write as a valid message",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const server = await rawServer(t);
    const c = client(t, server.url);
    const peer = await handshake(server);
    await peer.write(
      Buffer.concat([
        text("first"),
        frame(0x2, Buffer.from([1, 2]), { mask: [9, 9, 9, 9] }),
      ]),
    );
    await expectCloseThenHangUp(peer, c, 1002);
    await c.closed();
    assertEvents(c.events, [
      { type: "open", readyState: WebSocket.OPEN },
      {
        type: "message",
        readyState: WebSocket.OPEN,
        data: "first",
        origin: ORIGIN(server.port),
      },
      ...failed(/mask/),
    ]);
  },
);

test(
  "4c. masked frame, then the server never answers: error and close follow at once (§7.1.7)",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const server = await rawServer(t, { allowHalfOpen: true });
    const c = client(t, server.url, [], { closeTimeout: 300 });
    const peer = await handshake(server);
    await peer.write(text("before the fault"));
    await c.count(2);
    const faultAt = now();
    await peer.write(
      frame(0x1, Buffer.from("masked!"), { mask: [1, 2, 3, 4] }),
    );
    const f = await peer.nextFrame();
    assertCloseFrame(f, 1002);
    // The server neither answers the close frame nor closes TCP.
    const close = await c.closed(3000);
    assertEvents(c.events, [
      { type: "open", readyState: WebSocket.OPEN },
      {
        type: "message",
        readyState: WebSocket.OPEN,
        data: "before the fault",
        origin: ORIGIN(server.port),
      },
      ...failed(/mask/),
    ]);
    // The close frame went out first (the peer read it whole, before any
    // end of the stream; the client's close event and the peer's read race
    // in this one process, so their times say nothing of the wire's order),
    // then the client let go without waiting closeTimeout for an answer
    // that never comes.
    const after = close.at - faultAt;
    assert.ok(
      after < 100,
      `close event ${after.toFixed(0)} ms after the fault`,
    );
    await assertClientGone(peer);
  },
);

test(
  "5. invalid UTF-8 after a valid text message: close 1007",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const server = await rawServer(t);
    const c = client(t, server.url);
    const peer = await handshake(server);
    await peer.write(
      Buffer.concat([
        text("héllo ✓"),
        frame(0x1, Buffer.from([0x68, 0xff, 0x69])),
      ]),
    );
    await expectCloseThenHangUp(peer, c, 1007);
    await c.closed();
    assertEvents(c.events, [
      { type: "open", readyState: WebSocket.OPEN },
      {
        type: "message",
        readyState: WebSocket.OPEN,
        data: "héllo ✓",
        origin: ORIGIN(server.port),
      },
      ...failed(/UTF-8/),
    ]);
    assert.equal(peer.frames.length, 1, "only the close frame was sent");
  },
);

test(
  "5b. invalid UTF-8 in an unfinished frame fails fast (close 1007 before the rest is sent)",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const server = await rawServer(t);
    const c = client(t, server.url);
    const peer = await handshake(server);
    await peer.write(text("valid"));
    // One 20-byte text frame; the first write carries its header and 5 bytes,
    // the fourth of which is 0xFF (never valid in UTF-8).
    const payload = Buffer.from("abc\xffdefghijklmnopqrs", "latin1");
    const bad = frame(0x1, payload);
    await peer.write(bad.subarray(0, 2 + 5));
    const sentFirstAt = now();
    const f = await peer.nextFrame(1000); // the rest is not sent until then
    assertCloseFrame(f, 1007);
    assert.ok(peer.frames.length === 1);
    await peer.write(bad.subarray(2 + 5)).catch(() => {});
    // The client does not wait for the server's close (§7.1.7).
    await c.closed(1000);
    assertEvents(c.events, [
      { type: "open", readyState: WebSocket.OPEN },
      {
        type: "message",
        readyState: WebSocket.OPEN,
        data: "valid",
        origin: ORIGIN(server.port),
      },
      ...failed(/UTF-8/),
    ]);
    assert.ok(f.at - sentFirstAt < 1000);
  },
);

test(
  "5c. invalid UTF-8 in the first fragment of an unfinished message fails fast",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const server = await rawServer(t);
    const c = client(t, server.url);
    const peer = await handshake(server);
    await peer.write(text("valid"));
    await peer.write(
      frame(0x1, Buffer.from([0x61, 0xc0, 0x80]), { fin: false }),
    ); // overlong NUL
    const f = await peer.nextFrame(1000);
    assertCloseFrame(f, 1007);
    await peer.write(frame(0x0, Buffer.from("end"))).catch(() => {});
    peer.socket.end();
    await c.closed();
    assertEvents(c.events, [
      { type: "open", readyState: WebSocket.OPEN },
      {
        type: "message",
        readyState: WebSocket.OPEN,
        data: "valid",
        origin: ORIGIN(server.port),
      },
      ...failed(/UTF-8/),
    ]);
  },
);

test(
  "6. oversized message (maxMessageSize 1024): close 1009 on the frame header alone",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const server = await rawServer(t);
    const c = client(t, server.url, [], { maxMessageSize: 1024 });
    const peer = await handshake(server);
    await peer.write(frame(0x2, Buffer.alloc(1024, 7)));
    // A binary frame header announcing 1 MiB, with no payload at all.
    await peer.write(frame(0x2, Buffer.alloc(0), { length: 1 << 20 }));
    const f = await peer.nextFrame(1000);
    assertCloseFrame(f, 1009);
    peer.socket.end();
    await c.closed();
    assertEvents(c.events, [
      { type: "open", readyState: WebSocket.OPEN },
      {
        type: "message",
        readyState: WebSocket.OPEN,
        data: Buffer.alloc(1024, 7),
        origin: ORIGIN(server.port),
      },
      ...failed(/1024/),
    ]);
    assert.equal(peer.frames.length, 1);
  },
);

// ---------------------------------------------------------------------------
// 7–8. The transport ends without a closing handshake.

test(
  "7. reset in the middle of a frame: earlier message delivered, error then close 1006",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const server = await rawServer(t);
    const c = client(t, server.url);
    const peer = await handshake(server);
    const half = frame(0x1, Buffer.from("this frame is never finished"));
    await peer.write(Buffer.concat([text("delivered"), half.subarray(0, 10)]));
    await c.count(2);
    await delay(50); // the half frame has been read by the client too
    peer.socket.resetAndDestroy();
    const close = await c.closed();
    assertEvents(c.events, [
      { type: "open", readyState: WebSocket.OPEN },
      {
        type: "message",
        readyState: WebSocket.OPEN,
        data: "delivered",
        origin: ORIGIN(server.port),
      },
      ...failed(/ECONNRESET/),
    ]);
    assert.equal(c.events[2].error?.code, "ECONNRESET");
    assert.equal(close.wasClean, false);
    assert.equal(peer.frames.length, 0, "the client wrote no frame");
  },
);

test(
  "7b. TCP FIN in the middle of a frame: error then close 1006",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const server = await rawServer(t);
    const c = client(t, server.url);
    const peer = await handshake(server);
    const half = frame(0x2, Buffer.alloc(300, 1));
    await peer.write(Buffer.concat([text("delivered"), half.subarray(0, 100)]));
    peer.socket.end();
    await c.closed();
    assertEvents(c.events, [
      { type: "open", readyState: WebSocket.OPEN },
      {
        type: "message",
        readyState: WebSocket.OPEN,
        data: "delivered",
        origin: ORIGIN(server.port),
      },
      ...failed(/middle of a message/),
    ]);
  },
);

test(
  "8. server closes TCP right after the handshake: open, error, close 1006",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const server = await rawServer(t);
    const c = client(t, server.url);
    const peer = await handshake(server);
    peer.socket.end();
    await c.closed();
    assertEvents(c.events, [
      { type: "open", readyState: WebSocket.OPEN },
      ...failed(/closing handshake|connection lost/i),
    ]);
    await peer.socketClosed();
    assert.equal(peer.frames.length, 0, "the client wrote no frame");
  },
);

// ---------------------------------------------------------------------------
// 9–11. Closing handshakes and control frames.

test(
  "9. server close 1000 'done', waits for the echo, then closes TCP: clean close",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const server = await rawServer(t);
    const c = client(t, server.url);
    const peer = await handshake(server);
    await peer.write(
      Buffer.concat([text("last words"), closeFrame(1000, "done")]),
    );
    const f = await peer.nextFrame();
    assertCloseFrame(f, 1000);
    assert.equal(c.ws.readyState, WebSocket.CLOSING);
    peer.socket.end();
    const close = await c.closed();
    assertEvents(c.events, [
      { type: "open", readyState: WebSocket.OPEN },
      {
        type: "message",
        readyState: WebSocket.OPEN,
        data: "last words",
        origin: ORIGIN(server.port),
      },
      {
        type: "close",
        readyState: WebSocket.CLOSED,
        code: 1000,
        reason: "done",
        wasClean: true,
      },
    ]);
    assert.ok(
      close.at - f.at < 1000,
      "the close event follows the server's TCP close, not a timer",
    );
    await peer.clientEnded();
    assert.equal(peer.frames.length, 1, "one close frame, nothing else");
  },
);

test(
  "9b. server close 1000 'done' and TCP end in one write: clean close",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const server = await rawServer(t);
    const c = client(t, server.url);
    const peer = await handshake(server);
    peer.socket.end(closeFrame(1000, "done"));
    await c.closed();
    assertEvents(c.events, [
      { type: "open", readyState: WebSocket.OPEN },
      {
        type: "close",
        readyState: WebSocket.CLOSED,
        code: 1000,
        reason: "done",
        wasClean: true,
      },
    ]);
    await peer.socketClosed();
    assert.equal(
      peer.frames.length,
      1,
      "the client answered with its close frame",
    );
    assertCloseFrame(peer.frames[0], 1000);
  },
);

test(
  "10. server never answers the client's close: transport closed after closeTimeout, close 1006 without error",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    // allowHalfOpen: the server does not even close its side when the client ends.
    const server = await rawServer(t, { allowHalfOpen: true });
    const c = client(t, server.url, [], { closeTimeout: 300 });
    const peer = await handshake(server);
    await c.count(1);
    const closedAt = now();
    c.ws.close(1000);
    assert.equal(c.ws.readyState, WebSocket.CLOSING);
    const f = await peer.nextFrame();
    assertCloseFrame(f, 1000);
    assert.equal(f.payload.length, 2, "close(1000) without a reason");
    await peer.clientEnded(2000);
    const endedAfter = (peer.endedAt ?? peer.closedAt) - closedAt;
    assert.ok(
      endedAfter >= 250,
      `client ended TCP ${endedAfter.toFixed(0)} ms after close(), before the timeout`,
    );
    const close = await c.closed(2000);
    assertEvents(c.events, [
      { type: "open", readyState: WebSocket.OPEN },
      {
        type: "close",
        readyState: WebSocket.CLOSED,
        code: 1006,
        reason: "",
        wasClean: false,
      },
    ]);
    // A browser closes its socket when the closing handshake times out and
    // fires close right then: one closeTimeout after close(), not two.
    const after = close.at - closedAt;
    assert.ok(
      after >= 250 && after < 500,
      `close event ${after.toFixed(0)} ms after close() (closeTimeout 300)`,
    );
    await assertClientGone(peer);
    assert.equal(peer.frames.length, 1);
  },
);

test(
  "11. ping with payload is answered with the same payload; unsolicited pong is ignored",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const server = await rawServer(t);
    const c = client(t, server.url);
    const peer = await handshake(server);
    const ping = Buffer.from("ping-payload-\x00\xff", "latin1");
    await peer.write(frame(0x9, ping));
    const pong = await peer.nextFrame();
    assert.equal(pong.opcode, 0xa, "a pong");
    assert.equal(pong.masked, true);
    assert.equal(pong.fin, true);
    assert.deepEqual(pong.payload, ping);
    await peer.write(frame(0xa, Buffer.from("unsolicited")));
    await peer.write(frame(0x9, Buffer.alloc(0)));
    const emptyPong = await peer.nextFrame();
    assert.equal(emptyPong.opcode, 0xa);
    assert.equal(emptyPong.payload.length, 0);
    await peer.write(text("still fine"));
    await c.count(2);
    c.ws.close(1000, "bye");
    const f = await peer.nextFrame();
    assertCloseFrame(f, 1000);
    assert.equal(f.reason, "bye");
    await peer.write(closeFrame(1000));
    peer.socket.end();
    await c.closed();
    assertEvents(c.events, [
      { type: "open", readyState: WebSocket.OPEN },
      {
        type: "message",
        readyState: WebSocket.OPEN,
        data: "still fine",
        origin: ORIGIN(server.port),
      },
      {
        type: "close",
        readyState: WebSocket.CLOSED,
        code: 1000,
        reason: "",
        wasClean: true,
      },
    ]);
    assert.deepEqual(
      peer.frames.map((x) => x.opcode),
      [0xa, 0xa, 0x8],
      "two pongs and the close frame: nothing answers the unsolicited pong",
    );
  },
);

// ---------------------------------------------------------------------------
// 12–13. No answer at all, nobody listening.

test(
  "12. handshake timeout: the server accepts TCP and never answers",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    // A hung server: it never writes, and never closes its side either.
    const server = await rawServer(t, { allowHalfOpen: true });
    const start = now();
    const c = client(t, server.url, [], { handshakeTimeout: 300 });
    const peer = await server.accept();
    await peer.requestHead();
    const close = await c.closed(8000);
    const after = close.at - start;
    assertEvents(c.events, failed(/timed out/));
    assert.ok(
      after >= 250 && after < 1000,
      `close event ${after.toFixed(0)} ms after the constructor (handshakeTimeout 300)`,
    );
    await assertNothingSentAfterHead(peer);
    await assertClientGone(peer);
  },
);

test(
  "13. connection refused: error mentions ECONNREFUSED, close 1006",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const probe = net.createServer();
    await new Promise((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const { port } = probe.address();
    await new Promise((resolve) => probe.close(resolve));
    const c = client(t, `ws://127.0.0.1:${port}/`);
    assert.equal(c.ws.readyState, WebSocket.CONNECTING);
    await c.closed();
    assertEvents(c.events, failed(/ECONNREFUSED/));
    assert.equal(c.events[0].error?.code, "ECONNREFUSED");
  },
);
