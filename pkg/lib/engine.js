// The JS side of the wasm engine: moves bytes in and out of wasm memory and
// reads the events the engine reports, without knowing any protocol rule.
//
// After every call the engine fills a fixed `Report` in wasm memory (laid
// out as contract.js says). This file, its only reader, reads it through one
// DataView and turns the new event records into a flat queue of
// [tag, value, release] entries: `value` a plain JS value (see `#collect`),
// `release` the index to pass to `release` before reacting to an event that
// makes the engine answer the peer, or -1. The whole batch is read before
// anyone reacts to it, because a reaction (a send) may move wasm memory.

import {
  Engine as WasmEngine,
  EngineConfig,
  check_close,
  check_close_frame,
  check_protocols,
  last_error,
  staging_area,
  wasm_memory,
} from "../wasm/wasmsocket.js";
import {
  Arg,
  EventRecord,
  Flag,
  FrameBits,
  Kind,
  Report,
  Status,
  Tag,
} from "./contract.js";
import { giveBack, POOL_MIN, shared, takeBuffer } from "./pool.js";

export { ReadyState, Status, Tag } from "./contract.js";

const { TEXT, BINARY } = Kind;
const { KIND, FIN, ASCII, DIRECT, OUTGOING, CODE, CLEAN } = Arg;

/** Binary messages of at least this many bytes in one frame are assembled
 * here, in memory of their own (the engine's `host_assembly`), so that they
 * do not grow wasm memory, which does not shrink, beyond a chunk: a masked
 * one from the end of the chunk it starts in, its pieces unmasked in wasm
 * memory and copied out; an unmasked one from its header on, copied once,
 * straight from the transport's chunks. */
const HOST_ASSEMBLY = 64 * 1024;

/** When a direct message ends inside a chunk and this much or more of the
 * chunk is left, only its first PROBE bytes (the longest unmasked header)
 * are fed to the engine at first: if they start the next direct message, its
 * payload never enters wasm memory; if not, the rest follows in one piece.
 * Big messages sent back to back come so. Elsewhere (a chunk's start, a
 * server's masked input) a probe would cost every chunk a call into wasm,
 * and a big message that starts there has its first chunk copied in and out
 * once. */
const PROBE_MIN = 4096;
const PROBE = 10;

/** Messages of at least this many bytes (binary) or characters (text) are
 * written once, with their header, into a buffer of their own that goes in
 * its place in the output, instead of into wasm memory and out again. A
 * client's are masked on the way, window by window as the engine says: each
 * window is copied into wasm memory, masked there and copied back while it
 * is still in the CPU's caches. Text is encoded into that buffer after room
 * for the longest header, whose length is known only once the text is
 * encoded; text that is not ASCII, whose UTF-8 is longer than the string,
 * stays on the wasm path (measuring it first costs more than encoding it). */
const HOST_SEND = POOL_MIN;

/** Where text sent by the host starts in its frame's buffer: room for the
 * longest header (RFC 6455 §5.2: 14 bytes), rounded up to 32, because here
 * (Node 20) TextEncoder encoded 1 MiB of ASCII three times slower at any
 * offset from 1 to 31 bytes (or 4096 more) than at 0 or 32 to 72: a big
 * string and a big buffer both start at the same place in a page, and a
 * copy whose destination runs just ahead of its source in a page's offsets
 * stalls (4 KiB aliasing). */
const TEXT_AT = 32;

const {
  EVENTS: R_EVENTS,
  EVENT_COUNT: R_COUNT,
  FIRST_EVENT: R_FIRST,
  ARENA: R_ARENA,
  SIDE: R_SIDE,
  OUTPUT: R_OUTPUT,
  OUTPUT_LEN: R_OUTPUT_LEN,
  PENDING_OUTPUT: R_PENDING,
  STATE: R_STATE,
  PONGS_HELD: R_PONGS_HELD,
  DEADLINE: R_DEADLINE,
  TRIM_DUE: R_TRIM_DUE,
} = Report;
const {
  SIZE: EVENT_SIZE,
  TAG: E_TAG,
  FLAGS: E_FLAGS,
  ARG: E_ARG,
  START: E_START,
  LEN: E_LEN,
  SIZE_ARG: E_SIZE,
} = EventRecord;

