// A transport whose bytes ride in the binary messages of another WebSocket:
// how a page, which has no raw sockets, reaches any server through a bridge
// (`wasmsocket bridge`, node/bridge.js). The engine in the page then speaks
// RFC 6455 byte for byte, crafted frames included, to the real server; the
// carrier WebSocket (the browser's own) only moves those bytes.
//
// The carrier is anything WebSocket-shaped: the browser's, or this package's.
// Its close tells how the tunnel ended: 1000 is an end of stream; any other
// code is a failure, whose reason (the bridge's words: a refused target or
// origin, the tunnel cap, an unreachable server) becomes the transport's
// error, and so the message of the tunnelled WebSocket's `error` event.

/**
 * The bridge's URL for a target: `bridge` (ws: or wss:) with `target`
 * (host:port of the server) and `tls` (the bridge connects with TLS) set
 * from the ws: or wss: URL `server`.
 */
export function bridgeURL(bridge, server) {
  const to = new URL(server);
  if (to.protocol !== "ws:" && to.protocol !== "wss:")
    throw new SyntaxError(`not a ws: or wss: URL: ${server}`);
  const url = new URL(bridge);
  const secure = to.protocol === "wss:";
  url.searchParams.set(
    "target",
    `${to.hostname}:${to.port || (secure ? 443 : 80)}`,
  );
  if (secure) url.searchParams.set("tls", "1");
  else url.searchParams.delete("tls");
  return url.href;
}

/**
 * A transport to the ws: or wss: server at `server` through the bridge at
 * `bridge`, over a new WebSocket of the runtime (`WebSocketClass`, by
 * default the global one).
 */
export function bridgeTransport(
  bridge,
  server,
  WebSocketClass = globalThis.WebSocket,
) {
  return tunnelTransport(new WebSocketClass(bridgeURL(bridge, server)));
}

/** A transport over the binary messages of the WebSocket `carrier`. */
export function tunnelTransport(carrier) {
  carrier.binaryType = "arraybuffer";
  let sink = null;
  let closed = false;
  /** What was asked before the carrier opened, done when it does. */
  let early = [];
  const finish = (error) => {
    if (closed) return;
    closed = true;
    early = null;
    sink?.closed(error);
  };
  carrier.addEventListener("open", () => {
    const asked = early ?? [];
    early = null;
    for (const step of asked) step();
  });
  carrier.addEventListener("message", (event) => {
    if (closed || typeof event.data === "string") return;
    sink.data(new Uint8Array(event.data));
  });
  carrier.addEventListener("close", (event) => {
    if (event.code === 1000) return finish();
    const why =
      event.reason ||
      (event.code === 1006
        ? "the connection to the bridge failed or was lost (1006)"
        : `closed with ${event.code}`);
    finish(new Error(`bridge: ${why}`));
  });
  const end = () => {
    if (carrier.readyState <= 1) carrier.close(1000);
  };
  return {
    // A WebSocket's send() copies what it is given.
    releasesWrites: true,
    start(s) {
      sink = s;
    },
    write(bytes, done) {
      if (early) return early.push(() => this.write(bytes, done));
      if (closed || carrier.readyState !== 1) return;
      carrier.send(bytes);
      done();
    },
    end() {
      if (early) early.push(end);
      else end();
    },
    destroy() {
      end();
      finish();
    },
  };
}
