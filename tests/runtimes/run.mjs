// The package's Node test suites (tests/node/*.test.mjs) under Deno and Bun,
// the two other runtimes it supports, both from npm as pinned dev
// dependencies. Each suite runs in the runtime's own test runner, which runs
// node:test files: `deno test`, `bun test`. A child process a suite starts
// with `process.execPath` (the CLI, a server in a process of its own) runs
// under the same runtime. First, each runtime imports `wasmsocket` and
// `wasmsocket/component` by name, as a user would, and must get the Node
// entry's exports (the runtime-neutral browser entry has no sockets).
//
//   node tests/runtimes/run.mjs [deno|bun]… [--suite NAME]…
//
// Every test that cannot pass under a runtime is listed in EXPECTED below
// with the reason, and every suite not run here in NOT_RUN. The run fails if a test outside that list fails, if a
// listed one passes or is not found (so that the list stays true), or if a
// suite's process ends badly or runs too long. Prints a table per runtime
// (passed, failed, skipped, expected failures), then every listed failure
// with its reason. Logs and JUnit files go to target/runtimes/.

import { spawn, spawnSync } from "node:child_process";
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const require = createRequire(import.meta.url);
const root = fileURLToPath(new URL("../..", import.meta.url));
const out = path.join(root, "target", "runtimes");
const started = performance.now();
/** A suite that runs longer is killed and counted as failed. */
const SUITE_LIMIT_MS = 180_000;

/**
 * Tests known not to pass under a runtime, by suite (the file's name without
 * .test.mjs) and full name ("describe > test"), each with the reason.
 */
const EXPECTED = {
  deno: [],
  bun: [
    {
      suite: "websocket",
      test: "events > a listener that throws does not break the connection",
      why: "bun test fails the running test on an exception thrown in an EventTarget listener, before process 'uncaughtException' listeners see it (plain bun hands it to them, as Node does)",
    },
    {
      suite: "server",
      test: "over net > ws@8 client: echo, request fields, server-side url",
      why: "Bun replaces the `ws` package with its own, whose client's upgrade response has no socket.localPort to compare remotePort with",
    },
    {
      suite: "server",
      test: "attached to an http.Server > another route is still served; /ws works for both clients; /other gets 404",
      why: "Bun's own `ws` client: no socket.localPort on its upgrade response to compare remotePort with",
    },
    {
      suite: "hostile-peers",
      test: "a rejecting hook answers 500 and, with no error listener, is logged instead of thrown",
      why: "Bun's console.error prints an Error as a source excerpt, not `Error: message` and its stack as the test expects (the line is logged and the answer is 500)",
    },
    {
      suite: "proxy",
      test: "the proxy option, through a real CONNECT proxy > wss: checks the server's certificate, not the proxy's",
      why: "Bun's TLS (BoringSSL) words the error 'self signed certificate', OpenSSL 3 'self-signed certificate'; the connection is refused all the same",
    },
    {
      suite: "proxy",
      test: "the proxy option, through a real CONNECT proxy > an https: proxy whose certificate is not trusted fails before CONNECT",
      why: "Bun's TLS (BoringSSL) words the error 'self signed certificate', OpenSSL 3 'self-signed certificate'; the connection is refused all the same",
    },
    {
      suite: "cli",
      test: "--send-raw: a frame split in 3 writes arrives in 3 pieces and is echoed",
      why: "the test counts chunks on the `ws` server's request.socket, which never emits 'data' in Bun's own `ws` (the CLI's trace shows the 3 writes and the echo)",
    },
  ],
};

/** Suites of tests/node not run here, each with the reason. */
const NOT_RUN = {};

