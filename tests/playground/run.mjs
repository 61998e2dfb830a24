// The playground (www/) in headless Chromium, served as users get it: by
// `startPlayground` (what `wasmsocket playground` runs), page and bridge on
// one port. Two echo servers run in this process, the package's and ws's,
// both allowed through the bridge. Checked in the page:
//   1. `?connect=loopback` opens at once; both heads and a text's frames
//      (the client's masked, with its key) show;
//   2. every probe, against the in-page server, the package's server and
//      ws through the bridge, with its verdict;
//   3. a session's link replays it: the same frames, both ways;
//   4. the bridge's refusals (a target not allowed, another origin, the
//      tunnel cap) reach the page in the bridge's words; the page served
//      from another (static) host works with a bridge URL;
//   5. the JSON export holds the frames.
// Screenshots go to target/playground/*.png.
//
//   node tests/playground/run.mjs     CHROMIUM=/path/to/chromium to override
//
// Prints one line per check, then `# pass N` and `# fail M`; exits 1 on any
// failure, Chromium failing to start included.

import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";

import { WebSocketServer as WsServer } from "ws";

import { WebSocketServer } from "../../pkg/lib/node/index.js";
import { startPlayground } from "../../pkg/lib/node/playground.js";
import { PROBES } from "../../www/probes.js";
import { launchChromium, root, serveRepo } from "../browser/harness.mjs";

const started = performance.now();
const LIMIT_MS = 150000;
const SHOTS = path.join(root, "target", "playground");

const tally = { pass: 0, fail: [] };
function check(name, ok, detail = "") {
  const more = detail ? ` (${detail})` : "";
  console.log(`${ok ? "ok  " : "FAIL"} ${name}${more}`);
  if (ok) tally.pass += 1;
  else tally.fail.push(name);
}

/** Settles with `promise`, or rejects after `ms`. */
function within(ms, promise) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`over ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** What was started, stopped last first when the run ends, however it ends. */
const stops = [];
const deadline = setTimeout(() => {
  check(`the run ends within ${LIMIT_MS / 1000} s`, false);
  end();
}, LIMIT_MS);

async function end() {
  clearTimeout(deadline);
  while (stops.length > 0) {
    const stop = stops.pop();
    await within(5000, Promise.resolve().then(stop)).catch((e) =>
      console.log(`stopping: ${e.message}`),
    );
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const verdict = tally.fail.length
    ? `FAILED (${tally.fail.join("; ")})`
    : "PASSED, all checks ok in headless Chromium";
  console.log(`playground test: ${verdict} [${seconds} s]`);
  console.log(`# pass ${tally.pass}`);
  console.log(`# fail ${tally.fail.length}`);
  process.exit(tally.fail.length ? 1 : 0);
}

/** The package's echo server on a free port. */
async function packageServer() {
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  await new Promise((resolve) => wss.once("listening", resolve));
  wss.on("connection", (ws) => {
    ws.binaryType = "arraybuffer";
    ws.onmessage = (event) => ws.send(event.data);
  });
  stops.push(() => wss.close());
  return `127.0.0.1:${wss.address().port}`;
}

/** ws's echo server on a free port. */
async function wsServer() {
  const wss = new WsServer({ port: 0, host: "127.0.0.1" });
  await new Promise((resolve) => wss.once("listening", resolve));
  wss.on("connection", (ws) => {
    // A peer under test sends bad frames: ws reports them here, then closes.
    ws.on("error", () => {});
    ws.on("message", (data, binary) => ws.send(data, { binary }));
  });
  stops.push(() => {
    for (const ws of wss.clients) ws.terminate();
    return new Promise((resolve) => wss.close(resolve));
  });
  return `127.0.0.1:${wss.address().port}`;
}

async function playground(options) {
  const lines = [];
  const p = await startPlayground({
    port: 0,
    log: (line) => lines.push(line),
    ...options,
  });
  stops.push(() => {
    p.server.closeAllConnections();
    return Promise.all([
      p.bridge.close(),
      new Promise((resolve) => p.server.close(resolve)),
    ]);
  });
  return { ...p, lines };
}

