// Runs in headless Chromium (see run.mjs). A client `WebSocket` from the
// package's browser entry talks, over two crossed TransformStreams, to the
// entry's own server side (`WebSocketServer#accept`) in the same page. Results go to `window.__result`; `window.__done` is set
// when the run is over (pass or fail).

import { CloseEvent, WebSocket, WebSocketServer } from "/pkg/lib/browser.js";

// Module evaluation starts once browser.js has fetched and compiled the wasm
// (top-level await), so this is the load time from navigation start.
const loadMs = performance.now();
const t0 = performance.now();
const result = { steps: [], events: [] };
window.__result = result;

function log(line) {
  result.steps.push(line);
  document.getElementById("log").textContent += line + "\n";
}

function withTimeout(promise, ms, what) {
  return Promise.race([
    promise,
    new Promise((_, reject) =>
      setTimeout(
        () => reject(new Error(`timed out after ${ms} ms: ${what}`)),
        ms,
      ),
    ),
  ]);
}

/** An echo server: the package's own server side, accepting over the pair. */
function startServer(pair) {
  const server = new WebSocketServer({
    handleProtocols: (offered) => offered[0],
  });
  const closed = server.accept(pair).then(
    (ws) =>
      new Promise((resolve) => {
        ws.binaryType = "arraybuffer";
        ws.onmessage = (e) => ws.send(e.data);
        ws.onclose = (e) =>
          resolve({
            received: { code: e.code, reason: e.reason },
            wasClean: e.wasClean,
            clients: server.clients.size,
          });
      }),
  );
  return { closed };
}

/**
 * `writable`, passed through, noting how its writer ended it in `end.how`:
 * "eof" for close(), "abort: …" for abort(). A write is done once queued,
 * as with the bare stream, so bufferedAmount drains as it would.
 */
function watchEnd(writable, end) {
  const writer = writable.getWriter();
  return new WritableStream({
    write(chunk) {
      writer.write(chunk).catch(() => {});
    },
    close() {
      end.how = "eof";
      return writer.close();
    },
    abort(reason) {
      end.how = `abort: ${reason}`;
      return writer.abort(reason);
    },
  });
}

