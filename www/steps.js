// Steps: what a person did in a session, as text a link can carry and the
// page can replay. One step a line (or `;;` between steps, easier to type
// in a URL), each `kind:argument`:
//
//   text:…            a text message          binary:HEX   a binary message
//   ping:… / pong:…   with this text payload  close:CODE REASON  (or close:)
//   raw:SPEC          crafted frames in the frame language (pkg/lib/craft.js)
//   probe:NAME        one of the probes (probes.js)   wait:MS   a pause

const KINDS = [
  "text",
  "binary",
  "ping",
  "pong",
  "close",
  "raw",
  "probe",
  "wait",
];

/** Steps from their text; throws naming the first bad one. */
export function parseSteps(text) {
  const source = String(text ?? "");
  // Newlines when there are any, so a text step may hold `;;`.
  const lines = source.includes("\n")
    ? source.split(/\r?\n/)
    : source.split(";;");
  return lines.filter((line) => line.trim() !== "").map(parseStep);
}

export function parseStep(line) {
  const at = line.indexOf(":");
  const kind = at < 0 ? line.trim() : line.slice(0, at).trim();
  const arg = at < 0 ? "" : line.slice(at + 1);
  if (!KINDS.includes(kind))
    throw new SyntaxError(
      `step \`${line}\`: expected ${KINDS.map((k) => `${k}:`).join(", ")}`,
    );
  if (kind === "binary" && !/^(?:[0-9a-f]{2})*$/i.test(arg.replace(/\s/g, "")))
    throw new SyntaxError(
      `step \`${line}\`: expected binary:HEX (pairs of hex digits)`,
    );
  if (kind === "wait" && !/^\d+$/.test(arg.trim()))
    throw new SyntaxError(`step \`${line}\`: expected wait:MS`);
  if (kind === "close" && arg.trim() && !/^\d+(?:\s|$)/.test(arg.trim()))
    throw new SyntaxError(`step \`${line}\`: expected close:CODE REASON`);
  return { kind, arg };
}

export function formatStep({ kind, arg }) {
  return `${kind}:${arg}`;
}

export function formatSteps(steps) {
  return steps.map(formatStep).join("\n");
}

/** Bytes from hex, spaces allowed between them. */
export function hexToBytes(text) {
  const hex = text.replace(/\s/g, "");
  return Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16));
}

/**
 * Does one step on `connection` (connection.js); `probe(name)` runs a probe.
 * Resolves when the step's own writes are done.
 */
export async function runStep({ kind, arg }, { connection, probe }) {
  switch (kind) {
    case "text":
      return connection.sendText(arg);
    case "binary":
      return connection.sendBinary(hexToBytes(arg));
    case "ping":
      return connection.ping(arg);
    case "pong":
      return connection.pong(arg);
    case "close": {
      const [, code, reason = ""] = /^\s*(\d+)?\s?(.*)$/s.exec(arg);
      return connection.close(code === undefined ? null : Number(code), reason);
    }
    case "raw":
      return connection.raw(arg);
    case "probe":
      return probe(arg.trim());
    case "wait":
      return new Promise((resolve) => setTimeout(resolve, Number(arg)));
  }
}
