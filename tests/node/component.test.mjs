// wasmsocket/component: websocket.dll's API over the engine. The canonical
// loop (GetAction, carry it out, CompleteAction) over a real TCP socket, with
// the handshake's HTTP lines written and read by the test, against the
// package's own server and `ws`; two handles in memory held to the DLL's
// rules; and a hostile peer, whose garbage must fail the receive queue only
// after the close frame owed to it went out, at bounded memory.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { once as onceEvent } from "node:events";
import net from "node:net";
import { describe, test } from "node:test";

import { WebSocket as WsClient, WebSocketServer as WsServer } from "ws";

import { control, WebSocketServer } from "wasmsocket";
import {
  E_INVALID_PROTOCOL_FORMAT,
  E_INVALID_PROTOCOL_OPERATION,
  E_INVALIDARG,
  E_OUTOFMEMORY,
  E_PROTOCOL_EXTENSIONS_NOT_SUPPORTED,
  E_PROTOCOL_VERSION_NOT_SUPPORTED,
  E_SUBPROTOCOL_NOT_SUPPORTED,
  S_OK,
  WEB_SOCKET_ABORTED_CLOSE_STATUS,
  WEB_SOCKET_ALL_ACTION_QUEUE,
  WEB_SOCKET_ALLOCATED_BUFFER_PROPERTY_TYPE,
  WEB_SOCKET_BINARY_FRAGMENT_BUFFER_TYPE,
  WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE,
  WEB_SOCKET_CLOSE_BUFFER_TYPE,
  WEB_SOCKET_DISABLE_MASKING_PROPERTY_TYPE,
  WEB_SOCKET_DISABLE_UTF8_VERIFICATION_PROPERTY_TYPE,
  WEB_SOCKET_EMPTY_CLOSE_STATUS,
  WEB_SOCKET_ENDPOINT_UNAVAILABLE_CLOSE_STATUS,
  WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION,
  WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION,
  WEB_SOCKET_INVALID_DATA_TYPE_CLOSE_STATUS,
  WEB_SOCKET_INVALID_PAYLOAD_CLOSE_STATUS,
  WEB_SOCKET_KEEPALIVE_INTERVAL_PROPERTY_TYPE,
  WEB_SOCKET_MAX_CLOSE_REASON_LENGTH,
  WEB_SOCKET_MESSAGE_TOO_BIG_CLOSE_STATUS,
  WEB_SOCKET_NO_ACTION,
  WEB_SOCKET_PING_PONG_BUFFER_TYPE,
  WEB_SOCKET_POLICY_VIOLATION_CLOSE_STATUS,
  WEB_SOCKET_PROTOCOL_ERROR_CLOSE_STATUS,
  WEB_SOCKET_RECEIVE_ACTION_QUEUE,
  WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE,
  WEB_SOCKET_RECEIVE_FROM_NETWORK_ACTION,
  WEB_SOCKET_SECURE_HANDSHAKE_ERROR_CLOSE_STATUS,
  WEB_SOCKET_SEND_ACTION_QUEUE,
  WEB_SOCKET_SEND_BUFFER_SIZE_PROPERTY_TYPE,
  WEB_SOCKET_SEND_TO_NETWORK_ACTION,
  WEB_SOCKET_SERVER_ERROR_CLOSE_STATUS,
  WEB_SOCKET_SUCCESS_CLOSE_STATUS,
  WEB_SOCKET_SUPPORTED_VERSIONS_PROPERTY_TYPE,
  WEB_SOCKET_UNSOLICITED_PONG_BUFFER_TYPE,
  WEB_SOCKET_UNSUPPORTED_EXTENSIONS_CLOSE_STATUS,
  WEB_SOCKET_UTF8_FRAGMENT_BUFFER_TYPE,
  WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE,
  WebSocketAbortHandle,
  WebSocketBeginClientHandshake,
  WebSocketBeginServerHandshake,
  WebSocketCompleteAction,
  WebSocketComponentError,
  WebSocketCreateClientHandle,
  WebSocketCreateServerHandle,
  WebSocketDeleteHandle,
  WebSocketEndClientHandshake,
  WebSocketEndServerHandshake,
  WebSocketGetAction,
  WebSocketGetGlobalProperty,
  WebSocketReceive,
  WebSocketSend,
  WS_E_INVALID_FORMAT,
  WS_E_INVALID_OPERATION,
  WS_E_NUMERIC_OVERFLOW,
} from "wasmsocket/component";
import { wasm_memory } from "../../pkg/wasm/wasmsocket.js";
import { frame, within } from "./helpers.mjs";

const UTF8 = WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE;
const UTF8_FRAGMENT = WEB_SOCKET_UTF8_FRAGMENT_BUFFER_TYPE;
const BINARY = WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE;
const BINARY_FRAGMENT = WEB_SOCKET_BINARY_FRAGMENT_BUFFER_TYPE;
const CLOSE = WEB_SOCKET_CLOSE_BUFFER_TYPE;
const PING_PONG = WEB_SOCKET_PING_PONG_BUFFER_TYPE;
const ALL = WEB_SOCKET_ALL_ACTION_QUEUE;
const MASK = [0x11, 0x22, 0x33, 0x44];
const MiB = 1024 * 1024;
const WAIT = 10_000;

const utf8 = (s) => new TextEncoder().encode(s);
const text = (bytes) => new TextDecoder("utf-8", { fatal: true }).decode(bytes);
const accept = (key) =>
  createHash("sha1")
    .update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
    .digest("base64");

/** The winerror.h names of the HRESULTs, by value. */
const NAMES = new Map(
  Object.entries({
    E_INVALIDARG,
    E_OUTOFMEMORY,
    WS_E_INVALID_FORMAT,
    WS_E_NUMERIC_OVERFLOW,
    WS_E_INVALID_OPERATION,
    E_INVALID_PROTOCOL_OPERATION,
    E_INVALID_PROTOCOL_FORMAT,
    E_PROTOCOL_EXTENSIONS_NOT_SUPPORTED,
    E_SUBPROTOCOL_NOT_SUPPORTED,
    E_PROTOCOL_VERSION_NOT_SUPPORTED,
  }).map(([name, hresult]) => [hresult, name]),
);

/** Asserts that `call` throws the component's error with this HRESULT,
 * and its name as `code`. */
function throwsHresult(call, hresult) {
  const code = NAMES.get(hresult);
  assert.throws(call, (e) => {
    assert.ok(e instanceof WebSocketComponentError, `not ours: ${e}`);
    assert.ok(e instanceof Error);
    assert.equal(e.name, "WebSocketComponentError");
    assert.equal(e.hresult, hresult);
    assert.equal(e.code, code);
    assert.ok(e.message.includes(code), e.message);
    return true;
  });
}

/** How much wasm memory every handle shares, in bytes. */
const wasmMemory = () => wasm_memory().buffer.byteLength;

// ----- the canonical loop over a socket ----------------------------------

/** A net.Socket read the way the component's loop reads: what came waits
 * until a RECEIVE_FROM_NETWORK takes it. */
class Wire {
  #chunks = [];
  #ended = false;
  #wake = null;

  constructor(socket) {
    this.socket = socket;
    /** Resolves once the peer ended or the socket closed. */
    this.ended = new Promise((resolve) => socket.once("close", resolve));
    socket.on("data", (chunk) => {
      this.#chunks.push(chunk);
      this.#wake?.();
    });
    for (const event of ["end", "close"]) {
      socket.on(event, () => {
        this.#ended = true;
        this.#wake?.();
      });
    }
    socket.on("error", () => {});
  }

