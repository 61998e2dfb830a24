// The server side of the publish benchmark, forked by bench/lib/publish.js
// with an IPC channel.
//
//   node bench/publish/server.js ws|wasmsocket
//
// Every accepted connection subscribes to one topic: with wasmsocket by
// `ws.subscribe`, with ws by joining a Set, ws's documented broadcast being
// a loop over the clients that calls `send` on each.
//
// Commands (IPC), each answered with { cpuUs } (the process's CPU time so
// far) and the command's own fields:
//   { cmd: "publish", count, size, paced } publish `count` binary messages
//      of `size` bytes: all in one synchronous loop, or (`paced`) one per
//      turn of the event loop; answers once the last was handed over
//   { cmd: "subscribers" } → { n }

const impl = process.argv[2];
const host = "127.0.0.1";
let publish;
let subscribers;

if (impl === "ws") {
  const { WebSocketServer } = await import("ws");
  const server = new WebSocketServer({ port: 0, host, backlog: 4096 });
  const topic = new Set();
  server.on("connection", (ws) => {
    topic.add(ws);
    ws.on("error", () => {});
    ws.on("close", () => topic.delete(ws));
  });
  publish = (data) => {
    for (const ws of topic) if (ws.readyState === 1) ws.send(data);
  };
  subscribers = () => topic.size;
  server.on("listening", () => process.send({ port: server.address().port }));
} else if (impl === "wasmsocket") {
  const { WebSocketServer } = await import("wasmsocket");
  const server = new WebSocketServer({ port: 0, host });
  server.on("connection", (ws) => ws.subscribe("t"));
  publish = (data) => server.publish("t", data);
  subscribers = () => server.subscriberCount("t");
  server.on("listening", () => process.send({ port: server.address().port }));
} else {
  throw new Error(`unknown server ${impl}`);
}

const cpuUs = () => {
  const c = process.cpuUsage();
  return c.user + c.system;
};
const turn = () => new Promise((resolve) => setImmediate(resolve));

process.on("message", async (msg) => {
  const answer = { id: msg.id };
  if (msg.cmd === "publish") {
    const data = Buffer.alloc(msg.size, 7);
    for (let i = 0; i < msg.count; i++) {
      publish(data);
      if (msg.paced) await turn();
    }
  } else if (msg.cmd === "subscribers") {
    answer.n = subscribers();
  }
  process.send({ ...answer, cpuUs: cpuUs() });
});
process.on("disconnect", () => process.exit(0));
