// The benchmark harness: `make bench` (which builds the package first) or
// `node bench/run.js` on a built tree. See bench/README.md.
//
// Sections, in this order: size, native (cargo bench), parse, echo, profile,
// scale, deflate, publish.
// Writes bench/results/results.{md,json} and throughput.svg; with
// BENCH_QUICK=1 (a smoke test of under a minute once built) it writes to
// target/bench/results-quick/ instead, so the committed results stay whole.
//
// Environment knobs:
//   BENCH_QUICK=1        tiny sizes, one round, short timings
//   BENCH_ONLY=a,b       only these sections (size, native, parse, echo,
//                        profile, scale, deflate, publish)
//   BENCH_ROUNDS=n       interleaved rounds for parse and echo (default 3 and 5)
//   BENCH_IDLE=n         idle connections in the scale test (default 10000)
//   BENCH_CHURN=n        connect/close cycles in the churn (default 100000)
//   BENCH_OUT=dir        where to write the results

import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";

import { deflateSection } from "./lib/deflate.js";
import { echoSection } from "./lib/echo.js";
import { nativeSection } from "./lib/native.js";
import { parseSection } from "./lib/parse.js";
import { profileSection } from "./lib/profile.js";
import { barChecks, markdown, svg } from "./lib/report.js";
import { publishSection } from "./lib/publish.js";
import { scaleSection } from "./lib/scale.js";
import { sizeSection } from "./lib/size.js";
import { benchDir, log, rootDir } from "./lib/util.js";

// `node bench/run.js --render [dir]` only rewrites results.md and
// throughput.svg from the results.json in dir (default bench/results).
const renderAt = process.argv.indexOf("--render");
if (renderAt >= 0) {
  const dir = path.resolve(
    process.argv[renderAt + 1] ?? path.join(benchDir, "results"),
  );
  const saved = JSON.parse(
    readFileSync(path.join(dir, "results.json"), "utf8"),
  );
  saved.bar = barChecks(saved);
  writeFileSync(path.join(dir, "results.md"), markdown(saved) + "\n");
  if (saved.echo || saved.parse)
    writeFileSync(path.join(dir, "throughput.svg"), svg(saved));
  log(`rendered ${dir}/results.md and throughput.svg`);
  process.exit(0);
}

const quick =
  process.argv.includes("--quick") ||
  (process.env.BENCH_QUICK !== undefined &&
    !["", "0"].includes(process.env.BENCH_QUICK));
const only = process.env.BENCH_ONLY?.split(",").filter(Boolean);
const defaultOut = quick
  ? path.join(rootDir, "target/bench/results-quick")
  : path.join(benchDir, "results");

const require = createRequire(import.meta.url);
const version = (name) => {
  try {
    return JSON.parse(
      readFileSync(require.resolve(`${name}/package.json`), "utf8"),
    ).version;
  } catch {
    return "not installed";
  }
};

/** The commit measured, and whether the engine or package had local changes. */
function revision() {
  const git = (...args) =>
    execFileSync("git", args, { cwd: rootDir, encoding: "utf8" }).trim();
  try {
    const dirty = git("status", "--porcelain", "--", "src", "pkg") !== "";
    return `${git("rev-parse", "--short", "HEAD")}${dirty ? " + local changes" : ""}`;
  } catch {
    return "unknown";
  }
}

function machine() {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  let rustc = "rustc ?";
  try {
    rustc = execFileSync("rustc", ["--version"], { encoding: "utf8" }).trim();
  } catch {}
  return {
    cpu:
      /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1].trim() ??
      os.cpus()[0]?.model,
    cores: os.cpus().length,
    memory: os.totalmem(),
    kernel: os.release(),
    node: process.version,
    rustc,
    versions: {
      ws: version("ws"),
      undici: version("undici"),
      bufferutil: version("bufferutil"),
    },
    loadStart: os.loadavg()[0].toFixed(2),
  };
}

// bufferutil must really be there (native binding), or the ws-with-bufferutil
// contender would silently be ws without it.
try {
  require("node-gyp-build")(path.dirname(require.resolve("bufferutil")));
} catch (e) {
  throw new Error(
    `bufferutil's native binding does not load (run npm ci): ${e.message}`,
  );
}

const t0 = performance.now();
const results = {
  date: new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC",
  quick,
  revision: revision(),
  machine: machine(),
  errors: {},
};
const sections = [
  ["size", () => sizeSection()],
  ["native", () => nativeSection({ quick })],
  ["parse", () => parseSection({ quick })],
  ["echo", () => echoSection({ quick })],
  ["profile", () => profileSection({ quick })],
  ["scale", () => scaleSection({ quick })],
  ["deflate", () => deflateSection({ quick })],
  ["publish", () => publishSection({ quick })],
];
for (const [name, run] of sections) {
  if (only && !only.includes(name)) continue;
  const s0 = performance.now();
  try {
    results[name] = await run();
  } catch (error) {
    log(`${name} failed: ${error.stack ?? error}`);
    results.errors[name] = String(error.message ?? error).split("\n")[0];
  }
  log(`${name}: ${((performance.now() - s0) / 1000).toFixed(0)} s`);
}
results.machine.loadEnd = os.loadavg()[0].toFixed(2);
results.seconds = (performance.now() - t0) / 1000;
results.bar = barChecks(results);

// A run with a failed section does not replace the committed results.
const failed = Object.keys(results.errors).length > 0;
const outDir = path.resolve(
  process.env.BENCH_OUT ??
    (failed && !quick
      ? path.join(rootDir, "target/bench/results-partial")
      : defaultOut),
);
mkdirSync(outDir, { recursive: true });
writeFileSync(
  path.join(outDir, "results.json"),
  JSON.stringify(results, null, 1) + "\n",
);
writeFileSync(path.join(outDir, "results.md"), markdown(results) + "\n");
if (results.echo || results.parse)
  writeFileSync(path.join(outDir, "throughput.svg"), svg(results));
log(
  `wrote ${path.relative(process.cwd(), outDir) || "."}/results.md, results.json, throughput.svg in ${(results.seconds / 60).toFixed(1)} min`,
);
for (const c of results.bar) log(`${c.pass ? "✓" : "✗"} ${c.text}`);
if (failed) log(`sections failed: ${Object.keys(results.errors).join(", ")}`);
process.exitCode = failed ? 1 : 0;