function bytesEqual(a, b) {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

async function main() {
  result.loadMs = loadMs;
  result.wasm = performance
    .getEntriesByType("resource")
    .map((e) => new URL(e.name).pathname)
    .filter((p) => p.endsWith(".wasm"));
  log(
    `wasm loaded: ${result.wasm.join(", ")} in ${result.loadMs.toFixed(1)} ms`,
  );

  // Client → server and server → client, crossed over.
  const up = new TransformStream();
  const down = new TransformStream();
  const server = startServer({
    readable: up.readable,
    writable: down.writable,
  });

  const clientEnd = { how: null };
  const ws = new WebSocket("ws://in-page.test/echo", [], {
    transport: {
      readable: down.readable,
      writable: watchEnd(up.writable, clientEnd),
    },
  });
  result.initialReadyState = ws.readyState;
  result.url = ws.url;
  ws.binaryType = "arraybuffer";

  const inbox = [];
  let waiter = null;
  ws.onmessage = (ev) => {
    result.events.push("message");
    inbox.push(ev);
    if (waiter) {
      const w = waiter;
      waiter = null;
      w();
    }
  };
  const next = (what) =>
    withTimeout(
      new Promise((resolve) => {
        const take = () => resolve(inbox.shift());
        if (inbox.length > 0) take();
        else waiter = take;
      }),
      10000,
      what,
    );
  ws.onerror = (ev) => {
    result.events.push("error");
    result.errorMessage = ev.message ?? String(ev);
  };
  const closeEvent = new Promise((resolve) => {
    ws.onclose = (ev) => {
      result.events.push("close");
      resolve(ev);
    };
  });

  await withTimeout(
    new Promise((resolve) =>
      ws.addEventListener("open", () => {
        result.events.push("open");
        resolve();
      }),
    ),
    10000,
    "open",
  );
  result.openReadyState = ws.readyState;
  log("open");

  // Text.
  const text = "héllo 👋";
  ws.send(text);
  const m1 = await next("text echo");
  result.text = { data: m1.data, type: typeof m1.data, ok: m1.data === text };
  result.messageEventIsNative = m1 instanceof MessageEvent;
  result.messageOrigin = m1.origin;
  log(`text: ${JSON.stringify(m1.data)}`);

  // Binary (ArrayBuffer, and a view into a larger buffer).
  const bin = new Uint8Array([0, 1, 2, 253, 254, 255]);
  ws.send(bin.buffer);
  const m2 = await next("binary echo");
  result.binary = {
    isArrayBuffer: m2.data instanceof ArrayBuffer,
    ok:
      m2.data instanceof ArrayBuffer &&
      bytesEqual(new Uint8Array(m2.data), bin),
  };
  const big = new Uint8Array(16).map((_, i) => i);
  ws.send(big.subarray(4, 9));
  const m3 = await next("view echo");
  result.view = {
    ok:
      m3.data instanceof ArrayBuffer &&
      bytesEqual(new Uint8Array(m3.data), big.subarray(4, 9)),
  };
  log(`binary: ${result.binary.ok}, view: ${result.view.ok}`);

  // Blob, then a string sent right after it: order must be kept.
  const blobBytes = new TextEncoder().encode("blob ✓ contents");
  ws.send(new Blob([blobBytes]));
  ws.send("after blob");
  const m4 = await next("blob echo");
  const m5 = await next("text after blob echo");
  result.blob = {
    isArrayBuffer: m4.data instanceof ArrayBuffer,
    ok:
      m4.data instanceof ArrayBuffer &&
      bytesEqual(new Uint8Array(m4.data), blobBytes),
    orderOk: m5.data === "after blob",
  };
  log(`blob: ${result.blob.ok}, order: ${result.blob.orderOk}`);

  // binaryType "blob": a Blob comes back.
  ws.binaryType = "blob";
  ws.send(new Uint8Array([7, 8, 9]));
  const m6 = await next("blob-typed echo");
  result.blobType = {
    isBlob: m6.data instanceof Blob,
    ok:
      m6.data instanceof Blob &&
      bytesEqual(
        new Uint8Array(await m6.data.arrayBuffer()),
        new Uint8Array([7, 8, 9]),
      ),
  };
  ws.binaryType = "arraybuffer";

  // 1 MiB binary.
  const mib = new Uint8Array(1 << 20);
  for (let i = 0; i < mib.length; i++) mib[i] = (i * 31 + (i >>> 8)) & 0xff;
  const tBig = performance.now();
  ws.send(mib);
  result.bufferedAfterBigSend = ws.bufferedAmount;
  const m7 = await next("1 MiB echo");
  result.mib = {
    ms: performance.now() - tBig,
    length: m7.data.byteLength,
    ok:
      m7.data instanceof ArrayBuffer &&
      bytesEqual(new Uint8Array(m7.data), mib),
  };
  result.bufferedAfterEcho = ws.bufferedAmount;
  log(`1 MiB: ${result.mib.ok} in ${result.mib.ms.toFixed(1)} ms`);

  // Closing handshake.
  ws.close(1000, "bye");
  result.closingReadyState = ws.readyState;
  const ev = await withTimeout(closeEvent, 10000, "close event");
  result.close = {
    isCloseEvent: ev instanceof CloseEvent,
    isNativeCloseEvent: ev instanceof globalThis.CloseEvent,
    wasClean: ev.wasClean,
    code: ev.code,
    reason: ev.reason,
  };
  result.finalReadyState = ws.readyState;
  result.server = await withTimeout(server.closed, 10000, "server CLOSED");
  result.serverTransportEnd = clientEnd.how;
  log(
    `close: ${JSON.stringify(result.close)}; server: ${JSON.stringify(result.server)}`,
  );

  // Sends after close are counted, not thrown.
  ws.send("late");
  result.bufferedAfterLateSend = ws.bufferedAmount;
  result.totalMs = performance.now() - t0;
}

main()
  .catch((e) => {
    result.error = `${e?.name ?? "Error"}: ${e?.message ?? e}\n${e?.stack ?? ""}`;
    log(`FAILED: ${result.error}`);
  })
  .finally(() => {
    window.__done = true;
  });
