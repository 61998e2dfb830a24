// A session as a link: the URL's query holds the peer and the steps.
//
//   connect    loopback | bridge | webtransport (present: connect at once)
//   target     the ws:// or wss:// server (bridge), the https:// URL (webtransport)
//   bridge     the bridge's URL (default: this page's host, /bridge)
//   protocols  subprotocols to offer, comma-separated
//   certHash   SHA-256 of the WebTransport server's certificate, in hex
//   deflate    1: offer permessage-deflate
//   steps      the steps to replay (steps.js)

/** The link's settings; absent ones are empty. */
export function readLink(search = location.search) {
  const p = new URLSearchParams(search);
  return {
    connect: p.get("connect"),
    target: p.get("target") ?? "",
    bridge: p.get("bridge") ?? "",
    protocols: p.get("protocols") ?? "",
    certHash: p.get("certHash") ?? "",
    deflate: p.get("deflate") === "1",
    steps: p.get("steps") ?? "",
  };
}

/** This page's URL for a peer and the steps' text, leaving out what is empty. */
export function linkFor(peer, steps, base = location.href) {
  const url = new URL(base);
  url.search = "";
  const p = url.searchParams;
  p.set("connect", peer.kind);
  if (peer.kind !== "loopback" && peer.target) p.set("target", peer.target);
  if (peer.kind === "bridge" && peer.bridge) p.set("bridge", peer.bridge);
  if (peer.kind === "webtransport" && peer.certHash)
    p.set("certHash", peer.certHash);
  if (peer.protocols) p.set("protocols", peer.protocols);
  if (peer.deflate) p.set("deflate", "1");
  if (steps) p.set("steps", steps);
  url.hash = "";
  return url.href;
}

/** Subprotocols from their comma-separated text. */
export function protocolList(text) {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}