const encoder = new TextEncoder();
// ignoreBOM: a message that starts with U+FEFF must keep it.
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * How text leaves wasm memory: `view(buffer)` prepares a view of a memory
 * buffer once, `decode(view, start, end)` makes a string from it. The engine
 * has already checked the bytes are UTF-8. Runtimes with a faster decoder
 * than TextDecoder for short strings (Node's Buffer) replace these.
 */
export const text = {
  view: (buffer) => new Uint8Array(buffer),
  /** `ascii`: the engine found every byte below 0x80. */
  decode: (view, start, end, ascii) =>
    decoder.decode(view.subarray(start, end)),
  /** The UTF-8 length of a string, where the runtime can tell it cheaply. */
  byteLength: null,
};

/**
 * How bytes leave wasm memory (which the next call may reuse, so they are
 * copied): `arrayBuffer` for a binary message, `copy` for transport output.
 * Node replaces these with copies that skip zero-filling the new memory.
 */
export const bytes = {
  arrayBuffer: (u8, start, end) => u8.buffer.slice(start, end),
  copy: (u8, start, end) => u8.slice(start, end),
  /** A Uint8Array of `n` bytes over an ArrayBuffer of exactly that size. */
  alloc: (n) => new Uint8Array(n),
};

/** Strings longer than this are encoded to exact size first, so the staging
 * buffer never grows to three times a huge message. */
const ENCODE_INTO_LIMIT = 1 << 20;

/** A FRAME event as a trace record. */
function frameRecord(arg, length, preview) {
  return {
    kind: "frame",
    direction: arg & FrameBits.OUTGOING ? "sent" : "received",
    fin: (arg & FrameBits.FIN) !== 0,
    rsv: (arg >> FrameBits.RSV_SHIFT) & 7,
    masked: (arg & FrameBits.MASKED) !== 0,
    opcode: (arg >> FrameBits.OPCODE_SHIFT) & 0xf,
    length,
    preview,
  };
}

/**
 * Views of the one wasm memory every engine shares, made again only when
 * the memory grows (which detaches the old ones).
 */
const mem = { memory: null, buffer: null, view: null, u8: null, text: null };

function sync() {
  mem.memory ??= wasm_memory();
  const b = mem.memory.buffer;
  if (b !== mem.buffer) {
    mem.buffer = b;
    mem.view = new DataView(b);
    mem.u8 = new Uint8Array(b);
    mem.text = text.view(b);
  }
}

/** `takeWrites` with nothing to write: most calls, as the session flushes
 * after every batch of input. */
const NO_WRITES = Object.freeze([]);

/** Bytes `start..end` of wasm memory in a buffer of their own; `pooled`:
 * large ones in a buffer from pool.js. */
function copyOut(start, end, pooled) {
  if (!pooled || end - start < POOL_MIN) return bytes.copy(mem.u8, start, end);
  const out = takeBuffer(end - start);
  out.set(mem.u8.subarray(start, end));
  return out;
}

/** The address of the engines' shared staging area, grown to `n` bytes. */
function stagingArea(n) {
  const ptr = staging_area(n);
  if (ptr === 0) throw new RangeError(`out of memory for ${n} more bytes`);
  return ptr;
}

/**
 * Where a freed Engine's calls go: a real engine, closed for good and shared
 * by every freed one, which answers each call as a closed connection does
 * (commands refused, input dropped, no events). So nothing that runs after a
 * connection ended (a hook that settles late, a timer) can reach freed
 * memory, whatever it calls.
 */
let retired = null;

function retiredEngine() {
  if (retired === null) {
    retired = WasmEngine.server(new EngineConfig(), 0);
    retired.transport_closed(0);
    // A call that reports nothing, so that its report shows no events.
    retired.trim();
  }
  return retired;
}

/** Adds `piece` to a host-assembled message; `transient` if it lies in
 * memory used again later (wasm memory, which the next call may reuse, or a
 * transport's read buffer). */
function hostPiece(h, piece, transient) {
  if (h.u8 === null) {
    if (h.at + piece.length < h.length / 2) {
      if (transient) holdCopy(h, piece);
      else h.held.push(piece);
      h.at += piece.length;
      return;
    }
    h.u8 = bytes.alloc(h.length);
    let at = 0;
    for (const held of h.held) {
      h.u8.set(held, at);
      at += held.length;
    }
    h.held = null;
    for (const block of h.blocks) giveBack(block);
    h.blocks = null;
  }
  h.u8.set(piece, h.at);
  h.at += piece.length;
}

/** Holds a copy of `piece` in blocks from pool.js, given back once the
 * message has its own buffer: fresh memory for each copy cost more than
 * the copy (its pages fault in). */
function holdCopy(h, piece) {
  for (let at = 0; at < piece.length;) {
    let block = h.blocks.at(-1);
    if (block === undefined || h.blockAt === block.length) {
      block = takeBuffer(POOL_MIN);
      h.blocks.push(block);
      h.blockAt = 0;
    }
    const n = Math.min(piece.length - at, block.length - h.blockAt);
    block.set(piece.subarray(at, at + n), h.blockAt);
    h.held.push(block.subarray(h.blockAt, h.blockAt + n));
    h.blockAt += n;
    at += n;
  }
}

/** Engine options in the shape of `EngineConfig`; unset fields keep defaults. */
export function makeConfig(options = {}) {
  const c = new EngineConfig();
  c.host_assembly = HOST_ASSEMBLY;
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined && key in c) c[key] = value;
  }
  return c;
}

