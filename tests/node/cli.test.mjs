// The `wasmsocket` command-line tool (pkg/bin/wasmsocket.js), run as child
// processes the way a user runs it: `serve` and `connect` talking to each
// other, `connect` against a `ws` server started in-process (to see the
// request headers it sends, or to refuse its handshake), tracing, closing,
// subprotocols, usage errors and help, and `serve` shutting down on SIGINT;
// `connect` as a tool for testing servers: hearing the server out after its
// close, giving up after --wait, and crafted frames (--send-raw, /raw).
//
// Child output is read line by line as it arrives; every wait has a timeout
// and every child is killed when its test ends, whatever the outcome.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import net from "node:net";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import { WebSocketServer } from "ws";
import { frame, within } from "./helpers.mjs";

const BIN = fileURLToPath(
  new URL("../../pkg/bin/wasmsocket.js", import.meta.url),
);
const TEST_TIMEOUT = 20_000;
const WAIT = 8_000;

/**
 * One run of the CLI. Collects stdout as lines and stderr as text; `line`
 * waits for a stdout line matching a regex; `exit` for the process to end.
 * The process is killed (SIGKILL) when the test `t` ends if it still runs.
 */
class Cli {
  lines = [];
  stderr = "";
  #partial = "";
  #waiters = new Set();

