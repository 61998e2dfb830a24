// The package's WebSocketServer against real clients: `ws@8` and the
// package's own WebSocket, over net, tls, Node Duplex streams (an in-memory
// pair and a net.Socket pair) and a WHATWG stream pair; attached to an
// http.Server next to a plain route; and against raw node:net peers that
// send bad or incomplete opening requests, stall, or never answer a close.
//
// Run: node --test tests/node/server.test.mjs

import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import net from "node:net";
import { describe, test } from "node:test";

import { readFile } from "node:fs/promises";

import { control, WebSocket, WebSocketServer } from "wasmsocket";
import WsClient from "ws";

import { WebSocketServer as NeutralServer } from "../../pkg/lib/server.js";

import {
  asyncDuplexPair,
  delay,
  duplexPair,
  makeCertificate,
  once,
  messages,
  record,
  waitFor,
  within,
} from "./helpers.mjs";

const T = { timeout: 20000 };
const MiB = 1 << 20;
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const now = () => performance.now();

let certificate = null;
/** The self-signed certificate, made once per run. */
function cert() {
  certificate ??= makeCertificate();
  return certificate;
}

// ----- servers -------------------------------------------------------------

/**
 * Closes a package server at the end of a test: aborts what is still open
 * (so no close timeout has to run out), then waits for `close()`.
 */
async function shutdown(server) {
  for (const ws of server.clients) {
    try {
      control(ws).abort();
    } catch {}
  }
  await within(server.close(), 5000, "server.close() in cleanup");
}

/**
 * Records every accepted connection of `server`: { ws, req, rec } with the
 * server-side socket, the request object and an event recorder made before
 * any event could fire.
 */
function connections(server) {
  const list = [];
  const waiters = [];
  server.on("connection", (ws, req) => {
    list.push({ ws, req, rec: record(ws) });
    for (const w of waiters.splice(0)) w();
  });
  return {
    list,
    /** The `index`-th connection, once there is one. */
    get(index = 0, { timeout = 10000 } = {}) {
      return within(
        new Promise((resolve) => {
          const check = () => {
            if (list.length > index) resolve(list[index]);
            else waiters.push(check);
          };
          check();
        }),
        timeout,
        `server connection #${index}`,
      );
    },
  };
}

/** Echoes every message back with its type. */
function echo(ws) {
  ws.binaryType = "arraybuffer";
  ws.addEventListener("message", (event) => ws.send(event.data));
}

/** An echo server (see `listen`) and an open client of the package. */
async function echoAndClient(t, secure = false) {
  const { key, cert: ca } = secure ? cert() : {};
  const fx = await listen(t, secure ? { tls: { key, cert: ca } } : {});
  fx.server.on("connection", echo);
  const client = new WebSocket(fx.url("/"), [], secure ? { tls: { ca } } : {});
  await once(client, "open");
  return { fx, client };
}

/**
 * A standalone package server on 127.0.0.1, port 0, shut down after the
 * test. `errors` collects its 'error' events.
 */
async function listen(t, options = {}) {
  const server = new WebSocketServer({
    port: 0,
    host: "127.0.0.1",
    ...options,
  });
  const errors = [];
  server.on("error", (error) => errors.push(error));
  const conns = connections(server);
  await once(server, "listening");
  t.after(() => shutdown(server));
  const { port } = server.address();
  return {
    server,
    port,
    errors,
    conns,
    url: (path = "/", scheme = options.tls ? "wss" : "ws") =>
      `${scheme}://127.0.0.1:${port}${path}`,
  };
}

// ----- clients ---------------------------------------------------------------

/**
 * Events of either kind of client in one shape, in the order they fired:
 * { type: "open" }, { type: "message", data: string | Buffer, binary },
 * { type: "error", message }, { type: "close", code, reason, wasClean }
 * (wasClean is undefined for `ws`, which does not report it).
 * `next(type)` resolves with the next not yet taken event of that type.
 */
class Recorder {
  events = [];
  #taken = new Map();
  #waiters = [];