/** The real binary of each runtime's npm package (not a Node launcher). */
const RUNTIMES = {
  deno: {
    // Links the platform package's binary if npm skipped the postinstall.
    binary: () => require("deno/install_api.cjs").runInstall(),
    version: (text) => text.match(/^deno (\S+)/)?.[1],
    run: (script) => ["run", "-A", "--no-lock", script],
    // --no-check: the files are JavaScript; checking would want @types/node.
    test: (file, junit) => [
      "test",
      "-A",
      "--no-check",
      "--no-lock",
      `--junit-path=${junit}`,
      file,
    ],
    parse: parseDeno,
  },
  bun: {
    // scripts/setup.sh runs the bun package's install.js if npm did not.
    binary: () => path.join(root, "node_modules", "bun", "bin", "bun.exe"),
    version: (text) => text.match(/^(\d\S*)/)?.[1],
    run: (script) => [script],
    // Bun's runner gives each test 5 s unless told; Node's gives no limit.
    test: (file, junit) => [
      "test",
      "--timeout=60000",
      "--reporter=junit",
      `--reporter-outfile=${junit}`,
      file,
    ],
    parse: parseBun,
  },
};

const { values: flags, positionals } = parseArgs({
  options: { suite: { type: "string", multiple: true } },
  allowPositionals: true,
});
const chosen = positionals.length ? positionals : Object.keys(RUNTIMES);
for (const name of chosen)
  if (!RUNTIMES[name]) throw new Error(`unknown runtime ${name}`);
const suites = readdirSync(path.join(root, "tests", "node"))
  .filter((f) => f.endsWith(".test.mjs"))
  .map((f) => f.slice(0, -".test.mjs".length))
  .filter((s) => !flags.suite || flags.suite.includes(s))
  .sort();
const notRun = suites.filter((s) => NOT_RUN[s]);
const toRun = suites.filter((s) => !NOT_RUN[s]);

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const env = { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" };
delete env.FORCE_COLOR;

/** Problems that fail the run besides unexpected test results. */
const troubles = [];

// ---------------------------------------------------------------------------
// JUnit XML, as the two runners write it

const ENTITIES = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };
const decode = (s) =>
  s.replace(/&(#x[0-9a-f]+|#\d+|\w+);/gi, (m, e) =>
    e[0] === "#"
      ? String.fromCodePoint(
          Number(e[1] === "x" ? `0${e.slice(1)}` : e.slice(1)),
        )
      : (ENTITIES[e] ?? m),
  );

/** The elements of a JUnit file in document order: { tag, close, attrs, body }. */
function* elements(xml) {
  const re =
    /<(\/?)(testsuites|testsuite|testcase|failure|error|skipped)((?:\s+[\w:-]+="[^"]*")*)\s*(\/?)>/g;
  for (let m; (m = re.exec(xml));) {
    const attrs = {};
    for (const [, k, v] of m[3].matchAll(/([\w:-]+)="([^"]*)"/g))
      attrs[k] = decode(v);
    yield { tag: m[2], close: m[1] === "/", empty: m[4] === "/", attrs };
  }
}

/** Test cases of a JUnit file: [{ name, state, message }], where a name is
 * the path of the enclosing suites below the file's, then the case's own. */
function testcases(xml, { suitePath }) {
  const cases = [];
  const suites = [];
  let current = null;
  for (const e of elements(xml)) {
    if (e.tag === "testsuite") {
      if (e.close) suites.pop();
      else if (!e.empty) suites.push(e.attrs.name);
    } else if (e.tag === "testcase" && !e.close) {
      const names = suitePath
        ? [...suites.slice(1), e.attrs.name]
        : [e.attrs.name];
      current = { name: names.join(" > "), state: "passed", message: "" };
      cases.push(current);
      if (e.empty) current = null;
    } else if (e.tag === "testcase") current = null;
    else if (current && !e.close) {
      if (e.tag === "skipped") current.state = "skipped";
      else {
        current.state = "failed";
        current.message ||= e.attrs.message ?? "";
      }
    }
  }
  return cases;
}

/** Bun: one case per test, inside a suite per describe block. */
function parseBun(xml) {
  return testcases(xml, { suitePath: true });
}

/**
 * Deno: a case per test and one per step (a describe's tests, t.test()),
 * named "parent > step". Only the leaves count; a parent that failed with
 * no failed step (a hook) counts as a failure of its own.
 */
function parseDeno(xml) {
  const cases = testcases(xml, { suitePath: false });
  const parents = new Set();
  for (const c of cases) {
    const parts = c.name.split(" > ");
    for (let i = 1; i < parts.length; i++)
      parents.add(parts.slice(0, i).join(" > "));
  }
  const failedUnder = (name) =>
    cases.some((c) => c.state === "failed" && c.name.startsWith(`${name} > `));
  return cases.filter(
    (c) =>
      !parents.has(c.name) || (c.state === "failed" && !failedUnder(c.name)),
  );
}

// ---------------------------------------------------------------------------
// running

/** Runs `binary args` in its own process group; resolves to its outcome.
 * Output goes to `log`. A run past `limit` ms is killed, group and all. */
function runProcess(binary, args, log, limit) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(binary, args, {
      cwd: root,
      env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let text = "";
    const keep = (chunk) => (text += chunk);
    child.stdout.setEncoding("utf8").on("data", keep);
    child.stderr.setEncoding("utf8").on("data", keep);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {}
    }, limit);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      // Children the suite left behind go with their group.
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {}
      writeFileSync(log, text);
      resolve({
        code,
        signal,
        timedOut,
        text,
        seconds: (performance.now() - t0) / 1000,
      });
    });
  });
}