/** "" if `protocols` is a valid subprotocol list, else the reason. */
export function checkProtocols(protocols) {
  return check_protocols(protocols);
}

/** A `Status` for WHATWG `close(code, reason)` arguments; code -1 if absent. */
export function checkClose(code, reason) {
  return check_close(code, reason);
}

/** A `Status` for a close frame with any wire-valid code. */
export function checkCloseFrame(code, reason) {
  return check_close_frame(code, reason);
}

/** Stages `data` (string or bytes) in wasm memory; returns its length. */
function stage(data) {
  if (typeof data !== "string") {
    const ptr = stagingArea(data.byteLength);
    sync();
    mem.u8.set(data, ptr);
    return data.byteLength;
  }
  if (data.length > ENCODE_INTO_LIMIT) return stage(encoder.encode(data));
  const max = data.length * 3;
  const ptr = stagingArea(max);
  sync();
  return encoder.encodeInto(data, mem.u8.subarray(ptr, ptr + max)).written;
}

/**
 * One message framed once for many of a server's connections (a publish):
 * `frame` its bytes, `length` its UTF-8 or byte length, `handle` what each
 * engine checks in `sendShared`; free it with `handle.free()` once every
 * engine has. `deflate`: compressed as the config's permessage-deflate
 * does without context takeover, in wasm memory; else only the header is
 * made there and the payload copied after it here, so a big message never
 * grows wasm memory (which does not shrink).
 */
export function frameShared(config, data, deflate) {
  const kind = typeof data === "string" ? TEXT : BINARY;
  let handle;
  let length;
  let payload = null;
  if (deflate) {
    length = stage(data);
    handle = config.frame_shared(kind, length, true);
  } else {
    payload = kind === TEXT ? encoder.encode(data) : data;
    length = payload.length;
    handle = config.shared_header(kind, length);
  }
  sync();
  const ptr = handle.ptr();
  const made = handle.len();
  let frame;
  if (payload === null) frame = bytes.copy(mem.u8, ptr, ptr + made);
  else {
    frame = bytes.alloc(made + payload.length);
    frame.set(mem.u8.subarray(ptr, ptr + made));
    frame.set(payload, made);
  }
  shared.add(frame.buffer);
  return { frame, length, handle };
}

