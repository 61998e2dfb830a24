use super::*;
use crate::error::ProtocolError;
use crate::testkit::*;

fn client(config: Config) -> Connection {
    let mut req = ClientRequest::new("server.example.com", "/chat");
    req.protocols = vec!["chat".into(), "superchat".into()];
    Connection::client(req, config, NONCE, [1; 32], 0).unwrap()
}

/// The frame a host writes itself (`host_frame`): the header, then the
/// payload, passed window by window through `mask_host_window` when masked.
fn host_written(
    conn: &mut Connection,
    kind: MessageKind,
    payload: &[u8],
    window: usize,
) -> Vec<u8> {
    let h = conn.host_frame(kind, payload.len()).unwrap().unwrap();
    let mut frame = h.bytes[..h.len].to_vec();
    for piece in payload.chunks(window) {
        let mut w = piece.to_vec();
        if h.mask.is_some() {
            conn.mask_host_window(&mut w).unwrap();
        }
        frame.extend_from_slice(&w);
    }
    frame
}

#[test]
fn a_server_host_writes_big_payloads_where_the_engine_says() {
    let mut s = open_server(Config::default());
    s.send_text("before").unwrap();
    let at = s.pending_output();
    let payload = vec![9u8; 100_000];
    let frame = host_written(&mut s, MessageKind::Binary, &payload, mask::WINDOW);
    let words = host_written(&mut s, MessageKind::Text, "déjà vu".as_bytes(), 3);
    s.send_text("after").unwrap();
    let out = s.take_output();
    let wire = [&out[..at], &frame, &words, &out[at..]].concat();
    let mut c = open_client(Config::default());
    assert_eq!(
        feed(&mut c, &wire),
        [
            text("before"),
            binary(&payload),
            text("déjà vu"),
            text("after")
        ]
    );
    // Unmasked: there is nothing to pass through the engine.
    assert!(s.mask_host_window(&mut [0u8; 4]).is_err());
    s.close(Some(1000), "").unwrap();
    assert!(s.host_frame(MessageKind::Binary, 10).is_err());
}

#[test]
fn a_client_host_masks_big_payloads_window_by_window() {
    let mut c = open_client(Config::default());
    let payload: Vec<u8> = (0..100_003u32).map(|i| (i * 7) as u8).collect();
    // Windows of any size (here not a multiple of the key's 4 bytes) make
    // the frame one pass would (§5.3).
    let frame = host_written(&mut c, MessageKind::Binary, &payload, 4099);
    assert_eq!(frame[1] & 0x80, 0x80, "a client's frame is masked");
    let words = host_written(&mut c, MessageKind::Text, "déjà vu".as_bytes(), 1);
    let mut s = open_server(Config::default());
    assert_eq!(
        feed(&mut s, &[frame, words].concat()),
        [binary(&payload), text("déjà vu")]
    );
}

#[test]
fn host_windows_are_checked_against_the_frame() {
    let mut c = open_client(Config::default());
    let h = c.host_frame(MessageKind::Binary, 10).unwrap().unwrap();
    assert!(h.mask.is_some());
    let mut window = [0u8; 11];
    // More than the payload has left, or more than a window: refused, untouched.
    assert!(c.mask_host_window(&mut window).is_err());
    assert_eq!(window, [0; 11]);
    let _ = c.host_frame(MessageKind::Binary, mask::WINDOW + 1).unwrap();
    assert!(c.mask_host_window(&mut vec![0; mask::WINDOW + 1]).is_err());
    assert!(c.mask_host_window(&mut vec![0; mask::WINDOW]).is_ok());
    assert!(c.mask_host_window(&mut [0u8; 1]).is_ok());
    // The payload is done: nothing more is masked.
    assert!(c.mask_host_window(&mut [0u8; 1]).is_err());
}

#[test]
fn host_frames_give_way_where_the_general_path_is_needed() {
    let traced = Config {
        trace_frames: true,
        ..Config::default()
    };
    let mut c = open_client(traced);
    assert_eq!(c.host_frame(MessageKind::Binary, 10).unwrap(), None);
    let small = Config {
        send_buffer_size: 256,
        ..Config::default()
    };
    let mut s = open_server(small);
    assert_eq!(s.host_frame(MessageKind::Binary, 1000).unwrap(), None);
    s.send_fragment(MessageKind::Text, b"a", false).unwrap();
    assert_eq!(s.host_frame(MessageKind::Binary, 10).unwrap(), None);
}

