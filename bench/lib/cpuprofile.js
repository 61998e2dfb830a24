// Reading a V8 .cpuprofile (as `node --cpu-prof` writes it): the self time
// of each function, and the coarse kinds of work the profile section of the
// report adds them up into.

/** Self time per function, most first: [{ name, url, line, us }], and the
 * total sampled, in µs; `window` [from, to]: only the samples taken then
 * (µs of the clock of `process.hrtime`, which the profile's times use). */
export function selfTimes(profile, window = [-Infinity, Infinity]) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const perNode = new Map();
  const { samples, timeDeltas } = profile;
  let t = profile.startTime;
  for (let i = 0; i < samples.length; i++) {
    t += timeDeltas[i];
    if (t < window[0] || t > window[1]) continue;
    const dt = timeDeltas[i + 1] ?? 0;
    perNode.set(samples[i], (perNode.get(samples[i]) ?? 0) + dt);
  }
  const perFunction = new Map();
  let total = 0;
  for (const [id, us] of perNode) {
    total += us;
    const { functionName, url, lineNumber } = byId.get(id).callFrame;
    const name = functionName || "(anonymous)";
    const key = `${name} ${url}:${lineNumber}`;
    const f = perFunction.get(key);
    if (f) f.us += us;
    else perFunction.set(key, { name, url, line: lineNumber + 1, us });
  }
  const functions = [...perFunction.values()].sort((a, b) => b.us - a.us);
  return { functions, total };
}

/** A function's place, short: its name and file, from the package or the
 * module it lives in on. */
export function where({ name, url, line }) {
  if (!url) return name;
  const file = url.replace(/^.*\/(node_modules|pkg|bench)\//, "$1/");
  return `${name} ${file}:${line}`;
}

/** The kinds of work, in the order the report shows them. */
export const KINDS_OF_WORK = {
  io: "socket reads and writes (the kernel's copies)",
  library: "the library's JS (ws, or the package's pkg/lib)",
  wasm: "wasm (the engine, and the calls into it)",
  node: "Node's own JS (streams, Buffer, events)",
  gc: "garbage collection",
  app: "the app (the bench's echo code)",
  other: "the rest (V8, native helpers such as text coding)",
};

/** Native functions with no script of their own that move a socket's bytes. */
const SOCKET_IO = /^(writeBuffer|writev|write\w*String|read|readStart)$/;

/** Which of KINDS_OF_WORK a function's time counts to; "idle" for the time
 * the thread waited. */
export function kindOfWork({ name, url }) {
  if (name === "(idle)") return "idle";
  if (name === "(garbage collector)") return "gc";
  if (
    url.startsWith("wasm://") ||
    /^wasm-function|JSToWasm|WasmToJS/.test(name)
  )
    return "wasm";
  if (url === "") return SOCKET_IO.test(name) ? "io" : "other";
  if (url.includes("/node_modules/") || url.includes("/pkg/")) return "library";
  if (url.startsWith("node:")) return "node";
  return "app";
}
