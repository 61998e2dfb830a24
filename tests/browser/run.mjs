// Browser test: serves the repository over http://localhost, opens
// tests/browser/page.html in headless Chromium (Debian's, via playwright-core)
// and checks what the page reports in `window.__result`. The page runs twice:
// once as the browser is (the SIMD build loads), once with the SIMD probe
// made to fail (the scalar fallback loads). A third pass has Chromium's own
// WebSocket talk to the package's Node server with permessage-deflate on
// (browsers always offer it); a fourth runs websocket.dll's face
// (`wasmsocket/component`, a wasm module of its own) in a page.
//
//   node tests/browser/run.mjs     CHROMIUM=/path/to/chromium to override
//
// Exits 0 when every check passes, 1 otherwise.

import { WebSocketServer } from "../../pkg/lib/node/index.js";
import { launchChromium, root, serveRepo } from "./harness.mjs";

const started = performance.now();

/** Paths fetched from the server, in order (reset per pass). */
let requests = [];

const server = await serveRepo(["/pkg/", "/tests/browser/"], (pathname) =>
  requests.push(pathname),
);
const port = server.address().port;

const failures = [];
function check(name, ok, detail = "") {
  console.log(`${ok ? "ok  " : "FAIL"} ${name}${detail ? ` (${detail})` : ""}`);
  if (!ok) failures.push(name);
}

/** Makes browser.js's SIMD probe (a 31-byte module) fail validation. */
function hideSimd() {
  const validate = WebAssembly.validate;
  WebAssembly.validate = (bytes) =>
    bytes?.byteLength === 31 ? false : validate(bytes);
}

/** Loads the page in a fresh context; returns its `window.__result`. */
async function runPage(browser, flavour) {
  requests = [];
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    if (flavour === "scalar") await page.addInitScript(hideSimd);
    page.on("console", (m) =>
      console.log(`[${flavour} console.${m.type()}] ${m.text()}`),
    );
    page.on("pageerror", (e) => {
      console.log(`[${flavour} page error] ${e.stack ?? e}`);
      failures.push(`${flavour}: uncaught page error: ${e.message}`);
    });
    page.on("requestfailed", (r) =>
      console.log(`[request failed] ${r.url()} ${r.failure()?.errorText}`),
    );
    await page.goto(`http://localhost:${port}/tests/browser/page.html`);
    try {
      await page.waitForFunction(() => window.__done === true, null, {
        timeout: 60000,
      });
    } catch (e) {
      failures.push(
        `${flavour}: page did not finish: ${e.message.split("\n")[0]}`,
      );
    }
    return await page.evaluate(() => window.__result ?? null);
  } finally {
    await context.close();
  }
}

