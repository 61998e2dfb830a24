//! Helpers for the engine's unit tests: open connections, hand-made frames,
//! and events copied out of the connection so tests can compare them.

use crate::config::Config;
use crate::connection::Connection;
use crate::error::Error;
use crate::error::ProtocolError;
use crate::event::{Event, FrameInfo, MessageKind};
use crate::extension::Extension;
use crate::frame::FrameHeader;
use crate::handshake::client::ClientRequest;
use crate::mask;

/// An event, owned.
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
        });
    }
    out
}

/// Feeds `bytes` and takes the events that follow.
pub fn feed(conn: &mut Connection, bytes: &[u8]) -> Vec<Ev> {
    conn.receive(bytes, 0);
    drain(conn)
}

pub const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// One frame as a client writes it (masked with `KEY`).
pub fn cframe(opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
    raw_frame(opcode, fin, 0, Some(KEY), payload)
}

/// One frame as a server writes it (unmasked).
pub fn sframe(opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
    raw_frame(opcode, fin, 0, None, payload)
}

pub fn raw_frame(opcode: u8, fin: bool, rsv: u8, key: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let header = FrameHeader {
        fin,
        rsv,
        opcode,
        mask: key,
        payload_len: payload.len() as u64,
    };
    let mut out = Vec::new();
    header.write(&mut out);
    match key {
        Some(k) => mask::extend_masked(&mut out, payload, k, 0),
        None => out.extend_from_slice(payload),
    }
    out
}

/// Splits wire bytes into (opcode, fin, unmasked payload) triples.
pub fn frames(mut wire: &[u8]) -> Vec<(u8, bool, Vec<u8>)> {
    let mut out = Vec::new();
    while !wire.is_empty() {
        let (h, n) = FrameHeader::parse(wire).unwrap().expect("whole frames");
        let len = h.payload_len as usize;
        let mut payload = wire[n..n + len].to_vec();
        if let Some(k) = h.mask {
            mask::apply(&mut payload, k, 0);
        }
        out.push((h.opcode, h.fin, payload));
        wire = &wire[n + len..];
    }
    out
}

/// A close frame's payload.
pub fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason.as_bytes());
    p
}

pub const REQUEST: &str = "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: chat, superchat\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";

pub const RESPONSE: &str =
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
    Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

/// The nonce whose key is the RFC's sample, so `RESPONSE` answers it.
pub const NONCE: [u8; 16] = *b"the sample nonce";

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

/// The close code of the single close frame in `wire`, if that is what it holds.
pub fn sent_close(wire: &[u8]) -> Option<u16> {
    match frames(wire).as_slice() {
        [(8, true, p)] if p.len() >= 2 => Some(u16::from_be_bytes([p[0], p[1]])),
        [(8, true, p)] if p.is_empty() => Some(1005),
        _ => None,
    }
}

/// A stand-in extension that owns RSV1 and inverts every payload byte.
pub struct Invert;

impl Extension for Invert {
    fn rsv_bits(&self) -> u8 {
        0b100
    }
    fn decode(&mut self, input: &[u8], _fin: bool, out: &mut Vec<u8>) -> Result<(), ProtocolError> {
        out.extend(input.iter().map(|b| !b));
        Ok(())
    }
    fn encode(&mut self, message: &[u8], out: &mut Vec<u8>) -> bool {
        out.extend(message.iter().map(|b| !b));
        true
    }
}
