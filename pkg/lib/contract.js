// The contract between the engine (src/wasm/contract.rs) and this package:
// where the fields of the Report every engine call fills, and of the event
// records it points at, lie in wasm memory (little-endian), and what the
// numbers in them mean. engine.js is the only reader; the layers above get
// plain values. tests/node/contract.test.mjs checks every number here
// against the engine as built, so neither side can move alone.

/** Byte offsets of the Report's fields. */
export const Report = Object.freeze({
  EVENTS: 0,
  EVENT_COUNT: 4,
  FIRST_EVENT: 8,
  ARENA: 12,
  SIDE: 16,
  OUTPUT: 20,
  OUTPUT_LEN: 24,
  PENDING_OUTPUT: 28,
  STATE: 32,
  PONGS_HELD: 36,
  DEADLINE: 40,
  TRIM_DUE: 48,
});

/** An event record's size and the byte offsets of its fields. */
export const EventRecord = Object.freeze({
  SIZE: 24,
  TAG: 0,
  FLAGS: 2,
  ARG: 4,
  START: 8,
  LEN: 12,
  SIZE_ARG: 16,
});

/** Event tags. */
export const Tag = Object.freeze({
  REQUEST: 1,
  OPEN: 2,
  MESSAGE: 3,
  FRAGMENT: 4,
  PING: 5,
  PONG: 6,
  CLOSE_RECEIVED: 7,
  ERROR: 8,
  CLOSE_TRANSPORT: 9,
  CLOSED: 10,
  FRAME: 11,
  MESSAGE_START: 12,
  COMPRESSED: 13,
});

/** Bits of an event record's flags: the payload lies in the side buffer;
 * taking the event makes the engine answer the peer. */
export const Flag = Object.freeze({ SIDE: 1, OWES_REPLY: 2 });

/** Parts of an event's arg: the message kind, a piece's FIN, all-ASCII
 * text, a message the host may take straight from its input, a traced
 * compressed message that was sent; a close code, and a clean close. */
export const Arg = Object.freeze({
  KIND: 0xff,
  FIN: 0x100,
  ASCII: 0x200,
  DIRECT: 0x400,
  OUTGOING: 0x800,
  CODE: 0xffff,
  CLEAN: 0x10000,
});

/** Where a FRAME event's arg keeps the frame's header bits. */
export const FrameBits = Object.freeze({
  OUTGOING: 1,
  FIN: 2,
  RSV_SHIFT: 2,
  MASKED: 0x20,
  OPCODE_SHIFT: 8,
});

/** Message kinds. */
export const Kind = Object.freeze({ TEXT: 1, BINARY: 2 });

/** Command results. */
export const Status = Object.freeze({
  OK: 0,
  INVALID_STATE: 1,
  INVALID_CODE: 2,
  SYNTAX: 3,
  OTHER: 4,
});

/** The connection's WHATWG readyState. */
export const ReadyState = Object.freeze({
  CONNECTING: 0,
  OPEN: 1,
  CLOSING: 2,
  CLOSED: 3,
});
