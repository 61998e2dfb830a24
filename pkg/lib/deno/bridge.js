// Deno only (run with --unstable-net): the bridge's WebTransport way in.
// A page opens a WebTransport session to it over HTTP/3, and each
// bidirectional stream of the session is one tunnel, the raw bytes of a TCP
// or TLS connection to one allowed target (see ../webtransport-tunnel.js for
// the page's side and the line each way that opens a stream). The policy is
// the WebSocket bridge's (../bridge-policy.js): allowed targets, page
// origins, a cap on tunnels open at once, the same refusals in the same
// words, each an ERROR line to the page and a log line here.
//
// The page's Origin is the CONNECT request's, which Deno's own
// `upgradeWebTransport` does not expose (it hands over the URL only): the
// bridge accepts sessions itself (./h3.js) to read it. A request without
// one counts as "null", as for the WebSocket bridge; nothing the page sends
// on a stream can stand in for it. The bridge has no page of its own, so
// only the listed origins are served.
//
// Streams are the QUIC connection's (Deno 2.9's WebTransport streams never
// end on the wire, denoland/deno#36822). Both ways are flow-controlled by
// the streams' backpressure.

import { bridgePolicy, splitTarget, unreachable } from "../bridge-policy.js";
import { StreamHead } from "../webtransport-tunnel.js";
import { acceptWebTransport } from "./h3.js";

/** Ms a page has to send its request line. */
const REQUEST_TIMEOUT = 10000;
/** Ms a target has to finish once the page ended its side, before it is cut. */
const LINGER = 5000;

/**
 * Starts a WebTransport bridge on UDP `hostname`:`port` (default
 * 127.0.0.1, a free port) with the PEM `cert` and `key` (ECDSA P-256, valid
 * at most 14 days, for pages that trust it by its hash). Options as
 * createBridge's: `allow`, `origins`, `maxTunnels`, `log`, and `tls`
 * (options of Deno.connectTls, e.g. `caCerts`). Returns `{ port, close() }`.
 */
export function createWebTransportBridge(options) {
  if (typeof Deno?.QuicEndpoint !== "function")
    throw new TypeError(
      "the WebTransport bridge needs Deno run with --unstable-net",
    );
  const policy = bridgePolicy(options);
  const log = options.log ?? (() => {});
  const endpoint = new Deno.QuicEndpoint({
    hostname: options.hostname ?? options.host ?? "127.0.0.1",
    port: options.port ?? 0,
  });
  const listener = endpoint.listen({
    cert: options.cert,
    key: options.key,
    alpnProtocols: ["h3"],
  });
  const connections = new Set();
  const serve = async (incoming) => {
    let conn;
    try {
      conn = await incoming.accept();
      connections.add(conn);
      const session = await acceptWebTransport(conn);
      const peer = conn.remoteAddr.hostname;
      const from = session.headers.get("origin") ?? "null";
      // The end of the session cuts its tunnels (see `cuts` in tunnel()).
      const cuts = new Set();
      const cut = () => {
        for (const shut of cuts) shut();
      };
      session.ended.then(cut, cut);
      conn.closed.then(cut, cut);
      for (;;) {
        const { value: stream, done } = await session.streams.read();
        if (done) break;
        tunnel(stream, { peer, from, policy, log, tls: options.tls, cuts });
      }
    } catch (error) {
      log(`session: ${error.message}`);
    } finally {
      connections.delete(conn);
    }
  };
  (async () => {
    for await (const incoming of listener) serve(incoming);
  })().catch(() => {});
  return {
    port: endpoint.addr.port,
    hostname: endpoint.addr.hostname,
    close() {
      for (const conn of connections) conn.close();
      listener.stop();
      endpoint.close();
    },
  };
}

const encoder = new TextEncoder();

/** One stream: its request line, the policy's verdict, then the bytes. */
async function tunnel(stream, { peer, from, policy, log, tls, cuts }) {
  const head = new StreamHead(stream.readable.getReader());
  const writer = stream.writable.getWriter();
  const answer = async (line) => {
    await writer.write(encoder.encode(`${line}\n`));
    writer.releaseLock();
  };
  const refuse = async (reason, line = `refused ${peer} (origin ${from})`) => {
    log(line ? `${line}: ${reason}` : reason);
    try {
      await answer(`ERROR ${reason}`);
      await stream.writable.close();
    } catch {}
    head.cancel();
  };
  let request;
  let timer;
  try {
    // The WebTransport stream header: type 0x41, session id.
    if ((await head.varint()) !== 0x41)
      throw new Error("not a WebTransport stream");
    await head.varint();
    request = await Promise.race([
      head.line(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error("no request line in time")),
          REQUEST_TIMEOUT,
        );
      }),
    ]);
  } catch (error) {
    clearTimeout(timer);
    return refuse(`bad request: ${error.message}`);
  }
  clearTimeout(timer);
  const query = new URLSearchParams(request);
  const verdict = policy.check(from, query.get("target"));
  if (verdict.reason) return refuse(verdict.reason);
  const closed = policy.opened();
  const secure = query.has("tls");
  const { host, port } = splitTarget(verdict.target);
  const name = `${secure ? "tls" : "tcp"} ${verdict.target}`;
  log(`tunnel ${from} → ${name}`);
  let socket;
  try {
    socket = secure
      ? await Deno.connectTls({ hostname: host, port, ...tls })
      : await Deno.connect({ hostname: host, port });
  } catch (error) {
    closed();
    return refuse(unreachable(name, error), null);
  }
  try {
    await answer("OK");
  } catch {
    closed();
    socket.close();
    return;
  }
  // Once either side ended, the other has LINGER ms to end too; a failure
  // on either side (a reset stream, a broken connection) cuts both at once,
  // even with a write to a target that does not read still pending.
  let linger = null;
  const shut = () => {
    clearTimeout(linger);
    try {
      socket.close();
    } catch {}
    head.cancel();
  };
  const wait = () => (linger ??= setTimeout(shut, LINGER));
  // Page → target; the page's end of stream half-closes the target.
  const fromPage = head.rest((error) => (error ? shut() : wait()));
  const up = fromPage
    .pipeTo(socket.writable, { preventClose: true })
    .then(() => socket.closeWrite(), shut)
    .catch(() => {});
  // Target → page; the target's end ends the stream.
  const down = socket.readable.pipeTo(stream.writable).then(wait, (error) => {
    log(`${name}: ${error.message}`);
    shut();
  });
  // Deno tells of a page's reset stream only to a read or write of it, and
  // none is pending while the target does not read: such a tunnel is cut
  // when the target reads again, or when its session ends.
  cuts.add(shut);
  await Promise.allSettled([up, down]);
  cuts.delete(shut);
  shut();
  closed();
}
