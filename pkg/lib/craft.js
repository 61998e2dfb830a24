// The frame language: WebSocket frames written as text, to probe a peer with
// frames the engine would never send (`wasmsocket connect --send-raw`, the
// playground). Runtime-neutral: it imports nothing.
//
// A spec is one or more frames separated by `;`. A frame is words separated
// by spaces, the opcode first:
//
//   cont | text | binary | close | ping | pong
//                   the opcode, or a number 0-15 (0x0-0xf) for any opcode,
//                   the reserved ones included
//   fin | nofin     the FIN bit (default fin)
//   rsv1 rsv2 rsv3  set that reserved bit
//   mask | nomask | mask=XXXXXXXX
//                   mask with a random key, not at all, or with this key
//                   (8 hex digits); by default a client's frames are masked
//                   with a random key and a server's are not
//   len=N           the payload length the header declares, when it should
//                   lie (the header takes the 7-, 16- or 64-bit form N needs)
//   split=A,B,…     cut the encoded frame at these byte offsets into
//                   separate transport writes
//
// and at most one payload (none: an empty one):
//
//   "…"             a JSON string, sent as UTF-8
//   hex:0a0b…       these bytes
//   size=N          N bytes of "a" (0x61)
//   code=N ["…"]    of a close frame: the 2-byte code, then a reason
//
// For example `text nofin "hel"; ping "?"; cont "lo"` (a ping between two
// fragments), `ping size=126` (a control frame too long), `text hex:c328`
// (invalid UTF-8), `close code=1000 "bye" split=1,3`.

const OPCODES = ["cont", "text", "binary"];
OPCODES[8] = "close";
OPCODES[9] = "ping";
OPCODES[10] = "pong";

const MAX_LENGTH = (1n << 63n) - 1n;
const encoder = new TextEncoder();

/** A SyntaxError naming the bad word and what was expected there. */
const bad = (word, why) => new SyntaxError(`\`${word}\`: ${why}`);

/**
 * Parses a spec into frames, each as its fields, its encoded bytes and the
 * writes they are cut into. `client` decides the default masking.
 * Throws a SyntaxError naming the first bad word.
 */
export function parseFrames(spec, { client = true } = {}) {
  return words(spec).map((frame) => parseFrame(frame, client));
}

/**
 * Encodes a frame as it goes on the wire: `declaredLength` (default: the
 * payload's) is what the header says, `mask` a 4-byte key or null.
 */
export function encodeFrame({
  opcode,
  fin = true,
  rsv = 0,
  mask = null,
  payload = new Uint8Array(0),
  declaredLength = payload.length,
}) {
  const length = BigInt(declaredLength);
  const within = (n, max) => Number.isInteger(n) && n >= 0 && n <= max;
  if (!within(opcode, 15) || !within(rsv, 7)) {
    throw new RangeError("opcode must be 0-15 and rsv 0-7");
  }
  if (length < 0n || length > MAX_LENGTH || (mask && mask.length !== 4)) {
    throw new RangeError("length must be 0 to 2^63-1 and a mask 4 bytes");
  }
  const extra = length < 126n ? 0 : length <= 0xffffn ? 2 : 8;
  const start = 2 + extra + (mask ? 4 : 0);
  const bytes = new Uint8Array(start + payload.length);
  bytes[0] = (fin ? 0x80 : 0) | (rsv << 4) | opcode;
  const short = extra === 0 ? Number(length) : extra === 2 ? 126 : 127;
  bytes[1] = (mask ? 0x80 : 0) | short;
  const view = new DataView(bytes.buffer);
  if (extra === 2) view.setUint16(2, Number(length));
  if (extra === 8) view.setBigUint64(2, length);
  if (!mask) {
    bytes.set(payload, start);
    return bytes;
  }
  bytes.set(mask, 2 + extra);
  for (let i = 0; i < payload.length; i++) {
    bytes[start + i] = payload[i] ^ mask[i & 3];
  }
  return bytes;
}

/** The spec as frames of words: spaces separate words and `;` frames,
 * except inside a quoted string. */
function words(spec) {
  const frames = [[]];
  const pattern = /\s+|;|"(?:[^"\\]|\\.)*"?|[^\s;"]+|"/gy;
  for (const [word] of String(spec).matchAll(pattern)) {
    if (word === ";") frames.push([]);
    else if (!/^\s/.test(word)) frames.at(-1).push(word);
  }
  for (const frame of frames) {
    if (frame.length === 0)
      throw String(spec).trim()
        ? bad(spec, "expected a frame on each side of every `;`")
        : new SyntaxError('an empty spec: expected a frame, e.g. text "hi"');
  }
  return frames;
}

