//! Property tests: no input, however broken, and no sequence of API calls
//! makes the engine panic or break the promises of its event stream.

mod common;

use common::*;
use proptest::prelude::*;
use wasmsocket::handshake::HeadLimits;
use wasmsocket::{
    close, Config, Connection, Error, MessageKind, ProtocolError, ReadyState, UsageError,
};

// ----- inputs -----

/// Any configuration, limits included.
fn config() -> impl Strategy<Value = Config> {
    (
        (any::<bool>(), 0..2000usize, prop::option::of(0..600usize)),
        (
            prop::option::weighted(0.3, 0..3000u64),
            prop::option::weighted(0.3, 0..1000u64),
        ),
        (
            any::<bool>(),
            prop::bool::weighted(0.1),
            prop::bool::weighted(0.9),
        ),
        (
            prop::option::of(1..5000u64),
            prop::option::of(0..40_000u64),
            0..10_000u64,
        ),
        (
            prop::bool::weighted(0.2),
            prop::option::weighted(0.2, (0..400usize, 0..10usize)),
            prop::option::weighted(0.2, 0..2000u64),
        ),
    )
        .prop_map(
            |(
                (streaming, rbs, sbs),
                (max_message, max_frame),
                (auto_pong, disable_masking, validate_utf8),
                (keepalive, handshake_timeout, close_timeout),
                (trace, limits, host_assembly),
            )| {
                let mut c = Config {
                    streaming,
                    receive_buffer_size: rbs,
                    auto_pong,
                    disable_masking,
                    validate_utf8,
                    keepalive_interval: keepalive,
                    handshake_timeout,
                    close_timeout,
                    trace_frames: trace,
                    host_assembly,
                    ..Config::default()
                };
                if let Some(n) = sbs {
                    c.send_buffer_size = n;
                }
                if let Some(n) = max_message {
                    c.max_message_size = n;
                }
                if let Some(n) = max_frame {
                    c.max_frame_size = n;
                }
                if let Some((size, headers)) = limits {
                    c.head_limits = HeadLimits {
                        max_head_size: size,
                        max_headers: headers,
                    };
                }
                c
            },
        )
}

/// A checker matching what `cfg` promises.
fn checker_for(cfg: &Config) -> Checker {
    let mut ck = if cfg.streaming {
        Checker::with_piece_limit(cfg.receive_buffer_size.max(Config::MIN_BUFFER_SIZE))
    } else {
        Checker::default()
    };
    ck.skip_utf8 = !cfg.validate_utf8;
    ck
}

fn close_payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(vec![]),
        any::<u8>().prop_map(|b| vec![b]),
        (
            prop_oneof![
                Just(1000u16),
                Just(1005),
                Just(1006),
                999..1016u16,
                2999..5001u16,
                any::<u16>()
            ],
            prop_oneof![
                arb_text(0..60).prop_map(String::into_bytes),
                prop::collection::vec(any::<u8>(), 0..130)
            ],
        )
            .prop_map(|(c, r)| [&c.to_be_bytes()[..], &r].concat()),
    ]
}

/// One frame with any header bits, masked with probability `mask_p`.
fn any_frame(mask_p: f64) -> impl Strategy<Value = Vec<u8>> {
    let opcode = prop_oneof![
        4 => Just(0u8), 4 => Just(1u8), 4 => Just(2u8), 2 => Just(8u8), 2 => Just(9u8), 2 => Just(10u8),
        1 => 0..16u8,
    ];
    let payload = prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..130),
        4 => arb_text(0..200).prop_map(String::into_bytes),
        2 => close_payload(),
        1 => prop::collection::vec(any::<u8>(), 126..700),
    ];
    (
        prop::bool::weighted(0.8),
        prop_oneof![8 => Just(0u8), 1 => 0..8u8],
        opcode,
        prop::option::weighted(mask_p, any::<[u8; 4]>()),
        payload,
        prop_oneof![8 => Just(0u8), 1 => 1..3u8],
    )
        .prop_map(|(fin, rsv, op, mask, payload, form)| {
            encode_frame(fin, rsv, op, mask, &payload, form)
        })
}

/// A header announcing any length, with no payload behind it.
fn bare_header() -> impl Strategy<Value = Vec<u8>> {
    (any::<u8>(), any::<bool>(), any::<u64>(), any::<[u8; 4]>()).prop_map(|(b0, m, len, key)| {
        let mut v = vec![b0, if m { 0xFF } else { 0x7F }];
        v.extend_from_slice(&len.to_be_bytes());
        if m {
            v.extend_from_slice(&key);
        }
        v
    })
}

