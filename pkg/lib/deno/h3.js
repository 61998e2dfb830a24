// Deno only: the least of HTTP/3 (RFC 9114) a WebTransport server needs to
// accept a session itself, so that the bridge sees the CONNECT request's
// headers (Deno's own `upgradeWebTransport` hands over its URL only, not its
// Origin): our SETTINGS, the request's HEADERS frame decoded (QPACK, RFC
// 9204, with no dynamic table, which our SETTINGS do not offer), and a 200.

import { StreamHead } from "../webtransport-tunnel.js";

/**
 * Our control stream: type 0, then SETTINGS: ENABLE_CONNECT_PROTOCOL,
 * H3_DATAGRAM (and its draft code point), ENABLE_WEBTRANSPORT (draft-02,
 * the one Chromium speaks).
 */
const SETTINGS = new Uint8Array([
  0x00, 0x04, 14, 0x08, 0x01, 0x33, 0x01, 0x80, 0xff, 0xd2, 0x77, 0x01, 0xab,
  0x60, 0x37, 0x42, 0x01,
]);

/** Names of the QPACK static table entries a CONNECT request may use. */
const STATIC_NAMES = {
  0: ":authority",
  1: ":path",
  15: ":method",
  16: ":method",
  17: ":method",
  18: ":method",
  19: ":method",
  20: ":method",
  21: ":method",
  22: ":scheme",
  23: ":scheme",
  72: "user-agent",
  90: "origin",
};
const STATIC_VALUES = {
  1: "/",
  15: "CONNECT",
  16: "DELETE",
  17: "GET",
  18: "HEAD",
  19: "OPTIONS",
  20: "POST",
  21: "PUT",
  22: "http",
  23: "https",
};

/**
 * Accepts the WebTransport session of QUIC connection `conn`: returns its
 * request `headers` (a Map, names lower-case), the reader of the
 * connection's other bidirectional streams, and `ended`, a promise settled
 * when the session's CONNECT stream ends (the session is over).
 */
export async function acceptWebTransport(conn) {
  const control = await conn.createUnidirectionalStream();
  const writer = control.getWriter();
  writer.write(SETTINGS).catch(() => {});
  // The peer's control and QPACK streams: read and let be.
  (async () => {
    for await (const stream of conn.incomingUnidirectionalStreams)
      stream.pipeTo(new WritableStream()).catch(() => {});
  })().catch(() => {});
  const streams = conn.incomingBidirectionalStreams.getReader();
  const { value: connect, done } = await streams.read();
  if (done) throw new Error("no CONNECT request");
  const reader = connect.readable.getReader();
  const head = new StreamHead(reader);
  const type = await head.varint();
  const length = await head.varint();
  if (type !== 0x01 || length > 16384)
    throw new Error("the session did not open with a HEADERS frame");
  const headers = fieldSection(await head.bytes(length));
  if (
    headers.get(":method") !== "CONNECT" ||
    headers.get(":protocol") !== "webtransport"
  )
    throw new Error("the request is not a WebTransport CONNECT");
  const response = connect.writable.getWriter();
  await response.write(
    frame(0x01, [
      0x00,
      0x00,
      0xd9,
      ...literal("sec-webtransport-http3-draft", "draft02"),
    ]),
  );
  response.releaseLock();
  const ended = (async () => {
    for (;;) if ((await reader.read()).done) return;
  })();
  return { headers, streams, ended };
}

function frame(type, payload) {
  return new Uint8Array([type, ...varint(payload.length), ...payload]);
}

function varint(n) {
  if (n < 64) return [n];
  if (n < 16384) return [0x40 | (n >> 8), n & 255];
  throw new RangeError("frame too long");
}

/** A literal field line with a literal name, neither Huffman-coded. */
function literal(name, value) {
  const bytes = new TextEncoder();
  return [
    ...prefixed(0x20, 3, name.length),
    ...bytes.encode(name),
    ...prefixed(0x00, 7, value.length),
    ...bytes.encode(value),
  ];
}

