// Bundler test: builds the app in tests/bundle/app (which imports the package
// by its bare name, "wasmsocket") with Vite's JS API into target/bundle/dist,
// serves that output over http://localhost and loads it in headless Chromium
// twice: as the browser is (the SIMD build must load) and with the SIMD probe
// made to fail (the scalar build must). Checks that both engine builds were
// emitted into the bundle, that the page fetched its .wasm from there, and
// that the app's exchange passed; measures what a page pays (raw and gzip -9)
// and writes it to target/bundle/sizes.json.
//
//   node tests/bundle/run.mjs     CHROMIUM=/path/to/chromium to override
//
// Prints one line per check, then `# pass N` and `# fail M`; exits 1 on any
// failure, Chromium failing to start included.

import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

import { build, version as viteVersion } from "vite";

import { launchChromium, root, serveRepo } from "../browser/harness.mjs";

const started = performance.now();
const LIMIT_MS = 120000;
const app = fileURLToPath(new URL("app", import.meta.url));
const outDir = path.join(root, "target", "bundle", "dist");
/** Where the output is served from, as a URL path. */
const served = "/target/bundle/dist/";

let passed = 0;
const failures = [];
function check(name, ok, detail = "") {
  console.log(`${ok ? "ok  " : "FAIL"} ${name}${detail ? ` (${detail})` : ""}`);
  if (ok) passed++;
  else failures.push(name);
}

/** Undone in reverse order at the end, whatever happens. */
const cleanups = [];
let summary = "";
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
    `bundle test: ${failures.length ? `FAILED (${failures.length}): ${failures.join("; ")}` : `PASSED${summary}`} [${seconds} s]`,
  );
  console.log(`# pass ${passed}`);
  console.log(`# fail ${failures.length}`);
  process.exit(failures.length ? 1 : 0);
}
const deadline = setTimeout(() => {
  check(`finished within ${LIMIT_MS / 1000} s`, false);
  finish();
}, LIMIT_MS);

const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;

/** Runs a start-up step; a failure is reported under `name` and ends the run. */
async function start(name, step, detail) {
  let value;
  try {
    value = await step();
  } catch (e) {
    check(name, false, e.message.split("\n")[0]);
    console.log(e.stack ?? e);
    throw new Error(`cannot go on: ${name} failed`);
  }
  check(name, true, detail(value));
  return value;
}

/** Builds the app; resolves to the files of the output, by kind. */
async function bundle() {
  const t0 = performance.now();
  await build({
    root: app,
    base: "./",
    configFile: false,
    logLevel: "warn",
    build: { outDir, emptyOutDir: true },
  });
  const ms = performance.now() - t0;
  const files = [];
  for (const entry of await readdir(outDir, { recursive: true })) {
    const file = path.join(outDir, entry);
    const name = entry.split(path.sep).join("/");
    if (!/\.(js|wasm|html|css)$/.test(name)) continue;
    files.push({ name, bytes: await readFile(file) });
  }
  return { ms, files };
}

/** The emitted .wasm files matched to pkg/wasm's two builds by content. */
async function engineAssets(files) {
  const wasmDir = path.join(root, "pkg", "wasm");
  const builds = {
    simd: sha256(await readFile(path.join(wasmDir, "wasmsocket_bg.wasm"))),
    scalar: sha256(
      await readFile(path.join(wasmDir, "wasmsocket_scalar_bg.wasm")),
    ),
  };
  const wasm = files.filter((f) => f.name.endsWith(".wasm"));
  const found = {};
  for (const [flavour, hash] of Object.entries(builds)) {
    found[flavour] = wasm.find((f) => sha256(f.bytes) === hash);
  }
  return { wasm, found };
}

/** Makes browser.js's SIMD probe (a 31-byte module) fail validation. */
function hideSimd() {
  const validate = WebAssembly.validate;
  WebAssembly.validate = (bytes) =>
    bytes?.byteLength === 31 ? false : validate(bytes);
}

/** Loads the bundled app in a fresh context; checks what it reports. */
async function runPage(browser, site, flavour, assets) {
  const requests = [];
  const onRequest = (pathname) => requests.push(pathname);
  site.listeners.add(onRequest);
  const context = await browser.newContext();
  const c = (name, ok, detail) => check(`[${flavour}] ${name}`, ok, detail);
  try {
    const page = await context.newPage();
    if (flavour === "scalar") await page.addInitScript(hideSimd);
    page.on("console", (m) =>
      console.log(`[${flavour} console.${m.type()}] ${m.text()}`),
    );
    page.on("pageerror", (e) => c("no uncaught page error", false, e.message));
    page.on("requestfailed", (r) =>
      console.log(`[request failed] ${r.url()} ${r.failure()?.errorText}`),
    );
    const t0 = performance.now();
    await page.goto(`http://localhost:${site.port}${served}index.html`);
    try {
      await page.waitForFunction(() => window.__done === true, null, {
        timeout: 30000,
      });
    } catch (e) {
      c("the app finished", false, e.message.split("\n")[0]);
    }
    const ms = performance.now() - t0;
    const checks = (await page.evaluate(() => window.__checks)) ?? [];
    if (checks.length === 0) c("the page reported its checks", false);
    for (const { name, ok, detail } of checks) c(name, ok, detail);

    const outside = requests.filter((p) => !p.startsWith(served));
    c(
      "every request was for the bundle's output",
      outside.length === 0 && requests.length > 0,
      outside.length ? outside.join(", ") : `${requests.length} requests`,
    );
    const wasm = requests.filter((p) => p.endsWith(".wasm"));
    const expected = `${served}${assets.found[flavour]?.name}`;
    c(
      `the ${flavour} .wasm was fetched from the bundle, and only it`,
      wasm.length === 1 && wasm[0] === expected,
      wasm.join(", ") || "no .wasm fetched",
    );
    console.log(`  ${flavour} page: loaded and ran in ${ms.toFixed(0)} ms`);
  } finally {
    site.listeners.delete(onRequest);
    await context.close();
  }
}

