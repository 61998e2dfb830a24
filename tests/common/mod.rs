//! What the property tests add to the engine's test kit (re-exported here):
//! chunking of byte streams, a real handshake between two engines, and
//! message strategies.
#![allow(dead_code)]

use proptest::prelude::*;
pub use wasmsocket::testkit::*;
use wasmsocket::{ClientRequest, Config, Connection, MessageKind};

/// How a byte stream is cut into transport reads.
#[derive(Clone, Debug)]
pub enum Chunking {
    Whole,
    OneByte,
    /// Chunk sizes, used in turn (cyclically); a 0 is read as 1.
    Sizes(Vec<usize>),
}

pub fn chunking() -> impl Strategy<Value = Chunking> {
    prop_oneof![
        1 => Just(Chunking::Whole),
        1 => Just(Chunking::OneByte),
        3 => prop::collection::vec(1..40usize, 1..12).prop_map(Chunking::Sizes),
        1 => prop::collection::vec(1..2000usize, 1..6).prop_map(Chunking::Sizes),
    ]
}

pub fn chunks<'a>(data: &'a [u8], how: &Chunking) -> Vec<&'a [u8]> {
    match how {
        Chunking::Whole => vec![data],
        Chunking::OneByte => data.chunks(1).collect(),
        Chunking::Sizes(sizes) => {
            let mut out = Vec::new();
            let mut rest = data;
            let mut i = 0;
            while !rest.is_empty() {
                let n = sizes[i % sizes.len()].max(1).min(rest.len());
                out.push(&rest[..n]);
                rest = &rest[n..];
                i += 1;
            }
            out
        }
    }
}

/// Feeds `bytes` to `to` cut as `how` says; takes events after every chunk
/// when `drain_each`, else only at the end. Taking events as they come, it
/// acts as the wasm host does on a direct `MessageStart`: copies the
/// message's payload from the chunks itself (recorded as a `Fragment`) and
/// reports it with `host_payload`.
pub fn feed_chunked(
    to: &mut Connection,
    bytes: &[u8],
    how: &Chunking,
    drain_each: bool,
    now: u64,
) -> Vec<Ev> {
    let mut evs: Vec<Ev> = Vec::new();
    // Payload bytes of a direct message the host still takes itself.
    let mut direct: u64 = 0;
    for mut ch in chunks(bytes, how) {
        if direct > 0 {
            let n = direct.min(ch.len() as u64) as usize;
            evs.push(Ev::Fragment(MessageKind::Binary, ch[..n].to_vec(), false));
            to.host_payload(n, now)
                .expect("host_payload within the message");
            direct -= n as u64;
            ch = &ch[n..];
            evs.extend(drain(to));
            if ch.is_empty() {
                continue;
            }
        }
        to.receive(ch, now);
        if drain_each {
            let start = evs.len();
            evs.extend(drain(to));
            if let Some(at) = evs[start..]
                .iter()
                .rposition(|e| matches!(e, Ev::MessageStart(_, _, true)))
            {
                let Ev::MessageStart(_, len, _) = evs[start + at] else {
                    unreachable!()
                };
                let got: usize = evs[start + at..]
                    .iter()
                    .map(|e| match e {
                        Ev::Fragment(_, d, _) => d.len(),
                        _ => 0,
                    })
                    .sum();
                direct = len - got as u64;
            }
        }
    }
    assert_eq!(direct, 0, "a direct message's payload did not all come");
    evs.extend(drain(to));
    evs
}

/// Moves all of `from`'s pending output to `to`.
pub fn transfer(
    from: &mut Connection,
    to: &mut Connection,
    how: &Chunking,
    drain_each: bool,
    now: u64,
) -> Vec<Ev> {
    let bytes = from.take_output();
    feed_chunked(to, &bytes, how, drain_each, now)
}

pub fn new_client(cfg: Config) -> Connection {
    Connection::client(ClientRequest::new("example.com", "/"), cfg, NONCE, SEED, 0)
        .expect("a valid client request")
}

/// A client and a server that went through a real opening handshake, their
/// handshake bytes cut as `how` says. Both `Open` events have been taken.
pub fn handshake(ccfg: Config, scfg: Config, how: &Chunking) -> (Connection, Connection) {
    let mut client = new_client(ccfg);
    let mut server = Connection::server(scfg, 0);
    let evs = untraced(transfer(&mut client, &mut server, how, false, 0));
    assert_eq!(evs, [Ev::Request]);
    server.accept(None, None, &[]).expect("accept");
    assert_eq!(untraced(drain(&mut server)), [open()]);
    let evs = untraced(transfer(&mut server, &mut client, how, false, 0));
    assert_eq!(evs, [open()]);
    (client, server)
}

