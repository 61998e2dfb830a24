// The bridge (pkg/lib/node/bridge.js) and the tunnel transport a page uses
// to reach it (pkg/lib/tunnel.js), with the package's own WebSocket as the
// carrier in place of a browser's: tunnels to ws@8 servers over TCP and TLS,
// a crafted frame carried byte for byte (an Autobahn-style probe), and every
// refusal (target, origin, the cap, an unreachable target) reaching the
// tunnelled socket as its error, with a log line.

import assert from "node:assert/strict";
import net from "node:net";
import { test } from "node:test";

import { control, createBridge, tunnelTransport, WebSocket } from "wasmsocket";

import { bridgeURL } from "../../pkg/lib/tunnel.js";
import {
  frame,
  makeCertificate,
  messages,
  once,
  record,
  startServer,
  waitFor,
} from "./helpers.mjs";

const T = { timeout: 20000 };
const PAGE = "http://page.test";

/** A bridge on a free port, closed when `t` ends; `lines` is its log. */
async function bridge(t, options) {
  const lines = [];
  const server = createBridge({
    port: 0,
    host: "127.0.0.1",
    origins: [PAGE],
    log: (line) => lines.push(line),
    ...options,
  });
  await once(server, "listening");
  t.after(() => server.close());
  const url = `ws://127.0.0.1:${server.address().port}/`;
  return { server, url, lines };
}

/**
 * A package WebSocket to `target` through the bridge at `via`, its bytes
 * carried by another package WebSocket sent from `origin`.
 */
function through(t, via, target, { origin = PAGE, protocols = [] } = {}) {
  const carrier = new WebSocket(bridgeURL(via, target), [], { origin });
  const ws = new WebSocket(target, protocols, {
    transport: tunnelTransport(carrier),
  });
  ws.binaryType = "arraybuffer";
  const rec = record(ws);
  t.after(() => {
    for (const s of [ws, carrier])
      if (s.readyState !== WebSocket.CLOSED) control(s).abort();
  });
  return { ws, rec, carrier };
}

test("a tunnel carries a whole session to a ws server", T, async (t) => {
  const target = await startServer({
    handleProtocols: (offered) => [...offered][0],
  });
  t.after(() => target.close());
  const { url, lines } = await bridge(t, {
    allow: [`127.0.0.1:${target.port}`],
  });
  const { ws, rec } = through(t, url, target.url("/x"), { protocols: ["p"] });
  await rec.next("open");
  assert.equal(ws.protocol, "p");
  const big = new Uint8Array(1 << 20).map((_, i) => i * 7);
  ws.send("hello");
  ws.send(big);
  const [text, binary] = await messages(ws, 2);
  assert.equal(text, "hello");
  assert.deepEqual(new Uint8Array(binary), big);
  ws.close(1000, "done");
  const closed = await rec.next("close");
  assert.equal(closed.code, 1000);
  assert.equal(closed.wasClean, true);
  assert.match(
    lines.join("\n"),
    new RegExp(`tunnel ${PAGE} → tcp 127.0.0.1:${target.port}`),
  );
});

test(
  "a crafted frame crosses byte for byte: invalid UTF-8 → the server's 1007",
  T,
  async (t) => {
    const target = await startServer();
    t.after(() => target.close());
    const { url } = await bridge(t, { allow: [`127.0.0.1:${target.port}`] });
    const { ws, rec } = through(t, url, target.url());
    await rec.next("open");
    const bad = Buffer.from([0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xed, 0xa0, 0x80]);
    control(ws).sendRaw(frame(1, bad, { mask: [1, 2, 3, 4] }));
    const closed = await rec.next("close");
    assert.equal(closed.code, 1007);
  },
);

test(
  "over TLS to a wss server, the one allowed target by default",
  T,
  async (t) => {
    const cert = makeCertificate();
    const target = await startServer({ tls: cert });
    t.after(() => target.close());
    const { url } = await bridge(t, {
      allow: [`127.0.0.1:${target.port}`],
      tls: { ca: cert.cert },
    });
    const carrier = new WebSocket(`${url}?tls=1`, [], { origin: PAGE });
    const ws = new WebSocket(target.url(), [], {
      transport: tunnelTransport(carrier),
    });
    t.after(() => control(ws).abort());
    const rec = record(ws);
    await rec.next("open");
    ws.send("over tls");
    assert.deepEqual(await messages(ws, 1), ["over tls"]);
  },
);

