// Autobahn server testees: echo servers built on the package's server, with
// permessage-deflate accepted (perMessageDeflate: true).
//
//   node server-testee.mjs net PORT      the server on its own TCP port
//   node server-testee.mjs bridge PORT   every TCP connection is bridged into
//       an in-memory Duplex pair and the server accepts the far end, so the
//       bytes reach the engine through a non-socket transport
//
// Prints "ready" once listening.

import net from "node:net";
import { Duplex } from "node:stream";

import { WebSocketServer } from "wasmsocket";

const [mode = "net", port = "9002"] = process.argv.slice(2);

function echo(ws) {
  ws.binaryType = "arraybuffer";
  ws.onmessage = (event) => ws.send(event.data);
}

/** Two Duplex streams joined back to back: what one writes, the other reads. */
function duplexPair() {
  const ends = [];
  for (let i = 0; i < 2; i++) {
    ends.push(
      new Duplex({
        write(chunk, _encoding, done) {
          ends[1 - i].push(chunk);
          done();
        },
        final(done) {
          ends[1 - i].push(null);
          done();
        },
        destroy(error, done) {
          ends[1 - i].destroy();
          done(error);
        },
        read() {},
      }),
    );
  }
  return ends;
}

if (mode === "net") {
  const server = new WebSocketServer({
    port: Number(port),
    host: "127.0.0.1",
    perMessageDeflate: true,
  });
  server.on("connection", echo);
  server.on("listening", () => console.log("ready"));
} else if (mode === "bridge") {
  const server = new WebSocketServer({ perMessageDeflate: true });
  server.on("connection", echo);
  net
    .createServer((socket) => {
      socket.setNoDelay(true);
      const [near, far] = duplexPair();
      socket.pipe(near).pipe(socket);
      socket.on("error", () => near.destroy());
      near.on("close", () => socket.destroy());
      server.accept(far);
    })
    .listen(Number(port), "127.0.0.1", () => console.log("ready"));
} else {
  console.error(`unknown mode ${mode} (net or bridge)`);
  process.exit(2);
}
