// The DOM event classes a WebSocket fires. Runtimes that have CloseEvent (browsers,
// newer Node) lend theirs; elsewhere these stand in with the same shape. Each is
// made `dispatchable` (see event-target.js): the package's EventTarget sets
// their target and phase.

import { dispatchable } from "./event-target.js";

/** `open` and `drain`. */
export const PlainEvent = dispatchable(Event);

/** `close` events: how the connection ended. */
export const CloseEvent = dispatchable(
  globalThis.CloseEvent ??
    class CloseEvent extends Event {
      #wasClean;
      #code;
      #reason;
      constructor(type, init = {}) {
        super(type, init);
        this.#wasClean = Boolean(init.wasClean);
        this.#code = Number(init.code ?? 0) & 0xffff;
        this.#reason = String(init.reason ?? "");
      }
      get wasClean() {
        return this.#wasClean;
      }
      get code() {
        return this.#code;
      }
      get reason() {
        return this.#reason;
      }
    },
);

/** `message` events where the runtime's own is missing or slow. */
class LightMessageEvent extends Event {
  #data;
  #origin;
  constructor(type, init = {}) {
    super(type, init);
    this.#data = init.data ?? null;
    this.#origin = init.origin === undefined ? "" : String(init.origin);
  }
  get data() {
    return this.#data;
  }
  get origin() {
    return this.#origin;
  }
  get lastEventId() {
    return "";
  }
  get source() {
    return null;
  }
  get ports() {
    return [];
  }
}

/**
 * `message` events (and the non-standard `ping` and `pong`). Browsers lend
 * their native class; Node's built-in one is written in JS and costs about
 * twice as much to make, and a socket makes one per message, so Node (and
 * runtimes without one) get the light class.
 */
const isNode =
  typeof process === "object" && typeof process.versions?.node === "string";
export const MessageEvent = dispatchable(
  !isNode && globalThis.MessageEvent
    ? globalThis.MessageEvent
    : LightMessageEvent,
);

/**
 * `error` events. Browsers fire a plain Event; this one also says what went
 * wrong (`message`) and, when the transport failed, carries its `error`.
 */
export const ErrorEvent = dispatchable(
  class ErrorEvent extends Event {
    #message;
    #error;
    constructor(type, init = {}) {
      super(type, init);
      this.#message = String(init.message ?? "");
      this.#error = init.error;
    }
    get message() {
      return this.#message;
    }
    get error() {
      return this.#error;
    }
  },
);
