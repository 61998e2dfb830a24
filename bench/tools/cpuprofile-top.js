// Prints the functions with the most self time in a V8 .cpuprofile (as
// written by `node --cpu-prof`), and the share of time in wasm code.
//
//   node bench/tools/cpuprofile-top.js <file.cpuprofile> [count]

import { readFileSync } from "node:fs";

import { kindOfWork, selfTimes, where } from "../lib/cpuprofile.js";

const [file, countArg] = process.argv.slice(2);
const count = Number(countArg ?? 25);
const { functions, total } = selfTimes(JSON.parse(readFileSync(file, "utf8")));

const share = (kind) =>
  functions
    .filter((f) => kindOfWork(f) === kind)
    .reduce((a, f) => a + f.us, 0) / total;
console.log(
  `${file}: ${(total / 1000).toFixed(0)} ms sampled, ${(share("idle") * 100).toFixed(1)} % idle, ${(share("wasm") * 100).toFixed(1)} % in wasm`,
);
for (const f of functions.slice(0, count)) {
  console.log(
    `${((f.us / total) * 100).toFixed(1).padStart(5)} %  ${(f.us / 1000).toFixed(1).padStart(8)} ms  ${where(f)}`,
  );
}
