//! Helpers shared by the property tests: owned events, chunking, a real
//! handshake between two engines, message strategies and an event checker.
#![allow(dead_code)]

use proptest::prelude::*;
use wasmsocket::{ClientRequest, Config, Connection, Error, Event, FrameInfo, MessageKind};

/// An `Event` with its payload copied out of the connection.
#[derive(Clone, Debug, PartialEq)]
pub enum Ev {
    Request,
    Open {
        protocol: String,
        extensions: String,
    },
    Message(MessageKind, Vec<u8>),
    Fragment(MessageKind, Vec<u8>, bool),
    MessageStart(MessageKind, u64, bool),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    CloseReceived(u16, String),
    Error(Error),
    CloseTransport {
        graceful: bool,
    },
    Closed {
        code: u16,
        reason: String,
        was_clean: bool,
    },
    Frame(FrameInfo, Vec<u8>),
}

impl Ev {
    pub fn of(e: Event<'_>) -> Ev {
        match e {
            Event::Request => Ev::Request,
            Event::Open {
                protocol,
                extensions,
            } => Ev::Open {
                protocol: protocol.to_owned(),
                extensions: extensions.to_owned(),
            },
            Event::Message { kind, data } => Ev::Message(kind, data.to_vec()),
            Event::Fragment { kind, data, fin } => Ev::Fragment(kind, data.to_vec(), fin),
            Event::MessageStart { kind, len, direct } => Ev::MessageStart(kind, len, direct),
            Event::Ping(p) => Ev::Ping(p.to_vec()),
            Event::Pong(p) => Ev::Pong(p.to_vec()),
            Event::CloseReceived { code, reason } => Ev::CloseReceived(code, reason.to_owned()),
            Event::Error(e) => Ev::Error(e.clone()),
            Event::CloseTransport { graceful } => Ev::CloseTransport { graceful },
            Event::Closed {
                code,
                reason,
                was_clean,
            } => Ev::Closed {
                code,
                reason: reason.to_owned(),
                was_clean,
            },
            Event::Frame { info, preview } => Ev::Frame(info, preview.to_vec()),
        }
    }
}

/// Takes every pending event.
pub fn drain(c: &mut Connection) -> Vec<Ev> {
    let mut out = Vec::new();
    while let Some(e) = c.next_event() {
        out.push(Ev::of(e));
    }
    out
}

/// Drops tracing events.
pub fn untraced(evs: Vec<Ev>) -> Vec<Ev> {
    evs.into_iter()
        .filter(|e| !matches!(e, Ev::Frame(..)))
        .collect()
}

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
pub fn feed(
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
    feed(to, &bytes, how, drain_each, now)
}

pub const NONCE: [u8; 16] = *b"0123456789abcdef";
pub const SEED: [u8; 32] = [42; 32];

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
    Ev::Open {
        protocol: String::new(),
        extensions: String::new(),
    }
}

/// The 101 answer a server gives `new_client`'s request.
pub fn response_101() -> Vec<u8> {
    let key = wasmsocket::handshake::client::key_from_nonce(NONCE);
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        wasmsocket::handshake::accept_key(&key)
    )
    .into_bytes()
}

/// A request head the server accepts.
pub const REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

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
pub fn text(len: std::ops::Range<usize>) -> BoxedStrategy<String> {
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

pub fn bytes(len: std::ops::Range<usize>) -> BoxedStrategy<Vec<u8>> {
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
        40 => text(0..300).prop_map(Item::Text),
        40 => bytes(0..300).prop_map(Item::Binary),
        6 => text(126..1500).prop_map(Item::Text),
        6 => bytes(126..1500).prop_map(Item::Binary),
        1 => text(65_536..70_000).prop_map(Item::Text),
        1 => bytes(65_530..70_000).prop_map(Item::Binary),
    ]
    .boxed()
}

