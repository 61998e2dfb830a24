// The WPT server side the WebSocketStream tests need, on the package's own
// server: each `websockets/handlers/*_wsh.py` (pywebsocket handlers) they
// reach is redone here with what a pywebsocket handler does, and the
// `fetch/api/resources/stash-*.py` pair abort.any.js uses. Each connection
// gets a server of its own (the runtime-neutral `accept`), so that a handler
// can watch its own frames (`trace`) and hold its own writes.
//
// What pywebsocket does that these mirror:
// - answering a close: the handlers' `web_socket_passive_closing_handshake`
//   echoes the code and the reason. The engine answers with the code only,
//   so the handler closes first, with both, when the trace shows the
//   peer's close frame (before the engine answers it);
// - closing from the server (`close_connection`, or the 1000 sent after
//   `web_socket_transfer_data` returns): a data frame that comes before the
//   peer's answer fails the closing handshake and drops the connection;
// - "sleep" in a handler is time in which nothing is read or written.

import http from "node:http";
import net from "node:net";
import tls from "node:tls";

import {
  control,
  duplexTransport,
  WebSocketServer,
} from "../../pkg/lib/node/index.js";

const MiB = 1024 * 1024;
const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const decoder = new TextDecoder();

/** A transport over a socket whose writes (and end) can be held back by
 * `hold` ms from some moment on, in order: a handler's `time.sleep`
 * before its answer. */
function holdableTransport(socket) {
  const inner = duplexTransport(socket);
  let hold = 0;
  const later = (fn) => (hold ? setTimeout(fn, hold) : fn());
  return {
    start: (sink) => inner.start(sink),
    write: (bytes, done) => later(() => inner.write(bytes, done)),
    end: () => later(() => inner.end()),
    destroy: () => inner.destroy(),
    pause: () => inner.pause(),
    resume: () => inner.resume(),
    holdWrites(ms) {
      hold = ms;
    },
  };
}

/** The peer's close frame as the trace shows it: { code, reason }, or null
 * for a frame without a status. The trace keeps 32 bytes of a payload:
 * enough for the reasons the tests send (at most 9 bytes). */
function closeOf(record) {
  const p = record.preview;
  if (p.length < 2) return null;
  if (record.length > p.length) {
    console.error(
      `handlers: a close reason over ${p.length - 2} bytes is not echoed`,
    );
    return null;
  }
  return { code: (p[0] << 8) | p[1], reason: decoder.decode(p.subarray(2)) };
}

/** Closes from the server as pywebsocket's `close_connection` does: a data
 * frame that comes before the peer's answer drops the connection, with what
 * follows it unread (pywebsocket stops reading there; the peer sees a reset). */
function serverClose(conn, code, reason = "") {
  conn.closing = true;
  if (code === undefined) conn.ws.close();
  else control(conn.ws).close(code, reason);
}

/**
 * The handlers by path. Each may have `protocol(offered)` (the subprotocol
 * it picks), `handshake()` (awaited before the answer), `closeFrame(conn,
 * frame)` (the peer's close frame seen, before the engine answers it) and
 * `open(conn)` with conn = { ws, socket, transport, query }.
 */
const handlers = {
  // echo_wsh.py: echoes both kinds; after echoing "Goodbye" the handler
  // returns and the server closes with 1000.
  echo: {
    protocol: (offered) => (offered.includes("echo") ? "echo" : null),
    open(conn) {
      const { ws } = conn;
      ws.binaryType = "arraybuffer";
      ws.addEventListener("message", ({ data }) => {
        if (ws.readyState !== ws.OPEN) return;
        ws.send(data);
        if (data === "Goodbye") serverClose(conn, 1000);
      });
    },
    closeFrame: echoClose,
  },
  // echo_exit_wsh.py: reads until "Goodbye", then the server closes.
  echo_exit: {
    open(conn) {
      const { ws } = conn;
      ws.addEventListener("message", ({ data }) => {
        if (data === "Goodbye" && ws.readyState === ws.OPEN)
          serverClose(conn, 1000);
      });
    },
    closeFrame: echoClose,
  },
  // remote-close_wsh.py: closes at once with ?code=&reason=, or with
  // ?abrupt=1 sends a ping and drops the connection.
  "remote-close": {
    open(conn) {
      const { ws, socket, query } = conn;
      if (query.has("abrupt")) {
        control(ws).ping("ping");
        socket.end();
        return;
      }
      const code = query.has("code") ? Number(query.get("code")) : undefined;
      serverClose(conn, code, query.get("reason") ?? "");
    },
  },
  // delayed-passive-close_wsh.py: answers the peer's close after 1 s.
  "delayed-passive-close": {
    closeFrame(conn, frame) {
      conn.transport.holdWrites(1000);
      echoClose(conn, frame);
    },
  },
  // passive-close-abort_wsh.py: drops the connection on the peer's close.
  "passive-close-abort": {
    closeFrame({ socket }) {
      socket.destroy();
    },
  },
  // protocol_array_wsh.py: picks the first subprotocol offered and sends
  // its name.
  protocol_array: {
    protocol: (offered) => offered[0] ?? null,
    open({ ws }) {
      ws.send(ws.protocol);
    },
  },
  // send-backpressure_wsh.py: an empty message, 16 of 1 MiB, then the
  // seconds the 16 took to be taken by the socket (pywebsocket's blocking
  // send), as text.
  "send-backpressure": {
    async open({ ws }) {
      ws.send(new Uint8Array(0));
      const start = performance.now();
      for (let i = 0; i < 16; i++) ws.send(new Uint8Array(MiB).fill(32));
      while (ws.bufferedAmount > 0 && ws.readyState === ws.OPEN) await delay(5);
      ws.send(String((performance.now() - start) / 1000));
    },
  },
  // receive-backpressure_wsh.py: reads nothing for 2 s, then one message.
  "receive-backpressure": {
    open({ ws }) {
      control(ws).pause();
      setTimeout(() => control(ws).resume(), 2000);
    },
  },
  // handshake_sleep_2_wsh.py: 2 s before the opening handshake's answer.
  handshake_sleep_2: {
    handshake: () => delay(2000),
  },
};