/** Fresh entropy for a client: a 16-byte key nonce and a 32-byte mask seed. */
function entropy() {
  const bytes = crypto.getRandomValues(new Uint8Array(48));
  return [bytes.subarray(0, 16), bytes.subarray(16)];
}

export class Engine {
  /** Pending events: [tag, value, release] repeated (see the top). */
  queue = [];
  /** UTF-8 length of the last text sent, or bytes of the last binary. */
  lastLength = 0;
  #w;
  #report;
  /** The message being assembled here after a MESSAGE_START: its length,
   * how many bytes have come (`at`), whether the engine lets the payload be
   * taken straight from transport chunks (`direct`), and its bytes: `u8`,
   * made once half of it has come, and until then the pieces `held`, so that
   * a peer announcing a big message and sending little costs little (pieces
   * that must be copied are copied into pooled `blocks`). */
  #host = null;
  /** A client: what it sends is masked (RFC 6455 §5.3). */
  #masked = false;
  /** Messages sent by `#sendByHost`, not yet taken: [at, frame] pairs, `at`
   * the position in the engine's pending output where `frame` goes. */
  #splices = null;

  constructor(wasm) {
    // Every engine is freed by its session (`free`, once CLOSED), so
    // wasm-bindgen's FinalizationRegistry entry would only cost each idle
    // connection a 72 B WeakCell: the wrapper is taken out of it.
    wasm.__wbg_ptr = wasm.__destroy_into_raw();
    this.#w = wasm;
    this.#report = wasm.report();
    this.#collect();
  }

  /** A client engine for `request` = { host, resource, protocols, extensions, origin, headers }. */
  static client(config, request, now) {
    const [nonce, seed] = entropy();
    const w = WasmEngine.client(
      config,
      request.host,
      request.resource,
      request.protocols ?? [],
      request.extensions ?? [],
      request.origin,
      request.headers ?? [],
      nonce,
      seed,
      now,
    );
    const engine = new Engine(w);
    engine.#masked = true;
    return engine;
  }

  static server(config, now) {
    return new Engine(WasmEngine.server(config, now));
  }

