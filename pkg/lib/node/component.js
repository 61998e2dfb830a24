// `wasmsocket/component` in Node: the package's Node entry loads the engine,
// then the component's API (../component.js) is ready.

import "./index.js";

export * from "../component.js";
