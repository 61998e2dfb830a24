// The default transport for ws: and wss: URLs in Node: a TCP or TLS socket.

import net from "node:net";
import tls from "node:tls";

import { duplexTransport } from "./duplex.js";

/**
 * Dials `url` (a ws: or wss: URL object). TLS verifies the server's
 * certificate and sends SNI unless `tlsOptions` say otherwise.
 */
export function connectTransport(url, tlsOptions = {}) {
  const secure = url.protocol === "wss:";
  const host = url.hostname.startsWith("[")
    ? url.hostname.slice(1, -1)
    : url.hostname;
  const port = Number(url.port) || (secure ? 443 : 80);
  const socket = secure
    ? tls.connect({
        host,
        port,
        servername: net.isIP(host) ? undefined : host,
        ALPNProtocols: ["http/1.1"],
        ...tlsOptions,
      })
    : net.connect({ host, port });
  socket.setNoDelay?.(true);
  return duplexTransport(socket);
}
