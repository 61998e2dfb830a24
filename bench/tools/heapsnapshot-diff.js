// Compares two V8 heap snapshots by constructor: the count and self size of
// the objects each kind gained, largest first. With `per`, divides by it (for
// memory per connection).
//
//   node bench/tools/heapsnapshot-diff.js before.heapsnapshot after.heapsnapshot [per] [count]

import { readFileSync } from "node:fs";

function summarize(file) {
  const snap = JSON.parse(readFileSync(file, "utf8"));
  const f = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = f.length;
  const iType = f.indexOf("type");
  const iName = f.indexOf("name");
  const iSize = f.indexOf("self_size");
  const out = new Map();
  const nodes = snap.nodes;
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + iType]];
    let name = snap.strings[nodes[i + iName]];
    if (
      type === "string" ||
      type === "concatenated string" ||
      type === "sliced string"
    )
      name = "(string)";
    else if (type === "code") name = "(code)";
    else if (name.length > 60) name = name.slice(0, 57) + "...";
    const key = `${type}: ${name}`;
    const e = out.get(key) ?? { count: 0, size: 0 };
    e.count++;
    e.size += nodes[i + iSize];
    out.set(key, e);
  }
  return out;
}

const [a, b, perArg, countArg] = process.argv.slice(2);
const per = Number(perArg ?? 1);
const before = summarize(a);
const after = summarize(b);
const rows = [];
let total = 0;
for (const [key, e] of after) {
  const o = before.get(key) ?? { count: 0, size: 0 };
  const size = e.size - o.size;
  total += size;
  rows.push({ key, count: (e.count - o.count) / per, size: size / per });
}
rows.sort((x, y) => y.size - x.size);
console.log(
  `total self size gained: ${(total / per).toFixed(0)} bytes${per > 1 ? " per connection" : ""}`,
);
for (const r of rows.slice(0, Number(countArg ?? 30))) {
  console.log(
    `${r.size.toFixed(0).padStart(8)} B  ${r.count.toFixed(2).padStart(7)} objects  ${r.key}`,
  );
}
