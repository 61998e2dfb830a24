// The part of testharness.js's API that the WebSocketStream web-platform-tests
// use, written here so they run in Node: `test`, `promise_test`, the test
// object (`step_timeout`, `unreached_func`, `add_cleanup`), the assertions
// and `promise_rejects_*`. It checks what testharness.js checks (same
// values, exception names, legacy codes, constructors of this realm), so a
// subtest that passes here would pass there.

export class AssertionError extends Error {
  name = "AssertionError";
}

/** testharness.js's `same_value`: === but NaN equals NaN and 0 is not -0. */
function sameValue(x, y) {
  if (y !== y) return x !== x;
  if (x === 0 && y === 0) return 1 / x === 1 / y;
  return x === y;
}

function fail(assertion, description, message) {
  const prefix = description ? `${description}: ` : "";
  throw new AssertionError(`${assertion}: ${prefix}${message}`);
}

const show = (v) => {
  if (typeof v === "string") return JSON.stringify(v);
  try {
    return String(v);
  } catch {
    return Object.prototype.toString.call(v);
  }
};

/** The legacy DOMException codes of the names these tests expect. */
const legacyCodes = {
  IndexSizeError: 1,
  InvalidStateError: 11,
  SyntaxError: 12,
  InvalidAccessError: 15,
  NetworkError: 19,
  AbortError: 20,
  DataCloneError: 25,
};

function throwsDom(assertion, type, func, description) {
  try {
    func();
  } catch (e) {
    if (e instanceof AssertionError) throw e;
    if (typeof e !== "object" || e === null)
      fail(assertion, description, `threw ${show(e)}, not an object`);
    if (e.name !== type)
      fail(assertion, description, `threw ${e.name}, expected ${type}`);
    const code = legacyCodes[type] ?? 0;
    if (e.code !== code)
      fail(assertion, description, `code ${e.code}, expected ${code}`);
    if (e.constructor !== DOMException)
      fail(assertion, description, "threw an exception of another realm");
    return;
  }
  fail(assertion, description, `${func} did not throw`);
}

function throwsJs(assertion, constructor, func, description) {
  try {
    func();
  } catch (e) {
    if (e instanceof AssertionError) throw e;
    if (typeof e !== "object" || e === null)
      fail(assertion, description, `threw ${show(e)}, not an object`);
    // Like testharness.js: walk the prototype chain, not @@hasInstance.
    let obj = e;
    while (obj && obj.constructor !== constructor)
      obj = Object.getPrototypeOf(obj);
    if (!obj)
      fail(
        assertion,
        description,
        `threw ${e.name} (${e.message}), expected a ${constructor.name}`,
      );
    if (e.constructor !== constructor || e.name !== constructor.name)
      fail(assertion, description, "threw an exception of another realm");
    return;
  }
  fail(assertion, description, `${func} did not throw`);
}

/** The assertions, with testharness.js's names. */
export const assertions = {
  assert_equals(actual, expected, description) {
    if (typeof actual !== typeof expected)
      fail(
        "assert_equals",
        description,
        `expected (${typeof expected}) ${show(expected)} but got (${typeof actual}) ${show(actual)}`,
      );
    if (!sameValue(actual, expected))
      fail(
        "assert_equals",
        description,
        `expected ${show(expected)} but got ${show(actual)}`,
      );
  },
  assert_true(actual, description) {
    if (actual !== true)
      fail("assert_true", description, `expected true got ${show(actual)}`);
  },
  assert_false(actual, description) {
    if (actual !== false)
      fail("assert_false", description, `expected false got ${show(actual)}`);
  },
  assert_greater_than_equal(actual, expected, description) {
    if (typeof actual !== "number" || typeof expected !== "number")
      fail("assert_greater_than_equal", description, "expected numbers");
    if (!(actual >= expected))
      fail(
        "assert_greater_than_equal",
        description,
        `expected a number greater than or equal to ${expected} but got ${actual}`,
      );
  },
  assert_unreached(description) {
    fail("assert_unreached", description, "reached unreachable code");
  },
  assert_throws_dom(type, func, description) {
    throwsDom("assert_throws_dom", type, func, description);
  },
  assert_throws_js(constructor, func, description) {
    throwsJs("assert_throws_js", constructor, func, description);
  },
  promise_rejects_dom(t, type, promise, description) {
    return promise.then(
      () => fail("promise_rejects_dom", description, "should have rejected"),
      (e) =>
        throwsDom(
          "promise_rejects_dom",
          type,
          () => {
            throw e;
          },
          description,
        ),
    );
  },
  promise_rejects_js(t, constructor, promise, description) {
    return promise.then(
      () => fail("promise_rejects_js", description, "should have rejected"),
      (e) =>
        throwsJs(
          "promise_rejects_js",
          constructor,
          () => {
            throw e;
          },
          description,
        ),
    );
  },
  promise_rejects_exactly(t, value, promise, description) {
    return promise.then(
      () =>
        fail("promise_rejects_exactly", description, "should have rejected"),
      (e) => {
        if (!sameValue(e, value))
          fail(
            "promise_rejects_exactly",
            description,
            `rejected with ${show(e)}, not the expected value`,
          );
      },
    );
  },
};

/** The object a test function gets as `t` (and as `this`). */
class TestObject {
  #timers = new Set();
  #cleanups = [];
  constructor(name) {
    this.name = name;
  }
  step_timeout(fn, ms, ...args) {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn.apply(this, args);
    }, ms);
    this.#timers.add(timer);
    return timer;
  }
  unreached_func(description) {
    return () =>
      fail("assert_unreached", description, "reached unreached_func");
  }
  step_func(fn) {
    return (...args) => fn.apply(this, args);
  }
  add_cleanup(fn) {
    this.#cleanups.push(fn);
  }
  async _done() {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    for (const fn of this.#cleanups.splice(0)) await fn();
  }
}

/**
 * Collects the subtests a WPT file declares. `tests` lists them in
 * declaration order; `run(entry, timeout)` runs one, resolving on a pass
 * and rejecting with its failure.
 */
export function collector() {
  const tests = [];
  const declare = (kind) => (fn, name) => {
    if (typeof name !== "string") name = fn.name || `unnamed ${kind} test`;
    tests.push({ kind, fn, name });
  };
  return {
    tests,
    api: {
      test: declare("test"),
      promise_test: declare("promise_test"),
      ...assertions,
    },
    async run(entry, timeout) {
      const t = new TestObject(entry.name);
      let timer;
      try {
        if (entry.kind === "test") {
          entry.fn.call(t, t);
          return;
        }
        const result = entry.fn.call(t, t);
        if (typeof result?.then !== "function")
          throw new AssertionError(
            "promise_test: body did not return a promise",
          );
        await Promise.race([
          result,
          new Promise((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`timed out after ${timeout} ms`)),
              timeout,
            );
          }),
        ]);
      } finally {
        clearTimeout(timer);
        await t._done();
      }
    },
  };
}