async function main() {
  await mkdir(path.dirname(outDir), { recursive: true });
  const { files } = await start(
    `vite ${viteVersion} builds the app (JS API)`,
    bundle,
    ({ ms, files }) =>
      `${ms.toFixed(0)} ms → target/bundle/dist: ${files.map((f) => f.name).join(", ")}`,
  );

  const js = files.filter((f) => f.name.endsWith(".js"));
  const html = files.find((f) => f.name === "index.html");
  check(
    "the page's script is one JS file in the output",
    js.length === 1 &&
      html?.bytes.toString().includes(`src="./${js[0].name}"`) === true,
    js.map((f) => f.name).join(", "),
  );
  const jsText = js.map((f) => f.bytes.toString()).join("\n");
  const nodeSpecifiers = jsText.match(/["'`]node:[a-z_/]+["'`]/g) ?? [];
  check(
    "the browser entry was bundled (no node: modules)",
    nodeSpecifiers.length === 0,
    nodeSpecifiers.join(", "),
  );
  check(
    "the bundle names no path of the machine that built it",
    !jsText.includes(root) && !jsText.includes("node_modules"),
  );

  const assets = await engineAssets(files);
  check(
    "both engine builds emitted, byte for byte (SIMD and scalar)",
    assets.found.simd !== undefined &&
      assets.found.scalar !== undefined &&
      assets.found.simd !== assets.found.scalar &&
      assets.wasm.length === 2,
    `simd ${assets.found.simd?.name ?? "missing"}, scalar ${assets.found.scalar?.name ?? "missing"}` +
      (assets.wasm.length !== 2 ? `, ${assets.wasm.length} .wasm files` : ""),
  );

  // What a page pays, over the wire: the JS and one of the two .wasm files.
  const size = (f) =>
    f && {
      file: f.name,
      bytes: f.bytes.length,
      gzip: gzipSync(f.bytes, { level: 9 }).length,
      brotli: brotliCompressSync(f.bytes, {
        params: { [constants.BROTLI_PARAM_QUALITY]: 11 },
      }).length,
    };
  const sizes = {
    bundler: `vite ${viteVersion}`,
    js: size(js[0]),
    simdWasm: size(assets.found.simd),
    scalarWasm: size(assets.found.scalar),
  };
  if (sizes.js && sizes.simdWasm && sizes.scalarWasm) {
    sizes.pageGzip = {
      simd: sizes.js.gzip + sizes.simdWasm.gzip,
      scalar: sizes.js.gzip + sizes.scalarWasm.gzip,
    };
    console.log("what a page pays (raw → gzip -9, brotli 11):");
    for (const [what, s] of [
      ["JS", sizes.js],
      ["SIMD .wasm", sizes.simdWasm],
      ["scalar .wasm", sizes.scalarWasm],
    ]) {
      console.log(
        `  ${what.padEnd(13)} ${kib(s.bytes).padStart(10)} → ${kib(s.gzip).padStart(9)}, ${kib(s.brotli).padStart(9)}  ${s.file}`,
      );
    }
    console.log(
      `  a page, gzipped: ${kib(sizes.pageGzip.simd)} (SIMD), ${kib(sizes.pageGzip.scalar)} (scalar)`,
    );
    summary = `, in headless Chromium (simd and scalar wasm); a page pays JS ${kib(sizes.js.gzip)} + wasm ${kib(sizes.simdWasm.gzip)} gzipped (scalar ${kib(sizes.scalarWasm.gzip)})`;
  }
  const sizesFile = path.join(root, "target", "bundle", "sizes.json");
  await writeFile(sizesFile, JSON.stringify(sizes, null, 2) + "\n");
  console.log(`  written to target/bundle/sizes.json`);

  const listeners = new Set();
  const server = await serveRepo([served], (pathname) => {
    for (const listener of listeners) listener(pathname);
  });
  cleanups.push(() => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  });
  const site = { port: server.address().port, listeners };

  const browser = await start(
    "headless Chromium starts",
    async () => {
      const browser = await launchChromium();
      cleanups.push(() => browser.close());
      return browser;
    },
    (browser) => `chromium ${browser.version()}`,
  );
  for (const flavour of ["simd", "scalar"]) {
    if (!assets.found[flavour]) continue;
    await runPage(browser, site, flavour, assets);
  }
}

try {
  await main();
} catch (e) {
  console.log(`bundle test: ${e.message.split("\n")[0]}`);
  if (failures.length === 0) check("harness", false, e.message);
}
await finish();
