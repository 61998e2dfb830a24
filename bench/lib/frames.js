// Frame streams for the parse benchmark, built byte for byte as
// bench/native/parse.rs builds them for the native engine: `count` frames of one
// size, text (ASCII JSON) or binary (pseudo-random bytes), masked with
// pseudo-random keys (what a server receives) or unmasked (what a client
// receives), one message per frame.

export const SIZES = [16, 125, 1024, 16 * 1024, 64 * 1024, 1024 * 1024];
export const KINDS = ["binary", "text"];
export const CHUNK = 64 * 1024;

const TEXT =
  '{"type":"chat","room":"lobby","user":"alice","seq":1234567,"text":"the quick brown fox jumps over the lazy dog"},';

/** Payload bytes per stream; bench/native/parse.rs uses the same numbers. */
export function streamTarget(quick) {
  return quick ? 512 * 1024 : 4 * 1024 * 1024;
}

function xorshift(seed) {
  let x = seed >>> 0;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** The payload of every message of one size and kind. */
export function payload(size, kind) {
  const out = new Uint8Array(size);
  if (kind === "text") {
    for (let i = 0; i < size; i++) out[i] = TEXT.charCodeAt(i % TEXT.length);
  } else {
    const next = xorshift((0x9e3779b9 ^ size) >>> 0);
    for (let i = 0; i < size; i++) out[i] = next() & 0xff;
  }
  return out;
}

/** The payload as the app sends it: a string for text, bytes for binary. */
export function message(size, kind) {
  const p = payload(size, kind);
  return kind === "text" ? Buffer.from(p).toString("latin1") : p;
}

/** { stream: Buffer, chunks: Buffer[], count, payloadBytes } */
export function buildStream(size, kind, masked, quick = false) {
  const count = Math.max(1, Math.floor(streamTarget(quick) / size));
  const data = payload(size, kind);
  const next = xorshift(0x12345678);
  const head = size < 126 ? 2 : size < 65536 ? 4 : 10;
  const frame = head + (masked ? 4 : 0) + size;
  const out = Buffer.alloc(count * frame);
  let p = 0;
  for (let n = 0; n < count; n++) {
    out[p++] = 0x80 | (kind === "text" ? 1 : 2);
    const m = masked ? 0x80 : 0;
    if (size < 126) out[p++] = m | size;
    else if (size < 65536) {
      out[p++] = m | 126;
      out.writeUInt16BE(size, p);
      p += 2;
    } else {
      out[p++] = m | 127;
      out.writeBigUInt64BE(BigInt(size), p);
      p += 8;
    }
    if (masked) {
      const k = next();
      const key = [k & 0xff, (k >>> 8) & 0xff, (k >>> 16) & 0xff, k >>> 24];
      out.set(key, p);
      p += 4;
      for (let i = 0; i < size; i++) out[p + i] = data[i] ^ key[i & 3];
    } else {
      out.set(data, p);
    }
    p += size;
  }
  const chunks = [];
  for (let i = 0; i < out.length; i += CHUNK) {
    chunks.push(out.subarray(i, Math.min(i + CHUNK, out.length)));
  }
  return { stream: out, chunks, count, payloadBytes: count * size };
}
