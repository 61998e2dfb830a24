#!/usr/bin/env node
// wasmsocket: a command-line WebSocket client and server built on the package.
//
//   wasmsocket connect URL [--protocol P] [--header 'K: V'] [--origin O] [--no-deflate] [--trace]
//                          [--send-raw SPEC]… [--wait MS]
//   wasmsocket serve [--port N] [--host H] [--echo | --broadcast] [--deflate] [--trace]
//   wasmsocket bridge --listen PORT --allow HOST:PORT… [--origin O]… [--max-tunnels N]
//                     [--webtransport PORT --cert FILE --key FILE]   (under Deno)
//   wasmsocket playground [--port N] [--allow HOST:PORT]… [--origin O]…
//
// --trace shows both handshake heads and one line per frame, as the engine
// itself read or wrote them, and for each compressed message its length
// uncompressed.
//
// connect is a tool for testing servers: when its input ends it sends a
// close and still prints what arrives until the server's close (or --wait
// runs out), and --send-raw (or /raw) writes frames crafted in the frame
// language of lib/craft.js, bad ones included, to see how a server answers.

import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { setTimeout as delay } from "node:timers/promises";
import { parseArgs } from "node:util";

import {
  control,
  createBridge,
  formatTrace,
  parseFrames,
  WebSocket,
  WebSocketServer,
} from "../lib/node/index.js";
import { startPlayground } from "../lib/node/playground.js";

const HELP = {
  main: `usage: wasmsocket <command> [options]

commands:
  connect URL   talk to a WebSocket server from the terminal
  serve         run a WebSocket server
  bridge        carry browser pages' raw bytes to allowed TCP/TLS servers
  playground    serve the browser protocol playground, with a bridge

Run "wasmsocket <command> --help" for a command's options.`,
  connect: `usage: wasmsocket connect URL [options]

Each line typed is sent as a text message; received messages print after "<".
At the end of input (Ctrl-D) it sends close 1000 and prints what still
arrives until the server's close. Commands:
  /close [code] [reason]   close with a code (default 1000) and reason
  /ping [payload]          send a ping
  /raw SPEC                send crafted frames (see --send-raw)

options:
  -p, --protocol P    offer subprotocol P (repeatable)
  -H, --header 'K: V' add a handshake request header (repeatable)
  -o, --origin O      send Origin: O
  -k, --insecure      accept any TLS certificate (wss:)
      --no-deflate    do not offer permessage-deflate (offered by default)
  -t, --trace         print both handshake heads and every frame
  -r, --send-raw SPEC once connected, send crafted frames, then close as at
                      the end of input; input is not read (repeatable)
  -w, --wait MS       after sending the close, wait up to MS for the
                      server's (default 5000), then drop the connection and
                      exit 1
  -h, --help          this help

SPEC is frames separated by ";", each an opcode (cont text binary close ping
pong, or 0-15) then words: fin nofin rsv1 rsv2 rsv3, nomask or mask=XXXXXXXX
(a random key by default), len=N (the length the header declares),
split=A,B,… (cut into writes at these byte offsets), and one payload: "JSON
string", hex:0a0b…, size=N, or for a close code=N ["reason"]. Each frame sent
prints as "→ raw …", the way --trace prints frames.
Example: --send-raw 'text nofin "hel"; ping "?"; cont "lo"'`,
  serve: `usage: wasmsocket serve [options]

options:
  -P, --port N        port to listen on (default 8080; 0 picks a free one)
      --host H        address to listen on (default 127.0.0.1)
  -e, --echo          send every message back to its sender (the default)
  -b, --broadcast     send every message to every connected client
  -p, --protocol P    accept subprotocol P when offered (repeatable)
  -z, --deflate       accept permessage-deflate when offered
  -t, --trace         print both handshake heads and every frame
  -h, --help          this help

The first line printed is "listening on ws://HOST:PORT".`,
  bridge: `usage: wasmsocket bridge --listen PORT --allow HOST:PORT [options]

A gateway for browser pages: each WebSocket to it is a tunnel whose binary
messages are the raw bytes of a TCP (or TLS) connection to one allowed
target, so the engine in the page speaks RFC 6455 byte for byte to a real
server. A page asks for ws://BRIDGE/?target=HOST:PORT[&tls=1]; with one
--allow that target is the default. It is never an open proxy: other
targets, other origins and tunnels past the cap are refused with a close
reason the page shows, and a log line here.

options:
  -l, --listen PORT      port to listen on (0 picks a free one)
      --host H           address to listen on (default 127.0.0.1)
  -a, --allow HOST:PORT  a target tunnels may reach (repeatable)
  -o, --origin O         a page origin allowed besides the bridge's own
                         (repeatable; "*" allows any page)
      --max-tunnels N    tunnels open at once (default 32)
      --webtransport PORT  also listen for WebTransport over HTTP/3 on this
                         UDP port (0 picks a free one); needs Deno
                         (deno run --unstable-net -A wasmsocket.js bridge …),
                         --cert and --key. Each bidirectional stream of a
                         session is a tunnel. It serves no page of its own:
                         give the pages' origins with --origin
      --cert FILE        PEM certificate for --webtransport (ECDSA P-256,
                         valid at most 14 days for a page that trusts it
                         by its SHA-256)
      --key FILE         PEM private key for --webtransport
  -h, --help             this help

The first line printed is "bridge listening on ws://HOST:PORT" (with only
--webtransport: "bridge listening on https://HOST:PORT (WebTransport)").`,
  playground: `usage: wasmsocket playground [options]

Serves the browser protocol playground and a bridge on one port, and prints
the page's URL. The page can test its own in-page server (loopback), a
WebTransport URL, or, through the bridge, any --allow'ed ws:// or wss://
server.

options:
  -P, --port N           port to listen on (default 8080; 0 picks a free one)
      --host H           address to listen on (default 127.0.0.1)
  -a, --allow HOST:PORT  a server the page may reach through the bridge
                         (repeatable; none by default)
  -o, --origin O         another page origin the bridge serves (repeatable)
      --max-tunnels N    tunnels open at once (default 32)
  -h, --help             this help

The first line printed is "playground on http://HOST:PORT/www/".`,
};

