// A Session runs one engine over one transport: it feeds transport chunks in,
// writes output out, keeps the engine's deadlines with a timer, counts
// `bufferedAmount`, and hands each event to its owner's handler.
//
// The order of things matters and is kept here:
// - a batch of events is read whole, then handled in order; before an event
//   that owes the peer a reply (ping, close, error) is handled, the engine is
//   told to write that reply, so replies follow the owner's earlier reactions;
// - output is written once per batch of events and after each send (a
//   published message: once per burst, a microtask), several buffers
//   corked into one write where the transport can;
// - CLOSE_TRANSPORT ends the transport only after the output is written;
//   input that comes after it is dropped unread;
// - a pong is held (coalesced, for the latest ping) while the last one is
//   not yet taken by the transport and the transport is behind; reading
//   pauses until it is, so a peer that pings and never reads costs bounded
//   memory and work;
// - buffers a big message left in the engine are given back once the
//   connection has been quiet for TRIM_QUIET ms: a stream of big messages
//   reuses them, an idle connection keeps none;
// - with `drainAt` set, the handler's `[drained]()` is called once
//   bufferedAmount falls to it after having been above it.

import { deadlineEntry, setDeadline } from "./deadlines.js";
import { Engine, ReadyState, Tag } from "./engine.js";
import { giveBack, POOL_MIN } from "./pool.js";

const now = () => performance.now();
/** Output the transport may be behind by (bytes written, not yet taken)
 * before pongs are held. */
const PONG_BACKLOG = 64 * 1024;
/** Ms without input or sends after which a connection that the engine
 * says holds spare buffers is trimmed. */
const TRIM_QUIET = 50;

/** The handler method called when bufferedAmount drains (see `drainAt`). */
export const drained = Symbol("wasmsocket.drained");

/**
 * @typedef {object} Handler
 * @property {(tag: number, value: any) => void} event
 *   Called for every engine event (with its value, see engine.js `#collect`)
 *   except CLOSE_TRANSPORT, which the session handles.
 */

/** Sessions whose output is to be written at the end of this burst. */
let due = [];

export class Session {
  /** @type {Engine} */
  engine;
  /** Last error reported by the transport, for error messages. */
  transportError = null;
  /** Receives every event but CLOSE_TRANSPORT; may be swapped (a server
   * hands an accepted session from its handshake handler to a WebSocket). */
  handler;
  #transport;
  #pumping = false;
  #flushQueued = false;
  /** The engine's next deadline, kept by the one timer of deadlines.js. */
  #deadline = deadlineEntry(this);
  /** The engine asked to close the transport: "graceful" (write the output
   * first) or "abort" (at once). */
  #closing = null;
  #closed = false;
  #closeQueued = false;
  #destroyTimer = null;
  /** Output bytes ever taken from the engine, and accepted by the transport. */
  #taken = 0;
  #accepted = 0;
  /** [end, appBytes] pairs: a message's app bytes leave bufferedAmount once the
   * transport accepted its last wire byte. Made at the first send. */
  #inflight = null;
  #buffered = 0;
  /** Where the last pong written ends in the output, and whether the engine
   * is holding pongs; `#paused`: reading stopped while it holds one. */
  #pongEnd = 0;
  #holding = false;
  #paused = false;
  /** Reading stopped by the owner (`control(ws).pause()`), apart from that. */
  #ownerPaused = false;
  /** The quiet timer that trims the engine, and whether the connection
   * was busy since it was armed. */
  #trimTimer = null;
  #busy = false;
  /** bufferedAmount at or under which `[drained]` is called, once it was
   * above (-1: not watched); `#above`: it was. */
  drainAt = -1;
  #above = false;

  constructor(engine, handler) {
    this.engine = engine;
    this.handler = handler;
  }

  /** Starts moving bytes over `transport` (see transport.js); the session
   * itself is the transport's sink. */
  attach(transport) {
    this.#transport = transport;
    transport.start(this);
    this.pump();
  }