function parseFrame([first, ...rest], client) {
  const fields = {
    opcode: parseOpcode(first),
    fin: true,
    rsv: 0,
    mask: client ? randomKey() : null,
    length: 0,
    declaredLength: null,
    payload: null,
  };
  let split = null;
  let reasonMayFollow = false;
  const setPayload = (word, bytes) => {
    if (fields.payload)
      throw bad(word, "a second payload (a frame has at most one)");
    fields.payload = bytes;
  };
  for (const word of rest) {
    const [key, value] = word.split(/=(.*)/s);
    if (word.startsWith('"')) {
      const text = encoder.encode(parseString(word));
      if (reasonMayFollow) fields.payload = concat(fields.payload, text);
      else setPayload(word, text);
    } else if (word === "fin" || word === "nofin") fields.fin = word === "fin";
    else if (/^rsv[123]$/.test(word)) fields.rsv |= 8 >> Number(word[3]);
    else if (word === "mask") fields.mask = randomKey();
    else if (word === "nomask") fields.mask = null;
    else if (key === "mask" && /^[0-9a-f]{8}$/i.test(value)) {
      fields.mask = hexBytes(value);
    } else if (key === "len") {
      const n = /^\d+$/.test(value) ? BigInt(value) : -1n;
      if (n < 0n || n > MAX_LENGTH)
        throw bad(word, "expected len=N, N from 0 to 2^63-1");
      fields.declaredLength = n <= Number.MAX_SAFE_INTEGER ? Number(n) : n;
    } else if (key === "size") {
      setPayload(
        word,
        filled(word, count(word, value, Number.MAX_SAFE_INTEGER)),
      );
    } else if (key === "code") {
      if (fields.opcode !== 8)
        throw bad(word, "code=N belongs in a close frame");
      const code = count(word, value, 0xffff);
      setPayload(word, new Uint8Array([code >> 8, code & 0xff]));
    } else if (
      word.startsWith("hex:") &&
      /^(?:[0-9a-f]{2})*$/i.test(word.slice(4))
    ) {
      setPayload(word, hexBytes(word.slice(4)));
    } else if (key === "split" && /^\d+(?:,\d+)*$/.test(value)) {
      split = word;
    } else throw bad(word, expectedWord(word));
    reasonMayFollow = key === "code";
  }
  fields.payload ??= new Uint8Array(0);
  fields.length = fields.payload.length;
  fields.declaredLength ??= fields.length;
  const bytes = encodeFrame(fields);
  return { fields, bytes, writes: split ? cut(bytes, split) : [bytes] };
}

function parseOpcode(word) {
  const named = OPCODES.indexOf(word);
  if (named >= 0) return named;
  const n = /^(?:\d+|0x[0-9a-f]+)$/i.test(word) ? Number(word) : -1;
  if (n >= 0 && n <= 15) return n;
  throw bad(
    word,
    "expected an opcode first: cont, text, binary, close, ping, pong, or 0-15 (0x0-0xf)",
  );
}

/** What a word that is none of the known ones was probably meant to be. */
function expectedWord(word) {
  if (/^mask=/.test(word)) return "expected mask=XXXXXXXX, 8 hex digits";
  if (/^hex:/.test(word)) return "expected hex: and pairs of hex digits";
  if (/^split=/.test(word)) return "expected split=A,B,…, byte offsets";
  return 'expected fin, nofin, rsv1, rsv2, rsv3, mask, nomask, mask=XXXXXXXX, len=N, split=A,B,… or a payload: "…", hex:…, size=N, code=N';
}

function parseString(word) {
  try {
    if (word.length > 1 && word.endsWith('"')) return JSON.parse(word);
  } catch {}
  throw bad(word, 'expected a JSON string: "…", closed, with JSON escapes');
}

/** A whole number from 0 to `max` after `key=`. */
function count(word, value, max) {
  const n = /^\d+$/.test(value) ? Number(value) : -1;
  if (n < 0 || n > max) throw bad(word, `expected a number from 0 to ${max}`);
  return n;
}

function filled(word, n) {
  try {
    return new Uint8Array(n).fill(0x61);
  } catch {
    throw bad(word, "too large to allocate");
  }
}

/** The writes `bytes` is cut into by a `split=A,B,…` word, whose offsets
 * must ascend inside the frame. */
function cut(bytes, word) {
  const writes = [];
  let from = 0;
  for (const at of word.slice("split=".length).split(",").map(Number)) {
    if (at <= from || at >= bytes.length) {
      throw bad(
        word,
        `expected ascending offsets from 1 to ${bytes.length - 1} (the frame is ${bytes.length} bytes)`,
      );
    }
    writes.push(bytes.subarray(from, at));
    from = at;
  }
  writes.push(bytes.subarray(from));
  return writes;
}

function hexBytes(hex) {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) {
    bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  }
  return bytes;
}

function concat(a, b) {
  const both = new Uint8Array(a.length + b.length);
  both.set(a);
  both.set(b, a.length);
  return both;
}

function randomKey() {
  return crypto.getRandomValues(new Uint8Array(4));
}
