// The WHATWG `WebSocket` object of the wasmsocket package against a real
// `ws@8` server, over every kind of transport the Node entry point accepts.
//
// Run: node --test tests/node/

import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import net from "node:net";
import { describe, test } from "node:test";

import { control, WebSocket } from "wasmsocket";

import {
  bytesOf,
  delay,
  makeCertificate,
  once,
  record,
  sha256,
  startServer,
  swallowUncaughtExceptions,
  transports,
  waitFor,
} from "./helpers.mjs";

const T = { timeout: 20000 };
const MiB = 1 << 20;

let certificate = null;
/** The self-signed certificate, made once per run. */
function cert() {
  certificate ??= makeCertificate();
  return certificate;
}

/**
 * A server (TLS when the transport needs it) and a way to open clients over
 * `transport`; everything is torn down after the test.
 */
async function setup(t, transport, serverOptions = {}) {
  const tls = transport.tls ? cert() : undefined;
  const server = await startServer({ ...serverOptions, tls });
  const client = transport.make(tls?.cert);
  const opened = [];
  t.after(async () => {
    for (const ws of opened) {
      if (ws.readyState === WebSocket.OPEN) {
        try {
          ws.close();
        } catch {}
      }
    }
    client.cleanup();
    await server.close();
  });
  return {
    server,
    /** A new client (not yet open) with an event recorder. */
    connect(args = {}) {
      const ws = client.open(WebSocket, server, args);
      opened.push(ws);
      return { ws, rec: record(ws) };
    },
    /** A new client, open, with its server-side connection. */
    async open(args = {}) {
      const index = server.connections.length;
      const { ws, rec } = this.connect(args);
      await rec.next("open");
      const conn = await server.connection(index);
      return { ws, rec, conn };
    },
  };
}

const NET = transports()[0];

function assertDOMException(fn, name) {
  assert.throws(fn, (error) => {
    assert.ok(
      error instanceof DOMException,
      `expected a DOMException, got ${error}`,
    );
    assert.equal(error.name, name);
    return true;
  });
}

/** A string of `bytes` UTF-8 bytes mixing 1-, 2-, 3- and 4-byte characters. */
function bigText(bytes) {
  const unit = "abcdefghij 0123456789 é ü ß € ✓ 日本語 𝄞 😀 ";
  const unitBytes = Buffer.byteLength(unit);
  let s = unit.repeat(Math.floor(bytes / unitBytes));
  s += "x".repeat(bytes - Buffer.byteLength(s));
  return s;
}

