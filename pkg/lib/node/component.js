// `wasmsocket/component` in Node: loads websocket.dll's face, a wasm module
// of its own, synchronously from the package's file; ../component.js is the
// API.

import { readFileSync } from "node:fs";

import { initSync } from "../../wasm-component/wasmsocket.js";

initSync({
  module: readFileSync(
    new URL("../../wasm-component/wasmsocket_bg.wasm", import.meta.url),
  ),
});

export * from "../component.js";