function assertResult(flavour, result) {
  console.log(`--- ${flavour} pass`);
  if (!result) {
    check(`[${flavour}] page produced window.__result`, false);
    return;
  }
  for (const line of result.steps) console.log(`  page: ${line}`);
  const wasm = requests.filter((p) => p.endsWith(".wasm"));
  const loaded = wasm
    .map((p) => (p.endsWith("_scalar_bg.wasm") ? "scalar" : "simd"))
    .join(", ");
  console.log(
    `  wasm fetched: ${wasm.join(", ") || "none"} → ${loaded || "?"}`,
  );
  const c = (name, ok, detail) => check(`[${flavour}] ${name}`, ok, detail);

  c("page ran without throwing", !result.error, result.error?.split("\n")[0]);
  c(
    `exactly one wasm module fetched, the ${flavour} one`,
    loaded === flavour,
    wasm.join(", "),
  );
  c("readyState CONNECTING after construction", result.initialReadyState === 0);
  c("open event, then readyState OPEN", result.openReadyState === 1);
  c(
    'text echo "héllo 👋"',
    result.text?.ok === true,
    JSON.stringify(result.text?.data),
  );
  c("MessageEvent is the browser's own", result.messageEventIsNative === true);
  c(
    "MessageEvent origin ws://in-page.test",
    result.messageOrigin === "ws://in-page.test",
  );
  c("binary echo as ArrayBuffer", result.binary?.ok === true);
  c("ArrayBufferView (subarray) echo", result.view?.ok === true);
  c("Blob send echoed", result.blob?.ok === true);
  c("send after a Blob keeps its order", result.blob?.orderOk === true);
  c('binaryType "blob" delivers a Blob', result.blobType?.ok === true);
  c(
    "1 MiB binary echo",
    result.mib?.ok === true,
    `${result.mib?.length} bytes, ${result.mib?.ms?.toFixed(1)} ms`,
  );
  c(
    "bufferedAmount counted the 1 MiB send",
    result.bufferedAfterBigSend === 1 << 20,
    String(result.bufferedAfterBigSend),
  );
  c(
    "bufferedAmount back to 0 after the echo",
    result.bufferedAfterEcho === 0,
    String(result.bufferedAfterEcho),
  );
  c("readyState CLOSING right after close()", result.closingReadyState === 2);
  c("close event wasClean", result.close?.wasClean === true);
  c(
    "close event code 1000",
    result.close?.code === 1000,
    String(result.close?.code),
  );
  // The WHATWG close reason is the one in the close frame *received*; the
  // engine's automatic reply echoes the code only (RFC 6455 5.5.1), as
  // browsers do, so the client sees "" here while the server saw "bye".
  c(
    'close event reason is the server\'s ("")',
    result.close?.reason === "",
    JSON.stringify(result.close?.reason),
  );
  c("close event is a CloseEvent", result.close?.isCloseEvent === true);
  c("readyState CLOSED at the end", result.finalReadyState === 3);
  c(
    'server got close 1000 "bye" and closed cleanly',
    result.server?.received?.code === 1000 &&
      result.server?.received?.reason === "bye" &&
      result.server?.wasClean === true,
    JSON.stringify(result.server),
  );
  c(
    "client events: open, 7 messages, close (no error)",
    JSON.stringify(result.events) ===
      JSON.stringify(["open", ...Array(7).fill("message"), "close"]),
    result.events.join(","),
  );
  c(
    `after a clean close the client closes its writable (server reads EOF), not aborts it`,
    result.serverTransportEnd === "eof",
    `server's reader: ${result.serverTransportEnd}`,
  );
  c(
    "send after close counts in bufferedAmount",
    result.bufferedAfterLateSend === 4,
    String(result.bufferedAfterLateSend),
  );
  console.log(
    `  timings: page + wasm load ${result.loadMs?.toFixed(1)} ms, exchange ${result.totalMs?.toFixed(1)} ms`,
  );
}

/** Chromium's own WebSocket against the package's server with
 * permessage-deflate: what it offers and agrees, and echoes both ways. */
async function nativeToPackageServer(browser) {
  console.log("--- Chromium's WebSocket to the package's server");
  const wss = new WebSocketServer({
    port: 0,
    host: "127.0.0.1",
    perMessageDeflate: true,
  });
  await new Promise((resolve) => wss.once("listening", resolve));
  let offered = null;
  wss.on("connection", (ws, request) => {
    offered = request.headers["sec-websocket-extensions"];
    ws.binaryType = "arraybuffer";
    ws.onmessage = (e) => ws.send(e.data);
  });
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const url = `ws://127.0.0.1:${wss.address().port}/`;
    const r = await page.evaluate(async (url) => {
      const ws = new WebSocket(url);
      ws.binaryType = "arraybuffer";
      await new Promise((resolve, reject) => {
        ws.onopen = resolve;
        ws.onerror = () => reject(new Error("no open"));
      });
      const echo = (data) =>
        new Promise((resolve) => {
          ws.onmessage = (e) => resolve(e.data);
          ws.send(data);
        });
      const text = JSON.stringify(
        Array.from({ length: 3000 }, (_, i) => ({ id: i, tag: "x" })),
      );
      const bytes = new TextEncoder().encode(text);
      const gotText = await echo(text);
      const gotBytes = new Uint8Array(await echo(bytes));
      const closed = new Promise((resolve) => (ws.onclose = resolve));
      ws.close(1000);
      const close = await closed;
      return {
        extensions: ws.extensions,
        text: gotText === text,
        binary:
          gotBytes.length === bytes.length &&
          gotBytes.every((b, i) => b === bytes[i]),
        clean: close.wasClean,
      };
    }, url);
    check(
      "Chromium offers permessage-deflate",
      /^permessage-deflate/.test(offered ?? ""),
      offered,
    );
    check(
      "the server agrees it",
      r.extensions === "permessage-deflate",
      r.extensions,
    );
    check("60 KB of JSON text echoed, compressed both ways", r.text);
    check("the same as binary", r.binary);
    check("closed cleanly", r.clean);
  } finally {
    await context.close();
    await wss.close();
  }
}

/** websocket.dll's face in a page: a client and a server handle exchange
 * a message and close, the page moving the bytes; only the component's own
 * module is fetched. */
