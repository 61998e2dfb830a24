// One parse-throughput contender, in its own process (bench/run.js runs the
// contenders interleaved, several rounds). No sockets: prebuilt frame streams
// (bench/lib/frames.js) are fed in 64 KiB chunks, and every message is
// consumed as the app gets it: a string for text, an ArrayBuffer for binary.
//
//   node bench/parse/worker.js <contender> '<json config>'
//
// Contenders:
//   wasmsocket            the package's Engine (pkg/lib/engine.js), the JS face
//                         of the wasm engine, as Session drives it: receive(),
//                         read the event queue, takeOutput() per chunk
//   wasmsocket-websocket  the package's WHATWG WebSocket over an in-memory
//                         transport: MessageEvents through onmessage
//   ws                    ws's own Receiver (ws/lib/receiver.js); whether ws
//                         uses bufferutil is set by the WS_NO_BUFFER_UTIL
//                         environment variable of this process
//   ws-websocket          ws's WebSocket over an in-memory Duplex, onmessage
//   wasm-raw              the wasm engine's own bindings (pkg/wasm), without
//                         the Engine wrapper: chunks staged and received, the
//                         event records counted in wasm memory, no payload
//                         turned into a JS value — the same work as the native
//                         bench, for comparing the wasm build with it
//
// Prints one JSON line: { contender, bufferutil, results: [...] }.

import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { Duplex } from "node:stream";

import { WebSocket, WebSocketServer } from "wasmsocket";

import { EventRecord, Report } from "../../pkg/lib/contract.js";
import { Engine, Tag, makeConfig } from "../../pkg/lib/engine.js";
import {
  Engine as WasmEngine,
  wasm_memory,
} from "../../pkg/wasm/wasmsocket.js";
import { enginePair } from "../lib/engines.js";
import { buildStream } from "../lib/frames.js";

const require = createRequire(import.meta.url);
const [contender, configJson] = process.argv.slice(2);
const config = JSON.parse(configJson);
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const acceptKey = (key) =>
  createHash("sha1")
    .update(key + GUID)
    .digest("base64");
const tick = () => new Promise((resolve) => setImmediate(resolve));

/** Message count and payload bytes seen by the consumer. */
const seen = { messages: 0, bytes: 0 };
function consume(data) {
  seen.messages++;
  seen.bytes += typeof data === "string" ? data.length : data.byteLength;
}

// ----- wasmsocket: the Engine, as Session drives it -----

function engineFeeder(masked) {
  const { client, server } = enginePair();
  const engine = masked ? server : client;
  const q = engine.queue;
  return (chunks) => {
    for (let c = 0; c < chunks.length; c++) {
      engine.receive(chunks[c], performance.now());
      for (let i = 0; i < q.length; i += 3) {
        if (q[i] === Tag.MESSAGE) consume(q[i + 1]);
        else throw new Error(`unexpected event ${q[i]}: ${q[i + 1]}`);
      }
      q.length = 0;
      engine.takeOutput();
    }
  };
}

// ----- the wasm engine's bindings alone (no JS values for payloads) -----

// Read as engine.js does, by the offsets in contract.js.
const {
  EVENTS: R_EVENTS,
  EVENT_COUNT: R_COUNT,
  OUTPUT: R_OUTPUT,
  OUTPUT_LEN: R_OUTPUT_LEN,
} = Report;
const { SIZE: EVENT_SIZE, TAG: E_TAG, LEN: E_LEN } = EventRecord;

