//! The test kit of the engine, for its unit tests, the integration tests in
//! tests/ and the fuzz targets in fuzz/ (as `wasmsocket::testkit`, with the
//! `testkit` feature): events copied out of a connection so tests can
//! compare them, frames built and split independently of the engine's own
//! frame code, connections opened by real handshakes, and one checker of
//! the promises every event stream keeps.
#![allow(missing_docs)]

use crate::config::Config;
use crate::connection::Connection;
use crate::error::Error;
use crate::error::ProtocolError;
use crate::event::{Event, FrameInfo, MessageKind};
use crate::extension::Extension;
use crate::handshake::client::ClientRequest;

/// An event, owned: what `Connection::next_event` gave, copied out.
#[derive(Clone, Debug, PartialEq)]
pub enum Ev {
    Request,
    Open(String, String),
    Message(MessageKind, Vec<u8>),
    Fragment(MessageKind, Vec<u8>, bool),
    MessageStart(MessageKind, u64, bool),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    CloseReceived(u16, String),
    Error(Error),
    /// Close the transport after writing the output.
    CloseTransport,
    /// Close the transport at once.
    AbortTransport,
    Closed(u16, String, bool),
    Frame(FrameInfo, Vec<u8>),
    /// (outgoing, kind, uncompressed length, preview)
    Compressed(bool, MessageKind, u64, Vec<u8>),
}

pub fn text(s: &str) -> Ev {
    Ev::Message(MessageKind::Text, s.as_bytes().to_vec())
}

pub fn binary(b: &[u8]) -> Ev {
    Ev::Message(MessageKind::Binary, b.to_vec())
}

/// Takes every pending event.
pub fn drain(conn: &mut Connection) -> Vec<Ev> {
    let mut out = Vec::new();
    while let Some(e) = conn.next_event() {
        out.push(match e {
            Event::Request => Ev::Request,
            Event::Open {
                protocol,
                extensions,
            } => Ev::Open(protocol.into(), extensions.into()),
            Event::Message { kind, data } => Ev::Message(kind, data.to_vec()),
            Event::Fragment { kind, data, fin } => Ev::Fragment(kind, data.to_vec(), fin),
            Event::MessageStart { kind, len, direct } => Ev::MessageStart(kind, len, direct),
            Event::Ping(p) => Ev::Ping(p.to_vec()),
            Event::Pong(p) => Ev::Pong(p.to_vec()),
            Event::CloseReceived { code, reason } => Ev::CloseReceived(code, reason.into()),
            Event::Error(e) => Ev::Error(e.clone()),
            Event::CloseTransport { graceful: true } => Ev::CloseTransport,
            Event::CloseTransport { graceful: false } => Ev::AbortTransport,
            Event::Closed {
                code,
                reason,
                was_clean,
            } => Ev::Closed(code, reason.into(), was_clean),
            Event::Frame { info, preview } => Ev::Frame(info, preview.to_vec()),
            Event::Compressed {
                outgoing,
                kind,
                len,
                preview,
            } => Ev::Compressed(outgoing, kind, len, preview.to_vec()),
        });
    }
    out
}

/// Drops tracing events.
pub fn untraced(evs: Vec<Ev>) -> Vec<Ev> {
    evs.into_iter()
        .filter(|e| !matches!(e, Ev::Frame(..) | Ev::Compressed(..)))
        .collect()
}

/// Feeds `bytes` and takes the events that follow.
pub fn feed(conn: &mut Connection, bytes: &[u8]) -> Vec<Ev> {
    conn.receive(bytes, 0);
    drain(conn)
}

pub const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

// ----- frames -----

/// One frame as a client writes it (masked with `KEY`).
pub fn cframe(opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
    raw_frame(opcode, fin, 0, Some(KEY), payload)
}

/// One frame as a server writes it (unmasked).
pub fn sframe(opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
    raw_frame(opcode, fin, 0, None, payload)
}

/// One frame with any header bits, in the shortest length form.
pub fn raw_frame(opcode: u8, fin: bool, rsv: u8, key: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    encode_frame(fin, rsv, opcode, key, payload, 0)
}

/// Splits wire bytes into (opcode, fin, unmasked payload) triples.
pub fn frames(wire: &[u8]) -> Vec<(u8, bool, Vec<u8>)> {
    (wire_frames(wire).into_iter())
        .map(|f| (f.opcode, f.fin, f.payload))
        .collect()
}

/// A close frame's payload.
pub fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason.as_bytes());
    p
}

/// The close code of the single close frame in `wire`, if that is what it holds.
pub fn sent_close(wire: &[u8]) -> Option<u16> {
    match frames(wire).as_slice() {
        [(8, true, p)] if p.len() >= 2 => Some(u16::from_be_bytes([p[0], p[1]])),
        [(8, true, p)] if p.is_empty() => Some(1005),
        _ => None,
    }
}

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

// ----- connections -----

pub const REQUEST: &str = "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: chat, superchat\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";