/// Random bytes, or frames (good and bad) mixed with random bytes.
fn frame_soup(mask_p: f64) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..600),
        3 => prop::collection::vec(
            prop_oneof![
                12 => any_frame(mask_p),
                2 => prop::collection::vec(any::<u8>(), 0..20),
                1 => bare_header(),
            ],
            0..12,
        )
        .prop_map(|v| v.concat()),
    ]
}

/// HTTP heads put together from good and bad lines.
fn head_soup(lines: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    (
        prop::collection::vec(prop::sample::select(lines), 0..12),
        prop::option::weighted(0.2, prop::collection::vec(any::<u8>(), 0..40)),
        prop_oneof![Just("\r\n"), Just("\n"), Just("")],
    )
        .prop_map(|(ls, junk, end)| {
            let mut v = Vec::new();
            for l in ls {
                v.extend_from_slice(l.as_bytes());
                v.extend_from_slice(b"\r\n");
            }
            if let Some(j) = junk {
                v.extend_from_slice(&j);
            }
            v.extend_from_slice(end.as_bytes());
            v
        })
}

const REQUEST_LINES: &[&str] = &[
    "GET / HTTP/1.1",
    "GET /chat?x=1 HTTP/1.1",
    "POST / HTTP/1.1",
    "GET / HTTP/1.0",
    "GET / HTTP/2",
    "Host: example.com",
    "Host:",
    "Upgrade: websocket",
    "Upgrade: WebSocket, h2c",
    "Upgrade: h2c",
    "Connection: Upgrade",
    "Connection: keep-alive, upgrade",
    "Connection: close",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Key: c2hvcnQ=",
    "Sec-WebSocket-Key: !!!",
    "Sec-WebSocket-Version: 13",
    "Sec-WebSocket-Version: 8",
    "Sec-WebSocket-Protocol: chat, superchat",
    "Sec-WebSocket-Protocol: a b, \"q\"",
    "Sec-WebSocket-Protocol: chat, CHAT",
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
    "Sec-WebSocket-Extensions: x; a=\"b\\\"c\", ;;",
    "Sec-WebSocket-Extensions: foo; bar=\"baz\"",
    "Origin: http://example.com",
    "X-Junk: \u{e9}t\u{e9}",
    " folded continuation",
    "no colon here",
    ": empty name",
];

fn response_lines() -> &'static [&'static str] {
    // The right accept value for `common::NONCE`, and some wrong ones.
    static LINES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    LINES.get_or_init(|| {
        let key = wasmsocket::handshake::client::key_from_nonce(NONCE);
        let accept = wasmsocket::handshake::accept_key(&key);
        let good: &'static str =
            Box::leak(format!("Sec-WebSocket-Accept: {accept}").into_boxed_str());
        vec![
            "HTTP/1.1 101 Switching Protocols",
            "HTTP/1.1 101",
            "HTTP/1.1 200 OK",
            "HTTP/1.1 302 Found",
            "HTTP/1.0 101 Switching Protocols",
            "HTTP/1.1 1010 Nope",
            "Upgrade: websocket",
            "Upgrade: websocket, h2c",
            "Upgrade: h2c",
            "Connection: Upgrade",
            "Connection: keep-alive",
            good,
            good,
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
            "Sec-WebSocket-Accept:",
            "Sec-WebSocket-Protocol: chat",
            "Sec-WebSocket-Protocol:",
            "Sec-WebSocket-Extensions: permessage-deflate",
            "Sec-WebSocket-Extensions: ;;",
            "Location: /elsewhere",
            "Content-Length: 5",
            " folded continuation",
            "no colon here",
        ]
    })
}

// ----- (a) a server fed anything -----

#[derive(Clone, Debug)]
enum Prefix {
    None,
    /// The valid request (server) or 101 answer (client).
    Valid,
    /// A head made of good and bad lines.
    Head(Vec<u8>),
}

fn feed_checked(
    c: &mut Connection,
    ck: &mut Checker,
    bytes: &[u8],
    how: &Chunking,
    now: &mut u64,
    on_request: &mut dyn FnMut(&mut Connection, &mut Checker),
) {
    for ch in chunks(bytes, how) {
        *now += 1;
        c.receive(ch, *now);
        let evs = drain(c);
        ck.check(&evs);
        if evs.contains(&Ev::Request) {
            on_request(c, ck);
        }
    }
}

