// An echo client for the loopback benchmark, in its own process: connects
// once, then for each case (size × kind × mode) warms up and measures.
//
//   node bench/echo/client.js ws|wasmsocket|undici|raw <port> '<json config>'
//
// config.deflate: the ws and wasmsocket clients offer permessage-deflate
// (each with its defaults); otherwise neither does.
//
// Modes:
//   pipelined  a window of messages in flight (64, or 4 for 1 MiB messages:
//              1–4 MiB in flight); each echo received sends the next one.
//              MB/s = payload bytes echoed back / elapsed (each message's
//              payload counted once, though it crossed twice).
//   latency    one message at a time; the round-trip time of each, in µs.
//
// Each client is written as an app would write it with that library, and
// consumes every echo as the app gets it:
//   wasmsocket, undici  WHATWG WebSocket, binaryType "arraybuffer"; send() a
//                       string (text) or a Uint8Array (binary); onmessage
//   ws                  send(string) / send(Buffer, { binary: true });
//                       on("message", (data, isBinary)), text decoded with
//                       data.toString() as an app needing the string does
//   raw                 net.Socket, messages as a 4-byte length + payload
//
// Pipelined cases also report their cost per message: this process's CPU
// time and minor page faults, and the server's (config.serverPid, read from
// /proc where there is one; null elsewhere).
//
// Prints one JSON line: { client, results: [...] }.

import { readFileSync } from "node:fs";
import net from "node:net";

import { lengthPrefixed } from "../lib/framing.js";
import { message } from "../lib/frames.js";

const [impl, portArg, configJson] = process.argv.slice(2);
const config = JSON.parse(configJson);
const url = `ws://127.0.0.1:${portArg}/echo`;
const now = () => performance.now();

/** { send(msg), onMessage(length) } over one open connection. */
async function connect() {
  const conn = { onMessage: null, send: null, close: null };
  if (impl === "wasmsocket" || impl === "undici") {
    const { WebSocket } = await import(impl);
    const ws =
      impl === "wasmsocket"
        ? new WebSocket(url, [], { perMessageDeflate: Boolean(config.deflate) })
        : new WebSocket(url);
    ws.binaryType = "arraybuffer";
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = (e) => reject(new Error(`${impl}: ${e.message}`));
    });
    ws.onerror = (e) => fail(`${impl}: ${e.message}`);
    ws.onmessage = (event) => {
      const d = event.data;
      conn.onMessage(typeof d === "string" ? d.length : d.byteLength);
    };
    conn.send = (m) => ws.send(m);
    conn.close = () => ws.close();
  } else if (impl === "ws") {
    const { WebSocket } = await import("ws");
    const ws = new WebSocket(url, {
      perMessageDeflate: Boolean(config.deflate),
    });
    await new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    ws.on("error", (e) => fail(`ws: ${e.message}`));
    ws.on("message", (data, isBinary) =>
      conn.onMessage(isBinary ? data.length : data.toString().length),
    );
    conn.send = (m) => ws.send(m, { binary: typeof m !== "string" });
    conn.close = () => ws.close();
  } else if (impl === "raw") {
    const socket = net.connect(Number(portArg), "127.0.0.1");
    socket.setNoDelay(true);
    await new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    socket.on("error", (e) => fail(`raw: ${e.message}`));
    socket.on(
      "data",
      lengthPrefixed((_end, length) => conn.onMessage(length)),
    );
    conn.send = (m) => socket.write(m);
    conn.close = () => socket.end();
  } else {
    throw new Error(`unknown client ${impl}`);
  }
  return conn;
}

let failed = null;
function fail(why) {
  failed = why;
  process.stderr.write(`${why}\n`);
  process.exit(1);
}

/** The message as this client sends it. */
function outgoing(size, kind) {
  const m = message(size, kind);
  if (impl !== "raw") return m;
  const bytes = typeof m === "string" ? Buffer.from(m) : m;
  const framed = Buffer.alloc(4 + size);
  framed.writeUInt32BE(size, 0);
  framed.set(bytes, 4);
  return framed;
}