/** Prints trace records, each line prefixed with `who`. */
function trace(who) {
  return (record) => console.log(formatTrace(record).replace(/^/gm, who));
}

/** Bytes of payload a trace line shows, as many as the engine's previews. */
const PREVIEW = 32;
/** Ms between the writes of crafted frames, so that they arrive apart. */
const RAW_PAUSE = 20;

/** A crafted frame as a trace line marked "raw", with what its header does
 * not show: the real payload length when it lies, and the writes. */
function rawLine({ fields, writes }) {
  const line = formatTrace({
    kind: "frame",
    direction: "sent",
    opcode: fields.opcode,
    fin: fields.fin,
    rsv: fields.rsv,
    masked: fields.mask !== null,
    length: fields.declaredLength,
    preview: fields.payload.subarray(0, PREVIEW),
  });
  const notes = [];
  if (BigInt(fields.declaredLength) !== BigInt(fields.length))
    notes.push(`payload ${fields.length}`);
  if (writes.length > 1) notes.push(`${writes.length} writes`);
  return `→ raw${line.slice(1)}${notes.length ? ` (${notes.join(", ")})` : ""}`;
}

/** Writes crafted frames in order, each write apart from the next, printing
 * each frame as it goes; stops at the first write the socket refuses. */
async function sendRaw(ws, frames) {
  for (const frame of frames) {
    console.log(rawLine(frame));
    for (const bytes of frame.writes) {
      try {
        control(ws).sendRaw(bytes);
      } catch (error) {
        console.log(`! ${error.message}`);
        return;
      }
      await delay(RAW_PAUSE);
    }
  }
}

function hex(bytes) {
  return Buffer.from(bytes).toString("hex");
}

