//! Property tests through the public API: whatever one engine sends, however
//! the transport cuts the bytes, the other engine gives back exactly.

mod common;

use common::*;
use proptest::prelude::*;
use proptest::sample::Index;
use wasmsocket::{Config, Connection, MessageKind, ReadyState};

/// How one exchange is run.
#[derive(Clone, Debug)]
struct Setup {
    client_sends: bool,
    how: Chunking,
    /// Take the receiver's events after every chunk (else once at the end).
    drain_each: bool,
    /// Move the bytes after every message (else all at once at the end).
    interleave: bool,
    trace: bool,
    /// The sender's `send_buffer_size`.
    send_buffer: Option<usize>,
    /// The receiver streams, with this `receive_buffer_size`.
    streaming: Option<usize>,
    /// The receiver's `host_assembly` threshold.
    host_assembly: Option<u64>,
    /// Server sends: the messages leave right after `accept`, so the client
    /// reads them in the same bytes as the 101 answer.
    early: bool,
}

prop_compose! {
    fn setup()(
        client_sends in any::<bool>(),
        how in chunking(),
        drain_each in any::<bool>(),
        interleave in any::<bool>(),
        trace in prop::bool::weighted(0.2),
        send_buffer in prop::option::weighted(0.3, 1..2000usize),
        streaming in prop::option::weighted(0.3, 1..3000usize),
        early in prop::bool::weighted(0.3),
        host_assembly in prop::option::weighted(0.3, 0..3000u64),
    ) -> Setup {
        Setup {
            client_sends,
            how,
            drain_each,
            interleave,
            trace,
            send_buffer,
            streaming,
            early: early && !client_sends,
            host_assembly,
        }
    }
}

fn configs(s: &Setup) -> (Config, Config) {
    let mut tx = Config {
        trace_frames: s.trace,
        ..Config::default()
    };
    let mut rx = tx.clone();
    if let Some(n) = s.send_buffer {
        tx.send_buffer_size = n;
    }
    if let Some(n) = s.streaming {
        rx.streaming = true;
        rx.receive_buffer_size = n;
    }
    rx.host_assembly = s.host_assembly;
    if s.client_sends {
        (tx, rx)
    } else {
        (rx, tx)
    }
}

/// What one end sends in an exchange: whole messages and pings, or a message
/// sent piece by piece with pings between the pieces.
#[derive(Clone, Debug)]
enum Send {
    Item(Item),
    Pieces {
        kind: MessageKind,
        data: Vec<u8>,
        /// Cut positions (sorted; equal ones make empty pieces).
        cuts: Vec<usize>,
        /// Pings sent after the piece with this index.
        pings: Vec<(usize, Vec<u8>)>,
    },
}

impl Send {
    fn pieces(&self) -> Vec<&[u8]> {
        let Send::Pieces { data, cuts, .. } = self else {
            unreachable!()
        };
        let mut out = Vec::new();
        let mut at = 0;
        for &c in cuts {
            out.push(&data[at..c]);
            at = c;
        }
        out.push(&data[at..]);
        out
    }

    fn send(&self, c: &mut Connection) {
        match self {
            Send::Item(it) => it.send(c),
            Send::Pieces { kind, pings, .. } => {
                let pieces = self.pieces();
                for (i, p) in pieces.iter().enumerate() {
                    c.send_fragment(*kind, p, i + 1 == pieces.len())
                        .expect("send_fragment");
                    for (_, ping) in pings.iter().filter(|(after, _)| *after == i) {
                        c.ping(ping).expect("ping");
                    }
                }
            }
        }
    }

    /// The receiver's events for it, streamed messages reassembled.
    fn expected(&self) -> Vec<Ev> {
        match self {
            Send::Item(it) => vec![it.expected()],
            Send::Pieces {
                kind, data, pings, ..
            } => {
                let last = self.pieces().len() - 1;
                let mut out: Vec<Ev> = pings
                    .iter()
                    .filter(|(a, _)| *a < last)
                    .map(|(_, p)| Ev::Ping(p.clone()))
                    .collect();
                out.push(Ev::Message(*kind, data.clone()));
                out.extend(
                    pings
                        .iter()
                        .filter(|(a, _)| *a == last)
                        .map(|(_, p)| Ev::Ping(p.clone())),
                );
                out
            }
        }
    }

