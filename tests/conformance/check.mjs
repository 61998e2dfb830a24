// Reads Autobahn's reports (wstest exits 0 even when nothing connected, so
// its exit code proves nothing) and fails unless every expected case ran and
// none is FAILED, WRONG CODE, UNCLEAN or FAILED BY CLIENT. NON-STRICT and
// INFORMATIONAL verdicts are counted. The run is compared with the verdicts
// kept in expected.json, so any change shows; `--update` rewrites that file.
// `--subset` (CI's sample of 12.* and 13.*) lets cases of those two groups
// be missing; `--partial` (a run of chosen cases) lets any be missing, and
// with `--update` adds its verdicts to the file's.
//
//   node check.mjs REPORTS_DIR [--update] [--subset | --partial] [--markdown FILE]

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const BAD = new Set(["FAILED", "WRONG CODE", "UNCLEAN", "FAILED BY CLIENT"]);
const args = process.argv.slice(2);
const dir = args[0];
const update = args.includes("--update");
const partial = args.includes("--partial");
const subset = args.includes("--subset");
/** Cases the run may leave out. */
const mayMiss = (id) => partial || (subset && /^1[23]\./.test(id));
const markdownAt = args.indexOf("--markdown");
const expectedFile = new URL("./expected.json", import.meta.url);

/** { agent: { case: { behavior, behaviorClose } } } from both report folders. */
function readRun() {
  const run = {};
  for (const side of ["clients", "servers"]) {
    const file = join(dir, side, "index.json");
    if (!existsSync(file)) continue;
    for (const [agent, cases] of Object.entries(
      JSON.parse(readFileSync(file, "utf8")),
    )) {
      run[agent] = cases;
    }
  }
  return run;
}

/** Orders case ids like 1.1.10 after 1.1.9. */
function byCase(a, b) {
  const x = a.split(".").map(Number);
  const y = b.split(".").map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if ((x[i] ?? -1) !== (y[i] ?? -1)) return (x[i] ?? -1) - (y[i] ?? -1);
  }
  return 0;
}

const run = readRun();
const expected = existsSync(expectedFile)
  ? JSON.parse(readFileSync(expectedFile, "utf8"))
  : {};
const problems = [];
const changes = [];
const tallies = {};

for (const agent of new Set([...Object.keys(expected), ...Object.keys(run)])) {
  const got = run[agent];
  if (!got) {
    problems.push(`${agent}: no report at all (did the testee connect?)`);
    continue;
  }
  const want = expected[agent] ?? {};
  for (const id of Object.keys(want)) {
    if (!got[id] && !mayMiss(id))
      problems.push(`${agent} ${id}: missing from the run`);
  }
  const tally = (tallies[agent] = {});
  for (const id of Object.keys(got).sort(byCase)) {
    const { behavior, behaviorClose } = got[id];
    const category = id.split(".")[0];
    const row = (tally[category] ??= {});
    row[behavior] = (row[behavior] ?? 0) + 1;
    if (BAD.has(behavior) || BAD.has(behaviorClose)) {
      problems.push(`${agent} ${id}: ${behavior} (close: ${behaviorClose})`);
    }
    const verdict = `${behavior}/${behaviorClose}`;
    if (want[id] !== undefined && want[id] !== verdict) {
      changes.push(`${agent} ${id}: expected ${want[id]}, got ${verdict}`);
    }
    if (want[id] === undefined && Object.keys(want).length > 0) {
      changes.push(`${agent} ${id}: new case, ${verdict}`);
    }
  }
}

const lines = [];
for (const [agent, tally] of Object.entries(tallies)) {
  const totals = {};
  lines.push(
    `| ${agent} | ${Object.keys(tally)
      .sort(byCase)
      .map((c) => {
        const row = tally[c];
        for (const [k, v] of Object.entries(row))
          totals[k] = (totals[k] ?? 0) + v;
        return `${c}: ${Object.entries(row)
          .map(([k, v]) => `${v} ${k}`)
          .join(", ")}`;
      })
      .join("; ")} |`,
  );
  const summary = Object.entries(totals)
    .map(([k, v]) => `${v} ${k}`)
    .join(", ");
  console.log(`${agent}: ${summary}`);
}
if (markdownAt >= 0) {
  const table = [
    "| testee | verdicts per case category |",
    "| --- | --- |",
    ...lines,
  ].join("\n");
  writeFileSync(args[markdownAt + 1], `${table}\n`);
}

if (update) {
  // A partial run adds to (or changes) what the file has; a whole run replaces it.
  const fresh = partial ? expected : {};
  for (const [agent, cases] of Object.entries(run)) {
    const verdicts = { ...fresh[agent] };
    for (const id of Object.keys(cases)) {
      verdicts[id] = `${cases[id].behavior}/${cases[id].behaviorClose}`;
    }
    fresh[agent] = Object.fromEntries(
      Object.keys(verdicts)
        .sort(byCase)
        .map((id) => [id, verdicts[id]]),
    );
  }
  writeFileSync(expectedFile, `${JSON.stringify(fresh, null, 2)}\n`);
  console.log("expected.json updated from this run");
} else if (changes.length > 0) {
  problems.push(...changes.map((c) => `changed verdict: ${c}`));
}

if (problems.length > 0) {
  for (const p of problems.slice(0, 60)) console.log(`  ${p}`);
  if (problems.length > 60) console.log(`  … and ${problems.length - 60} more`);
  console.log(`conformance: FAILED (${problems.length} problems)`);
  process.exit(1);
}
console.log(
  `conformance: PASSED (${Object.keys(run).length} testees, every case OK, NON-STRICT or INFORMATIONAL as expected)`,
);