#[test]
fn connections_share_a_config_given_as_an_arc() {
    let config = Arc::new(Config::default());
    let a = Connection::server(Arc::clone(&config), 0);
    let b = client(Config::default());
    let b2 = Connection::client(
        ClientRequest::new("example.com", "/"),
        Arc::clone(&config),
        NONCE,
        [1; 32],
        0,
    )
    .unwrap();
    assert!(std::ptr::eq(a.config(), &*config));
    assert!(std::ptr::eq(b2.config(), &*config));
    assert!(!std::ptr::eq(b.config(), &*config));
    // One below the minimums is normalized into a copy of its own.
    let small = Arc::new(Config {
        send_buffer_size: 1,
        ..Config::default()
    });
    let c = Connection::server(Arc::clone(&small), 0);
    assert!(!std::ptr::eq(c.config(), &*small));
    assert_eq!(c.config().send_buffer_size, Config::MIN_BUFFER_SIZE);
}

#[test]
fn client_handshake_keeps_bytes_after_the_head() {
    let mut c = client(Config::default());
    assert_eq!(c.state(), ReadyState::Connecting);
    let request = String::from_utf8(c.take_output()).unwrap();
    assert!(request.starts_with("GET /chat HTTP/1.1\r\nHost: server.example.com\r\n"));
    assert!(request.contains("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"));
    let answer = RESPONSE.replace("\r\n\r\n", "\r\nSec-WebSocket-Protocol: superchat\r\n\r\n");
    let wire = [answer.as_bytes(), &sframe(1, true, b"first")].concat();
    let (head, rest) = wire.split_at(40);
    assert!(feed(&mut c, head).is_empty());
    assert_eq!(
        feed(&mut c, rest),
        [Ev::Open("superchat".into(), String::new()), text("first")]
    );
    assert_eq!(c.state(), ReadyState::Open);
    assert_eq!(c.protocol(), "superchat");
    assert_eq!(c.response().unwrap().status, 101);
}

#[test]
fn client_handshake_failures_close_the_transport() {
    let mut c = client(Config::default());
    let events = feed(
        &mut c,
        b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
    );
    match &events[..] {
        [Ev::Error(Error::Handshake(HandshakeError::Status { status: 403, .. })), Ev::AbortTransport] =>
            {}
        other => panic!("{other:?}"),
    }
    assert_eq!(c.state(), ReadyState::Closing);
    assert!(c.send_text("x").is_err());
    c.transport_closed(1);
    assert_eq!(drain(&mut c), [Ev::Closed(1006, String::new(), false)]);

    let mut c = client(Config::default());
    let bad = RESPONSE.replace("s3pP", "XXXX");
    let events = feed(&mut c, bad.as_bytes());
    assert_eq!(
        events,
        [
            Ev::Error(Error::Handshake(HandshakeError::InvalidAccept)),
            Ev::AbortTransport
        ]
    );

    let mut c = client(Config::default());
    c.receive(b"HTTP/1.1 101 Switching", 0);
    c.transport_closed(1);
    let events = drain(&mut c);
    assert_eq!(
        events,
        [
            Ev::Error(Error::Handshake(HandshakeError::ConnectionClosed)),
            Ev::Closed(1006, String::new(), false)
        ]
    );
}

#[test]
fn oversized_heads_fail() {
    let config = Config {
        head_limits: crate::HeadLimits {
            max_head_size: 64,
            max_headers: 8,
        },
        ..Config::default()
    };
    let endless = |start: &str| [start.as_bytes(), &[b'y'; 65]].concat();
    let mut c = client(config.clone());
    let events = feed(&mut c, &endless("HTTP/1.1 101 OK\r\nX: "));
    assert_eq!(
        events[0],
        Ev::Error(Error::Handshake(HandshakeError::HeadTooLarge { limit: 64 }))
    );
    let mut s = Connection::server(config, 0);
    feed(&mut s, &endless("GET / HTTP/1.1\r\nX: "));
    assert!(String::from_utf8(s.take_output())
        .unwrap()
        .starts_with("HTTP/1.1 431 "));
}

