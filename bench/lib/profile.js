// Where the time of big messages goes: cases of the echo section run again,
// one pair at a time, with client and server under `node --cpu-prof`, and
// under `perf stat` where the machine has perf (the client run under it,
// the server attached for the client's lifetime). Each process's CPU per
// message is the echo client's measure over its measured window; the
// profile's samples of that window split it by kind of work (cpuprofile.js)
// in proportion, and name the busiest functions. perf counts whole process
// lives, so its counts are per message echoed, warm-up included.
//
// One round per case: the shares move less between rounds than the
// throughput does, and the echo section has the medians.

import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

import { KINDS_OF_WORK, kindOfWork, selfTimes, where } from "./cpuprofile.js";
import { ECHO_PAIRS } from "./echo.js";
import { benchDir, log, runJson, startServer } from "./util.js";

const serverScript = path.join(benchDir, "echo/server.js");
const clientScript = path.join(benchDir, "echo/client.js");

/** glibc gives the top of its heap back to the kernel once more than a
 * few MiB there are free, and big messages free a 1 MiB buffer each: the
 * next ones fault in fresh pages (one per 4 KiB). This much padding kept on
 * the heap's top (`MALLOC_TOP_PAD_`, read at process start) ends that, so
 * the pairs run once more with it to show what the faults cost. */
const TOP_PAD = { MALLOC_TOP_PAD_: String(64 << 20) };

const echoPair = (id) => ECHO_PAIRS.find((p) => p.id === id);
const padded = (id) => ({
  ...echoPair(id),
  id: `${id}-top-pad`,
  label: `${echoPair(id).label}, MALLOC_TOP_PAD_=64 MiB`,
  env: TOP_PAD,
});
const PAIRS = [
  echoPair("ws-ws"),
  echoPair("wasmsocket-wasmsocket"),
  padded("ws-ws"),
  padded("wasmsocket-wasmsocket"),
  echoPair("raw"),
];
const CASES = [
  { kind: "binary", size: 64 * 1024 },
  { kind: "binary", size: 1 << 20 },
  { kind: "text", size: 1 << 20 },
];
/** What perf stat is asked to count, per process. */
const PERF_EVENTS = ["page-faults", "cache-references", "cache-misses"];
/** Functions named per process. */
const TOP = 4;

