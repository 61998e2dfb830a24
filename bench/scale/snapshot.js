// Heap snapshots of a scale server before and after opening n idle
// connections, compared by constructor per connection (what each idle
// connection retains).
//
//   node bench/scale/snapshot.js ws|wasmsocket [n=1000] [out dir]

import { execFileSync } from "node:child_process";
import path from "node:path";

import { benchDir, forkRpc, rootDir } from "../lib/util.js";

const [impl, nArg = "1000", outArg = "."] = process.argv.slice(2);
const out = path.resolve(outArg);
const n = Number(nArg);
const server = forkRpc(path.join(benchDir, "scale/server.js"), [impl], {
  nodeArgs: ["--expose-gc"],
});
const { port } = await server.ready;
const client = forkRpc(path.join(benchDir, "scale/client.js"), [String(port)]);
await client.call({ cmd: "churn", n: 200, concurrency: 20 });
const before = path.join(out, `${impl}.before.heapsnapshot`);
const after = path.join(out, `${impl}.after.heapsnapshot`);
await server.call({ cmd: "snapshot", file: before });
await client.call({ cmd: "open", n, concurrency: 50 });
const mem = (await server.call({ cmd: "mem" })).mem;
await server.call({ cmd: "snapshot", file: after });
await client.stop();
await server.stop();
console.log(JSON.stringify(mem));
console.log(
  execFileSync(
    process.execPath,
    [
      path.join(rootDir, "bench/tools/heapsnapshot-diff.js"),
      before,
      after,
      String(n),
      "40",
    ],
    { encoding: "utf8" },
  ),
);
