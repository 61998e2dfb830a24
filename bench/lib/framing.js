// The raw echo's framing: length-prefixed messages, a 4-byte big-endian
// length then the payload (bench/echo/client.js and server.js).

/**
 * A reader of length-prefixed messages: feed it every chunk in order, and it
 * calls `onEnd(end, length)` for each message that ends in that chunk, `end`
 * being the index just past it.
 */
export function lengthPrefixed(onEnd) {
  const head = Buffer.alloc(4);
  let headHave = 0;
  let left = 0;
  let length = 0;
  return (chunk) => {
    let p = 0;
    while (p < chunk.length) {
      if (left === 0) {
        const n = Math.min(4 - headHave, chunk.length - p);
        chunk.copy(head, headHave, p, p + n);
        headHave += n;
        p += n;
        if (headHave < 4) break;
        headHave = 0;
        length = left = head.readUInt32BE(0);
        if (left === 0) onEnd(p, 0);
        continue;
      }
      const n = Math.min(left, chunk.length - p);
      left -= n;
      p += n;
      if (left === 0) onEnd(p, length);
    }
  };
}