/** A fresh page, its errors counted as failures. */
async function newPage(browser, name) {
  const context = await browser.newContext({
    viewport: { width: 1400, height: 900 },
    acceptDownloads: true,
  });
  stops.push(() => context.close());
  const page = await context.newPage();
  page.on("pageerror", (e) =>
    check(`[${name}] no uncaught page error`, false, e.message),
  );
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning")
      console.log(`[${name} console.${m.type()}] ${m.text()}`);
  });
  return page;
}

const status = (page) =>
  page.evaluate(() => ({
    state: document.querySelector("#status").dataset.state,
    text: document.querySelector("#status").textContent,
  }));

async function waitState(page, states, timeout = 10000) {
  await page.waitForFunction(
    (states) =>
      states.includes(document.querySelector("#status")?.dataset.state),
    states,
    { timeout },
  );
  return status(page);
}

/** The frames of the page's session, as the wire tap saw them. */
const frames = (page) =>
  page.evaluate(() =>
    window.playground.entries.filter((e) => e.kind === "frame"),
  );

/** Waits until the session's log has an entry `test` (a string of JS
 * taking `e`) accepts. */
async function waitEntry(page, test, timeout = 5000) {
  await page.waitForFunction(
    (test) => window.playground.entries.some(new Function("e", test)),
    test,
    { timeout },
  );
}

async function send(page, step, value) {
  const form = page.locator(`form.send[data-step="${step}"]`);
  await form.locator('input[name="arg"]').fill(value);
  await form.locator("button").first().click();
}

async function shot(page, name) {
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file });
  console.log(`     screenshot ${path.relative(root, file)}`);
}