  push(event) {
    this.events.push(event);
    for (const w of this.#waiters.splice(0)) w();
  }

  get types() {
    return this.events.map((e) => e.type);
  }

  of(type) {
    return this.events.filter((e) => e.type === type);
  }

  next(type, { timeout = 10000 } = {}) {
    const index = this.#taken.get(type) ?? 0;
    this.#taken.set(type, index + 1);
    return within(
      new Promise((resolve) => {
        const check = () => {
          let seen = 0;
          for (const e of this.events) {
            if (e.type === type && seen++ === index) return resolve(e);
          }
          this.#waiters.push(check);
        };
        check();
      }),
      timeout,
      `client: ${type} #${index} (events so far: ${this.types.join(", ")})`,
    );
  }
}

/**
 * A `ws@8` client. `connect()` (optional) makes its socket, for transports
 * other than a plain TCP connection.
 */
function wsClient(
  t,
  url,
  { protocols = [], headers, origin, ca, connect } = {},
) {
  const options = { headers, origin, ca };
  if (connect) options.createConnection = () => connect();
  const ws = new WsClient(url, protocols, options);
  const rec = new Recorder();
  let upgrade = null;
  ws.on("upgrade", (response) => (upgrade = response));
  ws.on("open", () => rec.push({ type: "open" }));
  ws.on("message", (data, isBinary) =>
    rec.push({
      type: "message",
      data: isBinary ? data : data.toString("utf8"),
      binary: isBinary,
    }),
  );
  ws.on("error", (error) =>
    rec.push({ type: "error", message: error.message }),
  );
  ws.on("close", (code, reason) =>
    rec.push({ type: "close", code, reason: reason.toString("utf8") }),
  );
  t.after(() => ws.terminate());
  return {
    kind: "ws",
    raw: ws,
    rec,
    get protocol() {
      return ws.protocol;
    },
    /** The client's local TCP port, once open (from the upgrade response). */
    get localPort() {
      return upgrade?.socket?.localPort;
    },
    send: (data) => ws.send(data),
    close: (code, reason) => ws.close(code, reason),
  };
}

/** A package WebSocket client; `options` are its third argument. */
function ownClient(t, url, { protocols = [], ...options } = {}) {
  const ws = new WebSocket(url, protocols, options);
  ws.binaryType = "arraybuffer";
  const rec = new Recorder();
  ws.addEventListener("open", () => rec.push({ type: "open" }));
  ws.addEventListener("message", (e) =>
    rec.push({
      type: "message",
      data: typeof e.data === "string" ? e.data : Buffer.from(e.data),
      binary: typeof e.data !== "string",
    }),
  );
  ws.addEventListener("error", (e) =>
    rec.push({ type: "error", message: e.message }),
  );
  ws.addEventListener("close", (e) =>
    rec.push({
      type: "close",
      code: e.code,
      reason: e.reason,
      wasClean: e.wasClean,
    }),
  );
  t.after(() => {
    if (ws.readyState !== WebSocket.CLOSED) control(ws).abort();
  });
  return {
    kind: "wasmsocket",
    raw: ws,
    rec,
    get protocol() {
      return ws.protocol;
    },
    send: (data) => ws.send(data),
    close: (code, reason) => ws.close(code, reason),
  };
}

/** Both kinds of client, by name, with the same (t, url, options) signature. */
const CLIENTS = [
  ["ws@8 client", wsClient],
  ["wasmsocket client", ownClient],
];

/** Text, non-ASCII text, empty text, binary, empty binary, 1 MiB of each. */
function payloads() {
  return [
    "hello",
    "héllo wörld ✓ 日本語 𝄞 😀",
    "",
    Buffer.from([0, 1, 2, 127, 128, 254, 255]),
    Buffer.alloc(0),
    randomBytes(MiB),
    "é".repeat(MiB / 2) + "😀".repeat(MiB / 8),
  ];
}

/** Sends every payload and checks that each comes back, in order and typed. */
async function exchange(client) {
  const items = payloads();
  for (const item of items) client.send(item);
  for (const [i, item] of items.entries()) {
    const m = await client.rec.next("message");
    if (typeof item === "string") {
      assert.equal(m.binary, false, `message ${i} is text`);
      assert.equal(typeof m.data, "string");
      assert.ok(
        m.data === item,
        `message ${i}: text of ${m.data.length} chars differs from ${item.length} sent`,
      );
    } else {
      assert.equal(m.binary, true, `message ${i} is binary`);
      assert.equal(m.data.length, item.length, `message ${i} length`);
      assert.ok(m.data.equals(item), `message ${i} bytes`);
    }
  }
}

/**
 * Closes a client cleanly and checks both sides saw code 1000. The reason is
 * checked where it was received: the server's reply need not echo it.
 */
async function closeCleanly(client, conn) {
  client.close(1000, "done");
  const event = await client.rec.next("close");
  assert.equal(event.code, 1000);
  if (client.kind === "wasmsocket") assert.equal(event.wasClean, true);
  const server = await conn.rec.next("close");
  assert.equal(server.code, 1000);
  assert.equal(server.reason, "done");
  assert.equal(server.wasClean, true);
}

// ----- raw HTTP ----------------------------------------------------------------

const randomKey = () => randomBytes(16).toString("base64");
const acceptFor = (key) =>
  createHash("sha1")
    .update(key + GUID)
    .digest("base64");

/**
 * An opening request head; a `null` field is left out, `extra` adds lines.
 */
function requestHead({
  method = "GET",
  path = "/",
  httpVersion = "1.1",
  host = "127.0.0.1",
  upgrade = "websocket",
  connection = "Upgrade",
  key = randomKey(),
  version = "13",
  extra = [],
} = {}) {
  const lines = [`${method} ${path} HTTP/${httpVersion}`];
  if (host !== null) lines.push(`Host: ${host}`);
  if (upgrade !== null) lines.push(`Upgrade: ${upgrade}`);
  if (connection !== null) lines.push(`Connection: ${connection}`);
  if (key !== null) lines.push(`Sec-WebSocket-Key: ${key}`);
  if (version !== null) lines.push(`Sec-WebSocket-Version: ${version}`);
  lines.push(...extra);
  return Buffer.from(lines.join("\r\n") + "\r\n\r\n", "latin1");
}

/** A client-to-server frame, masked. */
function maskedFrame(opcode, payload) {
  const data = Buffer.from(payload);
  assert.ok(data.length < 126);
  const mask = randomBytes(4);
  return Buffer.concat([
    Buffer.from([0x80 | opcode, 0x80 | data.length]),
    mask,
    Buffer.from(data.map((b, i) => b ^ mask[i % 4])),
  ]);
}

/** Splits an HTTP response: status line, code, headers (lower-case), body. */
function parseResponse(bytes) {
  const end = bytes.indexOf("\r\n\r\n");
  if (end < 0) return { statusLine: null, status: 0, headers: {}, body: bytes };
  const [statusLine, ...lines] = bytes
    .subarray(0, end)
    .toString("latin1")
    .split("\r\n");
  const headers = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return {
    statusLine,
    status: Number(statusLine.split(" ")[1]),
    headers,
    body: bytes.subarray(end + 4),
  };
}

/**
 * Connects to 127.0.0.1:port, writes `bytes` in one write and collects
 * everything until the server closes the connection. Resolves with the
 * parsed response, `ended` (the server's FIN arrived) and `error`.
 * Rejects if the server keeps the socket open for `timeout` ms.
 */
function rawExchange(t, port, bytes, { timeout = 3000 } = {}) {
  const socket = net.connect({ host: "127.0.0.1", port });
  t.after(() => socket.destroy());
  const chunks = [];
  let ended = false;
  let error = null;
  socket.on("data", (chunk) => chunks.push(chunk));
  socket.on("end", () => (ended = true));
  socket.on("error", (e) => (error = e));
  socket.write(bytes);
  return within(
    new Promise((resolve) =>
      socket.on("close", () =>
        resolve({
          ...parseResponse(Buffer.concat(chunks)),
          raw: Buffer.concat(chunks),
          ended,
          error,
        }),
      ),
    ),
    timeout,
    "the server closing the connection",
  ).catch((e) => {
    socket.destroy();
    throw e;
  });
}

/** Asserts a refusal: the status, Connection: close, and the server's FIN. */
function assertRefusal(res, status) {
  assert.ok(
    res.statusLine,
    `a response head came (got ${res.raw.length} bytes)`,
  );
  assert.match(res.statusLine, new RegExp(`^HTTP/1\\.1 ${status} \\S`));
  assert.equal(res.status, status);
  assert.equal(res.headers.connection, "close");
  assert.equal(res.headers["sec-websocket-accept"], undefined);
  if (status === 426) {
    assert.equal(res.headers["sec-websocket-version"], "13");
  }
  if (status === 405) {
    // RFC 9110 §15.5.6: a 405 response MUST carry an Allow field.
    assert.equal(res.headers.allow, "GET", "405 names the allowed method");
  }
  if (res.headers["content-length"] !== undefined) {
    assert.equal(Number(res.headers["content-length"]), res.body.length);
  }
  assert.ok(res.ended, "the server ended the TCP connection (FIN)");
  assert.equal(res.error, null, `no socket error (${res.error?.message})`);
}

/**
 * A raw client that completes the opening handshake itself and then keeps
 * whatever the server sends. Resolves once the 101 head is in.
 */
async function rawWebSocket(t, port, path = "/") {
  const socket = net.connect({ host: "127.0.0.1", port });
  t.after(() => socket.destroy());
  socket.on("error", () => {});
  const key = randomKey();
  let buffer = Buffer.alloc(0);
  const state = { socket, after: null, ended: false, closedAt: null };
  socket.on("end", () => (state.ended = true));
  state.closed = new Promise((resolve) =>
    socket.on("close", () => resolve((state.closedAt = now()))),
  );
  const headPromise = within(
    new Promise((resolve) => {
      socket.on("data", (chunk) => {
        if (state.after) {
          state.after = Buffer.concat([state.after, chunk]);
          return;
        }
        buffer = Buffer.concat([buffer, chunk]);
        const end = buffer.indexOf("\r\n\r\n");
        if (end >= 0) {
          state.after = buffer.subarray(end + 4);
          resolve(parseResponse(buffer.subarray(0, end + 4)));
        }
      });
    }),
    5000,
    "101 answer",
  );
  socket.write(requestHead({ path, key }));
  const head = await headPromise;
  assert.equal(head.status, 101);
  assert.equal(head.headers["sec-websocket-accept"], acceptFor(key));
  return state;
}

// ===== the tests =============================================================

describe("over net", () => {
  for (const [name, make] of CLIENTS) {
    test(`${name}: echo, request fields, server-side url`, T, async (t) => {
      const fx = await listen(t, {
        handleProtocols: (protocols) => protocols[0],
      });
      fx.server.on("connection", echo);
      const client = make(t, fx.url("/echo?x=1"), {
        protocols: ["chat", "superchat"],
        headers: { "X-Custom": `custom ${name}` },
        origin: "https://app.example",
      });
      await client.rec.next("open");
      const conn = await fx.conns.get(0);
      const req = conn.req;
      assert.equal(req.method, "GET");
      assert.equal(req.url, "/echo?x=1");
      assert.equal(req.path, "/echo");
      assert.equal(req.headers["x-custom"], `custom ${name}`);
      assert.equal(req.headers.host, `127.0.0.1:${fx.port}`);
      assert.equal(req.headers.upgrade.toLowerCase(), "websocket");
      assert.equal(req.origin, "https://app.example");
      assert.equal(req.headers.origin, "https://app.example");
      assert.equal(req.remoteAddress, "127.0.0.1");
      assert.ok(
        Number.isInteger(req.remotePort) &&
          req.remotePort > 0 &&
          req.remotePort !== fx.port,
        `remotePort ${req.remotePort}`,
      );
      if (client.kind === "ws") assert.equal(req.remotePort, client.localPort);
      assert.deepEqual(req.protocols, ["chat", "superchat"]);
      assert.equal(req.href, `ws://127.0.0.1:${fx.port}/echo?x=1`);
      assert.ok(
        req.rawHeaders.some((h) => h.toLowerCase() === "x-custom"),
        "rawHeaders keep the custom field",
      );

      assert.ok(
        conn.ws instanceof WebSocket,
        "the server hands out a WebSocket",
      );
      assert.equal(conn.ws.url, `ws://127.0.0.1:${fx.port}/echo?x=1`);
      assert.equal(conn.ws.readyState, WebSocket.OPEN);
      assert.equal(conn.ws.protocol, "chat");
      assert.equal(client.protocol, "chat");
      assert.ok(fx.server.clients.has(conn.ws));

      await exchange(client);
      await closeCleanly(client, conn);
      assert.equal(fx.server.clients.size, 0, "closed sockets leave clients");
      assert.deepEqual(fx.errors, []);
    });
  }
  for (const secure of [false, true]) {
    test(
      `a burst of large messages comes back intact, both sides reusing output buffers (${secure ? "tls" : "net"})`,
      T,
      async (t) => {
        const { fx, client } = await echoAndClient(t, secure);
        client.binaryType = "arraybuffer";
        // Distinct contents and sizes from 64 KiB to 1.5 MiB: a buffer reused
        // before the socket had written it would show up as a wrong echo.
        const sent = [];
        for (let i = 0; i < 24; i++) {
          const bytes = randomBytes((64 << 10) + i * (64 << 10) - (i % 3));
          sent.push(bytes);
          client.send(bytes);
        }
        const echoes = await messages(client, sent.length, {
          timeout: 15000,
        });
        for (let i = 0; i < sent.length; i++) {
          assert.ok(Buffer.from(echoes[i]).equals(sent[i]), `echo ${i} intact`);
        }
        client.close();
        await once(client, "close");
        assert.deepEqual(fx.errors, []);
      },
    );
  }
  test(
    "big binary sends keep their order, their bytes as at send(), and bufferedAmount",
    T,
    async (t) => {
      const fx = await listen(t);
      const big = randomBytes(300_000);
      const original = Buffer.from(big);
      const view = randomBytes(200_000);
      let bufferedAfterSends = -1;
      let server = null;
      fx.server.on("connection", (ws) => {
        server = ws;
        ws.send("first");
        ws.send(big.buffer.slice(big.byteOffset, big.byteOffset + big.length));
        // A view into a larger buffer, then the source changed at once: what
        // went out is what send() was given.
        ws.send(new Uint8Array(view.buffer, view.byteOffset + 1000, 100_000));
        ws.send(big);
        big.fill(0);
        ws.send("last");
        bufferedAfterSends = ws.bufferedAmount;
      });
      const client = new WebSocket(fx.url("/"));
      client.binaryType = "arraybuffer";
      const got = await messages(client, 5);
      assert.equal(got[0], "first");
      assert.ok(original.equals(Buffer.from(got[1])), "message 2");
      assert.ok(
        view.subarray(1000, 101_000).equals(Buffer.from(got[2])),
        "message 3",
      );
      assert.ok(original.equals(Buffer.from(got[3])), "message 4");
      assert.equal(got[4], "last");
      assert.equal(bufferedAfterSends, 5 + 300_000 + 100_000 + 300_000 + 4);
      await waitFor(() => server.bufferedAmount === 0, {
        message: "bufferedAmount back to 0",
      });
      client.close();
      await once(client, "close");
      assert.deepEqual(fx.errors, []);
    },
  );
  test(
    "text with non-ASCII characters anywhere survives the ASCII fast paths",
    T,
    async (t) => {
      const { client } = await echoAndClient(t);
      // Long enough for Latin-1 decoding of ASCII text; the character lands in
      // every 16-byte lane of the first 64-byte block, in the tail, and at the
      // very end.
      const sent = [];
      for (const n of [65, 100, 128, 300]) {
        for (const at of [0, 1, 15, 16, 31, 47, 63, 64, n - 1]) {
          if (at >= n) continue;
          sent.push("a".repeat(at) + "\u00e9" + "b".repeat(n - at - 1));
        }
      }
      // Long text is first encoded into room for ASCII; these do not fit.
      sent.push(
        "x".repeat(5000),
        "x".repeat(4999) + "\u00e9",
        "\u{1f600}" + "y".repeat(3000),
        "\u6f22\u5b57".repeat(2000),
        "z".repeat(2000) + "\ud800" + "z".repeat(10),
      );
      const done = messages(client, sent.length);
      for (const text of sent) client.send(text);
      const echoes = await done;
      // A lone surrogate is sent as U+FFFD (WHATWG send()).
      assert.deepEqual(
        echoes,
        sent.map((text) => text.replace("\ud800", "\ufffd")),
      );
      client.close();
      await once(client, "close");
    },
  );
});

describe("over tls", () => {
  for (const [name, make] of CLIENTS) {
    test(`${name}: echo over wss:, server-side url is wss:`, T, async (t) => {
      const { key, cert: pem } = cert();
      const fx = await listen(t, { tls: { key, cert: pem } });
      fx.server.on("connection", echo);
      const client = make(
        t,
        fx.url("/secure"),
        make === wsClient ? { ca: pem } : { tls: { ca: pem } },
      );
      await client.rec.next("open");
      const conn = await fx.conns.get(0);
      assert.equal(conn.ws.url, `wss://127.0.0.1:${fx.port}/secure`);
      assert.equal(conn.req.href, `wss://127.0.0.1:${fx.port}/secure`);
      assert.equal(conn.req.remoteAddress, "127.0.0.1");
      await exchange(client);
      await closeCleanly(client, conn);
      assert.deepEqual(fx.errors, []);
    });
  }
});

describe("accept() over a Node Duplex", () => {
  /** A server with no listener of its own, shut down after the test. */
  function bare(t, options = {}) {
    const server = new WebSocketServer(options);
    const errors = [];
    server.on("error", (e) => errors.push(e));
    const conns = connections(server);
    t.after(() => shutdown(server));
    return { server, errors, conns };
  }

  // ws@8 gets the pair that delivers on a later tick, as a socket does:
  // over the synchronous pair, ws leaks its 30 s close timer (the reply to
  // its close frame arrives inside its own close() call).
  const pairs = [
    ["wasmsocket client", ownClient, "synchronous", duplexPair],
    ["wasmsocket client", ownClient, "next-tick", asyncDuplexPair],
    ["ws@8 client", wsClient, "next-tick", asyncDuplexPair],
  ];
  for (const [name, make, kind, makePair] of pairs) {
    test(`${name} over an in-memory duplex pair (${kind})`, T, async (t) => {
      const fx = bare(t);
      fx.server.on("connection", echo);
      const [serverEnd, clientEnd] = makePair();
      t.after(() => {
        serverEnd.destroy();
        clientEnd.destroy();
      });
      const accepted = fx.server.accept(serverEnd);
      const client = make(
        t,
        "ws://duplex.test/pair?y=2",
        make === wsClient
          ? { connect: () => clientEnd }
          : { transport: clientEnd },
      );
      await client.rec.next("open");
      const ws = await within(accepted, 5000, "accept() resolving");
      const conn = await fx.conns.get(0);
      assert.equal(ws, conn.ws, "accept() resolves to the connection's socket");
      assert.equal(ws.url, "ws://duplex.test/pair?y=2");
      assert.equal(conn.req.path, "/pair");
      assert.equal(conn.req.headers.host, "duplex.test");
      assert.equal(conn.req.remoteAddress, undefined);
      await exchange(client);
      await closeCleanly(client, conn);
      assert.deepEqual(fx.errors, []);
    });
  }

  for (const [name, make] of CLIENTS) {
    test(`${name} over a net.Socket pair`, T, async (t) => {
      const fx = bare(t);
      fx.server.on("connection", echo);
      const accepted = [];
      const tcp = net.createServer((socket) =>
        accepted.push(fx.server.accept(socket)),
      );
      const sockets = [];
      tcp.on("connection", (s) => sockets.push(s));
      await new Promise((resolve) => tcp.listen(0, "127.0.0.1", resolve));
      t.after(async () => {
        for (const s of sockets) s.destroy();
        await new Promise((resolve) => tcp.close(resolve));
      });
      const { port } = tcp.address();
      const socket = net.connect({ host: "127.0.0.1", port });
      socket.on("error", () => {});
      t.after(() => socket.destroy());
      await once(socket, "connect");
      const client = make(
        t,
        `ws://127.0.0.1:${port}/sock`,
        make === wsClient ? { connect: () => socket } : { transport: socket },
      );
      await client.rec.next("open");
      const conn = await fx.conns.get(0);
      assert.equal(await accepted[0], conn.ws);
      assert.equal(conn.ws.url, `ws://127.0.0.1:${port}/sock`);
      assert.equal(conn.req.remoteAddress, "127.0.0.1");
      assert.equal(conn.req.remotePort, socket.localPort);
      await exchange(client);
      await closeCleanly(client, conn);
      assert.deepEqual(fx.errors, []);
    });
  }

  test("wasmsocket client over a WHATWG stream pair", T, async (t) => {
    const fx = bare(t);
    fx.server.on("connection", echo);
    const up = new TransformStream();
    const down = new TransformStream();
    const accepted = fx.server.accept({
      readable: up.readable,
      writable: down.writable,
    });
    const client = ownClient(t, "ws://streams.test/whatwg", {
      transport: { readable: down.readable, writable: up.writable },
    });
    await client.rec.next("open");
    const ws = await within(accepted, 5000, "accept() resolving");
    const conn = await fx.conns.get(0);
    assert.equal(ws, conn.ws);
    assert.equal(ws.url, "ws://streams.test/whatwg");
    assert.equal(conn.req.path, "/whatwg");
    await exchange(client);
    await closeCleanly(client, conn);
    assert.deepEqual(fx.errors, []);
  });

  test("accept() resolves to null for a refused request", T, async (t) => {
    const fx = bare(t);
    const [serverEnd, clientEnd] = duplexPair();
    t.after(() => serverEnd.destroy());
    const chunks = [];
    clientEnd.on("data", (c) => chunks.push(c));
    const ended = once(clientEnd, "end");
    const accepted = fx.server.accept(serverEnd);
    clientEnd.write(requestHead({ version: "8" }));
    assert.equal(await within(accepted, 5000, "accept() resolving"), null);
    await ended;
    const res = parseResponse(Buffer.concat(chunks));
    assert.equal(res.status, 426);
    assert.equal(res.headers["sec-websocket-version"], "13");
    assert.equal(fx.conns.list.length, 0);
    assert.equal(fx.server.clients.size, 0);
  });
});

/** GET http://127.0.0.1:port/path without keep-alive; resolves with the body. */
function httpGet(port, path) {
  return within(
    new Promise((resolve, reject) => {
      http
        .get({ host: "127.0.0.1", port, path, agent: false }, (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (c) => (text += c));
          res.on("end", () =>
            res.statusCode === 200
              ? resolve(text)
              : reject(new Error(`GET ${path}: ${res.statusCode}`)),
          );
        })
        .on("error", reject);
    }),
    5000,
    `GET ${path}`,
  );
}

