// `wasmsocket/component` in browsers and other runtimes: fetches and
// compiles websocket.dll's face, a wasm module of its own (pages using only
// the WebSocket never fetch it); ./component.js is the API.

import init from "../wasm-component/wasmsocket.js";

// A literal `new URL(…, import.meta.url)`, so that bundlers emit the file.
await init({
  module_or_path: new URL(
    "../wasm-component/wasmsocket_bg.wasm",
    import.meta.url,
  ),
});

export * from "./component.js";