pub const RESPONSE: &str =
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
    Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

/// The nonce whose key is the RFC's sample, so `RESPONSE` answers it.
pub const NONCE: [u8; 16] = *b"the sample nonce";

/// Entropy for a client's masking keys.
pub const SEED: [u8; 32] = [42; 32];

/// A server that has accepted the RFC's sample request, with output and events taken.
pub fn open_server(config: Config) -> Connection {
    let mut s = Connection::server(config, 0);
    assert_eq!(feed(&mut s, REQUEST.as_bytes()), [Ev::Request]);
    s.accept(None, None, &[]).unwrap();
    s.take_output();
    assert_eq!(drain(&mut s), [Ev::Open(String::new(), String::new())]);
    s
}

/// A client that has read the RFC's sample answer, with output and events taken.
pub fn open_client(config: Config) -> Connection {
    let mut c = Connection::client(
        ClientRequest::new("server.example.com", "/chat"),
        config,
        NONCE,
        [9; 32],
        0,
    )
    .unwrap();
    c.take_output();
    assert_eq!(
        feed(&mut c, RESPONSE.as_bytes()),
        [Ev::Open(String::new(), String::new())]
    );
    c
}

/// A client and a server that opened by a real handshake between them.
pub struct Pair {
    pub client: Connection,
    pub server: Connection,
}

/// A pair opened with these configs (extensions negotiated), output and
/// events taken.
pub fn open_pair_with(client: Config, server: Config) -> Pair {
    let mut c = Connection::client(
        ClientRequest::new("server.example.com", "/chat"),
        client,
        NONCE,
        SEED,
        0,
    )
    .unwrap();
    let mut s = Connection::server(server, 0);
    assert_eq!(feed(&mut s, &c.take_output()), [Ev::Request]);
    s.accept(None, None, &[]).unwrap();
    assert!(matches!(drain(&mut s)[..], [Ev::Open(..)]));
    assert!(matches!(feed(&mut c, &s.take_output())[..], [Ev::Open(..)]));
    Pair {
        client: c,
        server: s,
    }
}

/// A stand-in extension that owns RSV1 and inverts every payload byte.
pub struct Invert;

impl Extension for Invert {
    fn rsv_bits(&self) -> u8 {
        0b100
    }
    fn decode(
        &mut self,
        input: &[u8],
        _fin: bool,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), ProtocolError> {
        if input.len() > limit {
            return Err(ProtocolError::MessageTooBig { limit: 0 });
        }
        out.extend(input.iter().map(|b| !b));
        Ok(())
    }
    fn encode(&mut self, message: &[u8], out: &mut Vec<u8>) -> bool {
        out.extend(message.iter().map(|b| !b));
        true
    }
}

// ----- the promises of the event stream -----

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
    /// A checker for a connection configured by `config`.
    pub fn for_config(config: &Config) -> Checker {
        Checker {
            piece_limit: config
                .streaming
                .then(|| config.receive_buffer_size.max(Config::MIN_BUFFER_SIZE)),
            skip_utf8: !config.validate_utf8,
            ..Default::default()
        }
    }

    /// A checker that also bounds streamed pieces to `limit` bytes.
    pub fn with_piece_limit(limit: usize) -> Checker {
        Checker {
            piece_limit: Some(limit),
            ..Default::default()
        }
    }

    /// Checks events in the order they were taken.
    pub fn check(&mut self, evs: &[Ev]) {
        for e in evs {
            self.check_one(e);
        }
    }

    /// Takes every pending event of `c`, checks them and returns them.
    pub fn drain(&mut self, c: &mut Connection) -> Vec<Ev> {
        let evs = drain(c);
        self.check(&evs);
        evs
    }

    fn check_one(&mut self, e: &Ev) {
        assert!(!self.closed, "event after Closed: {e:?}");
        if self.error.is_some() {
            assert!(
                !matches!(
                    e,
                    Ev::Request
                        | Ev::Open(..)
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
            Ev::Open(..) => {
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
                    *code == 1005 || crate::close::is_valid_on_wire(*code),
                    "CloseReceived code {code}"
                );
                assert!(reason.len() <= 123);
                assert!(*code != 1005 || reason.is_empty());
            }
            Ev::Error(err) => {
                let code = err.close_code();
                assert!(
                    matches!(code, None | Some(1002 | 1007 | 1008 | 1009)),
                    "error {err:?} with close code {code:?}"
                );
                if matches!(err, Error::Protocol(_)) {
                    assert!(code.is_some(), "protocol error without a close code");
                }
                self.error = Some(err.clone());
            }
            Ev::CloseTransport | Ev::AbortTransport => {
                assert!(!self.close_transport, "second CloseTransport");
                self.close_transport = true;
            }
            Ev::Closed(code, reason, was_clean) => {
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
            Ev::Frame(_, preview) | Ev::Compressed(_, _, _, preview) => {
                assert!(preview.len() <= crate::event::TRACE_PREVIEW)
            }
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
