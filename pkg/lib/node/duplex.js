// A transport over any Node Duplex: a net or tls socket, one end of a pipe,
// a stream the application already has (see ../transport.js for the shape).

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

export function duplexTransport(stream) {
  let closed = false;
  return {
    start(sink) {
      const finish = (error) => {
        if (closed) return;
        closed = true;
        sink.closed(error);
      };
      stream.on("data", (chunk) => {
        if (!closed)
          sink.data(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
      });
      stream.on("end", () => finish());
      stream.on("close", () => finish());
      stream.on("error", (error) => finish(error));
      if (stream.destroyed) finish();
    },
    write(bytes, done) {
      if (closed || stream.destroyed || stream.writableEnded) return;
      stream.write(bytes, (error) => {
        if (!error) done();
      });
    },
    end() {
      if (!stream.destroyed && !stream.writableEnded) stream.end();
    },
    destroy() {
      stream.destroy();
    },
  };
}
