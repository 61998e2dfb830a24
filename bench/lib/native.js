// Parse throughput of the engine built natively (bench/native/parse.rs, criterion):
// the ceiling of what the wasm build could reach. Built with
// -C target-cpu=native (the wasm build has simd128; natively the SIMD paths
// of simdutf8 and the masking loop need the CPU's features enabled), in its
// own target directory so it never disturbs other builds.

import { spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";

import { SIZES } from "./frames.js";
import { parseKey } from "./parse.js";
import { log, rootDir } from "./util.js";

function run(cmd, args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: rootDir,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => {
      const s = String(d);
      out += s;
      // Compile progress, so a first build does not look hung.
      for (const line of s.split("\n"))
        if (/^\s*(Compiling|Finished)/.test(line)) log(`  ${line.trim()}`);
    });
    child.on("close", (code) =>
      code === 0
        ? resolve(out)
        : reject(
            new Error(
              `${cmd} ${args.join(" ")}: exit ${code}\n${out.slice(-3000)}`,
            ),
          ),
    );
  });
}

export async function nativeSection({ quick }) {
  const targetDir = path.join(rootDir, "target/bench");
  const home = path.join(targetDir, "criterion");
  rmSync(home, { recursive: true, force: true });
  const sizes = quick ? [125, 64 * 1024] : SIZES;
  const filter = `^parse/(masked|unmasked)-(binary|text)/(${sizes.join("|")})$`;
  const env = {
    RUSTFLAGS: "-C target-cpu=native",
    CRITERION_HOME: home,
    BENCH_QUICK: quick ? "1" : "",
  };
  const args = [
    "bench",
    "--bench",
    "parse",
    "--target-dir",
    targetDir,
    "--",
    "--noplot",
  ];
  if (quick) args.push("--warm-up-time", "0.1", "--measurement-time", "0.2");
  args.push(filter);
  log("native: cargo bench --bench parse (criterion, -C target-cpu=native)");
  const t0 = performance.now();
  await run("cargo", args, env);
  const results = {};
  for (const masked of [true, false])
    for (const kind of ["binary", "text"])
      for (const size of sizes) {
        const dir = path.join(
          home,
          "parse",
          `${masked ? "masked" : "unmasked"}-${kind}`,
          String(size),
          "new",
        );
        if (!existsSync(dir))
          throw new Error(`no criterion estimates in ${dir}`);
        const est = JSON.parse(readFileSync(path.join(dir, "estimates.json")));
        const meta = JSON.parse(readFileSync(path.join(dir, "benchmark.json")));
        const bytes = meta.throughput.Bytes;
        const ns = est.median.point_estimate;
        results[parseKey(masked, kind, size)] = {
          mbps: bytes / (ns / 1e9) / 1e6,
          msgsPerSec: bytes / size / (ns / 1e9),
          nsPerPass: ns,
          ci: [
            est.median.confidence_interval.lower_bound,
            est.median.confidence_interval.upper_bound,
          ],
        };
      }
  return {
    seconds: (performance.now() - t0) / 1000,
    rustflags: env.RUSTFLAGS,
    medians: results,
  };
}