/** 1: a loopback session opens at once and shows heads and frames. */
async function loopback(browser, site) {
  const page = await newPage(browser, "loopback");
  const t0 = performance.now();
  await page.goto(`${site.url}?connect=loopback`);
  const s = await waitState(page, ["open", "failed"]);
  const ms = (performance.now() - t0).toFixed(0);
  check(
    "?connect=loopback opens a session at once",
    s.state === "open",
    `${s.text}, ${ms} ms after navigation`,
  );
  await send(page, "text", "hello, playground");
  await waitEntry(
    page,
    'return e.kind === "frame" && e.direction === "received" && e.opcode === 1',
  );
  const heads = await page.evaluate(() =>
    window.playground.entries
      .filter((e) => e.kind === "head")
      .map((e) => [e.direction, e.text.split("\r\n")[0]]),
  );
  check(
    "both handshake heads show",
    heads.length === 2 &&
      heads[0][0] === "sent" &&
      heads[0][1] === "GET / HTTP/1.1" &&
      heads[1][0] === "received" &&
      heads[1][1] === "HTTP/1.1 101 Switching Protocols",
    JSON.stringify(heads),
  );
  const [sent, echo] = await frames(page);
  check(
    "the text's frame shows masked, with its key",
    sent?.direction === "sent" &&
      sent.opcode === 1 &&
      sent.fin &&
      sent.masked &&
      /^[0-9a-f]{8}$/.test(sent.mask) &&
      sent.text === "hello, playground" &&
      sent.length === 17,
    JSON.stringify(sent),
  );
  check(
    "the echo shows unmasked",
    echo?.direction === "received" &&
      echo.opcode === 1 &&
      !echo.masked &&
      echo.text === "hello, playground",
    JSON.stringify(echo),
  );
  const rows = await page
    .locator('#log li[data-kind="frame"]')
    .allTextContents();
  check(
    "the log's rows show opcode, FIN, RSV, mask key, length, text and hex",
    rows.length === 2 &&
      rows[0].includes(`mask ${sent?.mask}`) &&
      /FIN.*RSV 000.*len 17.*"hello, playground".*68 65 6c 6c 6f/.test(
        rows[0],
      ) &&
      rows[1].includes("unmasked"),
    rows[0],
  );
  // Crafted frames: a ping between fragments, a frame in three writes, a
  // length that lies (the rest waits as the peer waits).
  await send(page, "raw", 'text nofin "hel"; ping "?"; cont "lo"');
  await send(page, "raw", "binary hex:0102 split=1,2");
  await waitEntry(page, 'return e.direction === "received" && e.opcode === 2');
  const got = await frames(page);
  const pong = got.find((f) => f.direction === "received" && f.opcode === 10);
  const hello = got.find(
    (f) => f.direction === "received" && f.text === "hello",
  );
  const split = got.find((f) => f.direction === "sent" && f.opcode === 2);
  check(
    "crafted: a ping between fragments is ponged, the text echoed whole",
    pong?.text === "?" && Boolean(hello),
  );
  check(
    "crafted: a frame in 3 writes shows as one frame over 3 chunks",
    split?.chunks === 3 && split.hex === "0102",
    JSON.stringify(split),
  );
  // Binary from a file: small ones show as hex before they go.
  await page.setInputFiles('form.send[data-step="binary"] input[type="file"]', {
    name: "four.bin",
    mimeType: "application/octet-stream",
    buffer: Buffer.from([0xde, 0xad, 0xbe, 0xef]),
  });
  await page.waitForFunction(
    () =>
      document.querySelector('form.send[data-step="binary"] input[name="arg"]')
        .value,
  );
  await page.click('form.send[data-step="binary"] button');
  await waitEntry(
    page,
    'return e.direction === "received" && e.hex === "deadbeef"',
  );
  const hexField = await page
    .locator('form.send[data-step="binary"] input[name="arg"]')
    .inputValue();
  check(
    "binary from a file: shown as hex, sent, echoed",
    hexField === "de ad be ef",
    hexField,
  );
  await send(page, "raw", 'text len=50 "short"');
  await page.waitForSelector('#pending li[data-direction="sent"]');
  const pending = await page.locator("#pending").textContent();
  check(
    "a lying length shows as a frame waiting for the bytes it claims",
    /len 50: 5 byte\(s\) so far, waiting for 45 more/.test(pending),
    pending,
  );
  await shot(page, "loopback");

  // 5: the export, from the download the button makes.
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.click("#export"),
  ]);
  const exported = JSON.parse(await readFile(await download.path(), "utf8"));
  const kinds = new Set(exported.entries.map((e) => e.kind));
  const exportedFrames = exported.entries.filter((e) => e.kind === "frame");
  check(
    "the JSON export holds heads, frames (both ways) and engine lines, timed",
    ["head", "frame", "engine", "note"].every((k) => kinds.has(k)) &&
      exportedFrames.some((f) => f.direction === "sent" && f.mask) &&
      exportedFrames.some(
        (f) => f.direction === "received" && f.text === "hello, playground",
      ) &&
      exported.entries.every((e) => typeof e.t === "number"),
    `${exported.entries.length} entries, ${exportedFrames.length} frames, file ${download.suggestedFilename()}`,
  );
  await page.context().close();
}

/** 2: every probe against the peer the URL names; all should pass. */
async function probes(browser, site, name, query) {
  const page = await newPage(browser, name);
  await page.goto(`${site.url}?${query}`);
  await page.waitForSelector("body[data-ready]");
  const t0 = performance.now();
  await page.click("#run-all");
  await page.waitForFunction(
    (n) =>
      document.querySelectorAll(
        '#probes li[data-verdict]:not([data-verdict="running"])',
      ).length === n && !document.querySelector("#run-all").disabled,
    PROBES.length,
    { timeout: 60000 },
  );
  const seconds = ((performance.now() - t0) / 1000).toFixed(1);
  const results = await page.evaluate(() =>
    [...window.playground.results.values()].map(
      ({ name, verdict, expected, seen, ms }) => ({
        name,
        verdict,
        expected,
        seen,
        ms,
      }),
    ),
  );
  for (const r of results)
    check(
      `[${name}] probe ${r.name}: ${r.verdict}`,
      r.verdict === "pass",
      `expected ${r.expected}; saw ${r.seen}; ${r.ms} ms`,
    );
  console.log(`     ${results.length} probes in ${seconds} s`);
  // After a clean close the tunnel ends with it, not with a bridge error.
  const failed = await page.evaluate(() =>
    [...window.playground.results.values()].flatMap((r) =>
      r.entries
        .filter((e) => /transport failed/.test(e.text ?? ""))
        .map((e) => `${r.name}: ${e.text}`),
    ),
  );
  check(
    `[${name}] every probe's transport ends cleanly`,
    failed.length === 0,
    failed.join("; "),
  );
  return page;
}

