// The Deno side of the WebTransport test (run.mjs starts it): a real HTTP/3
// WebTransport server on 127.0.0.1 that hands every bidirectional stream a
// client opens to the package's server side (from its runtime-neutral
// entry), as a user's server would. The WebSocket request path picks what
// the server does:
//
//   /echo              echoes every message
//   /close?code&reason closes first, with that code and reason
//   /drop              drops its stream when a message arrives: ends its
//                      side with no close frame and stops reading
//   /report?of=ID      sends, as JSON, how the socket opened with ?id=ID
//                      closed as the server saw it, then closes
//   /end-session       closes the whole WebTransport session when a
//                      message arrives
//
//   TEST_CERT=<PEM> TEST_KEY=<PEM> deno run --unstable-net --allow-net=127.0.0.1
//     --allow-env=TEST_CERT,TEST_KEY --allow-read=pkg/wasm server.js
//
// Prints the UDP port as its first line; exits when its stdin ends, so it
// never outlives the test that started it.
//
// Streams come from the QUIC connection, not from the WebTransport object:
// in Deno 2.9, closing, aborting or cancelling the streams of
// `wt.incomingBidirectionalStreams` does nothing on the wire (no FIN, no
// STOP_SENDING; denoland/deno#36822), so a WebSocket over one could never
// end its stream and every client would wait out its close timeout. Deno has
// no way to send RESET_STREAM at all: aborting a QUIC send stream finishes
// it, hence /drop.

import { streamTransport, WebSocketServer } from "../../pkg/lib/browser.js";
import { StreamHead } from "../../pkg/lib/webtransport-tunnel.js";

const endpoint = new Deno.QuicEndpoint({ hostname: "127.0.0.1", port: 0 });
const listener = endpoint.listen({
  cert: Deno.env.get("TEST_CERT"),
  key: Deno.env.get("TEST_KEY"),
  alpnProtocols: ["h3"],
});

/** Subprotocols this server speaks, most preferred first. */
const PROTOCOLS = ["echo.v2", "echo.v1"];
const server = new WebSocketServer({
  handleProtocols: (offered) =>
    PROTOCOLS.find((p) => offered.includes(p)) ?? false,
});

/** id → { promise, resolve } of the close event the server saw. */
const closes = new Map();
function closeOf(id) {
  let entry = closes.get(id);
  if (!entry) {
    entry = {};
    entry.promise = new Promise((resolve) => (entry.resolve = resolve));
    closes.set(id, entry);
  }
  return entry;
}

/**
 * The rest of a client-opened QUIC stream after its WebTransport header
 * (two varints: stream type 0x41, session id; one session per connection).
 */
async function afterHeader(readable) {
  const head = new StreamHead(readable.getReader());
  if ((await head.varint()) !== 0x41)
    throw new Error("not a WebTransport stream");
  await head.varint();
  return head.rest();
}

async function serve(wt, stream) {
  const readable = await afterHeader(stream.readable);
  // The transport, not the bare stream pair, so that /drop can end it.
  const transport = streamTransport({ readable, writable: stream.writable });
  const ws = await server.accept(transport);
  if (!ws) return;
  const url = new URL(ws.url);
  const id = url.searchParams.get("id");
  ws.binaryType = "arraybuffer";
  ws.onclose = (e) => {
    if (id)
      closeOf(id).resolve({
        code: e.code,
        reason: e.reason,
        wasClean: e.wasClean,
      });
  };
  switch (url.pathname) {
    case "/echo":
      ws.onmessage = (e) => ws.send(e.data);
      break;
    case "/close":
      ws.close(
        Number(url.searchParams.get("code")),
        url.searchParams.get("reason") ?? "",
      );
      break;
    case "/drop":
      ws.onmessage = () => transport.destroy();
      break;
    case "/report": {
      const seen = await closeOf(url.searchParams.get("of")).promise;
      ws.send(JSON.stringify(seen));
      ws.close(1000);
      break;
    }
    case "/end-session":
      ws.onmessage = () => wt.close();
      break;
    default:
      ws.close(4404, "unknown path");
  }
}

async function session(incoming) {
  try {
    const conn = await incoming.accept();
    const wt = await Deno.upgradeWebTransport(conn);
    await wt.ready;
    for await (const stream of conn.incomingBidirectionalStreams) {
      serve(wt, stream).catch((e) => console.error("stream:", e));
    }
  } catch (e) {
    console.error("session:", e);
  }
}

console.log(endpoint.addr.port);
(async () => {
  for await (const incoming of listener) session(incoming);
})();
for await (const _ of Deno.stdin.readable);
Deno.exit(0);
