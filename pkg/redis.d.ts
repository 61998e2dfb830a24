// Declarations of "wasmsocket/redis": a broker that carries a
// WebSocketServer's publish/subscribe across processes over Redis.

import type { Broker } from "./index.js";

export type { Broker };

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
