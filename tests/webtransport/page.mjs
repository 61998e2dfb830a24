// Runs in headless Chromium (see run.mjs): opens one WebTransport session to
// the Deno server (server.js) and runs WebSockets of the package's browser
// entry over bidirectional streams of it, each check on streams of its own.
// The query string gives the server's port and the SHA-256 of its
// certificate. Results go to `window.__checks` ({ name, ok, detail });
// `window.__done` is set when the run is over.

import { streamTransport, WebSocket } from "/pkg/lib/browser.js";

const params = new URLSearchParams(location.search);
const port = params.get("port");
const certHash = Uint8Array.from(params.get("hash").match(/../g), (h) =>
  parseInt(h, 16),
);
const checks = [];
window.__checks = checks;

function record(name, ok, detail = "") {
  checks.push({ name, ok, detail });
  document.getElementById("log").textContent +=
    `${ok ? "ok  " : "FAIL"} ${name} ${detail}\n`;
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`timed out after ${ms} ms: ${what}`)),
        ms,
      );
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Runs one check: `fn` returns { ok, detail }; a throw or a hang fails it. */
async function check(name, fn) {
  const t0 = performance.now();
  try {
    const { ok, detail } = await withTimeout(fn(), 20000, name);
    const ms = (performance.now() - t0).toFixed(0);
    record(name, ok, `${detail} [${ms} ms]`);
  } catch (e) {
    record(name, false, String(e?.message ?? e));
  }
}

const OFFERED = ["echo.v1", "echo.v2"];
let session;

/**
 * A package WebSocket on a new bidirectional stream of the session, once
 * open. `wrap` may turn the stream into the transport handed over.
 */
async function open(path, wrap = (stream) => stream) {
  const stream = await session.createBidirectionalStream();
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, OFFERED, {
    transport: wrap(stream),
  });
  ws.binaryType = "arraybuffer";
  const events = [];
  const inbox = [];
  const waiting = [];
  ws.onmessage = (e) => {
    events.push("message");
    if (waiting.length > 0) waiting.shift()(e.data);
    else inbox.push(e.data);
  };
  ws.onerror = () => events.push("error");
  const closed = new Promise((resolve) => {
    ws.onclose = (e) => {
      events.push("close");
      resolve({ code: e.code, reason: e.reason, wasClean: e.wasClean });
    };
  });
  await new Promise((resolve, reject) => {
    ws.onopen = () => {
      events.push("open");
      resolve();
    };
    closed.then((e) => reject(new Error(`closed before open: ${e.code}`)));
  });
  const next = () =>
    inbox.length > 0
      ? Promise.resolve(inbox.shift())
      : new Promise((resolve) => waiting.push(resolve));
  return { ws, next, closed, events };
}

/** How the server saw the socket opened with ?id=`id` close. */
async function serverSaw(id) {
  const { next } = await open(`/report?of=${id}`);
  return JSON.parse(await next());
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const show = (x) => JSON.stringify(x);

function randomBytes(n) {
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) {
    crypto.getRandomValues(bytes.subarray(i, i + 65536));
  }
  return bytes;
}

function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

