// A broker that carries a WebSocketServer's publish/subscribe across
// processes over Redis pub/sub: each process subscribes to the channel of a
// topic while it has local subscribers to it, and forwards what it publishes
// to the others. The client library (node-redis, the `redis` package) is an
// optional peer dependency, loaded only here and only when asked for a URL,
// so the core package never loads it.
//
// A message on a channel is 1 byte of kind (1 text, 2 binary), the 8-byte
// origin id of the broker that sent it, then the payload. A broker skips its
// own messages: its process's subscribers already got them locally.

const TEXT = 1;
const BINARY = 2;
const HEADER = 9;

/**
 * A broker for `new WebSocketServer({ broker })` over Redis.
 *
 * `url` makes two connections of its own (publishing and subscribing);
 * `client`, a node-redis client the caller made and connects, publishes
 * through it and subscribes through a `client.duplicate()` that the broker
 * owns. Channels are `prefix` + topic.
 *
 * While Redis is away, the client library reconnects and resubscribes by
 * itself. Publications are not kept for later: the publishing connection the
 * broker makes fails them at once while offline, and at most
 * `maxPendingBytes` of publications await Redis at any time (a caller's
 * client may queue them while offline); past that they are dropped. Both are
 * reported, as connection errors are: to `onerror`, or else once per outage
 * on the console.
 */
export function redisBroker({
  url,
  client,
  prefix = "wasmsocket:",
  maxPendingBytes = 16 * 1024 * 1024,
  onerror,
} = {}) {
  if ((url === undefined) === (client === undefined))
    throw new TypeError("redisBroker needs one of url or client");
  const origin = Buffer.from(crypto.getRandomValues(new Uint8Array(8)));
  let deliver = null;
  let publisher = null;
  let subscriber = null;
  let pendingBytes = 0;
  let closing = false;
  // Reported on the console until the connection is ready again, so an
  // outage makes one line, not one per reconnection attempt.
  let quiet = false;
  const report = (error) => {
    if (closing) return;
    if (onerror) return onerror(error);
    if (quiet) return;
    quiet = true;
    console.error("wasmsocket: redisBroker:", error);
  };
  const watch = (connection) =>
    connection.on("error", report).on("ready", () => {
      quiet = false;
    });

  /** Both connections, made (not yet connected): what close() waits for. */
  const made = make();
  async function make() {
    if (client) {
      publisher = client;
    } else {
      let redis;
      try {
        redis = await import("redis");
      } catch (cause) {
        throw new Error(
          "redisBroker({ url }) needs the redis package: npm install redis",
          { cause },
        );
      }
      // Offline, a publication fails at once rather than waiting in memory.
      publisher = watch(redis.createClient({ url, disableOfflineQueue: true }));
    }
    // The subscribing connection queues while offline, so that what it is
    // asked to (un)subscribe reaches Redis once it is back.
    subscriber = watch(
      client
        ? client.duplicate()
        : publisher.duplicate({ disableOfflineQueue: false }),
    );
  }
  /** Both connections, once ready: every command waits for this, in order.
   * While Redis cannot be reached, the client library keeps trying. */
  const ready = made.then(() =>
    Promise.all([client ? null : publisher.connect(), subscriber.connect()]),
  );
  ready.catch(report);

  /** Runs `command` once the connections are ready and reports its
   * failure (a failure to get ready is reported once, above). */
  const issue = async (command) => {
    try {
      await ready;
    } catch {
      return;
    }
    try {
      await command();
    } catch (error) {
      report(error);
    }
  };

  const receive = (topic, message) => {
    if (message.length < HEADER || closing) return;
    const kind = message[0];
    if (kind !== TEXT && kind !== BINARY) return;
    if (message.subarray(1, HEADER).equals(origin)) return;
    const payload = message.subarray(HEADER);
    try {
      deliver(
        topic,
        kind === TEXT
          ? payload.toString("utf8")
          : new Uint8Array(payload.buffer, payload.byteOffset, payload.length),
      );
    } catch (error) {
      report(error);
    }
  };

  return {
    attach(callback) {
      deliver = callback;
    },
    subscribe(topic) {
      const channel = prefix + topic;
      issue(() =>
        subscriber.subscribe(
          channel,
          (message) => receive(topic, message),
          true,
        ),
      );
    },
    unsubscribe(topic) {
      issue(() => subscriber.unsubscribe(prefix + topic));
    },
    publish(topic, data) {
      const message = encode(data, origin);
      if (pendingBytes + message.length > maxPendingBytes) {
        report(
          new Error(
            `a publication to ${topic} was dropped: ${pendingBytes} bytes already await Redis`,
          ),
        );
        return;
      }
      pendingBytes += message.length;
      issue(() => publisher.publish(prefix + topic, message)).finally(() => {
        pendingBytes -= message.length;
      });
    },
    async close() {
      closing = true;
      await made.catch(() => {});
      await Promise.all(
        [subscriber, client ? null : publisher].map((c) => c && end(c)),
      );
    },
  };
}

/** The message for `data`: kind, origin, payload, in one buffer. */
function encode(data, origin) {
  if (typeof data === "string") {
    const message = Buffer.allocUnsafe(HEADER + Buffer.byteLength(data));
    message[0] = TEXT;
    origin.copy(message, 1);
    message.write(data, HEADER);
    return message;
  }
  const message = Buffer.allocUnsafe(HEADER + data.byteLength);
  message[0] = BINARY;
  origin.copy(message, 1);
  message.set(data, HEADER);
  return message;
}

/** Closes a connection the broker made: gracefully when it is up (pending
 * publications go out), at once when it is not. node-redis 5 and later name
 * these close and destroy, 4 quit and disconnect. */
function end(connection) {
  if (!connection.isOpen) return null;
  if (connection.isReady)
    return (connection.close ?? connection.quit).call(connection);
  return (connection.destroy ?? connection.disconnect).call(connection);
}