/** 3: a live session through the bridge, then its link replayed. */
async function sharedLink(browser, site, target) {
  const live = await newPage(browser, "live");
  await live.goto(`${site.url}?connect=bridge&target=ws://${target}/`);
  let s = await waitState(live, ["open", "failed"]);
  check("a session through the bridge opens", s.state === "open", s.text);
  const quiet = () =>
    live.evaluate(() => new Promise((r) => setTimeout(r, 150)));
  await send(live, "text", "one;; two");
  await quiet();
  await send(live, "binary", "00 01 fe ff");
  await quiet();
  await live.locator('form.send[data-step="ping"] input[name="arg"]').fill("p");
  await live.click('form.send[data-step="ping"] button[data-step="pong"]');
  await quiet();
  await live.click('form.send[data-step="ping"] button:not([data-step])');
  await quiet();
  await send(live, "raw", 'text nofin "hel"; ping "?"; cont "lo"');
  await quiet();
  await send(live, "raw", 'text "split" split=1,2');
  await quiet();
  await live
    .locator('form.send[data-step="close"] input[name="code"]')
    .fill("4000");
  await live
    .locator('form.send[data-step="close"] input[name="reason"]')
    .fill("bye now");
  await live.click('form.send[data-step="close"] button');
  s = await waitState(live, ["closed", "failed"]);
  const steps = await live.locator("#steps").inputValue();
  await live.click("#copy-link");
  const link = await live.locator("#link").inputValue();
  console.log(`     link: ${link.replace(site.url, "…/")}`);
  check(
    "the live session's steps are recorded and the link holds them",
    steps.split("\n").length === 7 &&
      new URL(link).searchParams.get("steps").trim() === steps.trim(),
    JSON.stringify(steps),
  );
  const before = await frames(live);

  const replayed = await newPage(browser, "replay");
  await replayed.goto(link);
  await replayed.waitForSelector("body[data-replay]", { timeout: 20000 });
  s = await waitState(replayed, ["closed", "failed"]);
  const after = await frames(replayed);
  const shape = (list, direction) =>
    list
      .filter((f) => f.direction === direction)
      .map(
        (f) =>
          `${f.name} fin=${f.fin} rsv=${f.rsv} masked=${f.masked} len=${f.length} ${f.hex}`,
      );
  for (const direction of ["sent", "received"]) {
    const a = shape(before, direction);
    const b = shape(after, direction);
    check(
      `the replayed link ${direction} the same frames as the live session`,
      a.length > 5 && JSON.stringify(a) === JSON.stringify(b),
      `${a.length} frames${JSON.stringify(a) === JSON.stringify(b) ? "" : `: live ${JSON.stringify(a)} vs replay ${JSON.stringify(b)}`}`,
    );
  }
  check(
    "the replayed session ends as the live one did",
    s.text.startsWith("closed 4000"),
    s.text,
  );
  await live.context().close();
  await replayed.context().close();
}

