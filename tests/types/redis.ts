// Type-level usage of "wasmsocket/redis" (pkg/redis.d.ts), resolved as a
// consumer would. Checked, never run:   npx tsc -p tests/types

import {
  redisBroker,
  type Broker,
  type RedisBrokerOptions,
} from "wasmsocket/redis";
import { WebSocket, WebSocketServer } from "wasmsocket";

const byUrl: Broker = redisBroker({ url: "redis://127.0.0.1:6379" });
const options: RedisBrokerOptions = {
  url: "redis://127.0.0.1:6379",
  prefix: "chat:",
  maxPendingBytes: 1 << 20,
  onerror: (error: Error) => console.error(error.message),
};
const configured: Broker = redisBroker(options);

// A client the caller made: anything with duplicate() and publish().
const client = {
  duplicate: () => ({}),
  publish: async (_channel: string, _message: Uint8Array) => 1,
};
const byClient: Broker = redisBroker({ client });

// @ts-expect-error: one of url or client, not both
redisBroker({ url: "redis://127.0.0.1:6379", client });

// Any other broker (NATS, or an in-memory one for tests) has the same shape.
const topics = new Set<string>();
const memory: Broker = {
  attach(deliver) {
    deliver("t", "text");
    deliver("t", new Uint8Array([1]));
  },
  subscribe: (topic) => void topics.add(topic),
  unsubscribe: (topic) => void topics.delete(topic),
  publish(_topic, data) {
    const size: number =
      typeof data === "string" ? data.length : data.byteLength;
    void size;
  },
  close: async () => {},
};

export const brokers = [byUrl, configured, byClient, memory];

// The server takes any of them, and its sockets subscribe.
const server = new WebSocketServer({ port: 0, broker: byUrl });
server.on("connection", (ws) => {
  if (!(ws instanceof WebSocket)) return;
  const joined: boolean = ws.subscribe("chat");
  const topics: string[] = ws.subscriptions;
  const count: number = server.publish("chat", "hello", { except: ws });
  server.publish("chat", new Uint8Array([1, 2]));
  void [joined, topics, count, ws.isSubscribed("chat"), ws.unsubscribe("chat")];
  // @ts-expect-error: a publish carries text or bytes, not a Blob
  server.publish("chat", new Blob([]));
});
export const subscribers: number = server.subscriberCount("chat");