function rawFeeder(masked) {
  const now = performance.now();
  // As the native bench's Config::default(): every message whole in wasm
  // memory, none handed to the host to assemble.
  const config = makeConfig({ host_assembly: 0 });
  let mem = wasm_memory();
  let u8 = new Uint8Array(mem.buffer);
  let view = new DataView(mem.buffer);
  const sync = () => {
    if (u8.buffer !== mem.buffer) {
      u8 = new Uint8Array(mem.buffer);
      view = new DataView(mem.buffer);
    }
  };
  // Transport input goes where the engine asks for it: `input(len)` (the
  // arena's end, read in place) in current builds, the `buffer(len)` staging
  // area in older ones — as engine.js `receive` does.
  const receive = (w, bytes, now) => {
    const ptr =
      typeof w.input === "function"
        ? w.input(bytes.length)
        : w.buffer(bytes.length);
    sync();
    u8.set(bytes, ptr);
    w.receive(bytes.length, now);
  };
  const output = (w, report) => {
    w.flush();
    sync();
    const ptr = view.getUint32(report + R_OUTPUT, true);
    return u8.slice(ptr, ptr + view.getUint32(report + R_OUTPUT_LEN, true));
  };
  let w;
  if (masked) {
    const peer = Engine.client(
      config,
      { host: "bench.invalid", resource: "/" },
      now,
    );
    w = WasmEngine.server(config, now);
    receive(w, peer.takeOutput(), now);
    if (w.accept(null, null, []) !== 0) throw new Error("accept failed");
    peer.receive(output(w, w.report()), now);
    if (peer.queue[0] !== Tag.OPEN) throw new Error("no OPEN");
  } else {
    const peer = Engine.server(config, now);
    const bytes = crypto.getRandomValues(new Uint8Array(48));
    w = WasmEngine.client(
      config,
      "bench.invalid",
      "/",
      [],
      [],
      undefined,
      [],
      bytes.subarray(0, 16),
      bytes.subarray(16),
      now,
    );
    peer.receive(output(w, w.report()), now);
    peer.queue.length = 0;
    peer.accept(null, null, []);
    receive(w, peer.takeOutput(), now);
  }
  w.flush();
  const report = w.report();
  return (chunks) => {
    for (let c = 0; c < chunks.length; c++) {
      receive(w, chunks[c], performance.now());
      sync();
      const count = view.getUint32(report + R_COUNT, true);
      let p = view.getUint32(report + R_EVENTS, true);
      for (let i = 0; i < count; i++, p += EVENT_SIZE) {
        if (view.getUint16(p + E_TAG, true) !== Tag.MESSAGE)
          throw new Error(
            `unexpected event ${view.getUint16(p + E_TAG, true)}`,
          );
        seen.messages++;
        seen.bytes += view.getUint32(p + E_LEN, true);
      }
      // What takeOutput does first: settle the events, so buffers are reused.
      w.flush();
    }
  };
}

// ----- wasmsocket: the WHATWG WebSocket over an in-memory transport -----

function memoryTransport() {
  const t = {
    sink: null,
    written: [],
    start(sink) {
      t.sink = sink;
    },
    write(bytes, done) {
      t.written.push(Buffer.from(bytes));
      done();
    },
    end() {},
    destroy() {},
  };
  return t;
}

async function websocketFeeder(masked) {
  const t = memoryTransport();
  let ws;
  if (masked) {
    // Server role: the package's server completes the handshake.
    const server = new WebSocketServer({});
    const accepted = server.accept(t);
    t.sink.data(
      Buffer.from(
        "GET / HTTP/1.1\r\nHost: bench.invalid\r\nUpgrade: websocket\r\n" +
          "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
          "Sec-WebSocket-Version: 13\r\n\r\n",
      ),
    );
    ws = await accepted;
  } else {
    ws = new WebSocket("ws://bench.invalid/", [], { transport: t });
    const request = Buffer.concat(t.written).toString();
    const key = /Sec-WebSocket-Key: (\S+)/i.exec(request)[1];
    const opened = new Promise((resolve) => (ws.onopen = resolve));
    t.sink.data(
      Buffer.from(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
          `Connection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\n\r\n`,
      ),
    );
    await opened;
  }
  if (!ws || ws.readyState !== WebSocket.OPEN) throw new Error("not open");
  ws.binaryType = "arraybuffer";
  ws.onmessage = (event) => consume(event.data);
  ws.onerror = (event) => {
    throw new Error(`wasmsocket error: ${event.message}`);
  };
  const sink = t.sink;
  return (chunks) => {
    for (let c = 0; c < chunks.length; c++) sink.data(chunks[c]);
  };
}