    fn pings(&self) -> Vec<Vec<u8>> {
        match self {
            Send::Item(Item::Ping(p)) => vec![p.clone()],
            Send::Item(_) => vec![],
            Send::Pieces { pings, .. } => {
                // Sent in piece order, then in list order within a piece.
                let n = self.pieces().len();
                (0..n)
                    .flat_map(|i| pings.iter().filter(move |(a, _)| *a == i))
                    .map(|(_, p)| p.clone())
                    .collect()
            }
        }
    }

    /// Checks the frames this send became on the wire; returns the rest.
    fn check_wire<'a>(
        &self,
        frames: &'a [WireFrame],
        masked: bool,
        frame_max: usize,
    ) -> &'a [WireFrame] {
        let mut frames = frames;
        let mut next = || {
            let (f, rest) = frames
                .split_first()
                .expect("a frame is missing on the wire");
            frames = rest;
            assert_eq!(f.masked, masked, "masking");
            assert_eq!(f.rsv, 0);
            f.clone()
        };
        let data_frames = |next: &mut dyn FnMut() -> WireFrame, kind: MessageKind, data: &[u8]| {
            let n = data.len().div_ceil(frame_max).max(1);
            let mut got = Vec::new();
            for i in 0..n {
                let f = next();
                let op = if i == 0 { kind as u8 } else { 0 };
                assert_eq!((f.opcode, f.fin), (op, i + 1 == n), "frame {i} of {n}");
                assert!(f.payload.len() <= frame_max);
                got.extend_from_slice(&f.payload);
            }
            assert_eq!(got, data);
        };
        match self {
            Send::Item(Item::Ping(p)) => {
                let f = next();
                assert_eq!((f.opcode, f.fin, &f.payload), (9, true, p));
            }
            Send::Item(Item::Text(s)) => data_frames(&mut next, MessageKind::Text, s.as_bytes()),
            Send::Item(Item::Binary(b)) => data_frames(&mut next, MessageKind::Binary, b),
            Send::Pieces { kind, pings, .. } => {
                let pieces = self.pieces();
                for (i, piece) in pieces.iter().enumerate() {
                    let f = next();
                    let op = if i == 0 { *kind as u8 } else { 0 };
                    assert_eq!((f.opcode, f.fin), (op, i + 1 == pieces.len()));
                    assert_eq!(&f.payload, piece);
                    for (_, ping) in pings.iter().filter(|(a, _)| *a == i) {
                        let f = next();
                        assert_eq!((f.opcode, &f.payload), (9, ping));
                    }
                }
            }
        }
        frames
    }
}

fn pieces_send(data: BoxedStrategy<Item>) -> impl Strategy<Value = Send> {
    (
        data,
        prop::collection::vec(any::<Index>(), 0..6),
        prop::collection::vec((any::<Index>(), ping_payload()), 0..3),
    )
        .prop_map(|(item, cuts, pings)| {
            let (kind, data) = match item {
                Item::Text(s) => (MessageKind::Text, s.into_bytes()),
                Item::Binary(b) => (MessageKind::Binary, b),
                Item::Ping(_) => unreachable!(),
            };
            let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(data.len() + 1)).collect();
            cuts.sort();
            // In sending order: by the piece they follow.
            let mut pings: Vec<(usize, Vec<u8>)> = pings
                .into_iter()
                .map(|(i, p)| (i.index(cuts.len() + 1), p))
                .collect();
            pings.sort_by_key(|(after, _)| *after);
            Send::Pieces {
                kind,
                data,
                cuts,
                pings,
            }
        })
}

