use crate::close::code;
use crate::config::Config;
use crate::error::{Error, ProtocolError};
use crate::event::MessageKind::{Binary, Text};
use crate::testkit::*;

/// Feeds `wire` to an open server and expects the connection to fail with
/// `err`, after delivering `before`, and the close frame carrying its code.
fn server_fails(wire: &[u8], before: &[Ev], err: ProtocolError) {
    server_fails_with(Config::default(), wire, before, err);
}

/// Failing sends the close frame and closes the transport at once
/// (§7.1.7), waiting for nothing more from the peer.
fn server_fails_with(config: Config, wire: &[u8], before: &[Ev], err: ProtocolError) {
    let code = err.close_code();
    let mut s = open_server(config);
    let mut expected = before.to_vec();
    expected.push(Ev::Error(Error::Protocol(err)));
    expected.push(Ev::CloseTransport);
    assert_eq!(feed(&mut s, wire), expected);
    assert_eq!(sent_close(&s.take_output()), Some(code));
}

#[test]
fn single_frame_messages() {
    let mut s = open_server(Config::default());
    let wire = [
        cframe(1, true, b"Hello"),
        cframe(2, true, &[0, 1, 255]),
        cframe(1, true, b""),
    ]
    .concat();
    assert_eq!(
        feed(&mut s, &wire),
        [text("Hello"), binary(&[0, 1, 255]), text("")]
    );
    assert!(s.take_output().is_empty());
}

#[test]
fn unmasked_rfc_example_reaches_a_client() {
    let mut c = open_client(Config::default());
    assert_eq!(
        feed(&mut c, &[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]),
        [text("Hello")]
    );
}

#[test]
fn fragments_with_control_frames_between() {
    let mut s = open_server(Config::default());
    let wire = [
        cframe(1, false, b"Hel"),
        cframe(9, true, b"ping!"),
        cframe(0, false, b""),
        cframe(0xA, true, b"unsolicited"),
        cframe(0, true, b"lo"),
    ]
    .concat();
    let events = feed(&mut s, &wire);
    assert_eq!(
        events,
        [
            Ev::Ping(b"ping!".to_vec()),
            Ev::Pong(b"unsolicited".to_vec()),
            text("Hello")
        ]
    );
    assert_eq!(frames(&s.take_output()), [(0xA, true, b"ping!".to_vec())]);
}

#[test]
fn every_byte_boundary_gives_the_same_events() {
    let wire = [
        cframe(1, false, "κόσ".as_bytes()),
        cframe(9, true, b"p"),
        cframe(0, true, "με".as_bytes()),
        cframe(2, true, &[7; 300]),
        cframe(2, true, &[8; 70_000]),
    ]
    .concat();
    let whole = feed(&mut open_server(Config::default()), &wire);
    let mut s = open_server(Config::default());
    let mut bytewise = Vec::new();
    for b in &wire {
        bytewise.extend(feed(&mut s, std::slice::from_ref(b)));
    }
    assert_eq!(whole, bytewise);
    assert_eq!(whole[1], text("κόσμε"));
    assert_eq!(whole.len(), 4);
}

#[test]
fn automatic_pong_can_be_turned_off() {
    let mut s = open_server(Config {
        auto_pong: false,
        ..Config::default()
    });
    assert_eq!(
        feed(&mut s, &cframe(9, true, b"x")),
        [Ev::Ping(b"x".to_vec())]
    );
    assert!(s.take_output().is_empty());
}

#[test]
fn fragmentation_errors() {
    server_fails(
        &cframe(0, true, b"x"),
        &[],
        ProtocolError::UnexpectedContinuation,
    );
    let wire = [cframe(1, false, b"a"), cframe(1, true, b"b")].concat();
    server_fails(&wire, &[], ProtocolError::ExpectedContinuation);
    let wire = [
        cframe(2, true, b"ok"),
        cframe(1, false, b"a"),
        cframe(2, true, b"b"),
    ]
    .concat();
    server_fails(&wire, &[binary(b"ok")], ProtocolError::ExpectedContinuation);
}

