// Runs in headless Chromium (see bridge-checks.mjs): WebSockets of the
// package's browser entry tunnelled through the bridge's WebTransport way
// in (`wasmsocket bridge --webtransport`, under Deno) to a ws server, each
// on a stream of one session, and the bridge's refusals as the tunnelled
// sockets' errors. The query gives the ports of two bridges (`a` serves
// this page's origin, `b` does not), the SHA-256 of their certificate, the echo
// server's port, a port where nothing listens, and raw TCP targets that
// never read (sink) or write as fast as they can (flood). Results go to
// `window.__checks`; `window.__done` is set when the run is over.

import { WebSocket, webTransportBridgeTransport } from "/pkg/lib/browser.js";

const params = new URLSearchParams(location.search);
const hash = Uint8Array.from(params.get("hash").match(/../g), (h) =>
  parseInt(h, 16),
);
const echo = `ws://127.0.0.1:${params.get("echo")}/echo`;
const checks = [];
window.__checks = checks;

function record(name, ok, detail = "") {
  checks.push({ name, ok, detail });
  document.getElementById("log").textContent +=
    `${ok ? "ok  " : "FAIL"} ${name} ${detail}\n`;
}

async function check(name, fn) {
  const t0 = performance.now();
  let timer;
  try {
    const { ok, detail } = await Promise.race([
      fn(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error("timed out")), 10000);
      }),
    ]);
    record(name, ok, `${detail} [${(performance.now() - t0).toFixed(0)} ms]`);
  } catch (e) {
    record(name, false, String(e?.message ?? e));
  } finally {
    clearTimeout(timer);
  }
}

async function connect(port) {
  const session = new WebTransport(`https://127.0.0.1:${port}/`, {
    serverCertificateHashes: [{ algorithm: "sha-256", value: hash }],
  });
  await session.ready;
  return session;
}

/** A tunnelled WebSocket to `server`: its first events, and its messages. */
function tunnel(session, server) {
  const ws = new WebSocket(server, [], {
    transport: webTransportBridgeTransport(session, server),
  });
  ws.binaryType = "arraybuffer";
  const inbox = [];
  const waiting = [];
  let error = null;
  ws.onmessage = (e) =>
    waiting.length ? waiting.shift()(e.data) : inbox.push(e.data);
  ws.onerror = (e) => (error = e.message);
  const opened = new Promise((resolve) => {
    ws.onopen = () => resolve(true);
    ws.addEventListener("close", () => resolve(false));
  });
  const closed = new Promise((resolve) => {
    ws.addEventListener("close", (e) =>
      resolve({ code: e.code, wasClean: e.wasClean, error }),
    );
  });
  const next = () =>
    inbox.length
      ? Promise.resolve(inbox.shift())
      : new Promise((resolve) => waiting.push(resolve));
  return { ws, opened, closed, next };
}

/** A tunnel the bridge must refuse: what its socket saw. */
async function refused(session, server) {
  const { opened, closed } = await tunnel(session, server);
  const [open, close] = await Promise.all([opened, closed]);
  return { open, ...close };
}

const show = (x) => JSON.stringify(x);

/**
 * True when a refused tunnel never opened and its error ends with `reason`
 * (the engine puts what the handshake was doing before it, as for a
 * WebSocket bridge's refusal).
 */
const said = (seen, reason) =>
  !seen.open && seen.code === 1006 && seen.error?.endsWith(reason);