/// Runs one exchange and checks everything the receiver and the wire show.
fn run(s: &Setup, sends: &[Send]) {
    let (ccfg, scfg) = configs(s);
    let rx_limit = s.streaming.map(|n| n.max(Config::MIN_BUFFER_SIZE));
    let frame_max = s
        .send_buffer
        .map_or(usize::MAX, |n| n.max(Config::MIN_BUFFER_SIZE));
    let mut wire = Vec::new();
    let mut rx_evs = Vec::new();

    let (mut client, mut server) = if s.early {
        let mut client = new_client(ccfg);
        let mut server = Connection::server(scfg, 0);
        assert_eq!(
            untraced(transfer(&mut client, &mut server, &s.how, false, 0)),
            [Ev::Request]
        );
        server.accept(None, None, &[]).expect("accept");
        assert_eq!(untraced(drain(&mut server)), [open()]);
        for x in sends {
            x.send(&mut server);
        }
        let bytes = server.take_output();
        let head = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        wire.extend_from_slice(&bytes[head..]);
        let evs = untraced(feed_chunked(&mut client, &bytes, &s.how, s.drain_each, 1));
        assert_eq!(evs.first(), Some(&open()), "{evs:?}");
        rx_evs.extend_from_slice(&evs[1..]);
        (client, server)
    } else {
        handshake(ccfg, scfg, &s.how)
    };
    let (tx, rx) = if s.client_sends {
        (&mut client, &mut server)
    } else {
        (&mut server, &mut client)
    };
    if !s.early {
        if s.interleave {
            for x in sends {
                x.send(tx);
                let bytes = tx.take_output();
                wire.extend_from_slice(&bytes);
                rx_evs.extend(feed_chunked(rx, &bytes, &s.how, s.drain_each, 1));
            }
        } else {
            for x in sends {
                x.send(tx);
            }
            let bytes = tx.take_output();
            wire.extend_from_slice(&bytes);
            rx_evs = feed_chunked(rx, &bytes, &s.how, s.drain_each, 1);
        }
    }

    // The wire: one frame per piece, split at the send buffer size, masked by clients only.
    let frames = wire_frames(&wire);
    let mut rest = &frames[..];
    for x in sends {
        rest = x.check_wire(rest, s.client_sends, frame_max);
    }
    assert!(rest.is_empty(), "extra frames on the wire: {rest:?}");

    // The receiver: every message and ping, in order.
    let rx_evs = untraced(rx_evs);
    let mut checker = match rx_limit {
        Some(n) => Checker::with_piece_limit(n),
        None => Checker::default(),
    };
    checker.opens = 1;
    checker.check(&rx_evs);
    if rx_limit.is_none() && s.host_assembly.is_none() {
        assert!(!rx_evs.iter().any(|e| matches!(e, Ev::Fragment(..))));
    }
    let expected: Vec<Ev> = sends.iter().flat_map(Send::expected).collect();
    let got = assemble(rx_evs);
    assert_eq!(got.len(), expected.len(), "event count");
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert!(g == e, "event {i} differs: got {g:?}, expected {e:?}");
    }

    // The pongs come back to the sender, in order.
    let pongs = untraced(transfer(rx, tx, &s.how, s.drain_each, 2));
    let pings: Vec<Ev> = sends.iter().flat_map(Send::pings).map(Ev::Pong).collect();
    assert_eq!(pongs, pings);
    assert_eq!(tx.state(), ReadyState::Open);
    assert_eq!(rx.state(), ReadyState::Open);
}

fn whole(
    data: BoxedStrategy<Item>,
    pings: bool,
    n: std::ops::Range<usize>,
) -> BoxedStrategy<Vec<Send>> {
    items(data, pings, n)
        .prop_map(|v| v.into_iter().map(Send::Item).collect())
        .boxed()
}