describe("the runtime-neutral server (the browser entry's)", () => {
  test(
    "its module graph, from browser.js, imports no node: module",
    T,
    async () => {
      const seen = new Set();
      const visit = async (url) => {
        if (seen.has(url.href)) return;
        seen.add(url.href);
        const source = await readFile(url, "utf8");
        for (const [, spec] of source.matchAll(
          /^(?:import|export)\b[^;]*?from\s+"([^"]+)"/gms,
        )) {
          assert.ok(
            !spec.startsWith("node:"),
            `${url.pathname} imports ${spec}`,
          );
          if (spec.startsWith(".")) await visit(new URL(spec, url));
        }
      };
      await visit(new URL("../../pkg/lib/browser.js", import.meta.url));
      const names = [...seen].map((href) => href.split("/pkg/lib/")[1]);
      assert.ok(names.includes("server.js"), names.join(", "));
    },
  );

  test(
    "accepts over a stream pair, with its hooks and events, and closes with 1001",
    T,
    async (t) => {
      const server = new NeutralServer({
        handleProtocols: (offered) => offered.at(-1),
        verifyClient: (req) => req.path === "/ok",
      });
      t.after(() => server.close());
      assert.equal(server.address(), null);
      const seen = [];
      const first = (ws) => seen.push(["first", ws.protocol]);
      server.on("connection", first);
      server.once("connection", (ws, req) => seen.push(["once", req.path]));
      const pair = (path) => {
        const up = new TransformStream();
        const down = new TransformStream();
        const accepted = server.accept({
          readable: up.readable,
          writable: down.writable,
        });
        const client = ownClient(t, `ws://neutral.test${path}`, {
          protocols: ["a", "b"],
          transport: { readable: down.readable, writable: up.writable },
        });
        return { accepted, client };
      };

      const one = pair("/ok");
      await one.client.rec.next("open");
      const ws = await within(one.accepted, 5000, "accept() resolving");
      assert.equal(ws.protocol, "b");
      assert.equal(server.clients.size, 1);
      assert.deepEqual(seen, [
        ["first", "b"],
        ["once", "/ok"],
      ]);
      ws.onmessage = (e) => ws.send(e.data);
      await exchange(one.client);

      server.off("connection", first);
      assert.equal(server.listenerCount("connection"), 0);
      const refused = pair("/no");
      assert.equal(await within(refused.accepted, 5000, "refusal"), null);
      assert.match((await refused.client.rec.next("error")).message, /403/);
      assert.equal(seen.length, 2);

      const closed = server.close();
      const event = await one.client.rec.next("close");
      assert.equal(event.code, 1001);
      await within(closed, 5000, "server.close()");
      assert.equal(server.clients.size, 0);
      assert.equal(await server.accept(new TransformStream()), null);
    },
  );
});