async function componentInPage(browser) {
  console.log("--- wasmsocket/component in a page");
  requests = [];
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    // Any document of the origin will do; page.html would load the engine.
    await page.goto(`http://localhost:${port}/pkg/package.json`);
    const r = await page.evaluate(async () => {
      const c = await import("/pkg/lib/component-browser.js");
      const client = c.WebSocketCreateClientHandle();
      const server = c.WebSocketCreateServerHandle();
      const host = [{ name: "Host", value: "in-page.test" }];
      const added = c.WebSocketBeginClientHandshake(client, [], [], host);
      const answer = c.WebSocketBeginServerHandshake(
        server,
        null,
        [],
        [...host, ...added],
      );
      c.WebSocketEndClientHandshake(client, answer);
      // Bytes on their way to each handle, and a read waiting for them.
      const wire = new Map([
        [client, []],
        [server, []],
      ]);
      const reading = new Map();
      const seen = [];
      /** The canonical loop of both handles, until neither moves. */
      const pump = () => {
        for (let moved = true; moved;) {
          moved = false;
          for (const [h, peer] of [
            [client, server],
            [server, client],
          ]) {
            for (;;) {
              const read = reading.get(h);
              if (read && wire.get(h).length > 0) {
                const into = read.buffers[0].data;
                const n = Math.min(into.length, wire.get(h).length);
                into.set(wire.get(h).splice(0, n));
                c.WebSocketCompleteAction(h, read.actionContext, n);
                reading.delete(h);
              }
              const a = c.WebSocketGetAction(h, c.WEB_SOCKET_ALL_ACTION_QUEUE);
              if (a.action === c.WEB_SOCKET_NO_ACTION) {
                c.WebSocketCompleteAction(h, a.actionContext, 0);
                break;
              }
              moved = true;
              let n = 0;
              if (a.action === c.WEB_SOCKET_RECEIVE_FROM_NETWORK_ACTION) {
                reading.set(h, a);
                continue;
              }
              if (a.action === c.WEB_SOCKET_SEND_TO_NETWORK_ACTION) {
                wire.get(peer).push(...a.buffers[0].data);
                n = a.buffers[0].data.length;
              }
              if (a.action === c.WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION) {
                const b = a.buffers[0];
                const what = b.status ?? new TextDecoder().decode(b.data);
                seen.push([a.bufferType, what]);
              }
              c.WebSocketCompleteAction(h, a.actionContext, n);
            }
          }
        }
      };
      const text = new TextEncoder().encode("héllo from a page");
      const utf8 = c.WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE;
      c.WebSocketSend(client, utf8, { data: text });
      c.WebSocketReceive(server, null);
      pump();
      const reason = new TextEncoder().encode("bye");
      const close = { status: 1000, reason };
      c.WebSocketSend(server, c.WEB_SOCKET_CLOSE_BUFFER_TYPE, close);
      c.WebSocketReceive(client, null);
      pump();
      c.WebSocketDeleteHandle(client);
      c.WebSocketDeleteHandle(server);
      return { seen };
    });
    const wasm = requests.filter((p) => p.endsWith(".wasm"));
    check(
      "only the component's module is fetched",
      wasm.length === 1 &&
        wasm[0].endsWith("/pkg/wasm-component/wasmsocket_bg.wasm"),
      wasm.join(", "),
    );
    const [message, close] = r.seen;
    check(
      "the server handle received the client's text message",
      message?.[0] === 0x80000000 && message?.[1] === "héllo from a page",
      JSON.stringify(message),
    );
    check(
      "the client handle received the server's close 1000",
      close?.[0] === 0x80000004 && close?.[1] === 1000,
      JSON.stringify(close),
    );
  } finally {
    await context.close();
  }
}

let browser;
try {
  browser = await launchChromium();
  console.log(
    `chromium ${browser.version()}, serving ${root} on http://localhost:${port}`,
  );
  for (const flavour of ["simd", "scalar"]) {
    assertResult(flavour, await runPage(browser, flavour));
  }
  await nativeToPackageServer(browser);
  await componentInPage(browser);
} catch (e) {
  failures.push(`harness: ${e.message.split("\n")[0]}`);
  console.log(e.stack ?? e);
} finally {
  await browser?.close();
  server.close();
}

const total = ((performance.now() - started) / 1000).toFixed(1);
if (failures.length > 0) {
  console.log(
    `browser test: FAILED (${failures.length}): ${failures.join("; ")} [${total} s]`,
  );
  process.exit(1);
}
console.log(
  `browser test: PASSED, all checks ok in headless Chromium (simd and scalar wasm) [${total} s]`,
);