fn plain(mut s: Setup) -> Setup {
    s.send_buffer = None;
    s.streaming = None;
    s
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    /// Messages and pings, any sizes, default configs, both directions.
    #[test]
    fn messages_and_pings_roundtrip(s in setup().prop_map(plain), sends in whole(data_item(), true, 0..12)) {
        run(&s, &sends);
    }

    /// The sender splits messages at its send buffer size.
    #[test]
    fn send_buffer_splits_messages(
        s in setup().prop_map(|mut s| { s.streaming = None; s }),
        n in 1..2000usize,
        sends in whole(medium_item(), true, 0..8),
    ) {
        let s = Setup { send_buffer: Some(n), ..s };
        run(&s, &sends);
    }

    /// A streaming receiver hands messages over in pieces that decode on their own.
    #[test]
    fn streaming_receiver_pieces_reassemble(
        s in setup(),
        n in 1..3000usize,
        sends in whole(medium_item(), true, 0..8),
    ) {
        let s = Setup { streaming: Some(n), ..s };
        run(&s, &sends);
    }

    /// A receiver that hands big binary messages to its host to assemble
    /// (taking unmasked payload straight from the chunks when it drains
    /// events as they come) gives back the same messages.
    #[test]
    fn host_assembled_messages_roundtrip(
        s in setup().prop_map(plain),
        n in 0..1500u64,
        sends in whole(medium_item(), true, 0..8),
    ) {
        let s = Setup { host_assembly: Some(n), ..s };
        run(&s, &sends);
    }

    /// Messages sent piece by piece (text cut anywhere, even inside a
    /// character), pings between the pieces, whole messages around them.
    #[test]
    fn fragmented_sends_roundtrip(
        s in setup(),
        sends in prop::collection::vec(
            prop_oneof![3 => pieces_send(medium_item()), 1 => data_item().prop_map(Send::Item)],
            0..6,
        ),
    ) {
        run(&s, &sends);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Long messages (64-bit lengths), one or more per run.
    #[test]
    fn long_messages_roundtrip(
        s in setup(),
        sends in prop::collection::vec(
            prop_oneof![
                arb_text(65_536..70_000).prop_map(|t| Send::Item(Item::Text(t))),
                arb_bytes(65_530..70_000).prop_map(|b| Send::Item(Item::Binary(b))),
                pieces_send(arb_text(65_536..70_000).prop_map(Item::Text).boxed()),
            ],
            1..3,
        ),
    ) {
        run(&s, &sends);
    }
}

// ----- the closing handshake -----

#[derive(Clone, Debug)]
struct Closing {
    client_starts: bool,
    how: Chunking,
    drain_each: bool,
    code: u16,
    reason: String,
    /// The other end closes too before it reads the first close.
    simultaneous: Option<(u16, String)>,
    /// Messages the initiator sends before its close.
    before: Vec<Item>,
    /// Messages the other end sends before it reads the close.
    answer: Vec<Item>,
    /// Which transport_closed call comes first.
    client_closes_first: bool,
}

fn close_code() -> impl Strategy<Value = u16> {
    prop_oneof![Just(1000u16), 3000..5000u16]
}

fn reason() -> impl Strategy<Value = String> {
    arb_text(0..124)
}

fn closing() -> impl Strategy<Value = Closing> {
    (
        any::<bool>(),
        chunking(),
        any::<bool>(),
        close_code(),
        reason(),
        prop::option::of((close_code(), reason())),
        items(data_item(), true, 0..4),
        items(data_item(), false, 0..4),
        any::<bool>(),
    )
        .prop_map(
            |(
                client_starts,
                how,
                drain_each,
                code,
                reason,
                simultaneous,
                before,
                answer,
                first,
            )| Closing {
                client_starts,
                how,
                drain_each,
                code,
                reason,
                simultaneous,
                before,
                answer,
                client_closes_first: first,
            },
        )
}

fn run_closing(c: &Closing) {
    let (mut client, mut server) = handshake(Config::default(), Config::default(), &c.how);
    let mut checkers = (Checker::default(), Checker::default());
    checkers.0.opens = 1;
    checkers.1.opens = 1;
    let (init, other, ci, co) = if c.client_starts {
        (&mut client, &mut server, &mut checkers.0, &mut checkers.1)
    } else {
        (&mut server, &mut client, &mut checkers.1, &mut checkers.0)
    };
    let init_is_server = !c.client_starts;

    for it in &c.before {
        it.send(init);
    }
    init.close(Some(c.code), &c.reason).expect("close");
    assert_eq!(init.state(), ReadyState::Closing);
    assert!(
        init.send_text("late").is_err(),
        "sending after close must fail"
    );
    for it in &c.answer {
        it.send(other);
    }
    if let Some((code, reason)) = &c.simultaneous {
        other.close(Some(*code), reason).expect("close");
    }

    // The initiator's messages, then its close, reach the other end.
    let evs = untraced(transfer(init, other, &c.how, c.drain_each, 10));
    co.check(&evs);
    let mut expected: Vec<Ev> = c.before.iter().map(Item::expected).collect();
    expected.push(Ev::CloseReceived(c.code, c.reason.clone()));
    if !init_is_server {
        expected.push(Ev::CloseTransport);
    }
    assert_eq!(evs, expected, "at the end that did not start closing");

    // The answer, then the echo (or the other end's own close), come back.
    let evs = untraced(transfer(other, init, &c.how, c.drain_each, 20));
    ci.check(&evs);
    let mut expected: Vec<Ev> = c.answer.iter().map(Item::expected).collect();
    // Pongs answer the initiator's pings only if the other end had not sent its close.
    if c.simultaneous.is_none() {
        expected.extend(c.before.iter().filter_map(|i| match i {
            Item::Ping(p) => Some(Ev::Pong(p.clone())),
            _ => None,
        }));
    }
    let (echo_code, echo_reason) = match &c.simultaneous {
        Some((code, reason)) => (*code, reason.clone()),
        None => (c.code, String::new()),
    };
    expected.push(Ev::CloseReceived(echo_code, echo_reason.clone()));
    if init_is_server {
        expected.push(Ev::CloseTransport);
    }
    assert_eq!(evs, expected, "at the end that started closing");
    // Nothing more is written once both close frames crossed.
    assert!(init.take_output().is_empty());
    assert!(other.take_output().is_empty());

    // The transport closes; both ends are cleanly CLOSED.
    let first_is_init = c.client_closes_first == c.client_starts;
    let close = |conn: &mut Connection, ck: &mut Checker, code: u16, reason: &str| {
        conn.transport_closed(30);
        let evs = untraced(drain(conn));
        ck.check(&evs);
        assert_eq!(evs, [Ev::Closed(code, reason.to_owned(), true)]);
        assert_eq!(conn.state(), ReadyState::Closed);
        // Nothing happens any more.
        conn.receive(b"\x81\x00", 40);
        conn.handle_timeout(100_000);
        conn.transport_closed(50);
        assert!(conn.close(Some(1000), "").is_ok());
        assert!(drain(conn).is_empty());
    };
    if first_is_init {
        close(init, ci, echo_code, &echo_reason);
        close(other, co, c.code, &c.reason);
    } else {
        close(other, co, c.code, &c.reason);
        close(init, ci, echo_code, &echo_reason);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn closing_handshake_completes(c in closing()) {
        run_closing(&c);
    }
}

/// The brief's exact case, one byte at a time.
#[test]
fn close_bye_one_byte_at_a_time() {
    let how = Chunking::OneByte;
    let (mut client, mut server) = handshake(Config::default(), Config::default(), &how);
    client.close(Some(1000), "bye").unwrap();
    let evs = transfer(&mut client, &mut server, &how, true, 1);
    assert_eq!(
        evs,
        [Ev::CloseReceived(1000, "bye".into()), Ev::CloseTransport]
    );
    let evs = transfer(&mut server, &mut client, &how, true, 2);
    assert_eq!(evs, [Ev::CloseReceived(1000, String::new())]);
    server.transport_closed(3);
    client.transport_closed(3);
    assert_eq!(drain(&mut server), [Ev::Closed(1000, "bye".into(), true)]);
    assert_eq!(drain(&mut client), [Ev::Closed(1000, String::new(), true)]);
}

/// Every length form at its edges, both ways, whole and cut small.
#[test]
fn length_forms_at_their_edges() {
    for len in [0usize, 1, 125, 126, 127, 65_535, 65_536, 65_537] {
        for client_sends in [true, false] {
            for how in [
                Chunking::Whole,
                Chunking::Sizes(vec![1, 2, 3, 5, 7, 11, 13]),
            ] {
                let (mut client, mut server) =
                    handshake(Config::default(), Config::default(), &how);
                let (tx, rx) = if client_sends {
                    (&mut client, &mut server)
                } else {
                    (&mut server, &mut client)
                };
                let data: Vec<u8> = (0..len).map(|i| (i * 7 + i / 251) as u8).collect();
                tx.send_binary(&data).unwrap();
                let text = "é".repeat(len / 2) + if len % 2 == 1 { "x" } else { "" };
                tx.send_text(&text).unwrap();
                let bytes = tx.take_output();
                let expected_len_byte = match len {
                    0..=125 => len as u8,
                    126..=65_535 => 126,
                    _ => 127,
                };
                assert_eq!(bytes[0], 0x82);
                assert_eq!(bytes[1] & 0x7F, expected_len_byte, "length form for {len}");
                assert_eq!(bytes[1] & 0x80 != 0, client_sends, "mask bit");
                let evs = feed_chunked(rx, &bytes, &how, false, 1);
                assert_eq!(
                    evs,
                    [
                        Ev::Message(MessageKind::Binary, data),
                        Ev::Message(MessageKind::Text, text.into_bytes())
                    ],
                    "len {len}"
                );
            }
        }
    }
}