describe("attached to an http.Server", () => {
  async function attached(t, options = {}) {
    const httpServer = http.createServer((req, res) => res.end("plain route"));
    const heads = [];
    const server = new WebSocketServer({
      server: httpServer,
      path: "/ws",
      ...options,
    });
    httpServer.on("upgrade", (req, socket, head) => heads.push(head));
    const errors = [];
    server.on("error", (e) => errors.push(e));
    const conns = connections(server);
    await new Promise((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
    t.after(async () => {
      await shutdown(server);
      httpServer.closeAllConnections();
      await new Promise((resolve) => httpServer.close(resolve));
    });
    const { port } = httpServer.address();
    return { httpServer, server, port, errors, conns, heads };
  }

  test(
    "another route is still served; /ws works for both clients; /other gets 404",
    T,
    async (t) => {
      const fx = await attached(t);
      fx.server.on("connection", echo);

      const body = await httpGet(fx.port, "/hello");
      assert.equal(body, "plain route");

      for (const [index, [, make]] of CLIENTS.entries()) {
        const client = make(t, `ws://127.0.0.1:${fx.port}/ws`);
        await client.rec.next("open");
        const conn = await fx.conns.get(index);
        assert.equal(conn.ws.url, `ws://127.0.0.1:${fx.port}/ws`);
        assert.equal(conn.req.remoteAddress, "127.0.0.1");
        if (client.kind === "ws")
          assert.equal(conn.req.remotePort, client.localPort);
        client.send("through the http server");
        const m = await client.rec.next("message");
        assert.equal(m.data, "through the http server");
        await closeCleanly(client, conn);
      }

      const res = await rawExchange(
        t,
        fx.port,
        requestHead({ path: "/other" }),
      );
      assertRefusal(res, 404);
      const refused = wsClient(t, `ws://127.0.0.1:${fx.port}/other`);
      const error = await refused.rec.next("error");
      assert.match(error.message, /Unexpected server response: 404/);
      assert.equal(fx.conns.list.length, 2);
      assert.deepEqual(fx.errors, []);

      // close() lets go of the http server, which keeps serving its routes.
      await within(fx.server.close(), 5000, "server.close()");
      assert.equal(
        fx.httpServer.listenerCount("upgrade"),
        1,
        "only the test's own upgrade listener is left",
      );
      assert.equal(await httpGet(fx.port, "/hello"), "plain route");
    },
  );

  test(
    "a frame sent in the same write as the request head (Node's `head`) is delivered",
    T,
    async (t) => {
      const fx = await attached(t);
      const got = [];
      fx.server.on("connection", (ws) => {
        ws.addEventListener("message", (e) => {
          got.push(e.data);
          ws.send(`echo: ${e.data}`);
        });
      });
      const key = randomKey();
      const frame = maskedFrame(0x1, "carried in head");
      const socket = net.connect({ host: "127.0.0.1", port: fx.port });
      socket.on("error", () => {});
      t.after(() => socket.destroy());
      let received = Buffer.alloc(0);
      socket.on("data", (c) => (received = Buffer.concat([received, c])));
      await once(socket, "connect");
      socket.write(Buffer.concat([requestHead({ path: "/ws", key }), frame]));
      const conn = await fx.conns.get(0);
      await waitFor(() => got.length > 0, {
        timeout: 5000,
        message: "the message from the head never came",
      });
      assert.deepEqual(got, ["carried in head"]);
      assert.equal(fx.heads.length, 1);
      assert.deepEqual(
        fx.heads[0],
        frame,
        "Node handed the frame over as the upgrade's head",
      );
      // The answer: 101, then the echo as an unmasked text frame.
      const reply = Buffer.from("echo: carried in head");
      await waitFor(() => received.includes(reply), {
        timeout: 5000,
        message: "the echo never came",
      });
      const end = received.indexOf("\r\n\r\n") + 4;
      const res = parseResponse(received.subarray(0, end));
      assert.equal(res.status, 101);
      assert.equal(res.headers["sec-websocket-accept"], acceptFor(key));
      assert.deepEqual(
        received.subarray(end, end + 2 + reply.length),
        Buffer.concat([Buffer.from([0x81, reply.length]), reply]),
      );
      assert.equal(conn.ws.readyState, WebSocket.OPEN);
    },
  );
});

describe("subprotocols", () => {
  for (const [name, make] of CLIENTS) {
    test(
      `${name}: handleProtocols gets the offer and the request`,
      T,
      async (t) => {
        const calls = [];
        const fx = await listen(t, {
          handleProtocols: (protocols, request) => {
            calls.push({ protocols, request });
            return "superchat";
          },
        });
        const client = make(t, fx.url("/proto"), {
          protocols: ["chat", "superchat"],
        });
        await client.rec.next("open");
        const conn = await fx.conns.get(0);
        assert.equal(calls.length, 1);
        assert.deepEqual(calls[0].protocols, ["chat", "superchat"]);
        assert.equal(calls[0].request.path, "/proto");
        assert.deepEqual(calls[0].request.protocols, ["chat", "superchat"]);
        assert.equal(client.protocol, "superchat");
        assert.equal(conn.ws.protocol, "superchat");
      },
    );

    test(`${name}: an async handleProtocols`, T, async (t) => {
      const fx = await listen(t, {
        handleProtocols: async (protocols) => {
          await delay(20);
          return protocols.find((p) => p === "b");
        },
      });
      const client = make(t, fx.url("/"), { protocols: ["a", "b", "c"] });
      await client.rec.next("open");
      const conn = await fx.conns.get(0);
      assert.equal(client.protocol, "b");
      assert.equal(conn.ws.protocol, "b");
    });

    test(
      `${name}: protocols offered, no handleProtocols: none chosen, the client fails the handshake`,
      T,
      async (t) => {
        const fx = await listen(t);
        const client = make(t, fx.url("/"), { protocols: ["chat"] });
        const close = await client.rec.next("close");
        assert.deepEqual(client.rec.types, ["error", "close"]);
        assert.equal(close.code, 1006);
        if (client.kind === "wasmsocket") {
          assert.equal(close.wasClean, false);
          assert.equal(client.raw.readyState, WebSocket.CLOSED);
        } else {
          assert.match(client.rec.of("error")[0].message, /no subprotocol/i);
        }
        // The server did answer 101 without a protocol; the client then
        // dropped the connection without a closing handshake.
        const conn = await fx.conns.get(0);
        assert.equal(conn.ws.protocol, "");
        const serverClose = await conn.rec.next("close");
        assert.equal(serverClose.code, 1006);
        assert.equal(serverClose.wasClean, false);
        assert.equal(fx.server.clients.size, 0);
      },
    );
  }

  test(
    "handleProtocols is not called when nothing is offered",
    T,
    async (t) => {
      let called = 0;
      const fx = await listen(t, { handleProtocols: () => (called++, "x") });
      const client = ownClient(t, fx.url("/"));
      await client.rec.next("open");
      const conn = await fx.conns.get(0);
      assert.equal(called, 0);
      assert.equal(client.protocol, "");
      assert.equal(conn.ws.protocol, "");
      assert.deepEqual(conn.req.protocols, []);
    },
  );
});

describe("refusals (raw requests)", () => {
  const cases = [
    ["POST", { method: "POST" }, 405],
    ["missing Sec-WebSocket-Key", { key: null }, 400],
    [
      "a key that is not 16 bytes",
      { key: Buffer.alloc(15).toString("base64") },
      400,
    ],
    ["a key that is not base64", { key: "not base64 at all!!!!!!!" }, 400],
    ["Sec-WebSocket-Version: 8", { version: "8" }, 426],
    ["missing Sec-WebSocket-Version", { version: null }, 426],
    ["Upgrade: h2c", { upgrade: "h2c" }, 400],
    ["missing Upgrade", { upgrade: null }, 400],
    [
      "Connection: keep-alive (no upgrade token)",
      { connection: "keep-alive" },
      400,
    ],
    ["missing Host", { host: null }, 400],
    ["HTTP/1.0", { httpVersion: "1.0" }, 400],
    [
      "a plain HTTP GET without upgrade",
      { upgrade: null, connection: null, key: null, version: null },
      400,
    ],
    [
      "a 20 KiB header field (default max head 16 KiB)",
      { extra: [`X-Big: ${"a".repeat(20 * 1024)}`] },
      431,
    ],
    [
      "65 header fields (default at most 64)",
      { extra: Array.from({ length: 60 }, (_, i) => `X-Field-${i}: ${i}`) },
      431,
    ],
  ];
  for (const [name, fields, status] of cases) {
    test(`${name} → ${status}`, T, async (t) => {
      const fx = await listen(t);
      const handshakeErrors = [];
      fx.server.on("handshakeError", (error, peer) =>
        handshakeErrors.push({ error, peer }),
      );
      const res = await rawExchange(t, fx.port, requestHead(fields));
      assertRefusal(res, status);
      assert.equal(handshakeErrors.length, 1, "one handshakeError");
      assert.ok(handshakeErrors[0].error instanceof Error);
      assert.equal(handshakeErrors[0].peer.remoteAddress, "127.0.0.1");
      assert.equal(fx.conns.list.length, 0, "no connection event");
      assert.equal(fx.server.clients.size, 0);
      assert.deepEqual(fx.errors, []);
    });
  }

  test(
    "maxHeadSize is a knob: 1024 refuses a 2 KiB head (431); the default takes a 10 KiB one",
    T,
    async (t) => {
      const small = await listen(t, { maxHeadSize: 1024 });
      const head = requestHead({ extra: [`X-Pad: ${"p".repeat(2048)}`] });
      assertRefusal(await rawExchange(t, small.port, head), 431);
      const fx = await listen(t);
      const client = ownClient(t, fx.url("/"), {
        headers: { "X-Pad": "p".repeat(10 * 1024) },
      });
      await client.rec.next("open");
      const conn = await fx.conns.get(0);
      assert.equal(conn.req.headers["x-pad"].length, 10 * 1024);
    },
  );

  test("path filter: another path → 404", T, async (t) => {
    const fx = await listen(t, { path: "/only" });
    assertRefusal(
      await rawExchange(t, fx.port, requestHead({ path: "/elsewhere" })),
      404,
    );
    // The query is not part of the path compared.
    const client = ownClient(t, fx.url("/only?q=1"));
    await client.rec.next("open");
    assert.equal((await fx.conns.get(0)).req.path, "/only");
  });

  test("verifyClient refusing an origin → 403", T, async (t) => {
    const seen = [];
    const fx = await listen(t, {
      verifyClient: (request) => {
        seen.push(request);
        return request.origin === "https://good.example";
      },
    });
    const res = await rawExchange(
      t,
      fx.port,
      requestHead({ path: "/v", extra: ["Origin: https://evil.example"] }),
    );
    assertRefusal(res, 403);
    assert.equal(seen.length, 1);
    assert.equal(seen[0].origin, "https://evil.example");
    assert.equal(seen[0].path, "/v");
    assert.equal(fx.conns.list.length, 0);

    const good = ownClient(t, fx.url("/v"), { origin: "https://good.example" });
    await good.rec.next("open");
    assert.equal((await fx.conns.get(0)).req.origin, "https://good.example");
  });

  test(
    "verifyClient's {status: 401, headers} verdict → 401 with the header",
    T,
    async (t) => {
      const fx = await listen(t, {
        verifyClient: (request) =>
          request.headers.authorization === "Bearer ok" || {
            status: 401,
            reason: "Who are you?",
            headers: { "WWW-Authenticate": 'Bearer realm="ws"' },
          },
      });
      const res = await rawExchange(t, fx.port, requestHead());
      assertRefusal(res, 401);
      assert.equal(res.headers["www-authenticate"], 'Bearer realm="ws"');
      assert.equal(fx.conns.list.length, 0);

      const client = wsClient(t, fx.url("/"), {
        headers: { Authorization: "Bearer ok" },
      });
      await client.rec.next("open");
      await fx.conns.get(0);
    },
  );

  test("an async verifyClient", T, async (t) => {
    const fx = await listen(t, {
      verifyClient: async (request) => {
        await delay(30);
        return request.headers["x-token"] === "let me in";
      },
    });
    assertRefusal(await rawExchange(t, fx.port, requestHead()), 403);
    assert.equal(fx.conns.list.length, 0);
    for (const [index, [, make]] of CLIENTS.entries()) {
      const client = make(t, fx.url("/"), {
        headers: { "X-Token": "let me in" },
      });
      await client.rec.next("open");
      await fx.conns.get(index);
    }
    assert.equal(fx.server.clients.size, 2);
  });
});

describe("timeouts", () => {
  test(
    "handshake timeout: half a request and a stall → socket closed, handshakeError",
    T,
    async (t) => {
      const fx = await listen(t, { handshakeTimeout: 300 });
      const handshakeError = once(fx.server, "handshakeError", {
        timeout: 3000,
      });
      const started = now();
      const half = requestHead().subarray(0, 40);
      const res = await rawExchange(t, fx.port, half, { timeout: 3000 });
      const elapsed = now() - started;
      assert.ok(
        elapsed >= 250,
        `closed after ${elapsed.toFixed(0)} ms, not before the timeout`,
      );
      assert.ok(elapsed < 1000, `closed after ${elapsed.toFixed(0)} ms`);
      const [error, peer] = await handshakeError;
      assert.ok(error instanceof Error);
      assert.equal(peer.remoteAddress, "127.0.0.1");
      assert.equal(res.error, null, `no socket error (${res.error?.message})`);
      assert.ok(
        res.raw.length === 0 || res.status >= 400,
        `nothing or a refusal was sent, got ${JSON.stringify(res.raw.toString("latin1"))}`,
      );
      assert.equal(fx.conns.list.length, 0);
    },
  );

  test(
    "closing timeout: a peer that never answers the close is dropped (1006)",
    T,
    async (t) => {
      const fx = await listen(t, { closeTimeout: 300 });
      let closeCalled = 0;
      fx.server.on("connection", (ws) => {
        closeCalled = now();
        ws.close(1000, "bye");
      });
      const peer = await rawWebSocket(t, fx.port);
      const conn = await fx.conns.get(0);
      const close = await conn.rec.next("close", { timeout: 3000 });
      const elapsed = now() - closeCalled;
      assert.equal(close.code, 1006);
      assert.equal(close.wasClean, false);
      assert.ok(elapsed >= 250, `closed after ${elapsed.toFixed(0)} ms`);
      assert.ok(elapsed < 1000, `closed after ${elapsed.toFixed(0)} ms`);
      assert.equal(conn.ws.readyState, WebSocket.CLOSED);
      assert.equal(fx.server.clients.size, 0);
      // The peer got the close frame, then the server dropped the socket.
      await within(peer.closed, 2000, "the server dropping the raw socket");
      assert.deepEqual(
        peer.after,
        Buffer.from([0x88, 0x05, 0x03, 0xe8, ...Buffer.from("bye")]),
      );
    },
  );
});

describe("server.close()", () => {
  test(
    "closes every client with 1001 and the reason, resolves after all closed, stops listening",
    T,
    async (t) => {
      const fx = await listen(t);
      const clients = [
        ownClient(t, fx.url("/a")),
        wsClient(t, fx.url("/b")),
        ownClient(t, fx.url("/c")),
      ];
      for (const c of clients) await c.rec.next("open");
      const conns = await Promise.all([0, 1, 2].map((i) => fx.conns.get(i)));
      assert.equal(fx.server.clients.size, 3);
      let serverClosedEvents = 0;
      for (const c of conns)
        c.ws.addEventListener("close", () => serverClosedEvents++);
      let closeEmitted = false;
      fx.server.on("close", () => (closeEmitted = true));

      const result = await within(
        fx.server.close("maintenance"),
        5000,
        "server.close()",
      );
      assert.equal(result, undefined);
      assert.equal(
        serverClosedEvents,
        3,
        "every server-side close fired first",
      );
      assert.equal(closeEmitted, true, "'close' emitted");
      assert.equal(fx.server.clients.size, 0);
      for (const c of conns) {
        assert.equal(c.ws.readyState, WebSocket.CLOSED);
        // The client's reply echoes the code (its reason need not follow).
        const e = c.rec.of("close")[0];
        assert.equal(e.code, 1001);
        assert.equal(e.wasClean, true);
      }
      for (const c of clients) {
        const e = await c.rec.next("close");
        assert.equal(e.code, 1001, `${c.kind} close code`);
        assert.equal(e.reason, "maintenance");
        if (c.kind === "wasmsocket") assert.equal(e.wasClean, true);
      }

      // The listener no longer accepts connections.
      const probe = net.connect({ host: "127.0.0.1", port: fx.port });
      const [error] = await once(probe, "error", { timeout: 3000 });
      assert.equal(error.code, "ECONNREFUSED");
      probe.destroy();
      const late = ownClient(t, fx.url("/late"));
      const lateClose = await late.rec.next("close");
      assert.deepEqual(late.rec.types, ["error", "close"]);
      assert.equal(lateClose.code, 1006);
    },
  );
});

describe("no message lost on a clean close", () => {
  const COUNT = 10_000;

  for (const [name, make] of CLIENTS) {
    test(
      `server → ${name}: a burst of ${COUNT} then close(1000) in the same tick`,
      T,
      async (t) => {
        const fx = await listen(t);
        fx.server.on("connection", (ws) => {
          for (let i = 0; i < COUNT; i++) ws.send(`message ${i}`);
          ws.close(1000, "all sent");
        });
        const client = make(t, fx.url("/burst"));
        const close = await client.rec.next("close", { timeout: 15000 });
        const types = client.rec.types;
        assert.equal(types[0], "open");
        assert.equal(types.at(-1), "close");
        const messages = client.rec.of("message");
        assert.equal(messages.length, COUNT, "every message arrived");
        assert.equal(types.length, COUNT + 2, "nothing else happened");
        messages.forEach((m, i) => {
          if (m.data !== `message ${i}`)
            assert.fail(`message ${i} is ${JSON.stringify(m.data)}`);
        });
        assert.equal(close.code, 1000);
        assert.equal(close.reason, "all sent");
        if (client.kind === "wasmsocket") assert.equal(close.wasClean, true);
        const conn = await fx.conns.get(0);
        const serverClose = await conn.rec.next("close");
        assert.equal(serverClose.code, 1000);
        assert.equal(serverClose.wasClean, true);
      },
    );

    test(
      `${name} → server: a burst of ${COUNT} then close() in the same tick`,
      T,
      async (t) => {
        const fx = await listen(t);
        const got = [];
        let atClose = null;
        fx.server.on("connection", (ws) => {
          ws.addEventListener("message", (e) => got.push(e.data));
          ws.addEventListener("close", (e) => {
            atClose = { count: got.length, code: e.code, wasClean: e.wasClean };
          });
        });
        const client = make(t, fx.url("/burst"));
        await client.rec.next("open");
        for (let i = 0; i < COUNT; i++) client.send(`message ${i}`);
        client.close(1000, "all sent");
        const close = await client.rec.next("close", { timeout: 15000 });
        assert.equal(close.code, 1000);
        if (client.kind === "wasmsocket") assert.equal(close.wasClean, true);
        const conn = await fx.conns.get(0);
        const serverClose = await conn.rec.next("close");
        assert.equal(serverClose.code, 1000);
        assert.equal(serverClose.reason, "all sent");
        assert.equal(serverClose.wasClean, true);
        assert.equal(atClose.count, COUNT, "all messages arrived before close");
        got.forEach((m, i) => {
          if (m !== `message ${i}`)
            assert.fail(`message ${i} is ${JSON.stringify(m)}`);
        });
      },
    );
  }
});

describe("server-side limits", () => {
  for (const [name, make] of CLIENTS) {
    test(
      `maxMessageSize 1024: ${name} sending 2 KiB is closed with 1009`,
      T,
      async (t) => {
        const fx = await listen(t, { maxMessageSize: 1024 });
        const got = [];
        fx.server.on("connection", (ws) =>
          ws.addEventListener("message", (e) => got.push(e.data)),
        );
        const client = make(t, fx.url("/"));
        await client.rec.next("open");
        const conn = await fx.conns.get(0);
        client.send("x".repeat(1024)); // at the limit: accepted
        client.send(randomBytes(2048));
        const close = await client.rec.next("close");
        assert.equal(close.code, 1009);
        // The reason says what, not the configured limit.
        assert.equal(close.reason, "message too big");
        if (client.kind === "wasmsocket") assert.equal(close.wasClean, true);
        // The server failed the connection: as a browser does for a fault
        // it detects, its socket reports error, then close 1006.
        const serverClose = await conn.rec.next("close");
        assert.deepEqual(conn.rec.types, ["message", "error", "close"]);
        assert.match(conn.rec.of("error")[0].message, /maximum size of 1024/);
        assert.equal(serverClose.code, 1006);
        assert.equal(serverClose.wasClean, false);
        assert.equal(fx.server.clients.size, 0);
        assert.equal(got.length, 1, "the message at the limit was delivered");
        assert.equal(got[0], "x".repeat(1024));
      },
    );
  }
});