export async function profileSection({ quick }) {
  const perf = perfEvents();
  const config = {
    modes: ["pipelined"],
    warmMs: 80,
    ms: 200,
    pipelinedWarmMs: quick ? 50 : 300,
    pipelinedMs: quick ? 200 : 2000,
  };
  const cases = quick ? CASES.slice(0, 1) : CASES;
  const dir = mkdtempSync(path.join(os.tmpdir(), "wasmsocket-profile-"));
  const rows = [];
  try {
    for (const c of cases) {
      for (const pair of PAIRS) {
        if (pair.kinds && !pair.kinds.includes(c.kind)) continue;
        log(`profile: ${pair.label}, ${c.kind} ${c.size} B`);
        const at = path.join(dir, `${pair.id}-${c.kind}-${c.size}`);
        rows.push({
          pair: pair.id,
          ...c,
          ...(await profileOne(pair, c, config, at, perf)),
        });
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    config,
    pairs: PAIRS.map(({ id, label }) => ({ id, label })),
    kinds: KINDS_OF_WORK,
    perf,
    rows,
  };
}

async function profileOne(pair, c, config, at, perf) {
  const prof = (side) => ["--cpu-prof", `--cpu-prof-dir=${at}/${side}`];
  const env = pair.env ?? {};
  const server = await startServer(serverScript, [pair.server], {
    nodeArgs: prof("server"),
    env,
  });
  const serverExit = new Promise((resolve) =>
    server.child.once("exit", resolve),
  );
  const counters = perf.available
    ? attachPerf(server.child.pid, `${at}-server.perf`)
    : null;
  let out;
  try {
    out = await runJson(
      clientScript,
      [
        pair.client,
        String(server.port),
        JSON.stringify({
          ...config,
          sizes: [c.size],
          kinds: [c.kind],
          serverPid: server.child.pid,
        }),
      ],
      {
        nodeArgs: prof("client"),
        env,
        wrap: perf.available ? [...perfStat(`${at}-client.perf`), "--"] : [],
      },
    );
  } finally {
    await counters?.stop();
    server.child.kill("SIGTERM");
    await serverExit;
  }
  const r = out.results[0];
  const all = r.messages + r.warmMessages;
  const side = (name, cpuUs, faults) => ({
    cpuUs,
    faults,
    ...summarize(readProfile(`${at}/${name}`), r.windowUs, cpuUs),
    perf: perf.available
      ? countsPerMessage(readPerf(`${at}-${name}.perf`), all)
      : null,
  });
  return {
    mbps: r.mbps,
    messages: r.messages,
    client: side("client", r.clientCpuUs, r.clientFaults),
    server: side("server", r.serverCpuUs, r.serverFaults),
  };
}

function readProfile(dir) {
  const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
  if (!file) throw new Error(`no .cpuprofile in ${dir}`);
  return JSON.parse(readFileSync(path.join(dir, file), "utf8"));
}

/** Over the measured `window`: the µs per message of each kind of work
 * (its share of the busy samples times `cpuUs`), the idle share, and the
 * busiest functions. */
function summarize(profile, window, cpuUs) {
  const { functions, total } = selfTimes(profile, window);
  const sums = Object.fromEntries(
    [...Object.keys(KINDS_OF_WORK), "idle"].map((k) => [k, 0]),
  );
  for (const f of functions) sums[kindOfWork(f)] += f.us;
  const busy = total - sums.idle;
  const perMessage = (us) =>
    cpuUs == null || busy <= 0 ? null : (us / busy) * cpuUs;
  return {
    idleShare: total > 0 ? sums.idle / total : null,
    work: Object.fromEntries(
      Object.keys(KINDS_OF_WORK).map((k) => [k, perMessage(sums[k])]),
    ),
    top: functions
      .filter((f) => kindOfWork(f) !== "idle")
      .slice(0, TOP)
      .map((f) => ({ where: where(f), share: f.us / busy })),
  };
}

/** `perf stat` writing the counts of PERF_EVENTS to `file`, as argv; the
 * process to count follows (`-p pid`, or `--` and a command). */
const perfStat = (file) => [
  "perf",
  "stat",
  "-x,",
  "-o",
  file,
  "-e",
  PERF_EVENTS.join(","),
];

/** Whether perf runs here, and which of PERF_EVENTS it can count (a VM
 * often has no hardware counters: "<not supported>"). */
function perfEvents() {
  const file = path.join(os.tmpdir(), `wasmsocket-perf-${process.pid}`);
  const none = { available: false, counted: [], unsupported: PERF_EVENTS };
  try {
    const [command, ...args] = [...perfStat(file), "--", "true"];
    if (spawnSync(command, args).status !== 0) return none;
    const counts = readPerf(file);
    return {
      available: true,
      counted: PERF_EVENTS.filter((e) => counts[e] !== null),
      unsupported: PERF_EVENTS.filter((e) => counts[e] === null),
    };
  } catch {
    return none;
  } finally {
    rmSync(file, { force: true });
  }
}

/** `perf stat` attached to process `pid` until `stop()`. */
function attachPerf(pid, file) {
  const [command, ...args] = [...perfStat(file), "-p", String(pid)];
  const child = spawn(command, args, { stdio: "ignore" });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  return {
    stop() {
      child.kill("SIGINT");
      return exited;
    },
  };
}

/** perf stat's CSV: { event: count, or null where it counted nothing }. */
function readPerf(file) {
  const counts = Object.fromEntries(PERF_EVENTS.map((e) => [e, null]));
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return counts;
  }
  for (const line of text.split("\n")) {
    const [value, , event] = line.split(",");
    if (event in counts && /^[\d.]+$/.test(value))
      counts[event] = Number(value);
  }
  return counts;
}

function countsPerMessage(counts, messages) {
  return Object.fromEntries(
    Object.entries(counts).map(([e, n]) => [
      e,
      n === null ? null : n / messages,
    ]),
  );
}
