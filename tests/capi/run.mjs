// Runs tests/capi's TCP client (a C program on libwebsocket, built by run.sh)
// against two echo servers started here on free ports of 127.0.0.1: the
// package's own WebSocketServer and a `ws` server.
//
//   node tests/capi/run.mjs path/to/tcp_client
//
// Exits 0 when the client passes against both, 1 otherwise.

import { spawn } from "node:child_process";
import { once } from "node:events";

import { WebSocketServer as WsServer } from "ws";

import { WebSocketServer } from "../../pkg/lib/node/index.js";

const client = process.argv[2];
if (!client) {
  console.error("usage: node tests/capi/run.mjs path/to/tcp_client");
  process.exit(2);
}

/** The package's server, echoing every message with its type. */
async function packageServer() {
  const server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  server.on("connection", (ws) => {
    ws.binaryType = "arraybuffer";
    ws.addEventListener("message", (event) => ws.send(event.data));
  });
  await once(server, "listening");
  return { server, port: server.address().port };
}

/** A `ws` server, echoing every message with its type. */
async function wsServer() {
  const server = new WsServer({ port: 0, host: "127.0.0.1" });
  server.on("connection", (ws) => {
    ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  await once(server, "listening");
  return { server, port: server.address().port };
}

/** Runs the client against a port; resolves with its exit code. */
async function runClient(name, port) {
  const child = spawn(client, ["127.0.0.1", String(port), "/echo"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const prefix = (chunk) =>
    chunk
      .toString()
      .split("\n")
      .filter((line) => line)
      .map((line) => `[${name}] ${line}\n`)
      .join("");
  child.stdout.on("data", (chunk) => process.stdout.write(prefix(chunk)));
  child.stderr.on("data", (chunk) => process.stderr.write(prefix(chunk)));
  const timer = setTimeout(() => {
    console.error(`[${name}] timed out after 30 s`);
    child.kill("SIGKILL");
  }, 30000);
  const [code, signal] = await once(child, "exit");
  clearTimeout(timer);
  return signal ? 1 : code;
}

let failed = 0;
for (const [name, start] of [
  ["package server", packageServer],
  ["ws server", wsServer],
]) {
  const { server, port } = await start();
  const code = await runClient(name, port);
  if (code !== 0) {
    console.error(`[${name}] FAILED (exit ${code})`);
    failed++;
  }
  // The package's close() returns a promise; ws's takes a callback.
  await new Promise((resolve) => server.close(resolve)?.then(resolve));
}
console.log(
  failed ? `tcp client: ${failed} FAILED` : "tcp client: both servers PASSED",
);
process.exit(failed ? 1 : 0);
