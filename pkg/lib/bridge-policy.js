// What a bridge lets through, shared by its WebSocket way in (node/bridge.js)
// and its WebTransport one (deno/bridge.js): the allowed targets, the page
// origins, the cap on tunnels open at once, and the words of each refusal.
// Runtime-neutral: no I/O here.

/** The policy of `{ allow, origins, maxTunnels }`; throws on a bad target. */
export function bridgePolicy({ allow, origins = [], maxTunnels = 32 }) {
  const allowed = new Set(allow.map((t) => normalTarget(t)));
  const pages = new Set(origins);
  const only = allowed.size === 1 ? [...allowed][0] : null;
  let open = 0;
  return {
    allowed,
    get open() {
      return open;
    },
    /**
     * Checks a tunnel asked from page origin `origin` ("null" when unknown)
     * for target `asked` (null when not given); `self` are origins allowed
     * besides the listed ones (the bridge's own). Returns `{ target }`, the
     * normalised target, or `{ code, reason }`: the refusal, with the close
     * code a WebSocket carrier closes with.
     */
    check(origin, asked, self = []) {
      if (!pages.has("*") && !pages.has(origin) && !self.includes(origin))
        return { code: 1008, reason: `origin ${origin} is not allowed` };
      if (allowed.size === 0)
        return {
          code: 1008,
          reason: "no target is allowed (start it with --allow HOST:PORT)",
        };
      const target = asked === null ? only : normalTarget(asked, false);
      if (target === null || !allowed.has(target))
        return {
          code: 1008,
          reason:
            asked === null
              ? "no target given (?target=host:port)"
              : `target ${asked} is not allowed`,
        };
      if (open >= maxTunnels)
        return {
          code: 1013,
          reason: `too many tunnels (at most ${maxTunnels})`,
        };
      return { target };
    },
    /** Counts a tunnel open; returns the function that counts it closed. */
    opened() {
      open += 1;
      let done = false;
      return () => {
        if (!done) open -= 1;
        done = true;
      };
    },
  };
}

/** The refusal for a target that cannot be reached (close code 1014). */
export function unreachable(name, error) {
  return `cannot reach ${name}: ${error.code ?? error.message}`;
}

/**
 * "host:port" with the host lower-cased and IPv6 in brackets, or null for
 * anything else; `strict` throws instead (for the allowed list).
 */
export function normalTarget(text, strict = true) {
  const m = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+):(\d{1,5})$/i.exec(text.trim());
  const port = m ? Number(m[2]) : 0;
  if (m && port > 0 && port <= 65535) return `${m[1].toLowerCase()}:${port}`;
  if (strict) throw new TypeError(`not a target (host:port): ${text}`);
  return null;
}

/** `{ host, port }` of a normalised target (IPv6 without brackets). */
export function splitTarget(target) {
  const at = target.lastIndexOf(":");
  const host = target.slice(0, at).replace(/^\[|\]$/g, "");
  return { host, port: Number(target.slice(at + 1)) };
}
