// Shared helpers for the Node tests of the wasmsocket package: a real `ws`
// server (plain or TLS) on 127.0.0.1, a self-signed certificate made at test
// time with the openssl CLI, the transports a client can use, and small
// promise helpers.

import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Duplex } from "node:stream";

import { WebSocketServer } from "ws";

/** Resolves after `ms` milliseconds. */
export const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The next `type` event of an EventTarget or an EventEmitter. Rejects after
 * `timeout` ms. For an EventEmitter the promise resolves with the array of
 * arguments; for an EventTarget with the event.
 */
export function once(target, type, { timeout = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    let off;
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out after ${timeout} ms waiting for "${type}"`));
    }, timeout);
    const done = (value) => {
      clearTimeout(timer);
      off();
      resolve(value);
    };
    if (typeof target.addEventListener === "function") {
      const listener = (event) => done(event);
      target.addEventListener(type, listener);
      off = () => target.removeEventListener(type, listener);
    } else {
      const listener = (...args) => done(args);
      target.on(type, listener);
      off = () => target.off(type, listener);
    }
  });
}

/** Polls `predicate` until it returns a truthy value, which it resolves with. */
export async function waitFor(
  predicate,
  { timeout = 10000, interval = 5, message } = {},
) {
  const start = Date.now();
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() - start > timeout) {
      throw new Error(
        message ?? `timed out after ${timeout} ms waiting for ${predicate}`,
      );
    }
    await delay(interval);
  }
}

/** SHA-256 hex digest of bytes (ArrayBuffer, view or Buffer) or a string (UTF-8). */
export function sha256(data) {
  const h = createHash("sha256");
  if (typeof data === "string") h.update(data, "utf8");
  else if (data instanceof ArrayBuffer) h.update(new Uint8Array(data));
  else h.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return h.digest("hex");
}

/** Bytes of an ArrayBuffer, a view, a Buffer or a Blob, as a Buffer. */
export async function bytesOf(data) {
  if (typeof Blob !== "undefined" && data instanceof Blob) {
    return Buffer.from(await data.arrayBuffer());
  }
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * A self-signed certificate for 127.0.0.1 and localhost, made with the
 * openssl CLI in a temporary directory that is removed again.
 * Returns { key, cert } as PEM strings.
 */
export function makeCertificate() {
  const dir = mkdtempSync(join(tmpdir(), "wasmsocket-cert-"));
  try {
    const key = join(dir, "key.pem");
    const cert = join(dir, "cert.pem");
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        key,
        "-out",
        cert,
        "-days",
        "2",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    return { key: readFileSync(key, "utf8"), cert: readFileSync(cert, "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * One connection accepted by the `ws` server. Everything it receives is
 * recorded from the start, so tests never miss an early message.
 */
class ServerConnection {
  /** @type {import("ws").WebSocket} */
  ws;
  /** The upgrade request (headers, url). */
  req;
  /** Received messages in order: { data: Buffer, isBinary }. */
  messages = [];
  /** Set once the closing handshake / connection ended: { code, reason }. */
  closed = null;
  /** Order of what happened: "message" entries and a final "close". */
  log = [];
  #waiters = [];

  constructor(ws, req, echo) {
    this.ws = ws;
    this.req = req;
    ws.on("message", (data, isBinary) => {
      this.messages.push({ data, isBinary });
      this.log.push("message");
      if (echo) ws.send(data, { binary: isBinary });
      this.#wake();
    });
    ws.on("close", (code, reason) => {
      this.closed = { code, reason: reason.toString("utf8") };
      this.log.push("close");
      this.#wake();
    });
    ws.on("error", () => {});
  }

  #wake() {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  #until(predicate, what, timeout) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const value = predicate();
        if (value) {
          clearTimeout(timer);
          resolve(value);
          return true;
        }
        return false;
      };
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `server: timed out after ${timeout} ms waiting for ${what}`,
            ),
          ),
        timeout,
      );
      const loop = () => {
        if (!check()) this.#waiters.push(loop);
      };
      loop();
    });
  }

  /** Resolves with the first `n` messages once that many arrived. */
  messagesUntil(n, { timeout = 10000 } = {}) {
    return this.#until(
      () => this.messages.length >= n && this.messages.slice(0, n),
      `${n} messages (got ${this.messages.length})`,
      timeout,
    );
  }

  /** Resolves with { code, reason } once the connection closed. */
  closedPromise({ timeout = 10000 } = {}) {
    return this.#until(() => this.closed, "close", timeout);
  }
}

/**
 * Starts a `ws` WebSocketServer on 127.0.0.1, port 0, behind an http (or,
 * with `tls: { key, cert }`, https) server.
 *
 * Options: `echo` (default true) echoes every message back with its type;
 * `handleProtocols` is passed to ws; `onConnection(conn)` runs on each
 * accepted connection before anything else.
 */
export async function startServer({
  tls,
  echo = true,
  handleProtocols,
  onConnection,
} = {}) {
  const server = tls
    ? https.createServer({ key: tls.key, cert: tls.cert })
    : http.createServer();
  const sockets = new Set();
  let tcpConnections = 0;
  server.on("connection", (socket) => {
    tcpConnections++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.on("tlsClientError", () => {});
  const wss = new WebSocketServer({ server, handleProtocols });
  const connections = [];
  const waiters = [];
  wss.on("connection", (ws, req) => {
    const conn = new ServerConnection(ws, req, echo);
    connections.push(conn);
    onConnection?.(conn);
    for (const w of waiters.splice(0)) w();
  });
  wss.on("error", () => {});
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address();
  const scheme = tls ? "wss" : "ws";
  return {
    server,
    wss,
    port,
    connections,
    /** TCP connections the http(s) server accepted. */
    get tcpConnections() {
      return tcpConnections;
    },
    url: (path = "/") => `${scheme}://127.0.0.1:${port}${path}`,
    /** The `index`-th accepted WebSocket connection (0 = first). */
    connection(index = 0, { timeout = 10000 } = {}) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `server: no WebSocket connection #${index} after ${timeout} ms`,
              ),
            ),
          timeout,
        );
        const check = () => {
          if (connections.length > index) {
            clearTimeout(timer);
            resolve(connections[index]);
          } else waiters.push(check);
        };
        check();
      });
    },
    async close() {
      for (const client of wss.clients) client.terminate();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => wss.close(() => resolve()));
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Two connected Node Duplex streams, like the two ends of a socket pair:
 * what is written to one is read from the other, ending one ends the other's
 * readable side, destroying one ends the other.
 */