pub fn open() -> Ev {
    Ev::Open(String::new(), String::new())
}

// ----- messages -----

/// Something one end sends.
#[derive(Clone, Debug)]
pub enum Item {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
}

impl Item {
    pub fn send(&self, c: &mut Connection) {
        match self {
            Item::Text(s) => c.send_text(s).expect("send_text"),
            Item::Binary(b) => c.send_binary(b).expect("send_binary"),
            Item::Ping(p) => c.ping(p).expect("ping"),
        }
    }

    /// The event the receiving end should give for it.
    pub fn expected(&self) -> Ev {
        match self {
            Item::Text(s) => Ev::Message(MessageKind::Text, s.as_bytes().to_vec()),
            Item::Binary(b) => Ev::Message(MessageKind::Binary, b.clone()),
            Item::Ping(p) => Ev::Ping(p.clone()),
        }
    }

    pub fn is_ping(&self) -> bool {
        matches!(self, Item::Ping(_))
    }
}

/// Text of about `len` bytes (at least `len`), cycling through `chars`.
fn cycle_text(chars: Vec<char>, len: usize) -> String {
    let mut s = String::with_capacity(len + 4);
    let mut i = 0;
    while s.len() < len {
        s.push(chars[i % chars.len()]);
        i += 1;
    }
    s
}

fn cycle_bytes(bytes: Vec<u8>, len: usize) -> Vec<u8> {
    bytes.iter().copied().cycle().take(len).collect()
}

/// Arbitrary Unicode text whose length in bytes lies (roughly) in `len`.
pub fn arb_text(len: std::ops::Range<usize>) -> BoxedStrategy<String> {
    if len.start == 0 {
        // Arbitrary chars (proptest favours multi-byte and special ones), cut
        // on a character boundary below the bound.
        let max = len.end;
        prop::collection::vec(any::<char>(), 0..max / 2 + 1)
            .prop_map(move |c| {
                let mut s = String::new();
                for ch in c {
                    if s.len() + ch.len_utf8() >= max {
                        break;
                    }
                    s.push(ch);
                }
                s
            })
            .boxed()
    } else {
        (prop::collection::vec(any::<char>(), 1..24), len)
            .prop_map(|(c, n)| cycle_text(c, n))
            .boxed()
    }
}

pub fn arb_bytes(len: std::ops::Range<usize>) -> BoxedStrategy<Vec<u8>> {
    if len.end <= 4096 {
        prop::collection::vec(any::<u8>(), len).boxed()
    } else {
        (prop::collection::vec(any::<u8>(), 1..64), len)
            .prop_map(|(b, n)| cycle_bytes(b, n))
            .boxed()
    }
}

/// A data message: mostly small, sometimes over 125 bytes (16-bit length),
/// rarely over 65535 (64-bit length).
pub fn data_item() -> BoxedStrategy<Item> {
    prop_oneof![
        40 => arb_text(0..300).prop_map(Item::Text),
        40 => arb_bytes(0..300).prop_map(Item::Binary),
        6 => arb_text(126..1500).prop_map(Item::Text),
        6 => arb_bytes(126..1500).prop_map(Item::Binary),
        1 => arb_text(65_536..70_000).prop_map(Item::Text),
        1 => arb_bytes(65_530..70_000).prop_map(Item::Binary),
    ]
    .boxed()
}

/// Data messages of moderate size (for streaming and send buffer splitting).
pub fn medium_item() -> BoxedStrategy<Item> {
    prop_oneof![
        3 => arb_text(0..300).prop_map(Item::Text),
        3 => arb_bytes(0..300).prop_map(Item::Binary),
        3 => arb_text(256..3000).prop_map(Item::Text),
        3 => arb_bytes(256..3000).prop_map(Item::Binary),
        1 => arb_text(65_536..68_000).prop_map(Item::Text),
    ]
    .boxed()
}

pub fn ping_payload() -> BoxedStrategy<Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..=125).boxed()
}

/// Data messages with pings interleaved (when `pings`).
pub fn items(
    data: BoxedStrategy<Item>,
    pings: bool,
    n: std::ops::Range<usize>,
) -> BoxedStrategy<Vec<Item>> {
    if pings {
        prop::collection::vec(
            prop_oneof![4 => data, 1 => ping_payload().prop_map(Item::Ping)],
            n,
        )
        .boxed()
    } else {
        prop::collection::vec(data, n).boxed()
    }
}
