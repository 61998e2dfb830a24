// The contract between the engine and the package: every number that
// pkg/lib/contract.js writes out must be the one the engine was built with
// (src/wasm/contract.rs `contract()`), and the engine must define none that
// the package lacks. A change on either side alone fails here.

import assert from "node:assert/strict";
import { test } from "node:test";

import * as contractJs from "../../pkg/lib/contract.js";
import "../../pkg/lib/node/index.js";
import { contract } from "../../pkg/wasm/wasmsocket.js";

test("pkg/lib/contract.js matches the engine's contract, group by group", () => {
  const engine = JSON.parse(contract());
  const js = Object.fromEntries(
    Object.entries(contractJs).map(([group, values]) => [group, { ...values }]),
  );
  assert.deepEqual(Object.keys(js).sort(), Object.keys(engine).sort());
  for (const group of Object.keys(engine)) {
    assert.deepEqual(js[group], engine[group], group);
  }
});

test("the event record and the report fit the offsets they name", () => {
  const { EventRecord, Report } = contractJs;
  const fields = Object.entries(EventRecord).filter(([k]) => k !== "SIZE");
  for (const [name, offset] of fields)
    assert.ok(offset < EventRecord.SIZE, `EventRecord.${name}`);
  const offsets = Object.values(Report);
  assert.equal(
    new Set(offsets).size,
    offsets.length,
    "no two fields share an offset",
  );
});
