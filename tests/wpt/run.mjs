// Runs the web-platform-tests for WebSocketStream
// (websockets/stream/tentative/*.any.js) in Node, with node:test counting
// every subtest: the files are read from websockets/stream/tentative/ here
// (upstream's path; or $WPT_STREAM_DIR, e.g. a copy fetch.sh refreshed),
// evaluated with the
// testharness.js subset in harness.mjs, against the handlers in
// handlers.mjs on the package's own server. Each file runs once per
// variant it lists (?default or none: ws:, ?wss: wss:).
//
// A subtest passes, or fails as listed in EXPECTED with the reason; one
// that passes while listed fails (the list must shrink). A missing file
// directory, an unknown META script or variant, a load error or an
// unhandled rejection (testharness.js's harness error) fails loudly.
//
//   node --test tests/wpt/run.mjs

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import v8 from "node:v8";
import vm from "node:vm";

import "../../pkg/lib/node/index.js";
import {
  WebSocketError,
  WebSocketStream,
} from "../../pkg/lib/websocketstream.js";
import { makeCertificate } from "../node/helpers.mjs";
import { startHandlers } from "./handlers.mjs";
import { collector } from "./harness.mjs";

const dir =
  process.env.WPT_STREAM_DIR ??
  fileURLToPath(new URL("./websockets/stream/tentative/", import.meta.url));

/**
 * Subtests known to fail here, by "file :: subtest" (every variant) or
 * "file?variant :: subtest", with the reason.
 */
const EXPECTED = {
  "remote-close.any.js :: close with unwritten data should not be considered clean":
    "the handler's close leaves with the handshake answer, as pywebsocket's " +
    "back-to-back sends do, and the engine handles a read whole: the close " +
    "is answered at once and cleanly, and the page's write() then rejects " +
    "(InvalidStateError). Chromium handles the frames in later tasks, so its " +
    "write goes out first and the server drops the connection on it",
  "remote-close.any.js :: harness":
    "the write() rejection of that subtest is handled only by an un-awaited " +
    "promise_rejects_js expecting a WebSocketError (write.any.js wants an " +
    "InvalidStateError for a write the peer's close cut short), and here the " +
    "subtest fails before reaching it: the rejection is unhandled, which " +
    "testharness.js reports as a harness error",
};

/** Variants not run, with the reason. */
const SKIPPED_VARIANTS = {
  "?wpt_flags=h2":
    "WebSockets over HTTP/2 (RFC 8441) are not supported: the package speaks RFC 6455 over HTTP/1.1",
};

/** What each META script the files include provides here. */
const KNOWN_SCRIPTS = {
  "../../constants.sub.js": "BASEURL and ECHOURL, with url-constants.js",
  "resources/url-constants.js": "BASEURL, ECHOURL",
  "/common/utils.js": "token()",
  "/common/gc.js": "garbageCollect()",
};

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc");

function parseMeta(source) {
  const meta = { scripts: [], variants: [], long: false };
  for (const [, key, value] of source.matchAll(
    /^\/\/ META: *([a-z]+)=(.*)$/gm,
  )) {
    if (key === "script") meta.scripts.push(value.trim());
    else if (key === "variant") meta.variants.push(value.trim());
    else if (key === "timeout") meta.long = value.trim() === "long";
  }
  if (meta.variants.length === 0) meta.variants.push("");
  return meta;
}

const files = existsSync(dir)
  ? readdirSync(dir)
      .filter((name) => name.endsWith(".any.js"))
      .sort()
  : [];

let servers;
let certificate;

before(async () => {
  certificate = makeCertificate();
  servers = await startHandlers(certificate);
});
after(() => servers?.close());

test("the WPT files are there", (t) => {
  if (files.length === 0) {
    throw new Error(
      `no websockets/stream/tentative/*.any.js in ${dir}: run tests/wpt/fetch.sh (see tests/wpt/README.md)`,
    );
  }
  for (const note of ["COMMIT", "SOURCE"]) {
    if (!existsSync(`${dir}/${note}`)) continue;
    for (const line of readFileSync(`${dir}/${note}`, "utf8")
      .trim()
      .split("\n"))
      t.diagnostic(`${note}: ${line}`);
  }
  t.diagnostic(`files: ${files.join(", ")}`);
});

