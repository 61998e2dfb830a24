// Probes: ready-made checks of how a server treats bad and tricky input, in
// the spirit of Autobahn|Testsuite. Each opens a fresh connection, sends
// crafted frames (the frame language, pkg/lib/craft.js), and judges what came
// back on the wire:
//   pass   the peer did what RFC 6455 asks
//   fail   it did something else, or nothing in time
//   info   it failed the connection without a close frame (allowed, but
//          no code to judge)
//   error  the probe could not run (no connection)

import { hexToBytes } from "./steps.js";

/** Ms a peer has to react. */
const TIMEOUT = 3000;
const KAPPA_COSME = "cebae1bdb9cf83cebcceb5"; // "κόσμε"

export const PROBES = [
  {
    name: "utf8-invalid",
    title: "Invalid UTF-8 in a text frame",
    send: `text hex:${KAPPA_COSME}eda080656469746564`,
    expect: { close: 1007 },
  },
  {
    name: "utf8-invalid-fragments",
    title: "Invalid UTF-8 in the second fragment",
    send: `text nofin hex:${KAPPA_COSME}; cont hex:eda080656469746564`,
    expect: { close: 1007 },
  },
  {
    name: "utf8-split-char",
    title: "A character split across two fragments",
    send: "text nofin hex:ce; cont hex:ba",
    expect: { echo: ["κ"] },
  },
  {
    name: "unmasked",
    title: "An unmasked client frame",
    send: 'text nomask "hello"',
    expect: { close: 1002 },
  },
  {
    name: "rsv1",
    title: "RSV1 set, no extension agreed",
    send: 'text rsv1 "hello"',
    expect: { close: 1002 },
  },
  {
    name: "opcode-3",
    title: "Reserved data opcode 3",
    send: '3 "hello"',
    expect: { close: 1002 },
  },
  {
    name: "opcode-11",
    title: "Reserved control opcode 0xB",
    send: "0xb",
    expect: { close: 1002 },
  },
  {
    name: "ping-126",
    title: "A ping with a 126-byte payload",
    send: "ping size=126",
    expect: { close: 1002 },
  },
  {
    name: "ping-fragmented",
    title: "A ping without FIN",
    send: 'ping nofin "?"',
    expect: { close: 1002 },
  },
  {
    name: "cont-orphan",
    title: "A continuation with nothing to continue",
    send: 'cont "hello"',
    expect: { close: 1002 },
  },
  {
    name: "close-1005",
    title: "Close code 1005 on the wire",
    send: "close code=1005",
    expect: { close: 1002 },
  },
  {
    name: "close-1byte",
    title: "A close frame with a 1-byte payload",
    send: "close hex:03",
    expect: { close: 1002 },
  },
  {
    name: "ping-interleaved",
    title: "A ping between the fragments of a text",
    send: 'text nofin "hel"; ping "?"; cont "lo"',
    expect: { echo: ["hello"], pong: "?" },
  },
  {
    name: "split-writes",
    title: "A frame cut into 3 writes (1 byte, 1 byte, the rest)",
    send: 'text "in three writes" split=1,2',
    expect: { echo: ["in three writes"] },
  },
  {
    name: "close-1000",
    title: 'Close 1000 "bye"',
    send: (connection) => connection.close(1000, "bye"),
    expect: { close: 1000 },
  },
];

/** What a probe expects, in words. */
export function expectation({ expect }) {
  const parts = [];
  if (expect.close) parts.push(`close ${expect.close}`);
  if (expect.echo)
    parts.push(`echo ${expect.echo.map((m) => JSON.stringify(m)).join(", ")}`);
  if (expect.pong !== undefined)
    parts.push(`pong ${JSON.stringify(expect.pong)}`);
  return parts.join(" + ");
}

/**
 * Runs `probe` over a connection `open()` makes; resolves to
 * { name, verdict, expected, seen, ms, entries } (never rejects).
 */
