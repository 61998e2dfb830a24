// A transport over any Node Duplex: a net or tls socket, one end of a pipe,
// a stream the application already has (see ../transport.js for the shape).

import net from "node:net";

/** True for a Node stream that can both read and write. */
export function isDuplex(t) {
  return (
    t != null &&
    typeof t.on === "function" &&
    typeof t.write === "function" &&
    typeof t.read === "function" &&
    typeof t.end === "function"
  );
}

const kTransport = Symbol("wasmsocket.transport");

/**
 * A transport over a Node Duplex. The stream's listeners are shared
 * functions that find their transport on the stream, so an idle connection
 * carries no closures of its own.
 */
class DuplexTransport {
  #stream;
  #sink = null;
  #closed = false;

  constructor(stream) {
    this.#stream = stream;
  }

  start(sink) {
    this.#sink = sink;
    const stream = this.#stream;
    stream[kTransport] = this;
    stream.on("data", onData);
    stream.on("end", onEnd);
    stream.on("close", onEnd);
    stream.on("error", onError);
    if (stream.destroyed) this.finish();
  }

  receive(chunk, transient = false) {
    if (!this.#closed)
      this.#sink.data(
        typeof chunk === "string" ? Buffer.from(chunk) : chunk,
        transient,
      );
  }

  finish(error) {
    if (this.#closed) return;
    this.#closed = true;
    this.#sink.closed(error);
  }

  write(bytes, done) {
    const stream = this.#stream;
    if (this.#closed || stream.destroyed || stream.writableEnded) return;
    stream.write(bytes, (error) => {
      if (!error) done();
    });
  }

  /** Holds writes until `uncork`, which hands them over as one (a
   * socket's writev). */
  cork() {
    this.#stream.cork();
  }

  uncork() {
    this.#stream.uncork();
  }

  /** A socket is done with written bytes once it calls back; other streams
   * (a PassThrough) may hand the very same bytes on to a reader. */
  get releasesWrites() {
    return this.#stream instanceof net.Socket;
  }

  pause() {
    this.#stream.pause();
  }

  resume() {
    this.#stream.resume();
  }

  end() {
    const stream = this.#stream;
    if (!stream.destroyed && !stream.writableEnded) stream.end();
  }

  destroy() {
    this.#stream.destroy();
  }
}

function onData(chunk) {
  this[kTransport].receive(chunk);
}

/** A socket's reads land in fresh memory by default: in Node 20, 64 KiB
 * allocated for each read, faulted in, and collected later, which cost big
 * messages more than parsing them. A socket made with these `onread`
 * options reads into one buffer, shared by every such socket: each read is
 * handed on at once as `transient` and copied by its taker (the engine)
 * before the next read, on whatever socket, can land.
 *
 * Measured trade-off (echo with ws's server, 2 vCPUs, noisy): pipelined
 * throughput the same or better at 16 KiB–1 MiB, text most; but one 1 MiB
 * binary message at a time took ~1.9–2.7 ms a round trip instead of
 * ~1.5–1.7, with 120–170 page faults a message instead of 45–60: without
 * the churn of read buffers, the allocator seems to give back the memory
 * the app's 1 MiB ArrayBuffers come from, and faults it in again. */
export function readInto() {
  sharedRead ??= Buffer.allocUnsafeSlow(READ_SIZE);
  // The socket is named once made: Bun calls the callback without it as
  // `this`, as Node and Deno do.
  const options = {
    socket: null,
    buffer: sharedRead,
    callback(nread, buffer) {
      options.socket?.[kTransport]?.receive(buffer.subarray(0, nread), true);
    },
  };
  return options;
}

/** As much as Node's own reads take at a time. */
const READ_SIZE = 64 * 1024;
let sharedRead = null;

function onEnd() {
  this[kTransport].finish();
}

function onError(error) {
  this[kTransport].finish(error);
}

export function duplexTransport(stream) {
  return new DuplexTransport(stream);
}
