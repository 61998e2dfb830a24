// `wasmsocket/component` in browsers and other runtimes: the package's
// browser entry loads the engine (the SIMD build or the scalar one), then
// the component's API (./component.js) is ready.

import "./browser.js";

export * from "./component.js";