export function duplexPair() {
  const ends = [];
  const make = (peer) =>
    new Duplex({
      read() {},
      write(chunk, _encoding, callback) {
        const other = ends[peer];
        if (!other.destroyed) other.push(chunk);
        callback();
      },
      final(callback) {
        const other = ends[peer];
        if (!other.destroyed) other.push(null);
        callback();
      },
      destroy(error, callback) {
        const other = ends[peer];
        if (!other.destroyed && !other.readableEnded) other.push(null);
        if (!other.destroyed) other.end();
        callback(error);
      },
    });
  ends.push(make(1), make(0));
  return ends;
}

/** A TCP connection to 127.0.0.1:port, tracked for cleanup. */
function dial(port, sockets) {
  const socket = net.connect({ host: "127.0.0.1", port });
  socket.on("error", () => {});
  sockets.push(socket);
  return socket;
}

/**
 * The ways a client can reach the server. Each entry's `open(WebSocket,
 * server, { path, protocols, options })` returns a new client; its
 * `cleanup()` destroys whatever it created itself.
 */
export function transports() {
  return [
    {
      name: "net (default transport for ws:)",
      tls: false,
      make() {
        return {
          open: (
            WebSocket,
            server,
            { path = "/", protocols, options = {} } = {},
          ) => new WebSocket(server.url(path), protocols, options),
          cleanup() {},
        };
      },
    },
    {
      name: "tls (default transport for wss:)",
      tls: true,
      make(ca) {
        return {
          open: (
            WebSocket,
            server,
            { path = "/", protocols, options = {} } = {},
          ) =>
            new WebSocket(server.url(path), protocols, {
              ...options,
              tls: { ca },
            }),
          cleanup() {},
        };
      },
    },
    {
      name: "Node Duplex (a net.Socket connected by the test)",
      tls: false,
      make() {
        const sockets = [];
        return {
          open: (
            WebSocket,
            server,
            { path = "/", protocols, options = {} } = {},
          ) =>
            new WebSocket(server.url(path), protocols, {
              ...options,
              transport: dial(server.port, sockets),
            }),
          cleanup() {
            for (const s of sockets) s.destroy();
          },
        };
      },
    },
    {
      name: "Node Duplex (in-memory pair bridged to the server)",
      tls: false,
      make() {
        const streams = [];
        return {
          open: (
            WebSocket,
            server,
            { path = "/", protocols, options = {} } = {},
          ) => {
            const [mine, theirs] = duplexPair();
            const socket = dial(server.port, streams);
            theirs.pipe(socket);
            socket.pipe(theirs);
            socket.on("close", () => theirs.destroy());
            streams.push(mine, theirs);
            return new WebSocket(server.url(path), protocols, {
              ...options,
              transport: mine,
            });
          },
          cleanup() {
            for (const s of streams) s.destroy();
          },
        };
      },
    },
    {
      name: "WHATWG stream pair (Duplex.toWeb of a net.Socket)",
      tls: false,
      make() {
        const sockets = [];
        return {
          open: (
            WebSocket,
            server,
            { path = "/", protocols, options = {} } = {},
          ) => {
            const pair = Duplex.toWeb(dial(server.port, sockets));
            return new WebSocket(server.url(path), protocols, {
              ...options,
              transport: pair,
            });
          },
          cleanup() {
            for (const s of sockets) s.destroy();
          },
        };
      },
    },
  ];
}

