// The bridge: a gateway, in the manner of websockify, that carries a page's
// raw bytes to a TCP or TLS connection, so the engine in the page speaks RFC
// 6455 byte for byte to any real server (see ../tunnel.js for the page's
// side). A tunnel is one WebSocket to the bridge, whose binary messages are
// the bytes:
//
//   ws://BRIDGE/?target=HOST:PORT[&tls=1]   (target defaults to the one
//                                             allowed target, if only one)
//
// It is never an open proxy. A tunnel is opened only to an allowed target,
// from an allowed page origin, and while fewer than the cap are open; each
// refusal is a close with a code and a reason the page can show (1008 for
// a refused target or origin, 1013 for the cap, 1014 when the target cannot
// be reached) and a log line. Both ways are flow-controlled: a target that
// stops reading pauses the page's side, a page that stops reading pauses the
// target's.

import net from "node:net";
import tls from "node:tls";

import { bridgePolicy, splitTarget, unreachable } from "../bridge-policy.js";
import { control, WebSocket } from "../websocket.js";
import { WebSocketServer } from "./server.js";

/** Bytes queued towards either side before the other side is paused. */
const HIGH_WATER = 1 << 20;
/** Ms a target has to finish once its tunnel closed, before it is cut. */
const LINGER = 5000;

/**
 * @typedef {object} BridgeOptions
 * @property {string[]} allow targets, "host:port" ("[v6]:port" for IPv6)
 * @property {string[]} [origins] page origins allowed besides the bridge's
 *   own; "*" allows any (a request without Origin counts as "null")
 * @property {number} [maxTunnels] tunnels open at once (default 32)
 * @property {number} [port] @property {string} [host] listen here, or
 * @property {import("node:http").Server} [server] take this server's upgrades
 * @property {string} [path] only this path (with `server`: others are left alone)
 * @property {(line: string) => void} [log] one line per tunnel and refusal
 * @property {object} [tls] options for TLS connections to targets (ca, …)
 */

/** Starts a bridge; returns its WebSocketServer (listening, address, close). */
export function createBridge(options) {
  const policy = bridgePolicy(options);
  const log = options.log ?? (() => {});
  const server = new WebSocketServer({
    port: options.port,
    host: options.host,
    server: options.server,
    path: options.path,
    // The bridge's own answer goes to any client; what it may reach is
    // decided per tunnel below, where a refusal can carry a reason.
    maxMessageSize: 16 << 20,
  });
  server.on("connection", (page, request) => {
    const from = request.origin ?? "null";
    const self = [
      `http://${request.headers.host}`,
      `https://${request.headers.host}`,
    ];
    const query = new URL(request.url, "ws://bridge").searchParams;
    const verdict = policy.check(from, query.get("target"), self);
    if (verdict.reason) {
      log(
        `refused ${request.remoteAddress} (origin ${from}): ${verdict.reason}`,
      );
      return control(page).close(verdict.code, verdict.reason);
    }
    page.addEventListener("close", policy.opened());
    tunnel(page, verdict.target, query.has("tls"), {
      log,
      tls: options.tls,
      from,
    });
  });
  return server;
}

/** Carries bytes both ways between the page's WebSocket and the target. */
function tunnel(page, target, secure, { log, tls: tlsOptions, from }) {
  const { host, port } = splitTarget(target);
  const connect = { host, port, noDelay: true };
  const socket = secure
    ? tls.connect({
        ...connect,
        servername: net.isIP(host) ? undefined : host,
        ...tlsOptions,
      })
    : net.connect(connect);
  const name = `${secure ? "tls" : "tcp"} ${target}`;
  log(`tunnel ${from} → ${name}`);
  page.binaryType = "arraybuffer";
  let reached = false;
  let drainTimer = null;
  socket.on(secure ? "secureConnect" : "connect", () => (reached = true));
  socket.on("data", (bytes) => {
    if (page.readyState !== WebSocket.OPEN) return;
    page.send(bytes);
    // The page is behind: stop reading the target until it catches up.
    if (page.bufferedAmount > HIGH_WATER && !drainTimer) {
      socket.pause();
      drainTimer = setInterval(() => {
        if (page.bufferedAmount > HIGH_WATER / 2) return;
        clearInterval(drainTimer);
        drainTimer = null;
        socket.resume();
      }, 10);
    }
  });
  socket.on("error", (error) => {
    const reason = reached
      ? `${name}: ${error.message}`
      : unreachable(name, error);
    log(reason);
    if (page.readyState === WebSocket.OPEN)
      control(page).close(reached ? 1011 : 1014, reason.slice(0, 123));
  });
  socket.on("close", () => {
    clearInterval(drainTimer);
    if (page.readyState === WebSocket.OPEN) page.close(1000);
  });
  page.onmessage = (event) => {
    // Once the target ended, what the page still sends (the reply to the
    // target's close) has nowhere to go: writing it would fail the tunnel
    // (EPIPE) and pause the page for good.
    if (typeof event.data === "string" || !socket.writable) return;
    // The target is behind: stop reading the page until it drains.
    if (!socket.write(new Uint8Array(event.data))) {
      control(page).pause();
      socket.once("drain", () => control(page).resume());
    }
  };
  page.onclose = () => {
    clearInterval(drainTimer);
    // A target that never reads would keep a half-closed socket forever.
    socket.end();
    setTimeout(() => socket.destroy(), LINGER).unref();
  };
}
