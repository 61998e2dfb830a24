// Type-level usage of the package's declared API (pkg/index.d.ts), resolved
// through the workspace as a consumer would: `import ... from "wasmsocket"`.
// Checked, never run:   npx tsc -p tests/types

import DefaultWebSocket, {
  CloseEvent,
  ErrorEvent,
  MessageEvent,
  WebSocket,
  control,
  duplexTransport,
  encodeFrame,
  parseFrames,
  streamTransport,
  type DuplexLike,
  type StreamPair,
  type Transport,
  type WebSocketOptions,
} from "wasmsocket";

// The default export is the class itself.
const SameClass: typeof WebSocket = DefaultWebSocket;

// --- constructors ---------------------------------------------------------

const plain = new WebSocket("ws://localhost:8080/chat");
const withUrl = new SameClass(new URL("wss://example.com/feed"), "chat.v1");

// A WHATWG stream pair as the transport, built from two crossed TransformStreams.
const up = new TransformStream<Uint8Array, Uint8Array>();
const down = new TransformStream<Uint8Array, Uint8Array>();
const pair: StreamPair = { readable: down.readable, writable: up.writable };

const options: WebSocketOptions = {
  headers: { Authorization: "Bearer token" },
  origin: "https://example.com",
  transport: pair,
  maxMessageSize: 16 << 20,
  maxFrameSize: 1 << 20,
  maxHeadSize: 16 * 1024,
  keepalive: 30_000,
  handshakeTimeout: 10_000,
  closeTimeout: 5_000,
  maxHeldPings: 32,
  perMessageDeflate: {
    clientMaxWindowBits: true,
    serverNoContextTakeover: true,
    level: 1,
  },
};
const ws = new WebSocket(
  "ws://in-page.test/echo",
  ["chat.v2", "chat.v1"],
  options,
);

// Headers as [name, value] pairs, and a ready-made Transport.
const transport: Transport = streamTransport(pair);
const viaTransport = new WebSocket("ws://x.test/", [], {
  headers: [["X-Trace", "1"]],
  transport,
});

// A WebTransport bidirectional stream is a stream pair.
async function overWebTransport(wt: WebTransport): Promise<WebSocket> {
  const stream = await wt.createBidirectionalStream();
  return new WebSocket("ws://bridge.test/", "v1", { transport: stream });
}

// A Node Duplex (typed loosely, no @types/node needed).
function overDuplex(socket: DuplexLike): WebSocket {
  return new WebSocket("ws://peer.test/", undefined, { transport: socket });
}
const fromDuplex: Transport = duplexTransport({} as DuplexLike);

// --- readyState and its constants --------------------------------------------

const state: 0 | 1 | 2 | 3 = ws.readyState;
const isOpen: boolean = ws.readyState === WebSocket.OPEN || state === ws.OPEN;
const constants: [0, 1, 2, 3] = [
  WebSocket.CONNECTING,
  WebSocket.OPEN,
  WebSocket.CLOSING,
  WebSocket.CLOSED,
];
const info: string = `${ws.url} ${ws.protocol} ${ws.extensions} ${ws.bufferedAmount}`;

// --- handlers -----------------------------------------------------------------

ws.binaryType = "arraybuffer";
ws.onopen = function (ev: Event) {
  // `this` is the socket.
  this.send(`opened at ${ev.timeStamp}`);
};
ws.onmessage = (ev: MessageEvent) => {
  const data: unknown = ev.data;
  const origin: string = ev.origin;
  if (typeof data === "string") ws.send(data.toUpperCase());
  else if (data instanceof ArrayBuffer) ws.send(new Uint8Array(data));
  void origin;
};
ws.onerror = (ev: ErrorEvent) => {
  const message: string = ev.message;
  const cause: unknown = ev.error;
  (void message, cause);
};
ws.onclose = (ev: CloseEvent) => {
  const clean: boolean = ev.wasClean;
  const code: number = ev.code;
  const reason: string = ev.reason;
  (void clean, code, reason);
};
ws.onclose = null;

ws.addEventListener("message", (ev) => {
  const data: any = ev.data; // ev: MessageEvent
  void data;
});
ws.addEventListener("close", (ev) => void ev.wasClean); // ev: CloseEvent
ws.addEventListener("error", (ev) => void ev.message); // ev: ErrorEvent
ws.addEventListener("open", (ev) => void ev.type, { once: true });
ws.addEventListener("custom", { handleEvent: (ev: Event) => void ev });

// The event classes are exported values too.
const made: CloseEvent = new CloseEvent("close", {
  wasClean: true,
  code: 1000,
  reason: "bye",
});
const failed: ErrorEvent = new ErrorEvent("error", {
  message: "boom",
  error: new Error("x"),
});
const received = new MessageEvent("message", { data: "hi" });

// --- send and close -------------------------------------------------------------

ws.send("héllo 👋");
ws.send(new ArrayBuffer(8));
ws.send(new Uint8Array([1, 2, 3]));
ws.send(new DataView(new ArrayBuffer(4)));
ws.send(new Float64Array(2));
ws.send(new Blob(["blob"]));
ws.close();
ws.close(1000);
ws.close(4000, "bye");

// --- what must be rejected -------------------------------------------------------

// @ts-expect-error binaryType is "blob" | "arraybuffer"
ws.binaryType = "text";

export {
  constants,
  failed,
  fromDuplex,
  info,
  isOpen,
  made,
  overDuplex,
  overWebTransport,
  plain,
  received,
  viaTransport,
  withUrl,
};

// permessage-deflate: off for one client, and the trace record of a compressed message.
const noDeflate = new WebSocket("ws://x.test/", [], {
  perMessageDeflate: false,
});
const traced = new WebSocket("ws://x.test/", [], {
  trace: (record) => {
    if (record.kind === "compressed") {
      const length: number = record.length;
      const direction: "sent" | "received" = record.direction;
      void [length, direction];
    }
  },
});
void [noDeflate, traced];

// The low-level face: a tool closes and still hears the peer out.
control(ws).close(1002, "probe", { keepReading: true });

// The frame language: a crafted frame's fields, bytes and writes.
for (const frame of parseFrames('text nofin "hel" split=1; cont "lo"')) {
  const opcode: number = frame.fields.opcode;
  const length: number | bigint = frame.fields.declaredLength;
  const key: Uint8Array | null = frame.fields.mask;
  const writes: Uint8Array[] = frame.writes;
  void [opcode, length, key, writes, encodeFrame(frame.fields)];
}
const serverFrames = parseFrames("ping", { client: false });
const pongBytes: Uint8Array = encodeFrame({
  opcode: 10,
  payload: new Uint8Array(2),
});
void [serverFrames, pongBytes];