export async function runProbe(probe, open, { timeout = TIMEOUT } = {}) {
  const started = performance.now();
  const connection = open();
  const result = (verdict, seen) => ({
    name: probe.name,
    verdict,
    expected: expectation(probe),
    seen,
    ms: Math.round(performance.now() - started),
    entries: connection.entries,
  });
  try {
    await connection.opened;
  } catch (e) {
    return result("error", `could not connect: ${e.message}`);
  }
  try {
    if (typeof probe.send === "function") await probe.send(connection);
    else await connection.raw(probe.send);
  } catch (e) {
    // The peer may close before the last write: judge what it did anyway.
    connection.note(`error: ${e.message}`);
  }
  const outcome = probe.expect.close
    ? await judgeClose(connection, probe.expect.close, timeout)
    : await judgeEcho(connection, probe.expect, timeout);
  await finish(connection);
  return result(...outcome);
}

const received = (kind) => (e) =>
  e.direction === "received" && e.kind === "frame" && kind(e);
const isClose = received((e) => e.opcode === 8);
const ended = (e) => e.kind === "engine" && e.text === "close";

/** The peer should close with `code`, echoing nothing first. */
async function judgeClose(connection, code, timeout) {
  const end = await connection.waitFor((e) => isClose(e) || ended(e), timeout);
  if (!end) return ["fail", `no close within ${timeout} ms`];
  const data = messages(connection.entries);
  const echoed = data.length ? `, after echoing ${show(data)}` : "";
  if (!isClose(end))
    return [
      "info",
      `the connection was dropped without a close frame${echoed}`,
    ];
  const seen = `close ${end.code ?? "(no code)"}${end.reason ? ` ${JSON.stringify(end.reason)}` : ""}${echoed}`;
  return [end.code === code && !echoed ? "pass" : "fail", seen];
}

/** The peer should echo `echo` (and pong `pong`) and stay open. */
async function judgeEcho(connection, { echo, pong }, timeout) {
  const want = echo.length;
  const pongs = received((f) => f.opcode === 10);
  await connection.waitFor(
    (e) =>
      isClose(e) ||
      ended(e) ||
      (messages(connection.entries).length >= want &&
        (pong === undefined || connection.entries.some(pongs))),
    timeout,
  );
  const got = messages(connection.entries);
  const pongSeen = connection.entries.find(pongs);
  const close = connection.entries.find(isClose);
  const seen = [];
  if (got.length) seen.push(`echo ${show(got)}`);
  if (pongSeen)
    seen.push(`pong ${JSON.stringify(pongSeen.text ?? pongSeen.hex)}`);
  if (close)
    seen.push(
      `close ${close.code ?? "(no code)"} ${JSON.stringify(close.reason ?? "")}`,
    );
  const ok =
    !close &&
    got.length === want &&
    got.every((m, i) => m === echo[i]) &&
    (pong === undefined || pongSeen?.text === pong);
  return [
    ok ? "pass" : "fail",
    seen.join(" + ") || `nothing within ${timeout} ms`,
  ];
}

/** The messages the peer sent, from its data frames (text as text). */
function messages(entries) {
  const done = [];
  let parts = null;
  for (const e of entries) {
    if (!received((f) => f.opcode <= 2)(e)) continue;
    if (e.opcode !== 0) parts = [];
    parts?.push(e.hex);
    if (e.fin && parts) {
      done.push(new TextDecoder().decode(hexToBytes(parts.join(""))));
      parts = null;
    }
  }
  return done;
}

const show = (list) => list.map((m) => JSON.stringify(m)).join(", ");

/** Closes what the probe left open, hearing the peer out a little. */
async function finish(connection) {
  if (connection.open) connection.close(1000).catch(() => {});
  const done = await Promise.race([
    connection.closed,
    new Promise((resolve) => setTimeout(resolve, 1000)),
  ]);
  if (!done) connection.abort();
}
