// The three kinds of peer, each as a transport a client WebSocket runs over:
// the in-page echo server (loopback, no network), any ws:// or wss:// server
// through the bridge, and a WebTransport server (a bidirectional stream per
// WebSocket).

import {
  bridgeTransport,
  streamTransport,
  WebSocketServer,
} from "../pkg/lib/browser.js";

export const KINDS = ["loopback", "bridge", "webtransport"];

/** The bridge of the server that serves this page. */
export function defaultBridge() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/bridge`;
}

/**
 * Checks a peer `{ kind, target, bridge, certHash }` and returns the URL the
 * client WebSocket asks for (its Host and path); throws a message a person
 * can act on.
 */
export function peerURL({ kind, target }) {
  if (kind === "loopback") return "ws://loopback/";
  if (!KINDS.includes(kind)) throw new Error(`unknown peer kind: ${kind}`);
  let url;
  try {
    url = new URL(target);
  } catch {
    throw new Error(`the ${kind} peer needs a target URL`);
  }
  if (kind === "bridge" && !/^wss?:$/.test(url.protocol))
    throw new Error(`the bridge reaches ws:// or wss:// URLs, not ${target}`);
  if (kind === "webtransport" && url.protocol !== "https:")
    throw new Error(`WebTransport needs an https:// URL, not ${target}`);
  if (kind === "webtransport") url.protocol = "wss:";
  return url.href;
}

/** Resolves to a transport to the peer (not yet started). */
export async function peerTransport(peer) {
  if (peer.kind === "loopback") return loopback();
  if (peer.kind === "bridge")
    return bridgeTransport(peer.bridge || defaultBridge(), peer.target);
  const session = await webTransport(peer);
  return streamTransport(await session.createBidirectionalStream());
}

/** The in-page server: the package's own, echoing every message. */
let server = null;

function loopback() {
  if (!server) {
    server = new WebSocketServer();
    server.on("connection", (ws) => {
      ws.binaryType = "arraybuffer";
      ws.onmessage = (event) => ws.send(event.data);
    });
  }
  // Two crossed streams: what one side writes, the other reads.
  const up = new TransformStream();
  const down = new TransformStream();
  server.accept({ readable: up.readable, writable: down.writable });
  return streamTransport({ readable: down.readable, writable: up.writable });
}

/** One WebTransport session per URL and certificate, shared by its sockets. */
const sessions = new Map();

async function webTransport({ target, certHash }) {
  if (typeof WebTransport !== "function")
    throw new Error("this browser has no WebTransport");
  const key = `${target} ${certHash ?? ""}`;
  let session = sessions.get(key);
  if (!session) {
    const options = {};
    if (certHash) {
      const value = Uint8Array.from(
        certHash.replace(/[^0-9a-f]/gi, "").match(/../g) ?? [],
        (h) => parseInt(h, 16),
      );
      options.serverCertificateHashes = [{ algorithm: "sha-256", value }];
    }
    session = new WebTransport(target, options);
    sessions.set(key, session);
    session.closed.finally(() => sessions.delete(key)).catch(() => {});
  }
  try {
    await session.ready;
  } catch (e) {
    sessions.delete(key);
    throw new Error(`WebTransport to ${target} failed: ${e?.message ?? e}`);
  }
  return session;
}
