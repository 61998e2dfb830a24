// The EventTarget a WebSocket inherits (DOM Standard §2.7–2.10), written out
// so that a socket pays for its listeners and nothing more. Node's built-in
// EventTarget gives every instance two Maps and a record per listener (about
// 650 bytes for a socket with two handlers); a server holds sockets by the
// ten thousand, most of them idle. Here a socket starts with one empty field
// and its listeners live in one flat array, three slots each.
//
// `ws instanceof EventTarget` still holds (the prototype chain runs through
// the runtime's EventTarget.prototype), and the events the package fires are
// the runtime's Event classes with `target`, `currentTarget`, `eventPhase`
// and `composedPath()` answered from two fields of their own (`dispatchable`).

const CAPTURE = 1;
const ONCE = 2;
const AT_TARGET = 2;
const STOPPED = 4;

/** The target of the event, and its phase (0 or AT_TARGET) plus STOPPED. */
const kTarget = Symbol("wasmsocket.target");
const kState = Symbol("wasmsocket.state");

/** Reports an exception a listener threw, as a runtime's EventTarget does:
 * the dispatch goes on, the error reaches the global error handling. */
const report =
  typeof globalThis.reportError === "function"
    ? (error) => globalThis.reportError(error)
    : (error) =>
        queueMicrotask(() => {
          throw error;
        });

/**
 * An Event class the package's targets fire: `Base` with the dispatch state
 * (target, phase, stopped) kept in fields of its own, so dispatching needs no
 * runtime internals.
 */
export function dispatchable(Base) {
  const Dispatchable = class extends Base {
    [kTarget] = null;
    [kState] = 0;
    get target() {
      return this[kTarget];
    }
    get srcElement() {
      return this[kTarget];
    }
    get currentTarget() {
      return this[kState] & AT_TARGET ? this[kTarget] : null;
    }
    get eventPhase() {
      return this[kState] & AT_TARGET;
    }
    composedPath() {
      return this[kState] & AT_TARGET ? [this[kTarget]] : [];
    }
    stopImmediatePropagation() {
      this[kState] |= STOPPED;
      super.stopImmediatePropagation();
    }
  };
  Object.defineProperty(Dispatchable, "name", { value: Base.name });
  return Dispatchable;
}

/** `dispatchable`'s accessors and methods, which an event made elsewhere and
 * handed to `dispatchEvent` gets as properties of its own (a rare path: the
 * package makes its own events). */
const adopted = Object.getOwnPropertyDescriptors(dispatchable(Event).prototype);
delete adopted.constructor;

function adopt(event) {
  event[kTarget] = null;
  event[kState] = 0;
  Object.defineProperties(event, adopted);
}

function flagsOf(options) {
  if (typeof options === "boolean") return options ? CAPTURE : 0;
  if (options == null || typeof options !== "object") return 0;
  return (options.capture ? CAPTURE : 0) | (options.once ? ONCE : 0);
}

/** Whether `target` has a listener for `type`: the package makes no event
 * that nobody would hear. Set in the class's static block. */
export let listening;

export class Listeners {
  /** [type, callback, flags] × n, or null; a removed entry's callback is
   * null until no dispatch is running, then it is compacted away. */
  #list = null;
  /** Dispatches running on this target (a listener may dispatch again). */
  #depth = 0;

  addEventListener(type, callback, options = undefined) {
    if (arguments.length < 2) {
      throw new TypeError("addEventListener needs a type and a listener");
    }
    if (callback === null || callback === undefined) return;
    if (typeof callback !== "function" && typeof callback !== "object") {
      throw new TypeError("The listener must be a function or an object");
    }
    type = String(type);
    const flags = flagsOf(options);
    const signal = typeof options === "object" ? options?.signal : undefined;
    if (signal?.aborted) return;
    if (this.#find(type, callback, flags & CAPTURE) >= 0) return;
    const entry = [type, callback, flags];
    // Sized to fit (a push would leave room for five more listeners on
    // every socket); in place while a dispatch walks the list.
    if (this.#list === null) this.#list = entry;
    else if (this.#depth > 0) this.#list.push(...entry);
    else this.#list = this.#list.concat(entry);
    signal?.addEventListener(
      "abort",
      () => this.removeEventListener(type, callback, flags & CAPTURE),
      { once: true },
    );
  }

  removeEventListener(type, callback, options = undefined) {
    if (arguments.length < 2) {
      throw new TypeError("removeEventListener needs a type and a listener");
    }
    const i = this.#find(String(type), callback, flagsOf(options) & CAPTURE);
    if (i >= 0) this.#remove(i);
  }

  dispatchEvent(event) {
    if (!(event instanceof Event)) {
      throw new TypeError("dispatchEvent needs an Event");
    }
    if (!(kState in event)) adopt(event);
    if (event[kState] & AT_TARGET) {
      throw new DOMException(
        "The event is already being dispatched",
        "InvalidStateError",
      );
    }
    event[kTarget] = this;
    event[kState] = AT_TARGET;
    const list = this.#list;
    if (list !== null) {
      const type = event.type;
      // Listeners added during the dispatch are not called: the length is
      // taken now, and nothing is compacted while a dispatch runs.
      const end = list.length;
      this.#depth++;
      try {
        for (let i = 0; i < end; i += 3) {
          const callback = list[i + 1];
          if (list[i] !== type || callback === null) continue;
          if (list[i + 2] & ONCE) this.#remove(i);
          this.#call(callback, event);
          if (event[kState] & STOPPED) break;
        }
      } finally {
        if (--this.#depth === 0) this.#compact();
      }
    }
    event[kState] = 0;
    return !event.defaultPrevented;
  }

  static {
    listening = (target, type) => {
      const list = target.#list;
      if (list === null) return false;
      for (let i = 0; i < list.length; i += 3) {
        if (list[i] === type && list[i + 1] !== null) return true;
      }
      return false;
    };
  }

  #call(callback, event) {
    try {
      if (typeof callback === "function") {
        callback.call(this, event);
      } else {
        const handle = callback.handleEvent;
        if (typeof handle !== "function") {
          throw new TypeError("The listener has no handleEvent method");
        }
        handle.call(callback, event);
      }
    } catch (error) {
      report(error);
    }
  }

  #find(type, callback, capture) {
    const list = this.#list;
    if (list === null) return -1;
    for (let i = 0; i < list.length; i += 3) {
      if (
        list[i + 1] === callback &&
        list[i] === type &&
        (list[i + 2] & CAPTURE) === capture
      ) {
        return i;
      }
    }
    return -1;
  }

  #remove(i) {
    this.#list[i + 1] = null;
    if (this.#depth === 0) this.#compact();
  }

  #compact() {
    const list = this.#list;
    if (list === null) return;
    let j = 0;
    for (let i = 0; i < list.length; i += 3) {
      if (list[i + 1] === null) continue;
      list[j] = list[i];
      list[j + 1] = list[i + 1];
      list[j + 2] = list[i + 2];
      j += 3;
    }
    list.length = j;
    if (j === 0) this.#list = null;
  }
}

// `instanceof EventTarget`, and what EventTarget.prototype itself offers.
Object.setPrototypeOf(Listeners.prototype, EventTarget.prototype);
