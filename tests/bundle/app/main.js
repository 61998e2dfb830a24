// An app as a user would write it: imports the package by its bare name and
// lets the bundler (Vite, see ../run.mjs) resolve the browser entry and emit
// the engine's .wasm files. A server and a client run in this page over two
// crossed TransformStreams: text and a 64 KiB binary message are echoed, then
// the client closes. Checks go to `window.__checks` ({ name, ok, detail });
// `window.__done` is set when the run is over.

import { WebSocket, WebSocketServer } from "wasmsocket";

// The import above resolved once the engine was fetched and compiled.
const loadMs = performance.now();
const checks = [];
window.__checks = checks;

function record(name, ok, detail = "") {
  checks.push({ name, ok, detail });
  document.getElementById("log").textContent +=
    `${ok ? "ok  " : "FAIL"} ${name} ${detail}\n`;
}

function within(ms, what, promise) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: no answer in ${ms} ms`)),
      ms,
    );
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

async function run() {
  const wasm = performance
    .getEntriesByType("resource")
    .map((e) => new URL(e.name).pathname)
    .filter((p) => p.endsWith(".wasm"));
  record(
    "the engine loaded",
    wasm.length === 1,
    `${wasm} in ${loadMs.toFixed(0)} ms`,
  );

  // Client → server and server → client.
  const up = new TransformStream();
  const down = new TransformStream();
  const server = new WebSocketServer({
    handleProtocols: (offered) => offered[0],
  });
  const serverClosed = server
    .accept({ readable: up.readable, writable: down.writable })
    .then(
      (peer) =>
        new Promise((resolve) => {
          peer.binaryType = "arraybuffer";
          peer.onmessage = (e) => peer.send(e.data);
          peer.onclose = (e) => resolve(e);
        }),
    );

  const ws = new WebSocket("ws://bundled.test/echo", ["echo"], {
    transport: { readable: down.readable, writable: up.writable },
  });
  ws.binaryType = "arraybuffer";
  const inbox = [];
  let waiting = null;
  ws.onmessage = (e) => {
    inbox.push(e.data);
    waiting?.();
  };
  const next = (what) =>
    within(
      10000,
      what,
      new Promise((resolve) => {
        if (inbox.length > 0) resolve(inbox.shift());
        else waiting = () => ((waiting = null), resolve(inbox.shift()));
      }),
    );
  const closed = new Promise((resolve) => (ws.onclose = resolve));

  await within(10000, "open", new Promise((resolve) => (ws.onopen = resolve)));
  record(
    "open, subprotocol agreed",
    ws.protocol === "echo",
    `protocol "${ws.protocol}"`,
  );

  const text = "héllo from a bundle 👋";
  ws.send(text);
  const gotText = await next("text echo");
  record("text echoed", gotText === text, JSON.stringify(gotText));

  const bytes = new Uint8Array(64 * 1024);
  crypto.getRandomValues(bytes);
  ws.send(bytes);
  const gotBytes = new Uint8Array(await next("binary echo"));
  record(
    "64 KiB binary echoed",
    sameBytes(gotBytes, bytes),
    `${gotBytes.length} bytes`,
  );

  ws.close(1000, "done");
  const [client, peer] = await within(
    10000,
    "close",
    Promise.all([closed, serverClosed]),
  );
  record(
    "closed cleanly on both sides",
    client.wasClean &&
      peer.wasClean &&
      client.code === 1000 &&
      peer.code === 1000,
    `client ${client.code} ${client.wasClean}, server ${peer.code} "${peer.reason}" ${peer.wasClean}`,
  );
}

run()
  .catch((e) => record("the exchange ran", false, String(e?.stack ?? e)))
  .finally(() => (window.__done = true));