  async #more() {
    while (this.#chunks.length === 0 && !this.#ended) {
      await within(
        new Promise((resolve) => (this.#wake = resolve)),
        WAIT,
        "bytes from the peer",
      );
    }
  }

  /** Reads what came (waiting for some) into `buffer`; 0 at the end. */
  async readInto(buffer) {
    await this.#more();
    let n = 0;
    while (this.#chunks.length > 0 && n < buffer.length) {
      const chunk = this.#chunks[0];
      const k = Math.min(chunk.length, buffer.length - n);
      buffer.set(chunk.subarray(0, k), n);
      n += k;
      if (k === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(k);
    }
    return n;
  }

  /** An HTTP head: its first line and its header fields, in order; what
   * follows it stays to be read. */
  async head() {
    let bytes = Buffer.alloc(0);
    for (;;) {
      await this.#more();
      if (this.#chunks.length === 0) throw new Error("ended before a head");
      bytes = Buffer.concat([bytes, this.#chunks.shift()]);
      const end = bytes.indexOf("\r\n\r\n");
      if (end < 0) continue;
      if (end + 4 < bytes.length) this.#chunks.unshift(bytes.subarray(end + 4));
      const [first, ...lines] = bytes
        .subarray(0, end)
        .toString("latin1")
        .split("\r\n");
      const headers = lines.map((line) => {
        const colon = line.indexOf(":");
        return {
          name: line.slice(0, colon),
          value: line.slice(colon + 1).trim(),
        };
      });
      return { first, headers };
    }
  }

  /** Writes `bytes`; resolves with their count once the socket took them. */
  write(bytes) {
    return new Promise((resolve, reject) =>
      this.socket.write(bytes, (e) => (e ? reject(e) : resolve(bytes.length))),
    );
  }
}

/** An HTTP head from its first line and `{ name, value }` fields. */
const httpHead = (first, headers) =>
  Buffer.from(
    [first, ...headers.map((h) => `${h.name}: ${h.value}`), "", ""].join(
      "\r\n",
    ),
    "latin1",
  );

/** Carries out the next action of `queue` over `wire` and completes it. */
async function step(h, wire, queue) {
  const a = WebSocketGetAction(h, queue);
  let n = 0;
  if (a.action === WEB_SOCKET_SEND_TO_NETWORK_ACTION) {
    n = await wire.write(a.buffers[0].data);
  } else if (a.action === WEB_SOCKET_RECEIVE_FROM_NETWORK_ACTION) {
    n = await wire.readInto(a.buffers[0].data);
  }
  WebSocketCompleteAction(h, a.actionContext, n);
  return a;
}

/** WebSocketSend, then the send queue until the send is indicated
 * complete; the actions it took. */
async function send(h, wire, bufferType, buffer) {
  const context = { send: bufferType };
  WebSocketSend(h, bufferType, buffer, context);
  const actions = [];
  for (;;) {
    const a = await step(h, wire, WEB_SOCKET_SEND_ACTION_QUEUE);
    assert.notEqual(a.action, WEB_SOCKET_NO_ACTION, "the send stalled");
    assert.equal(a.applicationContext, context);
    actions.push(a);
    if (a.action === WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION) return actions;
  }
}

/** WebSocketReceive, then the receive queue until a piece is indicated;
 * `own` collects the component's own sends carried out meanwhile. */
async function receive(h, wire, own = []) {
  const context = { receive: true };
  WebSocketReceive(h, null, context);
  for (;;) {
    const a = await step(h, wire, WEB_SOCKET_RECEIVE_ACTION_QUEUE);
    assert.notEqual(a.action, WEB_SOCKET_NO_ACTION, "the receive stalled");
    if (a.action === WEB_SOCKET_SEND_TO_NETWORK_ACTION) {
      assert.equal(a.applicationContext, undefined);
      own.push(a);
      continue;
    }
    assert.equal(a.applicationContext, context);
    if (a.action === WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION) return a;
  }
}

/** Pieces received until one ends a message (or is a control's). */
async function receiveMessage(h, wire, own = []) {
  const pieces = [];
  for (;;) {
    const a = await receive(h, wire, own);
    pieces.push(a);
    if (a.bufferType !== UTF8_FRAGMENT && a.bufferType !== BINARY_FRAGMENT) {
      const empty = new Uint8Array(0);
      const data = Buffer.concat(
        pieces.map((p) => p.buffers[0]?.data ?? empty),
      );
      return { type: a.bufferType, pieces, data };
    }
  }
}

/** A client handle connected over TCP to 127.0.0.1:`port`, its opening
 * handshake done with the test's own request and status lines. */
async function connect(t, port, { protocols = [], properties } = {}) {
  const socket = net.connect({ host: "127.0.0.1", port });
  const wire = new Wire(socket);
  await onceEvent(socket, "connect");
  const h = WebSocketCreateClientHandle(properties);
  t.after(() => {
    WebSocketDeleteHandle(h);
    socket.destroy();
  });
  const host = { name: "Host", value: `127.0.0.1:${port}` };
  const added = WebSocketBeginClientHandshake(h, protocols, [], [host]);
  await wire.write(httpHead("GET /echo HTTP/1.1", [host, ...added]));
  const response = await wire.head();
  assert.match(response.first, /^HTTP\/1\.1 101 /);
  const selected = WebSocketEndClientHandshake(h, response.headers);
  return { h, wire, socket, added, selected };
}

/**
 * The peers' sides, made alike: each echoes, answers "ping me" with a ping
 * "abc" then a text "pinged", "close me" with a close 4001 "done", and
 * records pongs, messages and its close.
 */
const peers = {
  async wasmsocket(t) {
    const server = new WebSocketServer({
      port: 0,
      host: "127.0.0.1",
      handleProtocols: (offered) => offered.at(-1),
    });
    await onceEvent(server, "listening");
    t.after(async () => {
      for (const ws of server.clients) control(ws).abort();
      await server.close();
    });
    const connection = new Promise((resolve) =>
      server.once("connection", (ws) => {
        ws.binaryType = "arraybuffer";
        const peer = record();
        ws.addEventListener("pong", (e) =>
          peer.pongs.push(Buffer.from(e.data)),
        );
        ws.addEventListener("close", (e) =>
          peer.closed({ code: e.code, reason: e.reason, wasClean: e.wasClean }),
        );
        ws.addEventListener("message", ({ data }) => {
          peer.messages.push(data);
          if (data === "ping me") {
            control(ws).ping("abc");
            ws.send("pinged");
          } else if (data === "close me") ws.close(4001, "done");
          else ws.send(data);
        });
        resolve(peer);
      }),
    );
    return { port: server.address().port, connection };
  },

  async ws(t) {
    const server = new WsServer({
      port: 0,
      host: "127.0.0.1",
      handleProtocols: (offered) => [...offered].at(-1),
    });
    await onceEvent(server, "listening");
    t.after(
      () =>
        new Promise((resolve) => {
          for (const ws of server.clients) ws.terminate();
          server.close(() => resolve());
        }),
    );
    const connection = new Promise((resolve) =>
      server.once("connection", (ws) => {
        const peer = record();
        ws.on("pong", (data) => peer.pongs.push(data));
        ws.on("close", (code, reason) =>
          peer.closed({ code, reason: reason.toString(), wasClean: true }),
        );
        ws.on("message", (data, isBinary) => {
          peer.messages.push(isBinary ? data : data.toString());
          if (!isBinary && data.toString() === "ping me") {
            ws.ping("abc");
            ws.send("pinged");
          } else if (!isBinary && data.toString() === "close me") {
            ws.close(4001, "done");
          } else ws.send(data, { binary: isBinary });
        });
        ws.on("error", () => {});
        resolve(peer);
      }),
    );
    return { port: server.address().port, connection };
  },
};

/** What a peer saw: pongs, messages, and a promise of its close. */
function record() {
  let closed;
  const close = new Promise((resolve) => (closed = resolve));
  return {
    pongs: [],
    messages: [],
    closed,
    close: () => within(close, WAIT, "the peer's close"),
  };
}

for (const [name, start] of Object.entries(peers)) {
  describe(`the canonical loop over a TCP socket to ${name}'s server`, () => {
    test("the handshake by header lists picks the server's subprotocol", async (t) => {
      const server = await start(t);
      const c = await connect(t, server.port, {
        protocols: ["chat", "superchat"],
      });
      const names = c.added.map((h) => h.name.toLowerCase());
      assert.ok(names.includes("sec-websocket-key"), names.join());
      assert.ok(names.includes("sec-websocket-version"));
      assert.ok(names.includes("sec-websocket-protocol"));
      assert.deepEqual(c.selected, {
        selectedExtensions: [],
        selectedSubprotocol: 1,
      });
      await server.connection;
    });

    test("text and binary messages come back as they went", async (t) => {
      const server = await start(t);
      const c = await connect(t, server.port);
      const sent = await send(c.h, c.wire, UTF8, {
        data: utf8("héllo wörld ✓"),
      });
      assert.deepEqual(
        sent.map((a) => [a.action, a.bufferType]),
        [
          [WEB_SOCKET_SEND_TO_NETWORK_ACTION, UTF8],
          [WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION, UTF8],
        ],
      );
      // A client's frame is masked: the mask bit is set on the wire.
      assert.equal(sent[0].buffers[0].data[1] & 0x80, 0x80);
      const echoed = await receiveMessage(c.h, c.wire);
      assert.equal(echoed.type, UTF8);
      assert.equal(text(echoed.data), "héllo wörld ✓");

      const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) & 0xff);
      await send(c.h, c.wire, BINARY, { data: bytes });
      const binary = await receiveMessage(c.h, c.wire);
      assert.equal(binary.type, BINARY);
      assert.deepEqual(new Uint8Array(binary.data), bytes);
      const peer = await server.connection;
      assert.equal(peer.messages[0], "héllo wörld ✓");
    });

    test("a message bigger than the receive buffer comes as fragments, then the message", async (t) => {
      const server = await start(t);
      const c = await connect(t, server.port, {
        properties: [
          { type: WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, value: 256 },
        ],
      });
      const bytes = Uint8Array.from(
        { length: 3000 },
        (_, i) => (i * 13) & 0xff,
      );
      await send(c.h, c.wire, BINARY, { data: bytes });
      const binary = await receiveMessage(c.h, c.wire);
      const types = binary.pieces.map((p) => p.bufferType);
      assert.ok(types.length >= 12, `${types.length} pieces`);
      assert.deepEqual(
        types.slice(0, -1),
        types.slice(1).map(() => BINARY_FRAGMENT),
      );
      assert.equal(types.at(-1), BINARY);
      for (const p of binary.pieces) assert.ok(p.buffers[0].data.length <= 256);
      assert.deepEqual(new Uint8Array(binary.data), bytes);

      const long = "ünïcödé ".repeat(100);
      await send(c.h, c.wire, UTF8, { data: utf8(long) });
      const echoed = await receiveMessage(c.h, c.wire);
      assert.ok(echoed.pieces.length > 4);
      assert.ok(
        echoed.pieces.slice(0, -1).every((p) => p.bufferType === UTF8_FRAGMENT),
      );
      assert.equal(echoed.type, UTF8);
      assert.equal(text(echoed.data), long);
      // Each piece holds whole characters: it decodes on its own.
      for (const p of echoed.pieces) text(p.buffers[0].data);
    });

    test("a message sent in fragments arrives as one", async (t) => {
      const server = await start(t);
      const c = await connect(t, server.port);
      await send(c.h, c.wire, UTF8_FRAGMENT, { data: utf8("frag") });
      // The other kind cannot start inside an open message.
      throwsHresult(
        () => WebSocketSend(c.h, BINARY, { data: new Uint8Array(1) }),
        WS_E_INVALID_OPERATION,
      );
      await send(c.h, c.wire, UTF8_FRAGMENT, { data: utf8("men") });
      await send(c.h, c.wire, UTF8, { data: utf8("ted") });
      const echoed = await receiveMessage(c.h, c.wire);
      assert.equal(text(echoed.data), "fragmented");
      const peer = await server.connection;
      assert.deepEqual(peer.messages, ["fragmented"]);
    });

    test("pings: ours is answered with PING_PONG, the peer's by the component", async (t) => {
      const server = await start(t);
      const c = await connect(t, server.port);
      const sent = await send(c.h, c.wire, PING_PONG, null);
      assert.deepEqual(
        [...sent[0].buffers[0].data.subarray(0, 2)],
        [0x89, 0x80],
      );
      const pong = await receiveMessage(c.h, c.wire);
      assert.equal(pong.type, PING_PONG);
      assert.equal(pong.data.length, 0);

      // A heartbeat: the peer takes it as a pong and says nothing.
      await send(c.h, c.wire, WEB_SOCKET_UNSOLICITED_PONG_BUFFER_TYPE, null);
      await send(c.h, c.wire, UTF8, { data: utf8("ping me") });
      const own = [];
      const after = await receiveMessage(c.h, c.wire, own);
      assert.equal(text(after.data), "pinged");
      assert.equal(own.length, 1, "one pong, sent by the component");
      assert.equal(own[0].bufferType, PING_PONG);
      assert.equal(own[0].buffers[0].data[0], 0x8a);
      const peer = await server.connection;
      await within(
        (async () => {
          while (!peer.pongs.some((p) => p.toString() === "abc")) {
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
        })(),
        WAIT,
        "the pong answering the peer's ping",
      );
      assert.equal(peer.pongs.filter((p) => p.length === 0).length, 1);
    });

    test("a clean close started by the client", async (t) => {
      const server = await start(t);
      const c = await connect(t, server.port);
      const reason = utf8("bye");
      const sent = await send(c.h, c.wire, CLOSE, { status: 1000, reason });
      assert.equal(sent[0].buffers[0].data[0], 0x88);
      // Only control frames may follow a close.
      throwsHresult(
        () => WebSocketSend(c.h, UTF8, { data: utf8("late") }),
        WS_E_INVALID_OPERATION,
      );
      const answer = await receive(c.h, c.wire);
      assert.equal(answer.bufferType, CLOSE);
      assert.equal(answer.buffers[0].status, 1000);
      assert.ok(answer.buffers[0].reason instanceof Uint8Array);
      // Nothing can be received after the peer's close.
      throwsHresult(
        () => WebSocketReceive(c.h, null, 1),
        WS_E_INVALID_OPERATION,
      );
      const peer = await server.connection;
      const closed = await peer.close();
      assert.deepEqual(closed, { code: 1000, reason: "bye", wasClean: true });
      await within(c.wire.ended, WAIT, "the server ending TCP");
    });

    test("a close started by the server is answered by the application", async (t) => {
      const server = await start(t);
      const c = await connect(t, server.port);
      await send(c.h, c.wire, UTF8, { data: utf8("close me") });
      const close = await receive(c.h, c.wire);
      assert.equal(close.bufferType, CLOSE);
      assert.equal(close.buffers[0].status, 4001);
      assert.equal(text(close.buffers[0].reason), "done");
      const peer = await server.connection;
      const status = close.buffers[0].status;
      await send(c.h, c.wire, CLOSE, {
        status,
        reason: close.buffers[0].reason,
      });
      const closed = await peer.close();
      assert.equal(closed.code, 4001);
      assert.equal(closed.reason, "done");
      assert.equal(closed.wasClean, true);
    });
  });
}

test("a server handle accepts a ws client over TCP, by the test's own status line", async (t) => {
  const handles = [];
  const failures = [];
  const server = net.createServer((socket) =>
    serve(socket).catch((e) => failures.push(e)),
  );
  const serve = async (socket) => {
    const wire = new Wire(socket);
    const h = WebSocketCreateServerHandle();
    handles.push(h);
    const request = await wire.head();
    assert.match(request.first, /^GET \/chat HTTP\/1\.1$/);
    const response = WebSocketBeginServerHandshake(h, "b", [], request.headers);
    await wire.write(httpHead("HTTP/1.1 101 Switching Protocols", response));
    WebSocketEndServerHandshake(h);
    for (;;) {
      const m = await receiveMessage(h, wire);
      if (m.type === CLOSE) {
        const { status, reason } = m.pieces[0].buffers[0];
        await send(h, wire, CLOSE, { status, reason });
        socket.end();
        return;
      }
      // An unmasked server frame goes back.
      const sent = await send(h, wire, m.type, { data: m.data });
      assert.equal(sent[0].buffers[0].data[1] & 0x80, 0);
    }
  };
  server.listen(0, "127.0.0.1");
  await onceEvent(server, "listening");
  t.after(() => {
    server.close();
    handles.forEach(WebSocketDeleteHandle);
  });
  const client = new WsClient(`ws://127.0.0.1:${server.address().port}/chat`, [
    "a",
    "b",
  ]);
  await within(onceEvent(client, "open"), WAIT, "ws client open");
  assert.equal(client.protocol, "b");
  client.send("from ws");
  const [echo, isBinary] = await within(
    onceEvent(client, "message"),
    WAIT,
    "echo",
  );
  assert.equal(echo.toString(), "from ws");
  assert.equal(isBinary, false);
  client.close(1000, "over");
  const [code, reason] = await within(
    onceEvent(client, "close"),
    WAIT,
    "close",
  );
  assert.equal(code, 1000);
  assert.equal(reason.toString(), "over");
  assert.deepEqual(failures, []);
});

// ----- two handles in memory ------------------------------------------------

/** One side of an in-memory link: the bytes sent to it, the read it left
 * outstanding, what it was indicated and what failed. */
class Side {
  inbox = [];
  reading = null;
  indications = [];
  sent = [];
  errors = [];
  constructor(h) {
    this.h = h;
  }
}

/** Carries out `side`'s actions until none moves; bytes go to `peer`. */
function turn(side, peer) {
  let moved = false;
  if (side.reading !== null && side.inbox.length > 0) {
    const buffer = side.reading.buffers[0].data;
    let n = 0;
    while (side.inbox.length > 0 && n < buffer.length) {
      const chunk = side.inbox[0];
      const k = Math.min(chunk.length, buffer.length - n);
      buffer.set(chunk.subarray(0, k), n);
      n += k;
      if (k === chunk.length) side.inbox.shift();
      else side.inbox[0] = chunk.subarray(k);
    }
    WebSocketCompleteAction(side.h, side.reading.actionContext, n);
    side.reading = null;
    moved = true;
  }
  let a;
  try {
    a = WebSocketGetAction(side.h, ALL);
  } catch (e) {
    side.errors.push(e);
    return true;
  }
  switch (a.action) {
    case WEB_SOCKET_NO_ACTION:
      WebSocketCompleteAction(side.h, a.actionContext, 0);
      return moved;
    case WEB_SOCKET_SEND_TO_NETWORK_ACTION:
      peer?.inbox.push(a.buffers[0].data);
      side.sent.push(a);
      WebSocketCompleteAction(
        side.h,
        a.actionContext,
        a.buffers[0].data.length,
      );
      return true;
    case WEB_SOCKET_RECEIVE_FROM_NETWORK_ACTION:
      side.reading = a;
      return true;
    default:
      side.indications.push(a);
      WebSocketCompleteAction(side.h, a.actionContext, 0);
      return true;
  }
}

/** Runs both sides until neither moves. */
function pump(a, b) {
  for (let moved = true; moved;) moved = turn(a, b) | (b ? turn(b, a) : 0);
}

const received = (side) =>
  side.indications.filter(
    (a) => a.action === WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION,
  );

/** A client and a server handle, their handshake done in memory. */
function pair(t, { client: clientProperties, server: serverProperties } = {}) {
  const c = WebSocketCreateClientHandle(clientProperties);
  const s = WebSocketCreateServerHandle(serverProperties);
  t.after(() => [c, s].forEach(WebSocketDeleteHandle));
  const host = [{ name: "Host", value: "example.test" }];
  const added = WebSocketBeginClientHandshake(c, [], [], host);
  const response = WebSocketBeginServerHandshake(
    s,
    null,
    [],
    [...host, ...added],
  );
  WebSocketEndClientHandshake(c, response);
  WebSocketEndServerHandshake(s);
  return { client: new Side(c), server: new Side(s) };
}

describe("two handles in memory", () => {
  test("the constants have websocket.h's and winerror.h's values", () => {
    assert.deepEqual(
      [
        WEB_SOCKET_NO_ACTION,
        WEB_SOCKET_SEND_TO_NETWORK_ACTION,
        WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION,
        WEB_SOCKET_RECEIVE_FROM_NETWORK_ACTION,
        WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION,
      ],
      [0, 1, 2, 3, 4],
    );
    assert.deepEqual(
      [WEB_SOCKET_SEND_ACTION_QUEUE, WEB_SOCKET_RECEIVE_ACTION_QUEUE, ALL],
      [1, 2, 3],
    );
    assert.deepEqual(
      [UTF8, UTF8_FRAGMENT, BINARY, BINARY_FRAGMENT, CLOSE, PING_PONG],
      [0x80000000, 0x80000001, 0x80000002, 0x80000003, 0x80000004, 0x80000005],
    );
    assert.equal(WEB_SOCKET_UNSOLICITED_PONG_BUFFER_TYPE, 0x80000006);
    assert.deepEqual(
      [
        WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE,
        WEB_SOCKET_SEND_BUFFER_SIZE_PROPERTY_TYPE,
        WEB_SOCKET_DISABLE_MASKING_PROPERTY_TYPE,
        WEB_SOCKET_ALLOCATED_BUFFER_PROPERTY_TYPE,
        WEB_SOCKET_DISABLE_UTF8_VERIFICATION_PROPERTY_TYPE,
        WEB_SOCKET_KEEPALIVE_INTERVAL_PROPERTY_TYPE,
        WEB_SOCKET_SUPPORTED_VERSIONS_PROPERTY_TYPE,
      ],
      [0, 1, 2, 3, 4, 5, 6],
    );
    assert.deepEqual(
      [
        WEB_SOCKET_SUCCESS_CLOSE_STATUS,
        WEB_SOCKET_ENDPOINT_UNAVAILABLE_CLOSE_STATUS,
        WEB_SOCKET_PROTOCOL_ERROR_CLOSE_STATUS,
        WEB_SOCKET_INVALID_DATA_TYPE_CLOSE_STATUS,
        WEB_SOCKET_EMPTY_CLOSE_STATUS,
        WEB_SOCKET_ABORTED_CLOSE_STATUS,
        WEB_SOCKET_INVALID_PAYLOAD_CLOSE_STATUS,
        WEB_SOCKET_POLICY_VIOLATION_CLOSE_STATUS,
        WEB_SOCKET_MESSAGE_TOO_BIG_CLOSE_STATUS,
        WEB_SOCKET_UNSUPPORTED_EXTENSIONS_CLOSE_STATUS,
        WEB_SOCKET_SERVER_ERROR_CLOSE_STATUS,
        WEB_SOCKET_SECURE_HANDSHAKE_ERROR_CLOSE_STATUS,
        WEB_SOCKET_MAX_CLOSE_REASON_LENGTH,
      ],
      [
        1000, 1001, 1002, 1003, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1015,
        123,
      ],
    );
    const hex = (h) => (h >>> 0).toString(16);
    assert.equal(S_OK, 0);
    assert.deepEqual(
      [
        E_INVALIDARG,
        E_OUTOFMEMORY,
        WS_E_INVALID_FORMAT,
        WS_E_NUMERIC_OVERFLOW,
        WS_E_INVALID_OPERATION,
        E_INVALID_PROTOCOL_OPERATION,
        E_INVALID_PROTOCOL_FORMAT,
        E_PROTOCOL_EXTENSIONS_NOT_SUPPORTED,
        E_SUBPROTOCOL_NOT_SUPPORTED,
        E_PROTOCOL_VERSION_NOT_SUPPORTED,
      ].map(hex),
      [
        "80070057",
        "8007000e",
        "803d0000",
        "803d0002",
        "803d0003",
        "83760001",
        "83760002",
        "83760003",
        "83760004",
        "83760005",
      ],
    );
    // Signed, as C sees an HRESULT.
    assert.ok(E_INVALIDARG < 0 && E_INVALID_PROTOCOL_FORMAT < 0);
  });

  test("bad properties are E_INVALIDARG; good ones size the buffers", () => {
    const bad = [
      "not a list",
      [{ type: WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, value: 255 }],
      [{ type: WEB_SOCKET_SEND_BUFFER_SIZE_PROPERTY_TYPE, value: 255 }],
      [{ type: WEB_SOCKET_KEEPALIVE_INTERVAL_PROPERTY_TYPE, value: 30000 }],
      [{ type: WEB_SOCKET_SUPPORTED_VERSIONS_PROPERTY_TYPE, value: 13 }],
      [{ type: 99, value: 1 }],
      [{ type: WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, value: "4096" }],
      [{ type: WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, value: 4096.5 }],
      // Must be larger than receive + send + 256 bytes.
      [
        {
          type: WEB_SOCKET_ALLOCATED_BUFFER_PROPERTY_TYPE,
          value: new ArrayBuffer(8448),
        },
      ],
      [{ type: WEB_SOCKET_ALLOCATED_BUFFER_PROPERTY_TYPE, value: 8449 }],
      [null],
    ];
    for (const properties of bad) {
      throwsHresult(
        () => WebSocketCreateClientHandle(properties),
        E_INVALIDARG,
      );
    }
    // A server's send buffer may be as small as its default, 16.
    const small = [
      { type: WEB_SOCKET_SEND_BUFFER_SIZE_PROPERTY_TYPE, value: 16 },
    ];
    throwsHresult(() => WebSocketCreateClientHandle(small), E_INVALIDARG);
    WebSocketDeleteHandle(WebSocketCreateServerHandle(small));
  });

  test("the network is read into the receive buffer, or the allocated one", (t) => {
    const allocated = new ArrayBuffer(300 + 4096 + 256 + 8);
    const { client, server } = pair(t, {
      client: [
        { type: WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, value: 300 },
        { type: WEB_SOCKET_ALLOCATED_BUFFER_PROPERTY_TYPE, value: allocated },
      ],
      server: [
        { type: WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE, value: 1000 },
      ],
    });
    WebSocketReceive(client.h, null, "c");
    WebSocketReceive(server.h, null, "s");
    pump(client, server);
    assert.equal(client.reading.buffers[0].data.length, 300);
    assert.equal(client.reading.buffers[0].data.buffer, allocated);
    assert.equal(client.reading.bufferType, undefined);
    assert.equal(server.reading.buffers[0].data.length, 1000);
  });

  test("handshake errors: their HRESULTs, and a failed handle is done", (t) => {
    const c = WebSocketCreateClientHandle();
    const s = WebSocketCreateServerHandle();
    t.after(() => [c, s].forEach(WebSocketDeleteHandle));
    const host = { name: "Host", value: "example.test" };
    const invalid = (call) => throwsHresult(call, WS_E_INVALID_OPERATION);
    invalid(() => WebSocketEndClientHandshake(c, []));
    invalid(() => WebSocketBeginServerHandshake(c, null, [], [host]));
    invalid(() => WebSocketBeginClientHandshake(s, [], [], [host]));
    invalid(() => WebSocketEndServerHandshake(s));
    throwsHresult(
      () =>
        WebSocketBeginClientHandshake(
          c,
          [],
          [],
          [{ name: "Origin", value: "x" }],
        ),
      E_INVALIDARG,
    );
    for (const [protocols, headers] of [
      [["a b"], [host]],
      [["chat", "chat"], [host]],
      [[], [host, { name: "Bad Name", value: "x" }]],
      [[], [host, { name: "X-Ok", value: "line\r\nbreak" }]],
    ]) {
      throwsHresult(
        () => WebSocketBeginClientHandshake(c, protocols, [], headers),
        WS_E_INVALID_FORMAT,
      );
    }
    throwsHresult(
      () => WebSocketBeginClientHandshake(c, [1], [], [host]),
      E_INVALIDARG,
    );

    const offered = ["permessage-deflate; client_max_window_bits", "x-test"];
    const added = WebSocketBeginClientHandshake(c, ["one", "two"], offered, [
      host,
    ]);
    const request = [host, ...added];
    const server = () => {
      const h = WebSocketCreateServerHandle();
      t.after(() => WebSocketDeleteHandle(h));
      return h;
    };
    throwsHresult(
      () => WebSocketBeginServerHandshake(server(), "three", [], request),
      E_SUBPROTOCOL_NOT_SUPPORTED,
    );
    throwsHresult(
      () => WebSocketBeginServerHandshake(server(), null, ["x-other"], request),
      E_PROTOCOL_EXTENSIONS_NOT_SUPPORTED,
    );
    const old = request.map((h) =>
      h.name === "Sec-WebSocket-Version" ? { ...h, value: "8" } : h,
    );
    throwsHresult(
      () => WebSocketBeginServerHandshake(server(), null, [], old),
      E_PROTOCOL_VERSION_NOT_SUPPORTED,
    );

    const response = WebSocketBeginServerHandshake(
      s,
      "two",
      ["x-test"],
      request,
    );
    assert.ok(response.some((h) => h.name === "Sec-WebSocket-Accept"));
    const forged = response.map((h) =>
      h.name === "Sec-WebSocket-Accept" ? { ...h, value: accept("other") } : h,
    );
    const failed = WebSocketCreateClientHandle();
    t.after(() => WebSocketDeleteHandle(failed));
    WebSocketBeginClientHandshake(failed, ["one", "two"], offered, [host]);
    throwsHresult(
      () => WebSocketEndClientHandshake(failed, forged),
      E_INVALID_PROTOCOL_FORMAT,
    );
    invalid(() => WebSocketSend(failed, UTF8, { data: utf8("no") }));
    invalid(() => WebSocketGetAction(failed, ALL));

    assert.deepEqual(WebSocketEndClientHandshake(c, response), {
      selectedExtensions: [1],
      selectedSubprotocol: 1,
    });
  });

  test("Send, Receive and GetAction wait for the handshake", () => {
    const c = WebSocketCreateClientHandle();
    const s = WebSocketCreateServerHandle();
    const invalid = (call) => throwsHresult(call, WS_E_INVALID_OPERATION);
    for (const h of [c, s]) {
      invalid(() => WebSocketSend(h, UTF8, { data: utf8("early") }));
      invalid(() => WebSocketReceive(h, null));
      invalid(() => WebSocketGetAction(h, ALL));
      WebSocketDeleteHandle(h);
    }
  });

  test("one send and one receive at a time", (t) => {
    const { client, server } = pair(t);
    WebSocketSend(client.h, UTF8, { data: utf8("one") }, 1);
    throwsHresult(
      () => WebSocketSend(client.h, UTF8, { data: utf8("two") }, 2),
      WS_E_INVALID_OPERATION,
    );
    WebSocketReceive(server.h, null, "r1");
    throwsHresult(
      () => WebSocketReceive(server.h, null, "r2"),
      WS_E_INVALID_OPERATION,
    );
    pump(client, server);
    assert.deepEqual(
      client.indications.map((a) => [a.action, a.applicationContext]),
      [[WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION, 1]],
    );
    // Indicated complete: the next may go.
    WebSocketSend(client.h, UTF8, { data: utf8("two") }, 2);
    WebSocketReceive(server.h, null, "r2");
    pump(client, server);
    assert.deepEqual(
      received(server).map((a) => [
        a.applicationContext,
        text(a.buffers[0].data),
      ]),
      [
        ["r1", "one"],
        ["r2", "two"],
      ],
    );
  });

  test("after a CLOSE only pings and pongs may be sent; nothing is received after the peer's", (t) => {
    const { client, server } = pair(t);
    const reason = utf8("going");
    WebSocketSend(client.h, CLOSE, { status: 1001, reason }, "close");
    pump(client, server);
    const invalid = (call) => throwsHresult(call, WS_E_INVALID_OPERATION);
    invalid(() => WebSocketSend(client.h, UTF8, { data: utf8("late") }));
    invalid(() =>
      WebSocketSend(client.h, BINARY_FRAGMENT, { data: utf8("late") }),
    );
    invalid(() => WebSocketSend(client.h, CLOSE, { status: 1000 }));
    WebSocketSend(client.h, PING_PONG, null, "ping");
    pump(client, server);
    assert.equal(client.sent.at(-1).buffers[0].data[0], 0x89);
    assert.deepEqual(
      client.indications.map((a) => a.applicationContext),
      ["close", "ping"],
    );

    WebSocketReceive(server.h, null, "r");
    pump(client, server);
    const [close] = received(server);
    assert.equal(close.bufferType, CLOSE);
    assert.equal(close.buffers[0].status, 1001);
    assert.equal(text(close.buffers[0].reason), "going");
    invalid(() => WebSocketReceive(server.h, null));
    // The component does not answer a close: the server sends its own.
    assert.equal(server.sent.length, 0);
    WebSocketSend(
      server.h,
      CLOSE,
      { status: WEB_SOCKET_EMPTY_CLOSE_STATUS },
      "answer",
    );
    WebSocketReceive(client.h, null, "r");
    pump(client, server);
    const [answer] = received(client);
    assert.equal(answer.bufferType, CLOSE);
    assert.equal(answer.buffers[0].status, WEB_SOCKET_EMPTY_CLOSE_STATUS);
    assert.equal(answer.buffers[0].reason.length, 0);
  });

  test("bad sends: close status and reason, text, buffers", (t) => {
    const { client } = pair(t);
    const check = (buffer, hresult, type = CLOSE) =>
      throwsHresult(() => WebSocketSend(client.h, type, buffer), hresult);
    const long = new Uint8Array(WEB_SOCKET_MAX_CLOSE_REASON_LENGTH + 1).fill(
      0x61,
    );
    check({ status: 1000, reason: long }, E_INVALIDARG);
    check({ status: 1000, reason: Uint8Array.of(0xff) }, WS_E_INVALID_FORMAT);
    check({ status: 1005, reason: utf8("x") }, E_INVALIDARG);
    check({ status: 999 }, E_INVALIDARG);
    check({ status: WEB_SOCKET_ABORTED_CLOSE_STATUS }, E_INVALIDARG);
    check({ status: 70000 }, E_INVALIDARG);
    check(null, E_INVALIDARG);
    check({ data: utf8("x") }, E_INVALIDARG);
    check({ data: Uint8Array.of(0xc3, 0x28) }, WS_E_INVALID_FORMAT, UTF8);
    check({ data: "a string" }, E_INVALIDARG, UTF8);
    check(null, E_INVALIDARG, BINARY);
    check({ data: utf8("x") }, E_INVALIDARG, PING_PONG);
    check({ status: 1000 }, E_INVALIDARG, BINARY);
    check({ data: utf8("x") }, E_INVALIDARG, 0x80000007);
    check({ data: utf8("x") }, E_INVALIDARG, 1.5);
    // Text split inside a character is whole once its message ends.
    WebSocketSend(client.h, UTF8_FRAGMENT, { data: Uint8Array.of(0xc3) });
    pump(client, null);
    WebSocketSend(client.h, UTF8, { data: Uint8Array.of(0xa9) });
    pump(client, null);
    assert.equal(client.indications.length, 2);
    WebSocketSend(client.h, UTF8_FRAGMENT, { data: Uint8Array.of(0xc3) });
    pump(client, null);
    check({ data: Uint8Array.of(0x41) }, WS_E_INVALID_FORMAT, UTF8);
    // The signed spelling of a buffer type is the same type.
    WebSocketSend(client.h, UTF8 | 0, { data: Uint8Array.of(0xa9) });
  });

  test("received data goes into the application's buffer, in pieces that fit it", (t) => {
    const { client, server } = pair(t);
    const bytes = Uint8Array.from({ length: 100 }, (_, i) => i);
    WebSocketSend(server.h, BINARY, { data: bytes });
    pump(client, server);
    const mine = new Uint8Array(40);
    for (let i = 0; i < 3; i++) {
      WebSocketReceive(client.h, { data: mine }, i);
      pump(client, server);
    }
    const pieces = received(client);
    assert.deepEqual(
      pieces.map((a) => [
        a.bufferType,
        a.buffers[0].data.length,
        a.applicationContext,
      ]),
      [
        [BINARY_FRAGMENT, 40, 0],
        [BINARY_FRAGMENT, 40, 1],
        [BINARY, 20, 2],
      ],
    );
    for (const a of pieces) assert.equal(a.buffers[0].data.buffer, mine.buffer);
    assert.deepEqual([...mine.subarray(0, 20)], [...bytes.subarray(80)]);
    // A control frame's payload is never cut: a longer one comes whole, in
    // an array of its own.
    client.inbox.push(frame(10, Buffer.alloc(100, 0x61)));
    WebSocketReceive(client.h, { data: mine }, "pong");
    pump(client, server);
    const pong = received(client).at(-1);
    assert.equal(pong.bufferType, WEB_SOCKET_UNSOLICITED_PONG_BUFFER_TYPE);
    assert.equal(pong.buffers[0].data.length, 100);
    assert.notEqual(pong.buffers[0].data.buffer, mine.buffer);
    throwsHresult(
      () => WebSocketReceive(client.h, { data: new Uint8Array(0) }),
      E_INVALIDARG,
    );
  });

  test("application contexts come back as given; the component's own carry none", (t) => {
    const { client, server } = pair(t);
    const context = { any: ["js", "value"] };
    WebSocketSend(client.h, PING_PONG, null, context);
    WebSocketReceive(server.h, null, context);
    pump(client, server);
    const [sent] = client.indications;
    assert.equal(sent.applicationContext, context);
    // The server's pong came through its receive queue, with no context.
    assert.equal(server.sent.length, 1);
    assert.equal(server.sent[0].applicationContext, undefined);
    assert.equal(server.sent[0].bufferType, PING_PONG);
    WebSocketReceive(client.h, null, "pong");
    pump(client, server);
    const [pong] = received(client);
    assert.equal(pong.bufferType, PING_PONG);
    assert.equal(pong.applicationContext, "pong");
  });

  test("DISABLE_MASKING: a client masks with the key 0, a server takes unmasked frames", (t) => {
    const off = [
      { type: WEB_SOCKET_DISABLE_MASKING_PROPERTY_TYPE, value: true },
    ];
    // As documented: the client keeps the mask bit and sets the key to 0,
    // so a server that was not told accepts its frames too.
    const { client, server } = pair(t, { client: off });
    WebSocketSend(client.h, UTF8, { data: utf8("plain") });
    WebSocketReceive(server.h, null);
    pump(client, server);
    assert.deepEqual(
      [...client.sent[0].buffers[0].data.subarray(1, 6)],
      [0x85, 0, 0, 0, 0],
    );
    assert.equal(text(received(server)[0].buffers[0].data), "plain");
    // A server told so accepts an unmasked frame; one that was not refuses it.
    const unmasked = new Uint8Array([0x81, 0x05, ...utf8("plain")]);
    for (const [serverProperties, accepted] of [
      [off, true],
      [[], false],
    ]) {
      const { server } = pair(t, { server: serverProperties });
      WebSocketReceive(server.h, null);
      const read = WebSocketGetAction(server.h, ALL);
      assert.equal(read.action, WEB_SOCKET_RECEIVE_FROM_NETWORK_ACTION);
      read.buffers[0].data.set(unmasked);
      WebSocketCompleteAction(server.h, read.actionContext, unmasked.length);
      let outcome;
      for (let i = 0; i < 4 && outcome === undefined; i++) {
        try {
          const a = WebSocketGetAction(server.h, ALL);
          WebSocketCompleteAction(
            server.h,
            a.actionContext,
            a.buffers[0]?.data.length ?? 0,
          );
          if (a.action === WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION)
            outcome = text(a.buffers[0].data);
        } catch (e) {
          outcome = e.hresult;
        }
      }
      assert.equal(outcome, accepted ? "plain" : E_INVALID_PROTOCOL_OPERATION);
    }
  });

  test("WebSocketAbortHandle drains what was queued and refuses what follows", (t) => {
    const { client } = pair(t);
    const early = WebSocketCreateClientHandle();
    WebSocketAbortHandle(early); // before the handshake: nothing happens
    WebSocketBeginClientHandshake(
      early,
      [],
      [],
      [{ name: "Host", value: "h" }],
    );
    WebSocketDeleteHandle(early);

    WebSocketSend(client.h, BINARY, { data: new Uint8Array(10) }, "send");
    WebSocketReceive(client.h, null, "receive");
    WebSocketAbortHandle(client.h);
    const drained = [];
    for (;;) {
      const a = WebSocketGetAction(client.h, ALL);
      WebSocketCompleteAction(client.h, a.actionContext, 0);
      if (a.action === WEB_SOCKET_NO_ACTION) break;
      drained.push(a);
    }
    assert.deepEqual(
      drained.map((a) => [a.action, a.applicationContext, a.buffers.length]),
      [
        [WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION, "send", 0],
        [WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION, "receive", 0],
      ],
    );
    assert.equal(drained[1].bufferType, undefined);
    throwsHresult(
      () => WebSocketSend(client.h, BINARY, { data: new Uint8Array(1) }),
      WS_E_INVALID_OPERATION,
    );
    throwsHresult(
      () => WebSocketReceive(client.h, null),
      WS_E_INVALID_OPERATION,
    );
  });

  test("a short SEND_TO_NETWORK aborts; a RECEIVE_FROM_NETWORK of 0 cancels", (t) => {
    const { client } = pair(t);
    WebSocketReceive(client.h, null, "r");
    let a = WebSocketGetAction(client.h, ALL);
    assert.equal(a.action, WEB_SOCKET_RECEIVE_FROM_NETWORK_ACTION);
    WebSocketCompleteAction(client.h, a.actionContext, 0);
    a = WebSocketGetAction(client.h, ALL);
    assert.equal(a.action, WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION);
    assert.equal(a.applicationContext, "r");
    assert.deepEqual(a.buffers, []);
    WebSocketCompleteAction(client.h, a.actionContext, 0);
    WebSocketReceive(client.h, null, "again");

    WebSocketSend(client.h, UTF8, { data: utf8("cut") }, "s");
    a = WebSocketGetAction(client.h, WEB_SOCKET_SEND_ACTION_QUEUE);
    assert.equal(a.action, WEB_SOCKET_SEND_TO_NETWORK_ACTION);
    // A stale context and a context of NO_ACTION are ignored.
    WebSocketCompleteAction(client.h, a.actionContext + 100, 0);
    WebSocketCompleteAction(client.h, 0, 0);
    WebSocketCompleteAction(
      client.h,
      a.actionContext,
      a.buffers[0].data.length - 1,
    );
    a = WebSocketGetAction(client.h, WEB_SOCKET_SEND_ACTION_QUEUE);
    assert.equal(a.action, WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION);
    WebSocketCompleteAction(client.h, a.actionContext, 0);
    throwsHresult(
      () => WebSocketSend(client.h, UTF8, { data: utf8("more") }),
      WS_E_INVALID_OPERATION,
    );
    throwsHresult(() => WebSocketCompleteAction(client.h, 1, -1), E_INVALIDARG);
  });

  test("a deleted handle refuses every call; other values are not handles", () => {
    const h = WebSocketCreateClientHandle();
    WebSocketDeleteHandle(h);
    WebSocketDeleteHandle(h); // again: nothing
    const calls = [
      () =>
        WebSocketBeginClientHandshake(
          h,
          [],
          [],
          [{ name: "Host", value: "h" }],
        ),
      () => WebSocketEndClientHandshake(h, []),
      () => WebSocketBeginServerHandshake(h, null, [], []),
      () => WebSocketEndServerHandshake(h),
      () => WebSocketSend(h, UTF8, { data: utf8("x") }),
      () => WebSocketReceive(h, null),
      () => WebSocketGetAction(h, ALL),
      () => WebSocketCompleteAction(h, 1, 0),
      () => WebSocketAbortHandle(h),
    ];
    for (const call of calls) {
      throwsHresult(call, WS_E_INVALID_OPERATION);
    }
    for (const notHandle of [{}, null, 1]) {
      throwsHresult(() => WebSocketGetAction(notHandle, ALL), E_INVALIDARG);
      throwsHresult(() => WebSocketDeleteHandle(notHandle), E_INVALIDARG);
    }
    const other = WebSocketCreateServerHandle();
    assert.equal(String(other), "[object WebSocketHandle]");
    WebSocketDeleteHandle(other);
  });

  test("WebSocketGetGlobalProperty: keep-alive and versions; nothing else", () => {
    assert.equal(
      WebSocketGetGlobalProperty(WEB_SOCKET_KEEPALIVE_INTERVAL_PROPERTY_TYPE),
      30000,
    );
    assert.deepEqual(
      WebSocketGetGlobalProperty(WEB_SOCKET_SUPPORTED_VERSIONS_PROPERTY_TYPE),
      [13],
    );
    for (const type of [
      WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE,
      7,
      -1,
      "5",
    ]) {
      throwsHresult(() => WebSocketGetGlobalProperty(type), E_INVALIDARG);
    }
  });
});

// ----- a hostile peer ---------------------------------------------------------

/** A server handle whose handshake with a client's request is done. */
function accepted(t) {
  const h = WebSocketCreateServerHandle();
  t.after(() => WebSocketDeleteHandle(h));
  WebSocketBeginServerHandshake(
    h,
    null,
    [],
    [
      { name: "Host", value: "x" },
      { name: "Upgrade", value: "websocket" },
      { name: "Connection", value: "Upgrade" },
      { name: "Sec-WebSocket-Key", value: "dGhlIHNhbXBsZSBub25jZQ==" },
      { name: "Sec-WebSocket-Version", value: "13" },
    ],
  );
  return h;
}

/** A server handle fed `bytes` as from a client, by a receive loop that runs
 * until it fails or stalls: what it sent, indicated and threw, in order. */
function feed(t, bytes) {
  const h = accepted(t);
  const log = [];
  let input = Buffer.from(bytes);
  WebSocketReceive(h, null, "r");
  for (let i = 0; i < 100; i++) {
    let a;
    try {
      a = WebSocketGetAction(h, WEB_SOCKET_RECEIVE_ACTION_QUEUE);
    } catch (e) {
      log.push(e);
      return log;
    }
    let n = 0;
    if (a.action === WEB_SOCKET_RECEIVE_FROM_NETWORK_ACTION) {
      if (input.length === 0) return log; // stalled
      n = Math.min(input.length, a.buffers[0].data.length);
      a.buffers[0].data.set(input.subarray(0, n));
      input = input.subarray(n);
    } else if (a.action === WEB_SOCKET_SEND_TO_NETWORK_ACTION) {
      n = a.buffers[0].data.length;
      log.push(a);
    } else if (a.action === WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION) {
      log.push(a);
    }
    WebSocketCompleteAction(h, a.actionContext, n);
    if (a.action === WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION) {
      WebSocketReceive(h, null, "r");
    }
  }
  throw new Error("the loop did not end");
}

/** The close status of a close frame's bytes. */
const statusOf = (bytes) => (bytes[2] << 8) | bytes[3];

describe("a hostile peer", () => {
  const cases = [
    ["an unmasked frame", frame(1, "x"), E_INVALID_PROTOCOL_OPERATION, 1002],
    [
      "a reserved opcode",
      frame(3, "x", { mask: MASK }),
      E_INVALID_PROTOCOL_OPERATION,
      1002,
    ],
    [
      "a continuation first",
      frame(0, "x", { mask: MASK }),
      E_INVALID_PROTOCOL_OPERATION,
      1002,
    ],
    [
      "a fragmented ping",
      frame(9, "x", { mask: MASK, fin: false }),
      E_INVALID_PROTOCOL_OPERATION,
      1002,
    ],
    [
      "RSV bits with no extension",
      (() => {
        const f = frame(1, "x", { mask: MASK });
        f[0] |= 0x40;
        return f;
      })(),
      E_INVALID_PROTOCOL_OPERATION,
      1002,
    ],
    [
      "text that is not UTF-8",
      frame(1, Buffer.from([0xc3, 0x28]), { mask: MASK }),
      E_INVALID_PROTOCOL_FORMAT,
      1007,
    ],
    [
      "a close frame one byte long",
      frame(8, Buffer.from([3]), { mask: MASK }),
      E_INVALID_PROTOCOL_FORMAT,
      1002,
    ],
    [
      "a close with a code not for the wire",
      frame(8, Buffer.from([3, 0xee]), { mask: MASK }),
      E_INVALID_PROTOCOL_FORMAT,
      1002,
    ],
  ];
  for (const [what, garbage, hresult, status] of cases) {
    test(`${what}: the close frame goes out first, then GetAction throws`, (t) => {
      const before = frame(1, "before", { mask: MASK });
      const log = feed(t, Buffer.concat([before, garbage]));
      const [close, message, error, ...rest] = log;
      assert.equal(close.action, WEB_SOCKET_SEND_TO_NETWORK_ACTION);
      assert.equal(close.bufferType, CLOSE);
      assert.equal(close.applicationContext, undefined);
      assert.equal(close.buffers[0].data[0], 0x88);
      assert.equal(statusOf(close.buffers[0].data), status);
      assert.equal(message.bufferType, UTF8);
      assert.equal(text(message.buffers[0].data), "before");
      assert.ok(error instanceof WebSocketComponentError, String(error));
      assert.equal(error.hresult, hresult);
      assert.equal(error.operation, "WebSocketGetAction");
      assert.deepEqual(rest, []);
    });
  }

  test("after the failure, the handle receives no more", (t) => {
    const h = accepted(t);
    WebSocketReceive(h, null);
    let a = WebSocketGetAction(h, ALL);
    const unmasked = frame(1, "x");
    a.buffers[0].data.set(unmasked);
    WebSocketCompleteAction(h, a.actionContext, unmasked.length);
    a = WebSocketGetAction(h, ALL);
    assert.equal(a.bufferType, CLOSE);
    WebSocketCompleteAction(h, a.actionContext, a.buffers[0].data.length);
    throwsHresult(
      () => WebSocketGetAction(h, ALL),
      E_INVALID_PROTOCOL_OPERATION,
    );
    throwsHresult(() => WebSocketReceive(h, null), WS_E_INVALID_OPERATION);
    // Reported once: then there is nothing left to do.
    assert.equal(WebSocketGetAction(h, ALL).action, WEB_SOCKET_NO_ACTION);
  });

  test("a peer flooding pings is answered ping by ping at bounded memory", (t) => {
    const ping = frame(9, Buffer.alloc(125, 0x70), { mask: MASK });
    const chunk = Buffer.concat(Array.from({ length: 64 }, () => ping));
    const rounds = 1000; // 64,000 pings, 8.5 MB
    const h = accepted(t);
    WebSocketReceive(h, null, "r");
    const start = wasmMemory();
    let input = Buffer.alloc(0);
    let fed = 0;
    let pongBytes = 0;
    let largestPongs = 0;
    for (;;) {
      const a = WebSocketGetAction(h, ALL);
      let n = 0;
      if (a.action === WEB_SOCKET_RECEIVE_FROM_NETWORK_ACTION) {
        if (input.length === 0 && fed === rounds) {
          WebSocketCompleteAction(h, a.actionContext, 0);
          break;
        }
        if (input.length === 0) {
          input = chunk;
          fed++;
        }
        n = Math.min(input.length, a.buffers[0].data.length);
        a.buffers[0].data.set(input.subarray(0, n));
        input = input.subarray(n);
      } else if (a.action === WEB_SOCKET_SEND_TO_NETWORK_ACTION) {
        n = a.buffers[0].data.length;
        pongBytes += n;
        largestPongs = Math.max(largestPongs, n);
        assert.equal(a.bufferType, PING_PONG);
      } else {
        assert.fail(`unexpected action ${a.action}`);
      }
      WebSocketCompleteAction(h, a.actionContext, n);
    }
    assert.equal(
      pongBytes,
      rounds * 64 * 127,
      "a pong of 125 bytes for each ping",
    );
    assert.ok(largestPongs <= 8192, `${largestPongs} bytes of pongs at once`);
    const grown = wasmMemory() - start;
    assert.ok(grown <= MiB, `wasm memory grew by ${grown} bytes`);
  });

  test("a huge message is handed over piece by piece at bounded memory", (t) => {
    const size = 48 * MiB;
    const header = frame(2, Buffer.alloc(0), { mask: MASK, length: size });
    const slab = Buffer.alloc(MiB);
    for (let i = 0; i < slab.length; i++) slab[i] = (i & 0xff) ^ MASK[i & 3];
    const h = accepted(t);
    const start = wasmMemory();
    let sent = 0;
    let got = 0;
    let pieces = 0;
    let checked = true;
    let last;
    let input = header;
    for (;;) {
      WebSocketReceive(h, null);
      let a = WebSocketGetAction(h, ALL);
      while (a.action === WEB_SOCKET_RECEIVE_FROM_NETWORK_ACTION) {
        if (input.length === 0) {
          input = slab.subarray(0, Math.min(MiB, size - sent));
          sent += input.length;
        }
        const n = Math.min(input.length, a.buffers[0].data.length);
        a.buffers[0].data.set(input.subarray(0, n));
        input = input.subarray(n);
        WebSocketCompleteAction(h, a.actionContext, n);
        a = WebSocketGetAction(h, ALL);
      }
      assert.equal(a.action, WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION);
      const data = a.buffers[0].data;
      assert.ok(data.length <= 4096);
      // Spot-check the unmasked bytes against their place in the message.
      if (data.length > 0 && data[0] !== (got & 0xff)) checked = false;
      got += data.length;
      pieces++;
      last = a.bufferType;
      WebSocketCompleteAction(h, a.actionContext, 0);
      if (last !== BINARY_FRAGMENT) break;
    }
    assert.equal(last, BINARY);
    assert.equal(got, size);
    assert.ok(checked, "the payload was unmasked in place");
    assert.ok(pieces >= size / 4096);
    const grown = wasmMemory() - start;
    assert.ok(grown <= MiB, `wasm memory grew by ${grown} bytes`);
  });

  test("over TCP: a server's garbage after a good message, to a client handle", async (t) => {
    let closeFrame;
    const server = net.createServer(async (socket) => {
      const wire = new Wire(socket);
      const request = await wire.head();
      const key = request.headers.find((h) =>
        /^sec-websocket-key$/i.test(h.name),
      );
      await wire.write(
        httpHead("HTTP/1.1 101 Switching Protocols", [
          { name: "Upgrade", value: "websocket" },
          { name: "Connection", value: "Upgrade" },
          { name: "Sec-WebSocket-Accept", value: accept(key.value) },
        ]),
      );
      await wire.write(
        Buffer.concat([frame(1, "good"), frame(1, "bad", { mask: MASK })]),
      );
      const read = new Uint8Array(64);
      const n = await wire.readInto(read);
      closeFrame = read.slice(0, n);
      socket.end();
    });
    server.listen(0, "127.0.0.1");
    await onceEvent(server, "listening");
    t.after(() => server.close());
    const c = await connect(t, server.address().port);
    const own = [];
    const good = await receiveMessage(c.h, c.wire, own);
    assert.equal(text(good.data), "good");
    await assert.rejects(receive(c.h, c.wire, own), (e) => {
      assert.equal(e.hresult, E_INVALID_PROTOCOL_OPERATION);
      assert.equal(e.code, "E_INVALID_PROTOCOL_OPERATION");
      return true;
    });
    assert.equal(own.length, 1);
    assert.equal(own[0].bufferType, CLOSE);
    await within(c.wire.ended, WAIT, "the server ending TCP");
    // What the server read: a masked close frame with 1002.
    assert.equal(closeFrame[0], 0x88);
    assert.equal(closeFrame[1] & 0x80, 0x80);
    const status =
      ((closeFrame[6] ^ closeFrame[2]) << 8) | (closeFrame[7] ^ closeFrame[3]);
    assert.equal(status, 1002);
  });
});