/** The runtime's binary and version, or null (a trouble) if it does not run. */
function probe(name) {
  const runtime = RUNTIMES[name];
  let binary;
  try {
    binary = runtime.binary();
  } catch (error) {
    troubles.push(
      `${name}: no binary (${error.message}); run scripts/setup.sh`,
    );
    return null;
  }
  const r = spawnSync(binary, ["--version"], { encoding: "utf8", env });
  const version = r.status === 0 && runtime.version(r.stdout);
  if (!version) {
    troubles.push(
      `${name}: ${binary} --version failed (${(r.stderr || r.error?.message || "").trim().split("\n")[0]}); run scripts/setup.sh`,
    );
    return null;
  }
  return { ...runtime, name, binary, version };
}

/** The export names of the package's two entries, as Node resolves them. */
async function entryExports() {
  const main = await import("wasmsocket");
  const component = await import("wasmsocket/component");
  return JSON.stringify({
    main: Object.keys(main).sort(),
    component: Object.keys(component).sort(),
  });
}

/** `import "wasmsocket"` under the runtime gives the Node entry's exports. */
async function checkEntries(rt, expected) {
  const r = await runProcess(
    rt.binary,
    rt.run(path.join("tests", "runtimes", "entries.mjs")),
    path.join(out, `${rt.name}-entries.log`),
    30_000,
  );
  const got = r.text.trim().split("\n").at(-1);
  const ok = r.code === 0 && got === expected;
  if (!ok)
    troubles.push(
      `${rt.name}: import "wasmsocket" / "wasmsocket/component" did not give the Node entry's exports:\n${r.text}`,
    );
  return ok;
}

/** One suite under one runtime: its tests, each marked against EXPECTED. */
async function runSuite(rt, suite) {
  const junit = path.join(out, `${rt.name}-${suite}.xml`);
  const file = `./tests/node/${suite}.test.mjs`;
  const r = await runProcess(
    rt.binary,
    rt.test(file, junit),
    path.join(out, `${rt.name}-${suite}.log`),
    SUITE_LIMIT_MS,
  );
  let cases = [];
  try {
    cases = rt.parse(readFileSync(junit, "utf8"));
  } catch {}
  const listed = EXPECTED[rt.name].filter((x) => x.suite === suite);
  const result = {
    runtime: rt.name,
    suite,
    seconds: r.seconds,
    passed: 0,
    failed: [],
    skipped: 0,
    expected: [],
    surprises: [],
  };
  for (const c of cases) {
    const known = listed.find((x) => x.test === c.name);
    if (c.state === "skipped") result.skipped++;
    else if (c.state === "passed" && !known) result.passed++;
    else if (c.state === "failed" && known) result.expected.push(known);
    else if (c.state === "failed") result.failed.push(c);
    else result.surprises.push(`listed as failing but passed: ${c.name}`);
  }
  for (const x of listed)
    if (!cases.some((c) => c.name === x.test))
      result.surprises.push(`listed as failing but not found: ${x.test}`);
  const where = `${rt.name} ${suite}`;
  if (r.timedOut)
    troubles.push(`${where}: killed after ${SUITE_LIMIT_MS / 1000} s`);
  else if (cases.length === 0)
    troubles.push(`${where}: no test result (exit ${r.signal ?? r.code})`);
  else if (r.code !== 0 && result.failed.length + result.expected.length === 0)
    troubles.push(`${where}: exit ${r.signal ?? r.code} with no failed test`);
  if (r.timedOut || cases.length === 0 || result.failed.length) {
    const tail = r.text.trimEnd().split("\n").slice(-40).join("\n");
    console.log(`--- ${where}: end of its output\n${tail}\n---`);
  }
  return result;
}