/** WebSocketStream for a variant: for wss:, one that trusts the test
 * certificate, as a browser under WPT trusts its CA. */
function streamFor(secure) {
  if (!secure) return WebSocketStream;
  const ca = certificate.cert;
  return class extends WebSocketStream {
    constructor(...args) {
      if (args.length === 1 || (args.length > 1 && args[1] === undefined))
        args[1] = { tls: { ca } };
      else if (
        args.length > 1 &&
        args[1] !== null &&
        typeof args[1] === "object"
      )
        args[1] = { ...args[1], tls: { ca } };
      super(...args);
    }
  };
}

/** The globals a file sees, for a variant. */
function scopeFor(variant, api) {
  const secure = variant === "?wss";
  const BASEURL = secure
    ? `wss://127.0.0.1:${servers.wss}`
    : `ws://127.0.0.1:${servers.ws}`;
  const location = new URL(
    `http://127.0.0.1:${servers.http}/websockets/stream/tentative/page.any.html${variant}`,
  );
  return {
    ...api,
    WebSocketStream: streamFor(secure),
    WebSocketError,
    BASEURL,
    ECHOURL: `${BASEURL}/echo`,
    location,
    self: globalThis,
    fetch: (url, init) => fetch(new URL(url, location), init),
    token: () => crypto.randomUUID(),
    garbageCollect: async () => gc(),
  };
}

for (const file of files) {
  const source = readFileSync(`${dir}/${file}`, "utf8");
  const meta = parseMeta(source);
  for (const variant of meta.variants) {
    const skip = SKIPPED_VARIANTS[variant];
    test(`${file}${variant}`, { skip }, async (t) => {
      for (const script of meta.scripts) {
        if (!(script in KNOWN_SCRIPTS))
          throw new Error(`META script ${script} is not provided here`);
      }
      if (!["", "?default", "?wss"].includes(variant))
        throw new Error(`unknown variant ${variant}`);
      const c = collector();
      const scope = scopeFor(variant, c.api);
      const names = Object.keys(scope);
      // Each file in a function of its own: its top-level declarations stay
      // its own, and it sees this realm's Uint8Array, DOMException, streams.
      const body = new Function(...names, source);
      body(...names.map((n) => scope[n]));
      if (c.tests.length === 0) throw new Error("the file declared no test");

      const unhandled = [];
      const onUnhandled = (reason) => unhandled.push(reason);
      const saved = process.listeners("unhandledRejection");
      process.removeAllListeners("unhandledRejection");
      process.on("unhandledRejection", onUnhandled);
      try {
        for (const entry of c.tests) {
          const why =
            EXPECTED[`${file}${variant} :: ${entry.name}`] ??
            EXPECTED[`${file} :: ${entry.name}`];
          const name = why ? `${entry.name} [expected failure]` : entry.name;
          await t.test(name, async (st) => {
            try {
              await c.run(entry, meta.long ? 60_000 : 15_000);
            } catch (error) {
              if (!why) throw error;
              st.diagnostic(`fails as expected (${why}): ${error.message}`);
              return;
            }
            if (why)
              throw new Error(
                `passes, but is listed as an expected failure (${why})`,
              );
          });
        }
        // Rejections nobody handled surface on a later turn.
        await new Promise((resolve) => setTimeout(resolve, 50));
        const why =
          EXPECTED[`${file}${variant} :: harness`] ??
          EXPECTED[`${file} :: harness`];
        await t.test(
          why ? "harness status [expected failure]" : "harness status",
          (st) => {
            const messages = unhandled.map((e) => `${e?.message ?? e}`);
            if (messages.length > 0 && !why)
              throw new Error(`unhandled rejections: ${messages.join("; ")}`);
            if (messages.length === 0 && why)
              throw new Error(`no harness error, yet one is listed (${why})`);
            if (why) st.diagnostic(`fails as expected (${why}): ${messages}`);
          },
        );
      } finally {
        process.off("unhandledRejection", onUnhandled);
        for (const listener of saved)
          process.on("unhandledRejection", listener);
      }
    });
  }
}