/**
 * Records every event a client WebSocket fires, in order, from the moment
 * it is called (call it right after the constructor).
 * `next(type)` resolves with the next not yet taken event of that type.
 */
export function record(ws, { timeout = 10000 } = {}) {
  const events = [];
  const taken = new Map();
  let waiters = [];
  for (const type of ["open", "message", "error", "close"]) {
    ws.addEventListener(type, (event) => {
      events.push(event);
      const w = waiters;
      waiters = [];
      for (const f of w) f();
    });
  }
  const of = (type) => events.filter((e) => e.type === type);
  return {
    events,
    /** Event types in the order they fired. */
    get types() {
      return events.map((e) => e.type);
    },
    of,
    next(type, { timeout: ms = timeout } = {}) {
      const index = taken.get(type) ?? 0;
      taken.set(type, index + 1);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `client: timed out after ${ms} ms waiting for ${type} #${index} (events so far: ${events
                  .map((e) => e.type)
                  .join(", ")})`,
              ),
            ),
          ms,
        );
        const check = () => {
          const list = of(type);
          if (list.length > index) {
            clearTimeout(timer);
            resolve(list[index]);
          } else waiters.push(check);
        };
        check();
      });
    },
  };
}

/**
 * Detaches every process 'uncaughtException' listener (node:test's
 * included) and installs one that collects the errors instead: Node's
 * EventTarget reports an exception thrown by a listener that way.
 * `restore()` puts the original listeners back.
 */
export function swallowUncaughtExceptions() {
  const saved = process.listeners("uncaughtException");
  process.removeAllListeners("uncaughtException");
  const errors = [];
  const handler = (error) => errors.push(error);
  process.on("uncaughtException", handler);
  return {
    errors,
    restore() {
      if (!process.listeners("uncaughtException").includes(handler)) return;
      process.off("uncaughtException", handler);
      for (const listener of saved) process.on("uncaughtException", listener);
    },
  };
}

/**
 * Like `duplexPair`, but what is written to one end reaches the other on a
 * later tick, as with a real socket: a write never runs the peer's `data`
 * listeners inside the writer's call stack. (Some peers, `ws` among them,
 * are not re-entrant: `ws` leaks its 30 s close timer when the reply to its
 * close frame arrives inside its own `close()` call.)
 */
export function asyncDuplexPair() {
  const ends = [];
  const later = (fn) => process.nextTick(fn);
  const make = (peer) =>
    new Duplex({
      read() {},
      write(chunk, _encoding, callback) {
        later(() => {
          const other = ends[peer];
          if (!other.destroyed) other.push(chunk);
        });
        callback();
      },
      final(callback) {
        later(() => {
          const other = ends[peer];
          if (!other.destroyed) other.push(null);
        });
        callback();
      },
      destroy(error, callback) {
        later(() => {
          const other = ends[peer];
          if (!other.destroyed && !other.readableEnded) other.push(null);
          if (!other.destroyed) other.end();
        });
        callback(error);
      },
    });
  ends.push(make(1), make(0));
  return ends;
}

/** Rejects with "timed out: what" unless `promise` settles within `ms`. */
export function within(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`timed out after ${ms} ms: ${what}`)),
        ms,
      );
    }),
  ]).finally(() => clearTimeout(timer));
}

/** A WebSocket frame, unmasked unless `mask` (4 bytes) is given. `length`
 * overrides the announced payload length (for a header without its payload). */
export function frame(
  opcode,
  payload = Buffer.alloc(0),
  { fin = true, mask = null, length } = {},
) {
  const data = Buffer.from(payload);
  const len = length ?? data.length;
  let head;
  if (len < 126) {
    head = Buffer.from([0, len]);
  } else if (len < 65536) {
    head = Buffer.alloc(4);
    head[1] = 126;
    head.writeUInt16BE(len, 2);
  } else {
    head = Buffer.alloc(10);
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  head[0] = (fin ? 0x80 : 0) | opcode;
  if (!mask) return Buffer.concat([head, data]);
  head[1] |= 0x80;
  const masked = Buffer.from(data);
  for (let i = 0; i < masked.length; i++) masked[i] ^= mask[i & 3];
  return Buffer.concat([head, Buffer.from(mask), masked]);
}

/** The data of the next `count` messages `ws` receives; fails on an error
 * or close first, or after `timeout` ms. */
export function messages(ws, count, { timeout = 10_000 } = {}) {
  const got = [];
  return within(
    new Promise((resolve, reject) => {
      ws.onmessage = (e) => {
        got.push(e.data);
        if (got.length === count) resolve(got);
      };
      ws.onerror = (e) => reject(new Error(`error: ${e.message}`));
      ws.onclose = (e) => reject(new Error(`closed: ${e.code}`));
    }),
    timeout,
    `${count} messages`,
  );
}
