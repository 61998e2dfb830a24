// Publish/subscribe for a server's sockets, as Bun and uWebSockets.js offer:
// a socket subscribes to topics; `publish` frames a message once and writes
// the same bytes to every subscriber (compressed once where
// permessage-deflate keeps no context), each subscriber's backpressure
// policy applying as to its own sends. A broker (see ../redis.d.ts for the
// contract, redis.js for one) carries publications to other processes.

import { frameShared } from "./engine.js";

export class Topics {
  /** topic → Set of sockets, in the order they subscribed. */
  #topics = new Map();
  #config;
  #broker;

  /** `config`: the server's EngineConfig, which frames as its engines do. */
  constructor(config, broker) {
    this.#config = config;
    this.#broker = broker ?? null;
    this.#broker?.attach((topic, data) => this.publish(topic, data, null));
  }

  /** Adds `ws` to `topic`; false if it was there already. */
  subscribe(ws, topic) {
    let set = this.#topics.get(topic);
    if (set === undefined) {
      set = new Set();
      this.#topics.set(topic, set);
      this.#broker?.subscribe(topic);
    } else if (set.has(ws)) return false;
    set.add(ws);
    return true;
  }

  /** Takes `ws` out of `topic`; false if it was not there. */
  unsubscribe(ws, topic) {
    const set = this.#topics.get(topic);
    if (set === undefined || !set.delete(ws)) return false;
    if (set.size === 0) {
      this.#topics.delete(topic);
      this.#broker?.unsubscribe(topic);
    }
    return true;
  }

  count(topic) {
    return this.#topics.get(topic)?.size ?? 0;
  }

  /**
   * Sends `data` (string: text; bytes: binary) to this process's
   * subscribers of `topic` but `except`; returns how many it went to. Each
   * of the message's two frames (as is, and compressed) is made on first
   * need; a subscriber that would frame it otherwise (permessage-deflate
   * with context takeover, a narrower window, a send buffer size) frames it
   * itself.
   */
  publish(topic, data, except) {
    const set = this.#topics.get(topic);
    if (set === undefined) return 0;
    const message = { data, plain: null, squeezed: null };
    let count = 0;
    try {
      for (const ws of set) {
        if (ws !== except && ws._deliver(message, this)) count++;
      }
    } finally {
      message.plain?.handle.free();
      message.squeezed?.handle.free();
    }
    return count;
  }

  /** The frame of `message` for a socket with (`deflate`) or without
   * permessage-deflate, made once. */
  frame(message, deflate) {
    if (deflate)
      return (message.squeezed ??= frameShared(
        this.#config,
        message.data,
        true,
      ));
    return (message.plain ??= frameShared(this.#config, message.data, false));
  }

  /** Hands the publication on to the other processes. */
  forward(topic, data) {
    this.#broker?.publish(topic, data);
  }

  close() {
    return this.#broker?.close();
  }
}
