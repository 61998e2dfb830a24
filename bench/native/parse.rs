//! Parse throughput of the engine built natively: the ceiling the wasm build
//! could reach. The same frame streams as the JavaScript contenders of
//! `bench/parse` (bench/lib/frames.js builds them byte for byte alike): messages
//! of 16 B to 1 MiB, text and binary, masked (what a server receives) and
//! unmasked (what a client receives), fed in 64 KiB chunks to a connection
//! opened by a real handshake, every event drained with `next_event`.
//!
//! Run by `make bench` (bench/run.js), which reads criterion's estimates; on
//! its own: `cargo bench --bench parse`. `BENCH_QUICK=1` makes smaller streams.

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    native::main();
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::hint::black_box;
    use std::time::Duration;

    use criterion::{BenchmarkId, Criterion, Throughput};
    use wasmsocket::{ClientRequest, Config, Connection, Event};

    /// Message sizes, as in bench/lib/frames.js.
    const SIZES: [usize; 6] = [16, 125, 1024, 16 * 1024, 64 * 1024, 1024 * 1024];
    /// Transport chunk size.
    const CHUNK: usize = 64 * 1024;
    /// The text every text payload is cut from (ASCII JSON, like chat traffic).
    const TEXT: &[u8] = br#"{"type":"chat","room":"lobby","user":"alice","seq":1234567,"text":"the quick brown fox jumps over the lazy dog"},"#;

    /// Payload bytes per stream (bench/lib/frames.js `streamTarget`).
    fn stream_target() -> usize {
        if std::env::var_os("BENCH_QUICK").is_some_and(|v| v != "0" && !v.is_empty()) {
            512 * 1024
        } else {
            4 * 1024 * 1024
        }
    }

    struct XorShift(u32);

    impl XorShift {
        fn next(&mut self) -> u32 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            self.0 = x;
            x
        }
    }

    fn payload(size: usize, text: bool) -> Vec<u8> {
        if text {
            TEXT.iter().copied().cycle().take(size).collect()
        } else {
            let mut rng = XorShift(0x9E37_79B9 ^ size as u32);
            (0..size).map(|_| rng.next() as u8).collect()
        }
    }

    /// A stream of `count` frames of `size` bytes each, as bench/lib/frames.js builds it.
    fn stream(size: usize, text: bool, masked: bool) -> (Vec<u8>, usize) {
        let count = (stream_target() / size).max(1);
        let data = payload(size, text);
        let mut rng = XorShift(0x1234_5678);
        let mut out = Vec::with_capacity(count * (size + 14));
        for _ in 0..count {
            out.push(0x80 | if text { 1 } else { 2 });
            let m = if masked { 0x80 } else { 0 };
            if size < 126 {
                out.push(m | size as u8);
            } else if size < 65536 {
                out.push(m | 126);
                out.extend_from_slice(&(size as u16).to_be_bytes());
            } else {
                out.push(m | 127);
                out.extend_from_slice(&(size as u64).to_be_bytes());
            }
            if masked {
                let key = rng.next().to_le_bytes();
                out.extend_from_slice(&key);
                out.extend(data.iter().enumerate().map(|(i, b)| b ^ key[i & 3]));
            } else {
                out.extend_from_slice(&data);
            }
        }
        (out, count)
    }

    /// A client and a server connection, OPEN after a real handshake.
    fn open_pair() -> (Connection, Connection) {
        let mut client = Connection::client(
            ClientRequest::new("bench.invalid", "/"),
            Config::default(),
            [7; 16],
            [9; 32],
            0,
        )
        .expect("client");
        let mut server = Connection::server(Config::default(), 0);
        server.receive(&client.take_output(), 0);
        assert!(matches!(server.next_event(), Some(Event::Request)));
        server.accept(None, None, &[]).expect("accept");
        while server.next_event().is_some() {}
        client.receive(&server.take_output(), 0);
        assert!(matches!(client.next_event(), Some(Event::Open { .. })));
        while client.next_event().is_some() {}
        (client, server)
    }

    /// Feeds the stream in chunks and drains every event; returns the
    /// payload bytes of the messages that came out.
    fn feed(conn: &mut Connection, stream: &[u8]) -> usize {
        let mut bytes = 0;
        for chunk in stream.chunks(CHUNK) {
            conn.receive(chunk, 0);
            while let Some(event) = conn.next_event() {
                if let Event::Message { data, .. } = event {
                    bytes += black_box(data).len();
                }
            }
        }
        bytes
    }

    pub fn main() {
        let mut c = Criterion::default()
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(1))
            .sample_size(10)
            .configure_from_args();
        let mut group = c.benchmark_group("parse");
        for masked in [true, false] {
            for text in [false, true] {
                for size in SIZES {
                    let (bytes, count) = stream(size, text, masked);
                    let (mut client, mut server) = open_pair();
                    let conn = if masked { &mut server } else { &mut client };
                    assert_eq!(feed(conn, &bytes), count * size, "every message parsed");
                    let id = format!(
                        "{}-{}",
                        if masked { "masked" } else { "unmasked" },
                        if text { "text" } else { "binary" }
                    );
                    group.throughput(Throughput::Bytes((count * size) as u64));
                    group.bench_with_input(BenchmarkId::new(id, size), &bytes, |b, s| {
                        b.iter(|| feed(conn, s))
                    });
                }
            }
        }
        group.finish();
        c.final_summary();
    }
}
