// Transports move bytes; the engine never touches I/O. A transport is any
// object with these four methods (the shape every adapter below produces):
//
//   start(sink)        begin reading; call sink.data(Uint8Array, transient?)
//                      per chunk (`transient`: the chunk's memory is read
//                      into again once the call returns, so the sink copies
//                      what it keeps) and sink.closed(error?) once, when
//                      reading ends or fails
//   write(bytes, done) queue bytes for the peer; call done() once accepted
//   end()              close gracefully after the queued bytes
//   destroy()          close at once
//
// and, optionally, `releasesWrites: true` when the transport holds no
// reference to written bytes once it called done(), so the session may reuse
// them (see pool.js), `pause()` / `resume()` to stop and restart calling
// sink.data (the session stops reading a peer that pings without reading),
// and `cork()` / `uncork()` to hand several writes over as one.
//
// This file is runtime-neutral: it adapts a WHATWG `{ readable, writable }`
// byte-stream pair, the shape of a WebTransport bidirectional stream.
// Node-only adapters live in node/.

/** True for an object that already is a transport. */
export function isTransport(t) {
  return (
    t != null &&
    typeof t.start === "function" &&
    typeof t.write === "function" &&
    typeof t.end === "function" &&
    typeof t.destroy === "function"
  );
}

/** True for a WHATWG `{ readable, writable }` pair. */
export function isStreamPair(t) {
  return (
    t != null &&
    typeof t.readable?.getReader === "function" &&
    typeof t.writable?.getWriter === "function"
  );
}

/** A transport over a WHATWG stream pair of Uint8Array chunks. */
export function streamTransport({ readable, writable }) {
  const reader = readable.getReader();
  const writer = writable.getWriter();
  let closed = false;
  let eof = false;
  let sink = null;
  /** While paused: the promise the read loop waits on, and its resolver. */
  let paused = null;
  let unpause = null;
  const finish = (error) => {
    if (closed) return;
    closed = true;
    sink?.closed(error);
  };
  return {
    start(s) {
      sink = s;
      (async () => {
        try {
          for (;;) {
            if (paused) await paused;
            const { value, done } = await reader.read();
            if (done) break;
            if (value?.byteLength) sink.data(asBytes(value));
          }
          eof = true;
          finish();
        } catch (error) {
          finish(error);
        }
      })();
    },
    write(bytes, done) {
      if (closed) return;
      writer.write(bytes).then(done, (error) => {
        finish(error);
      });
    },
    end() {
      writer.close().catch(() => {});
    },
    pause() {
      paused ??= new Promise((resolve) => (unpause = resolve));
    },
    resume() {
      unpause?.();
      paused = unpause = null;
    },
    destroy() {
      // After the peer ended its side, end ours (FIN) rather than reset it;
      // only a transport given up on (error, timeout) is aborted.
      if (eof) writer.close().catch(() => {});
      else writer.abort().catch(() => {});
      reader.cancel().catch(() => {});
      unpause?.();
      finish();
    },
  };
}

function asBytes(value) {
  if (value instanceof Uint8Array) return value;
  if (ArrayBuffer.isView(value))
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  return new Uint8Array(value);
}