/// Data messages of moderate size (for streaming and send buffer splitting).
pub fn medium_item() -> BoxedStrategy<Item> {
    prop_oneof![
        3 => text(0..300).prop_map(Item::Text),
        3 => bytes(0..300).prop_map(Item::Binary),
        3 => text(256..3000).prop_map(Item::Text),
        3 => bytes(256..3000).prop_map(Item::Binary),
        1 => text(65_536..68_000).prop_map(Item::Text),
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

// ----- wire inspection -----

/// A frame as found on the wire, payload unmasked.
#[derive(Clone, Debug)]
pub struct WireFrame {
    pub fin: bool,
    pub rsv: u8,
    pub opcode: u8,
    pub masked: bool,
    pub payload: Vec<u8>,
}

/// Splits a stream of complete frames (independently of the engine's parser).
pub fn wire_frames(mut b: &[u8]) -> Vec<WireFrame> {
    let mut out = Vec::new();
    while !b.is_empty() {
        assert!(b.len() >= 2, "truncated frame header");
        let (fin, rsv, opcode) = (b[0] & 0x80 != 0, (b[0] >> 4) & 7, b[0] & 0xF);
        let masked = b[1] & 0x80 != 0;
        let (len, mut at) = match b[1] & 0x7F {
            126 => {
                let n = u16::from_be_bytes([b[2], b[3]]) as usize;
                assert!(n > 125, "non-minimal 16-bit length {n}");
                (n, 4)
            }
            127 => {
                let n = u64::from_be_bytes(b[2..10].try_into().unwrap()) as usize;
                assert!(n > 0xFFFF, "non-minimal 64-bit length {n}");
                (n, 10)
            }
            n => (n as usize, 2),
        };
        let key = if masked {
            let k: [u8; 4] = b[at..at + 4].try_into().unwrap();
            at += 4;
            Some(k)
        } else {
            None
        };
        let mut payload = b[at..at + len].to_vec();
        if let Some(k) = key {
            for (i, x) in payload.iter_mut().enumerate() {
                *x ^= k[i % 4];
            }
        }
        out.push(WireFrame {
            fin,
            rsv,
            opcode,
            masked,
            payload,
        });
        b = &b[at + len..];
    }
    out
}

/// Writes one frame with any header bits, for feeding engines odd input.
pub fn encode_frame(
    fin: bool,
    rsv: u8,
    opcode: u8,
    mask: Option<[u8; 4]>,
    payload: &[u8],
    long_form: u8,
) -> Vec<u8> {
    let mut out = vec![(fin as u8) << 7 | (rsv & 7) << 4 | (opcode & 0xF)];
    let m = if mask.is_some() { 0x80 } else { 0 };
    let n = payload.len();
    match (n, long_form) {
        (0..=125, 0) => out.push(m | n as u8),
        (0..=0xFFFF, 0 | 1) => {
            out.push(m | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        _ => {
            out.push(m | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(k) => {
            out.extend_from_slice(&k);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ k[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

// ----- invariants every event stream must keep -----

/// Watches one connection's events and asserts the rules the API promises.
#[derive(Debug, Default)]
pub struct Checker {
    pub closed: bool,
    pub error: Option<Error>,
    pub close_transport: bool,
    /// The close the peer sent, once `CloseReceived` was given.
    pub close_received: Option<(u16, String)>,
    pub requests: usize,
    pub opens: usize,
    /// The kind of the streamed message in progress.
    pub streaming_kind: Option<MessageKind>,
    /// Largest `Fragment` piece allowed (streaming), if checked.
    pub piece_limit: Option<usize>,
    /// UTF-8 validation is off: text need not be UTF-8.
    pub skip_utf8: bool,
}

impl Checker {
    pub fn with_piece_limit(limit: usize) -> Checker {
        Checker {
            piece_limit: Some(limit),
            ..Default::default()
        }
    }

    pub fn check(&mut self, evs: &[Ev]) {
        for e in evs {
            self.check_one(e);
        }
    }

    fn check_one(&mut self, e: &Ev) {
        assert!(!self.closed, "event after Closed: {e:?}");
        if self.error.is_some() {
            assert!(
                !matches!(
                    e,
                    Ev::Request
                        | Ev::Open { .. }
                        | Ev::Message(..)
                        | Ev::Fragment(..)
                        | Ev::MessageStart(..)
                        | Ev::Ping(_)
                        | Ev::Pong(_)
                        | Ev::CloseReceived(..)
                        | Ev::Error(_)
                ),
                "{e:?} after Error({:?})",
                self.error
            );
        }
        match e {
            Ev::Request => {
                self.requests += 1;
                assert_eq!(self.requests, 1, "second Request");
            }
            Ev::Open { .. } => {
                self.opens += 1;
                assert_eq!(self.opens, 1, "second Open");
            }
            Ev::Message(kind, data) => {
                assert!(
                    self.streaming_kind.is_none(),
                    "Message inside a streamed message"
                );
                if *kind == MessageKind::Text && !self.skip_utf8 {
                    assert!(
                        std::str::from_utf8(data).is_ok(),
                        "text message is not UTF-8"
                    );
                }
            }
            Ev::MessageStart(kind, ..) => {
                assert!(
                    self.streaming_kind.is_none(),
                    "MessageStart inside a streamed message"
                );
                assert_eq!(*kind, MessageKind::Binary, "only binary is host-assembled");
                self.streaming_kind = Some(*kind);
            }
            Ev::Fragment(kind, data, fin) => {
                if let Some(k) = self.streaming_kind {
                    assert_eq!(k, *kind, "fragment kind changed within a message");
                }
                if *kind == MessageKind::Text && !self.skip_utf8 {
                    assert!(
                        std::str::from_utf8(data).is_ok(),
                        "text piece is not UTF-8 on its own"
                    );
                }
                if let Some(limit) = self.piece_limit {
                    assert!(data.len() <= limit, "piece of {} > {limit}", data.len());
                }
                self.streaming_kind = if *fin { None } else { Some(*kind) };
            }
            Ev::Ping(p) | Ev::Pong(p) => assert!(p.len() <= 125),
            Ev::CloseReceived(code, reason) => {
                assert!(self.close_received.is_none(), "second CloseReceived");
                self.close_received = Some((*code, reason.clone()));
                assert!(
                    *code == 1005 || wasmsocket::close::is_valid_on_wire(*code),
                    "CloseReceived code {code}"
                );
                assert!(reason.len() <= 123);
                assert!(*code != 1005 || reason.is_empty());
            }
            Ev::Error(err) => {
                let code = err.close_code();
                assert!(
                    matches!(code, None | Some(1002 | 1007 | 1009)),
                    "error {err:?} with close code {code:?}"
                );
                if matches!(err, Error::Protocol(_)) {
                    assert!(code.is_some(), "protocol error without a close code");
                }
                self.error = Some(err.clone());
            }
            Ev::CloseTransport { .. } => {
                assert!(!self.close_transport, "second CloseTransport");
                self.close_transport = true;
            }
            Ev::Closed {
                code,
                reason,
                was_clean,
            } => {
                self.closed = true;
                match (&self.error, &self.close_received) {
                    (None, Some((c, r))) => {
                        // The peer's close decides the code, clean or not (§7.1.5).
                        assert_eq!(
                            (code, reason),
                            (c, r),
                            "Closed does not report the peer's close"
                        );
                    }
                    _ => {
                        assert_eq!(*code, 1006, "Closed without a received close, code {code}");
                        assert!(!was_clean, "clean close without a closing handshake");
                        assert!(reason.is_empty());
                    }
                }
            }
            Ev::Frame(..) => {}
        }
    }
}

/// Turns streamed or host-assembled `Fragment`s back into whole messages,
/// leaving other events in place; a `MessageStart`'s length is checked.
pub fn assemble(evs: Vec<Ev>) -> Vec<Ev> {
    let mut out = Vec::new();
    let mut current: Option<(MessageKind, Vec<u8>)> = None;
    let mut announced: Option<u64> = None;
    for e in evs {
        match e {
            Ev::MessageStart(_, len, _) => announced = Some(len),
            Ev::Fragment(kind, data, fin) => {
                let (_, buf) = current.get_or_insert_with(|| (kind, Vec::new()));
                buf.extend_from_slice(&data);
                if fin {
                    let (k, buf) = current.take().unwrap();
                    if let Some(len) = announced.take() {
                        assert_eq!(
                            buf.len() as u64,
                            len,
                            "MessageStart announced another length"
                        );
                    }
                    out.push(Ev::Message(k, buf));
                }
            }
            other => out.push(other),
        }
    }
    assert!(current.is_none(), "a streamed message did not end");
    out
}
