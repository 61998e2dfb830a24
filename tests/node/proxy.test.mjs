// The client through HTTP CONNECT proxies: the `proxy` option against a real
// proxy server (the `proxy` package, plain and over TLS, with and without
// Basic auth), the environment variables of `proxy: "env"`, and hand-written
// proxies for the misbehaviour no real one shows (an endless or slow head,
// garbage, bytes after the answer).

import assert from "node:assert/strict";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import { describe, test } from "node:test";

import { createProxy } from "proxy";
import { WebSocket } from "wasmsocket";

import { proxyFor, proxyTransport } from "../../pkg/lib/node/proxy.js";
import { makeCertificate, record, startServer, waitFor } from "./helpers.mjs";

const T = { timeout: 20000 };

let certificate = null;
/** The self-signed certificate for 127.0.0.1, made once per run. */
function cert() {
  certificate ??= makeCertificate();
  return certificate;
}

const basic = (user, password) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

/**
 * A real CONNECT proxy on 127.0.0.1 (over TLS with `tls`), asking for
 * `credentials` ({ user, password }) when given. Records each CONNECT's
 * target and Proxy-Authorization; closed after the test.
 */
async function startProxy(t, { tls = false, credentials } = {}) {
  const server = createProxy(
    tls ? https.createServer(cert()) : http.createServer(),
  );
  if (credentials) {
    const expected = basic(credentials.user, credentials.password);
    server.authenticate = (req) =>
      req.headers["proxy-authorization"] === expected;
  }
  const connects = [];
  server.on("connect", (req) =>
    connects.push({
      target: req.url,
      authorization: req.headers["proxy-authorization"],
    }),
  );
  const sockets = new Set();
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.on("tlsClientError", () => {});
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return {
    port,
    connects,
    /** The proxy's URL, with `userinfo` ("user:password", encoded) if given. */
    url: (userinfo) =>
      `${tls ? "https" : "http"}://${userinfo ? `${userinfo}@` : ""}127.0.0.1:${port}`,
  };
}

/** A WebSocket server (TLS with `tls`), closed after the test. */
async function startTarget(t, { tls = false } = {}) {
  const server = await startServer({ tls: tls ? cert() : undefined });
  t.after(() => server.close());
  return server;
}