#[test]
fn server_handshake_exposes_the_request_and_keeps_early_frames() {
    let mut s = Connection::server(Config::default(), 0);
    let wire = [REQUEST.as_bytes(), &cframe(1, true, b"early")].concat();
    assert_eq!(feed(&mut s, &wire), [Ev::Request]);
    let req = s.request().unwrap();
    assert_eq!((req.path.as_str(), req.protocols.len()), ("/chat", 2));
    assert_eq!(s.state(), ReadyState::Connecting);
    assert!(s.send_text("too soon").is_err());
    s.accept(Some("superchat"), None, &[("X-Server".into(), "1".into())])
        .unwrap();
    assert_eq!(
        drain(&mut s),
        [Ev::Open("superchat".into(), String::new()), text("early")]
    );
    let answer = String::from_utf8(s.take_output()).unwrap();
    assert!(answer.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
    assert!(answer.contains("Sec-WebSocket-Protocol: superchat\r\nX-Server: 1\r\n\r\n"));
    assert!(s.accept(None, None, &[]).is_err(), "answered once");
    // An open connection holds no handshake state, and the request is gone.
    assert!(s.opening.is_none() && s.request().is_none());
    assert_eq!((s.protocol(), s.extensions()), ("superchat", ""));
    let mut plain = Connection::server(Config::default(), 0);
    feed(&mut plain, REQUEST.as_bytes());
    plain.accept(None, None, &[]).unwrap();
    assert!(plain.opening.is_none() && plain.agreed.is_none());
    assert_eq!(plain.next_timeout(), None, "no handshake deadline left");
}

#[test]
fn blank_lines_before_a_head_are_ignored() {
    let mut s = Connection::server(Config::default(), 0);
    assert!(feed(&mut s, b"\r\n\r\n\n").is_empty());
    assert_eq!(feed(&mut s, REQUEST.as_bytes()), [Ev::Request]);
    let mut c = client(Config::default());
    let answer = RESPONSE.replace("\r\n\r\n", "\r\nSec-WebSocket-Protocol: chat\r\n\r\n");
    let events = feed(&mut c, format!("\r\n{answer}").as_bytes());
    assert_eq!(events, [Ev::Open("chat".into(), String::new())]);
}

#[test]
fn server_refusals() {
    let mut s = Connection::server(Config::default(), 0);
    feed(&mut s, REQUEST.as_bytes());
    assert_eq!(
        s.accept(Some("nope"), None, &[]),
        Err(UsageError::UnofferedProtocol("nope".into()))
    );
    s.reject(403, "origin not allowed", &[]).unwrap();
    assert_eq!(drain(&mut s), [Ev::CloseTransport]);
    assert!(s.opening.is_none() && s.request().is_none());
    assert!(String::from_utf8(s.take_output())
        .unwrap()
        .starts_with("HTTP/1.1 403 Forbidden\r\n"));

    let mut s = Connection::server(Config::default(), 0);
    let old = REQUEST.replace("Version: 13", "Version: 8");
    let events = feed(&mut s, old.as_bytes());
    assert_eq!(
        events,
        [
            Ev::Error(Error::Handshake(HandshakeError::UnsupportedVersion(Some(
                "8".into()
            )))),
            Ev::CloseTransport
        ]
    );
    let answer = String::from_utf8(s.take_output()).unwrap();
    assert!(answer.starts_with("HTTP/1.1 426 Upgrade Required\r\n"));
    assert!(answer.contains("Sec-WebSocket-Version: 13\r\n"));
}

#[test]
fn server_closes_first_after_the_closing_handshake() {
    let mut s = open_server(Config::default());
    let mut c = open_client(Config::default());
    s.close(Some(1000), "done").unwrap();
    assert_eq!(s.state(), ReadyState::Closing);
    assert!(
        s.send_text("after close").is_err(),
        "no data after a close frame"
    );
    let out = s.take_output();
    assert_eq!(feed(&mut c, &out), [Ev::CloseReceived(1000, "done".into())]);
    assert_eq!(c.state(), ReadyState::Closing);
    let echo = c.take_output();
    assert_eq!(sent_close(&echo), Some(1000));
    assert_eq!(
        feed(&mut s, &echo),
        [Ev::CloseReceived(1000, String::new()), Ev::CloseTransport]
    );
    // The client waits for the server to close the transport.
    assert_eq!(c.next_timeout().map(|(_, t)| t), Some(Timer::Close));
    s.transport_closed(1);
    c.transport_closed(1);
    assert_eq!(drain(&mut s), [Ev::Closed(1000, String::new(), true)]);
    assert_eq!(drain(&mut c), [Ev::Closed(1000, "done".into(), true)]);
    assert_eq!(c.state(), ReadyState::Closed);
}

#[test]
fn client_closes_the_transport_if_the_server_does_not() {
    let mut c = open_client(Config::default());
    c.close(Some(3001), "").unwrap();
    c.take_output();
    feed(&mut c, &sframe(8, true, &close_payload(3001, "")));
    let (deadline, timer) = c.next_timeout().unwrap();
    assert_eq!((deadline, timer), (5_000, Timer::Close));
    c.handle_timeout(4_999);
    assert!(drain(&mut c).is_empty());
    c.handle_timeout(5_000);
    assert_eq!(drain(&mut c), [Ev::AbortTransport]);
    c.transport_closed(5_001);
    assert_eq!(drain(&mut c), [Ev::Closed(3001, String::new(), true)]);
}

#[test]
fn an_unanswered_close_times_out_uncleanly() {
    let mut s = open_server(Config::default());
    s.close(None, "").unwrap();
    assert_eq!(sent_close(&s.take_output()), Some(1005));
    s.handle_timeout(5_000);
    assert_eq!(drain(&mut s), [Ev::AbortTransport]);
    s.transport_closed(5_000);
    assert_eq!(drain(&mut s), [Ev::Closed(1006, String::new(), false)]);
}

#[test]
fn close_commands_are_checked() {
    let mut s = open_server(Config::default());
    assert_eq!(
        s.close(Some(1001), ""),
        Err(UsageError::InvalidCloseCode(1001))
    );
    assert_eq!(
        s.close(Some(2999), ""),
        Err(UsageError::InvalidCloseCode(2999))
    );
    assert_eq!(
        s.close(Some(5000), ""),
        Err(UsageError::InvalidCloseCode(5000))
    );
    assert_eq!(
        s.close(Some(1000), &"é".repeat(62)),
        Err(UsageError::CloseReasonTooLong(124))
    );
    assert_eq!(s.state(), ReadyState::Open);
    s.close_with_status(Some(1001), "going away").unwrap();
    assert_eq!(sent_close(&s.take_output()), Some(1001));
    s.close(Some(1000), "").unwrap();
    assert!(s.take_output().is_empty(), "a second close does nothing");
}

#[test]
fn a_lost_transport_is_abnormal() {
    let mut s = open_server(Config::default());
    s.transport_closed(0);
    assert_eq!(
        drain(&mut s),
        [
            Ev::Error(Error::ConnectionLost { mid_message: false }),
            Ev::Closed(1006, String::new(), false)
        ]
    );
    let mut c = open_client(Config::default());
    feed(&mut c, &sframe(2, true, &[1; 100])[..50]);
    c.transport_closed(0);
    assert_eq!(
        drain(&mut c),
        [
            Ev::Error(Error::ConnectionLost { mid_message: true }),
            Ev::Closed(1006, String::new(), false)
        ]
    );
    assert!(feed(&mut c, b"more").is_empty(), "nothing after Closed");
}

#[test]
fn replies_to_events_follow_the_hosts_reactions() {
    let mut s = open_server(Config::default());
    let wire = [
        cframe(1, true, b"echo me"),
        cframe(9, true, b"p"),
        cframe(1, true, b"\xFF"),
    ]
    .concat();
    s.receive(&wire, 0);
    let mut seen = Vec::new();
    while let Some(event) = s.next_event() {
        if let Event::Message { data, .. } = event {
            let data = data.to_vec();
            s.send_binary(&data).unwrap();
            seen.push("message");
        } else if let Event::Error(e) = event {
            assert_eq!(e, &Error::Protocol(ProtocolError::InvalidUtf8));
            seen.push("error");
        } else if let Event::CloseTransport { graceful } = event {
            assert!(graceful, "the close frame is written first");
            seen.push("close transport");
        } else {
            seen.push("ping");
        }
    }
    assert_eq!(seen, ["message", "ping", "error", "close transport"]);
    let sent = frames(&s.take_output());
    let ops: Vec<u8> = sent.iter().map(|f| f.0).collect();
    assert_eq!(ops, [2, 0xA, 8], "echo, pong, then the close");
}

#[test]
fn a_peer_close_can_follow_messages_the_host_still_answers() {
    let mut s = open_server(Config::default());
    let wire = [
        cframe(1, true, b"last words"),
        cframe(8, true, &close_payload(1000, "")),
    ]
    .concat();
    s.receive(&wire, 0);
    assert!(matches!(s.next_event(), Some(Event::Message { .. })));
    s.send_text("reply").unwrap();
    assert!(matches!(
        s.next_event(),
        Some(Event::CloseReceived { code: 1000, .. })
    ));
    assert!(s.send_text("too late").is_err());
    let ops: Vec<u8> = frames(&s.take_output()).iter().map(|f| f.0).collect();
    assert_eq!(ops, [1, 8]);
}

#[test]
fn handshake_timeout() {
    let mut c = client(Config {
        handshake_timeout: Some(1_000),
        ..Config::default()
    });
    assert_eq!(c.next_timeout(), Some((1_000, Timer::Handshake)));
    c.handle_timeout(999);
    assert!(drain(&mut c).is_empty());
    c.handle_timeout(1_000);
    assert_eq!(
        drain(&mut c),
        [Ev::Error(Error::HandshakeTimeout), Ev::AbortTransport]
    );
    let mut s = Connection::server(Config::default(), 0);
    assert_eq!(s.next_timeout(), Some((30_000, Timer::Handshake)));
    s.handle_timeout(30_000);
    assert_eq!(
        drain(&mut s),
        [Ev::Error(Error::HandshakeTimeout), Ev::CloseTransport]
    );
}

#[test]
fn keepalive_pings_a_quiet_peer_and_gives_up_on_a_silent_one() {
    let mut s = open_server(Config {
        keepalive_interval: Some(15_000),
        ..Config::default()
    });
    assert_eq!(s.next_timeout(), Some((15_000, Timer::Keepalive)));
    s.handle_timeout(15_000);
    assert_eq!(frames(&s.take_output()), [(9, true, vec![])]);
    assert_eq!(s.next_timeout(), Some((30_000, Timer::Keepalive)));
    // Hearing anything resets the clock.
    s.receive(&cframe(0xA, true, b""), 20_000);
    drain(&mut s);
    assert_eq!(s.next_timeout(), Some((35_000, Timer::Keepalive)));
    s.handle_timeout(35_000);
    s.handle_timeout(50_000);
    assert_eq!(
        drain(&mut s),
        [Ev::Error(Error::KeepaliveTimeout), Ev::AbortTransport]
    );
    assert_eq!(frames(&s.take_output()).len(), 1, "one ping, then nothing");
    assert_eq!(
        open_server(Config::default()).next_timeout(),
        None,
        "off by default"
    );
}

#[test]
fn input_written_in_place_reads_as_input_passed_in() {
    let wire = [cframe(1, true, b"in place"), cframe(9, true, b"p")].concat();
    let mut s = open_server(Config::default());
    let at = s.input_buffer(wire.len());
    // SAFETY: `input_buffer` made room for `wire.len()` bytes at `at`.
    unsafe {
        std::ptr::copy_nonoverlapping(wire.as_ptr(), at, wire.len());
        s.commit_input(wire.len(), 0);
    }
    assert_eq!(
        drain(&mut s),
        feed(&mut open_server(Config::default()), &wire)
    );
}

#[test]
fn with_an_extension_a_message_written_in_place_is_encoded() {
    let mut s = open_server(Config::default());
    s.set_extension(Box::new(Invert));
    let at = s.message_buffer(2);
    // SAFETY: `message_buffer` made room for 2 bytes at `at`.
    unsafe {
        std::ptr::copy_nonoverlapping(b"hi".as_ptr(), at, 2);
        s.commit_message(MessageKind::Text, 2).unwrap();
    }
    let out = s.take_output();
    assert_eq!(out[0], 0xC1, "FIN + RSV1 + text");
    assert_eq!(&out[2..], [!b'h', !b'i']);
}

#[test]
fn input_there_is_no_memory_for_fails_only_its_connection() {
    let mut s = open_server(Config::default());
    assert!(s.input_buffer(usize::MAX).is_null());
    assert_eq!(
        drain(&mut s),
        [
            Ev::Error(Error::OutOfMemory { bytes: usize::MAX }),
            Ev::AbortTransport
        ]
    );
    assert_eq!(
        feed(&mut s, &cframe(1, true, b"x")),
        [],
        "a failed connection reads no more"
    );
    let mut c = Connection::client(
        ClientRequest::new("a.test", "/"),
        Config::default(),
        NONCE,
        [1; 32],
        0,
    )
    .unwrap();
    assert!(c.input_buffer(usize::MAX).is_null());
    assert_eq!(
        drain(&mut c),
        [
            Ev::Error(Error::OutOfMemory { bytes: usize::MAX }),
            Ev::AbortTransport
        ],
        "in the handshake too"
    );
    let mut other = open_server(Config::default());
    assert_eq!(feed(&mut other, &cframe(1, true, b"hi")), [text("hi")]);
}

#[test]
fn a_message_there_is_no_memory_for_fails_only_its_connection() {
    let mut c = open_client(Config::default());
    assert!(c.message_buffer(usize::MAX - 8).is_null());
    assert_eq!(
        drain(&mut c),
        [
            Ev::Error(Error::OutOfMemory {
                bytes: usize::MAX - 8
            }),
            Ev::AbortTransport
        ]
    );
    // SAFETY: nothing is written; the commit is refused.
    let commit = unsafe { c.commit_message(MessageKind::Binary, 0) };
    assert!(commit.is_err(), "nothing to commit");
    assert!(
        c.send_text("late").is_err(),
        "a failed connection sends no more"
    );
    let mut other = open_client(Config::default());
    other.send_text("hi").unwrap();
    assert_eq!(frames(&other.take_output()), [(1, true, b"hi".to_vec())]);
}

#[test]
fn control_commands_are_checked() {
    let mut c = open_client(Config::default());
    assert_eq!(
        c.ping(&[0; 126]),
        Err(UsageError::ControlPayloadTooLong(126))
    );
    c.ping(&[1; 125]).unwrap();
    c.pong(b"heartbeat").unwrap();
    let sent = frames(&c.take_output());
    assert_eq!(
        sent,
        [(9, true, vec![1; 125]), (0xA, true, b"heartbeat".to_vec())]
    );
}

#[test]
fn held_pongs_are_coalesced_written_later_and_bounded() {
    let mut s = open_server(Config {
        max_held_pings: 3,
        ..Config::default()
    });
    s.hold_pongs(true);
    let pings = [cframe(9, true, b"1"), cframe(9, true, b"2")].concat();
    assert_eq!(feed(&mut s, &pings).len(), 2);
    assert!(s.take_output().is_empty(), "nothing written while held");
    assert_eq!(s.pongs_held(), 2);
    s.hold_pongs(false);
    assert_eq!(s.pongs_held(), 0);
    // One pong, for the latest ping (§5.5.3).
    assert_eq!(frames(&s.take_output()), [(0xA, true, b"2".to_vec())]);
    // A peer that goes on pinging while its pongs are held is failed.
    s.hold_pongs(true);
    let flood: Vec<u8> = (0..4).flat_map(|_| cframe(9, true, b"p")).collect();
    let events = feed(&mut s, &flood);
    assert_eq!(
        events[4..],
        [
            Ev::Error(Error::PongsUnread { pings: 4 }),
            Ev::CloseTransport
        ]
    );
    assert_eq!(sent_close(&s.take_output()), Some(1008));
    // So is one whose held pong the transport cannot take in time.
    let mut s = open_server(Config::default());
    s.hold_pongs(true);
    s.receive(&cframe(9, true, b"p"), 1_000);
    assert_eq!(drain(&mut s), [Ev::Ping(b"p".to_vec())]);
    assert_eq!(s.next_timeout(), Some((6_000, Timer::HeldPong)));
    s.handle_timeout(5_999);
    assert!(drain(&mut s).is_empty());
    s.handle_timeout(6_000);
    assert_eq!(
        drain(&mut s),
        [
            Ev::Error(Error::PongsUnread { pings: 1 }),
            Ev::CloseTransport
        ]
    );
}

#[test]
fn close_reasons_do_not_reveal_limits() {
    let mut s = open_server(Config {
        max_message_size: 10,
        ..Config::default()
    });
    feed(&mut s, &cframe(2, true, &[0; 11]));
    let sent = frames(&s.take_output());
    assert_eq!(sent[0].2, close_payload(1009, "message too big"));
    let mut s = Connection::server(
        Config {
            head_limits: crate::HeadLimits {
                max_head_size: 100,
                max_headers: 64,
            },
            ..Config::default()
        },
        0,
    );
    feed(&mut s, REQUEST.as_bytes());
    let answer = String::from_utf8(s.take_output()).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 431 ") && !answer.contains("100"),
        "{answer}"
    );
}