function pipelined(conn, msg, size, window, ms) {
  return new Promise((resolve) => {
    let sent = 0;
    let received = 0;
    let stopping = false;
    const t0 = now();
    conn.onMessage = (len) => {
      if (len !== size) fail(`${impl}: echo of ${len} bytes, sent ${size}`);
      received++;
      if (!stopping) {
        if (now() - t0 >= ms) stopping = true;
        else {
          conn.send(msg);
          sent++;
        }
      }
      if (stopping && received === sent) {
        resolve({ messages: received, ms: now() - t0 });
      }
    };
    for (let i = 0; i < window; i++) {
      conn.send(msg);
      sent++;
    }
  });
}

function latency(conn, msg, size, ms) {
  return new Promise((resolve) => {
    const samples = [];
    const t0 = now();
    let t = 0;
    conn.onMessage = (len) => {
      const at = now();
      if (len !== size) fail(`${impl}: echo of ${len} bytes, sent ${size}`);
      samples.push(at - t);
      if (at - t0 >= ms && samples.length >= 10) resolve(samples);
      else {
        t = now();
        conn.send(msg);
      }
    };
    t = now();
    conn.send(msg);
  });
}

/** CPU µs and minor page faults so far: this process's and the server's. */
function usage() {
  const self = process.resourceUsage();
  const u = {
    clientCpuUs: self.userCPUTime + self.systemCPUTime,
    clientFaults: self.minorPageFault,
    serverCpuUs: null,
    serverFaults: null,
  };
  try {
    const pid = config.serverPid;
    // schedstat: time on CPU in ns; stat: minflt is the 10th field (the
    // 8th after the parenthesised command name).
    const onCpu = readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ");
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    u.serverCpuUs = Number(onCpu[0]) / 1000;
    u.serverFaults = Number(fields[7]);
  } catch {
    // No /proc (or no server pid): the client's figures only.
  }
  return u;
}

/** Now in µs of the monotonic clock a `--cpu-prof` profile's times use, so
 * a profile can be cut to the measured window (bench/lib/profile.js). */
const hrtimeUs = () => Number(process.hrtime.bigint() / 1000n);

/** What `after` adds to `before`, per message. */
function perMessage(before, after, messages) {
  const out = {};
  for (const k of Object.keys(before)) {
    out[k] =
      before[k] === null || after[k] === null
        ? null
        : (after[k] - before[k]) / messages;
  }
  return out;
}

const quantile = (sorted, q) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

const conn = await connect();
const results = [];
for (const kind of config.kinds) {
  for (const size of config.sizes) {
    const msg = outgoing(size, kind);
    const window = Math.min(64, Math.max(4, Math.floor((4 << 20) / size)));
    for (const mode of config.modes) {
      if (mode === "pipelined") {
        const warm = await pipelined(
          conn,
          msg,
          size,
          window,
          config.pipelinedWarmMs ?? config.warmMs,
        );
        const before = usage();
        const from = hrtimeUs();
        const r = await pipelined(
          conn,
          msg,
          size,
          window,
          config.pipelinedMs ?? config.ms,
        );
        const cost = perMessage(before, usage(), r.messages);
        results.push({
          size,
          kind,
          mode,
          window,
          messages: r.messages,
          warmMessages: warm.messages,
          windowUs: [from, hrtimeUs()],
          mbps: (r.messages * size) / (r.ms / 1000) / 1e6,
          msgsPerSec: r.messages / (r.ms / 1000),
          ...cost,
        });
      } else {
        await latency(conn, msg, size, config.warmMs);
        const s = (await latency(conn, msg, size, config.ms)).sort(
          (a, b) => a - b,
        );
        results.push({
          size,
          kind,
          mode,
          messages: s.length,
          medianUs: quantile(s, 0.5) * 1000,
          p99Us: quantile(s, 0.99) * 1000,
        });
      }
    }
  }
}
conn.close();
process.stdout.write(JSON.stringify({ client: impl, results }) + "\n");
setTimeout(() => process.exit(failed ? 1 : 0), 50).unref();