/** 4: the bridge's refusals, in its words, in the page. */
async function refusals(browser, site, capped, target, other) {
  const page = await newPage(browser, "refusal");
  await page.goto(`${site.url}?connect=bridge&target=ws://127.0.0.1:9/`);
  let s = await waitState(page, ["failed", "open"]);
  check(
    "a target not allowed: the page shows the bridge's reason",
    s.state === "failed" &&
      s.text.includes("bridge: target 127.0.0.1:9 is not allowed"),
    s.text,
  );
  const logged = await page.locator("#log").textContent();
  check(
    "… in the log too",
    logged.includes("target 127.0.0.1:9 is not allowed"),
  );
  await shot(page, "refusal");
  await page.context().close();

  // The page from another host, with a bridge URL: another origin.
  const foreign = await newPage(browser, "origin");
  await foreign.goto(
    `${other}?connect=bridge&target=ws://${target}/&bridge=${capped.url.replace(/^http/, "ws").replace(/www\/$/, "bridge")}`,
  );
  s = await waitState(foreign, ["failed", "open"]);
  const origin = new URL(other).origin;
  check(
    "another origin: the page shows the bridge's reason",
    s.state === "failed" && s.text.includes(`origin ${origin} is not allowed`),
    s.text,
  );
  await foreign.context().close();

  // A bridge with room for one tunnel: the session takes it, a probe is refused.
  const cap = await newPage(browser, "cap");
  await cap.goto(`${capped.url}?connect=bridge&target=ws://${target}/`);
  s = await waitState(cap, ["open", "failed"]);
  check("the capped bridge's one tunnel opens", s.state === "open", s.text);
  await cap.click('#probes li[data-probe="rsv1"] button');
  await cap.waitForSelector(
    '#probes li[data-probe="rsv1"]:not([data-verdict="running"])[data-verdict]',
  );
  const row = await cap.locator('#probes li[data-probe="rsv1"]').textContent();
  check(
    "the tunnel cap: a probe shows the bridge's reason",
    row.includes("too many tunnels (at most 1)"),
    row.trim().replace(/\s+/g, " "),
  );
  await cap.context().close();
  check(
    "the bridges logged their refusals",
    capped.lines.some((l) => l.includes("too many tunnels")) &&
      capped.lines.some((l) => l.includes(`origin ${origin}`)),
    capped.lines.join(" | "),
  );
}

/** The page from a static host (www/ and pkg/ side by side) with a bridge URL. */
async function staticHost(browser, other, site, target) {
  const page = await newPage(browser, "static");
  const bridge = site.url.replace(/^http/, "ws").replace(/www\/$/, "bridge");
  await page.goto(
    `${other}?connect=bridge&target=ws://${target}/&bridge=${bridge}`,
  );
  const s = await waitState(page, ["open", "failed"]);
  await send(page, "text", "from a static host");
  let echoed = true;
  try {
    await waitEntry(
      page,
      'return e.direction === "received" && e.text === "from a static host"',
    );
  } catch {
    echoed = false;
  }
  check(
    "served from a static host, the page reaches a server through a bridge URL",
    s.state === "open" && echoed,
    s.text,
  );
  await page.context().close();
}

async function main() {
  await mkdir(SHOTS, { recursive: true });
  const pkg = await packageServer();
  const ws = await wsServer();
  const host = await serveRepo(["/www/", "/pkg/"]);
  stops.push(() => {
    host.closeAllConnections();
    return new Promise((resolve) => host.close(resolve));
  });
  const other = `http://localhost:${host.address().port}/www/index.html`;
  const site = await playground({
    allow: [pkg, ws],
    origins: [new URL(other).origin],
  });
  const capped = await playground({ allow: [pkg], maxTunnels: 1 });
  console.log(`playground on ${site.url}; package server ${pkg}, ws ${ws}`);
  let browser;
  try {
    browser = await launchChromium();
  } catch (e) {
    check("headless Chromium starts", false, e.message.split("\n")[0]);
    return;
  }
  stops.push(() => browser.close());
  check("headless Chromium starts", true, `chromium ${browser.version()}`);

  console.log("--- 1. loopback session, 5. export");
  await loopback(browser, site);
  console.log("--- 2. probes");
  await (
    await probes(browser, site, "loopback", "connect=loopback")
  )
    .context()
    .close();
  await (
    await probes(
      browser,
      site,
      "package server",
      `target=ws://${pkg}/&connect=bridge`,
    )
  )
    .context()
    .close();
  const last = await probes(
    browser,
    site,
    "ws",
    `target=ws://${ws}/&connect=bridge`,
  );
  await last.locator('#probes li[data-probe="ping-126"] .seen').click();
  const wire = await last.locator("#log").textContent();
  check(
    "a probe's connection shows on the wire when asked",
    /ping.*len 126/.test(wire) && /close.*code 1002/.test(wire),
    (await last.locator("#wire-title").textContent()).trim(),
  );
  await shot(last, "probes");
  await last.context().close();
  console.log("--- 3. a shared link replayed");
  await sharedLink(browser, site, pkg);
  console.log("--- 4. refusals, and a static host");
  await refusals(browser, site, capped, pkg, other);
  await staticHost(browser, other, site, pkg);
}

try {
  await main();
} catch (e) {
  check("harness", false, e.stack ?? e.message);
}
await end();
