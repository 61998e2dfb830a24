// Process helpers and statistics shared by the benchmark sections.

import { fork, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export const benchDir = fileURLToPath(new URL("..", import.meta.url));
export const rootDir = fileURLToPath(new URL("../..", import.meta.url));

export function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

export function log(...args) {
  process.stderr.write(`[bench] ${args.join(" ")}\n`);
}

/** Runs `node script args…` and resolves with the JSON of its last stdout
 * line; `wrap`: a command to run node under (`perf stat … --`). */
export function runJson(
  script,
  args,
  { env = {}, nodeArgs = [], wrap = [] } = {},
) {
  return new Promise((resolve, reject) => {
    const command = [...wrap, process.execPath, ...nodeArgs, script, ...args];
    const child = spawn(command[0], command.slice(1), {
      cwd: rootDir,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("close", (code) => {
      const line = out.trim().split("\n").pop();
      if (code !== 0 || !line) {
        return reject(
          new Error(`${script} ${args[0]} exited ${code}: ${err.slice(-2000)}`),
        );
      }
      try {
        resolve(JSON.parse(line));
      } catch (e) {
        reject(new Error(`${script}: bad output ${line.slice(0, 200)}`));
      }
    });
  });
}

/** Starts a long-running `node script args…` that prints {"port"} first. */
export function startServer(script, args, { env = {}, nodeArgs = [] } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, script, ...args], {
      cwd: rootDir,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    const onData = (d) => {
      out += d;
      const nl = out.indexOf("\n");
      if (nl < 0) return;
      child.stdout.off("data", onData);
      child.stdout.resume();
      resolve({ child, port: JSON.parse(out.slice(0, nl)).port });
    };
    child.stdout.on("data", onData);
    child.on("exit", (code) => reject(new Error(`${script} exited ${code}`)));
  });
}

/** Forks `script` with IPC; `call(msg)` sends msg and resolves with the reply. */
export function forkRpc(script, args, { nodeArgs = [], env = {} } = {}) {
  const child = fork(script, args, {
    cwd: rootDir,
    execArgv: nodeArgs,
    env: { ...process.env, ...env },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  let nextId = 1;
  const waiting = new Map();
  let first = null;
  const firstMessage = new Promise((resolve) => (first = resolve));
  child.on("message", (msg) => {
    if (msg.id && waiting.has(msg.id)) {
      waiting.get(msg.id)(msg);
      waiting.delete(msg.id);
    } else first(msg);
  });
  child.on("exit", (code) => {
    for (const [, resolve] of waiting) resolve({ error: `exited ${code}` });
    waiting.clear();
  });
  return {
    child,
    ready: firstMessage,
    call(msg) {
      const id = nextId++;
      return new Promise((resolve) => {
        waiting.set(id, resolve);
        child.send({ ...msg, id });
      });
    },
    stop() {
      child.kill();
      return new Promise((resolve) => {
        if (child.exitCode !== null) resolve();
        else child.once("exit", resolve);
      });
    },
  };
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