  /** Sink: a chunk from the transport; dropped once the transport is to
   * close, as the engine expects nothing more. */
  data(chunk, transient = false) {
    if (this.#closing === null) this.receive(chunk, transient);
  }

  /** Sink: the transport ended or failed. */
  closed(error) {
    if (error && !this.transportError) this.transportError = error;
    this.#closeSoon();
  }

  /** Feeds bytes as if the transport had delivered them (a server passes the
   * request head Node already parsed, as a string, and the bytes that came
   * with it). `transient`: see transport.js. */
  receive(chunk, transient = false) {
    if (this.#closed) return;
    this.#busy = true;
    this.engine.receive(chunk, now(), transient);
    this.pump();
  }

  /** The session is over: CLOSED was handled and the engine freed. */
  get finished() {
    return this.#closed;
  }

  /** Application bytes handed to `send` and not yet accepted by the transport. */
  get bufferedAmount() {
    return this.#buffered;
  }

  /** Output bytes the transport has accepted, and where the last message
   * sent ends in the output: it is accepted once the first reaches the
   * second (a WebSocketStream's write() waits for that). */
  get accepted() {
    return this.#accepted;
  }
  get sentEnd() {
    const f = this.#inflight;
    return f !== null && f.length > 0 ? f[f.length - 2] : this.#accepted;
  }
  /** Output bytes written that the transport never took: once it closed,
   * whether our last frames (a close) left at all. */
  get unsent() {
    return this.#taken - this.#accepted;
  }

  /** Every output byte not yet taken by the transport: frames of any kind
   * still in the engine, and those written that the transport holds. */
  get queuedOutput() {
    return this.#taken - this.#accepted + this.engine.pendingOutput;
  }

  /** Counts `n` app bytes that will never be sent (WHATWG: sends after closing). */
  addUnsent(n) {
    this.#buffered += n;
  }

  /** Sends a message (string = text, Uint8Array = binary). Returns a Status.
   * `counted`: its bytes were already added with `addUnsent`. */
  send(data, counted = false) {
    const status = this.engine.send(data);
    if (status === 0) this.#track(this.engine.lastLength, counted);
    this.pump();
    return status;
  }

  /** Sends a message framed once for many connections (engine.js
   * `frameShared`), written with the next flush, a microtask away, so that
   * a burst of publishes costs each transport one write. False if this
   * connection must frame it itself (`send`), or send nothing (closing). */
  sendShared(frame) {
    if (!this.engine.sendShared(frame)) return false;
    this.#track(frame.length);
    return true;
  }

  /** Sends one piece of a fragmented message. Returns a Status. */
  sendFragment(data, binary, fin) {
    const status = this.engine.sendFragment(data, binary, fin);
    if (status === 0) this.#track(this.engine.lastLength);
    this.pump();
    return status;
  }

  /** Runs an engine command (close, ping, …) and handles what follows.
   * The engine's clock moves only with calls that carry the time, and a
   * command may start a deadline (close's timeout) from it: it is brought to
   * now first, or a close after a quiet spell would time out at once. */
  command(run) {
    this.engine.handleTimeout(now());
    const status = run(this.engine);
    this.pump();
    return status;
  }

  #track(appBytes, counted = false) {
    this.#busy = true;
    if (!counted) this.#buffered += appBytes;
    if (this.drainAt >= 0 && this.#buffered > this.drainAt) this.#above = true;
    (this.#inflight ??= []).push(
      this.#taken + this.engine.pendingOutput,
      appBytes,
    );
    this.#queueFlush();
  }

  /** Has `flush` called at the end of this burst: one microtask for every
   * session with output due (a publish reaches thousands), no closure each. */
  #queueFlush() {
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    if (due.push(this) === 1) queueMicrotask(Session.#flushDue);
  }

  static #flushDue() {
    const sessions = due;
    due = [];
    for (const session of sessions) {
      session.#flushQueued = false;
      session.flush();
    }
  }

  /** Handles queued events in order, then writes the output. Re-entrant calls
   * (a handler that sends) only add to the queue being worked through. */
  pump() {
    if (this.#pumping || this.#closed) return;
    this.#pumping = true;
    const q = this.engine.queue;
    let opened = false;
    try {
      for (let i = 0; i < q.length; i += 3) {
        const tag = q[i];
        const release = q[i + 2];
        opened ||= tag === Tag.OPEN;
        if (release >= 0) {
          if (tag === Tag.PING) this.#releasePing(release);
          else this.engine.release(release);
        }
        if (tag === Tag.CLOSE_TRANSPORT) {
          this.#closing = q[i + 1] ? "graceful" : "abort";
        } else {
          this.handler.event(tag, q[i + 1]);
        }
        if (this.#closed) break;
      }
    } finally {
      q.length = 0;
      this.#pumping = false;
    }
    if (this.#closed) return;
    this.flush();
    // An open connection may now sit idle for hours: give back what the
    // handshake needed.
    if (opened && this.engine.state === ReadyState.OPEN) this.engine.trim();
    this.#schedule();
  }

  /** Writes pending output to the transport, and closes the transport when
   * the engine asked: at once for an abort, else once the output is written
   * (or, if the transport never takes it, after the close timeout). The
   * engine only asks once it expects nothing more from the peer, so the
   * connection counts as closed then, without waiting for the peer's FIN. */
  flush() {
    if (this.#closed || !this.#transport) return;
    const reuse = this.#transport.releasesWrites === true;
    const writes = this.engine.takeWrites(reuse);
    // Several buffers (frames written in their places) leave in one go.
    const cork = writes.length > 1 && this.#transport.cork !== undefined;
    if (cork) this.#transport.cork();
    for (const out of writes) {
      this.#taken += out.length;
      const end = this.#taken;
      const pooled = reuse && out.length >= POOL_MIN;
      this.#transport.write(out, () => {
        this.#written(end);
        if (pooled) giveBack(out);
      });
    }
    if (cork) this.#transport.uncork();
    // Writing owed replies can raise events (CLOSE_TRANSPORT, traces).
    if (this.engine.queue.length > 0 && !this.#pumping) return this.pump();
    if (this.#closing === "abort") return this.#closeSoon();
    if (this.#closing && !this.#destroyTimer) {
      this.#transport.end();
      this.#destroyTimer = setTimeout(
        () => this.#closeSoon(),
        this.engine.closeTimeout,
      );
      this.#destroyTimer.unref?.();
    }
    if (this.#destroyTimer && this.#accepted >= this.#taken) {
      this.#closeSoon();
    }
    if (this.#trimTimer === null && this.engine.trimDue) this.#trimWhenQuiet();
  }

  /** Trims the engine once the connection has been quiet for TRIM_QUIET ms. */
  #trimWhenQuiet() {
    this.#busy = false;
    this.#trimTimer = setTimeout(() => {
      this.#trimTimer = null;
      if (this.#closed || !this.engine.trimDue) return;
      if (this.#busy) return this.#trimWhenQuiet();
      this.engine.trim();
    }, TRIM_QUIET);
    this.#trimTimer.unref?.();
  }

  /** Writes the pong owed for a ping, or has the engine hold it while the
   * last pong is not yet taken and the transport is behind. */
  #releasePing(index) {
    const hold =
      this.#accepted < this.#pongEnd &&
      this.#taken + this.engine.pendingOutput - this.#accepted > PONG_BACKLOG;
    if (hold !== this.#holding) {
      this.#holding = hold;
      this.engine.holdPongs(hold);
    }
    this.engine.release(index);
    if (!hold) this.#pongEnd = this.#taken + this.engine.pendingOutput;
    else if (!this.#paused && this.engine.pongsHeld > 0) {
      this.#paused = true;
      this.#transport.pause?.();
    }
  }

  /** The last pong was taken: the held one is written, and reading goes on. */
  #releaseHeldPong() {
    this.#holding = false;
    this.engine.holdPongs(false);
    this.#pongEnd = this.#taken + this.engine.pendingOutput;
    if (this.#paused) {
      this.#paused = false;
      if (!this.#ownerPaused) this.#transport.resume?.();
    }
    this.#queueFlush();
  }

  /** Stops or restarts reading for the owner, where the transport can
   * pause; a pause for a held pong is kept until that pong is written. */
  pauseReading(on) {
    if (on === this.#ownerPaused || this.#closed || !this.#transport) return;
    this.#ownerPaused = on;
    if (this.#paused) return;
    if (on) this.#transport.pause?.();
    else this.#transport.resume?.();
  }

  #written(end) {
    this.#accepted = Math.max(this.#accepted, end);
    // An owner that waits for its bytes to be taken (WebSocketStream).
    this.handler.written?.(this.#accepted);
    if (this.#holding && this.#accepted >= this.#pongEnd && !this.#closed) {
      this.#releaseHeldPong();
    }
    const f = this.#inflight;
    let i = 0;
    while (f !== null && i < f.length && f[i] <= this.#accepted) {
      this.#buffered -= f[i + 1];
      i += 2;
    }
    if (i > 0) f.splice(0, i);
    if (this.#above && this.#buffered <= this.drainAt && !this.#closed) {
      this.#above = false;
      this.handler[drained]?.();
    }
    if (this.#destroyTimer && this.#accepted >= this.#taken) {
      this.#closeSoon();
    }
  }

  /** Keeps the engine's next deadline. One that moved later (the idle
   * timer, each time the peer is heard) keeps the earlier one, which comes
   * early, finds nothing due and is set again: at most one wake-up per
   * interval, and no work per message. */
  #schedule() {
    const at = this.engine.deadline;
    const set = this.#deadline.at;
    if (at === set || (at > set && set >= 0)) return;
    setDeadline(this.#deadline, at);
  }

  /** Called by deadlines.js once the deadline has passed. */
  deadlineDue() {
    if (this.#closed) return;
    this.engine.handleTimeout(now());
    this.pump();
  }

  #transportClosed() {
    if (this.#closed) return;
    this.engine.transportClosed(now());
    this.pump();
  }

  /** Closes in a later task, so that no event fires inside the call (a
   * close() while CONNECTING, a constructor) that made the engine give up. */
  #closeSoon() {
    if (this.#closeQueued) return;
    this.#closeQueued = true;
    setTimeout(() => this.#transportClosed(), 0);
  }

  /** Called by the handler on CLOSED: stop everything and free the engine. */
  finish() {
    if (this.#closed) return;
    this.#closed = true;
    setDeadline(this.#deadline, -1);
    clearTimeout(this.#destroyTimer);
    clearTimeout(this.#trimTimer);
    this.#transport?.destroy();
    // Bytes still in flight will never be accepted now.
    this.#inflight = null;
    queueMicrotask(() => this.engine.free());
  }
}