/** A port on 127.0.0.1 that nothing listens on. */
async function closedPort() {
  const probe = net.createServer();
  await new Promise((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** Opens `ws`, has `text` echoed, closes; resolves with what came back. */
async function echo(ws, text = "through the tunnel") {
  const rec = record(ws);
  await rec.next("open");
  ws.send(text);
  const reply = await rec.next("message");
  ws.close();
  await rec.next("close");
  assert.deepEqual(rec.types, ["open", "message", "close"]);
  return reply.data;
}

/** Waits for `ws` to fail; checks error then close 1006 and returns the
 * error event's message. */
async function failure(ws) {
  const rec = record(ws);
  const close = await rec.next("close");
  assert.deepEqual(rec.types, ["error", "close"]);
  assert.equal(close.code, 1006);
  assert.equal(close.wasClean, false);
  assert.equal(ws.readyState, WebSocket.CLOSED);
  return rec.of("error")[0].message;
}

/**
 * A hand-written "proxy" on 127.0.0.1: `onConnect(socket, request)` runs
 * once the CONNECT head came in. Records whether each socket closed.
 */
async function startStub(t, onConnect) {
  const sockets = [];
  const server = net.createServer((socket) => {
    const entry = { socket, closed: false };
    sockets.push(entry);
    socket.on("error", () => {});
    socket.on("close", () => (entry.closed = true));
    let head = "";
    const onData = (chunk) => {
      head += chunk.toString("latin1");
      if (!head.includes("\r\n\r\n")) return;
      socket.off("data", onData);
      onConnect(socket, head);
    };
    socket.on("data", onData);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(async () => {
    for (const { socket } of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return { url: `http://127.0.0.1:${server.address().port}`, sockets };
}

describe("the proxy option, through a real CONNECT proxy", () => {
  test("ws: goes through the tunnel", T, async (t) => {
    const proxy = await startProxy(t);
    const server = await startTarget(t);
    const ws = new WebSocket(server.url("/chat"), [], { proxy: proxy.url() });
    assert.equal(await echo(ws), "through the tunnel");
    assert.deepEqual(proxy.connects, [
      { target: `127.0.0.1:${server.port}`, authorization: undefined },
    ]);
    const conn = await server.connection(0);
    assert.equal(conn.req.url, "/chat");
  });

  test("wss: speaks TLS to the server inside the tunnel", T, async (t) => {
    const proxy = await startProxy(t);
    const server = await startTarget(t, { tls: true });
    const ws = new WebSocket(server.url(), [], {
      proxy: new URL(proxy.url()),
      tls: { ca: cert().cert },
    });
    assert.equal(await echo(ws), "through the tunnel");
    assert.deepEqual(
      proxy.connects.map((c) => c.target),
      [`127.0.0.1:${server.port}`],
    );
  });

  test(
    "wss: checks the server's certificate, not the proxy's",
    T,
    async (t) => {
      const proxy = await startProxy(t);
      const server = await startTarget(t, { tls: true });
      const ws = new WebSocket(server.url(), [], { proxy: proxy.url() });
      assert.match(await failure(ws), /self-signed certificate/);
      assert.equal(proxy.connects.length, 1);
      assert.equal(server.connections.length, 0);
    },
  );

  test(
    "Basic credentials from the URL, percent-decoded, are accepted",
    T,
    async (t) => {
      const credentials = { user: "us@er", password: "pa:ss wörd" };
      const proxy = await startProxy(t, { credentials });
      const server = await startTarget(t);
      const userinfo = `${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.password)}`;
      const ws = new WebSocket(server.url(), [], {
        proxy: proxy.url(userinfo),
      });
      assert.equal(await echo(ws), "through the tunnel");
      assert.equal(
        proxy.connects[0].authorization,
        basic("us@er", "pa:ss wörd"),
      );
    },
  );

  test(
    "no credentials for a proxy that wants them: 407, error and 1006",
    T,
    async (t) => {
      const proxy = await startProxy(t, {
        credentials: { user: "u", password: "p" },
      });
      const server = await startTarget(t);
      const ws = new WebSocket(server.url(), [], { proxy: proxy.url() });
      const message = await failure(ws);
      assert.match(message, /proxy authentication required/);
      assert.match(message, /407/);
      assert.match(message, /no credentials were given/);
      assert.equal(server.connections.length, 0);
    },
  );

  test(
    "wrong credentials: 407, the message says they were rejected and keeps them out",
    T,
    async (t) => {
      const proxy = await startProxy(t, {
        credentials: { user: "u", password: "right" },
      });
      const server = await startTarget(t);
      const ws = new WebSocket(server.url(), [], {
        proxy: proxy.url("u:hunter2"),
      });
      const message = await failure(ws);
      assert.match(message, /proxy authentication required .*407/);
      assert.match(message, /the credentials were rejected/);
      assert.doesNotMatch(message, /hunter2/);
      assert.equal(proxy.connects[0].authorization, basic("u", "hunter2"));
      assert.equal(server.connections.length, 0);
    },
  );

  test("an unreachable proxy: error naming it, then 1006", T, async (t) => {
    const server = await startTarget(t);
    const port = await closedPort();
    const ws = new WebSocket(server.url(), [], {
      proxy: `http://127.0.0.1:${port}`,
    });
    const message = await failure(ws);
    assert.match(
      message,
      new RegExp(`proxy http://127.0.0.1:${port} unreachable`),
    );
    assert.match(message, /ECONNREFUSED/);
    assert.equal(server.connections.length, 0);
  });

  test(
    "a proxy that cannot reach the target answers 500: the status is in the error",
    T,
    async (t) => {
      const proxy = await startProxy(t);
      const port = await closedPort();
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`, [], {
        proxy: proxy.url(),
      });
      const message = await failure(ws);
      assert.match(
        message,
        new RegExp(`refused CONNECT 127\\.0\\.0\\.1:${port}: 500`),
      );
    },
  );

  for (const scheme of ["ws", "wss"]) {
    test(
      `an https: proxy, TLS to it first, to a ${scheme}: server`,
      T,
      async (t) => {
        const proxy = await startProxy(t, {
          tls: true,
          credentials: { user: "u", password: "p" },
        });
        const server = await startTarget(t, { tls: scheme === "wss" });
        const ws = new WebSocket(server.url(), [], {
          proxy: proxy.url("u:p"),
          proxyTls: { ca: cert().cert },
          tls: { ca: cert().cert },
        });
        assert.equal(await echo(ws), "through the tunnel");
        assert.deepEqual(proxy.connects, [
          {
            target: `127.0.0.1:${server.port}`,
            authorization: basic("u", "p"),
          },
        ]);
      },
    );
  }

  test(
    "an https: proxy whose certificate is not trusted fails before CONNECT",
    T,
    async (t) => {
      const proxy = await startProxy(t, { tls: true });
      const server = await startTarget(t);
      // The target's `tls` option says nothing about the proxy.
      const ws = new WebSocket(server.url(), [], {
        proxy: proxy.url(),
        tls: { ca: cert().cert },
      });
      const message = await failure(ws);
      assert.match(message, /TLS to proxy https:\/\/127\.0\.0\.1:\d+ failed/);
      assert.match(message, /self-signed certificate/);
      assert.equal(proxy.connects.length, 0);
    },
  );

  test("a bad proxy URL throws before anything is dialled", () => {
    const url = "ws://127.0.0.1:9/";
    assert.throws(
      () => new WebSocket(url, [], { proxy: "socks5://u:secret@host:1080" }),
      { name: "TypeError", message: /unsupported proxy scheme socks5:/ },
    );
    assert.throws(() => new WebSocket(url, [], { proxy: "http://[nope" }), {
      name: "TypeError",
      message: /^options\.proxy is not a valid proxy URL$/,
    });
    assert.throws(
      () => new WebSocket(url, [], { proxy: "http://u:%E0%A4%A@host" }),
      { name: "TypeError", message: /badly percent-encoded/ },
    );
  });
});

describe("proxies that misbehave (hand-written)", () => {
  test(
    "bytes after the proxy's head are the server's: a 403 there fails the handshake",
    T,
    async (t) => {
      const stub = await startStub(t, (socket) =>
        socket.write(
          "HTTP/1.1 200 Connection established\r\n\r\n" +
            "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
        ),
      );
      const ws = new WebSocket("ws://127.0.0.1:9/", [], { proxy: stub.url });
      const message = await failure(ws);
      assert.match(message, /server answered 403 Forbidden/);
    },
  );

  test("an HTTP/1.0 200 with headers opens the tunnel", T, async (t) => {
    const server = await startTarget(t);
    const stub = await startStub(t, (socket, head) => {
      const target = head.split(" ")[1];
      const [host, port] = target.split(":");
      const upstream = net.connect({ host, port: Number(port) }, () => {
        socket.write(
          "HTTP/1.0 200 Connection established\r\nProxy-Agent: stub\r\n\r\n",
        );
        socket.pipe(upstream).pipe(socket);
      });
      upstream.on("error", () => socket.destroy());
      socket.on("close", () => upstream.destroy());
    });
    const ws = new WebSocket(server.url(), [], { proxy: stub.url });
    assert.equal(await echo(ws), "through the tunnel");
  });

  for (const [name, limit, options] of [
    ["the default 16 KiB", 16384, {}],
    ["maxHeadSize", 1000, { maxHeadSize: 1000 }],
  ]) {
    test(`an endless head is cut off at ${name}`, T, async (t) => {
      const stub = await startStub(t, (socket) => {
        socket.write("HTTP/1.1 200 OK\r\n");
        const more = () => {
          if (socket.destroyed) return;
          socket.write(`X-Filler: ${"a".repeat(500)}\r\n`, more);
        };
        more();
      });
      const ws = new WebSocket("ws://127.0.0.1:9/", [], {
        ...options,
        proxy: stub.url,
      });
      const message = await failure(ws);
      assert.match(
        message,
        new RegExp(`answered CONNECT with a head over ${limit} bytes`),
      );
      await waitFor(() => stub.sockets[0].closed, {
        message: "the client did not hang up on the proxy",
      });
    });
  }

  test(
    "a head that trickles in times out with handshakeTimeout",
    T,
    async (t) => {
      const stub = await startStub(t, (socket) => {
        socket.write("HTTP/1.1 200 OK\r\n");
        const timer = setInterval(() => socket.write("X-Slow: 1\r\n"), 20);
        socket.on("close", () => clearInterval(timer));
      });
      const ws = new WebSocket("ws://127.0.0.1:9/", [], {
        proxy: stub.url,
        handshakeTimeout: 300,
      });
      // The proxy's timer and the engine's own, for the same deadline, race
      // on a loaded machine: either words it (the next test pins the first).
      const message = await failure(ws);
      assert.match(
        message,
        /did not answer CONNECT 127\.0\.0\.1:9 within 300 ms|opening handshake timed out/,
      );
      await waitFor(() => stub.sockets[0].closed);
    },
  );

  test(
    "the proxy transport's own timer names the proxy and the target",
    T,
    async (t) => {
      const stub = await startStub(t, (socket) => socket.write("HTTP/1.1 2"));
      const proxy = proxyFor(new URL("ws://h/"), stub.url);
      const socket = net.connect({ host: proxy.host, port: proxy.port });
      const transport = proxyTransport(socket, proxy, "h:80", {
        handshakeTimeout: 200,
      });
      const closed = new Promise((resolve) =>
        transport.start({ data() {}, closed: resolve }),
      );
      const error = await closed;
      assert.equal(
        error.message,
        `proxy ${stub.url} did not answer CONNECT h:80 within 200 ms`,
      );
      assert.equal(socket.destroyed, true);
      await waitFor(() => stub.sockets[0].closed);
    },
  );

  test("a proxy that hangs up without answering", T, async (t) => {
    const stub = await startStub(t, (socket) => socket.end());
    const ws = new WebSocket("ws://127.0.0.1:9/", [], { proxy: stub.url });
    assert.match(await failure(ws), /closed the connection before answering/);
  });

  test("an answer that is not HTTP", T, async (t) => {
    const stub = await startStub(t, (socket) =>
      socket.write("SSH-2.0-OpenSSH_9.6\r\n\r\n"),
    );
    const ws = new WebSocket("ws://127.0.0.1:9/", [], { proxy: stub.url });
    assert.match(
      await failure(ws),
      /answered CONNECT with no HTTP status line/,
    );
  });

  test("for wss:, bytes before the TLS handshake are refused", T, async (t) => {
    const stub = await startStub(t, (socket) =>
      socket.write("HTTP/1.1 200 OK\r\n\r\nhello"),
    );
    const ws = new WebSocket("wss://127.0.0.1:9/", [], { proxy: stub.url });
    assert.match(
      await failure(ws),
      /sent bytes after its answer, before the TLS handshake/,
    );
  });
});

const ENV_NAMES = [
  "http_proxy",
  "HTTP_PROXY",
  "https_proxy",
  "HTTPS_PROXY",
  "no_proxy",
  "NO_PROXY",
];

/** Sets exactly `vars` of the proxy variables in process.env for the test. */
function setEnv(t, vars) {
  const saved = ENV_NAMES.map((name) => [name, process.env[name]]);
  for (const name of ENV_NAMES) delete process.env[name];
  Object.assign(process.env, vars);
  t.after(() => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });
}

describe('proxy: "env" reads the proxy variables', () => {
  test("HTTP_PROXY carries ws:", T, async (t) => {
    const proxy = await startProxy(t, {
      credentials: { user: "u", password: "p" },
    });
    const server = await startTarget(t);
    setEnv(t, { HTTP_PROXY: proxy.url("u:p") });
    const ws = new WebSocket(server.url(), [], { proxy: "env" });
    assert.equal(await echo(ws), "through the tunnel");
    assert.deepEqual(proxy.connects, [
      { target: `127.0.0.1:${server.port}`, authorization: basic("u", "p") },
    ]);
  });

  test("HTTPS_PROXY carries wss:, HTTP_PROXY does not", T, async (t) => {
    const forHttps = await startProxy(t);
    const forHttp = await startProxy(t);
    const server = await startTarget(t, { tls: true });
    setEnv(t, { HTTPS_PROXY: forHttps.url(), HTTP_PROXY: forHttp.url() });
    const ws = new WebSocket(server.url(), [], {
      proxy: "env",
      tls: { ca: cert().cert },
    });
    assert.equal(await echo(ws), "through the tunnel");
    assert.equal(forHttps.connects.length, 1);
    assert.equal(forHttp.connects.length, 0);
  });

  test(
    "without HTTPS_PROXY, wss: takes HTTP_PROXY (as undici does)",
    T,
    async (t) => {
      const proxy = await startProxy(t);
      const server = await startTarget(t, { tls: true });
      setEnv(t, { http_proxy: proxy.url() });
      const ws = new WebSocket(server.url(), [], {
        proxy: "env",
        tls: { ca: cert().cert },
      });
      assert.equal(await echo(ws), "through the tunnel");
      assert.equal(proxy.connects.length, 1);
    },
  );

  test("NO_PROXY naming the host: a direct connection", T, async (t) => {
    const proxy = await startProxy(t);
    const server = await startTarget(t);
    setEnv(t, {
      HTTP_PROXY: proxy.url(),
      NO_PROXY: `example.com, 127.0.0.1:${server.port}`,
    });
    const ws = new WebSocket(server.url(), [], { proxy: "env" });
    assert.equal(await echo(ws), "through the tunnel");
    assert.equal(proxy.connects.length, 0);
    assert.equal(server.connections.length, 1);
  });

  test("NO_PROXY not naming the host (nor its port): proxied", T, async (t) => {
    const proxy = await startProxy(t);
    const server = await startTarget(t);
    setEnv(t, {
      HTTP_PROXY: proxy.url(),
      NO_PROXY: `.example.com,localhost,127.0.0.1:${server.port + 1}`,
    });
    const ws = new WebSocket(server.url(), [], { proxy: "env" });
    assert.equal(await echo(ws), "through the tunnel");
    assert.equal(proxy.connects.length, 1);
  });

  test("the variables count only when asked for", T, async (t) => {
    const server = await startTarget(t);
    setEnv(t, { HTTP_PROXY: `http://127.0.0.1:${await closedPort()}` });
    const ws = new WebSocket(server.url());
    assert.equal(await echo(ws), "through the tunnel");
  });

  test("an unusable proxy in the environment throws, without quoting it", () => {
    assert.throws(
      () =>
        proxyFor(new URL("ws://h/"), "env", {
          HTTP_PROXY: "http://u:secret@[bad",
        }),
      (e) =>
        e instanceof TypeError &&
        /proxy environment variable is not a valid proxy URL/.test(e.message) &&
        !e.message.includes("secret"),
    );
  });

  test("no variables set: a direct connection", T, async (t) => {
    setEnv(t, {});
    const server = await startTarget(t);
    const ws = new WebSocket(server.url(), [], { proxy: "env" });
    assert.equal(await echo(ws), "through the tunnel");
  });

  /** The proxy `proxyFor` picks for `url` under `env`, as "host:port". */
  const pick = (url, env) => {
    const proxy = proxyFor(new URL(url), "env", env);
    return proxy && `${proxy.host}:${proxy.port}`;
  };

  test("which variable is read (undici's order)", () => {
    const P = "http://p:1";
    const Q = "http://q:2";
    assert.equal(pick("ws://h/", {}), null);
    assert.equal(pick("ws://h/", { HTTP_PROXY: P }), "p:1");
    assert.equal(pick("ws://h/", { HTTPS_PROXY: P }), null);
    assert.equal(pick("wss://h/", { HTTPS_PROXY: P, HTTP_PROXY: Q }), "p:1");
    assert.equal(pick("wss://h/", { HTTP_PROXY: Q }), "q:2");
    // Lower case first; an empty lower-case one means "none".
    assert.equal(pick("ws://h/", { http_proxy: P, HTTP_PROXY: Q }), "p:1");
    assert.equal(pick("ws://h/", { http_proxy: "", HTTP_PROXY: Q }), null);
    assert.equal(pick("wss://h/", { https_proxy: P, HTTPS_PROXY: Q }), "p:1");
    // No scheme means http:; default ports come from the proxy's scheme.
    assert.equal(
      pick("ws://h/", { HTTP_PROXY: "proxy.corp:3128" }),
      "proxy.corp:3128",
    );
    assert.equal(
      pick("ws://h/", { HTTP_PROXY: "http://proxy.corp" }),
      "proxy.corp:80",
    );
    assert.equal(
      pick("ws://h/", { HTTP_PROXY: "https://proxy.corp" }),
      "proxy.corp:443",
    );
    assert.equal(pick("ws://h/", { HTTP_PROXY: "http://[::1]:8" }), "::1:8");
  });

  test("NO_PROXY matching (undici's rules)", () => {
    const proxied = (url, list) =>
      pick(url, {
        HTTP_PROXY: "http://p:1",
        HTTPS_PROXY: "http://p:1",
        NO_PROXY: list,
      }) !== null;
    // Empty: everything is proxied; "*" alone: nothing is.
    assert.equal(proxied("ws://h/", ""), true);
    assert.equal(proxied("ws://h/", " , "), true);
    assert.equal(proxied("ws://h/", "*"), false);
    // A name matches itself and its subdomains, not a longer name.
    assert.equal(proxied("ws://example.com/", "example.com"), false);
    assert.equal(proxied("ws://a.b.example.com/", "example.com"), false);
    assert.equal(proxied("ws://badexample.com/", "example.com"), true);
    assert.equal(proxied("ws://example.com.evil/", "example.com"), true);
    // Leading "." and "*." are dropped, so they match the name itself too.
    assert.equal(proxied("ws://example.com/", ".example.com"), false);
    assert.equal(proxied("ws://a.example.com/", "*.example.com"), false);
    // Case does not matter; commas and white space separate.
    assert.equal(proxied("ws://A.Example.COM/", "EXAMPLE.com"), false);
    assert.equal(proxied("ws://b.com/", "a.com\tb.com"), false);
    assert.equal(proxied("ws://c.com/", "a.com, b.com c.com"), false);
    // A port limits the entry to it; default ports are 80 and 443.
    assert.equal(proxied("ws://h:8080/", "h:8080"), false);
    assert.equal(proxied("ws://h:8081/", "h:8080"), true);
    assert.equal(proxied("ws://h/", "h:80"), false);
    assert.equal(proxied("wss://h/", "h:80"), true);
    assert.equal(proxied("wss://h/", "h:443"), false);
    // IPv6 addresses in brackets, with or without a port.
    assert.equal(proxied("ws://[::1]:9/", "[::1]"), false);
    assert.equal(proxied("ws://[::1]:9/", "[::1]:9"), false);
    assert.equal(proxied("ws://[::1]:9/", "[::1]:10"), true);
    // "*" inside a list is no wildcard.
    assert.equal(proxied("ws://h/", "a.com,*"), true);
    // The lower-case variable wins.
    assert.equal(
      pick("ws://h/", {
        HTTP_PROXY: "http://p:1",
        no_proxy: "x",
        NO_PROXY: "h",
      }),
      "p:1",
    );
  });
});
