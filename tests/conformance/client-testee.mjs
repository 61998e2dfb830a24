// Autobahn client testee: written only against the package's public
// WebSocket API, offering permessage-deflate as it does by default. It asks the fuzzing server how many cases there are, runs
// each case on its own connection echoing every message back, then asks the
// server to write its reports.
//
//   node client-testee.mjs ws://127.0.0.1:9001 AGENT

import { WebSocket } from "wasmsocket";

const [base = "ws://127.0.0.1:9001", agent = "wasmsocket"] =
  process.argv.slice(2);

/** Opens `path`, echoes every message, resolves with the close event. */
function run(path, onMessage = (ws, data) => ws.send(data)) {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${base}${path}`);
    ws.binaryType = "arraybuffer";
    ws.onmessage = (event) => onMessage(ws, event.data);
    ws.onclose = resolve;
  });
}

let count = 0;
await run("/getCaseCount", (ws, data) => (count = Number(data)));
if (!(count > 0)) {
  console.error(
    `client testee: the fuzzing server at ${base} reported no cases`,
  );
  process.exit(1);
}
for (let i = 1; i <= count; i++) {
  await run(`/runCase?case=${i}&agent=${encodeURIComponent(agent)}`);
  if (i % 50 === 0 || i === count)
    console.log(`client testee: ${i}/${count} cases run`);
}
await run(`/updateReports?agent=${encodeURIComponent(agent)}`);