#[test]
fn what_cannot_start_a_head_is_refused_at_once() {
    // A TLS ClientHello on a plain port, and other garbage.
    for start in [
        &b"\x16\x03\x01\x02\x00\x01"[..],
        b"GET /a b",
        b"hello world\r\n",
    ] {
        let mut s = Connection::server(Config::default(), 0);
        let events = feed(&mut s, start);
        assert!(
            matches!(
                events[0],
                Ev::Error(Error::Handshake(HandshakeError::Malformed(_)))
            ),
            "{events:?}"
        );
        let answer = s.take_output();
        assert!(answer.starts_with(b"HTTP/1.1 400 "));
    }
    // What may still become a head waits, even dripped byte by byte.
    let mut s = Connection::server(Config::default(), 0);
    for b in REQUEST.as_bytes() {
        let events = feed(&mut s, std::slice::from_ref(b));
        assert!(events.is_empty() || events == [Ev::Request], "{events:?}");
    }
    assert!(s.request().is_some());
    let mut c = client(Config::default());
    c.take_output();
    assert!(matches!(
        feed(&mut c, b"SSH-2.0-OpenSSH\r\n")[0],
        Ev::Error(Error::Handshake(HandshakeError::Malformed(_)))
    ));
}

#[test]
fn nothing_can_be_sent_after_an_abort() {
    let mut s = open_server(Config::default());
    s.abort();
    assert_eq!(drain(&mut s), [Ev::AbortTransport]);
    assert!(s.send_text("late").is_err());
    assert!(s.ping(b"").is_err());
    assert!(s.take_output().is_empty());
}

