// One client connection to a peer and its log: the wire tap's heads and
// frames, the engine's own events (open, messages, the error and the close
// it reports) and notes, in the order they happened, each with the time in
// ms since the connection began. The page's session is one; each probe
// opens one of its own.

import { control, parseFrames, WebSocket } from "../pkg/lib/browser.js";
import { peerTransport, peerURL } from "./peers.js";
import { Dissector, opcodeName, tap } from "./wire.js";

/** Ms between the writes of crafted frames, so that they arrive apart. */
const RAW_PAUSE = 20;
const encoder = new TextEncoder();
const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class Connection {
  /** @type {object[]} */
  entries = [];
  /** @type {WebSocket | null} */
  ws = null;
  /** Resolves once open; rejects with the reason it could not open. */
  opened;
  /** Resolves with { code, reason, wasClean } once closed. */
  closed;
  #t0 = performance.now();
  #listeners = new Set();
  #wire = {};
  #onPending;

  /**
   * Opens a connection to `peer` (see peers.js) offering `protocols`, with
   * permessage-deflate only if `deflate`; `onEntry` sees every entry, and
   * `onPending(direction, frame)` a frame begun and not yet whole (null
   * once there is none).
   */
  constructor(
    peer,
    { protocols = [], deflate = false, onEntry, onPending = () => {} } = {},
  ) {
    if (onEntry) this.#listeners.add(onEntry);
    this.#onPending = onPending;
    for (const direction of ["sent", "received"])
      this.#wire[direction] = new Dissector(direction, (e) => this.#add(e));
    let closed;
    this.closed = new Promise((resolve) => (closed = resolve));
    this.opened = this.#open(peer, protocols, deflate, closed);
    this.opened.catch(() => {});
  }

  async #open(peer, protocols, deflate, closed) {
    let transport;
    try {
      const url = peerURL(peer);
      transport = tap(await peerTransport(peer), {
        onChunk: (direction, bytes) => {
          const wire = this.#wire[direction];
          wire.push(bytes, this.now());
          this.#onPending(direction, wire.pending);
        },
        onEvent: (text) => this.note(text),
      });
      this.ws = new WebSocket(url, protocols, {
        transport,
        perMessageDeflate: deflate,
      });
    } catch (e) {
      const why = e?.message ?? String(e);
      this.#add({ t: this.now(), kind: "engine", text: `error: ${why}` });
      closed({ code: 1006, reason: "", wasClean: false });
      throw new Error(why);
    }
    const ws = this.ws;
    ws.binaryType = "arraybuffer";
    const engine = (text, fields) =>
      this.#add({ t: this.now(), kind: "engine", text, ...fields });
    let failure = null;
    ws.onopen = () =>
      engine("open", { protocol: ws.protocol, extensions: ws.extensions });
    ws.onmessage = ({ data }) =>
      engine(
        typeof data === "string"
          ? `message: text, ${encoder.encode(data).length} bytes`
          : `message: binary, ${data.byteLength} bytes`,
      );
    ws.onerror = (event) => {
      failure = event.message || "error";
      engine(`error: ${failure}`);
    };
    ws.onclose = ({ code, reason, wasClean }) => {
      // Whatever is half-read now never will be: show it as it is.
      for (const [direction, wire] of Object.entries(this.#wire)) {
        wire.finish(this.now());
        this.#onPending(direction, null);
      }
      engine("close", { code, reason, wasClean });
      closed({ code, reason, wasClean });
    };
    await new Promise((resolve, reject) => {
      ws.addEventListener("open", resolve);
      ws.addEventListener("close", () =>
        reject(new Error(failure ?? "closed before it opened")),
      );
    });
  }

  /** Ms since the connection began, to a tenth. */
  now() {
    return Math.round((performance.now() - this.#t0) * 10) / 10;
  }

  note(text, fields) {
    this.#add({ t: this.now(), kind: "note", text, ...fields });
  }

  listen(fn) {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  #add(entry) {
    this.entries.push(entry);
    for (const fn of this.#listeners) fn(entry);
  }

  /** The first entry, logged or to come within `ms`, that `test` accepts;
   * null if none does in time. */
  waitFor(test, ms) {
    const found = this.entries.find(test);
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        stop();
        resolve(null);
      }, ms);
      const stop = this.listen((entry) => {
        if (!test(entry)) return;
        clearTimeout(timer);
        stop();
        resolve(entry);
      });
    });
  }

  /** Resolves once nothing was logged for `ms` (or after `max` ms). */
  async quiet(ms = 60, max = 1500) {
    const until = performance.now() + max;
    let last = this.entries.length;
    do {
      await delay(ms);
      if (this.entries.length === last) return;
      last = this.entries.length;
    } while (performance.now() < until);
  }

  get open() {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  sendText(text) {
    this.ws.send(text);
  }

  sendBinary(bytes) {
    this.ws.send(bytes);
  }

  ping(payload = "") {
    control(this.ws).ping(payload);
  }

  pong(payload = "") {
    control(this.ws).pong(payload);
  }

  /**
   * Closes with `code` and `reason` (none: no code at all). A code the engine
   * refuses to send (1005, 999, …) goes out as a crafted close frame, since
   * the point here is to see what the peer does with it.
   */
  async close(code, reason = "") {
    if (code === undefined || code === null) return this.ws.close();
    try {
      control(this.ws).close(code, reason, { keepReading: true });
    } catch (e) {
      if (e.name !== "InvalidAccessError") throw e;
      this.note(`the engine may not send code ${code}: crafted instead`);
      await this.raw(`close code=${code} ${JSON.stringify(reason)}`);
    }
  }

  /** Sends frames written in the frame language (pkg/lib/craft.js), each
   * write apart from the next; throws a SyntaxError for a bad spec. */
  async raw(spec) {
    const frames = parseFrames(spec, { client: true });
    for (const { fields, writes } of frames) {
      this.note(`crafted: ${describe(fields, writes.length)}`, {
        crafted: true,
      });
      for (const bytes of writes) {
        control(this.ws).sendRaw(bytes);
        await delay(RAW_PAUSE);
      }
    }
  }

  abort() {
    if (this.ws) control(this.ws).abort();
  }
}

/** A crafted frame as intended, with what its header will not show. */
function describe(f, writes) {
  const parts = [opcodeName(f.opcode), f.fin ? "FIN" : "no FIN"];
  if (f.rsv) parts.push(`rsv=${f.rsv.toString(2).padStart(3, "0")}`);
  parts.push(f.mask ? "masked" : "unmasked");
  parts.push(`payload ${f.length}`);
  if (BigInt(f.declaredLength) !== BigInt(f.length))
    parts.push(`declared ${f.declaredLength}`);
  if (writes > 1) parts.push(`in ${writes} writes`);
  return parts.join(", ");
}
