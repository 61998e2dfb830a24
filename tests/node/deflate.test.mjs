// permessage-deflate in the package, against ws 8 with perMessageDeflate in
// both roles and against itself: what is offered and agreed, messages of
// every size both ways, the parameters, and a bomb against a small limit.

import assert from "node:assert/strict";
import { once as onceEvent } from "node:events";
import net from "node:net";
import { test } from "node:test";
import zlib from "node:zlib";

import { WebSocket as WsClient, WebSocketServer as WsServer } from "ws";

import { WebSocket, WebSocketServer } from "../../pkg/lib/node/index.js";
import { frame, within } from "./helpers.mjs";

const json = (n) =>
  JSON.stringify(
    Array.from({ length: n }, (_, i) => ({ id: i, name: `item ${i}` })),
  );
const MESSAGES = ["tiny", json(10), json(2000), json(20000)];

/** A ws server with `perMessageDeflate`, echoing; resolves once listening. */
async function wsServer(t, perMessageDeflate) {
  const wss = new WsServer({ port: 0, host: "127.0.0.1", perMessageDeflate });
  await onceEvent(wss, "listening");
  const offers = [];
  wss.on("connection", (ws, req) => {
    offers.push(req.headers["sec-websocket-extensions"]);
    ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  t.after(() => {
    for (const ws of wss.clients) ws.terminate();
    return new Promise((resolve) => wss.close(resolve));
  });
  return { url: `ws://127.0.0.1:${wss.address().port}/`, offers };
}

/** A package server with `perMessageDeflate`, echoing. */
async function packageServer(t, perMessageDeflate) {
  const wss = new WebSocketServer({
    port: 0,
    host: "127.0.0.1",
    perMessageDeflate,
  });
  await onceEvent(wss, "listening");
  wss.on("connection", (ws) => {
    ws.binaryType = "arraybuffer";
    ws.onmessage = (e) => ws.send(e.data);
  });
  t.after(() => wss.close());
  return `ws://127.0.0.1:${wss.address().port}/`;
}

/** Sends each message on a package client and checks its echo. */
async function echoes(ws, messages) {
  for (const m of messages) {
    ws.send(m);
    const [{ data }] = await onceEvent(ws, "message");
    assert.equal(data, m);
    const bytes = new TextEncoder().encode(m);
    ws.send(bytes);
    const [{ data: back }] = await onceEvent(ws, "message");
    assert.deepEqual(new Uint8Array(back), bytes);
  }
}

/** Closes a package client and waits for its close event. */
async function closed(ws) {
  ws.close();
  if (ws.readyState !== WebSocket.CLOSED) await onceEvent(ws, "close");
}

async function open(url, options) {
  const ws = new WebSocket(url, [], options);
  ws.binaryType = "arraybuffer";
  await onceEvent(ws, "open");
  return ws;
}

test("a package client offers as browsers do and talks compressed to ws", async (t) => {
  const server = await wsServer(t, true);
  const ws = await open(server.url);
  assert.equal(server.offers[0], "permessage-deflate; client_max_window_bits");
  assert.equal(ws.extensions, "permessage-deflate");
  await echoes(ws, MESSAGES);
  await closed(ws);
});

test("ws.extensions is the agreed header exactly as the server sent it", async (t) => {
  const server = await wsServer(t, {
    serverNoContextTakeover: true,
    clientNoContextTakeover: true,
    serverMaxWindowBits: 10,
    clientMaxWindowBits: 11,
  });
  const ws = await open(server.url);
  assert.equal(
    ws.extensions,
    "permessage-deflate; client_max_window_bits=11; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10",
  );
  await echoes(ws, MESSAGES);
  await closed(ws);
});

test("perMessageDeflate: false offers nothing; a ws server without it agrees nothing", async (t) => {
  const server = await wsServer(t, true);
  const ws = await open(server.url, { perMessageDeflate: false });
  assert.equal(server.offers[0], undefined);
  assert.equal(ws.extensions, "");
  await echoes(ws, MESSAGES.slice(0, 2));
  await closed(ws);
  const plain = await wsServer(t, false);
  const ws2 = await open(plain.url);
  assert.equal(ws2.extensions, "");
  await echoes(ws2, MESSAGES.slice(0, 2));
  await closed(ws2);
});

test("a ws client talks compressed to a package server, with and without context takeover", async (t) => {
  for (const [server, client] of [
    [true, true],
    [{ serverNoContextTakeover: true, clientNoContextTakeover: true }, true],
    [true, { serverMaxWindowBits: 9, clientMaxWindowBits: 12 }],
    [{ serverMaxWindowBits: 8, threshold: 0, level: 1 }, true],
  ]) {
    const url = await packageServer(t, server);
    const ws = new WsClient(url, { perMessageDeflate: client });
    await onceEvent(ws, "open");
    assert.match(ws.extensions, /^permessage-deflate/);
    for (const m of MESSAGES) {
      ws.send(m);
      const [data, isBinary] = await onceEvent(ws, "message");
      assert.equal(isBinary, false);
      assert.equal(data.toString(), m);
    }
    ws.close();
    await onceEvent(ws, "close");
  }
});

test("a package server accepts permessage-deflate only when told to", async (t) => {
  const url = await packageServer(t, undefined);
  const ws = await open(url);
  assert.equal(ws.extensions, "");
  await echoes(ws, MESSAGES.slice(0, 2));
  await closed(ws);
});

test("package to package, parameters both ways", async (t) => {
  const url = await packageServer(t, {
    serverNoContextTakeover: true,
    clientMaxWindowBits: 10,
  });
  const ws = await open(url, {
    perMessageDeflate: {
      clientNoContextTakeover: true,
      serverMaxWindowBits: 11,
    },
  });
  assert.equal(
    ws.extensions,
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=11; client_max_window_bits=10",
  );
  await echoes(ws, MESSAGES);
  await closed(ws);
});

test("invalid perMessageDeflate settings are refused at once", () => {
  for (const bad of [
    { serverMaxWindowBits: 7 },
    { clientMaxWindowBits: 16 },
    { level: 10 },
  ]) {
    assert.throws(
      () => new WebSocket("ws://127.0.0.1:1/", [], { perMessageDeflate: bad }),
      RangeError,
    );
    assert.throws(
      () => new WebSocketServer({ perMessageDeflate: bad }),
      RangeError,
    );
  }
});

test("a 256 MiB bomb against a 1 MiB limit: 1009, and the server's memory barely moves", async (t) => {
  const wss = new WebSocketServer({
    port: 0,
    host: "127.0.0.1",
    perMessageDeflate: true,
    maxMessageSize: 1 << 20,
  });
  await onceEvent(wss, "listening");
  t.after(() => wss.close());
  const errors = [];
  const serverClosed = new Promise((resolve) =>
    wss.on("connection", (ws) => {
      ws.onerror = (e) => errors.push(e.message);
      ws.onclose = resolve;
    }),
  );
  const compressed = zlib.deflateRawSync(Buffer.alloc(256 << 20), {
    level: 9,
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  });
  const bomb = compressed.subarray(0, compressed.length - 4);
  const payloadFrame = frame(0x2, bomb, { mask: [1, 2, 3, 4] });
  payloadFrame[0] |= 0x40; // RSV1: compressed
  const socket = net.connect(wss.address().port, "127.0.0.1");
  await onceEvent(socket, "connect");
  socket.write(
    "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
      "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
  );
  let got = Buffer.alloc(0);
  socket.on("data", (d) => (got = Buffer.concat([got, d])));
  await within(
    new Promise((resolve) => {
      const check = () =>
        got.includes("\r\n\r\n") ? resolve() : setTimeout(check, 5);
      check();
    }),
    2000,
    "the 101",
  );
  const before = process.memoryUsage().rss;
  socket.write(payloadFrame);
  await within(onceEvent(socket, "close"), 5000, "the server closing");
  await within(serverClosed, 1000, "the server's close event");
  const grown = (process.memoryUsage().rss - before) / (1 << 20);
  const frames = got.subarray(got.indexOf("\r\n\r\n") + 4);
  assert.equal(frames[0], 0x88, "a close frame");
  assert.equal(frames.readUInt16BE(2), 1009);
  assert.match(errors[0] ?? "", /maximum size of 1048576/);
  assert.ok(grown < 64, `RSS grew by ${grown.toFixed(1)} MiB`);
  t.diagnostic(`the bomb raised RSS by ${grown.toFixed(1)} MiB`);
});

test("the CLI: serve --deflate, connect offers by default, --trace shows RSV1 and both lengths", async (t) => {
  const { spawn } = await import("node:child_process");
  const bin = new URL("../../pkg/bin/wasmsocket.js", import.meta.url).pathname;
  const server = spawn(process.execPath, [
    bin,
    "serve",
    "--port",
    "0",
    "--deflate",
    "--trace",
  ]);
  t.after(() => server.kill());
  let out = "";
  server.stdout.on("data", (d) => (out += d));
  await within(
    new Promise((resolve) => server.stdout.once("data", resolve)),
    5000,
    "the server",
  );
  const url = /listening on (\S+)/.exec(out)[1];
  const client = spawn(process.execPath, [bin, "connect", url, "--trace"]);
  let got = "";
  client.stdout.on("data", (d) => (got += d));
  client.stdin.end(`${json(100)}\n`);
  const [code] = await within(onceEvent(client, "exit"), 5000, "the client");
  assert.equal(code, 0, got);
  assert.match(got, /connected to .* \(permessage-deflate\)/);
  assert.match(got, /→ text {3}FIN rsv=100 masked len=\d+/);
  assert.match(
    got,
    new RegExp(`→ text {3}deflated from len=${json(100).length} `),
  );
  assert.match(
    got,
    new RegExp(`← text {3}inflated to len=${json(100).length} `),
  );
  assert.match(out, /← text {3}FIN rsv=100 masked/);
});

/** The Python of the venv scripts/setup.sh makes with `websockets`. */
const PYTHON = new URL("../../target/py-websockets/bin/python", import.meta.url)
  .pathname;

test("Python websockets (compression on by default) against the package, both ways", async (t) => {
  const { spawn } = await import("node:child_process");
  const { existsSync } = await import("node:fs");
  const script = new URL("./fixtures/py_peer.py", import.meta.url).pathname;
  assert.ok(
    existsSync(PYTHON),
    "target/py-websockets is missing: scripts/setup.sh makes it (this test cannot run without it)",
  );
  // Python client, package server.
  const url = await packageServer(t, true);
  const client = spawn(PYTHON, [script, "connect", url]);
  let out = "";
  client.stdout.on("data", (d) => (out += d));
  client.stderr.on("data", (d) => (out += d));
  const [code] = await within(
    onceEvent(client, "exit"),
    20000,
    "the Python client",
  );
  assert.equal(code, 0, out);
  assert.deepEqual(JSON.parse(out), {
    extensions: ["permessage-deflate"],
    ok: true,
  });
  // Package client, Python server.
  const server = spawn(PYTHON, [script, "serve"]);
  t.after(() => server.kill());
  const [line] = await within(
    onceEvent(server.stdout, "data"),
    20000,
    "the Python server",
  );
  const { port } = JSON.parse(line);
  const ws = await open(`ws://127.0.0.1:${port}/`);
  assert.match(ws.extensions, /^permessage-deflate/);
  await echoes(ws, MESSAGES);
  await closed(ws);
});