#[test]
fn header_rule_errors() {
    for op in [3u8, 7, 0xB, 0xF] {
        server_fails(
            &cframe(op, true, b""),
            &[],
            ProtocolError::ReservedOpcode(op),
        );
    }
    for rsv in 1..8 {
        let wire = raw_frame(1, true, rsv, Some(KEY), b"x");
        server_fails(&wire, &[], ProtocolError::ReservedBits(rsv));
    }
    server_fails(
        &cframe(9, false, b""),
        &[],
        ProtocolError::FragmentedControlFrame,
    );
    server_fails(
        &cframe(9, true, &[0; 126]),
        &[],
        ProtocolError::ControlFrameTooLong(126),
    );
    let top_bit = [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
    server_fails(&top_bit, &[], ProtocolError::LengthTopBitSet);
}

#[test]
fn masking_direction_is_enforced() {
    server_fails(&sframe(1, true, b"x"), &[], ProtocolError::UnmaskedFrame);
    let mut c = open_client(Config::default());
    let events = feed(&mut c, &cframe(1, true, b"x"));
    assert_eq!(
        events,
        [
            Ev::Error(Error::Protocol(ProtocolError::MaskedFrame)),
            Ev::CloseTransport
        ]
    );
    assert_eq!(sent_close(&c.take_output()), Some(1002));
}

#[test]
fn trusted_links_may_skip_masking() {
    let mut s = open_server(Config {
        disable_masking: true,
        ..Config::default()
    });
    let wire = [sframe(1, true, b"plain"), cframe(1, true, b"masked")].concat();
    assert_eq!(feed(&mut s, &wire), [text("plain"), text("masked")]);
}

#[test]
fn invalid_utf8_fails_fast_with_1007() {
    // The first fragment is bad; the message never finishes, yet the error comes now.
    let wire = [
        cframe(1, false, "κόσμε".as_bytes()),
        cframe(0, false, b"\xF4\x90\x80\x80"),
    ]
    .concat();
    server_fails(&wire, &[], ProtocolError::InvalidUtf8);
    // Mid-frame: the frame's end has not even arrived.
    let whole = cframe(1, true, b"ok \xC0 and a long tail that never arrives");
    server_fails(&whole[..12], &[], ProtocolError::InvalidUtf8);
    // A message ending inside a character.
    server_fails(
        &cframe(1, true, b"abc\xE2\x82"),
        &[],
        ProtocolError::InvalidUtf8,
    );
    // Messages before the bad one are delivered; nothing of the bad one is.
    let wire = [
        cframe(1, true, b"fine"),
        cframe(1, false, b"partial "),
        cframe(0, true, b"\xFF"),
    ]
    .concat();
    server_fails(&wire, &[text("fine")], ProtocolError::InvalidUtf8);
}

#[test]
fn utf8_checks_can_be_turned_off() {
    let mut s = open_server(Config {
        validate_utf8: false,
        ..Config::default()
    });
    let events = feed(&mut s, &cframe(1, true, b"\xFF\xFE"));
    assert_eq!(events, [Ev::Message(Text, vec![0xFF, 0xFE])]);
}

#[test]
fn size_limits_fail_with_1009_before_buffering() {
    let limited = Config {
        max_message_size: 10,
        ..Config::default()
    };
    // Only the header of an oversized frame has arrived.
    let header = &cframe(2, true, &[0; 11])[..6];
    server_fails_with(
        limited.clone(),
        header,
        &[],
        ProtocolError::MessageTooBig { limit: 10 },
    );
    // A fragmented message grows past the limit.
    let wire = [cframe(2, false, &[0; 6]), cframe(0, true, &[0; 5])].concat();
    server_fails_with(
        limited.clone(),
        &wire,
        &[],
        ProtocolError::MessageTooBig { limit: 10 },
    );
    // Exactly at the limit is fine.
    let mut s = open_server(limited);
    assert_eq!(feed(&mut s, &cframe(2, true, &[1; 10])), [binary(&[1; 10])]);
    let frames_limited = Config {
        max_frame_size: 4,
        ..Config::default()
    };
    let wire = cframe(2, true, &[0; 5]);
    server_fails_with(
        frames_limited,
        &wire[..6],
        &[],
        ProtocolError::FrameTooBig { limit: 4 },
    );
}

#[test]
fn close_frames() {
    let mut s = open_server(Config::default());
    let events = feed(&mut s, &cframe(8, true, b""));
    assert_eq!(
        events,
        [
            Ev::CloseReceived(code::NO_STATUS, String::new()),
            Ev::CloseTransport
        ]
    );
    assert_eq!(frames(&s.take_output()), [(8, true, vec![])]);

    let mut s = open_server(Config::default());
    let events = feed(&mut s, &cframe(8, true, &close_payload(4000, "done ✓")));
    assert_eq!(
        events,
        [Ev::CloseReceived(4000, "done ✓".into()), Ev::CloseTransport]
    );
    assert_eq!(sent_close(&s.take_output()), Some(4000));

    // A broken close fails the connection but still starts the closing
    // handshake: after its 1002 the server closes the transport rather than
    // wait for a second close.
    let close_fails = |payload: &[u8], err: ProtocolError| {
        let code = err.close_code();
        let mut s = open_server(Config::default());
        let events = feed(&mut s, &cframe(8, true, payload));
        assert_eq!(
            events,
            [Ev::Error(Error::Protocol(err)), Ev::CloseTransport]
        );
        assert_eq!(sent_close(&s.take_output()), Some(code));
    };
    close_fails(&[3], ProtocolError::CloseFrameTooShort);
    for bad in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
        close_fails(
            &close_payload(bad, ""),
            ProtocolError::InvalidCloseCode(bad),
        );
    }
    let bad_reason = [&1000u16.to_be_bytes()[..], b"\xFF"].concat();
    close_fails(&bad_reason, ProtocolError::InvalidCloseReason);
    // Even a close frame that breaks the header rules ends the peer's side.
    let mut s = open_server(Config::default());
    let events = feed(&mut s, &cframe(8, true, &[b'*'; 126]));
    let err = ProtocolError::ControlFrameTooLong(126);
    assert_eq!(
        events,
        [Ev::Error(Error::Protocol(err)), Ev::CloseTransport]
    );
}