/** Opens a tunnel that the bridge must refuse; returns the error message. */
async function refused(t, via, target, options) {
  const { rec } = through(t, via, target, options);
  const error = await rec.next("error");
  const closed = await rec.next("close");
  assert.equal(closed.code, 1006);
  assert.equal(rec.of("open").length, 0);
  return error.message;
}

test(
  "refusals: target, origin, no target, unreachable target",
  T,
  async (t) => {
    const target = await startServer();
    t.after(() => target.close());
    const closedPort = await freePort();
    const { url, lines } = await bridge(t, {
      allow: [`127.0.0.1:${target.port}`, `127.0.0.1:${closedPort}`],
    });
    const other = `ws://127.0.0.1:${target.port + 1}/`;
    assert.match(
      await refused(t, url, other),
      new RegExp(`bridge: target 127.0.0.1:${target.port + 1} is not allowed`),
    );
    assert.match(
      await refused(t, url, target.url(), { origin: "http://evil.test" }),
      /bridge: origin http:\/\/evil.test is not allowed/,
    );
    const carrier = new WebSocket(url, [], { origin: PAGE });
    const ws = new WebSocket(target.url(), [], {
      transport: tunnelTransport(carrier),
    });
    t.after(() => control(ws).abort());
    const rec = record(ws);
    assert.match((await rec.next("error")).message, /bridge: no target given/);
    assert.match(
      await refused(t, url, `ws://127.0.0.1:${closedPort}/`),
      new RegExp(
        `bridge: cannot reach tcp 127.0.0.1:${closedPort}: ECONNREFUSED`,
      ),
    );
    const log = lines.join("\n");
    assert.match(
      log,
      /refused .* \(origin http:\/\/page.test\): target .* is not allowed/,
    );
    assert.match(log, /refused .* \(origin http:\/\/evil.test\): origin/);
    assert.match(log, /cannot reach/);
    assert.equal(target.tcpConnections, 0);
  },
);

test(
  "the cap: a tunnel past maxTunnels is refused, one more fits after a close",
  T,
  async (t) => {
    const target = await startServer();
    t.after(() => target.close());
    const { server, url, lines } = await bridge(t, {
      allow: [`127.0.0.1:${target.port}`],
      maxTunnels: 2,
    });
    const a = through(t, url, target.url());
    const b = through(t, url, target.url());
    await a.rec.next("open");
    await b.rec.next("open");
    assert.match(
      await refused(t, url, target.url()),
      /bridge: too many tunnels \(at most 2\)/,
    );
    a.ws.close();
    await a.rec.next("close");
    await waitFor(() => a.carrier.readyState === WebSocket.CLOSED, {
      message: "the first carrier did not close",
    });
    // The bridge counts a tunnel closed once its side of the carrier is.
    await waitFor(() => server.clients.size === 1, {
      message: "the bridge still counts two tunnels",
    });
    const c = through(t, url, target.url());
    await c.rec.next("open");
    assert.match(lines.join("\n"), /too many tunnels/);
  },
);

test(
  "a target that never reads holds the page back, not the bridge's memory",
  T,
  async (t) => {
    const held = new Set();
    const sink = net.createServer((socket) => {
      socket.pause();
      held.add(socket);
    });
    await new Promise((resolve) => sink.listen(0, "127.0.0.1", resolve));
    t.after(() => {
      for (const socket of held) socket.destroy();
      sink.close();
    });
    const port = sink.address().port;
    const { server, url } = await bridge(t, { allow: [`127.0.0.1:${port}`] });
    const carrier = new WebSocket(url, [], { origin: PAGE });
    t.after(() => control(carrier).abort());
    await once(carrier, "open");
    const chunk = new Uint8Array(1 << 20);
    for (let i = 0; i < 64; i++) carrier.send(chunk);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const [page] = server.clients;
    // Nearly all of the 64 MiB waits at the sender; the bridge holds at most
    // what it read before pausing, plus the kernel's socket buffers.
    assert.ok(
      carrier.bufferedAmount > 40 << 20,
      `sender still holds ${carrier.bufferedAmount}`,
    );
    assert.ok(page.readyState === WebSocket.OPEN);
  },
);

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}
