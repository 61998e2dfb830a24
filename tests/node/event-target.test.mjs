// The EventTarget a WebSocket inherits (pkg/lib/event-target.js): the DOM
// Standard's rules for adding, removing and dispatching (§2.7–2.10), on
// sockets that never leave CONNECTING and on one that opens.

import assert from "node:assert/strict";
import { once } from "node:events";
import { describe, test } from "node:test";

import {
  CloseEvent,
  MessageEvent,
  WebSocket,
  WebSocketServer,
} from "wasmsocket";

/** A client socket whose transport never answers: nothing fires by itself. */
function inert(t) {
  const ws = new WebSocket("ws://inert.test/", [], {
    transport: {
      readable: new ReadableStream(),
      writable: new WritableStream(),
    },
  });
  t.after(() => ws.close());
  return ws;
}

describe("a WebSocket as an EventTarget", () => {
  test("is an EventTarget, with the interface's three methods", (t) => {
    const ws = inert(t);
    assert.ok(ws instanceof EventTarget);
    for (const name of [
      "addEventListener",
      "removeEventListener",
      "dispatchEvent",
    ]) {
      assert.equal(typeof ws[name], "function", name);
    }
    assert.throws(() => ws.addEventListener("x"), TypeError);
    assert.throws(() => ws.addEventListener("x", 42), TypeError);
    assert.throws(() => ws.dispatchEvent({ type: "x" }), TypeError);
    ws.addEventListener("x", null); // ignored, as the standard says
    assert.equal(ws.dispatchEvent(new Event("x")), true);
  });

  test("target, currentTarget and eventPhase, during and after", (t) => {
    const ws = inert(t);
    const seen = [];
    const record = function (event) {
      seen.push([
        this,
        event.target,
        event.currentTarget,
        event.eventPhase,
        event.composedPath(),
      ]);
    };
    ws.addEventListener("custom", record);
    const foreign = new Event("custom");
    ws.dispatchEvent(foreign);
    const ours = new MessageEvent("custom", { data: "d" });
    ws.dispatchEvent(ours);
    for (const [self, target, current, phase, path] of seen) {
      assert.equal(self, ws);
      assert.equal(target, ws);
      assert.equal(current, ws);
      assert.equal(phase, Event.AT_TARGET);
      assert.deepEqual(path, [ws]);
    }
    assert.equal(seen.length, 2);
    for (const event of [foreign, ours]) {
      assert.equal(event.target, ws);
      assert.equal(event.currentTarget, null);
      assert.equal(event.eventPhase, Event.NONE);
      assert.deepEqual(event.composedPath(), []);
    }
    assert.equal(ours.data, "d");
    assert.ok(ours instanceof Event);
    const close = new CloseEvent("close", { code: 4000, wasClean: true });
    assert.equal(close.code, 4000);
    assert.equal(close.target, null);
  });

  test("a listener is added once per type, callback and capture", (t) => {
    const ws = inert(t);
    const calls = [];
    const listener = (e) => calls.push(e.type);
    ws.addEventListener("a", listener);
    ws.addEventListener("a", listener);
    ws.addEventListener("a", listener, { once: true }); // same: ignored
    ws.addEventListener("a", listener, true); // capture: another one
    ws.dispatchEvent(new Event("a"));
    assert.deepEqual(calls, ["a", "a"]);
    ws.removeEventListener("a", listener, { capture: true });
    ws.dispatchEvent(new Event("a"));
    assert.deepEqual(calls, ["a", "a", "a"]);
    ws.removeEventListener("a", listener);
    ws.dispatchEvent(new Event("a"));
    assert.equal(calls.length, 3);
  });

  test("once, signal and handleEvent", (t) => {
    const ws = inert(t);
    const calls = [];
    ws.addEventListener("a", () => calls.push("once"), { once: true });
    const controller = new AbortController();
    ws.addEventListener("a", () => calls.push("signal"), {
      signal: controller.signal,
    });
    ws.addEventListener("a", () => calls.push("never"), {
      signal: AbortSignal.abort(),
    });
    const handler = {
      count: 0,
      handleEvent(event) {
        this.count++;
        calls.push(`object ${event.type}`);
      },
    };
    ws.addEventListener("a", handler);
    ws.dispatchEvent(new Event("a"));
    controller.abort();
    ws.dispatchEvent(new Event("a"));
    assert.deepEqual(calls, ["once", "signal", "object a", "object a"]);
    assert.equal(handler.count, 2);
  });

  test("removed during a dispatch: not called; added: not called until the next", (t) => {
    const ws = inert(t);
    const calls = [];
    const second = () => calls.push("second");
    const late = () => calls.push("late");
    ws.addEventListener("a", () => {
      calls.push("first");
      ws.removeEventListener("a", second);
      ws.addEventListener("a", late);
    });
    ws.addEventListener("a", second);
    ws.dispatchEvent(new Event("a"));
    assert.deepEqual(calls, ["first"]);
    calls.length = 0;
    ws.dispatchEvent(new Event("a"));
    assert.deepEqual(calls, ["first", "late"]);
  });

  test("stopImmediatePropagation, nested dispatch, and dispatching twice", (t) => {
    const ws = inert(t);
    const calls = [];
    ws.addEventListener("outer", (event) => {
      calls.push("outer 1");
      assert.throws(
        () => ws.dispatchEvent(event),
        (e) => e instanceof DOMException && e.name === "InvalidStateError",
      );
      ws.dispatchEvent(new Event("inner"));
      event.stopImmediatePropagation();
    });
    ws.addEventListener("outer", () => calls.push("outer 2"));
    ws.addEventListener("inner", (event) => {
      calls.push(`inner ${event.target === ws}`);
    });
    ws.dispatchEvent(new Event("outer"));
    assert.deepEqual(calls, ["outer 1", "inner true"]);
    const cancelable = new Event("c", { cancelable: true });
    ws.addEventListener("c", (event) => event.preventDefault());
    assert.equal(ws.dispatchEvent(cancelable), false);
  });
});

describe("a WebSocket's own events", () => {
  test("carry the socket as target; node:events' once works", async (t) => {
    const server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    t.after(() => server.close());
    server.on("connection", (peer) => {
      peer.onmessage = (event) => peer.send(event.data);
    });
    await once(server, "listening");
    const ws = new WebSocket(`ws://127.0.0.1:${server.address().port}/`);
    const [open] = await once(ws, "open");
    assert.equal(open.target, ws);
    assert.equal(open.eventPhase, Event.NONE);
    const phases = [];
    ws.onmessage = (event) => phases.push(event.currentTarget === ws);
    ws.send("echo");
    const [message] = await once(ws, "message");
    assert.equal(message.data, "echo");
    assert.equal(message.target, ws);
    assert.deepEqual(phases, [true]);
    ws.close(1000);
    const [close] = await once(ws, "close");
    assert.equal(close.target, ws);
    assert.equal(close.wasClean, true);
  });
});