#[test]
fn nothing_is_read_after_a_close_frame() {
    let mut s = open_server(Config::default());
    let wire = [
        cframe(8, true, &close_payload(1000, "")),
        cframe(1, true, b"late"),
        vec![0xFF; 4],
    ]
    .concat();
    let events = feed(&mut s, &wire);
    assert_eq!(
        events,
        [Ev::CloseReceived(1000, String::new()), Ev::CloseTransport]
    );
    assert!(feed(&mut s, &cframe(1, true, b"later")).is_empty());
}

#[test]
fn nothing_is_read_after_a_failure() {
    let mut s = open_server(Config::default());
    let wire = [
        cframe(1, true, b"\xFF"),
        cframe(1, true, b"ignored"),
        cframe(9, true, b"ignored"),
        cframe(8, true, &close_payload(1000, "")),
    ]
    .concat();
    assert_eq!(
        feed(&mut s, &wire),
        [
            Ev::Error(Error::Protocol(ProtocolError::InvalidUtf8)),
            Ev::CloseTransport
        ]
    );
    assert_eq!(frames(&s.take_output()).len(), 1, "one close, no pong");
    assert!(feed(&mut s, &cframe(9, true, b"later")).is_empty());
    assert!(s.take_output().is_empty());
}

#[test]
fn streaming_delivers_pieces_as_they_arrive() {
    let config = Config {
        streaming: true,
        ..Config::default()
    };
    let mut s = open_server(config.clone());
    let frame = cframe(1, true, "aé€😀".as_bytes());
    // Header plus "a" and the first byte of "é": only "a" is whole.
    let events = feed(&mut s, &frame[..8]);
    assert_eq!(events, [Ev::Fragment(Text, b"a".to_vec(), false)]);
    let events = feed(&mut s, &frame[8..]);
    assert_eq!(
        events,
        [Ev::Fragment(Text, "é€😀".as_bytes().to_vec(), true)]
    );

    // Pieces follow arrival, not wire frames: two frames in one chunk are one piece.
    let mut s = open_server(config.clone());
    let wire = [cframe(2, false, b"ab"), cframe(0, true, b"")].concat();
    assert_eq!(
        feed(&mut s, &wire),
        [Ev::Fragment(Binary, b"ab".to_vec(), true)]
    );
    let mut s = open_server(config.clone());
    assert_eq!(
        feed(&mut s, &wire[..8]),
        [Ev::Fragment(Binary, b"ab".to_vec(), false)]
    );
    assert_eq!(
        feed(&mut s, &wire[8..]),
        [Ev::Fragment(Binary, vec![], true)]
    );

    let mut s = open_server(Config {
        receive_buffer_size: 256,
        ..config
    });
    let events = feed(&mut s, &cframe(2, true, &[5; 600]));
    let sizes: Vec<(usize, bool)> = events
        .iter()
        .map(|e| match e {
            Ev::Fragment(_, d, fin) => (d.len(), *fin),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(sizes, [(256, false), (256, false), (88, true)]);
}

#[test]
fn big_binary_messages_can_be_assembled_by_the_host() {
    let config = Config {
        host_assembly: Some(100),
        ..Config::default()
    };
    let payload: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();

    // Unmasked (a client reads): announced as direct as soon as a read
    // ends inside it, even just after the header, with what came so far;
    // the rest is taken by the host from its own input.
    let mut c = open_client(config.clone());
    let frame = sframe(2, true, &payload);
    assert_eq!(
        feed(&mut c, &frame[..4]),
        [Ev::MessageStart(Binary, 1000, true)],
        "the header alone"
    );
    assert_eq!(
        feed(&mut c, &frame[4..504]),
        [Ev::Fragment(Binary, payload[..500].to_vec(), false)],
        "passed to `receive` after all"
    );
    assert!(c.host_payload(501, 0).is_err(), "more than the message has");
    c.host_payload(300, 0).unwrap();
    assert_eq!(drain(&mut c), []);
    c.host_payload(200, 0).unwrap();
    assert_eq!(drain(&mut c), [Ev::Fragment(Binary, vec![], true)]);
    assert!(c.host_payload(1, 0).is_err(), "no message is waiting");
    // Reading goes on after it; so does the same message through `receive`.
    let events = feed(&mut c, &[sframe(2, true, b"next"), frame.clone()].concat());
    assert_eq!(
        events,
        [binary(b"next"), binary(&payload)],
        "a message read whole is delivered whole"
    );
    // A header cut short is carried; the message starts once it is whole,
    // and the host may pass the rest to `receive` after all.
    assert_eq!(feed(&mut c, &frame[..3]), []);
    assert_eq!(
        feed(&mut c, &frame[3..600]),
        [
            Ev::MessageStart(Binary, 1000, true),
            Ev::Fragment(Binary, payload[..596].to_vec(), false)
        ]
    );
    assert_eq!(
        feed(&mut c, &frame[600..]),
        [Ev::Fragment(Binary, payload[596..].to_vec(), true)]
    );

    // Masked (a server reads): not direct, announced as soon as a read
    // ends inside it; each piece is handed over unmasked, so no more than
    // a read of it stays in the engine's buffers.
    let mut s = open_server(config.clone());
    let frame = cframe(2, true, &payload);
    assert_eq!(
        feed(&mut s, &frame[..308]),
        [
            Ev::MessageStart(Binary, 1000, false),
            Ev::Fragment(Binary, payload[..300].to_vec(), false)
        ],
        "300 of 1000 bytes"
    );
    assert_eq!(
        feed(&mut s, &frame[308..508]),
        [Ev::Fragment(Binary, payload[300..500].to_vec(), false)]
    );
    assert!(
        s.host_payload(1, 0).is_err(),
        "masked payload is not direct"
    );
    assert_eq!(
        feed(
            &mut s,
            &[&frame[508..], &cframe(9, true, b"p")[..]].concat()
        ),
        [
            Ev::Fragment(Binary, payload[500..].to_vec(), true),
            Ev::Ping(b"p".to_vec())
        ]
    );

    // Text, fragmented and small messages are never handed over.
    let mut s = open_server(config);
    let text_frame = cframe(1, true, &[b'a'; 200]);
    let fragmented = [cframe(2, false, &payload), cframe(0, true, b"")].concat();
    let small = cframe(2, true, &[7; 99]);
    for wire in [text_frame, fragmented, small] {
        let (a, b) = wire.split_at(wire.len() / 2);
        assert_eq!(feed(&mut s, a), []);
        let events = feed(&mut s, b);
        assert!(matches!(events[..], [Ev::Message(..)]), "{events:?}");
    }
}

#[test]
fn extensions_own_their_rsv_bits() {
    let inverted: Vec<u8> = b"hi".iter().map(|b| !b).collect();
    let mut s = open_server(Config::default());
    s.set_extension(Box::new(Invert));
    let wire = [
        raw_frame(1, true, 0b100, Some(KEY), &inverted),
        cframe(1, true, b"plain"),
    ]
    .concat();
    assert_eq!(feed(&mut s, &wire), [text("hi"), text("plain")]);
    s.send_text("yo").unwrap();
    let out = s.take_output();
    assert_eq!(out[0], 0xC1, "FIN + RSV1 + text");
    assert_eq!(&out[2..], [!b'y', !b'o']);
    // Bits the extension does not own, RSV1 on a continuation, and RSV1 on control frames fail.
    let mut s = open_server(Config::default());
    s.set_extension(Box::new(Invert));
    let events = feed(&mut s, &raw_frame(1, true, 0b010, Some(KEY), b"x"));
    assert_eq!(
        events,
        [
            Ev::Error(Error::Protocol(ProtocolError::ReservedBits(0b010))),
            Ev::CloseTransport
        ]
    );
    let mut s = open_server(Config::default());
    s.set_extension(Box::new(Invert));
    let wire = [
        raw_frame(1, false, 0b100, Some(KEY), &inverted),
        raw_frame(0, true, 0b100, Some(KEY), b"y"),
    ]
    .concat();
    let failed = [
        Ev::Error(Error::Protocol(ProtocolError::ReservedBits(0b100))),
        Ev::CloseTransport,
    ];
    assert_eq!(feed(&mut s, &wire), failed);
    let mut s = open_server(Config::default());
    s.set_extension(Box::new(Invert));
    let events = feed(&mut s, &raw_frame(9, true, 0b100, Some(KEY), b""));
    assert_eq!(events, failed);
}

#[test]
fn extensions_decode_fragmented_and_streamed_messages() {
    let inv = |b: &[u8]| -> Vec<u8> { b.iter().map(|x| !x).collect() };
    let wire = [
        raw_frame(1, false, 0b100, Some(KEY), &inv("κό".as_bytes())),
        cframe(9, true, b"p"),
        cframe(0, false, &inv("σμ".as_bytes())),
        cframe(0, true, &inv(b"e!")),
        cframe(2, true, b"plain after"),
    ]
    .concat();
    for streaming in [false, true] {
        for cut in 0..wire.len() {
            let mut s = open_server(Config {
                streaming,
                ..Config::default()
            });
            s.set_extension(Box::new(Invert));
            let mut events = feed(&mut s, &wire[..cut]);
            events.extend(feed(&mut s, &wire[cut..]));
            let mut text = Vec::new();
            let mut rest = Vec::new();
            for e in events {
                match e {
                    Ev::Fragment(Text, piece, _) => {
                        assert!(std::str::from_utf8(&piece).is_ok(), "cut {cut}");
                        text.extend(piece);
                    }
                    Ev::Message(Text, whole) => text.extend(whole),
                    Ev::Fragment(Binary, piece, _) => rest.extend(piece),
                    Ev::Message(Binary, whole) => rest.extend(whole),
                    Ev::Ping(_) => {}
                    other => panic!("{other:?}"),
                }
            }
            assert_eq!(
                text,
                "κόσμe!".as_bytes(),
                "streaming {streaming}, cut {cut}"
            );
            assert_eq!(rest, b"plain after");
        }
    }
}

#[test]
fn traces_every_frame() {
    let mut s = open_server(Config {
        trace_frames: true,
        ..Config::default()
    });
    // The pong, written when the ping is taken, is traced right after it.
    match &feed(&mut s, &cframe(9, true, b"hey"))[..] {
        [Ev::Frame(seen, p1), Ev::Ping(_), Ev::Frame(sent, p2)] => {
            assert!(!seen.outgoing && seen.fin && seen.masked && seen.opcode == 9 && seen.len == 3);
            assert!(sent.outgoing && !sent.masked && sent.opcode == 0xA);
            assert_eq!((p1.as_slice(), p2.as_slice()), (&b"hey"[..], &b"hey"[..]));
        }
        other => panic!("{other:?}"),
    }
}
