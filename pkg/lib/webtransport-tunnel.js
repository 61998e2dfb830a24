// The page's side of a bridge's WebTransport way in (deno/bridge.js, where
// the runtime offers HTTP/3): each bidirectional stream of a session to the
// bridge is one tunnel, the raw bytes of a TCP or TLS connection to one
// allowed target. A stream opens with one line each way, then carries
// bytes only:
//
//   page → bridge   target=HOST:PORT[&tls=1]\n   (the query of a ws: bridge
//                                                  URL; no target: the one
//                                                  allowed, if only one)
//   bridge → page   OK\n  |  ERROR <reason>\n, and the end of the stream
//
// The bridge answers OK only once the target is reached. An ERROR's reason
// is in the words of the WebSocket bridge (a refused target or origin, the
// tunnel cap, an unreachable server) and becomes the transport's error, so
// the message of the tunnelled WebSocket's `error` event: "bridge: <reason>".

import { bridgeURL } from "./tunnel.js";
import { streamTransport } from "./transport.js";

/** Longest line either side sends or accepts, newline included. */
export const MAX_LINE = 1024;

/** The request line (without its newline) for the ws: or wss: `server`. */
export function tunnelRequest(server) {
  return new URL(bridgeURL("ws://bridge/", server)).search.slice(1);
}

/**
 * A transport to the ws: or wss: server `server` over a new bidirectional
 * stream of the WebTransport `session` to a bridge.
 */
export function webTransportBridgeTransport(session, server) {
  const request = new TextEncoder().encode(`${tunnelRequest(server)}\n`);
  return deferredTransport(
    (async () => {
      let stream;
      try {
        stream = await session.createBidirectionalStream();
      } catch (error) {
        throw new Error(`bridge: ${error?.message ?? error}`);
      }
      const writer = stream.writable.getWriter();
      writer.write(request).catch(() => {});
      writer.releaseLock();
      const head = new StreamHead(stream.readable.getReader());
      let reply;
      try {
        reply = await head.line();
      } catch (error) {
        head.cancel();
        throw new Error(`bridge: ${error.message}`);
      }
      if (reply !== "OK") {
        head.cancel();
        stream.writable.abort().catch(() => {});
        throw new Error(`bridge: ${reply.replace(/^ERROR /, "")}`);
      }
      return streamTransport({
        readable: head.rest(),
        writable: stream.writable,
      });
    })(),
  );
}

/**
 * The start of a byte stream read piece by piece (a header, a line), then
 * the rest of it as a stream.
 */
export class StreamHead {
  #reader;
  #bytes = new Uint8Array(0);
  #at = 0;
  constructor(reader) {
    this.#reader = reader;
  }
  /** Until at least `n` unread bytes are held; throws at the end. */
  async #fill(n) {
    while (this.#bytes.length < this.#at + n) {
      const { value, done } = await this.#reader.read();
      if (done) throw new Error("the stream ended early");
      const joined = new Uint8Array(
        this.#bytes.length - this.#at + value.length,
      );
      joined.set(this.#bytes.subarray(this.#at));
      joined.set(value, this.#bytes.length - this.#at);
      this.#bytes = joined;
      this.#at = 0;
    }
  }
  /** A QUIC variable-length integer. */
  async varint() {
    await this.#fill(1);
    const length = 1 << (this.#bytes[this.#at] >> 6);
    await this.#fill(length);
    let value = this.#bytes[this.#at] & 0x3f;
    for (let i = 1; i < length; i++)
      value = value * 256 + this.#bytes[this.#at + i];
    this.#at += length;
    return value;
  }
  /** The next `n` bytes. */
  async bytes(n) {
    await this.#fill(n);
    this.#at += n;
    return this.#bytes.slice(this.#at - n, this.#at);
  }
  /** A line of UTF-8 up to "\n" (not returned), at most MAX_LINE bytes. */
  async line() {
    for (let from = 0; ;) {
      const end = this.#bytes.indexOf(10, this.#at + from);
      if (end >= 0) {
        const text = new TextDecoder().decode(
          this.#bytes.subarray(this.#at, end),
        );
        this.#at = end + 1;
        return text;
      }
      from = this.#bytes.length - this.#at;
      if (from >= MAX_LINE) throw new Error("the first line is too long");
      await this.#fill(from + 1);
    }
  }
  /**
   * Whatever follows, as a ReadableStream of Uint8Array; `ended` is called
   * when the stream's end is read, or with the error it fails with.
   */
  rest(ended = () => {}) {
    const reader = this.#reader;
    const left = this.#bytes.subarray(this.#at);
    return new ReadableStream({
      start(controller) {
        if (left.length > 0) controller.enqueue(left);
      },
      async pull(controller) {
        let read;
        try {
          read = await reader.read();
        } catch (error) {
          ended(error);
          throw error;
        }
        if (read.done) {
          ended();
          controller.close();
        } else controller.enqueue(read.value);
      },
      cancel: (reason) => reader.cancel(reason),
    });
  }
  cancel() {
    this.#reader.cancel().catch(() => {});
  }
}

/**
 * A transport that is the one `promise` resolves to, once it does; what is
 * asked before is done then, and a rejection is the transport's error.
 */
function deferredTransport(promise) {
  let inner = null;
  let failure = null;
  let sink = null;
  let over = false;
  const asked = [];
  const finish = (error) => {
    if (over) return;
    over = true;
    sink?.closed(error);
  };
  promise.then(
    (transport) => {
      if (over) return transport.destroy();
      inner = transport;
      for (const step of asked.splice(0)) step(transport);
    },
    (error) => {
      failure = error;
      if (sink) finish(error);
    },
  );
  const later = (step) => (inner ? step(inner) : asked.push(step));
  return {
    start(s) {
      sink = s;
      if (failure) finish(failure);
      else
        later((t) =>
          t.start({
            data: (bytes) => s.data(bytes),
            closed: (error) => finish(error),
          }),
        );
    },
    write(bytes, done) {
      later((t) => t.write(bytes, done));
    },
    end() {
      later((t) => t.end());
    },
    pause() {
      later((t) => t.pause());
    },
    resume() {
      later((t) => t.resume());
    },
    destroy() {
      if (inner) inner.destroy();
      finish();
    },
  };
}