/** An integer with an N-bit prefix (RFC 7541 5.1) after the bits `first`. */
function prefixed(first, n, value) {
  const max = (1 << n) - 1;
  if (value < max) return [first | value];
  const out = [first | max];
  for (value -= max; value >= 128; value >>= 7) out.push((value & 127) | 128);
  out.push(value);
  return out;
}

/** Decodes a QPACK field section that uses no dynamic table. */
export function fieldSection(bytes) {
  let at = 0;
  const integer = (n) => {
    const max = (1 << n) - 1;
    let value = bytes[at++] & max;
    if (value < max) return value;
    for (let shift = 0; ; shift += 7) {
      if (at >= bytes.length || shift > 28) throw new Error("bad integer");
      const b = bytes[at++];
      value += (b & 127) * 2 ** shift;
      if (b < 128) return value;
    }
  };
  const string = (n) => {
    const huffman = (bytes[at] >> n) & 1;
    const length = integer(n);
    if (at + length > bytes.length) throw new Error("bad string length");
    const raw = bytes.subarray(at, at + length);
    at += length;
    return huffman ? huffmanDecode(raw) : new TextDecoder().decode(raw);
  };
  const staticName = (index) => STATIC_NAMES[index] ?? `static#${index}`;
  if (integer(8) !== 0) throw new Error("a dynamic table reference");
  integer(7);
  const headers = new Map();
  while (at < bytes.length) {
    const b = bytes[at];
    if (b & 0x80) {
      // Indexed field line: static only.
      if (!(b & 0x40)) throw new Error("a dynamic table reference");
      const index = integer(6);
      headers.set(staticName(index), STATIC_VALUES[index] ?? "");
    } else if (b & 0x40) {
      // Literal field line with name reference.
      if (!(b & 0x10)) throw new Error("a dynamic table reference");
      const name = staticName(integer(4));
      headers.set(name, string(7));
    } else if (b & 0x20) {
      // Literal field line with literal name.
      const name = string(3).toLowerCase();
      headers.set(name, string(7));
    } else throw new Error("a dynamic table reference");
  }
  return headers;
}

/**
 * The lengths of the HPACK Huffman codes of bytes 0-255 (RFC 7541 Appendix
 * B); the code is canonical, so the lengths define it. EOS (256) is 30 bits.
 */
const LENGTHS = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28,
  28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, 6, 10, 10, 12, 13, 6, 8,
  11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12,
  10, 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
  8, 7, 8, 13, 19, 13, 14, 6, 15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, 20, 22, 20, 20, 22, 22,
  22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23,
  21, 22, 23, 22, 23, 23, 24, 22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24,
  21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22,
  23, 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21,
  26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, 20, 24, 20, 21, 22,
  21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27,
  27, 28, 27, 27, 27, 27, 27, 26, 30,
];

/** length → Map(code → symbol), built on first use. */
let codes = null;
function huffmanCodes() {
  if (codes) return codes;
  codes = new Map();
  const order = LENGTHS.map((length, symbol) => ({ length, symbol })).sort(
    (a, b) => a.length - b.length || a.symbol - b.symbol,
  );
  let code = 0;
  let previous = order[0].length;
  for (const { length, symbol } of order) {
    code *= 2 ** (length - previous);
    previous = length;
    if (!codes.has(length)) codes.set(length, new Map());
    codes.get(length).set(code, symbol);
    code += 1;
  }
  return codes;
}

function huffmanDecode(raw) {
  const table = huffmanCodes();
  const out = [];
  let code = 0;
  let length = 0;
  for (const byte of raw)
    for (let bit = 7; bit >= 0; bit--) {
      code = code * 2 + ((byte >> bit) & 1);
      length += 1;
      const symbol = table.get(length)?.get(code);
      if (symbol === 256) throw new Error("EOS in a Huffman string");
      if (symbol !== undefined) {
        out.push(symbol);
        code = 0;
        length = 0;
      } else if (length > 30) throw new Error("bad Huffman code");
    }
  // Padding: fewer than 8 bits, all ones (a prefix of EOS).
  if (length > 7 || code !== 2 ** length - 1)
    throw new Error("bad Huffman padding");
  return new TextDecoder().decode(new Uint8Array(out));
}
