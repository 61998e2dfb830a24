// The main job's demo: both halves of the package against each other.
//
// Starts `wasmsocket serve --echo --trace` on a free loopback port, connects
// a client of the package with tracing on, exchanges text, binary, a ping and
// a clean close, and prints both sides' traces and a one-line summary.
// Exits 0 on success.

import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

import { control, formatTrace, WebSocket } from "wasmsocket";

const bin = fileURLToPath(new URL("../pkg/bin/wasmsocket.js", import.meta.url));

const server = spawn(
  process.execPath,
  [bin, "serve", "--port", "0", "--echo", "--trace"],
  {
    stdio: ["ignore", "pipe", "inherit"],
  },
);
const serverLines = createInterface({ input: server.stdout });
const url = await new Promise((resolve, reject) => {
  serverLines.on("line", (line) => {
    const listening = line.match(/^listening on (ws:\/\/\S+)/);
    if (listening) resolve(listening[1]);
    console.log(`server │ ${line}`);
  });
  server.once("exit", (code) =>
    reject(new Error(`wasmsocket serve exited with ${code}`)),
  );
});

const started = performance.now();
const seen = { frames: 0, echoes: 0, pongs: 0 };
const ws = new WebSocket(`${url}/demo`, [], {
  trace(record) {
    if (record.kind === "frame") seen.frames++;
    console.log(formatTrace(record).replace(/^/gm, "client │ "));
  },
});
ws.binaryType = "arraybuffer";

ws.addEventListener("open", () => {
  ws.send("hello from wasmsocket ✓");
  ws.send(new Uint8Array([0xde, 0xad, 0xbe, 0xef]));
  control(ws).ping("are you there?");
});
ws.addEventListener("message", (event) => {
  seen.echoes++;
  const shown =
    typeof event.data === "string"
      ? JSON.stringify(event.data)
      : Buffer.from(event.data).toString("hex");
  console.log(`client │ echo ${shown}`);
  if (seen.echoes === 2 && seen.pongs === 1) ws.close(1000, "demo done");
});
ws.addEventListener("pong", (event) => {
  seen.pongs++;
  console.log(
    `client │ pong ${JSON.stringify(new TextDecoder().decode(event.data))}`,
  );
  if (seen.echoes === 2) ws.close(1000, "demo done");
});
ws.addEventListener("error", (event) =>
  console.error(`client │ error: ${event.message}`),
);

const closed = await new Promise((resolve) =>
  ws.addEventListener("close", resolve),
);
const elapsed = performance.now() - started;
server.kill("SIGINT");
const serverCode = await new Promise((resolve) => server.once("exit", resolve));
serverLines.close();

const ok =
  closed.wasClean &&
  closed.code === 1000 &&
  seen.echoes === 2 &&
  seen.pongs === 1 &&
  serverCode === 0;
console.log(
  `\n${ok ? "OK" : "FAILED"}: ${seen.echoes} echoes, ${seen.pongs} pong, close ${closed.code}` +
    ` (clean: ${closed.wasClean}), ${seen.frames} frames traced, ${elapsed.toFixed(1)} ms`,
);
process.exitCode = ok ? 0 : 1;
