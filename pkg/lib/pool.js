// Large output buffers, used again once the transport has written them.
//
// Output leaves wasm memory by copy (the next call may reuse that memory).
// For large output a fresh buffer costs several times the copy itself: the
// new pages fault in and, later, the GC frees them (measured in Node 20:
// about 100 µs for a fresh 1 MiB buffer against 23 µs to copy into a warm
// one). So output of 64 KiB and more goes into a buffer from this pool, and
// the session gives it back when a transport that lets go of written bytes
// (a Node socket) has written it. The pool is shared by every connection and
// capped, so idle connections hold nothing.

/** Smaller output comes from the runtime's own allocator. */
export const POOL_MIN = 64 * 1024;
/** As many as a pipeline of 64 KiB messages keeps in flight: a sender
 * takes a buffer per message and gets it back only once the socket has
 * written it, so with 8 (as before) most of a burst's buffers were fresh
 * and thrown away (a client's masked sends to ws's server spent a quarter
 * of their time making new ones). */
const MAX_FREE = 64;
const MAX_FREE_BYTES = 32 << 20;
/** New buffers are rounded up to whole pages (a 64 KiB message's frame, a
 * few bytes more, takes 68 KiB, not 128). */
const PAGE = 4096;

/** Free ArrayBuffers, in no order. */
const free = [];
let freeBytes = 0;

/** A Uint8Array of exactly `length` bytes (≥ POOL_MIN), over a pooled buffer
 * at most twice as big, or a new one. */
export function takeBuffer(length) {
  let best = -1;
  for (let i = 0; i < free.length; i++) {
    const size = free[i].byteLength;
    if (size >= length && size <= 2 * length) {
      if (best < 0 || size < free[best].byteLength) best = i;
    }
  }
  if (best < 0) {
    const size = Math.ceil(length / PAGE) * PAGE;
    return new Uint8Array(new ArrayBuffer(size), 0, length);
  }
  const buffer = free[best];
  free[best] = free[free.length - 1];
  free.pop();
  freeBytes -= buffer.byteLength;
  return new Uint8Array(buffer, 0, length);
}

/** Buffers written to many transports at once (a publish's frame, see
 * engine.js `frameShared`): one transport done with it is not all of them,
 * so they are never given back. */
export const shared = new WeakSet();

/** Returns a buffer from `takeBuffer` that nothing references any more. */
export function giveBack(bytes) {
  const buffer = bytes.buffer;
  if (
    buffer.byteLength >= POOL_MIN &&
    !shared.has(buffer) &&
    free.length < MAX_FREE &&
    freeBytes + buffer.byteLength <= MAX_FREE_BYTES
  ) {
    free.push(buffer);
    freeBytes += buffer.byteLength;
  }
}