/** echo_wsh.py's passive close: the peer's code and reason back (the
 * engine's own answer, for a close without a status). */
function echoClose({ ws }, frame) {
  if (frame !== null && ws.readyState === ws.OPEN)
    control(ws).close(frame.code, frame.reason);
}

/** Serves one TCP (or TLS) connection with the handler its path names. */
function serve(socket, live) {
  live.add(socket);
  socket.on("close", () => live.delete(socket));
  socket.on("error", () => {});
  const conn = {
    socket,
    transport: holdableTransport(socket),
    ws: null,
    closing: false,
  };
  let handler = null;
  const server = new WebSocketServer({
    verifyClient: async (request) => {
      handler = handlers[request.path.slice(1)] ?? null;
      if (handler === null) return { status: 404, reason: "Not Found" };
      conn.query = new URLSearchParams(request.url.split("?")[1] ?? "");
      await handler.handshake?.();
      return true;
    },
    handleProtocols: (offered) => handler?.protocol?.(offered) ?? null,
    trace: (record) => {
      if (record.kind !== "frame" || record.direction !== "received") return;
      if (conn.ws === null) return;
      if (record.opcode === 8) handler.closeFrame?.(conn, closeOf(record));
      else if (record.opcode <= 2 && conn.closing) control(conn.ws).abort();
    },
  });
  server.on("handshakeError", () => {});
  // On "connection", before the answer is flushed: what a handler sends at
  // once leaves with it, as pywebsocket's back-to-back sends do.
  server.on("connection", (ws) => {
    conn.ws = ws;
    handler.open?.(conn);
  });
  server.accept(conn.transport);
}

/** `fetch/api/resources/stash-put.py` and `stash-take.py`: a value stored
 * under a key by one request (a WebSocket handshake too) and taken by
 * another; "null" when there is none. */
function stashServer() {
  const stash = new Map();
  const put = (url) => {
    const q = new URL(url, "http://x").searchParams;
    stash.set(q.get("key"), q.get("value"));
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    if (url.pathname === "/fetch/api/resources/stash-put.py") {
      put(req.url);
      res.end("done");
    } else if (url.pathname === "/fetch/api/resources/stash-take.py") {
      const key = url.searchParams.get("key");
      const value = stash.has(key) ? JSON.stringify(stash.get(key)) : "null";
      stash.delete(key);
      res.end(value);
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  server.on("upgrade", (req, socket) => {
    if (req.url.startsWith("/fetch/api/resources/stash-put.py")) put(req.url);
    socket.destroy();
  });
  return server;
}

const listen = (server) =>
  new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(server.address().port));
  });

/**
 * Starts the handlers on ws: and (with a certificate) wss: ports, and the
 * stash on an http: one. Resolves with { ws, wss, http } ports and close().
 */
export async function startHandlers({ key, cert }) {
  const live = new Set();
  const plain = net.createServer({ noDelay: true }, (s) => serve(s, live));
  const secure = tls.createServer({ key, cert }, (s) => serve(s, live));
  secure.on("tlsClientError", () => {});
  const stash = stashServer();
  const ports = {
    ws: await listen(plain),
    wss: await listen(secure),
    http: await listen(stash),
  };
  return {
    ...ports,
    async close() {
      for (const socket of live) socket.destroy();
      stash.closeAllConnections?.();
      await Promise.all(
        [plain, secure, stash].map(
          (s) => new Promise((resolve) => s.close(() => resolve())),
        ),
      );
    },
  };
}
