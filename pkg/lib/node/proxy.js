// HTTP proxies for the Node dialer: which proxy a URL goes through (the
// `proxy` option, or the conventional environment variables read the way
// undici's EnvHttpProxyAgent reads them), and the CONNECT exchange that turns
// a connection to the proxy into a tunnel to the server. Browsers pick their
// proxies themselves; this is Node's business only.

import { duplexTransport } from "./duplex.js";

/** The engine's defaults for `handshakeTimeout` and `maxHeadSize`, which
 * bound the proxy's part of the opening handshake as they bound the server's. */
const HANDSHAKE_TIMEOUT = 30_000;
const MAX_HEAD_SIZE = 16 * 1024;

/**
 * @typedef {object} Proxy
 * @property {boolean} secure an https: proxy, spoken to over TLS
 * @property {string} host its host name or address (IPv6 without brackets)
 * @property {number} port
 * @property {string} origin its URL without credentials, for messages
 * @property {string | null} authorization the Proxy-Authorization value
 */

/**
 * The proxy to dial the ws: or wss: URL object `url` through, or null for a
 * direct connection. `option` is the `proxy` option: a proxy URL (string or
 * URL), or "env" for the one the environment `env` names. A bad proxy URL is
 * a caller's mistake and throws a TypeError before anything is dialled.
 * @returns {Proxy | null}
 */
export function proxyFor(url, option, env = process.env) {
  if (!option) return null;
  if (option === "env") {
    const spec = envProxy(url, env);
    return spec ? parseProxy(spec, "the proxy environment variable") : null;
  }
  return parseProxy(String(option), "options.proxy");
}

/**
 * The proxy URL the environment names for `url`, as undici's
 * EnvHttpProxyAgent picks it: lower-case names first (an empty one still
 * wins over its upper-case twin, and then means "none"); ws: uses
 * http_proxy, wss: https_proxy or else http_proxy; no_proxy can exempt the
 * host. Returns "" or undefined for a direct connection.
 */
function envProxy(url, env) {
  const http = env.http_proxy ?? env.HTTP_PROXY;
  const chosen =
    url.protocol === "wss:"
      ? (env.https_proxy ?? env.HTTPS_PROXY) || http
      : http;
  if (!chosen) return chosen;
  return exempt(url, env.no_proxy ?? env.NO_PROXY ?? "") ? "" : chosen;
}

/**
 * Whether the no_proxy list `list` exempts `url` (undici's rules): entries
 * are split at commas and white space; the whole value "*" exempts every
 * host; an entry matches its host and that host's subdomains, a leading "."
 * or "*." being dropped; "host:port" matches only that port (the URL's, or
 * 80 for ws: and 443 for wss:); IPv6 addresses are written in brackets;
 * case does not matter.
 */
function exempt(url, list) {
  if (list === "*") return true;
  const host = url.hostname.toLowerCase();
  const port = Number(url.port) || (url.protocol === "wss:" ? 443 : 80);
  for (const entry of list.split(/[,\s]/)) {
    if (!entry) continue;
    const withPort = /^(.+):(\d+)$/.exec(entry);
    if (withPort && Number(withPort[2]) !== 0 && Number(withPort[2]) !== port)
      continue;
    const name = (withPort ? withPort[1] : entry)
      .replace(/^\*?\./, "")
      .toLowerCase();
    if (host === name || host.endsWith(`.${name}`)) return true;
  }
  return false;
}