// ----- ws -----

function bufferutilLoaded() {
  return Object.keys(require.cache).some((p) =>
    p.includes("/node_modules/bufferutil/"),
  );
}

function receiverFeeder(masked) {
  const { Receiver } = require("ws");
  const receiver = new Receiver({
    isServer: masked,
    binaryType: "arraybuffer",
    maxPayload: 0,
  });
  // ws 8 emits text as a Buffer; an app needing the string decodes it, as
  // ws's own onmessage does.
  receiver.on("message", (data, isBinary) =>
    consume(isBinary ? data : data.toString()),
  );
  receiver.on("error", (error) => {
    throw error;
  });
  return (chunks) => {
    for (let c = 0; c < chunks.length; c++) receiver.write(chunks[c]);
  };
}

class MemorySocket extends Duplex {
  _read() {}
  _write(chunk, encoding, callback) {
    callback();
  }
}

function wsWebSocketFeeder(masked) {
  const WsWebSocket = require("ws");
  const socket = new MemorySocket();
  // As ws's WebSocketServer makes its sockets; a client-role socket reads
  // unmasked frames.
  const ws = new WsWebSocket(null, undefined, {});
  ws._isServer = masked;
  ws.setSocket(socket, Buffer.alloc(0), {
    allowSynchronousEvents: true,
    maxPayload: 100 * 1024 * 1024,
    skipUTF8Validation: false,
  });
  ws.binaryType = "arraybuffer";
  ws.onmessage = (event) => consume(event.data);
  ws.onerror = (event) => {
    throw event.error;
  };
  return (chunks) => {
    for (let c = 0; c < chunks.length; c++) socket.emit("data", chunks[c]);
  };
}

const makers = {
  wasmsocket: engineFeeder,
  "wasmsocket-websocket": websocketFeeder,
  ws: receiverFeeder,
  "ws-websocket": wsWebSocketFeeder,
  "wasm-raw": rawFeeder,
};

// ----- timing -----

async function measure(feed, stream) {
  // ws unmasks in place, so every pass gets fresh bytes: the pristine stream
  // is copied back before it, outside the timed part.
  const pristine = Buffer.from(stream.stream);
  const pass = async () => {
    stream.stream.set(pristine);
    seen.messages = 0;
    seen.bytes = 0;
    const t = performance.now();
    feed(stream.chunks);
    // The turn of the event loop after the pass (where ws's stream callbacks
    // run) is counted.
    await tick();
    const ms = performance.now() - t;
    if (seen.messages !== stream.count || seen.bytes !== stream.payloadBytes) {
      throw new Error(
        `${contender}: ${seen.messages}/${stream.count} messages, ${seen.bytes}/${stream.payloadBytes} bytes`,
      );
    }
    return ms;
  };
  const t0 = performance.now();
  let n = 0;
  while (n < 2 || performance.now() - t0 < config.warmMs) {
    await pass();
    n++;
  }
  let busy = 0;
  n = 0;
  while (n < 3 || busy < config.minMs) {
    busy += await pass();
    n++;
  }
  return { passes: n, ms: busy };
}

const make = makers[contender];
if (!make) throw new Error(`unknown contender ${contender}`);
const results = [];
for (const masked of config.masks) {
  for (const kind of config.kinds) {
    for (const size of config.sizes) {
      const stream = buildStream(size, kind, masked, config.quick);
      const feed = await make(masked);
      const { passes, ms } = await measure(feed, stream);
      const seconds = ms / 1000;
      results.push({
        size,
        kind,
        masked,
        mbps: (stream.payloadBytes * passes) / seconds / 1e6,
        msgsPerSec: (stream.count * passes) / seconds,
        passes,
      });
    }
  }
}
process.stdout.write(
  JSON.stringify({
    contender,
    bufferutil: bufferutilLoaded(),
    node: process.version,
    results,
  }) + "\n",
);