/// Closes the transport and checks that `Closed` comes, once, last.
fn finish(c: &mut Connection, ck: &mut Checker, now: u64) {
    // Replies owed for events still queued are not written once closed.
    let pending = c.pending_output();
    c.transport_closed(now);
    let evs = drain(c);
    ck.check(&evs);
    assert!(ck.closed, "no Closed after transport_closed: {evs:?}");
    assert_eq!(c.state(), ReadyState::Closed);
    assert_eq!(c.next_timeout(), None, "a timer on a CLOSED connection");
    c.receive(b"\x88\x00", now + 1);
    c.handle_timeout(now + 1_000_000);
    c.transport_closed(now + 2);
    c.abort();
    assert!(drain(c).is_empty(), "events after Closed");
    assert_eq!(
        c.pending_output(),
        pending,
        "output written after the transport closed"
    );
}

/// What a server may write: an HTTP head (and, refused, a body), then well-formed unmasked frames.
fn check_server_output(out: &[u8], opened: bool) {
    if out.is_empty() {
        return;
    }
    assert!(
        out.starts_with(b"HTTP/1.1 "),
        "server output is not an HTTP answer"
    );
    if opened {
        assert!(out.starts_with(b"HTTP/1.1 101 "));
        let head = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        for f in wire_frames(&out[head..]) {
            assert!(!f.masked, "server frame masked");
            assert!(matches!(f.opcode, 0 | 1 | 2 | 8 | 9 | 10));
            if f.opcode == 8 {
                check_close_payload(&f.payload);
            }
        }
    }
}

