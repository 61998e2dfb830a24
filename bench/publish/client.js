// The subscribers of the publish benchmark, forked by bench/lib/publish.js
// with an IPC channel: raw TCP sockets that open a WebSocket with a fixed
// request and then only count the bytes they receive (the same bytes for
// both servers, and as little client-side cost as possible).
//
//   node bench/publish/client.js <port>
//
// Commands (IPC):
//   { cmd: "open", n, concurrency } open n subscribers → { done, failed }
//   { cmd: "await", total }         answers once every subscriber has
//                                   received `total` bytes since it opened

import net from "node:net";

const port = Number(process.argv[2]);
const host = "127.0.0.1";
const REQUEST = Buffer.from(
  `GET /pub HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\n` +
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
    "Sec-WebSocket-Version: 13\r\n\r\n",
);

/** Every subscriber's received byte count and target. */
const subs = [];
let behind = 0;
let caughtUp = null;

function openOne() {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, host);
    const sub = { received: 0, target: 0 };
    let head = "";
    socket.on("error", reject);
    socket.once("connect", () => socket.write(REQUEST));
    const onHead = (chunk) => {
      head += chunk.toString("latin1");
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      socket.off("data", onHead);
      if (!head.startsWith("HTTP/1.1 101")) {
        socket.destroy();
        return reject(new Error(head.slice(0, 40)));
      }
      socket.on("data", (data) => {
        const was = sub.received < sub.target;
        sub.received += data.length;
        if (was && sub.received >= sub.target && --behind === 0) caughtUp();
      });
      subs.push(sub);
      resolve();
    };
    socket.on("data", onHead);
  });
}

async function pool(n, concurrency, task) {
  let next = 0;
  let failed = 0;
  const worker = async () => {
    while (next++ < n) await task().catch(() => failed++);
  };
  await Promise.all(Array.from({ length: Math.min(n, concurrency) }, worker));
  return failed;
}

process.on("message", async (msg) => {
  const answer = { id: msg.id };
  if (msg.cmd === "open") {
    answer.failed = await pool(msg.n, msg.concurrency, openOne);
    answer.done = subs.length;
  } else if (msg.cmd === "await") {
    const done = new Promise((resolve) => (caughtUp = resolve));
    behind = 0;
    for (const sub of subs) {
      sub.target = msg.total;
      if (sub.received < sub.target) behind++;
    }
    if (behind > 0) await done;
  }
  process.send(answer);
});
process.on("disconnect", () => process.exit(0));