for (const transport of transports()) {
  describe(`over ${transport.name}`, () => {
    test(
      "text round trip: ASCII, non-ASCII, BOM, lone surrogates become U+FFFD",
      T,
      async (t) => {
        const fx = await setup(t, transport);
        const { ws, rec, conn } = await fx.open();
        const sent = [
          "hello",
          "héllo wörld ✓ 日本語 𝄞 😀",
          "\uFEFFstarts with a BOM",
          "a\uD800b",
          "\uDC00",
          "end\uD83D",
        ];
        const wire = [
          "hello",
          "héllo wörld ✓ 日本語 𝄞 😀",
          "\uFEFFstarts with a BOM",
          "a\uFFFDb",
          "\uFFFD",
          "end\uFFFD",
        ];
        for (const s of sent) ws.send(s);
        const got = await conn.messagesUntil(sent.length);
        for (let i = 0; i < sent.length; i++) {
          assert.equal(got[i].isBinary, false, `message ${i} is text`);
          assert.deepEqual(
            got[i].data,
            Buffer.from(wire[i], "utf8"),
            `message ${i} bytes`,
          );
        }
        // The lone surrogate is U+FFFD (EF BF BD) on the wire.
        assert.deepEqual([...got[3].data], [0x61, 0xef, 0xbf, 0xbd, 0x62]);
        for (let i = 0; i < sent.length; i++) {
          const event = await rec.next("message");
          assert.equal(typeof event.data, "string");
          assert.equal(event.data, wire[i]);
          assert.equal(event.origin, new URL(ws.url).origin);
        }
      },
    );

    test(
      'binary with binaryType "arraybuffer": data is an ArrayBuffer',
      T,
      async (t) => {
        const fx = await setup(t, transport);
        const { ws, rec } = fx.connect();
        ws.binaryType = "arraybuffer";
        await rec.next("open");
        const conn = await fx.server.connection(0);
        const small = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
        const medium = randomBytes(300); // 16-bit length
        const large = randomBytes(70000); // 64-bit length
        for (const b of [small, medium, large])
          conn.ws.send(b, { binary: true });
        for (const b of [small, medium, large]) {
          const { data } = await rec.next("message");
          assert.ok(
            data instanceof ArrayBuffer,
            `data is an ArrayBuffer, got ${data}`,
          );
          assert.equal(data.byteLength, b.length);
          assert.deepEqual(Buffer.from(data), b);
        }
      },
    );

    test(
      'binary with the default binaryType "blob": data is a Blob',
      T,
      async (t) => {
        const fx = await setup(t, transport);
        const { ws, rec, conn } = await fx.open();
        assert.equal(ws.binaryType, "blob");
        const small = Buffer.from([0, 1, 2, 250, 255]);
        const large = randomBytes(70000);
        conn.ws.send(small, { binary: true });
        conn.ws.send(large, { binary: true });
        for (const b of [small, large]) {
          const { data } = await rec.next("message");
          assert.ok(data instanceof Blob, `data is a Blob, got ${data}`);
          assert.equal(data.size, b.length);
          assert.deepEqual(await bytesOf(data), b);
        }
      },
    );

    test(
      "sends ArrayBuffer, Uint8Array, DataView and Int16Array views at an offset, Blob",
      T,
      async (t) => {
        const fx = await setup(t, transport);
        const { ws, conn } = await fx.open();
        const backing = new ArrayBuffer(16);
        new Uint8Array(backing).forEach((_, i, a) => (a[i] = i + 100));
        const items = [
          [new Uint8Array([1, 2, 3, 4]).buffer, [1, 2, 3, 4]],
          [
            new Uint8Array([9, 8, 7, 6, 5, 4, 3, 2, 1]).subarray(2, 6),
            [7, 6, 5, 4],
          ],
          [new DataView(backing, 3, 5), [103, 104, 105, 106, 107]],
          [new Int16Array(backing, 6, 3), [106, 107, 108, 109, 110, 111]],
          [
            new Blob(["blob:", new Uint8Array([0, 255, 128])]),
            [...Buffer.from("blob:"), 0, 255, 128],
          ],
          [Buffer.from("node buffer"), [...Buffer.from("node buffer")]],
          [
            new Float64Array([1.5]),
            [...new Uint8Array(new Float64Array([1.5]).buffer)],
          ],
        ];
        for (const [data] of items) ws.send(data);
        ws.send("text after the blob");
        const got = await conn.messagesUntil(items.length + 1);
        for (let i = 0; i < items.length; i++) {
          assert.equal(got[i].isBinary, true, `message ${i} is binary`);
          assert.deepEqual([...got[i].data], items[i][1], `message ${i} bytes`);
        }
        assert.equal(got[items.length].isBinary, false);
        assert.equal(got[items.length].data.toString(), "text after the blob");
      },
    );

    test("empty text and empty binary messages, both ways", T, async (t) => {
      const fx = await setup(t, transport);
      const { ws, rec, conn } = await fx.open();
      ws.binaryType = "arraybuffer";
      ws.send("");
      ws.send(new ArrayBuffer(0));
      ws.send(new Uint8Array(0));
      ws.send(new Blob([]));
      const got = await conn.messagesUntil(4);
      assert.deepEqual(
        got.map((m) => [m.isBinary, m.data.length]),
        [
          [false, 0],
          [true, 0],
          [true, 0],
          [true, 0],
        ],
      );
      // Echoed back.
      const e0 = await rec.next("message");
      assert.equal(e0.data, "");
      for (let i = 1; i < 4; i++) {
        const { data } = await rec.next("message");
        assert.ok(data instanceof ArrayBuffer, `echo ${i} is an ArrayBuffer`);
        assert.equal(data.byteLength, 0);
      }
      // Server-sent empty binary with binaryType "blob".
      ws.binaryType = "blob";
      conn.ws.send(Buffer.alloc(0), { binary: true });
      const { data } = await rec.next("message");
      assert.ok(data instanceof Blob);
      assert.equal(data.size, 0);
    });

    test(
      "a 16 MiB binary message both ways (server echo), checked by hash",
      T,
      async (t) => {
        const fx = await setup(t, transport);
        const { ws, rec, conn } = await fx.open();
        ws.binaryType = "arraybuffer";
        const payload = randomBytes(16 * MiB);
        const hash = sha256(payload);
        ws.send(payload);
        const [got] = await conn.messagesUntil(1, { timeout: 15000 });
        assert.equal(got.isBinary, true);
        assert.equal(got.data.length, 16 * MiB);
        assert.equal(sha256(got.data), hash, "server received the bytes sent");
        const { data } = await rec.next("message", { timeout: 15000 });
        assert.ok(data instanceof ArrayBuffer);
        assert.equal(data.byteLength, 16 * MiB);
        assert.equal(sha256(data), hash, "client received the bytes echoed");
      },
    );

    test(
      "a 16 MiB text message both ways (server echo), checked by hash",
      T,
      async (t) => {
        const fx = await setup(t, transport);
        const { ws, rec, conn } = await fx.open();
        const text = bigText(16 * MiB);
        const hash = sha256(text);
        ws.send(text);
        const [got] = await conn.messagesUntil(1, { timeout: 15000 });
        assert.equal(got.isBinary, false);
        assert.equal(got.data.length, 16 * MiB);
        assert.equal(
          sha256(got.data),
          hash,
          "server received the UTF-8 of the string",
        );
        const { data } = await rec.next("message", { timeout: 15000 });
        assert.equal(typeof data, "string");
        assert.equal(data.length, text.length);
        assert.equal(sha256(data), hash, "client received the string echoed");
      },
    );

    test(
      "subprotocol chosen by the server, extra headers and origin reach the server",
      T,
      async (t) => {
        const offered = [];
        const fx = await setup(t, transport, {
          handleProtocols: (protocols) => {
            offered.push([...protocols]);
            return "chat.v2";
          },
        });
        const { ws, rec } = fx.connect({
          path: "/room?id=7",
          protocols: ["chat.v1", "chat.v2"],
          options: {
            headers: { "X-Custom": "custom value", "X-Token": "abc123" },
            origin: "https://app.example",
          },
        });
        assert.equal(ws.protocol, "");
        await rec.next("open");
        assert.equal(ws.protocol, "chat.v2");
        assert.equal(ws.extensions, "");
        const conn = await fx.server.connection(0);
        assert.deepEqual(offered, [["chat.v1", "chat.v2"]]);
        assert.equal(conn.ws.protocol, "chat.v2");
        assert.equal(conn.req.url, "/room?id=7");
        assert.equal(conn.req.headers["x-custom"], "custom value");
        assert.equal(conn.req.headers["x-token"], "abc123");
        assert.equal(conn.req.headers.origin, "https://app.example");
        // Offered as browsers offer it; this ws server accepts none.
        assert.equal(
          conn.req.headers["sec-websocket-extensions"],
          "permessage-deflate; client_max_window_bits",
        );
      },
    );

    test("server-initiated close with code and reason", T, async (t) => {
      const fx = await setup(t, transport);
      const { ws, rec, conn } = await fx.open();
      conn.ws.close(4321, "server says bye ☃");
      const event = await rec.next("close");
      assert.equal(event.code, 4321);
      assert.equal(event.reason, "server says bye ☃");
      assert.equal(event.wasClean, true);
      assert.equal(ws.readyState, WebSocket.CLOSED);
      assert.deepEqual(rec.types, ["open", "close"]);
      // The client's reply echoes the code (RFC 6455 5.5.1); the reason is optional.
      assert.equal((await conn.closedPromise()).code, 4321);
    });

    test('client-initiated close(4000, "bye")', T, async (t) => {
      const fx = await setup(t, transport);
      const { ws, rec, conn } = await fx.open();
      ws.close(4000, "bye");
      assert.equal(ws.readyState, WebSocket.CLOSING);
      assert.deepEqual(await conn.closedPromise(), {
        code: 4000,
        reason: "bye",
      });
      const event = await rec.next("close");
      assert.equal(event.wasClean, true);
      assert.equal(event.code, 4000); // ws echoes the code and reason
      assert.equal(event.reason, "bye");
      assert.equal(ws.readyState, WebSocket.CLOSED);
      assert.deepEqual(rec.types, ["open", "close"]);
    });

    test(
      "1000 messages sent right before close() all arrive before the close",
      T,
      async (t) => {
        const fx = await setup(t, transport, { echo: false });
        const { ws, rec, conn } = await fx.open();
        for (let i = 0; i < 1000; i++) ws.send(`message ${i}`);
        ws.close();
        const closed = await conn.closedPromise();
        assert.equal(closed.code, 1005);
        assert.equal(conn.messages.length, 1000);
        conn.messages.forEach((m, i) =>
          assert.equal(m.data.toString(), `message ${i}`),
        );
        assert.equal(conn.log.length, 1001);
        assert.equal(conn.log.at(-1), "close");
        const event = await rec.next("close");
        assert.equal(event.wasClean, true);
        assert.equal(event.code, 1005);
      },
    );
  });
}