fn check_close_payload(p: &[u8]) {
    assert_ne!(p.len(), 1);
    assert!(p.len() <= 125);
    if p.len() >= 2 {
        let code = u16::from_be_bytes([p[0], p[1]]);
        assert!(
            close::is_valid_on_wire(code),
            "close code {code} on the wire"
        );
        assert!(
            std::str::from_utf8(&p[2..]).is_ok(),
            "close reason not UTF-8"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn server_survives_any_bytes(
        cfg in config(),
        prefix in prop_oneof![
            1 => Just(Prefix::None),
            3 => Just(Prefix::Valid),
            1 => head_soup(REQUEST_LINES).prop_map(Prefix::Head),
        ],
        body in frame_soup(0.85),
        how in chunking(),
        accept in prop::bool::weighted(0.9),
        close_transport in any::<bool>(),
    ) {
        let mut server = Connection::server(cfg.clone(), 0);
        let mut ck = checker_for(&cfg);
        let input = match &prefix {
            Prefix::None => body.clone(),
            Prefix::Valid => [REQUEST.as_bytes(), &body].concat(),
            Prefix::Head(h) => [&h[..], &body].concat(),
        };
        let mut now = 0;
        let mut opened = false;
        let mut on_request = |c: &mut Connection, ck: &mut Checker| {
            assert!(c.request().is_some());
            if accept {
                c.accept(None, None, &[]).expect("accept after Request");
                opened = true;
            } else {
                c.reject(403, "no", &[]).expect("reject after Request");
            }
            let evs = drain(c);
            ck.check(&evs);
            if accept {
                assert_eq!(evs.iter().filter(|e| matches!(e, Ev::Open(..))).count(), 1);
            }
        };
        feed_checked(&mut server, &mut ck, &input, &how, &mut now, &mut on_request);
        if matches!(prefix, Prefix::Valid) && cfg.head_limits == HeadLimits::default() {
            assert_eq!(ck.requests, 1, "the valid request was not recognised");
        }
        check_server_output(&server.take_output(), opened);
        if close_transport {
            finish(&mut server, &mut ck, now + 1);
        }
    }

    // ----- (b) a client fed anything -----

    #[test]
    fn client_survives_any_bytes(
        cfg in config(),
        prefix in prop_oneof![
            1 => Just(Prefix::None),
            3 => Just(Prefix::Valid),
            2 => head_soup(response_lines()).prop_map(Prefix::Head),
        ],
        body in frame_soup(0.1),
        how in chunking(),
        close_transport in any::<bool>(),
    ) {
        let mut client = new_client(cfg.clone());
        let request = client.take_output();
        assert!(request.starts_with(b"GET / HTTP/1.1\r\n"));
        let mut ck = checker_for(&cfg);
        let input = match &prefix {
            Prefix::None => body.clone(),
            Prefix::Valid => [&RESPONSE.as_bytes().to_vec()[..], &body].concat(),
            Prefix::Head(h) => [&h[..], &body].concat(),
        };
        let mut now = 0;
        feed_checked(&mut client, &mut ck, &input, &how, &mut now, &mut |_, _| {
            panic!("a client got Event::Request")
        });
        if matches!(prefix, Prefix::Valid) && cfg.head_limits == HeadLimits::default() {
            assert_eq!(ck.opens, 1, "the valid answer was not accepted");
        }
        // A client writes only masked, well-formed frames.
        for f in wire_frames(&client.take_output()) {
            assert_eq!(f.masked, !cfg.disable_masking);
            if f.opcode == 8 {
                check_close_payload(&f.payload);
            }
        }
        if close_transport {
            finish(&mut client, &mut ck, now + 1);
        }
    }
}

// ----- (c) any sequence of API calls -----

#[derive(Clone, Debug)]
enum Op {
    SendText(String),
    SendBinary(Vec<u8>),
    Fragment(MessageKind, Vec<u8>, bool),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<u16>, String),
    CloseWithStatus(Option<u16>, String),
    Abort,
    Timeout(u64),
    TransportClosed,
    Receive(Vec<u8>),
    Accept,
    Reject(u16),
    Output(usize),
    Drain,
    SendRaw(Vec<u8>),
}

fn any_code() -> impl Strategy<Value = Option<u16>> {
    prop::option::weighted(
        0.9,
        prop_oneof![Just(1000u16), 3000..5000u16, 999..1016u16, any::<u16>()],
    )
}

fn reason_any() -> impl Strategy<Value = String> {
    prop_oneof![4 => Just(String::new()), 4 => arb_text(0..124), 1 => arb_text(100..200)]
}

fn kind() -> impl Strategy<Value = MessageKind> {
    prop_oneof![Just(MessageKind::Text), Just(MessageKind::Binary)]
}

/// A call on one connection. With `pair` (two engines talking), text
/// fragments stay UTF-8 (the peer must never see bad data from this end),
/// and calls that would corrupt the stream between the two (raw bytes,
/// input from elsewhere, output thrown away) or close one transport alone
/// are left out: the two-engine test has its own ops for those.
fn op(mask_p: f64, pair: bool) -> impl Strategy<Value = Op> {
    let fragment = if pair {
        prop_oneof![
            (arb_text(0..200), any::<bool>()).prop_map(|(t, fin)| Op::Fragment(
                MessageKind::Text,
                t.into_bytes(),
                fin
            )),
            (arb_bytes(0..200), any::<bool>()).prop_map(|(b, fin)| Op::Fragment(
                MessageKind::Binary,
                b,
                fin
            )),
        ]
        .boxed()
    } else {
        (kind(), arb_bytes(0..200), any::<bool>())
            .prop_map(|(k, b, fin)| Op::Fragment(k, b, fin))
            .boxed()
    };
    let mut ops: Vec<(u32, BoxedStrategy<Op>)> = vec![
        (6, arb_text(0..300).prop_map(Op::SendText).boxed()),
        (6, arb_bytes(0..300).prop_map(Op::SendBinary).boxed()),
        (1, arb_text(300..3000).prop_map(Op::SendText).boxed()),
        (4, fragment),
        (
            3,
            prop::collection::vec(any::<u8>(), 0..130)
                .prop_map(Op::Ping)
                .boxed(),
        ),
        (
            1,
            prop::collection::vec(any::<u8>(), 0..130)
                .prop_map(Op::Pong)
                .boxed(),
        ),
        (
            2,
            (any_code(), reason_any())
                .prop_map(|(c, r)| Op::Close(c, r))
                .boxed(),
        ),
        (
            1,
            (any_code(), reason_any())
                .prop_map(|(c, r)| Op::CloseWithStatus(c, r))
                .boxed(),
        ),
        (1, Just(Op::Abort).boxed()),
        (
            4,
            prop_oneof![0..100u64, 0..10_000u64, 0..100_000u64]
                .prop_map(Op::Timeout)
                .boxed(),
        ),
        (2, Just(Op::Accept).boxed()),
        (
            1,
            prop_oneof![Just(101u16), 300..600u16]
                .prop_map(Op::Reject)
                .boxed(),
        ),
        (6, Just(Op::Drain).boxed()),
    ];
    if !pair {
        ops.extend([
            (1, Just(Op::TransportClosed).boxed()),
            (6, frame_soup(mask_p).prop_map(Op::Receive).boxed()),
            (4, any::<usize>().prop_map(|n| Op::Output(n % 400)).boxed()),
            (1, arb_bytes(0..20).prop_map(Op::SendRaw).boxed()),
        ]);
    }
    proptest::strategy::Union::new_weighted(ops)
}

/// Applies `op` to `c`, asserting what the call itself promises. Returns
/// the message it queued, if it sent one whole (for the two-engine test).
fn apply(
    c: &mut Connection,
    op: &Op,
    now: &mut u64,
    pending: &mut Vec<u8>,
) -> Result<Option<Ev>, UsageError> {
    let r = match op {
        Op::SendText(t) => c
            .send_text(t)
            .map(|_| Some(Ev::Message(MessageKind::Text, t.clone().into_bytes()))),
        Op::SendBinary(b) => c
            .send_binary(b)
            .map(|_| Some(Ev::Message(MessageKind::Binary, b.clone()))),
        Op::Fragment(k, b, fin) => {
            c.send_fragment(*k, b, *fin)?;
            pending.extend_from_slice(b);
            if *fin {
                return Ok(Some(Ev::Message(*k, std::mem::take(pending))));
            }
            Ok(None)
        }
        Op::Ping(p) | Op::Pong(p) => {
            let r = if matches!(op, Op::Ping(_)) {
                c.ping(p)
            } else {
                c.pong(p)
            };
            if p.len() > 125 {
                assert!(r.is_err(), "control payload of {} bytes accepted", p.len());
            }
            r.map(|_| None)
        }
        Op::Close(code, reason) | Op::CloseWithStatus(code, reason) => {
            let app = matches!(op, Op::Close(..));
            let r = if app {
                c.close(*code, reason)
            } else {
                c.close_with_status(*code, reason)
            };
            let code_ok = code.is_none_or(|x| {
                if app {
                    close::is_app_code(x)
                } else {
                    close::is_valid_on_wire(x)
                }
            });
            let ok = code_ok
                && reason.len() <= close::MAX_REASON_LEN
                && (code.is_some() || reason.is_empty());
            assert_eq!(
                r.is_ok(),
                ok,
                "close({code:?}, {} bytes) gave {r:?}",
                reason.len()
            );
            r.map(|_| None)
        }
        Op::Abort => {
            c.abort();
            Ok(None)
        }
        Op::Timeout(dt) => {
            *now += dt;
            c.handle_timeout(*now);
            if let Some((d, t)) = c.next_timeout() {
                assert!(
                    d > *now,
                    "{t:?} deadline {d} already due at {now} after handle_timeout"
                );
            }
            Ok(None)
        }
        Op::TransportClosed => {
            c.transport_closed(*now);
            Ok(None)
        }
        Op::Receive(b) => {
            *now += 1;
            c.receive(b, *now);
            Ok(None)
        }
        Op::Accept => c.accept(None, None, &[]).map(|_| None),
        Op::Reject(s) => c.reject(*s, "refused", &[]).map(|_| None),
        Op::Output(n) => {
            let have = c.output().len();
            assert_eq!(have, c.pending_output());
            c.consume_output(*n);
            assert_eq!(c.pending_output(), have.saturating_sub(*n));
            Ok(None)
        }
        Op::Drain => Ok(None),
        Op::SendRaw(b) => c.send_raw(b).map(|_| None),
    };
    r
}

#[derive(Clone, Copy, Debug)]
enum Start {
    FreshServer,
    FreshClient,
    OpenServer,
    OpenClient,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// One connection, any calls, any input.
    #[test]
    fn any_api_sequence_keeps_the_event_rules(
        cfg in config(),
        start in prop_oneof![Just(Start::FreshServer), Just(Start::FreshClient), Just(Start::OpenServer), Just(Start::OpenClient)],
        ops in prop::collection::vec(op(0.7, false), 0..40),
    ) {
        let mut c = match start {
            Start::FreshServer => Connection::server(cfg.clone(), 0),
            Start::FreshClient => new_client(cfg.clone()),
            Start::OpenServer | Start::OpenClient => {
                let cfg = Config { head_limits: HeadLimits::default(), ..cfg.clone() };
                let peer = Config { disable_masking: cfg.disable_masking, ..Config::default() };
                let (client, server) = if matches!(start, Start::OpenServer) {
                    handshake(peer, cfg.clone(), &Chunking::Whole)
                } else {
                    handshake(cfg.clone(), peer, &Chunking::Whole)
                };
                if matches!(start, Start::OpenServer) { server } else { client }
            }
        };
        let mut ck = checker_for(&cfg);
        if matches!(start, Start::OpenServer | Start::OpenClient) {
            ck.opens = 1;
            if c.role() == wasmsocket::Role::Server {
                ck.requests = 1;
            }
        }
        let mut now = 0;
        let mut pending = Vec::new();
        for op in &ops {
            let _ = apply(&mut c, op, &mut now, &mut pending);
            if matches!(op, Op::Drain | Op::TransportClosed) {
                ck.check(&drain(&mut c));
            }
            if ck.closed {
                assert_eq!(c.state(), ReadyState::Closed);
            }
        }
        ck.check(&drain(&mut c));
        finish(&mut c, &mut ck, now + 1);
    }
}

// ----- two engines talking, with random calls on both -----

#[derive(Clone, Debug)]
enum PairOp {
    /// A call on the client (true) or the server (false).
    Call(bool, Op),
    /// Moves up to n bytes of one end's output to the other (all if None).
    Deliver(bool, Option<usize>),
    /// Garbage into one end's input.
    Garbage(bool, Vec<u8>),
    /// The transport closes under both ends.
    TransportClosed,
}

fn pair_op() -> impl Strategy<Value = PairOp> {
    let call = op(0.5, true);
    prop_oneof![
        10 => (any::<bool>(), call).prop_map(|(s, o)| PairOp::Call(s, o)),
        10 => (any::<bool>(), prop::option::of(0..300usize)).prop_map(|(s, n)| PairOp::Deliver(s, n)),
        1 => (any::<bool>(), frame_soup(0.5)).prop_map(|(s, b)| PairOp::Garbage(s, b)),
        1 => Just(PairOp::TransportClosed),
    ]
}

/// Whole messages out of an event stream; a streamed message still open is left out.
fn messages(evs: &[Ev]) -> Vec<Ev> {
    let mut out = Vec::new();
    let mut cur: Option<(MessageKind, Vec<u8>)> = None;
    for e in evs {
        match e {
            Ev::Message(..) => out.push(e.clone()),
            Ev::Fragment(k, d, fin) => {
                cur.get_or_insert_with(|| (*k, Vec::new()))
                    .1
                    .extend_from_slice(d);
                if *fin {
                    let (k, d) = cur.take().unwrap();
                    out.push(Ev::Message(k, d));
                }
            }
            _ => {}
        }
    }
    out
}

/// One end of the pair: its connection, checker, events, the messages it
/// sent, and whether garbage went into its input.
struct End {
    c: Connection,
    ck: Checker,
    evs: Vec<Ev>,
    sent: Vec<Ev>,
    pending: Vec<u8>,
    garbage: bool,
    /// Server: accept the opening request as soon as it is seen.
    auto_accept: bool,
}

impl End {
    fn new(c: Connection, cfg: &Config) -> End {
        End {
            c,
            ck: checker_for(cfg),
            evs: vec![],
            sent: vec![],
            pending: vec![],
            garbage: false,
            auto_accept: false,
        }
    }
}

/// The end `from` and the other one.
fn pair(ends: &mut [End; 2], from: usize) -> (&mut End, &mut End) {
    let [x, y] = ends;
    if from == 0 {
        (x, y)
    } else {
        (y, x)
    }
}

impl End {
    fn drain(&mut self) {
        let evs = drain(&mut self.c);
        self.ck.check(&evs);
        if let Some(Ev::Error(e)) = evs.iter().find(|e| matches!(e, Ev::Error(_))) {
            if !self.garbage {
                assert!(
                    !matches!(e, Error::Protocol(_)),
                    "protocol error from a correct peer: {e:?}"
                );
            }
        }
        let request = evs.contains(&Ev::Request);
        self.evs.extend(evs);
        if request && self.auto_accept {
            self.c
                .accept(None, None, &[])
                .expect("accept after Request");
            self.drain();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// A client and a server: whatever they are told to do, each end's
    /// messages reach the other intact and in order, and neither end ever
    /// sees a protocol error unless garbage was put in its input.
    #[test]
    fn two_engines_never_break_the_protocol(
        ccfg in config(),
        scfg in config(),
        masking_off in prop::bool::weighted(0.1),
        auto_accept in prop::bool::weighted(0.8),
        start_open in prop::bool::weighted(0.5),
        ops in prop::collection::vec(pair_op(), 0..60),
    ) {
        // Limits that a correct peer may exceed are out of this test.
        let fix = |c: Config| Config {
            max_message_size: Config::default().max_message_size,
            max_frame_size: u64::MAX,
            head_limits: HeadLimits::default(),
            disable_masking: masking_off,
            ..c
        };
        let (ccfg, scfg) = (fix(ccfg), fix(scfg));
        let mut ends = [
            End::new(new_client(ccfg.clone()), &ccfg),
            End::new(Connection::server(scfg.clone(), 0), &scfg),
        ];
        ends[1].auto_accept = auto_accept;
        let mut now = 0u64;
        let handshake = [PairOp::Deliver(true, None), PairOp::Call(false, Op::Accept), PairOp::Deliver(false, None)];
        let ops = if start_open { [&handshake[..], &ops].concat() } else { ops };
        for op in &ops {
            match op {
                PairOp::Call(client, op) => {
                    let e = &mut ends[if *client { 0 } else { 1 }];
                    if let Ok(Some(m)) = apply(&mut e.c, op, &mut now, &mut e.pending) {
                        e.sent.push(m);
                    }
                    e.drain();
                }
                PairOp::Deliver(from_client, n) => {
                    let (from, to) = pair(&mut ends, if *from_client { 0 } else { 1 });
                    let out = from.c.output();
                    let n = n.unwrap_or(out.len()).min(out.len());
                    let bytes = out[..n].to_vec();
                    from.c.consume_output(n);
                    now += 1;
                    to.c.receive(&bytes, now);
                    from.drain();
                    to.drain();
                }
                PairOp::Garbage(client, bytes) => {
                    let e = &mut ends[if *client { 0 } else { 1 }];
                    e.garbage = true;
                    now += 1;
                    e.c.receive(bytes, now);
                    e.drain();
                }
                PairOp::TransportClosed => {
                    now += 1;
                    for e in ends.iter_mut() {
                        e.c.transport_closed(now);
                        e.drain();
                        assert!(e.ck.closed);
                    }
                }
            }
        }
        // Everything still owed is delivered, then the transport closes.
        for _ in 0..3 {
            for from in [0, 1] {
                let (f, t) = pair(&mut ends, from);
                let bytes = f.c.take_output();
                now += 1;
                t.c.receive(&bytes, now);
                f.drain();
                t.drain();
            }
        }
        for e in ends.iter_mut() {
            finish(&mut e.c, &mut e.ck, now + 1);
        }
        for (rx, tx) in [(0, 1), (1, 0)] {
            if ends[rx].garbage {
                continue;
            }
            let got = messages(&ends[rx].evs);
            let sent = &ends[tx].sent;
            assert!(got.len() <= sent.len(), "end {rx} got more messages than were sent");
            for (i, (g, s)) in got.iter().zip(sent).enumerate() {
                assert!(g == s, "end {rx}, message {i}: got {g:?}, sent {s:?}");
            }
        }
    }
}

/// The server answers a broken request with an HTTP error, not a panic.
#[test]
fn broken_requests_get_http_answers() {
    for (head, status) in [
        (&b"POST / HTTP/1.1\r\nHost: x\r\n\r\n"[..], "405"),
        (b"\x16\x03\x01\x02\x00\r\n\r\n", "400"),
        (b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n", "426"),
    ] {
        let mut s = Connection::server(Config::default(), 0);
        s.receive(head, 1);
        let evs = drain(&mut s);
        assert!(matches!(evs[..], [
                    Ev::Error(Error::Handshake(_)),
                    // The refusal must be written before the transport closes.
                    Ev::CloseTransport
                ]), "{evs:?}");
        let out = s.take_output();
        assert!(out.starts_with(format!("HTTP/1.1 {status} ").as_bytes()), "{}", String::from_utf8_lossy(&out));
    }
}

/// After a protocol error the engine sends its close frame, closes the
/// transport at once (RFC 6455 §7.1.7) and reads nothing more.
#[test]
fn protocol_error_closes_at_once_and_reads_nothing_more() {
    let (mut client, mut server) =
        handshake(Config::default(), Config::default(), &Chunking::Whole);
    // An unmasked frame to the server.
    server.receive(&encode_frame(true, 0, 1, None, b"hi", 0), 1);
    let evs = drain(&mut server);
    assert!(
        matches!(
            evs[..],
            [
                Ev::Error(Error::Protocol(ProtocolError::UnmaskedFrame)),
                // The close frame must be written before the transport closes.
                Ev::CloseTransport
            ]
        ),
        "{evs:?}"
    );
    let frames = wire_frames(&server.take_output());
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].opcode, 8);
    assert_eq!(&frames[0].payload[..2], &1002u16.to_be_bytes());
    // Pings and even the client's close are not read any more.
    server.receive(&encode_frame(true, 0, 9, Some([1, 2, 3, 4]), b"p", 0), 2);
    assert!(drain(&mut server).is_empty());
    client.receive(&wire_frames_bytes(&frames), 3);
    let evs = drain(&mut client);
    assert!(matches!(evs[..], [Ev::CloseReceived(1002, _)]), "{evs:?}");
    server.receive(&client.take_output(), 4);
    assert!(drain(&mut server).is_empty());
    assert!(server.take_output().is_empty());
    server.transport_closed(5);
    assert_eq!(drain(&mut server), [Ev::Closed(1006, String::new(), false)]);
}

fn wire_frames_bytes(frames: &[WireFrame]) -> Vec<u8> {
    frames
        .iter()
        .flat_map(|f| encode_frame(f.fin, f.rsv, f.opcode, None, &f.payload, 0))
        .collect()
}

// ----- regressions: engine bugs these tests found (fixed in 0a7471f) -----

/// A head of blank lines only (`find_head_end` finds it complete, `httparse`
/// skips leading blank lines and says `Partial`) reached an `unreachable!`
/// (server) or `expect` (client) in `Connection::read_head`.
#[test]
fn a_head_of_blank_lines_does_not_panic() {
    for head in [&b"\r\n\r\n"[..], b"\n\n", b"\r\n\n", b"\n\r\n"] {
        let mut server = Connection::server(Config::default(), 0);
        let mut ck = Checker::default();
        server.receive(head, 1);
        ck.check(&drain(&mut server));
        finish(&mut server, &mut ck, 2);

        let mut client = new_client(Config::default());
        client.take_output();
        let mut ck = Checker::default();
        client.receive(head, 1);
        ck.check(&drain(&mut client));
        finish(&mut client, &mut ck, 2);
    }
}

/// A reply owed for an event still queued when the transport closed (the
/// close frame answering an `Error` or a `CloseReceived`) was written when the
/// event was taken after `Closed`: with tracing on that gives an `Event::Frame`
/// after `Closed`, and it arms a Close deadline on a CLOSED connection that
/// `handle_timeout` never clears (it returns early once closed), so a host
/// that runs `handle_timeout` whenever `next_timeout` is due spins forever.
#[test]
fn nothing_is_owed_once_the_transport_closed() {
    let traced = Config {
        trace_frames: true,
        ..Config::default()
    };
    // A server whose peer broke the protocol.
    let (_client, mut server) = handshake(Config::default(), traced.clone(), &Chunking::Whole);
    server.receive(&encode_frame(true, 0, 1, None, b"", 0), 1); // unmasked
    server.transport_closed(2);
    let mut ck = Checker {
        requests: 1,
        opens: 1,
        ..Checker::default()
    };
    ck.check(&drain(&mut server));
    server.handle_timeout(1_000_000);
    assert_eq!(server.next_timeout(), None, "a timer on a CLOSED server");
    assert_eq!(
        server.pending_output(),
        0,
        "a close frame written after CLOSED"
    );

    // A client whose server closed, the transport ending in the same turn.
    let (mut client, mut server) = handshake(traced, Config::default(), &Chunking::Whole);
    server.close(Some(1000), "").unwrap();
    client.receive(&server.take_output(), 1);
    client.transport_closed(2);
    let mut ck = Checker {
        opens: 1,
        ..Checker::default()
    };
    ck.check(&drain(&mut client));
    client.handle_timeout(1_000_000);
    assert_eq!(client.next_timeout(), None, "a timer on a CLOSED client");
    assert_eq!(
        client.pending_output(),
        0,
        "a close frame written after CLOSED"
    );
}

/// After a protocol error the receiver goes on reading for the peer's close
/// frame; the rest of the read that carried the error used to be dropped, so
/// a close frame in the same read was lost (and a frame that failed in its
/// header had its payload skipped from the *next* read, misaligning it; see
/// `protocol_error_then_only_close_matters`).
#[test]
fn a_close_in_the_same_read_as_a_protocol_error_is_still_seen() {
    let (_client, mut server) = handshake(Config::default(), Config::default(), &Chunking::Whole);
    let key = Some([1, 2, 3, 4]);
    let mut bytes = encode_frame(true, 0, 1, key, b"ok\xFF", 0); // bad UTF-8
    bytes.extend(encode_frame(true, 0, 8, key, &1000u16.to_be_bytes(), 0));
    server.receive(&bytes, 1);
    let evs = drain(&mut server);
    assert_eq!(
        evs,
        [
            Ev::Error(Error::Protocol(ProtocolError::InvalidUtf8)),
            Ev::CloseTransport
        ]
    );
}
