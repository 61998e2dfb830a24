//! permessage-deflate through whole connections: agreed in the handshake by
//! each side's negotiator, then RSV1 on the first frame of a compressed
//! message only, fragments with control frames between them, the limits a
//! bomb runs into, and the close codes of what breaks the rules.

mod common;

use std::sync::Arc;

use common::*;
use wasmsocket::deflate::{DeflateOptions, PerMessageDeflate};
use wasmsocket::extension::{Extension, Negotiator, Negotiators};
use wasmsocket::{Config, Connection, Error, MessageKind, ProtocolError};

fn deflate(options: DeflateOptions) -> Config {
    Config {
        extensions: Negotiators(vec![Arc::new(PerMessageDeflate { options })]),
        ..Config::default()
    }
}

/// A client and a server that agreed on permessage-deflate.
fn agreed(client: DeflateOptions, server: Config) -> (Connection, Connection) {
    let mut c = new_client(deflate(client));
    let mut s = Connection::server(server, 0);
    s.receive(&c.take_output(), 0);
    assert_eq!(drain(&mut s), [Ev::Request]);
    s.accept(None, None, &[]).unwrap();
    assert!(matches!(&drain(&mut s)[..], [Ev::Open(_, x)] if x.starts_with("permessage-deflate")));
    c.receive(&s.take_output(), 0);
    assert!(matches!(&drain(&mut c)[..], [Ev::Open(_, x)] if x.starts_with("permessage-deflate")));
    (c, s)
}

fn text_of(n: usize) -> String {
    (0..n).map(|i| format!("{{\"n\":{i}}}")).collect()
}

/// The codec a client with `options` gets when a default server answers it,
/// for building compressed frames by hand.
fn client_codec(options: DeflateOptions) -> Box<dyn Extension> {
    let offer = PerMessageDeflate { options }.offers().remove(0);
    let server = PerMessageDeflate::default();
    let (answer, _) = server.answer(&[&offer]).unwrap();
    PerMessageDeflate::default().accept(&answer).unwrap()
}

#[test]
fn compressed_messages_cross_both_ways_and_short_ones_go_plain() {
    let (mut c, mut s) = agreed(
        DeflateOptions::default(),
        deflate(DeflateOptions::default()),
    );
    let long = text_of(500);
    c.send_text(&long).unwrap();
    c.send_text("short").unwrap();
    let wire = c.take_output();
    let frames = wire_frames(&wire);
    assert_eq!(
        (frames[0].rsv, frames[0].opcode),
        (0b100, 1),
        "compressed: RSV1"
    );
    assert!(frames[0].payload.len() * 4 < long.len());
    assert_eq!(frames[1].rsv, 0, "under the threshold: plain");
    s.receive(&wire, 1);
    assert_eq!(drain(&mut s), [text(&long), text("short")]);
    s.send_binary(long.as_bytes()).unwrap();
    c.receive(&s.take_output(), 2);
    assert_eq!(drain(&mut c), [binary(long.as_bytes())]);
}

#[test]
fn a_fragmented_compressed_message_with_control_frames_between() {
    let (_, mut s) = agreed(
        DeflateOptions::default(),
        deflate(DeflateOptions::default()),
    );
    let mut codec = client_codec(DeflateOptions::default());
    let message = text_of(300);
    let mut compressed = Vec::new();
    assert!(codec.encode(message.as_bytes(), &mut compressed));
    let third = compressed.len() / 3;
    let wire = [
        raw_frame(1, false, 0b100, Some(KEY), &compressed[..third]),
        cframe(9, true, b"ping"),
        raw_frame(0, false, 0, Some(KEY), &compressed[third..2 * third]),
        cframe(10, true, b"pong"),
        raw_frame(0, true, 0, Some(KEY), &compressed[2 * third..]),
    ]
    .concat();
    for cut in [1, 5, wire.len()] {
        let (_, mut s2) = agreed(
            DeflateOptions::default(),
            deflate(DeflateOptions::default()),
        );
        let mut fresh = client_codec(DeflateOptions::default());
        let mut again = Vec::new();
        fresh.encode(message.as_bytes(), &mut again);
        assert_eq!(again, compressed);
        let mut evs = Vec::new();
        for piece in wire.chunks(cut) {
            s2.receive(piece, 1);
            evs.extend(drain(&mut s2));
        }
        assert_eq!(
            evs,
            [
                Ev::Ping(b"ping".to_vec()),
                Ev::Pong(b"pong".to_vec()),
                text(&message)
            ],
            "chunks of {cut}"
        );
    }
    s.receive(&wire, 1);
    assert_eq!(drain(&mut s).last(), Some(&text(&message)));
}

