// CPU per big message through the package's Engine, in one process, no
// sockets: what one side of an echo spends receiving a message (fed in
// 64 KiB chunks, fresh ones as a socket's reads are) and sending one (the
// frame taken as buffers, pooled ones given back once "written"), with the
// page faults each costs. Quicker and steadier on a shared machine than an
// echo's throughput; for comparing two builds.
//
//   node bench/tools/big-messages.js [ms per case, default 300] [filter]
//
// `filter`: only the cases whose name contains it (e.g. "recv masked").
// Environment: SIZES=65536,1048576 (message sizes); REUSE=1 feeds every
// chunk through one reused buffer, as a socket with `onread` reads (the
// package's client sockets, node/duplex.js `readInto`).
//
// Prints one line per case: µs of CPU (user + system) per message, MB/s of
// CPU, and minor page faults per message.

// The Node entry loads the wasm module.
import "wasmsocket";

import { Tag } from "../../pkg/lib/engine.js";
import { giveBack } from "../../pkg/lib/pool.js";
import { enginePair } from "../lib/engines.js";
import { buildStream, CHUNK, message } from "../lib/frames.js";

const ms = Number(process.argv[2] ?? 300);
const only = process.argv[3] ?? "";
const SIZES = (process.env.SIZES ?? "16384,65536,1048576")
  .split(",")
  .map(Number);

/** Runs `step` for about `ms`; per-message CPU and faults (`step` returns
 * how many messages it handled). */
function measure(step, bytes) {
  for (let t = performance.now(); performance.now() - t < ms / 4;) step();
  const cpu0 = process.cpuUsage();
  const faults0 = process.resourceUsage().minorPageFault;
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < ms) n += step();
  const cpu = process.cpuUsage(cpu0);
  const faults = process.resourceUsage().minorPageFault - faults0;
  const us = (cpu.user + cpu.system) / n;
  return { us, mbps: bytes / us, faults: faults / n };
}

let sink = 0;
function consume(q) {
  let n = 0;
  for (let i = 0; i < q.length; i += 3) {
    if (q[i] !== Tag.MESSAGE) throw new Error(`unexpected ${q[i]}`);
    const v = q[i + 1];
    sink += typeof v === "string" ? v.length : v.byteLength;
    n++;
  }
  q.length = 0;
  return n;
}

function receiveCase(size, kind, masked) {
  const { client, server } = enginePair();
  const engine = masked ? server : client;
  const { chunks } = buildStream(size, kind, masked, true);
  // Chunks copied to fresh buffers, as a socket's reads are, or (REUSE=1)
  // into one buffer used again, as a socket's with `onread` are.
  const reused = Buffer.allocUnsafeSlow(CHUNK);
  let c = 0;
  const step = () => {
    const chunk = process.env.REUSE
      ? reused.subarray(0, chunks[c].length)
      : Buffer.allocUnsafeSlow(chunks[c].length);
    chunk.set(chunks[c]);
    engine.receive(
      chunk,
      0,
      chunk === reused || chunk.buffer === reused.buffer,
    );
    const n = consume(engine.queue);
    engine.takeWrites(true);
    if (++c === chunks.length) c = 0;
    return n;
  };
  return measure(step, size);
}

function sendCase(size, kind, masked) {
  const { client, server } = enginePair();
  const engine = masked ? client : server;
  const data = message(size, kind);
  const step = () => {
    if (engine.send(data) !== 0) throw new Error("send failed");
    for (const out of engine.takeWrites(true)) {
      sink += out.length;
      if (out.length >= CHUNK) giveBack(out);
    }
    return 1;
  };
  return measure(step, size);
}

const run = (name, measured) => {
  if (name.includes(only)) show(name, measured());
};
const show = (name, r) =>
  console.log(
    `${name.padEnd(34)} ${r.us.toFixed(1).padStart(8)} µs ${r.mbps.toFixed(0).padStart(6)} MB/s ${r.faults.toFixed(1).padStart(6)} faults`,
  );

for (const size of SIZES) {
  const s = size >= 1 << 20 ? `${size >> 20}M` : `${size >> 10}K`;
  for (const kind of ["binary", "text"]) {
    run(`recv masked ${kind} ${s}`, () => receiveCase(size, kind, true));
    run(`recv unmasked ${kind} ${s}`, () => receiveCase(size, kind, false));
    run(`send masked ${kind} ${s}`, () => sendCase(size, kind, true));
    run(`send unmasked ${kind} ${s}`, () => sendCase(size, kind, false));
  }
}
if (sink < 0) console.log(sink);
