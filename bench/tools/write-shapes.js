// Whether the shape of a big frame costs anything: a 1 MiB copy into a
// buffer at several offsets (where a frame's payload lands after its
// header), and a 1 MiB frame written to a loopback socket whole from offset
// 0 (the package's frames), with its payload on a 64-byte boundary, or as a
// header and a separate payload corked together (ws's writev). The reader,
// in a child process, throws the bytes away; the figure is the writer's CPU
// (user + system) per message, so the kernel's copy is in it.
//
//   node bench/tools/write-shapes.js [rounds, default 7]
//
// Prints the median (and range) over the rounds, which interleave the shapes.

import { fork } from "node:child_process";
import net from "node:net";

import { median } from "../lib/util.js";

const N = 1 << 20;
const HEADER = 10;
const MESSAGES = 400;
const READER = "reader";

if (process.argv[2] === READER) {
  const server = net.createServer((s) => s.on("data", () => {}));
  server.listen(0, "127.0.0.1", () => process.send(server.address().port));
} else {
  const rounds = Number(process.argv[2] ?? 7);
  copies(rounds);
  await writes(rounds);
}

/** One line per shape: the median µs over the rounds, and their range. */
function report(label, runs) {
  for (const [name, us] of Object.entries(runs)) {
    const range = `${Math.min(...us).toFixed(1)}–${Math.max(...us).toFixed(1)}`;
    console.log(
      `${label} ${name.padEnd(22)} ${median(us).toFixed(1).padStart(7)} µs (${range})`,
    );
  }
}

function copies(rounds) {
  const src = new Uint8Array(N).fill(7);
  const dst = new Uint8Array(new ArrayBuffer(N + 4096));
  const runs = {};
  for (let r = 0; r < rounds; r++) {
    for (const at of [0, 2, 10, 14, 32, 64]) {
      const t = performance.now();
      for (let i = 0; i < MESSAGES; i++) dst.set(src, at);
      (runs[`at offset ${at}`] ??= []).push(
        ((performance.now() - t) / MESSAGES) * 1000,
      );
    }
  }
  report("copy 1 MiB", runs);
}

async function writes(rounds) {
  const reader = fork(new URL(import.meta.url).pathname, [READER]);
  const port = await new Promise((resolve) => reader.once("message", resolve));
  const socket = net.connect(port, "127.0.0.1");
  socket.setNoDelay(true);
  await new Promise((resolve) => socket.once("connect", resolve));
  const frame = new Uint8Array(new ArrayBuffer(N + 4096)).fill(3);
  const header = Buffer.alloc(HEADER, 1);
  const payload = Buffer.allocUnsafeSlow(N).fill(3);
  const shapes = {
    "whole, payload at 10": () => socket.write(frame.subarray(0, HEADER + N)),
    "whole, payload at 64": () =>
      socket.write(frame.subarray(64 - HEADER, 64 + N)),
    "header + payload": () => {
      socket.cork();
      socket.write(header);
      const more = socket.write(payload);
      socket.uncork();
      return more;
    },
  };
  const runs = {};
  for (let r = 0; r < rounds; r++) {
    for (const [name, write] of Object.entries(shapes)) {
      const cpu = process.cpuUsage();
      for (let i = 0; i < MESSAGES; i++) {
        if (!write())
          await new Promise((resolve) => socket.once("drain", resolve));
      }
      await new Promise((resolve) => socket.write(Buffer.alloc(0), resolve));
      const { user, system } = process.cpuUsage(cpu);
      (runs[name] ??= []).push((user + system) / MESSAGES);
    }
  }
  report("write 1 MiB", runs);
  socket.destroy();
  reader.kill();
}