  constructor(t, args) {
    this.args = args;
    this.child = spawn(process.execPath, [BIN, ...args], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.child.stdout.setEncoding("utf8");
    this.child.stderr.setEncoding("utf8");
    this.child.stdout.on("data", (chunk) => this.#onStdout(chunk));
    this.child.stderr.on("data", (chunk) => (this.stderr += chunk));
    // A child that exits before reading its stdin must not crash the test.
    this.child.stdin.on("error", () => {});
    this.exited = new Promise((resolve) => {
      this.child.on("close", (code, signal) => {
        if (this.#partial) this.#push(this.#partial);
        this.#partial = "";
        resolve({ code, signal });
        for (const waiter of this.#waiters) waiter.eof();
      });
    });
    t.after(() => {
      if (this.child.exitCode === null && this.child.signalCode === null)
        this.child.kill("SIGKILL");
    });
  }

  #onStdout(chunk) {
    const parts = (this.#partial + chunk).split("\n");
    this.#partial = parts.pop();
    for (const line of parts) this.#push(line);
  }

  #push(line) {
    this.lines.push(line);
    for (const waiter of this.#waiters) waiter.check(line);
  }

  get stdout() {
    return this.lines.join("\n");
  }

  /** What the process printed so far, for assertion messages. */
  describe() {
    return `wasmsocket ${this.args.join(" ")}\n--- stdout:\n${this.stdout}${this.#partial}\n--- stderr:\n${this.stderr}`;
  }

  /** The first stdout line (already printed or still to come) matching `re`. */
  line(re, timeout = WAIT) {
    const seen = this.lines.find((l) => re.test(l));
    if (seen !== undefined) return Promise.resolve(seen);
    let waiter;
    const found = new Promise((resolve, reject) => {
      waiter = {
        check: (l) => re.test(l) && resolve(l),
        eof: () =>
          reject(
            new Error(
              `process ended without a line matching ${re}\n${this.describe()}`,
            ),
          ),
      };
      this.#waiters.add(waiter);
      if (this.child.exitCode !== null || this.child.signalCode !== null)
        waiter.eof();
    });
    return within(
      found,
      timeout,
      `a line matching ${re}\n${this.describe()}`,
    ).finally(() => this.#waiters.delete(waiter));
  }

  /** Index of the first stdout line matching `re`, or -1. */
  indexOf(re) {
    return this.lines.findIndex((l) => re.test(l));
  }

  /** Resolves with { code, signal } once the process has ended. */
  exit(timeout = WAIT) {
    return within(this.exited, timeout, `exit of\n${this.describe()}`);
  }

  send(line) {
    this.child.stdin.write(`${line}\n`);
  }

  endInput() {
    this.child.stdin.end();
  }

  /** Sends `name` by process.kill: under Deno, child.kill() makes the exit
   * report that signal even when the process handled it and exited 0. */
  signal(name) {
    process.kill(this.child.pid, name);
  }
}

/** Runs the CLI with an empty stdin until it exits. */
async function run(t, args, timeout = WAIT) {
  const cli = new Cli(t, args);
  cli.endInput();
  const { code, signal } = await cli.exit(timeout);
  return { code, signal, stdout: cli.stdout, stderr: cli.stderr, cli };
}

/** `wasmsocket serve --port 0 …`, once it has printed its address. */
async function serve(t, ...args) {
  const server = new Cli(t, ["serve", "--port", "0", ...args]);
  const first = await server.line(/^listening on /);
  assert.equal(
    server.lines[0],
    first,
    'the first line is "listening on …"\n' + server.describe(),
  );
  const match = first.match(/^listening on (ws:\/\/127\.0\.0\.1:(\d+))$/);
  assert.ok(match, `unexpected address line ${JSON.stringify(first)}`);
  assert.notEqual(Number(match[2]), 0, "--port 0 reports the bound port");
  return { server, url: match[1] };
}

/** `wasmsocket connect URL …`, once it has printed "connected to". */
async function connect(t, url, ...args) {
  const client = new Cli(t, ["connect", url, ...args]);
  const connected = await client.line(/^connected to /);
  return { client, connected };
}

/** A `ws` server on 127.0.0.1 and a free port; closed when the test ends. */
async function wsServer(t, options = {}) {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, ...options });
  await within(
    new Promise((resolve, reject) => {
      wss.once("listening", resolve);
      wss.once("error", reject);
    }),
    WAIT,
    "ws server listening",
  );
  t.after(
    () =>
      new Promise((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  );
  return { wss, url: `ws://127.0.0.1:${wss.address().port}/` };
}

/** A `ws` server that echoes every message; protocol errors from the
 * client, which some tests cause on purpose, are ignored. */
async function echoServer(t) {
  const server = await wsServer(t);
  server.wss.on("connection", (ws) => {
    ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on("error", () => {});
  });
  return server;
}

/**
 * A TCP server on 127.0.0.1 that completes the opening handshake by hand,
 * then calls `onData(socket, bytes)` with all the bytes received after the
 * request head so far, each time more come; closed when the test ends.
 */
async function handshakeServer(t, onData) {
  const sockets = new Set();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    let bytes = Buffer.alloc(0);
    let open = false;
    socket.on("data", (chunk) => {
      bytes = Buffer.concat([bytes, chunk]);
      if (!open) {
        const end = bytes.indexOf("\r\n\r\n");
        if (end < 0) return;
        const key = /^sec-websocket-key: *(\S+)/im.exec(bytes.subarray(0, end));
        const accept = createHash("sha1")
          .update(`${key[1]}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
          .digest("base64");
        socket.write(
          `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
        );
        open = true;
        bytes = bytes.subarray(end + 4);
      }
      onData(socket, bytes);
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => server.close(resolve));
  });
  return `ws://127.0.0.1:${server.address().port}/`;
}

/** The close code of a masked client close frame at the start of `bytes`. */
function clientCloseCode(bytes) {
  assert.equal(bytes[0], 0x88, "a close frame with FIN");
  assert.equal(bytes[1], 0x82, "masked, with a 2-byte payload");
  return ((bytes[6] ^ bytes[2]) << 8) | (bytes[7] ^ bytes[3]);
}

/** `connect URL --trace --send-raw SPEC…` run to its end. */
async function sendRaw(t, url, ...specs) {
  const args = ["connect", url, "--trace"];
  for (const spec of specs) args.push("--send-raw", spec);
  const cli = new Cli(t, args);
  const { code } = await cli.exit();
  return { cli, code };
}

/** Asserts that lines matching `res` were printed, in this order. */
function inOrder(cli, ...res) {
  let last = -1;
  for (const re of res) {
    const at = cli.lines.findIndex((l, i) => i > last && re.test(l));
    assert.ok(at > last, `a line ${re} after line ${last}\n${cli.describe()}`);
    last = at;
  }
}

/** A TCP port on 127.0.0.1 with nothing listening on it (just released). */
async function unusedPort() {
  const probe = net.createServer();
  await new Promise((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

const exitedCleanly = async (cli, what) => {
  const { code, signal } = await cli.exit();
  assert.equal(signal, null, `${what} was not killed\n${cli.describe()}`);
  assert.equal(code, 0, `${what} exits 0\n${cli.describe()}`);
};

// ---------------------------------------------------------------------------
// serve + connect

test(
  "serve --port 0 and connect exchange lines (echo), EOF closes with 1000",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const { server, url } = await serve(t);
    const { client, connected } = await connect(t, url);
    assert.equal(connected, `connected to ${url}/`);

    client.send("hello");
    await client.line(/^< hello$/);
    client.send("second");
    await client.line(/^< second$/);
    client.endInput();

    await client.line(/^closed: 1000$/);
    await exitedCleanly(client, "connect");
    assert.equal(client.stderr, "", "connect writes nothing to stderr");
    assert.ok(
      client.indexOf(/^< hello$/) < client.indexOf(/^< second$/),
      "messages print in order",
    );
    assert.ok(
      !client.lines.some((l) => /unclean/.test(l)),
      "the close is clean\n" + client.describe(),
    );

    await server.line(/^#1 open \/ from 127\.0\.0\.1:\d+$/);
    await server.line(/^#1 < hello$/);
    await server.line(/^#1 < second$/);
    await server.line(/^#1 closed: 1000$/);
    assert.ok(
      server.indexOf(/^#1 open /) < server.indexOf(/^#1 < hello$/) &&
        server.indexOf(/^#1 < hello$/) < server.indexOf(/^#1 < second$/) &&
        server.indexOf(/^#1 < second$/) < server.indexOf(/^#1 closed: 1000$/),
      "the server logs open, messages, close in order\n" + server.describe(),
    );
    assert.equal(server.child.exitCode, null, "serve keeps running");
  },
);

test(
  "serve --broadcast: a line from one client reaches every client",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const { server, url } = await serve(t, "--broadcast");
    const { client: a } = await connect(t, url);
    const { client: b } = await connect(t, url);
    await server.line(/^#2 open /);

    a.send("from-a");
    await a.line(/^< from-a$/);
    await b.line(/^< from-a$/);
    b.send("from-b");
    await b.line(/^< from-b$/);
    await a.line(/^< from-b$/);
    await server.line(/^#1 < from-a$/);
    await server.line(/^#2 < from-b$/);

    a.endInput();
    b.endInput();
    await exitedCleanly(a, "client a");
    await exitedCleanly(b, "client b");
    for (const cli of [a, b]) {
      assert.equal(
        cli.lines.filter((l) => l.startsWith("< ")).length,
        2,
        "each client got exactly the two broadcasts\n" + cli.describe(),
      );
    }
    await server.line(/^#1 closed: 1000$/);
    await server.line(/^#2 closed: 1000$/);
  },
);

test(
  "--trace on both: handshake heads and every frame, masked client to server",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const { server, url } = await serve(t, "--trace");
    const { client } = await connect(t, url, "--trace");

    client.send("hello");
    await client.line(/^< hello$/);
    client.send("/ping abc");
    // The payload as text or hex: the CLI has printed both forms.
    await client.line(/^< pong\s+(?:"abc"|(?:0x)?616263)$/);
    client.endInput();
    await client.line(/^closed: 1000$/);
    await exitedCleanly(client, "connect --trace");
    await server.line(/^#1 closed: 1000$/);

    // connect: the request it sent, the answer it got, then its frames.
    const c = (re) => client.indexOf(re);
    const host = url.slice("ws://".length);
    const request = c(/^→ GET \/ HTTP\/1\.1$/);
    const response = c(/^← HTTP\/1\.1 101 /);
    const opened = c(/^connected to /);
    assert.notEqual(request, -1, "request head traced\n" + client.describe());
    assert.notEqual(response, -1, "response head\n" + client.describe());
    assert.ok(request < response && response < opened, client.describe());
    const requestHead = client.lines.slice(request + 1, response);
    for (const header of [
      `Host: ${host}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      "Sec-WebSocket-Version: 13",
    ]) {
      assert.ok(
        requestHead.includes(`  ${header}`),
        `request head has ${header}\n${client.describe()}`,
      );
    }
    assert.ok(
      requestHead.some((l) => /^ {2}Sec-WebSocket-Key: \S+==$/.test(l)),
      "request head has the key",
    );
    assert.ok(
      client.lines
        .slice(response + 1, opened)
        .some((l) => /^ {2}Sec-WebSocket-Accept: \S+=$/.test(l)),
      "response head has the accept value\n" + client.describe(),
    );

    const clientFrames = [
      /^→ text {3}FIN rsv=000 masked len=5 "hello"$/,
      /^← text {3}FIN rsv=000 unmasked len=5 "hello"$/,
      /^→ ping {3}FIN rsv=000 masked len=3 "abc"$/,
      /^← pong {3}FIN rsv=000 unmasked len=3 "abc"$/,
      /^→ close {2}FIN rsv=000 masked len=2 code=1000$/,
      /^← close {2}FIN rsv=000 unmasked len=2 code=1000$/,
    ];
    let last = opened;
    for (const re of clientFrames) {
      const at = c(re);
      assert.ok(at > last, `frame line ${re} in order\n${client.describe()}`);
      last = at;
    }

    // serve: the same conversation seen from the other end (indented).
    const s = (re) => server.indexOf(re);
    const sRequest = s(/^ {2}← GET \/ HTTP\/1\.1$/);
    const sResponse = s(/^ {2}→ HTTP\/1\.1 101 /);
    const sOpen = s(/^#1 open /);
    assert.notEqual(sRequest, -1, "request head traced\n" + server.describe());
    assert.ok(sRequest < sResponse && sResponse < sOpen, server.describe());
    const serverFrames = [
      /^ {2}← text {3}FIN rsv=000 masked len=5 "hello"$/,
      /^ {2}→ text {3}FIN rsv=000 unmasked len=5 "hello"$/,
      /^ {2}← ping {3}FIN rsv=000 masked len=3 "abc"$/,
      /^ {2}→ pong {3}FIN rsv=000 unmasked len=3 "abc"$/,
      /^ {2}← close {2}FIN rsv=000 masked len=2 code=1000$/,
      /^ {2}→ close {2}FIN rsv=000 unmasked len=2 code=1000$/,
    ];
    last = sOpen;
    for (const re of serverFrames) {
      const at = s(re);
      assert.ok(at > last, `frame line ${re} in order\n${server.describe()}`);
      last = at;
    }
    // Both sides traced the same opening request.
    const key = (cli) =>
      cli.lines.find((l) => /Sec-WebSocket-Key:/.test(l))?.split(": ")[1];
    assert.equal(key(client), key(server), "both sides traced the same head");
  },
);

test(
  "without --trace no trace lines are printed",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const { server, url } = await serve(t);
    const { client } = await connect(t, url);
    client.send("/ping x");
    await client.line(/^< pong/);
    client.endInput();
    await exitedCleanly(client, "connect");
    await server.line(/^#1 closed: 1000$/);
    for (const cli of [client, server]) {
      assert.ok(
        !cli.lines.some((l) => /^\s*[→←]/.test(l)),
        "no arrows\n" + cli.describe(),
      );
    }
  },
);

test(
  "/close 4001 bye: the server sees code and reason, connect exits 0",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const { server, url } = await serve(t);
    const { client } = await connect(t, url);
    client.send("/close 4001 bye");
    await server.line(/^#1 closed: 4001 bye$/);
    await client.line(/^closed: 4001\b/);
    await exitedCleanly(client, "connect");
    assert.ok(
      !client.lines.some((l) => /unclean/.test(l)),
      "clean close\n" + client.describe(),
    );
  },
);

test(
  "--protocol: a subprotocol both sides know is chosen",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const { server, url } = await serve(t, "--protocol", "chat");
    const { client, connected } = await connect(t, url, "--protocol", "chat");
    assert.equal(connected, `connected to ${url}/ (subprotocol chat)`);
    client.send("hi");
    await client.line(/^< hi$/);
    client.endInput();
    await exitedCleanly(client, "connect --protocol chat");
    await server.line(/^#1 closed: 1000$/);
  },
);

test(
  "--protocol: the handshake fails when the server chooses none offered",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const { url } = await serve(t, "--protocol", "chat");
    const { code, stdout, stderr, cli } = await run(t, [
      "connect",
      url,
      "--protocol",
      "other",
    ]);
    assert.notEqual(code, 0, cli.describe());
    assert.doesNotMatch(stdout, /connected to/);
    assert.match(stderr, /^wasmsocket: could not connect to ws:\/\//);
    assert.match(stderr, /subprotocol/);
  },
);

test(
  "--header and --origin reach the server",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const { wss, url } = await echoServer(t);
    const requests = [];
    wss.on("connection", (ws, req) => requests.push(req));
    const { client } = await connect(
      t,
      url,
      "--header",
      "X-Test: 1",
      "-H",
      "X-Other:  two words ",
      "--origin",
      "http://example.test",
    );
    client.send("through ws");
    await client.line(/^< through ws$/);
    client.endInput();
    await client.line(/^closed: 1000$/);
    await exitedCleanly(client, "connect");

    assert.equal(requests.length, 1);
    const { headers } = requests[0];
    assert.equal(headers["x-test"], "1");
    assert.equal(headers["x-other"], "two words");
    assert.equal(headers.origin, "http://example.test");
    assert.equal(headers.upgrade.toLowerCase(), "websocket");
  },
);

test(
  "--origin is absent unless given",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const { wss, url } = await wsServer(t);
    const seen = new Promise((resolve) =>
      wss.on("connection", (ws, req) => resolve(req.headers)),
    );
    const { code } = await run(t, ["connect", url]);
    assert.equal(code, 0);
    const headers = await within(seen, WAIT, "connection");
    assert.equal(headers.origin, undefined);
    assert.equal(headers["x-test"], undefined);
  },
);

// ---------------------------------------------------------------------------
// connect as a tool for testing servers

test(
  "input piped and ended at once: the echo prints before closed: 1000",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const { url } = await echoServer(t);
    const cli = new Cli(t, ["connect", url]);
    cli.send("hello");
    cli.endInput();
    await exitedCleanly(cli, "connect");
    inOrder(cli, /^connected to /, /^< hello$/, /^closed: 1000$/);
    assert.equal(cli.stderr, "");
  },
);

test(
  "after its close, connect prints what the server still sends until the server's close",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    let answered = false;
    const url = await handshakeServer(t, (socket, bytes) => {
      if (answered || bytes.length < 8) return;
      answered = true;
      assert.equal(clientCloseCode(bytes), 1000);
      setTimeout(() => {
        socket.write(frame(1, "late"));
        socket.end(frame(8, Buffer.from([0x03, 0xe8])));
      }, 200);
    });
    const cli = new Cli(t, ["connect", url]);
    cli.endInput();
    await exitedCleanly(cli, "connect");
    inOrder(cli, /^connected to /, /^< late$/, /^closed: 1000$/);
  },
);

test(
  "--wait: a server that never answers the close is dropped after the wait, exit 1",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    let closeSent;
    const closeFrame = new Promise((resolve) => (closeSent = resolve));
    const url = await handshakeServer(t, (socket, bytes) => {
      if (bytes.length >= 8) closeSent(bytes);
    });
    const cli = new Cli(t, ["connect", url, "--wait", "300"]);
    cli.endInput();
    const bytes = await within(closeFrame, WAIT, "the close frame");
    const sentAt = performance.now();
    assert.equal(clientCloseCode(bytes), 1000);
    const { code } = await cli.exit();
    const waited = performance.now() - sentAt;
    assert.equal(code, 1, cli.describe());
    assert.ok(
      waited >= 250 && waited < 4000,
      `gave up ${waited.toFixed(0)} ms after its close (--wait 300)`,
    );
    inOrder(cli, /^connected to /, /^closed: 1006 \(unclean\)$/);
    assert.match(
      cli.stderr,
      /^wasmsocket: no close from the server in answer to ours \(waited up to 300 ms, see --wait\)$/m,
    );
  },
);

for (const [what, spec, sent, answer] of [
  [
    "invalid UTF-8 in a text frame",
    "text hex:c328",
    /^→ raw text {3}FIN rsv=000 masked len=2 0xc328$/,
    1007,
  ],
  [
    "an unmasked frame",
    'text nomask "x"',
    /^→ raw text {3}FIN rsv=000 unmasked len=1 "x"$/,
    1002,
  ],
  [
    "a ping with 126 bytes of payload",
    "ping size=126",
    /^→ raw ping {3}FIN rsv=000 masked len=126 "a{32}"…$/,
    1002,
  ],
  ["reserved opcode 3", "3", /^→ raw op3 {4}FIN rsv=000 masked len=0$/, 1002],
]) {
  test(
    `--send-raw ${what}: the server closes with ${answer}`,
    { timeout: TEST_TIMEOUT },
    async (t) => {
      const { url } = await echoServer(t);
      const { cli, code } = await sendRaw(t, url, spec);
      assert.equal(code, 0, cli.describe());
      inOrder(
        cli,
        /^connected to /,
        sent,
        new RegExp(`^← close {2}FIN rsv=000 unmasked len=2 code=${answer}$`),
        new RegExp(`^closed: ${answer}$`),
      );
    },
  );
}

test(
  "--send-raw: a fragmented text with a ping between its fragments is echoed whole",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const { url } = await echoServer(t);
    const { cli, code } = await sendRaw(
      t,
      url,
      'text nofin "hel"; ping "?"',
      'cont "lo"',
    );
    assert.equal(code, 0, cli.describe());
    inOrder(
      cli,
      /^→ raw text {3}fin rsv=000 masked len=3 "hel"$/,
      /^→ raw ping {3}FIN rsv=000 masked len=1 "\?"$/,
      /^< pong 3f$/,
      /^→ raw cont {3}FIN rsv=000 masked len=2 "lo"$/,
      /^← text {3}FIN rsv=000 unmasked len=5 "hello"$/,
      /^< hello$/,
      /^→ close {2}FIN rsv=000 masked len=2 code=1000$/,
      /^closed: 1000$/,
    );
    assert.deepEqual(
      cli.lines.filter((l) => l.startsWith("< ")),
      ["< pong 3f", "< hello"],
    );
  },
);

test(
  "--send-raw: a frame split in 3 writes arrives in 3 pieces and is echoed",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const { wss, url } = await echoServer(t);
    const chunks = new Promise((resolve) =>
      wss.on("connection", (ws, request) => {
        let count = 0;
        request.socket.prependListener("data", () => count++);
        ws.on("message", () => resolve(count));
      }),
    );
    const { cli, code } = await sendRaw(t, url, 'text "Hello" split=2,4');
    assert.equal(code, 0, cli.describe());
    inOrder(
      cli,
      /^→ raw text {3}FIN rsv=000 masked len=5 "Hello" \(3 writes\)$/,
      /^< Hello$/,
      /^closed: 1000$/,
    );
    assert.equal(await within(chunks, WAIT, "the message"), 3);
  },
);

test(
  "--send-raw: a crafted close is answered by the server's close",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const { url } = await echoServer(t);
    const { cli, code } = await sendRaw(t, url, 'close code=4000 "bye"');
    assert.equal(code, 0, cli.describe());
    inOrder(
      cli,
      /^→ raw close {2}FIN rsv=000 masked len=5 code=4000 "bye"$/,
      /^← close {2}FIN rsv=000 unmasked len=5 code=4000 "bye"$/,
      /^closed: 4000 bye$/,
    );
  },
);

test(
  "/raw sends crafted frames from the terminal; a bad SPEC is reported",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const { url } = await echoServer(t);
    const { client } = await connect(t, url);
    client.send('/raw ping "x"');
    await client.line(/^→ raw ping {3}FIN rsv=000 masked len=1 "x"$/);
    await client.line(/^< pong 78$/);
    client.send("/raw nope");
    await client.line(/^! `nope`: expected an opcode first: cont, text, /);
    client.send('/raw text "a" len=1 split=3');
    client.endInput();
    await exitedCleanly(client, "connect");
    inOrder(
      client,
      /^→ raw text {3}FIN rsv=000 masked len=1 "a" \(2 writes\)$/,
      /^< a$/,
      /^closed: 1000$/,
    );
  },
);

// ---------------------------------------------------------------------------
// errors

test(
  "connect not-a-url exits 2 naming the URL problem",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const { code, stdout, stderr } = await run(t, ["connect", "not-a-url"]);
    assert.equal(code, 2, stderr);
    assert.equal(stdout, "");
    assert.match(stderr, /^wasmsocket: .*URL/i);
    assert.match(stderr, /not-a-url/);
  },
);

test("connect ftp://x exits 2", { timeout: TEST_TIMEOUT }, async (t) => {
  const { code, stdout, stderr } = await run(t, ["connect", "ftp://x"]);
  assert.equal(code, 2, stderr);
  assert.equal(stdout, "");
  assert.match(stderr, /scheme/i);
  assert.match(stderr, /ftp:/);
});

test(
  "connect to a port with nothing listening fails with ECONNREFUSED",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const port = await unusedPort();
    const { code, stdout, stderr } = await run(t, [
      "connect",
      `ws://127.0.0.1:${port}`,
    ]);
    assert.notEqual(code, 0);
    assert.doesNotMatch(stdout, /connected to/);
    assert.match(stderr, /ECONNREFUSED/);
    assert.match(
      stderr,
      new RegExp(`could not connect to ws://127\\.0\\.0\\.1:${port}/`),
    );
  },
);

test(
  "connect to a server refusing the handshake with 403 fails naming 403",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const { url } = await wsServer(t, {
      verifyClient: (info, done) => done(false, 403, "Forbidden"),
    });
    const { code, stdout, stderr } = await run(t, ["connect", url]);
    assert.notEqual(code, 0);
    assert.doesNotMatch(stdout, /connected to/);
    assert.match(stderr, /\b403\b/);
  },
);

test(
  "connect to a raw server answering 403 fails naming 403",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const raw = net.createServer((socket) => {
      socket.on("error", () => {});
      socket.once("data", () =>
        socket.end(
          "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        ),
      );
    });
    await new Promise((resolve) => raw.listen(0, "127.0.0.1", resolve));
    t.after(() => new Promise((resolve) => raw.close(resolve)));
    const { code, stderr } = await run(t, [
      "connect",
      `ws://127.0.0.1:${raw.address().port}/`,
    ]);
    assert.notEqual(code, 0);
    assert.match(stderr, /\b403\b/);
  },
);

test("serve --port 99999 exits 2", { timeout: TEST_TIMEOUT }, async (t) => {
  const { code, stdout, stderr } = await run(t, ["serve", "--port", "99999"]);
  assert.equal(code, 2, stdout + stderr);
  assert.doesNotMatch(stdout, /listening/);
  assert.match(stderr, /port/);
  assert.match(stderr, /99999/);
});

test(
  "serve --port accepts only a decimal port number",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    // Each of these is a number to Number() (0, so a faulty CLI binds a
    // random free port, never a privileged one), but none is a port.
    for (const bad of ["", " ", "0x0", "0e5", "0.0", "abc", "-1"]) {
      const cli = new Cli(t, ["serve", `--port=${bad}`]);
      cli.endInput();
      const outcome = await within(
        Promise.race([
          cli.exited.then(({ code }) => `exit ${code}`),
          cli.line(/^listening on /).then(
            (l) => l,
            () => "ended",
          ),
        ]),
        WAIT,
        `serve --port ${JSON.stringify(bad)}`,
      );
      if (cli.child.exitCode === null) cli.child.kill("SIGKILL");
      assert.equal(
        outcome,
        "exit 2",
        `serve --port ${JSON.stringify(bad)}\n${cli.describe()}`,
      );
      assert.match(cli.stderr, /bad port/);
    }
  },
);

test(
  "serve on a port already in use fails with EADDRINUSE",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const holder = net.createServer();
    await new Promise((resolve) => holder.listen(0, "127.0.0.1", resolve));
    t.after(() => new Promise((resolve) => holder.close(resolve)));
    const port = String(holder.address().port);
    const { code, stdout, stderr } = await run(t, ["serve", "--port", port]);
    assert.notEqual(code, 0);
    assert.doesNotMatch(stdout, /listening/);
    assert.match(stderr, /EADDRINUSE/);
  },
);

test("an unknown command exits 2", { timeout: TEST_TIMEOUT }, async (t) => {
  const { code, stdout, stderr } = await run(t, ["frobnicate"]);
  assert.equal(code, 2);
  assert.equal(stdout, "");
  assert.match(stderr, /unknown command "frobnicate"/);
  assert.match(stderr, /usage: wasmsocket/);
});

test(
  "serve --echo --broadcast exits 2",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const { code, stdout, stderr } = await run(t, [
      "serve",
      "--port",
      "0",
      "--echo",
      "--broadcast",
    ]);
    assert.equal(code, 2, stdout + stderr);
    assert.doesNotMatch(stdout, /listening/);
    assert.match(stderr, /--echo/);
    assert.match(stderr, /--broadcast/);
  },
);

test("connect without a URL exits 2", { timeout: TEST_TIMEOUT }, async (t) => {
  const { code, stdout, stderr } = await run(t, ["connect"]);
  assert.equal(code, 2);
  assert.equal(stdout, "");
  assert.match(stderr, /URL/);
  assert.match(stderr, /usage: wasmsocket connect/);
});

test(
  "an unknown option and a malformed --header exit 2",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const unknown = await run(t, ["connect", "--bogus", "ws://127.0.0.1:1/"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /--bogus/);
    const header = await run(t, [
      "connect",
      "--header",
      "no-colon",
      "ws://127.0.0.1:1/",
    ]);
    assert.equal(header.code, 2);
    assert.match(header.stderr, /bad header "no-colon"/);
  },
);

test(
  "a bad --send-raw SPEC or --wait exits 2 before connecting",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const url = `ws://127.0.0.1:${await unusedPort()}/`;
    const raw = await run(t, [
      "connect",
      url,
      "--send-raw",
      'text "ok"',
      "--send-raw",
      'ping "a" "b"',
    ]);
    assert.equal(raw.code, 2, raw.stderr);
    assert.equal(raw.stdout, "");
    assert.equal(
      raw.stderr,
      'wasmsocket: --send-raw: `"b"`: a second payload (a frame has at most one)\n',
    );
    for (const bad of ["abc", "-1", "1.5", "99999999999"]) {
      const wait = await run(t, ["connect", url, `--wait=${bad}`]);
      assert.equal(wait.code, 2, wait.stderr);
      assert.equal(wait.stdout, "");
      assert.match(
        wait.stderr,
        /^wasmsocket: bad --wait .* \(expected milliseconds\)/,
      );
    }
  },
);

// ---------------------------------------------------------------------------
// help

test("--help prints the commands", { timeout: TEST_TIMEOUT }, async (t) => {
  for (const args of [["--help"], ["-h"], []]) {
    const { code, stdout, stderr } = await run(t, args);
    assert.equal(code, 0, `${args}: ${stderr}`);
    assert.match(stdout, /^usage: wasmsocket <command>/);
    assert.match(stdout, /\bconnect URL\b/);
    assert.match(stdout, /\bserve\b/);
    assert.equal(stderr, "");
  }
});

test(
  "connect --help prints its options",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const { code, stdout, stderr } = await run(t, ["connect", "--help"]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^usage: wasmsocket connect URL/);
    for (const option of [
      "--protocol",
      "--header",
      "--origin",
      "--insecure",
      "--trace",
      "--help",
      "--send-raw",
      "--wait",
      "/close",
      "/ping",
      "/raw",
    ])
      assert.ok(stdout.includes(option), `mentions ${option}\n${stdout}`);
  },
);

test(
  "serve --help prints its options",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const { code, stdout, stderr } = await run(t, ["serve", "--help"]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^usage: wasmsocket serve/);
    for (const option of [
      "--port",
      "--host",
      "--echo",
      "--broadcast",
      "--protocol",
      "--trace",
      "--help",
    ])
      assert.ok(stdout.includes(option), `mentions ${option}\n${stdout}`);
    assert.match(stdout, /listening on ws:\/\/HOST:PORT/);
  },
);

// ---------------------------------------------------------------------------
// shutdown

test(
  "serve stops cleanly on SIGINT and clients get close 1001",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const { server, url } = await serve(t);
    const { client: a } = await connect(t, url);
    const { client: b } = await connect(t, url);
    await server.line(/^#2 open /);

    server.signal("SIGINT");
    await exitedCleanly(server, "serve after SIGINT");
    for (const [cli, id] of [
      [a, 1],
      [b, 2],
    ]) {
      await cli.line(/^closed: 1001\b/);
      await exitedCleanly(cli, `client ${id}`);
      assert.ok(
        !cli.lines.some((l) => /unclean/.test(l)),
        "clean close\n" + cli.describe(),
      );
    }
    assert.ok(server.indexOf(/^#1 closed: 1001$/) !== -1, server.describe());
    assert.ok(server.indexOf(/^#2 closed: 1001$/) !== -1, server.describe());
  },
);

test(
  "serve with no clients stops on SIGINT and SIGTERM with exit 0",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    for (const signal of ["SIGINT", "SIGTERM"]) {
      const { server, url } = await serve(t);
      server.signal(signal);
      await exitedCleanly(server, `serve after ${signal}`);
      // The port is released: a new connection is refused.
      const { code, stderr } = await run(t, ["connect", url]);
      assert.notEqual(code, 0);
      assert.match(stderr, /ECONNREFUSED/);
    }
  },
);

// ---------------------------------------------------------------------------
// bridge and playground

test(
  "bridge: a connect through it by hand reaches the allowed server; others are refused and logged",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const { url: target } = await serve(t);
    const hostPort = new URL(target).host;
    const bridge = new Cli(t, ["bridge", "--listen", "0", "--allow", hostPort]);
    const first = await bridge.line(/^bridge listening on ws:\/\//);
    await bridge.line(new RegExp(`^targets: ${hostPort}$`));
    const via = first.slice("bridge listening on ".length);

    // A bare tunnel: the CLI connects to the bridge; its own origin is not
    // a page origin, so the bridge refuses it with a reason.
    const refused = await run(t, ["connect", `${via}/?target=${hostPort}`]);
    assert.match(refused.stdout, /closed: 1008 origin null is not allowed/);
    await bridge.line(
      /^refused .* \(origin null\): origin null is not allowed$/,
    );

    const own = await run(t, [
      "connect",
      `${via}/?target=127.0.0.1:1`,
      "--origin",
      `http://${new URL(via).host}`,
    ]);
    assert.match(own.stdout, /closed: 1008 target 127.0.0.1:1 is not allowed/);
    bridge.signal("SIGTERM");
    await exitedCleanly(bridge, "bridge after SIGTERM");
  },
);

test(
  "bridge and playground: usage errors exit 2 with the reason",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    for (const [args, message] of [
      [["bridge", "--allow", "h:1"], /--listen PORT is needed/],
      [["bridge", "--listen", "0"], /at least one --allow/],
      [
        ["bridge", "--listen", "0", "--allow", "nope"],
        /not a target \(host:port\): nope/,
      ],
      [["bridge", "--listen", "99999", "--allow", "h:1"], /bad port 99999/],
      [
        ["playground", "--port", "0", "--max-tunnels", "0"],
        /bad --max-tunnels 0/,
      ],
    ]) {
      const { code, stderr } = await run(t, args);
      assert.equal(code, 2, `${args.join(" ")}: ${stderr}`);
      assert.match(stderr, message);
    }
  },
);

test(
  "playground: prints its URL and serves the page's package files, read-only",
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const cli = new Cli(t, ["playground", "--port", "0"]);
    const first = await cli.line(
      /^playground on http:\/\/127\.0\.0\.1:\d+\/www\/$/,
    );
    await cli.line(/^bridge at \/bridge: no server allowed/);
    const base = first.slice("playground on ".length);
    const origin = new URL(base).origin;
    const root = await fetch(origin, { redirect: "manual" });
    assert.equal(root.status, 302);
    assert.equal(root.headers.get("location"), "/www/");
    const entry = await fetch(`${origin}/pkg/lib/browser.js`);
    assert.equal(entry.status, 200);
    assert.match(entry.headers.get("content-type"), /javascript/);
    const wasm = await fetch(`${origin}/pkg/wasm/wasmsocket_bg.wasm`);
    assert.equal(wasm.headers.get("content-type"), "application/wasm");
    for (const path of [
      "/pkg/package.json",
      "/pkg/lib/../../Cargo.toml",
      "/etc/passwd",
    ])
      assert.equal((await fetch(origin + path)).status, 404, path);
    assert.equal(
      (await fetch(`${origin}/www/`, { method: "POST" })).status,
      405,
    );
    cli.signal("SIGINT");
    await exitedCleanly(cli, "playground after SIGINT");
  },
);
