// The client side of the scale benchmark, forked by bench/run.js with an IPC
// channel. A minimal WebSocket client over raw TCP sockets — the same bytes
// for both servers, and as little client-side cost as possible: a fixed
// opening request, a check of the 101 answer, and a masked close frame.
//
//   node bench/scale/client.js <port> [deflate]
//
// With "deflate", every connection offers permessage-deflate and, once
// open, sends one compressed 2 KiB JSON message and waits for its echo, so
// the server holds whatever its compression keeps per connection.
//
// Commands (IPC):
//   { cmd: "open", n, concurrency }  open n connections and keep them idle
//   { cmd: "closeAll", concurrency } close every kept connection (closing
//                                    handshake, then wait for the TCP close)
//   { cmd: "churn", n, concurrency } n connect → handshake → close cycles
// Each answers { ms, done, failed }.

import net from "node:net";
import zlib from "node:zlib";

const port = Number(process.argv[2]);
const deflate = process.argv[3] === "deflate";
const host = "127.0.0.1";
const REQUEST = Buffer.from(
  `GET /scale HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\n` +
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
    "Sec-WebSocket-Version: 13\r\n" +
    (deflate
      ? "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
      : "") +
    "\r\n",
);
/** A compressed text message (RSV1), masked with the all-zero key. */
const COMPRESSED = (() => {
  const text = JSON.stringify(
    Array.from({ length: 60 }, (_, i) => ({ id: i, name: `item ${i}` })),
  ).slice(0, 2048);
  const raw = zlib.deflateRawSync(text, {
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  });
  const payload = raw.subarray(0, raw.length - 4);
  // FIN, RSV1, text; masked, a 16-bit length; the zero key.
  const head = Buffer.from([0xc1, 0x80 | 126, 0, 0, 0, 0, 0, 0]);
  head.writeUInt16BE(payload.length, 2);
  return Buffer.concat([head, payload]);
})();
const ACCEPTED = "HTTP/1.1 101";
// A close frame, code 1000, masked with the all-zero key.
const CLOSE = Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]);

/** Resolves with an open socket once the 101 answer came, or rejects. */
function openOne() {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, host);
    let head = "";
    const fail = (error) => {
      socket.destroy();
      reject(error);
    };
    socket.on("error", fail);
    socket.once("connect", () => socket.write(REQUEST));
    const onData = (chunk) => {
      head += chunk.toString("latin1");
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      socket.off("data", onData);
      if (!head.startsWith(ACCEPTED)) return fail(new Error(head.slice(0, 40)));
      socket.off("error", fail);
      socket.on("error", () => {});
      if (!deflate) {
        // Whatever comes next (the server's close frame) is read and dropped.
        socket.on("data", () => {});
        return resolve(socket);
      }
      // The echo of one compressed message, then nothing more is read.
      socket.once("data", () => {
        socket.on("data", () => {});
        resolve(socket);
      });
      socket.write(COMPRESSED);
    };
    socket.on("data", onData);
  });
}

/** The closing handshake from the client side, then the TCP close. */
function closeOne(socket) {
  return new Promise((resolve) => {
    socket.once("close", resolve);
    // The server answers with its close frame and ends the TCP connection.
    socket.once("end", () => socket.end());
    socket.write(CLOSE);
  });
}

async function pool(n, concurrency, task) {
  let next = 0;
  let failed = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      try {
        await task(i);
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, concurrency) }, worker));
  return failed;
}

let kept = [];

process.on("message", async (msg) => {
  const t0 = performance.now();
  let failed = 0;
  let done = 0;
  if (msg.cmd === "open") {
    failed = await pool(msg.n, msg.concurrency, async () => {
      kept.push(await openOne());
      done++;
    });
  } else if (msg.cmd === "closeAll") {
    const all = kept;
    kept = [];
    failed = await pool(all.length, msg.concurrency, async (i) => {
      await closeOne(all[i]);
      done++;
    });
  } else if (msg.cmd === "churn") {
    failed = await pool(msg.n, msg.concurrency, async () => {
      await closeOne(await openOne());
      done++;
    });
  } else if (msg.cmd === "exit") {
    process.exit(0);
  }
  process.send({ id: msg.id, ms: performance.now() - t0, done, failed });
});
process.on("disconnect", () => process.exit(0));
