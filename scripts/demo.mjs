// The main job's demo: a client of the package talks to a local `ws` echo
// server and prints both handshake heads and a short exchange.

import { WebSocketServer } from "ws";
import { WebSocket } from "wasmsocket";

const server = new WebSocketServer({
  host: "127.0.0.1",
  port: 0,
  handleProtocols: (offered) => [...offered][0],
});
server.on("headers", (lines, request) => {
  const head = [`${request.method} ${request.url} HTTP/${request.httpVersion}`];
  for (let i = 0; i < request.rawHeaders.length; i += 2)
    head.push(`${request.rawHeaders[i]}: ${request.rawHeaders[i + 1]}`);
  print("client → server (handshake request)", head);
  print("server → client (handshake response)", lines);
});
server.on("connection", (socket) => {
  socket.on("message", (data, isBinary) =>
    socket.send(data, { binary: isBinary }),
  );
});
await new Promise((resolve) => server.once("listening", resolve));
const url = `ws://127.0.0.1:${server.address().port}/demo`;

const ws = new WebSocket(url, ["demo.v1"]);
ws.binaryType = "arraybuffer";
const started = performance.now();
const exchange = [];

ws.addEventListener("open", () => {
  exchange.push(`open (protocol ${JSON.stringify(ws.protocol)})`);
  ws.send("hello from wasmsocket ✓");
  ws.send(new Uint8Array([0xde, 0xad, 0xbe, 0xef]));
});
ws.addEventListener("message", (event) => {
  const shown =
    typeof event.data === "string"
      ? `text ${JSON.stringify(event.data)}`
      : `binary ${Buffer.from(event.data).toString("hex")}`;
  exchange.push(`echo: ${shown}`);
  if (exchange.length === 3) ws.close(1000, "demo done");
});
ws.addEventListener("error", (event) => {
  console.error(`error: ${event.message}`);
  process.exitCode = 1;
});
ws.addEventListener("close", (event) => {
  exchange.push(
    `close: code ${event.code}, reason ${JSON.stringify(event.reason)}, wasClean ${event.wasClean}`,
  );
  print(`exchange with ${url}`, exchange);
  const ok = event.wasClean && event.code === 1000 && exchange.length === 4;
  console.log(
    `\n${ok ? "OK" : "FAILED"}: ${exchange.length - 2} echoes and a clean close in ${(performance.now() - started).toFixed(1)} ms`,
  );
  if (!ok) process.exitCode = 1;
  server.close();
});

function print(title, lines) {
  console.log(`\n${title}`);
  for (const line of lines) console.log(`  ${line}`);
}
