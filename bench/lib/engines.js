// A client and a server Engine (the package's JS face of the wasm engine)
// with the opening handshake done in memory: what the no-socket benchmarks
// feed frames to, as a Session would.

// The Node entry loads the wasm module.
import "wasmsocket";

import { Engine, Tag, makeConfig } from "../../pkg/lib/engine.js";

export function enginePair() {
  const now = performance.now();
  const client = Engine.client(
    makeConfig(),
    { host: "bench.invalid", resource: "/" },
    now,
  );
  const server = Engine.server(makeConfig(), now);
  server.receive(client.takeOutput(), now);
  if (server.queue[0] !== Tag.REQUEST) throw new Error("no REQUEST");
  server.queue.length = 0;
  server.accept(null, null, []);
  client.receive(server.takeOutput(), now);
  server.queue.length = 0;
  if (client.queue[0] !== Tag.OPEN) throw new Error("no OPEN");
  client.queue.length = 0;
  return { client, server };
}
