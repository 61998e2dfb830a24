// The wire tap: what the page shows is what crossed the transport, not what
// the engine meant to send, so crafted bytes (which the engine never framed)
// are shown as the peer reads them. `tap` wraps a transport and hands every
// chunk, both ways, to a Dissector per direction: the HTTP head up to its
// blank line, then frames, each as its header says (a lying length is
// followed, as the peer follows it) and assembled across chunks.

/** Payload bytes kept per frame for display and export; the rest is counted. */
export const KEEP = 4096;

const OPCODES = ["cont", "text", "binary"];
OPCODES[8] = "close";
OPCODES[9] = "ping";
OPCODES[10] = "pong";
/** A head longer than this without a blank line is not a head. */
const MAX_HEAD = 16384;

export const opcodeName = (op) => OPCODES[op] ?? `op${op}`;

/**
 * Wraps `transport` (see pkg/lib/transport.js): `onChunk(direction, bytes)`
 * sees a copy of every chunk ("sent" or "received"), `onEvent(text, error)`
 * the transport's end, failure and closing.
 */
export function tap(transport, { onChunk, onEvent }) {
  const tapped = {
    releasesWrites: transport.releasesWrites,
    start(sink) {
      transport.start({
        data(bytes) {
          onChunk("received", bytes.slice());
          sink.data(bytes);
        },
        closed(error) {
          onEvent(
            error
              ? `transport failed: ${error.message}`
              : "transport: the peer ended",
            error,
          );
          sink.closed(error);
        },
      });
    },
    write(bytes, done) {
      // Copied now: the engine may reuse the buffer once done() is called.
      onChunk("sent", bytes.slice());
      transport.write(bytes, done);
    },
    end() {
      onEvent("transport: our side ended");
      transport.end();
    },
    destroy() {
      transport.destroy();
    },
  };
  // Only where the transport can: the session calls them with `?.`.
  if (transport.pause) tapped.pause = () => transport.pause();
  if (transport.resume) tapped.resume = () => transport.resume();
  return tapped;
}

/**
 * Reads one direction of a connection chunk by chunk and calls `emit` with
 * an entry per head, frame or stray bytes. `pending` describes a frame
 * begun and not finished (shown while it lasts; at `finish` it becomes an
 * entry marked incomplete).
 */
export class Dissector {
  #emit;
  #direction;
  #state = "head";
  #head = [];
  #headLength = 0;
  /** Bytes of the frame header being read, and the frame once it is read. */
  #header = [];
  #frame = null;
  /** Chunks seen, and those the frame being read came in (a split shows). */
  #chunk = 0;
  #frameChunks = 0;
  #lastChunk = -1;
  #started = 0;

  constructor(direction, emit) {
    this.#direction = direction;
    this.#emit = emit;
  }