/** Runs `jobs` (functions returning promises), `width` at a time. */
async function pool(jobs, width) {
  const results = [];
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]();
    }
  };
  await Promise.all(Array.from({ length: width }, worker));
  return results;
}

// ---------------------------------------------------------------------------

const runtimes = chosen.map(probe).filter(Boolean);
const expectedEntries = await entryExports();
const entries = {};
for (const rt of runtimes) {
  console.log(`${rt.name} ${rt.version} (${path.relative(root, rt.binary)})`);
  entries[rt.name] = await checkEntries(rt, expectedEntries);
}

// Two suites at a time at least: most of their time is spent waiting on
// sockets and child processes, not computing.
const width = Math.min(4, Math.max(2, availableParallelism()));
const jobs = runtimes.flatMap((rt) =>
  toRun.map((suite) => () => runSuite(rt, suite)),
);
const results = await pool(jobs, width);

const pad = (v, n) => String(v).padStart(n);
for (const rt of runtimes) {
  const rows = results.filter((r) => r.runtime === rt.name);
  const total = { passed: 0, failed: 0, skipped: 0, expected: 0, seconds: 0 };
  console.log(
    `\n${rt.name} ${rt.version}: import "wasmsocket" gives the Node entry: ${entries[rt.name] ? "yes" : "NO"}`,
  );
  console.log(
    `  ${"suite".padEnd(16)}${pad("pass", 6)}${pad("fail", 6)}${pad("skip", 6)}${pad("xfail", 7)}${pad("time", 9)}`,
  );
  for (const r of rows) {
    const row = {
      passed: r.passed,
      failed: r.failed.length,
      skipped: r.skipped,
      expected: r.expected.length,
      seconds: r.seconds,
    };
    for (const k in total) total[k] += row[k];
    console.log(
      `  ${r.suite.padEnd(16)}${pad(row.passed, 6)}${pad(row.failed, 6)}${pad(row.skipped, 6)}${pad(row.expected, 7)}${pad(row.seconds.toFixed(1), 7)} s`,
    );
  }
  console.log(
    `  ${"total".padEnd(16)}${pad(total.passed, 6)}${pad(total.failed, 6)}${pad(total.skipped, 6)}${pad(total.expected, 7)}`,
  );
}

for (const s of notRun) console.log(`\nnot run: ${s}: ${NOT_RUN[s]}`);

const listed = results.flatMap((r) =>
  r.expected.map(
    (x) => `  ${r.runtime} ${r.suite}: ${x.test}\n      why: ${x.why}`,
  ),
);
if (listed.length)
  console.log(
    `\nexpected failures (listed in tests/runtimes/run.mjs):\n${listed.join("\n")}`,
  );

const failures = results.flatMap((r) => [
  ...r.failed.map(
    (c) =>
      `${r.runtime} ${r.suite}: FAILED ${c.name}\n      ${c.message.split("\n").slice(0, 6).join("\n      ")}`,
  ),
  ...r.surprises.map((s) => `${r.runtime} ${r.suite}: ${s}`),
]);
failures.push(...troubles);
if (failures.length) console.log(`\nproblems:\n  ${failures.join("\n  ")}`);
const seconds = ((performance.now() - started) / 1000).toFixed(1);
console.log(
  `\nruntimes test: ${failures.length ? "FAILED" : "PASSED"} [${seconds} s]`,
);
process.exit(failures.length ? 1 : 0);
