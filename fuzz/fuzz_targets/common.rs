//! What the fuzz targets add to the engine's test kit (re-exported here,
//! with its event checker): configurations picked by input bytes, and
//! connections set up and finished the way every target needs.
#![allow(dead_code)]

pub use wasmsocket::testkit::*;
use wasmsocket::{ClientRequest, Config, Connection, Event};

/// The request the client targets send.
pub fn client_request() -> ClientRequest {
    ClientRequest {
        protocols: vec!["chat".into(), "superchat".into()],
        extensions: vec!["permessage-deflate; client_max_window_bits".into()],
        ..ClientRequest::new("example.com", "/chat")
    }
}

/// A configuration picked by two flag bytes.
pub fn config(a: u8, b: u8) -> Config {
    let mut c = Config {
        streaming: a & 1 != 0,
        receive_buffer_size: 1 << (a >> 1 & 7) << 6, // 64 B .. 8 KiB (raised to 256)
        trace_frames: a & 0x10 != 0,
        validate_utf8: a & 0x20 == 0,
        auto_pong: a & 0x40 == 0,
        disable_masking: a & 0x80 != 0,
        ..Config::default()
    };
    if b & 1 != 0 {
        c.max_message_size = (b as u64 >> 1) * 16;
    }
    if b & 0x80 != 0 {
        c.max_frame_size = (b as u64 & 0x7E) * 4;
    }
    if b & 0x40 != 0 {
        c.send_buffer_size = 0; // raised to 256
    }
    if b & 0x20 != 0 {
        // Independent of tracing (a & 0x10); shares value bits with the limits.
        c.host_assembly = Some(u64::from(b & 0x1E) * 8);
    }
    c
}

/// A client and a server after a real handshake, events taken.
pub fn open_pair(ccfg: Config, scfg: Config) -> (Connection, Connection) {
    let mut client = Connection::client(client_request(), ccfg, NONCE, SEED, 0).unwrap();
    let mut server = Connection::server(scfg, 0);
    server.receive(&client.take_output(), 0);
    assert!(matches!(server.next_event(), Some(Event::Request)));
    server.accept(Some("chat"), None, &[]).unwrap();
    while server.next_event().is_some() {}
    client.receive(&server.take_output(), 0);
    assert!(matches!(
        client.next_event(),
        Some(Event::Open {
            protocol: "chat",
            ..
        })
    ));
    while client.next_event().is_some() {}
    (client, server)
}

/// Splits `data` into a flag pair, a cut position and the bytes themselves.
pub fn split_input(data: &[u8]) -> Option<(u8, u8, usize, &[u8])> {
    let [a, b, cut, rest @ ..] = data else {
        return None;
    };
    let cut = (*cut as usize * rest.len()) / 255;
    Some((*a, *b, cut, rest))
}

/// Feeds `to` the bytes in two reads, taking events after each; then the
/// transport closes and `Closed` must come last.
pub fn feed_two_reads(to: &mut Connection, ck: &mut Checker, bytes: &[u8], cut: usize) {
    to.receive(&bytes[..cut], 1);
    ck.drain(to);
    to.receive(&bytes[cut..], 2);
    ck.drain(to);
}

/// Closes the transport under `c`; `Closed` must be the last event.
pub fn finish(c: &mut Connection, ck: &mut Checker) {
    let pending = c.pending_output();
    c.transport_closed(3);
    ck.drain(c);
    assert!(ck.closed, "no Closed after transport_closed");
    assert_eq!(c.next_timeout(), None, "a timer on a CLOSED connection");
    c.receive(b"\x88\x00", 4);
    c.handle_timeout(1_000_000);
    ck.drain(c);
    assert_eq!(c.pending_output(), pending, "output written after the transport closed");
}