  get pending() {
    if (this.#frame) return this.#frame;
    if (this.#header.length > 0)
      return { header: this.#header.length, incomplete: true };
    return null;
  }

  push(bytes, t) {
    this.#chunk += 1;
    let at = 0;
    while (at < bytes.length) {
      if (this.#state === "head") at = this.#readHead(bytes, at, t);
      else if (this.#state === "frames") at = this.#readFrame(bytes, at, t);
      else {
        this.#entry(
          t,
          "note",
          { text: "bytes after the head, not frames" },
          {
            bytes: bytes.subarray(at),
          },
        );
        at = bytes.length;
      }
    }
  }

  /** The connection ended: a frame still being read is shown as it is. */
  finish(t) {
    if (this.#frame) this.#endFrame(t, true);
    else if (this.#header.length > 0) {
      this.#entry(t, "note", {
        text: `${this.#header.length} byte(s) of a frame header, then the end`,
      });
    } else if (this.#state === "head" && this.#headLength > 0) {
      this.#emitHead(t, false);
    }
    this.#header = [];
  }

  #entry(t, kind, fields, { bytes } = {}) {
    const payload = bytes ? payloadFields(bytes, bytes.length) : {};
    this.#emit({ t, direction: this.#direction, kind, ...payload, ...fields });
  }

  #readHead(bytes, at, t) {
    const rest = bytes.subarray(at);
    this.#head.push(rest);
    this.#headLength += rest.length;
    const all = concat(this.#head, this.#headLength);
    const end = indexOfBlankLine(all);
    if (end < 0) {
      if (this.#headLength > MAX_HEAD) {
        this.#emitHead(t, false);
        this.#state = "stray";
      }
      return bytes.length;
    }
    this.#head = [all.subarray(0, end)];
    this.#headLength = end;
    const text = this.#emitHead(t, true);
    // Frames follow a request, and a response only if it is a 101.
    const upgraded =
      this.#direction === "sent" || /^HTTP\/1\.1 101\b/.test(text);
    this.#state = upgraded ? "frames" : "stray";
    // What of this chunk came after the head.
    return bytes.length - (all.length - end);
  }

  #emitHead(t, whole) {
    const text = new TextDecoder().decode(concat(this.#head, this.#headLength));
    this.#head = [];
    this.#headLength = 0;
    this.#entry(t, "head", { text, ...(whole ? {} : { incomplete: true }) });
    return text;
  }

  #readFrame(bytes, at, t) {
    if (this.#lastChunk !== this.#chunk) {
      this.#lastChunk = this.#chunk;
      this.#frameChunks += 1;
    }
    if (!this.#frame) {
      if (this.#header.length === 0) this.#started = t;
      // Header: 2 bytes, then the extended length and the mask key they ask for.
      while (at < bytes.length) {
        this.#header.push(bytes[at++]);
        const need = headerSize(this.#header);
        if (this.#header.length === need) break;
      }
      if (this.#header.length < headerSize(this.#header)) return at;
      this.#frame = parseHeader(this.#header, this.#started);
      this.#header = [];
    }
    const frame = this.#frame;
    const take = Math.min(bytes.length - at, frame.left);
    const keep = Math.min(take, KEEP - frame.kept.length);
    if (keep > 0) {
      const part = bytes.subarray(at, at + keep);
      const start = frame.kept.length;
      frame.kept = concat([frame.kept, part], start + keep);
      if (frame.key) {
        for (let i = start; i < frame.kept.length; i++)
          frame.kept[i] ^= frame.key[i & 3];
      }
    }
    frame.received += take;
    frame.left -= take;
    at += take;
    if (frame.left === 0) this.#endFrame(t);
    return at;
  }

  #endFrame(t, incomplete = false) {
    const frame = this.#frame;
    this.#frame = null;
    frame.chunks = this.#frameChunks;
    frame.incomplete = incomplete;
    this.#frameChunks = 0;
    this.#lastChunk = -1;
    this.#emitFrame(frame, t);
  }

  #emitFrame(frame, t) {
    const { kept, received, declared } = frame;
    const fields = {
      opcode: frame.opcode,
      name: opcodeName(frame.opcode),
      fin: frame.fin,
      rsv: frame.rsv,
      masked: frame.key !== null,
      mask: frame.key ? hex(frame.key) : null,
      length: declared,
      ...payloadFields(kept, received),
      chunks: frame.chunks,
      started: frame.started,
    };
    if (frame.opcode === 8 && kept.length >= 2) {
      fields.code = (kept[0] << 8) | kept[1];
      fields.reason = decode(kept.subarray(2)) ?? "";
    }
    if (frame.incomplete) fields.incomplete = true;
    this.#entry(t, "frame", fields);
  }
}

/** Header bytes needed, from what is known of the header so far. */
function headerSize(h) {
  if (h.length < 2) return 2;
  const short = h[1] & 0x7f;
  const extra = short === 126 ? 2 : short === 127 ? 8 : 0;
  return 2 + extra + (h[1] & 0x80 ? 4 : 0);
}

function parseHeader(h, started) {
  const short = h[1] & 0x7f;
  let declared = BigInt(short);
  let at = 2;
  if (short === 126) {
    declared = BigInt((h[2] << 8) | h[3]);
    at = 4;
  } else if (short === 127) {
    declared = 0n;
    for (let i = 2; i < 10; i++) declared = (declared << 8n) | BigInt(h[i]);
    at = 10;
  }
  const masked = (h[1] & 0x80) !== 0;
  return {
    opcode: h[0] & 0x0f,
    fin: (h[0] & 0x80) !== 0,
    rsv: (h[0] >> 4) & 7,
    key: masked ? Uint8Array.from(h.slice(at, at + 4)) : null,
    // A length past 2^53 cannot arrive here; it stays a string in exports.
    declared:
      declared <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(declared)
        : String(declared),
    left: Number(declared),
    received: 0,
    kept: new Uint8Array(0),
    chunks: 0,
    started,
  };
}

/** The payload as shown and exported: hex always, text when it is UTF-8. */
function payloadFields(kept, received) {
  const text = decode(kept);
  return {
    received,
    hex: hex(kept),
    ...(text === null ? {} : { text }),
    ...(received > kept.length ? { cut: true } : {}),
  };
}

/** UTF-8 text, or null for bytes that are not. */
export function decode(bytes) {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}

export function hex(bytes) {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

function indexOfBlankLine(bytes) {
  for (let i = 3; i < bytes.length; i++) {
    if (
      bytes[i] === 10 &&
      bytes[i - 1] === 13 &&
      bytes[i - 2] === 10 &&
      bytes[i - 3] === 13
    )
      return i + 1;
  }
  return -1;
}

function concat(parts, length) {
  if (parts.length === 1 && parts[0].length === length) return parts[0];
  const all = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return all;
}