/** A proxy URL checked and taken apart; one without a scheme is http:. */
function parseProxy(spec, source) {
  const text = /^[a-z][a-z\d+.-]*:\/\//i.test(spec) ? spec : `http://${spec}`;
  let url;
  try {
    url = new URL(text);
  } catch {
    // Never quote the value: it may hold a password.
    throw new TypeError(`${source} is not a valid proxy URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(
      `${source}: unsupported proxy scheme ${url.protocol} (use http: or https:)`,
    );
  }
  let authorization = null;
  if (url.username || url.password) {
    let credentials;
    try {
      credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    } catch {
      throw new TypeError(
        `${source}: the credentials are badly percent-encoded`,
      );
    }
    authorization = `Basic ${Buffer.from(credentials).toString("base64")}`;
  }
  const secure = url.protocol === "https:";
  return {
    secure,
    host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: Number(url.port) || (secure ? 443 : 80),
    origin: url.origin,
    authorization,
  };
}

/**
 * Where the head ends in `buf[0..used)`: the index past the empty line
 * (CRLF or a bare LF, as lenient parsers take it), or -1. Scanning starts at
 * `from`, where the bytes before were already looked at.
 */
function headEnd(buf, from, used) {
  for (let i = Math.max(from, 1); i < used; i++) {
    if (buf[i] !== 10) continue;
    if (buf[i - 1] === 10 || (buf[i - 1] === 13 && buf[i - 2] === 10))
      return i + 1;
  }
  return -1;
}

/** Printable ASCII only: a proxy's words go into an error message. */
const printable = (s) => s.replace(/[^\x20-\x7e]/g, "").slice(0, 200);

/**
 * A transport to a server through `proxy`, over `socket` (already dialled to
 * the proxy: TCP, or TLS for an https: proxy). It asks the proxy to CONNECT
 * to `authority` (host:port), reading at most `options.maxHeadSize` bytes of
 * answer within `options.handshakeTimeout` ms; on a 2xx answer the socket is
 * the tunnel, wrapped by `overTunnel(socket)` (TLS to a wss: server) when
 * given. What the app writes meanwhile waits; a refusal or failure closes the
 * transport with an error that says what the proxy did.
 */
export function proxyTransport(socket, proxy, authority, options, overTunnel) {
  return new ProxyTransport(socket, proxy, authority, options, overTunnel);
}

class ProxyTransport {
  #socket;
  #proxy;
  #authority;
  #overTunnel;
  #sink = null;
  /** The transport over the tunnel, once the proxy said yes. */
  #inner = null;
  /** [bytes, done] written before then. */
  #queue = [];
  #paused = false;
  #closed = false;
  #timer = null;
  /** Where the connection to the proxy is, for error messages. */
  #phase = "connect";
  #head;
  #used = 0;
  #limit;

  constructor(socket, proxy, authority, options, overTunnel) {
    this.#socket = socket;
    this.#proxy = proxy;
    this.#authority = authority;
    this.#overTunnel = overTunnel;
    this.#limit = options.maxHeadSize ?? MAX_HEAD_SIZE;
    this.#head = Buffer.allocUnsafe(Math.min(this.#limit, 1024));
    const timeout = options.handshakeTimeout ?? HANDSHAKE_TIMEOUT;
    if (timeout > 0) {
      this.#timer = setTimeout(
        () =>
          this.#fail(
            `did not answer CONNECT ${authority} within ${timeout} ms`,
          ),
        timeout,
      );
      this.#timer.unref?.();
    }
    socket.setNoDelay?.(true);
    socket.on("connect", this.#onConnect);
    socket.on("secureConnect", this.#onSecure);
    socket.on("data", this.#onData);
    socket.on("error", this.#onError);
    socket.on("close", this.#onClose);
    // Sockets hold writes until they are connected.
    const auth = proxy.authorization
      ? `Proxy-Authorization: ${proxy.authorization}\r\n`
      : "";
    socket.write(
      `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${auth}\r\n`,
    );
  }

  #onConnect = () => {
    this.#phase = this.#proxy.secure ? "tls" : "answer";
  };

  #onSecure = () => {
    this.#phase = "answer";
  };

  #onError = (error) => {
    if (this.#inner) return this.#finish(error);
    const origin = this.#proxy.origin;
    const what =
      this.#phase === "connect"
        ? `proxy ${origin} unreachable`
        : this.#phase === "tls"
          ? `TLS to proxy ${origin} failed`
          : `proxy ${origin} failed before answering CONNECT`;
    this.#fail(null, new Error(`${what}: ${error.message}`, { cause: error }));
  };

  #onClose = () => {
    if (!this.#inner) this.#fail("closed the connection before answering");
  };

  /** Collects the proxy's answer, up to its head's end or the limit. */
  #onData = (chunk) => {
    const before = this.#used;
    const room = this.#limit - before;
    const n = Math.min(chunk.length, room);
    if (before + n > this.#head.length) {
      const grown = Buffer.allocUnsafe(
        Math.min(this.#limit, Math.max(this.#head.length * 2, before + n)),
      );
      this.#head.copy(grown, 0, 0, before);
      this.#head = grown;
    }
    chunk.copy(this.#head, before, 0, n);
    this.#used += n;
    const end = headEnd(this.#head, before, this.#used);
    if (end >= 0) return this.#answered(end, chunk.subarray(end - before));
    if (this.#used >= this.#limit)
      this.#fail(`answered CONNECT with a head over ${this.#limit} bytes`);
  };

  /** The head is the first `end` bytes; `rest` came after it. */
  #answered(end, rest) {
    const text = this.#head.toString("latin1", 0, end);
    const status = /^HTTP\/1\.[01] (\d{3})(?: ([^\r\n]*))?\r?\n/.exec(text);
    if (!status) return this.#fail("answered CONNECT with no HTTP status line");
    const code = Number(status[1]);
    if (code < 200 || code > 299) return this.#refused(code, status[2] ?? "");
    clearTimeout(this.#timer);
    const socket = this.#socket;
    socket.off("connect", this.#onConnect);
    socket.off("secureConnect", this.#onSecure);
    socket.off("data", this.#onData);
    socket.off("close", this.#onClose);
    socket.pause();
    this.#head = null;
    let stream = socket;
    if (this.#overTunnel) {
      // A TLS server never speaks first: such bytes are the proxy's garbage.
      if (rest.length > 0)
        return this.#fail(
          "sent bytes after its answer, before the TLS handshake",
        );
      stream = this.#overTunnel(socket);
    }
    this.#inner = duplexTransport(stream);
    this.#begin();
    // Bytes after the head are the server's, kept for the WebSocket handshake.
    if (rest.length > 0) this.#sink.data(rest);
    if (stream === socket && !this.#paused) socket.resume();
  }

  #refused(code, reason) {
    const said = `${code} ${printable(reason)}`.trim();
    const origin = this.#proxy.origin;
    const message =
      code === 407
        ? `proxy authentication required by ${origin} (${said}): ${
            this.#proxy.authorization
              ? "the credentials were rejected"
              : "no credentials were given"
          }`
        : `proxy ${origin} refused CONNECT ${this.#authority}: ${said}`;
    this.#fail(null, new Error(message));
  }

  /** Hands the sink to the transport over the tunnel, then what waited. */
  #begin() {
    const inner = this.#inner;
    inner.start(this.#sink);
    for (const [bytes, done] of this.#queue) inner.write(bytes, done);
    this.#queue = null;
    if (this.#paused) inner.pause();
  }

  /** Gives up: `what` the proxy did (or an error that says it), then closes. */
  #fail(what, error = new Error(`proxy ${this.#proxy.origin} ${what}`)) {
    if (this.#closed) return;
    this.#socket.destroy();
    this.#finish(error);
  }

  #finish(error) {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#queue = null;
    // No sink when the engine refused the request before the transport started.
    this.#sink?.closed(error);
  }

  /** The sink comes before any answer: the constructor that dialled starts. */
  start(sink) {
    this.#sink = sink;
  }

  write(bytes, done) {
    if (this.#inner) this.#inner.write(bytes, done);
    else if (!this.#closed) this.#queue.push([bytes, done]);
  }

  get releasesWrites() {
    return this.#inner?.releasesWrites === true;
  }

  pause() {
    this.#paused = true;
    this.#inner?.pause();
  }

  resume() {
    this.#paused = false;
    this.#inner?.resume();
  }

  end() {
    // Before the tunnel there is nothing of the app's to deliver.
    if (this.#inner) this.#inner.end();
    else this.destroy();
  }

  destroy() {
    this.#inner?.destroy();
    this.#socket.destroy();
    this.#finish();
  }
}