/// Feeds `wire` to an open server with deflate agreed and returns the
/// error it failed with and the close code it sent.
fn fails(server: Config, wire: &[u8]) -> (Error, Option<u16>) {
    let (_, mut s) = agreed(DeflateOptions::default(), server);
    s.receive(wire, 1);
    let evs = drain(&mut s);
    let error = evs
        .iter()
        .find_map(|e| match e {
            Ev::Error(e) => Some(e.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no error in {evs:?}"));
    (error, sent_close(&s.take_output()))
}

#[test]
fn rsv1_belongs_on_a_message_s_first_frame_only() {
    let compressed = {
        let mut codec = client_codec(DeflateOptions::default());
        let mut out = Vec::new();
        assert!(codec.encode(text_of(300).as_bytes(), &mut out));
        out
    };
    let continuation = [
        raw_frame(1, false, 0b100, Some(KEY), &compressed[..4]),
        raw_frame(0, true, 0b100, Some(KEY), &compressed[4..]),
    ]
    .concat();
    let control = raw_frame(9, true, 0b100, Some(KEY), b"");
    for wire in [continuation, control] {
        let (error, close) = fails(deflate(DeflateOptions::default()), &wire);
        assert_eq!(error, Error::Protocol(ProtocolError::ReservedBits(0b100)));
        assert_eq!(close, Some(1002));
    }
}

#[test]
fn a_bomb_fails_with_1009_before_its_memory_is_spent() {
    let mut codec = client_codec(DeflateOptions {
        level: 9,
        ..DeflateOptions::default()
    });
    let mut bomb = Vec::new();
    assert!(codec.encode(&vec![0; 32 << 20], &mut bomb));
    assert!(bomb.len() < 64 << 10);
    let server = Config {
        max_message_size: 1 << 20,
        ..deflate(DeflateOptions::default())
    };
    let (error, close) = fails(server, &raw_frame(2, true, 0b100, Some(KEY), &bomb));
    assert_eq!(
        error,
        Error::Protocol(ProtocolError::MessageTooBig { limit: 1 << 20 })
    );
    assert_eq!(close, Some(1009));
}

#[test]
fn data_that_does_not_inflate_fails_with_1007() {
    let wire = raw_frame(1, true, 0b100, Some(KEY), &[0xff; 10]);
    let (error, close) = fails(deflate(DeflateOptions::default()), &wire);
    assert_eq!(error.close_code(), Some(1007));
    assert_eq!(close, Some(1007));
}

#[test]
fn streamed_compressed_messages_arrive_in_whole_characters() {
    let server = Config {
        streaming: true,
        receive_buffer_size: 256,
        ..deflate(DeflateOptions::default())
    };
    let (mut c, mut s) = agreed(DeflateOptions::default(), server);
    let long = "κόσμε ".repeat(400);
    c.send_text(&long).unwrap();
    let wire = c.take_output();
    let mut got = String::new();
    for piece in wire.chunks(100) {
        s.receive(piece, 1);
        for e in drain(&mut s) {
            match e {
                Ev::Fragment(MessageKind::Text, data, _) => {
                    got.push_str(std::str::from_utf8(&data).expect("whole characters"))
                }
                other => panic!("{other:?}"),
            }
        }
    }
    assert_eq!(got, long);
}

#[test]
fn a_client_fails_the_handshake_on_an_answer_it_cannot_take() {
    for answer in [
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; unknown=1",
        "permessage-deflate, permessage-deflate",
    ] {
        let mut c = new_client(deflate(DeflateOptions::default()));
        c.take_output();
        let head = RESPONSE.replace(
            "\r\n\r\n",
            &format!("\r\nSec-WebSocket-Extensions: {answer}\r\n\r\n"),
        );
        c.receive(head.as_bytes(), 0);
        let evs = drain(&mut c);
        assert!(
            matches!(&evs[0], Ev::Error(Error::Handshake(_))),
            "{answer}: {evs:?}"
        );
    }
}

#[test]
fn tracing_shows_a_compressed_message_s_uncompressed_length() {
    let traced = |options| Config {
        trace_frames: true,
        ..deflate(options)
    };
    let mut c = new_client(traced(DeflateOptions::default()));
    let mut s = Connection::server(traced(DeflateOptions::default()), 0);
    s.receive(&c.take_output(), 0);
    drain(&mut s);
    s.accept(None, None, &[]).unwrap();
    drain(&mut s);
    c.receive(&s.take_output(), 0);
    drain(&mut c);
    let long = text_of(300);
    c.send_text(&long).unwrap();
    let sent = drain(&mut c);
    let preview = long.as_bytes()[..32].to_vec();
    assert!(
        matches!(&sent[..], [Ev::Frame(info, _), Ev::Compressed(true, MessageKind::Text, n, p)]
        if info.rsv == 0b100 && *n == long.len() as u64 && *p == preview)
    );
    s.receive(&c.take_output(), 1);
    let got = drain(&mut s);
    assert!(
        matches!(&got[..], [Ev::Frame(..), Ev::Compressed(false, MessageKind::Text, n, _), Ev::Message(..)]
        if *n == long.len() as u64),
        "{got:?}"
    );
}