  /**
   * Reads the events the last call reported into `queue`, each as a plain
   * value: MESSAGE a string or an ArrayBuffer; PING and PONG a Uint8Array;
   * OPEN { protocol, extensions }; CLOSE_RECEIVED and CLOSED { code,
   * reason } (CLOSED with wasClean); ERROR its message; FRAME and
   * COMPRESSED a trace record; CLOSE_TRANSPORT whether to write the output
   * first. The pieces
   * of a message assembled here become one MESSAGE.
   */
  #collect() {
    sync();
    const v = mem.view;
    const r = this.#report;
    const count = v.getUint32(r + R_COUNT, true);
    if (count === 0) return;
    const first = v.getUint32(r + R_FIRST, true);
    const arena = v.getUint32(r + R_ARENA, true);
    const side = v.getUint32(r + R_SIDE, true);
    const q = this.queue;
    let p = v.getUint32(r + R_EVENTS, true);
    for (let i = 0; i < count; i++, p += EVENT_SIZE) {
      const tag = v.getUint16(p + E_TAG, true);
      const flags = v.getUint16(p + E_FLAGS, true);
      const arg = v.getUint32(p + E_ARG, true);
      const start =
        (flags & Flag.SIDE ? side : arena) + v.getUint32(p + E_START, true);
      const end = start + v.getUint32(p + E_LEN, true);
      let value = null;
      switch (tag) {
        case Tag.MESSAGE_START:
          this.#host = {
            length: v.getFloat64(p + E_SIZE, true),
            at: 0,
            direct: (arg & DIRECT) !== 0,
            u8: null,
            held: [],
            blocks: [],
            blockAt: 0,
          };
          continue;
        case Tag.FRAGMENT:
          if (this.#host !== null) {
            const h = this.#host;
            hostPiece(h, mem.u8.subarray(start, end), true);
            if ((arg & FIN) === 0) continue;
            this.#host = null;
            q.push(Tag.MESSAGE, h.u8.buffer, -1);
            continue;
          }
        // falls through: a piece of a streamed message
        case Tag.MESSAGE:
          value =
            (arg & KIND) === TEXT
              ? text.decode(mem.text, start, end, (arg & ASCII) !== 0)
              : bytes.arrayBuffer(mem.u8, start, end);
          break;
        case Tag.PING:
        case Tag.PONG:
          value = mem.u8.slice(start, end);
          break;
        case Tag.FRAME:
          value = frameRecord(
            arg,
            v.getFloat64(p + E_SIZE, true),
            mem.u8.slice(start, end),
          );
          break;
        case Tag.COMPRESSED:
          value = {
            kind: "compressed",
            direction: arg & OUTGOING ? "sent" : "received",
            opcode: arg & KIND,
            length: v.getFloat64(p + E_SIZE, true),
            preview: mem.u8.slice(start, end),
          };
          break;
        case Tag.OPEN: {
          const names = text.decode(mem.text, start, end);
          value = {
            protocol: names.slice(0, arg),
            extensions: names.slice(arg),
          };
          break;
        }
        case Tag.CLOSE_RECEIVED:
          value = {
            code: arg & CODE,
            reason: text.decode(mem.text, start, end),
          };
          break;
        case Tag.CLOSED:
          this.#host = null;
          value = {
            code: arg & CODE,
            reason: text.decode(mem.text, start, end),
            wasClean: (arg & CLEAN) !== 0,
          };
          break;
        case Tag.ERROR:
          this.#host = null;
          value = text.decode(mem.text, start, end);
          break;
        case Tag.CLOSE_TRANSPORT:
          value = arg !== 0;
          break;
      }
      q.push(tag, value, flags & Flag.OWES_REPLY ? first + i : -1);
    }
  }

  /** The connection's ReadyState after the last call. */
  get state() {
    sync();
    return mem.view.getUint32(this.#report + R_STATE, true);
  }

  /** Output bytes written and not yet taken by `takeOutput`. */
  get pendingOutput() {
    let n = this.#enginePending();
    const s = this.#splices;
    if (s !== null) for (let i = 1; i < s.length; i += 2) n += s[i].length;
    return n;
  }

  #enginePending() {
    sync();
    return mem.view.getUint32(this.#report + R_PENDING, true);
  }

  /** The next deadline (same clock as `now`), or -1. */
  get deadline() {
    sync();
    return mem.view.getFloat64(this.#report + R_DEADLINE, true);
  }

  /** The engine holds more buffer memory than it keeps between uses (a
   * big message passed): `trim` gives it back. */
  get trimDue() {
    sync();
    return mem.view.getUint32(this.#report + R_TRIM_DUE, true) !== 0;
  }

  /** How many pings a held pong answers (0: none is held; see `holdPongs`). */
  get pongsHeld() {
    sync();
    return mem.view.getUint32(this.#report + R_PONGS_HELD, true);
  }

  /** While `hold` is true, the pongs owed are held, coalesced into one for
   * the latest ping; turning it off writes that one. */
  holdPongs(hold) {
    this.#w.hold_pongs(hold);
    this.#collect();
  }

  /** Feeds a chunk read from the transport; a string goes in as its UTF-8
   * bytes, encoded straight into wasm memory when no message is being
   * assembled here. `transient`: the chunk's memory is used again once this
   * returns (a transport's reused read buffer), so nothing keeps a view of
   * it. */
  receive(chunk, now, transient = false) {
    if (typeof chunk === "string") {
      if (this.#host === null) return this.#receiveText(chunk, now);
      chunk = encoder.encode(chunk);
    }
    // Big unmasked messages are taken here, between the pieces fed to the
    // engine; after one, probing for the next is worth it.
    let probe = false;
    for (let at = 0; at < chunk.length;) {
      const h = this.#host;
      if (h !== null && h.direct) {
        const n = Math.min(h.length - h.at, chunk.length - at);
        hostPiece(h, chunk.subarray(at, at + n), transient);
        at += n;
        if (this.#w.host_payload(n, now) !== Status.OK) this.#host = null;
        this.#collect();
        probe = true;
        continue;
      }
      let n = chunk.length - at;
      if (probe && n >= PROBE_MIN) n = PROBE;
      const ptr = this.#w.input(n);
      if (ptr === 0) return this.#outOfMemory();
      sync();
      mem.u8.set(n === chunk.length ? chunk : chunk.subarray(at, at + n), ptr);
      at += n;
      this.#w.receive(n, now);
      this.#collect();
      probe = false;
    }
  }

  /** A string chunk, its UTF-8 bytes encoded straight into wasm memory. */
  #receiveText(chunk, now) {
    const max = chunk.length * 3;
    const ptr = this.#w.input(max);
    if (ptr === 0) return this.#outOfMemory();
    sync();
    const len = encoder.encodeInto(
      chunk,
      mem.u8.subarray(ptr, ptr + max),
    ).written;
    this.#w.receive(len, now);
    this.#collect();
  }

  /** Frees the buffers a quiet connection does not need. */
  trim() {
    this.#w.trim();
    this.#collect();
  }

  transportClosed(now) {
    this.#w.transport_closed(now);
    this.#collect();
  }

  handleTimeout(now) {
    this.#w.handle_timeout(now);
    this.#collect();
  }

  /** Writes the replies owed for events up to and including `index`. */
  release(index) {
    this.#w.release(index + 1);
    this.#collect();
  }

  /** Every owed reply, then all pending output, as buffers to write in
   * order: copies out of wasm memory, and the frames of messages sent by
   * `#sendByHost` in their places. `pooled`: large output goes into a
   * buffer from pool.js (the frames always do). */
  takeWrites(pooled = false) {
    this.#w.flush();
    this.#collect();
    const r = this.#report;
    const len = mem.view.getUint32(r + R_OUTPUT_LEN, true);
    const s = this.#splices;
    const writes = len === 0 && s === null ? NO_WRITES : [];
    const ptr = mem.view.getUint32(r + R_OUTPUT, true);
    let from = 0;
    if (s !== null) {
      this.#splices = null;
      for (let i = 0; i < s.length; i += 2) {
        if (s[i] > from) writes.push(copyOut(ptr + from, ptr + s[i], pooled));
        writes.push(s[i + 1]);
        from = s[i];
      }
    }
    if (len > from) writes.push(copyOut(ptr + from, ptr + len, pooled));
    return writes;
  }

  /** All pending output as one buffer (see `takeWrites`), or null. */
  takeOutput() {
    const writes = this.takeWrites();
    if (writes.length < 2) return writes[0] ?? null;
    const out = new Uint8Array(writes.reduce((n, w) => n + w.length, 0));
    let at = 0;
    for (const w of writes) {
      out.set(w, at);
      at += w.length;
    }
    return out;
  }

  /** Sends a message: a string as text, a Uint8Array as binary. Returns a
   * Status. The payload is written straight into the engine's output. */
  send(data) {
    if (typeof data !== "string") {
      if (data.byteLength >= HOST_SEND && this.#sendByHost(data))
        return Status.OK;
      return this.#sendBytes(BINARY, data);
    }
    const n = data.length;
    if (n <= 1024) return this.#sendText(data, n * 3);
    // A client's text is masked (through wasm memory) on the way: encoded
    // there in place, that costs one copy less, which is worth the room up
    // to ENCODE_INTO_LIMIT.
    if (n >= HOST_SEND && (!this.#masked || n > ENCODE_INTO_LIMIT)) {
      const sent = this.#sendTextByHost(data);
      if (sent !== undefined) return sent;
    }
    // Long text is mostly ASCII, whose UTF-8 is as long as the string: that
    // room is tried first. Only a string that does not fit is measured
    // (which costs more than encoding it); room for three bytes a character
    // would grow wasm memory, which never shrinks, to three times the text.
    const fitted = this.#sendText(data, n, true);
    if (fitted !== undefined) return fitted;
    if (text.byteLength) return this.#sendText(data, text.byteLength(data));
    if (n > ENCODE_INTO_LIMIT)
      return this.#sendBytes(TEXT, encoder.encode(data));
    return this.#sendText(data, n * 3);
  }

  /** Encodes `data` into `room` bytes of output and sends it; if `tryOnly`
   * and it does not fit, returns undefined and sends nothing. */
  #sendText(data, room, tryOnly = false) {
    const ptr = this.#w.message_buffer(room);
    if (ptr === 0) return this.#outOfMemory();
    sync();
    const { read, written } = encoder.encodeInto(
      data,
      mem.u8.subarray(ptr, ptr + room),
    );
    if (tryOnly && read < data.length) return undefined;
    return this.#commit(TEXT, written);
  }

  /** Sends a big binary message as a frame written here, if the engine
   * allows: its header and a copy of its bytes, made now as WHATWG `send`
   * does, go into one buffer that `takeWrites` puts where the engine's output
   * stands now. A masked frame's bytes pass through the engine's staging
   * area on the way, a window at a time, to be masked there. */
  #sendByHost(data) {
    const length = data.byteLength;
    const n = this.#w.host_frame(BINARY, length);
    this.#collect();
    if (n === 0) return false;
    const window = this.#w.host_window();
    const ptr = stagingArea(n);
    sync();
    const frame = takeBuffer(n + length);
    frame.set(mem.u8.subarray(ptr, ptr + n));
    if (window === 0) frame.set(data, n);
    for (let at = 0; window !== 0 && at < length; at += window) {
      const end = Math.min(at + window, length);
      mem.u8.set(data.subarray(at, end), ptr);
      this.#maskWindow(end - at);
      frame.set(mem.u8.subarray(ptr, ptr + end - at), n + at);
    }
    this.#spliceHostFrame(frame, length);
    return true;
  }

  /** Sends long ASCII text as `#sendByHost` sends binary: encoded straight
   * into the frame's buffer, after room for the longest header (`TEXT_AT`), and its
   * header put right before it once its length is known. A client's
   * payload is masked in place, a window at a time through the staging
   * area. Undefined (nothing sent) if the text is not ASCII. */
  #sendTextByHost(data) {
    const buffer = takeBuffer(TEXT_AT + data.length);
    const { read, written } = encoder.encodeInto(
      data,
      buffer.subarray(TEXT_AT),
    );
    if (read < data.length) {
      giveBack(buffer);
      return undefined;
    }
    const payload = buffer.subarray(TEXT_AT, TEXT_AT + written);
    const n = this.#w.host_frame(TEXT, written);
    this.#collect();
    if (n === 0) {
      const sent = this.#sendBytes(TEXT, payload);
      giveBack(buffer);
      return sent;
    }
    const window = this.#w.host_window();
    const ptr = stagingArea(n);
    sync();
    buffer.set(mem.u8.subarray(ptr, ptr + n), TEXT_AT - n);
    for (let at = 0; window !== 0 && at < written; at += window) {
      const piece = payload.subarray(at, Math.min(at + window, written));
      mem.u8.set(piece, ptr);
      this.#maskWindow(piece.length);
      piece.set(mem.u8.subarray(ptr, ptr + piece.length));
    }
    this.#spliceHostFrame(
      buffer.subarray(TEXT_AT - n, TEXT_AT + written),
      written,
    );
    return Status.OK;
  }

  /** Masks the `len` bytes at the staging area as the next window of the
   * last `host_frame`. */
  #maskWindow(len) {
    if (this.#w.mask_window(len) !== Status.OK)
      throw new Error(`mask_window: ${last_error()}`);
  }

  /** Puts a frame made here where the engine's output stands now. */
  #spliceHostFrame(frame, length) {
    (this.#splices ??= []).push(this.#enginePending(), frame);
    this.lastLength = length;
  }

  /** Sends a message framed by `frameShared`, if this connection would
   * have framed it the same way: its frame goes where the engine's output
   * stands now, as `#sendByHost`'s. False if it must be sent with `send`
   * (or not at all: the connection is closing). */
  sendShared({ frame, length, handle }) {
    const taken = this.#w.send_shared(handle);
    this.#collect();
    if (!taken) return false;
    this.#spliceHostFrame(frame, length);
    return true;
  }

  #sendBytes(kind, bytes) {
    const ptr = this.#w.message_buffer(bytes.byteLength);
    if (ptr === 0) return this.#outOfMemory();
    sync();
    mem.u8.set(bytes, ptr);
    return this.#commit(kind, bytes.byteLength);
  }

  /** No memory for input or a message: the engine has failed the
   * connection, and reported it. */
  #outOfMemory() {
    this.#collect();
    return Status.OTHER;
  }

  #commit(kind, len) {
    this.lastLength = len;
    const s = this.#w.commit_message(kind, len);
    this.#collect();
    return s;
  }

  /** Sends one piece of a message sent piece by piece. Returns a Status. */
  sendFragment(data, binary, fin) {
    const len = stage(data);
    this.lastLength = len;
    const s = this.#w.send_fragment(binary ? BINARY : TEXT, len, fin);
    this.#collect();
    return s;
  }

  /** Sends a ping or pong with up to 125 bytes. Returns a Status. */
  control(pong, payload) {
    const s = this.#w.control(pong, stage(payload));
    this.#collect();
    return s;
  }

  /** Writes bytes as they are, for protocol testing. Returns a Status. */
  sendRaw(bytes) {
    const s = this.#w.send_raw(stage(bytes));
    this.#collect();
    return s;
  }

  /** WHATWG close; code -1 when absent. Returns a Status. */
  close(code, reason) {
    const s = this.#w.close(code, reason);
    this.#collect();
    return s;
  }

  /** Close with any wire-valid code (1001 on shutdown, …). Returns a Status. */
  closeWithStatus(code, reason) {
    const s = this.#w.close_with_status(code, reason);
    this.#collect();
    return s;
  }

  abort() {
    this.#w.abort();
    this.#collect();
  }

  accept(protocol, extensions, headers) {
    const s = this.#w.accept(protocol, extensions, headers);
    this.#collect();
    return s;
  }

  reject(status, body, headers) {
    const s = this.#w.reject(status, body, headers);
    this.#collect();
    return s;
  }

  get lastError() {
    return last_error();
  }

  /** How long (ms) a closing connection waits for its peer. */
  get closeTimeout() {
    return this.#w.close_timeout();
  }

  get protocol() {
    return this.#w.protocol();
  }

  get extensions() {
    return this.#w.extensions();
  }

  /** Server: the opening request, once a REQUEST event came: its path
   * (origin-form), its host (checked: it makes a valid URL), the offered
   * extensions and subprotocols, and `headerText`, the header fields as
   * `name\0value\0…`, split only by whoever needs them (most servers
   * never look). */
  request() {
    const summary = this.#w.request_summary();
    let at = 0;
    const next = () => {
      const end = summary.indexOf("\0", at);
      const part = summary.slice(at, end);
      at = end + 1;
      return part;
    };
    const path = next();
    const host = next();
    const extensions = next();
    const protocols = [];
    for (let n = Number(next()); n > 0; n--) protocols.push(next());
    return {
      path,
      host,
      extensions,
      protocols,
      headerText: summary.slice(at),
    };
  }

  /** Client: { status, headers } of a refused handshake, or null. */
  refusal() {
    const flat = this.#w.refusal();
    if (flat.length === 0) return null;
    const headers = [];
    for (let i = 1; i < flat.length; i += 2)
      headers.push([flat[i], flat[i + 1]]);
    return { status: Number(flat[0]), headers };
  }

  /** With tracing on: [sent head, received head]. */
  heads() {
    return [this.#w.sent_head(), this.#w.received_head()];
  }

  /** Frees the engine; any later call is answered as by a closed one. */
  free() {
    if (this.#w === retired) return;
    this.#w.free();
    this.#w = retiredEngine();
    this.#report = this.#w.report();
    this.#host = null;
    this.#splices = null;
  }
}
