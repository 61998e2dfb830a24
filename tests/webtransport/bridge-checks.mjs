// The bridge's WebTransport way in, for real (run.mjs calls this once its
// own page is done): two `wasmsocket bridge --webtransport` processes under
// Deno, with the test's certificate, in front of an echo server (the
// package's Node WebSocketServer) and a port where nothing listens; the page
// (bridge-page.mjs) tunnels WebSockets through them and sees the refusals.
// Bridge a serves the page's origin (the CONNECT request's Origin header)
// with a cap of 3; bridge b does not, so it refuses every tunnel.

import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

import { WebSocketServer } from "wasmsocket";

/**
 * Raw TCP targets for flow control: `sink` never reads; `flood` writes 64
 * MiB as fast as its peer takes it, and `flushed` is how much of it the
 * kernel took.
 */
async function rawTargets(cleanups) {
  const sockets = new Set();
  const listen = async (onSocket) => {
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => {});
      onSocket(socket);
    });
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => {
      for (const socket of sockets) socket.destroy();
      server.close();
    });
    return server.address().port;
  };
  const result = { flushed: 0 };
  result.sink = await listen((socket) => socket.pause());
  result.flood = await listen((socket) => {
    const chunk = Buffer.alloc(1 << 20);
    let sent = 0;
    const pump = () => {
      while (sent < 64) {
        sent += 1;
        if (!socket.write(chunk, () => (result.flushed += chunk.length)))
          return;
      }
    };
    socket.on("drain", pump);
    pump();
  });
  return result;
}

/** A port nothing listens on (bound once, then let go). */
function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Starts the CLI's bridge under Deno; resolves to its port and log. */
function startBridge({ deno, root, dir, name, args, check, cleanups }) {
  const child = spawn(
    deno,
    [
      "run",
      "--unstable-net",
      "--no-prompt",
      "--allow-net=127.0.0.1",
      "--allow-env",
      `--allow-read=${root},${dir}`,
      path.join(root, "pkg", "bin", "wasmsocket.js"),
      "bridge",
      "--webtransport",
      "0",
      "--cert",
      path.join(dir, "cert.pem"),
      "--key",
      path.join(dir, "key.pem"),
      ...args,
    ],
    {
      cwd: root,
      env: { ...process.env, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const lines = [];
  let exited = false;
  let stopping = false;
  child.on("exit", (code, signal) => {
    exited = true;
    if (!stopping && lines.length > 0)
      check(
        `bridge ${name} runs to the end`,
        false,
        `exited (${signal ?? code})`,
      );
  });
  cleanups.push(async () => {
    if (exited) return;
    stopping = true;
    child.kill("SIGTERM");
    const killer = setTimeout(() => child.kill("SIGKILL"), 3000);
    await once(child, "exit");
    clearTimeout(killer);
  });
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (s) =>
    process.stdout.write(s.replace(/^/gm, `[bridge ${name}] `)),
  );
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (s) => {
      out += s;
      const parts = out.split("\n");
      out = parts.pop();
      for (const line of parts) {
        lines.push(line);
        const m = /^bridge listening on https:\/\/127\.0\.0\.1:(\d+)/.exec(
          line,
        );
        if (m) resolve({ port: Number(m[1]), lines });
      }
    });
    child.on("error", reject);
    child.on("exit", (code, signal) =>
      reject(
        new Error(`bridge ${name} exited (${signal ?? code}) before serving`),
      ),
    );
  });
}

export async function bridgeChecks({
  browser,
  site,
  cert,
  deno,
  root,
  check,
  cleanups,
}) {
  const t0 = performance.now();
  const echo = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  await once(echo, "listening");
  cleanups.push(() => echo.close());
  // Echoes; on /close, closes first (1000 "bye").
  echo.on("connection", (ws, request) => {
    ws.binaryType = "arraybuffer";
    ws.onmessage = (e) => ws.send(e.data);
    if (request.url.startsWith("/close")) ws.close(1000, "bye");
  });
  const echoPort = echo.address().port;
  const closedPort = await freePort();
  const raw = await rawTargets(cleanups);
  const dir = mkdtempSync(path.join(os.tmpdir(), "wasmsocket-bridge-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, "cert.pem"), cert.cert);
  writeFileSync(path.join(dir, "key.pem"), cert.key);
  const common = { deno, root, dir, check, cleanups };
  // The page's origin, as Chromium sends it in the CONNECT request.
  const page = `http://localhost:${site.address().port}`;
  let a;
  let b;
  try {
    [a, b] = await Promise.all([
      startBridge({
        ...common,
        name: "a",
        args: [
          "--allow",
          `127.0.0.1:${echoPort}`,
          "--allow",
          `127.0.0.1:${closedPort}`,
          "--allow",
          `127.0.0.1:${raw.sink}`,
          "--allow",
          `127.0.0.1:${raw.flood}`,
          "--origin",
          page,
          "--max-tunnels",
          "3",
        ],
      }),
      startBridge({
        ...common,
        name: "b",
        args: ["--allow", `127.0.0.1:${echoPort}`],
      }),
    ]);
  } catch (e) {
    check(
      "the Deno bridges start (wasmsocket bridge --webtransport)",
      false,
      e.message,
    );
    return;
  }
  check(
    "the Deno bridges start (wasmsocket bridge --webtransport)",
    true,
    `udp ${a.port} and ${b.port}, ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  const tab = await browser.newPage();
  tab.on("console", (m) =>
    console.log(`[bridge page console.${m.type()}] ${m.text()}`),
  );
  tab.on("pageerror", (e) =>
    check("no uncaught bridge page error", false, e.message),
  );
  const query = new URLSearchParams({
    a: a.port,
    b: b.port,
    hash: cert.hash,
    echo: echoPort,
    closed: closedPort,
    sink: raw.sink,
    flood: raw.flood,
  });
  await tab.goto(
    `http://localhost:${site.address().port}/tests/webtransport/bridge-page.html?${query}`,
  );
  await tab.waitForFunction(() => window.__done === true, null, {
    timeout: 60000,
  });
  const checks = await tab.evaluate(() => window.__checks);
  if (checks.length === 0) check("the bridge page reported its checks", false);
  for (const { name, ok, detail } of checks)
    check(`bridge: ${name}`, ok, detail);
  check(
    "bridge: a page that does not read holds the target back",
    raw.flushed > 0 && raw.flushed < 32 << 20,
    `the target flushed ${raw.flushed} of ${64 << 20} bytes`,
  );
  const logA = a.lines.join("\n");
  const logB = b.lines.join("\n");
  const expected = [
    [logA, `tunnel ${page} → tcp 127.0.0.1:${echoPort}`],
    [
      logA,
      `refused 127.0.0.1 (origin ${page}): target 127.0.0.1:${echoPort + 1} is not allowed`,
    ],
    [logA, `cannot reach tcp 127.0.0.1:${closedPort}: ECONNREFUSED`],
    [logA, `refused 127.0.0.1 (origin ${page}): too many tunnels (at most 3)`],
    [logB, `refused 127.0.0.1 (origin ${page}): origin ${page} is not allowed`],
  ];
  const missing = expected.filter(([log, line]) => !log.includes(line));
  check(
    "bridge: a log line for each tunnel and refusal",
    missing.length === 0,
    missing.length
      ? `missing: ${missing.map(([, l]) => l).join("; ")}`
      : `${a.lines.length + b.lines.length} lines`,
  );
  await tab.close();
}
