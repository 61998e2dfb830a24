// WebTransport test, for real: headless Chromium loads the browser entry and
// runs WebSockets over bidirectional streams of a WebTransport session to a
// Deno server (server.js) that hands each stream to the package's server
// side. The certificate is made at test time, as Chromium wants one it is to
// trust by `serverCertificateHashes` alone: ECDSA P-256, valid at most 14
// days (the Node tests' one, valid 2).
//
//   node tests/webtransport/run.mjs     CHROMIUM=/path/to/chromium to override
//
// Then the bridge's WebTransport way in (bridge-checks.mjs) in the same
// browser. Prints one line per check, then `# pass N` and `# fail M`; exits
// 1 on any failure, Deno or Chromium failing to start included.

import { spawn } from "node:child_process";
import { once } from "node:events";
import { createHash, X509Certificate } from "node:crypto";
import { createRequire } from "node:module";
import path from "node:path";

import { launchChromium, root, serveRepo } from "../browser/harness.mjs";
import { makeCertificate } from "../node/helpers.mjs";
import { bridgeChecks } from "./bridge-checks.mjs";

const started = performance.now();
const LIMIT_MS = 120000;

let passed = 0;
const failures = [];
function check(name, ok, detail = "") {
  console.log(`${ok ? "ok  " : "FAIL"} ${name}${detail ? ` (${detail})` : ""}`);
  if (ok) passed++;
  else failures.push(name);
}

/** Undone in reverse order at the end, whatever happens. */
const cleanups = [];
async function finish() {
  clearTimeout(deadline);
  for (const undo of cleanups.reverse()) {
    let timer;
    try {
      await Promise.race([
        undo(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error("timed out")), 5000);
        }),
      ]);
    } catch (e) {
      console.log(`cleanup: ${e.message}`);
    } finally {
      clearTimeout(timer);
    }
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(
    `webtransport test: ${failures.length ? "FAILED" : "PASSED"} [${seconds} s]`,
  );
  console.log(`# pass ${passed}`);
  console.log(`# fail ${failures.length}`);
  process.exit(failures.length ? 1 : 0);
}
const deadline = setTimeout(() => {
  check(`finished within ${LIMIT_MS / 1000} s`, false);
  finish();
}, LIMIT_MS);

/** A certificate for the server, and the SHA-256 of it the page trusts. */
function certificate() {
  const { cert, key } = makeCertificate();
  const x509 = new X509Certificate(cert);
  const hash = createHash("sha256").update(x509.raw).digest("hex");
  return { cert, key, hash, validTo: x509.validTo };
}

/** The deno binary of the npm package, whether or not its postinstall ran. */
function denoBinary() {
  const require = createRequire(import.meta.url);
  return require("deno/install_api.cjs").runInstall();
}

/** Starts server.js under Deno; resolves to its UDP port. */
function startDeno({ cert, key }) {
  const deno = spawn(
    denoBinary(),
    [
      "run",
      "--unstable-net",
      "--no-prompt",
      "--allow-net=127.0.0.1",
      "--allow-env=TEST_CERT,TEST_KEY",
      `--allow-read=${path.join(root, "pkg", "wasm")}`,
      path.join(root, "tests", "webtransport", "server.js"),
    ],
    {
      cwd: root,
      env: {
        ...process.env,
        TEST_CERT: cert,
        TEST_KEY: key,
        DENO_NO_UPDATE_CHECK: "1",
        NO_COLOR: "1",
      },
      stdio: ["pipe", "pipe", "pipe"],
    },
  );
  let serving = false;
  let stopping = false;
  let exited = false;
  deno.on("exit", (code, signal) => {
    exited = true;
    if (serving && !stopping)
      check(
        "the Deno server runs to the end",
        false,
        `exited (${signal ?? code})`,
      );
  });
  cleanups.push(async () => {
    if (exited) return;
    stopping = true;
    // Its stdin ending stops it; the signals are for a server that hangs.
    deno.stdin.end();
    deno.kill("SIGTERM");
    const killer = setTimeout(() => deno.kill("SIGKILL"), 3000);
    await once(deno, "exit");
    clearTimeout(killer);
  });
  deno.stderr.setEncoding("utf8");
  deno.stderr.on("data", (s) =>
    process.stdout.write(s.replace(/^/gm, "[deno] ")),
  );
  return new Promise((resolve, reject) => {
    let out = "";
    deno.stdout.setEncoding("utf8");
    deno.stdout.on("data", (s) => {
      out += s;
      const line = out.split("\n");
      if (line.length > 1 && !serving) {
        serving = true;
        resolve(Number(line[0]));
      }
    });
    deno.on("error", reject);
    deno.on("exit", (code, signal) =>
      reject(new Error(`deno exited (${signal ?? code}) before serving`)),
    );
  });
}

/** Runs a start-up step; a failure is reported under `name` and ends the run. */
async function start(name, step, detail) {
  let value;
  try {
    value = await step();
  } catch (e) {
    check(name, false, e.message.split("\n")[0]);
    throw new Error(`cannot go on: ${name} failed`);
  }
  check(name, true, detail(value));
  return value;
}

async function main() {
  const cert = await start(
    "a certificate is made (openssl)",
    certificate,
    (c) => `ECDSA P-256 for 127.0.0.1 until ${c.validTo}, sha-256 ${c.hash}`,
  );
  const quicPort = await start(
    "the Deno WebTransport server starts",
    () => startDeno(cert),
    (port) => `udp 127.0.0.1:${port}`,
  );
  const site = await serveRepo(["/pkg/", "/tests/webtransport/"]);
  cleanups.push(() => {
    site.closeAllConnections();
    return new Promise((resolve) => site.close(resolve));
  });
  const browser = await start(
    "headless Chromium starts",
    async () => {
      const browser = await launchChromium();
      cleanups.push(() => browser.close());
      return browser;
    },
    (browser) => `chromium ${browser.version()}`,
  );

  const page = await browser.newPage();
  page.on("console", (m) =>
    console.log(`[page console.${m.type()}] ${m.text()}`),
  );
  page.on("pageerror", (e) =>
    check("no uncaught page error", false, e.message),
  );
  const query = `port=${quicPort}&hash=${cert.hash}`;
  await page.goto(
    `http://localhost:${site.address().port}/tests/webtransport/page.html?${query}`,
  );
  await page.waitForFunction(() => window.__done === true, null, {
    timeout: LIMIT_MS - 10000,
  });
  const checks = await page.evaluate(() => window.__checks);
  if (checks.length === 0) check("the page reported its checks", false);
  for (const { name, ok, detail } of checks) check(name, ok, detail);
  await page.close();

  // The bridge's WebTransport way in (bridge-checks.mjs).
  await bridgeChecks({
    browser,
    site,
    cert,
    deno: denoBinary(),
    root,
    check,
    cleanups,
  });
}

try {
  await main();
} catch (e) {
  console.log(`webtransport test: ${e.message.split("\n")[0]}`);
  if (failures.length === 0) check("harness", false, e.message);
}
await finish();