async function run() {
  let a;
  let b;
  await check("WebTransport sessions to both bridges are ready", async () => {
    [a, b] = await Promise.all([
      connect(params.get("a")),
      connect(params.get("b")),
    ]);
    return { ok: true, detail: `ports ${params.get("a")}, ${params.get("b")}` };
  });
  if (!a) return;

  await check(
    "a tunnelled WebSocket echoes text and 1 MiB, closes clean",
    async () => {
      const { ws, opened, closed, next } = tunnel(a, echo);
      if (!(await opened)) return { ok: false, detail: show(await closed) };
      const bytes = new Uint8Array(1 << 20).map((_, i) => (i * 31) & 255);
      ws.send("héllo through the bridge");
      ws.send(bytes);
      const text = await next();
      const back = new Uint8Array(await next());
      ws.close(1000);
      const end = await closed;
      const same =
        back.length === bytes.length && back.every((x, i) => x === bytes[i]);
      return {
        ok:
          text === "héllo through the bridge" &&
          same &&
          end.code === 1000 &&
          end.wasClean,
        detail: `${show(text)}, ${back.length} bytes ${same ? "equal" : "DIFFER"}, close ${show(end)}`,
      };
    },
  );

  await check("the target closes first: a clean close 1000", async () => {
    const { closed } = tunnel(a, echo.replace(/echo$/, "close"));
    const end = await closed;
    return {
      ok: end.code === 1000 && end.wasClean && !end.error,
      detail: show(end),
    };
  });

  await check("a target not allowed is refused with its reason", async () => {
    const other = `127.0.0.1:${Number(params.get("echo")) + 1}`;
    const seen = await refused(a, `ws://${other}/`);
    return {
      ok: said(seen, `bridge: target ${other} is not allowed`),
      detail: show(seen),
    };
  });

  await check(
    "an allowed target that cannot be reached is refused",
    async () => {
      const closedPort = params.get("closed");
      const seen = await refused(a, `ws://127.0.0.1:${closedPort}/`);
      return {
        ok: said(
          seen,
          `bridge: cannot reach tcp 127.0.0.1:${closedPort}: ECONNREFUSED`,
        ),
        detail: show(seen),
      };
    },
  );

  await check("a session whose origin is not allowed is refused", async () => {
    const seen = await refused(b, echo);
    return {
      ok: said(seen, `bridge: origin ${location.origin} is not allowed`),
      detail: show(seen),
    };
  });

  await check(
    "past the cap (3) a tunnel is refused; after a close one fits",
    async () => {
      const open = [tunnel(a, echo), tunnel(a, echo), tunnel(a, echo)];
      const up = await Promise.all(open.map((t) => t.opened));
      const past = await refused(a, echo);
      open[0].ws.close(1000);
      await open[0].closed;
      // The bridge counts a tunnel closed once both of its ways ended.
      let again;
      for (let i = 0; i < 20; i++) {
        again = tunnel(a, echo);
        if (await again.opened) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const fits = again.ws.readyState === WebSocket.OPEN;
      for (const t of [...open, again]) t.ws.close(1000);
      await Promise.all([...open, again].map((t) => t.closed));
      return {
        ok:
          up.every(Boolean) &&
          said(past, "bridge: too many tunnels (at most 3)") &&
          fits,
        detail: `opened ${up}, 4th ${show(past)}, after a close ${fits ? "fits" : "REFUSED"}`,
      };
    },
  );

  // Raw transports, no WebSocket: these targets speak no protocol. On a
  // session of their own: Deno tells the bridge of a reset stream only on a
  // read or write of it, so the tunnel to the target that never reads is
  // cut when the session ends (see pkg/lib/deno/bridge.js).
  const flow = await connect(params.get("a"));
  await check("a target that never reads holds the page back", async () => {
    const t = webTransportBridgeTransport(
      flow,
      `ws://127.0.0.1:${params.get("sink")}/`,
    );
    let accepted = 0;
    t.start({ data() {}, closed() {} });
    const chunk = new Uint8Array(1 << 20);
    for (let i = 0; i < 64; i++) t.write(chunk, () => (accepted += 1));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    t.destroy();
    return { ok: accepted < 32, detail: `${accepted} of 64 MiB taken` };
  });

  await check(
    "a page that does not read holds the target back (page side)",
    async () => {
      const t = webTransportBridgeTransport(
        flow,
        `ws://127.0.0.1:${params.get("flood")}/`,
      );
      let got = 0;
      t.start({
        data(bytes) {
          got += bytes.length;
          t.pause();
        },
        closed() {},
      });
      await new Promise((resolve) => setTimeout(resolve, 1500));
      t.destroy();
      return {
        ok: got > 0 && got < 32 << 20,
        detail: `${got} bytes read, then paused`,
      };
    },
  );

  await check(
    "the end of a session frees its tunnels, a stalled one included",
    async () => {
      flow.close();
      await flow.closed.catch(() => {});
      // Three tunnels fit again once the bridge has cut the stalled one.
      for (let i = 1; i <= 40; i++) {
        const three = [tunnel(a, echo), tunnel(a, echo), tunnel(a, echo)];
        const up = await Promise.all(three.map((t) => t.opened));
        for (const t of three) t.ws.close(1000);
        await Promise.all(three.map((t) => t.closed));
        if (up.every(Boolean)) return { ok: true, detail: `try ${i}` };
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return { ok: false, detail: "the cap stays reached" };
    },
  );
}

try {
  await run();
} catch (e) {
  record("bridge page ran without throwing", false, String(e?.stack ?? e));
} finally {
  window.__done = true;
}
