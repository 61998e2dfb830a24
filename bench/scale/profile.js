// Runs one scale server under a profiler while a client opens connections,
// to see where a handshake's time goes on the server side.
//
//   node bench/scale/profile.js ws|wasmsocket <n> [cpu-prof|callgrind|strace] [out dir] [warm-up handshakes]
//
// cpu-prof: the server runs with --cpu-prof (summarise the profile with
// bench/tools/cpuprofile-top.js). callgrind: the server runs under valgrind's
// callgrind, which counts instructions (the same on a busy machine); run it
// with two values of n and divide the difference of the totals by the
// difference of n for the instructions per handshake.

import { fork } from "node:child_process";
import path from "node:path";

import { benchDir, rootDir } from "../lib/util.js";

const [impl, nArg, tool = "cpu-prof", outArg = ".", warmArg = "100"] =
  process.argv.slice(2);
// The server runs in the repository's root: the output goes where asked
// from here.
const out = path.resolve(outArg);
const n = Number(nArg);
// Handshakes before the measured ones, so that the JIT has settled.
const warm = Number(warmArg);
const serverScript = path.join(benchDir, "scale/server.js");
const clientScript = path.join(benchDir, "scale/client.js");

function rpc(child) {
  let nextId = 1;
  const waiting = new Map();
  let first;
  const ready = new Promise((resolve) => (first = resolve));
  child.on("message", (msg) => {
    if (msg.id && waiting.has(msg.id)) waiting.get(msg.id)(msg);
    else first(msg);
  });
  return {
    ready,
    call: (msg) =>
      new Promise((resolve) => {
        const id = nextId++;
        waiting.set(id, resolve);
        child.send({ ...msg, id });
      }),
  };
}

const execArgv = ["--expose-gc"];
const options = {
  cwd: rootDir,
  stdio: ["ignore", "inherit", "inherit", "ipc"],
};
if (tool === "cpu-prof") {
  execArgv.push("--cpu-prof", `--cpu-prof-dir=${out}`);
} else if (tool === "strace") {
  options.execPath = "strace";
  execArgv.unshift(
    "-f",
    "-c",
    "-o",
    `${out}/strace.${impl}.txt`,
    process.execPath,
  );
} else if (tool === "callgrind") {
  options.execPath = "valgrind";
  execArgv.unshift(
    "--tool=callgrind",
    `--callgrind-out-file=${out}/callgrind.${impl}.${n}.out`,
    process.execPath,
  );
}
const serverChild = fork(serverScript, [impl], { ...options, execArgv });
const server = rpc(serverChild);
const { port } = await server.ready;
const clientChild = fork(clientScript, [String(port)], {
  cwd: rootDir,
  stdio: ["ignore", "inherit", "inherit", "ipc"],
});
const client = rpc(clientChild);
// Both ways a server is exercised (cycles, and connections kept), so that
// what is compiled late is compiled before the measured handshakes.
await client.call({ cmd: "churn", n: warm, concurrency: 10 });
await client.call({ cmd: "open", n: warm, concurrency: 50 });
const t = await client.call({ cmd: "open", n, concurrency: 50 });
const cpu = await server.call({ cmd: "cpu" });
console.log(
  JSON.stringify({ impl, n, ms: t.ms, failed: t.failed, cpuMs: cpu.cpuMs }),
);
serverChild.send({ cmd: "exit" });
await new Promise((resolve) => serverChild.once("exit", resolve));
clientChild.kill();