async function run() {
  await check("WebTransport session to the Deno server is ready", async () => {
    session = new WebTransport(`https://127.0.0.1:${port}/`, {
      serverCertificateHashes: [{ algorithm: "sha-256", value: certHash }],
    });
    await session.ready;
    return { ok: true, detail: `https://127.0.0.1:${port}/` };
  });
  if (!checks[0].ok) return;

  await check("a subprotocol is agreed", async () => {
    const { ws, closed } = await open("/echo");
    const protocol = ws.protocol;
    ws.close();
    await closed;
    return {
      ok: protocol === "echo.v2",
      detail: `offered ${OFFERED}, got ${protocol}`,
    };
  });

  await check("text echo", async () => {
    const text = "héllo 👋 over a WebTransport stream";
    const { ws, next, closed } = await open("/echo");
    ws.send(text);
    const got = await next();
    ws.close();
    await closed;
    return { ok: got === text, detail: show(got) };
  });

  await check("1 MiB binary echo, byte-exact", async () => {
    const bytes = randomBytes(1 << 20);
    const { ws, next, closed } = await open("/echo");
    const t0 = performance.now();
    ws.send(bytes);
    const got = new Uint8Array(await next());
    const ms = performance.now() - t0;
    ws.close();
    await closed;
    return {
      ok: equalBytes(got, bytes),
      detail: `${got.length} bytes back in ${ms.toFixed(0)} ms`,
    };
  });

  await check("50 WebSockets at once on one session", async () => {
    const sockets = await Promise.all(
      Array.from({ length: 50 }, () => open("/echo")),
    );
    const echoes = await Promise.all(
      sockets.map(async ({ ws, next }, i) => {
        const bytes = randomBytes(4096);
        ws.send(`socket ${i}`);
        ws.send(bytes);
        const text = await next();
        const back = new Uint8Array(await next());
        return text === `socket ${i}` && equalBytes(back, bytes);
      }),
    );
    for (const { ws } of sockets) ws.close(1000);
    const closes = await Promise.all(sockets.map((s) => s.closed));
    const echoed = echoes.filter(Boolean).length;
    const clean = closes.filter((c) => c.wasClean && c.code === 1000).length;
    return {
      ok: echoed === 50 && clean === 50,
      detail: `${echoed}/50 echoed text and 4 KiB, ${clean}/50 closed cleanly`,
    };
  });

  await check("client closes: both sides see its code and reason", async () => {
    const { ws, closed } = await open("/echo?id=client-close");
    ws.close(4000, "client bye");
    const client = await closed;
    const server = await serverSaw("client-close");
    // The server's reply echoes the code only (RFC 6455 5.5.1), so the
    // client's close event has an empty reason, as in browsers.
    return {
      ok:
        same(client, { code: 4000, reason: "", wasClean: true }) &&
        same(server, { code: 4000, reason: "client bye", wasClean: true }),
      detail: `client saw ${show(client)}, server saw ${show(server)}`,
    };
  });

  await check(
    "server closes: the client sees its code and reason",
    async () => {
      const { closed } = await open(
        "/close?code=4001&reason=server+bye&id=server-close",
      );
      const client = await closed;
      const server = await serverSaw("server-close");
      return {
        ok:
          same(client, { code: 4001, reason: "server bye", wasClean: true }) &&
          same(server, { code: 4001, reason: "", wasClean: true }),
        detail: `client saw ${show(client)}, server saw ${show(server)}`,
      };
    },
  );

  // Deno cannot reset a stream (see server.js): the server drops its
  // stream instead, ending it with no close frame and stopping its reads.
  await check("server drops its stream: client closes 1006", async () => {
    const { ws, closed, events } = await open("/drop");
    ws.send("drop this stream, please");
    const client = await closed;
    return {
      ok: client.code === 1006 && client.wasClean === false,
      detail: `client saw ${show(client)}, events ${events}`,
    };
  });

  await check("client resets its stream: server closes 1006", async () => {
    let transport;
    const { closed } = await open(
      "/echo?id=client-reset",
      (stream) => (transport = streamTransport(stream)),
    );
    transport.destroy();
    const client = await closed;
    const server = await serverSaw("client-reset");
    return {
      ok:
        client.code === 1006 &&
        same(server, { code: 1006, reason: "", wasClean: false }),
      detail: `client saw ${show(client)}, server saw ${show(server)}`,
    };
  });

  await check(
    "the session ends: every WebSocket on it closes 1006",
    async () => {
      const sockets = await Promise.all(
        ["/echo", "/echo", "/end-session"].map((path) => open(path)),
      );
      sockets[2].ws.send("end the session, please");
      const closes = await Promise.all(sockets.map((s) => s.closed));
      const sessionEnd = await session.closed.then(
        (info) => `closed ${show(info)}`,
        (e) => `failed: ${e.message}`,
      );
      return {
        ok: closes.every((c) => c.code === 1006 && c.wasClean === false),
        detail: `sockets saw ${closes.map((c) => c.code)}, session ${sessionEnd}`,
      };
    },
  );
}

try {
  await run();
} catch (e) {
  record("page ran without throwing", false, String(e?.stack ?? e));
} finally {
  window.__done = true;
}
