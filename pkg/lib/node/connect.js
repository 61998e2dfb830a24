// The default transport for ws: and wss: URLs in Node: a TCP or TLS socket,
// directly or through an HTTP proxy's CONNECT tunnel (see proxy.js).

import net from "node:net";
import tls from "node:tls";

import { duplexTransport, readInto } from "./duplex.js";
import { proxyFor, proxyTransport } from "./proxy.js";

/**
 * Dials `url` (a ws: or wss: URL object) as the WebSocket `options` say:
 * `tls` for the server, `proxy` and `proxyTls` for a proxy; the proxy's
 * answer is held to `maxHeadSize` and `handshakeTimeout`.
 */
export function connectTransport(url, options = {}) {
  const secure = url.protocol === "wss:";
  const host = url.hostname.startsWith("[")
    ? url.hostname.slice(1, -1)
    : url.hostname;
  const port = Number(url.port) || (secure ? 443 : 80);
  const proxy = proxyFor(url, options.proxy);
  if (proxy) {
    const socket = dial(proxy.host, proxy.port, proxy.secure, options.proxyTls);
    const overTunnel = secure
      ? (tunnel) => dial(host, port, true, { ...options.tls, socket: tunnel })
      : null;
    const authority = `${url.hostname}:${port}`;
    return proxyTransport(socket, proxy, authority, options, overTunnel);
  }
  const socket = dial(host, port, secure, options.tls, true);
  socket.setNoDelay?.(true);
  return duplexTransport(socket);
}

/**
 * A TCP connection to host:port, or a `secure` one with `tlsOptions` for
 * `tls.connect` (a `socket` to run over, a CA, …): TLS verifies the
 * server's certificate and sends SNI unless they say otherwise. `shared`:
 * a plain TCP socket whose reads go straight to its transport reads into
 * memory it shares with others (duplex.js `readInto`).
 */
function dial(host, port, secure, tlsOptions, shared = false) {
  if (!secure) {
    if (!shared) return net.connect({ host, port });
    const onread = readInto();
    return (onread.socket = net.connect({ host, port, onread }));
  }
  return tls.connect({
    host,
    port,
    servername: net.isIP(host) ? undefined : host,
    ALPNProtocols: ["http/1.1"],
    ...tlsOptions,
  });
}