describe("handshake", () => {
  test("a single subprotocol string is offered and selected", T, async (t) => {
    const fx = await setup(t, NET, {
      handleProtocols: (protocols) => [...protocols][0],
    });
    const { ws, conn } = await fx.open({ protocols: "superchat" });
    assert.equal(ws.protocol, "superchat");
    assert.equal(conn.req.headers["sec-websocket-protocol"], "superchat");
  });

  test(
    "no Sec-WebSocket-Protocol header is sent when no protocol is given",
    T,
    async (t) => {
      const fx = await setup(t, NET);
      const { ws, conn } = await fx.open();
      assert.equal(ws.protocol, "");
      assert.equal(conn.req.headers["sec-websocket-protocol"], undefined);
    },
  );

  test(
    "headers given as an iterable of pairs reach the server",
    T,
    async (t) => {
      const fx = await setup(t, NET);
      const { conn } = await fx.open({
        options: {
          headers: [
            ["X-One", "1"],
            ["X-Two", "two"],
          ],
        },
      });
      assert.equal(conn.req.headers["x-one"], "1");
      assert.equal(conn.req.headers["x-two"], "two");
    },
  );

  test(
    "a server that selects a protocol that was not offered fails the connection",
    T,
    async (t) => {
      const fx = await setup(t, NET, { handleProtocols: () => "other" });
      const { ws, rec } = fx.connect({ protocols: ["chat"] });
      const close = await rec.next("close");
      assert.deepEqual(rec.types, ["error", "close"]);
      assert.equal(close.code, 1006);
      assert.equal(close.wasClean, false);
      assert.equal(ws.readyState, WebSocket.CLOSED);
    },
  );

  test(
    "a server that selects no protocol when one was requested fails the connection",
    T,
    async (t) => {
      // Fetch, "establish a WebSocket connection": protocols requested and no
      // Sec-WebSocket-Protocol in the response → fail the connection.
      const fx = await setup(t, NET, { handleProtocols: () => false });
      const { rec } = fx.connect({ protocols: ["chat"] });
      const close = await rec.next("close");
      assert.deepEqual(rec.types, ["error", "close"]);
      assert.equal(close.code, 1006);
      assert.equal(close.wasClean, false);
    },
  );

  test("http: and https: URLs are mapped to ws: and wss:", T, async (t) => {
    const fx = await setup(t, NET);
    const ws = new WebSocket(`http://127.0.0.1:${fx.server.port}/path?x=1`);
    assert.equal(ws.url, `ws://127.0.0.1:${fx.server.port}/path?x=1`);
    const rec = record(ws);
    await rec.next("open");
    const conn = await fx.server.connection(0);
    assert.equal(conn.req.url, "/path?x=1");
    ws.close();
    await rec.next("close");

    const tlsFx = await setup(t, transports()[1]);
    const wss = new WebSocket(
      `https://127.0.0.1:${tlsFx.server.port}/secure`,
      [],
      {
        tls: { ca: cert().cert },
      },
    );
    assert.equal(wss.url, `wss://127.0.0.1:${tlsFx.server.port}/secure`);
    const trec = record(wss);
    await trec.next("open");
    assert.equal((await tlsFx.server.connection(0)).req.url, "/secure");
    wss.close();
    await trec.next("close");
  });

  test(
    "wss: without the CA fails: certificate checks are on by default",
    T,
    async (t) => {
      const fx = await setup(t, transports()[1]);
      const ws = new WebSocket(fx.server.url("/"));
      const rec = record(ws);
      const close = await rec.next("close");
      assert.deepEqual(rec.types, ["error", "close"]);
      assert.equal(close.code, 1006);
      assert.equal(close.wasClean, false);
      assert.equal(ws.readyState, WebSocket.CLOSED);
      assert.equal(
        fx.server.connections.length,
        0,
        "no WebSocket connection was accepted",
      );
    },
  );

  test("a refused TCP connection gives error then close 1006", T, async () => {
    const probe = net.createServer();
    await new Promise((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const { port } = probe.address();
    await new Promise((resolve) => probe.close(resolve));
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    const rec = record(ws);
    const close = await rec.next("close");
    assert.deepEqual(rec.types, ["error", "close"]);
    assert.equal(close.code, 1006);
    assert.equal(close.wasClean, false);
  });

  test(
    "a transport that is already closed gives error then close 1006, asynchronously",
    T,
    async (t) => {
      const fx = await setup(t, NET);
      const socket = net.connect({ host: "127.0.0.1", port: fx.server.port });
      socket.on("error", () => {});
      socket.destroy();
      const ws = new WebSocket(fx.server.url("/"), [], { transport: socket });
      assert.equal(ws.readyState, WebSocket.CONNECTING);
      const rec = record(ws);
      const close = await rec.next("close");
      assert.deepEqual(rec.types, ["error", "close"]);
      assert.equal(close.code, 1006);
      assert.equal(close.wasClean, false);
    },
  );
});

describe("exceptions", () => {
  test(
    "constructor: SyntaxError for invalid URLs, schemes, fragments and protocols",
    T,
    async (t) => {
      const fx = await setup(t, NET);
      const base = fx.server.url("/");
      const badURLs = [
        "not a url",
        "/relative/path",
        "ws://",
        "ftp://127.0.0.1/",
        "file:///tmp/socket",
        "javascript:alert(1)",
        `${base}#fragment`,
        `${base}#`,
        `ws://127.0.0.1:${fx.server.port}#`,
      ];
      for (const url of badURLs) {
        assertDOMException(() => new WebSocket(url), "SyntaxError");
      }
      const badProtocols = [
        "",
        ["a", "A"],
        ["chat", "Chat"],
        "a b",
        "a,b",
        ["ok", ""],
        ["x\u00e9"],
        ["a;b"],
      ];
      for (const protocols of badProtocols) {
        assertDOMException(() => new WebSocket(base, protocols), "SyntaxError");
      }
      await delay(100);
      assert.equal(fx.server.tcpConnections, 0, "no connection was attempted");
    },
  );

  test(
    "send() while CONNECTING throws InvalidStateError and sends nothing",
    T,
    async (t) => {
      const fx = await setup(t, NET);
      const { ws, rec } = fx.connect();
      assertDOMException(() => ws.send("too early"), "InvalidStateError");
      assertDOMException(() => ws.send(new Uint8Array(4)), "InvalidStateError");
      assert.equal(ws.bufferedAmount, 0);
      assert.equal(ws.readyState, WebSocket.CONNECTING);
      await rec.next("open");
      const conn = await fx.server.connection(0);
      ws.send("after open");
      const [first] = await conn.messagesUntil(1);
      assert.equal(first.data.toString(), "after open");
    },
  );

  test(
    "close() with codes other than 1000 and 3000-4999 throws InvalidAccessError",
    T,
    async (t) => {
      const fx = await setup(t, NET);
      // While CONNECTING too: the arguments are checked first.
      const early = fx.connect();
      assertDOMException(() => early.ws.close(1001), "InvalidAccessError");
      assert.equal(early.ws.readyState, WebSocket.CONNECTING);
      await early.rec.next("open");

      const { ws, rec } = early;
      for (const code of [1001, 2999, 5000, 0, 1005, 1006, 1015, 65535]) {
        assertDOMException(() => ws.close(code), "InvalidAccessError");
        assertDOMException(
          () => ws.close(code, "reason"),
          "InvalidAccessError",
        );
      }
      assert.equal(ws.readyState, WebSocket.OPEN);
      ws.send("still open");
      assert.equal((await rec.next("message")).data, "still open");
    },
  );

  test(
    "close() with a reason over 123 UTF-8 bytes throws SyntaxError; 123 bytes is fine",
    T,
    async (t) => {
      const fx = await setup(t, NET);
      const { ws, rec, conn } = await fx.open();
      const tooLong = "é".repeat(62); // 124 bytes, 62 code units
      assertDOMException(() => ws.close(1000, tooLong), "SyntaxError");
      assertDOMException(() => ws.close(4000, "x".repeat(124)), "SyntaxError");
      assert.equal(ws.readyState, WebSocket.OPEN);
      const longest = "é".repeat(61) + "a"; // 123 bytes
      ws.close(1000, longest);
      assert.deepEqual(await conn.closedPromise(), {
        code: 1000,
        reason: longest,
      });
      const event = await rec.next("close");
      assert.equal(event.wasClean, true);
      assert.equal(event.code, 1000);
    },
  );

  test(
    "close() with only a reason sends code 1000; close() with nothing sends no code",
    T,
    async (t) => {
      const fx = await setup(t, NET);
      const a = await fx.open();
      a.ws.close(undefined, "just a reason");
      assert.deepEqual(await a.conn.closedPromise(), {
        code: 1000,
        reason: "just a reason",
      });
      const b = await fx.open();
      b.ws.close();
      assert.deepEqual(await b.conn.closedPromise(), {
        code: 1005,
        reason: "",
      });
      const event = await b.rec.next("close");
      assert.equal(event.code, 1005);
      assert.equal(event.wasClean, true);
    },
  );

  for (const args of [[], [1000], [4000, "bye"]]) {
    test(
      `close(${args.map((a) => JSON.stringify(a)).join(", ")}) while CONNECTING fails the connection`,
      T,
      async (t) => {
        const fx = await setup(t, NET);
        const { ws, rec } = fx.connect();
        ws.close(...args);
        assert.equal(ws.readyState, WebSocket.CLOSING);
        const event = await rec.next("close");
        assert.deepEqual(rec.types, ["error", "close"]);
        assert.equal(event.code, 1006);
        assert.equal(event.wasClean, false);
        assert.equal(ws.readyState, WebSocket.CLOSED);
        await delay(50);
        assert.deepEqual(rec.types, ["error", "close"], "no event after close");
      },
    );
  }

  test(
    "close() while CONNECTING fires error and close asynchronously, not inside close()",
    T,
    async (t) => {
      const fx = await setup(t, NET);
      const ws = new WebSocket(fx.server.url("/"));
      const seen = [];
      ws.addEventListener("error", () => seen.push("error"));
      ws.addEventListener("close", () => seen.push("close"));
      ws.close();
      assert.deepEqual(
        seen,
        [],
        "no event is dispatched synchronously by close()",
      );
      assert.equal(ws.readyState, WebSocket.CLOSING);
      // A listener added right after close() still hears about it.
      const late = once(ws, "close");
      const event = await late;
      assert.equal(event.code, 1006);
      assert.deepEqual(seen, ["error", "close"]);
    },
  );
});

describe("attributes", () => {
  test("constants on the class, the prototype and instances", T, async (t) => {
    const fx = await setup(t, NET);
    assert.equal(WebSocket.CONNECTING, 0);
    assert.equal(WebSocket.OPEN, 1);
    assert.equal(WebSocket.CLOSING, 2);
    assert.equal(WebSocket.CLOSED, 3);
    assert.equal(WebSocket.prototype.OPEN, 1);
    const { ws, rec } = fx.connect();
    assert.equal(ws.CONNECTING, 0);
    assert.equal(ws.OPEN, 1);
    assert.equal(ws.CLOSING, 2);
    assert.equal(ws.CLOSED, 3);
    assert.equal(ws.readyState, ws.CONNECTING);
    await rec.next("open");
    assert.equal(ws.readyState, WebSocket.OPEN);
    ws.close();
    await rec.next("close");
    assert.equal(ws.readyState, ws.CLOSED);
  });

  test(
    "url is the parsed URL; binaryType ignores invalid values",
    T,
    async (t) => {
      const fx = await setup(t, NET);
      const { ws, rec } = fx.connect({ path: "" });
      assert.equal(ws.url, `ws://127.0.0.1:${fx.server.port}/`);
      assert.equal(ws.binaryType, "blob");
      ws.binaryType = "arraybuffer";
      assert.equal(ws.binaryType, "arraybuffer");
      for (const bad of [
        "text",
        "",
        "BLOB",
        "ArrayBuffer",
        null,
        undefined,
        1,
      ]) {
        ws.binaryType = bad;
        assert.equal(
          ws.binaryType,
          "arraybuffer",
          `after setting ${String(bad)}`,
        );
      }
      ws.binaryType = "blob";
      assert.equal(ws.binaryType, "blob");
      ws.binaryType = "nonsense";
      assert.equal(ws.binaryType, "blob");
      await rec.next("open");
    },
  );
});

describe("bufferedAmount", () => {
  test(
    "rises synchronously by the UTF-8 length and falls back to 0 once written",
    T,
    async (t) => {
      const fx = await setup(t, NET, { echo: false });
      const { ws, conn } = await fx.open();
      assert.equal(ws.bufferedAmount, 0);
      ws.send("héllo"); // 6 bytes
      assert.equal(ws.bufferedAmount, 6);
      ws.send(new Uint8Array(10));
      assert.equal(ws.bufferedAmount, 16);
      ws.send("\uD800"); // U+FFFD: 3 bytes
      assert.equal(ws.bufferedAmount, 19);
      ws.send(new Blob(["1234567"]));
      assert.equal(ws.bufferedAmount, 26);
      ws.send(new DataView(new ArrayBuffer(20), 4, 8));
      assert.equal(ws.bufferedAmount, 34);
      await waitFor(() => ws.bufferedAmount === 0);
      await conn.messagesUntil(5);

      // A large message stays buffered for a while, then drains.
      ws.send(new Uint8Array(8 * MiB));
      assert.equal(ws.bufferedAmount, 8 * MiB);
      await waitFor(() => ws.bufferedAmount === 0);
      await conn.messagesUntil(6);
    },
  );

  test(
    "after close(), sends are not transmitted but bufferedAmount grows",
    T,
    async (t) => {
      const fx = await setup(t, NET, { echo: false });
      const { ws, rec, conn } = await fx.open();
      ws.send("before close");
      ws.close(4000, "done");
      const before = ws.bufferedAmount;
      ws.send("abc");
      assert.equal(ws.bufferedAmount, before + 3);
      ws.send(new Uint8Array(5));
      assert.equal(ws.bufferedAmount, before + 8);
      ws.send(new Blob(["xy"]));
      assert.equal(ws.bufferedAmount, before + 10);
      ws.send("é");
      assert.equal(ws.bufferedAmount, before + 12);
      await rec.next("close");
      assert.deepEqual(await conn.closedPromise(), {
        code: 4000,
        reason: "done",
      });
      assert.equal(conn.messages.length, 1);
      assert.equal(conn.messages[0].data.toString(), "before close");
      // Still counted after the connection closed, and still growing.
      assert.equal(ws.bufferedAmount, 12);
      ws.send("more");
      assert.equal(ws.bufferedAmount, 16);
      await delay(50);
      assert.equal(conn.messages.length, 1);
      assert.deepEqual(rec.types, ["open", "close"]);
    },
  );
});

describe("wasClean", () => {
  /** A client over a scripted transport that answers the handshake, sends a
   * close frame, then ends; `takes` says whether it takes our close. */
  async function closeOver(takes) {
    let sink;
    const transport = {
      start(s) {
        sink = s;
      },
      write(bytes, done) {
        const text = Buffer.from(bytes).toString("latin1");
        const key = /Sec-WebSocket-Key: (\S+)/i.exec(text)?.[1];
        if (key) {
          done();
          const accept = createHash("sha1")
            .update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
            .digest("base64");
          setTimeout(() => {
            sink.data(
              Buffer.from(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
                  `Connection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
              ),
            );
            sink.data(Buffer.from([0x88, 0x02, 0x03, 0xe8]));
          });
          return;
        }
        // Our answering close frame.
        if (takes) done();
        setTimeout(() => sink.closed());
      },
      end() {},
      destroy() {},
    };
    const ws = new WebSocket("ws://example.com/", [], { transport });
    return once(ws, "close");
  }

  test(
    "a close the transport took is clean; one it never took is not",
    T,
    async () => {
      const taken = await closeOver(true);
      assert.equal(taken.code, 1000);
      assert.equal(taken.wasClean, true);
      const lost = await closeOver(false);
      assert.equal(lost.code, 1000);
      assert.equal(lost.wasClean, false);
    },
  );
});

describe("events", () => {
  test(
    "open comes before messages the server sends right away",
    T,
    async (t) => {
      const fx = await setup(t, NET, {
        onConnection: (conn) => {
          conn.ws.send("one");
          conn.ws.send("two");
          conn.ws.send(Buffer.from([3]), { binary: true });
        },
      });
      const { ws, rec } = fx.connect();
      let stateAtOpen;
      let messagesAtOpen;
      ws.addEventListener("open", () => {
        stateAtOpen = ws.readyState;
        messagesAtOpen = rec.of("message").length;
      });
      ws.binaryType = "arraybuffer";
      await rec.next("message");
      await rec.next("message");
      const third = await rec.next("message");
      assert.deepEqual(rec.types, ["open", "message", "message", "message"]);
      assert.equal(stateAtOpen, WebSocket.OPEN);
      assert.equal(messagesAtOpen, 0);
      assert.deepEqual(
        rec
          .of("message")
          .map((e) => e.data)
          .slice(0, 2),
        ["one", "two"],
      );
      assert.deepEqual([...new Uint8Array(third.data)], [3]);
    },
  );

  test(
    "normal close: no error event, close is last, nothing after it",
    T,
    async (t) => {
      const fx = await setup(t, NET);
      const { ws, rec, conn } = await fx.open();
      ws.send("ping");
      await rec.next("message");
      ws.close(1000, "normal");
      const event = await rec.next("close");
      assert.equal(event.code, 1000);
      assert.equal(event.reason, "normal");
      assert.equal(event.wasClean, true);
      ws.send("after close");
      assert.throws(() => ws.close(1001), DOMException);
      ws.close(); // no-op
      await delay(200);
      assert.deepEqual(rec.types, ["open", "message", "close"]);
      assert.equal(rec.of("error").length, 0);
      assert.equal(conn.messages.length, 1);
    },
  );

  test(
    "messages the server sends before its close are all delivered first",
    T,
    async (t) => {
      const fx = await setup(t, NET, {
        onConnection: (conn) => {
          for (let i = 0; i < 100; i++) conn.ws.send(`m${i}`);
          conn.ws.close(4002, "after 100");
        },
      });
      const { ws, rec } = fx.connect();
      const event = await rec.next("close");
      assert.equal(event.code, 4002);
      assert.equal(event.reason, "after 100");
      assert.equal(event.wasClean, true);
      const messages = rec.of("message").map((e) => e.data);
      assert.deepEqual(
        messages,
        Array.from({ length: 100 }, (_, i) => `m${i}`),
      );
      assert.equal(rec.types[0], "open");
      assert.equal(rec.types.at(-1), "close");
      assert.equal(ws.readyState, WebSocket.CLOSED);
    },
  );

  test(
    "what arrives after close() is dropped; control close with keepReading delivers it",
    T,
    async (t) => {
      const fx = await setup(t, NET);
      const plain = await fx.open();
      plain.ws.send("dropped");
      plain.ws.close(1000);
      assert.equal((await plain.rec.next("close")).wasClean, true);
      assert.deepEqual(plain.rec.types, ["open", "close"], "WHATWG drops it");

      const { ws, rec } = await fx.open();
      const pongs = [];
      ws.addEventListener("pong", (event) => pongs.push(event.data));
      ws.send("kept");
      control(ws).ping("p");
      control(ws).close(1000, "", { keepReading: true });
      assert.equal(ws.readyState, WebSocket.CLOSING);
      const event = await rec.next("close");
      assert.equal(event.wasClean, true);
      assert.deepEqual(rec.types, ["open", "message", "close"]);
      assert.equal(rec.of("message")[0].data, "kept");
      assert.deepEqual(
        pongs.map((p) => Buffer.from(p).toString()),
        ["p"],
      );
    },
  );

  test(
    "close() after a quiet spell longer than closeTimeout is still clean",
    T,
    async (t) => {
      const fx = await setup(t, NET);
      const { ws, rec } = await fx.open({ options: { closeTimeout: 200 } });
      // The timeout counts from close(), not from the last thing heard.
      await delay(400);
      ws.close(1000);
      const event = await rec.next("close");
      assert.equal(event.code, 1000);
      assert.equal(event.wasClean, true);
    },
  );

  test(
    "the server dropping the TCP connection gives close 1006, wasClean false",
    T,
    async (t) => {
      const fx = await setup(t, NET);
      const { ws, rec, conn } = await fx.open();
      conn.ws.terminate();
      const event = await rec.next("close");
      assert.equal(event.code, 1006);
      assert.equal(event.wasClean, false);
      assert.equal(ws.readyState, WebSocket.CLOSED);
      assert.equal(rec.types[0], "open");
      assert.equal(rec.types.at(-1), "close");
      await delay(50);
      assert.equal(rec.types.at(-1), "close", "no event after close");
    },
  );

  test(
    "a Blob sent before close() is delivered in order before the close",
    T,
    async (t) => {
      const fx = await setup(t, NET, { echo: false });
      const { ws, rec, conn } = await fx.open();
      ws.send("a");
      ws.send(new Blob(["b"]));
      ws.send("c");
      ws.close(4001, "done");
      assert.equal(ws.readyState, WebSocket.CLOSING);
      assert.deepEqual(await conn.closedPromise(), {
        code: 4001,
        reason: "done",
      });
      assert.deepEqual(
        conn.messages.map((m) => [m.isBinary, m.data.toString()]),
        [
          [false, "a"],
          [true, "b"],
          [false, "c"],
        ],
      );
      assert.deepEqual(conn.log, ["message", "message", "message", "close"]);
      assert.equal((await rec.next("close")).wasClean, true);
    },
  );

  test("on* attributes and addEventListener both fire", T, async (t) => {
    const fx = await setup(t, NET);
    const { ws, rec } = fx.connect();
    const calls = [];
    let thisValue;
    ws.onopen = function (event) {
      thisValue = this;
      calls.push(["onopen", event.type]);
    };
    ws.addEventListener("open", (event) =>
      calls.push(["listener", event.type]),
    );
    ws.onmessage = (event) => calls.push(["onmessage", event.data]);
    ws.addEventListener("message", (event) =>
      calls.push(["listener", event.data]),
    );
    ws.onclose = (event) => calls.push(["onclose", event.code]);
    ws.addEventListener("close", (event) =>
      calls.push(["listener", event.code]),
    );
    assert.equal(typeof ws.onopen, "function");
    assert.equal(ws.onerror, null);
    await rec.next("open");
    ws.send("hi");
    await rec.next("message");
    ws.close(4000);
    await rec.next("close");
    assert.equal(thisValue, ws);
    assert.deepEqual(calls, [
      ["onopen", "open"],
      ["listener", "open"],
      ["onmessage", "hi"],
      ["listener", "hi"],
      ["onclose", 4000],
      ["listener", 4000],
    ]);
  });

  test("onerror fires for a failed connection", T, async () => {
    const probe = net.createServer();
    await new Promise((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const { port } = probe.address();
    await new Promise((resolve) => probe.close(resolve));
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    const calls = [];
    ws.onerror = (event) => calls.push(event.type);
    ws.onclose = (event) => calls.push(`${event.type} ${event.code}`);
    await once(ws, "close");
    assert.deepEqual(calls, ["error", "close 1006"]);
  });

  test(
    "setting onmessage twice replaces the handler (keeping its place); null removes it",
    T,
    async (t) => {
      const fx = await setup(t, NET);
      const { ws, rec } = await fx.open();
      const calls = [];
      const first = (e) => calls.push(["first", e.data]);
      const second = (e) => calls.push(["second", e.data]);
      const third = (e) => calls.push(["third", e.data]);
      ws.onmessage = first;
      ws.addEventListener("message", (e) => calls.push(["listener", e.data]));
      ws.onmessage = second;
      assert.equal(ws.onmessage, second);
      ws.send("1");
      await rec.next("message");
      assert.deepEqual(calls, [
        ["second", "1"],
        ["listener", "1"],
      ]);
      calls.length = 0;
      ws.onmessage = null;
      assert.equal(ws.onmessage, null);
      ws.send("2");
      await rec.next("message");
      assert.deepEqual(calls, [["listener", "2"]]);
      calls.length = 0;
      ws.onmessage = third;
      ws.send("3");
      await rec.next("message");
      assert.deepEqual(calls, [
        ["listener", "3"],
        ["third", "3"],
      ]);
    },
  );

  test("a listener that throws does not break the connection", T, async (t) => {
    const fx = await setup(t, NET);
    const { ws, rec, conn } = await fx.open();
    const swallowed = swallowUncaughtExceptions();
    t.after(() => swallowed.restore());
    const after = [];
    ws.onmessage = () => {
      throw new Error("listener failure");
    };
    ws.addEventListener("message", (e) => after.push(e.data));
    conn.ws.send("first");
    await rec.next("message");
    conn.ws.send("second");
    await rec.next("message");
    await waitFor(() => swallowed.errors.length >= 2);
    swallowed.restore();
    assert.deepEqual(after, ["first", "second"]);
    assert.deepEqual(
      swallowed.errors.map((e) => e.message),
      ["listener failure", "listener failure"],
    );
    assert.equal(ws.readyState, WebSocket.OPEN);
    ws.onmessage = null;
    ws.send("still works");
    assert.equal((await rec.next("message")).data, "still works");
    assert.equal(conn.messages.at(-1).data.toString(), "still works");
    ws.close(1000);
    const event = await rec.next("close");
    assert.equal(event.wasClean, true);
    assert.equal(rec.of("error").length, 0);
  });
});
