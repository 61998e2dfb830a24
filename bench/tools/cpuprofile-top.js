// Prints the functions with the most self time in a V8 .cpuprofile (as
// written by `node --cpu-prof`), and the share of time in wasm code.
//
//   node bench/tools/cpuprofile-top.js <file.cpuprofile> [count]

import { readFileSync } from "node:fs";

const [file, countArg] = process.argv.slice(2);
const profile = JSON.parse(readFileSync(file, "utf8"));
const count = Number(countArg ?? 25);

// Sample time per node: the deltas between samples.
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
const { samples, timeDeltas } = profile;
for (let i = 0; i < samples.length; i++) {
  const dt = timeDeltas[i + 1] ?? 0;
  self.set(samples[i], (self.get(samples[i]) ?? 0) + dt);
}
let total = 0;
const perFunction = new Map();
for (const [id, us] of self) {
  total += us;
  const { callFrame: f } = byId.get(id);
  const where = f.url
    ? `${f.url.replace(/^.*\/(node_modules|pkg|bench)\//, "$1/")}:${f.lineNumber + 1}`
    : "";
  const key = `${f.functionName || "(anonymous)"} ${where}`.trim();
  perFunction.set(key, (perFunction.get(key) ?? 0) + us);
}
const rows = [...perFunction].sort((a, b) => b[1] - a[1]);
const isWasm = (k) =>
  /wasm-function|\.wasm|^\$?[a-z_]+::/.test(k) || k.includes("wasm://");
const wasmUs = rows.filter(([k]) => isWasm(k)).reduce((a, [, v]) => a + v, 0);
const idle = perFunction.get("(idle)") ?? 0;
console.log(
  `${file}: ${(total / 1000).toFixed(0)} ms sampled, ${((idle / total) * 100).toFixed(1)} % idle, ${((wasmUs / total) * 100).toFixed(1)} % in wasm`,
);
for (const [key, us] of rows.slice(0, count)) {
  console.log(
    `${((us / total) * 100).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(1).padStart(8)} ms  ${key}`,
  );
}