#[test]
fn close_while_connecting_abandons_the_handshake() {
    let mut c = client(Config::default());
    c.close(Some(1000), "").unwrap();
    assert_eq!(drain(&mut c), [Ev::AbortTransport]);
    assert_eq!(c.state(), ReadyState::Closing);
    c.transport_closed(0);
    assert_eq!(
        drain(&mut c),
        [
            Ev::Error(Error::Handshake(HandshakeError::ConnectionClosed)),
            Ev::Closed(1006, String::new(), false)
        ]
    );
}

#[test]
fn buffers_are_reused_once_events_are_settled() {
    let mut s = open_server(Config::default());
    let big = cframe(1, true, &[b'a'; 300_000]);
    assert_eq!(feed(&mut s, &big).len(), 1);
    s.send_text(&"b".repeat(300_000)).unwrap();
    assert_eq!(s.take_output().len(), 300_010);
    // Big messages keep coming: their buffers are reused.
    assert_eq!(feed(&mut s, &big).len(), 1);
    assert!(s.events.arena.capacity() >= 300_000, "kept while used");
    assert!(s.wants_trim(), "a quiet host would trim now");
    // A small message after them gives the memory back by itself.
    feed(&mut s, &cframe(2, true, b"x"));
    feed(&mut s, &cframe(2, true, b"y"));
    assert!(
        s.events.arena.capacity() < 300_000,
        "freed once big ones stop"
    );
    // And a host whose connection goes quiet after one trims it.
    feed(&mut s, &big);
    s.send_text(&"b".repeat(300_000)).unwrap();
    s.take_output();
    assert!(s.wants_trim());
    s.trim();
    assert!(!s.wants_trim());
    assert!(s.events.capacity() + s.out.capacity() < 1024);
    // A message half-way through survives the reuse of the buffers.
    let wire = [cframe(2, true, b"a"), cframe(2, true, b"bcdef")].concat();
    assert_eq!(feed(&mut s, &wire[..9]), [binary(b"a")]);
    assert_eq!(feed(&mut s, &wire[9..]), [binary(b"bcdef")]);
}

