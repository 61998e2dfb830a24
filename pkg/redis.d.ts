// Declarations of "wasmsocket/redis": a broker that carries a
// WebSocketServer's publish/subscribe across processes over Redis.

/**
 * What a `WebSocketServer` asks of its `broker` option: the contract between
 * the server and any broker (Redis here; others follow the same one).
 */
export interface Broker {
  /**
   * Called once by the server's constructor. `deliver` publishes to this
   * process's subscribers only (text if a string, binary if bytes) and never
   * calls `publish` again.
   */
  attach(deliver: (topic: string, data: string | Uint8Array) => void): void;
  /** This process got its first subscriber to `topic`. */
  subscribe(topic: string): void;
  /** This process's last subscriber to `topic` left. */
  unsubscribe(topic: string): void;
  /**
   * Called by `server.publish` after local delivery: carry `data` (a string
   * for text, bytes for binary) to the other processes, not back to this one.
   */
  publish(topic: string, data: string | Uint8Array): void;
  /** Called by `server.close()`: closes the connections the broker made. */
  close(): void | Promise<void>;
}

/**
 * The part of a node-redis client (the `redis` package, 4 or later) that the
 * broker uses; any `createClient()` result fits.
 */
export interface RedisClientLike {
  duplicate(): unknown;
  publish(channel: string, message: Uint8Array): Promise<unknown>;
}

interface CommonOptions {
  /** Prepended to a topic to make its channel. Default "wasmsocket:". */
  prefix?: string;
  /**
   * At most this many bytes of publications await Redis at any time; past
   * that a publication is dropped and reported. Default 16 MiB.
   */
  maxPendingBytes?: number;
  /**
   * Told of every failure (connection errors, dropped publications). Without
   * it, each outage is reported once on the console.
   */
  onerror?: (error: Error) => void;
}

export interface RedisBrokerUrlOptions extends CommonOptions {
  /**
   * A Redis URL (`redis://host:port`): the broker loads the `redis` package
   * (`npm install redis`) and makes and closes its own two connections.
   */
  url: string;
  client?: never;
}

export interface RedisBrokerClientOptions extends CommonOptions {
  /**
   * A node-redis client the caller made and connects (and closes): the broker
   * publishes through it and subscribes through a `duplicate()` it owns.
   */
  client: RedisClientLike;
  url?: never;
}

export type RedisBrokerOptions =
  RedisBrokerUrlOptions | RedisBrokerClientOptions;

/** A broker for `new WebSocketServer({ broker })` over Redis pub/sub. */
export declare function redisBroker(options: RedisBrokerOptions): Broker;