function show(data) {
  if (typeof data === "string") return data;
  return `[binary ${data.byteLength} bytes] ${hex(new Uint8Array(data).subarray(0, 32))}`;
}

function fail(message, code = 1) {
  process.stderr.write(`wasmsocket: ${message}\n`);
  process.exit(code);
}

function options(args, spec, help) {
  try {
    const parsed = parseArgs({
      args,
      options: { ...spec, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
    });
    if (parsed.values.help) {
      console.log(help);
      process.exit(0);
    }
    return parsed;
  } catch (error) {
    fail(`${error.message}\n\n${help}`, 2);
  }
}

function connect(args) {
  const { values, positionals } = options(
    args,
    {
      protocol: { type: "string", short: "p", multiple: true },
      header: { type: "string", short: "H", multiple: true },
      origin: { type: "string", short: "o" },
      insecure: { type: "boolean", short: "k" },
      "no-deflate": { type: "boolean" },
      trace: { type: "boolean", short: "t" },
      "send-raw": { type: "string", short: "r", multiple: true },
      wait: { type: "string", short: "w", default: "5000" },
    },
    HELP.connect,
  );
  if (positionals.length !== 1)
    fail(`connect needs one URL\n\n${HELP.connect}`, 2);
  const headers = [];
  for (const h of values.header ?? []) {
    const at = h.indexOf(":");
    if (at < 1)
      fail(`bad header ${JSON.stringify(h)} (expected 'Name: value')`, 2);
    headers.push([h.slice(0, at).trim(), h.slice(at + 1).trim()]);
  }
  // At most the longest a timer waits, 2^31 - 1 ms.
  const wait = /^\d{1,10}$/.test(values.wait) ? Number(values.wait) : NaN;
  if (!(wait <= 2 ** 31 - 1))
    fail(`bad --wait ${values.wait} (expected milliseconds)`, 2);
  let raw = [];
  try {
    raw = (values["send-raw"] ?? []).flatMap((spec) => parseFrames(spec));
  } catch (error) {
    fail(`--send-raw: ${error.message}`, 2);
  }
  let ws;
  try {
    ws = new WebSocket(positionals[0], values.protocol ?? [], {
      headers,
      origin: values.origin,
      tls: values.insecure ? { rejectUnauthorized: false } : {},
      perMessageDeflate: !values["no-deflate"],
      trace: values.trace ? trace("") : undefined,
      // The engine's wait for the server's close, once ours is sent.
      closeTimeout: wait,
    });
  } catch (error) {
    fail(error.message, 2);
  }
  ws.binaryType = "arraybuffer";
  let opened = false;
  let failure = null;
  let closing = false;
  /** Our close; what arrives until the server's close still prints. */
  const close = (code = 1000, reason = "") => {
    if (ws.readyState !== WebSocket.OPEN) return;
    control(ws).close(code, reason, { keepReading: true });
    closing = true;
  };
  const input = raw.length
    ? null
    : createInterface({ input: process.stdin, terminal: false });
  input?.pause();
  ws.onopen = () => {
    opened = true;
    console.log(
      `connected to ${ws.url}${ws.protocol ? ` (subprotocol ${ws.protocol})` : ""}${ws.extensions ? ` (${ws.extensions})` : ""}`,
    );
    if (input) input.resume();
    else sendRaw(ws, raw).then(() => close());
  };
  ws.onmessage = (event) => console.log(`< ${show(event.data)}`);
  ws.addEventListener("ping", (event) =>
    console.log(`< ping ${hex(event.data)}`),
  );
  ws.addEventListener("pong", (event) =>
    console.log(`< pong ${hex(event.data)}`),
  );
  ws.onerror = (event) => (failure = event.message);
  ws.onclose = (event) => {
    input?.close();
    if (failure)
      fail(opened ? failure : `could not connect to ${ws.url}: ${failure}`);
    console.log(
      `closed: ${event.code}${event.reason ? ` ${event.reason}` : ""}${event.wasClean ? "" : " (unclean)"}`,
    );
    if (closing && !event.wasClean)
      fail(
        `no close from the server in answer to ours (waited up to ${wait} ms, see --wait)`,
      );
    process.exit(event.wasClean ? 0 : 1);
  };
  /** One typed line: a message or a command. */
  const line = async (text) => {
    if (ws.readyState !== WebSocket.OPEN) return;
    const command = text.match(/^\/(close|ping|raw)\b\s*(.*)$/);
    try {
      if (!command) ws.send(text);
      else if (command[1] === "ping") control(ws).ping(command[2]);
      else if (command[1] === "raw") await sendRaw(ws, parseFrames(command[2]));
      else {
        const [, code, reason] = command[2].match(/^(\d+)?\s*(.*)$/);
        close(code ? Number(code) : 1000, reason);
      }
    } catch (error) {
      console.log(`! ${error.message}`);
    }
  };
  // Lines are handled one after another (a /raw pauses between its writes),
  // and the end of input closes after the last of them.
  let handled = Promise.resolve();
  input?.on("line", (text) => (handled = handled.then(() => line(text))));
  input?.on("close", () => handled.then(() => close()));
}

function serve(args) {
  const { values } = options(
    args,
    {
      port: { type: "string", short: "P", default: "8080" },
      host: { type: "string", default: "127.0.0.1" },
      echo: { type: "boolean", short: "e" },
      broadcast: { type: "boolean", short: "b" },
      protocol: { type: "string", short: "p", multiple: true },
      deflate: { type: "boolean", short: "z" },
      trace: { type: "boolean", short: "t" },
    },
    HELP.serve,
  );
  if (values.echo && values.broadcast)
    fail("choose one of --echo and --broadcast", 2);
  const port = /^\d{1,5}$/.test(values.port) ? Number(values.port) : NaN;
  if (!(port <= 65535)) fail(`bad port ${values.port}`, 2);
  let next = 1;
  const server = new WebSocketServer({
    port,
    host: values.host,
    handleProtocols: (offered) =>
      offered.find((p) => values.protocol?.includes(p)) ?? false,
    perMessageDeflate: Boolean(values.deflate),
    trace: values.trace ? trace("  ") : undefined,
  });
  server.on("error", (error) => fail(error.message));
  server.on("listening", () => {
    const { address, port: bound } = server.address();
    const host = address.includes(":") ? `[${address}]` : address;
    console.log(`listening on ws://${host}:${bound}`);
  });
  server.on("handshakeError", (error, peer) =>
    console.log(`refused ${peer.remoteAddress}: ${error.message}`),
  );
  server.on("connection", (ws, request) => {
    const id = next++;
    console.log(
      `#${id} open ${request.url} from ${request.remoteAddress}:${request.remotePort}`,
    );
    ws.binaryType = "arraybuffer";
    ws.onmessage = (event) => {
      console.log(`#${id} < ${show(event.data)}`);
      const targets = values.broadcast ? server.clients : [ws];
      for (const client of targets)
        if (client.readyState === WebSocket.OPEN) client.send(event.data);
    };
    ws.onerror = (event) => console.log(`#${id} error: ${event.message}`);
    ws.onclose = (event) =>
      console.log(
        `#${id} closed: ${event.code}${event.reason ? ` ${event.reason}` : ""}`,
      );
  });
  const stop = () => server.close().then(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

/** Options shared by `bridge` and `playground`, checked. */
function bridgeOptions(values, help) {
  const port = (text) => {
    const n = /^\d{1,5}$/.test(text ?? "") ? Number(text) : NaN;
    if (!(n <= 65535)) fail(`bad port ${text}\n\n${help}`, 2);
    return n;
  };
  const cap = values["max-tunnels"] ?? "32";
  if (!/^[1-9]\d{0,5}$/.test(cap)) fail(`bad --max-tunnels ${cap}`, 2);
  return {
    port,
    allow: values.allow ?? [],
    origins: values.origin ?? [],
    maxTunnels: Number(cap),
    log: (line) => console.log(line),
  };
}

const BRIDGE_OPTIONS = {
  host: { type: "string", default: "127.0.0.1" },
  allow: { type: "string", short: "a", multiple: true },
  origin: { type: "string", short: "o", multiple: true },
  "max-tunnels": { type: "string" },
};

async function bridge(args) {
  const { values } = options(
    args,
    {
      ...BRIDGE_OPTIONS,
      listen: { type: "string", short: "l" },
      webtransport: { type: "string" },
      cert: { type: "string" },
      key: { type: "string" },
    },
    HELP.bridge,
  );
  const { port, ...shared } = bridgeOptions(values, HELP.bridge);
  if (values.listen === undefined && values.webtransport === undefined)
    fail(`--listen PORT is needed\n\n${HELP.bridge}`, 2);
  if (shared.allow.length === 0)
    fail(`at least one --allow HOST:PORT is needed\n\n${HELP.bridge}`, 2);
  const stops = [];
  let wt;
  if (values.webtransport !== undefined) {
    if (typeof globalThis.Deno?.QuicEndpoint !== "function")
      fail(
        "--webtransport needs Deno with --unstable-net (deno run --unstable-net -A …)",
        2,
      );
    if (!values.cert || !values.key)
      fail(`--webtransport needs --cert FILE and --key FILE`, 2);
    try {
      const { createWebTransportBridge } =
        await import("../lib/deno/bridge.js");
      wt = createWebTransportBridge({
        ...shared,
        port: port(values.webtransport),
        hostname: values.host,
        cert: readFileSync(values.cert, "utf8"),
        key: readFileSync(values.key, "utf8"),
      });
    } catch (error) {
      fail(error.message, 2);
    }
    if (values.listen === undefined) {
      const host = wt.hostname.includes(":") ? `[${wt.hostname}]` : wt.hostname;
      console.log(
        `bridge listening on https://${host}:${wt.port} (WebTransport)`,
      );
      console.log(`targets: ${shared.allow.join(", ")}`);
    }
    stops.push(() => wt.close());
  }
  let server;
  if (values.listen !== undefined) {
    try {
      server = createBridge({
        ...shared,
        port: port(values.listen),
        host: values.host,
      });
    } catch (error) {
      fail(error.message, 2);
    }
    server.on("error", (error) => fail(error.message));
    server.on("listening", () => {
      const { address, port: bound } = server.address();
      const host = address.includes(":") ? `[${address}]` : address;
      console.log(`bridge listening on ws://${host}:${bound}`);
      if (wt) console.log(`and on https://${host}:${wt.port} (WebTransport)`);
      console.log(`targets: ${shared.allow.join(", ")}`);
    });
    stops.push(() => server.close());
  }
  const stop = () =>
    Promise.all(stops.map((s) => s())).then(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

async function playground(args) {
  const { values } = options(
    args,
    {
      ...BRIDGE_OPTIONS,
      port: { type: "string", short: "P", default: "8080" },
    },
    HELP.playground,
  );
  const { port, ...shared } = bridgeOptions(values, HELP.playground);
  let started;
  try {
    started = await startPlayground({
      ...shared,
      port: port(values.port),
      host: values.host,
    });
  } catch (error) {
    fail(error.message, error instanceof TypeError ? 2 : 1);
  }
  console.log(`playground on ${started.url}`);
  console.log(
    shared.allow.length > 0
      ? `bridge at /bridge for: ${shared.allow.join(", ")}`
      : "bridge at /bridge: no server allowed (add --allow HOST:PORT)",
  );
  const stop = () =>
    started.bridge.close().then(() => {
      started.server.close();
      process.exit(0);
    });
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

const [command, ...rest] = process.argv.slice(2);
if (command === "connect") connect(rest);
else if (command === "serve") serve(rest);
else if (command === "bridge") bridge(rest);
else if (command === "playground") playground(rest);
else if (command === undefined || command === "--help" || command === "-h")
  console.log(HELP.main);
else fail(`unknown command ${JSON.stringify(command)}\n\n${HELP.main}`, 2);