#[test]
fn trim_frees_what_a_quiet_connection_holds_and_keeps_the_rest() {
    let mut s = open_server(Config::default());
    feed(&mut s, &cframe(9, true, b"ping"));
    s.take_output();
    // Half of the next message is in, half still to come.
    let wire = [cframe(1, true, b"hello"), cframe(2, true, b"world")].concat();
    assert_eq!(feed(&mut s, &wire[..19]), [text("hello")]);
    s.trim();
    assert_eq!(s.out.capacity(), 0, "output buffer freed");
    assert_eq!(s.events.raw.capacity(), 0, "event records freed");
    assert_eq!(s.receiver.control_capacity(), 0, "control payload freed");
    assert!(
        s.events.arena.capacity() > 0,
        "the message in progress kept"
    );
    assert_eq!(feed(&mut s, &wire[19..]), [binary(b"world")]);
    s.trim();
    assert_eq!(s.events.arena.capacity(), 0, "an idle arena freed");
    s.send_text("still works").unwrap();
    assert_eq!(
        frames(&s.take_output()),
        [(1, true, b"still works".to_vec())]
    );
}

/// The ASCII flags of the MESSAGE and FRAGMENT events the wire gives,
/// read in two chunks cut at `cut`.
fn ascii_flags(config: Config, wire: &[u8], cut: usize) -> Vec<bool> {
    let mut s = open_server(config);
    s.receive(&wire[..cut], 0);
    s.receive(&wire[cut..], 0);
    s.events
        .raw
        .iter()
        .filter(|e| e.tag == tag::MESSAGE || e.tag == tag::FRAGMENT)
        .map(|e| e.arg & tag::ASCII != 0)
        .collect()
}

