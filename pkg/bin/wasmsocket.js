#!/usr/bin/env node
// wasmsocket: a command-line WebSocket client and server built on the package.
//
//   wasmsocket connect URL [--protocol P] [--header 'K: V'] [--origin O] [--no-deflate] [--trace]
//   wasmsocket serve [--port N] [--host H] [--echo | --broadcast] [--deflate] [--trace]
//
// --trace shows both handshake heads and one line per frame, as the engine
// itself read or wrote them, and for each compressed message its length
// uncompressed.

import { createInterface } from "node:readline";
import { parseArgs } from "node:util";

import {
  control,
  formatTrace,
  WebSocket,
  WebSocketServer,
} from "../lib/node/index.js";

const HELP = {
  main: `usage: wasmsocket <command> [options]

commands:
  connect URL   talk to a WebSocket server from the terminal
  serve         run a WebSocket server

Run "wasmsocket <command> --help" for a command's options.`,
  connect: `usage: wasmsocket connect URL [options]

Each line typed is sent as a text message; received messages print after "<".
Ctrl-D closes the connection. Commands:
  /close [code] [reason]   close with a code (default 1000) and reason
  /ping [payload]          send a ping

options:
  -p, --protocol P    offer subprotocol P (repeatable)
  -H, --header 'K: V' add a handshake request header (repeatable)
  -o, --origin O      send Origin: O
  -k, --insecure      accept any TLS certificate (wss:)
      --no-deflate    do not offer permessage-deflate (offered by default)
  -t, --trace         print both handshake heads and every frame
  -h, --help          this help`,
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
};

/** Prints trace records, each line prefixed with `who`. */
function trace(who) {
  return (record) => console.log(formatTrace(record).replace(/^/gm, who));
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
  let ws;
  try {
    ws = new WebSocket(positionals[0], values.protocol ?? [], {
      headers,
      origin: values.origin,
      tls: values.insecure ? { rejectUnauthorized: false } : {},
      perMessageDeflate: !values["no-deflate"],
      trace: values.trace ? trace("") : undefined,
    });
  } catch (error) {
    fail(error.message, 2);
  }
  ws.binaryType = "arraybuffer";
  let opened = false;
  let failure = null;
  const input = createInterface({ input: process.stdin, terminal: false });
  input.pause();
  ws.onopen = () => {
    opened = true;
    console.log(
      `connected to ${ws.url}${ws.protocol ? ` (subprotocol ${ws.protocol})` : ""}${ws.extensions ? ` (${ws.extensions})` : ""}`,
    );
    input.resume();
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
    input.close();
    if (failure)
      fail(opened ? failure : `could not connect to ${ws.url}: ${failure}`);
    console.log(
      `closed: ${event.code}${event.reason ? ` ${event.reason}` : ""}${event.wasClean ? "" : " (unclean)"}`,
    );
    process.exit(event.wasClean ? 0 : 1);
  };
  input.on("line", (line) => {
    if (ws.readyState !== WebSocket.OPEN) return;
    const command = line.match(/^\/(close|ping)\b\s*(.*)$/);
    try {
      if (!command) ws.send(line);
      else if (command[1] === "ping") control(ws).ping(command[2]);
      else {
        const [, code, reason] = command[2].match(/^(\d+)?\s*(.*)$/);
        control(ws).close(code ? Number(code) : 1000, reason);
      }
    } catch (error) {
      console.log(`! ${error.message}`);
    }
  });
  input.on("close", () => {
    if (ws.readyState === WebSocket.OPEN) ws.close(1000);
  });
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

const [command, ...rest] = process.argv.slice(2);
if (command === "connect") connect(rest);
else if (command === "serve") serve(rest);
else if (command === undefined || command === "--help" || command === "-h")
  console.log(HELP.main);
else fail(`unknown command ${JSON.stringify(command)}\n\n${HELP.main}`, 2);