#[test]
fn text_that_is_all_ascii_is_flagged_for_the_host() {
    let first = [
        cframe(1, true, b"plain"),
        cframe(1, true, "caf\u{e9}".as_bytes()),
        cframe(1, false, b"ascii, "),
    ]
    .concat();
    let cut = first.len();
    let wire = [
        first,
        cframe(0, true, "then \u{e9}".as_bytes()),
        cframe(2, true, b"binary"),
    ]
    .concat();
    let expected = [true, false, false, false];
    assert_eq!(ascii_flags(Config::default(), &wire, cut), expected);
    let unchecked = Config {
        validate_utf8: false,
        ..Config::default()
    };
    assert_eq!(ascii_flags(unchecked, &wire, cut), expected);
    // Streamed, each piece is flagged: the piece read first is ASCII.
    let streaming = Config {
        streaming: true,
        ..Config::default()
    };
    assert_eq!(
        ascii_flags(streaming, &wire, cut),
        [true, false, true, false, false]
    );
}

#[test]
fn a_big_masked_message_handed_to_the_host_keeps_no_more_than_a_read() {
    // §5.3: a server unmasks a client's frame; with host assembly the
    // pieces leave as they come, so the engine's buffers stay at about one
    // read however big the message (its first half used to stay, which in
    // wasm grows memory that never shrinks).
    let config = Config {
        host_assembly: Some(64 * 1024),
        ..Config::default()
    };
    let mut s = open_server(config);
    let payload: Vec<u8> = (0..4 << 20).map(|i: u32| (i * 7) as u8).collect();
    let frame = cframe(2, true, &payload);
    let read = 64 * 1024;
    let mut got = Vec::new();
    for chunk in frame.chunks(read) {
        for e in feed(&mut s, chunk) {
            match e {
                Ev::MessageStart(MessageKind::Binary, len, false) => {
                    assert_eq!(len, payload.len() as u64)
                }
                Ev::Fragment(MessageKind::Binary, bytes, _) => got.extend(bytes),
                other => panic!("unexpected {other:?}"),
            }
        }
        let held = s.events.capacity();
        assert!(held <= 4 * read, "{held} bytes held after a read");
    }
    assert!(got == payload, "the message, whole and unmasked");
}
