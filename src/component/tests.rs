//! The component's rules, each checked on handles driven the canonical way:
//! two handles in memory, the test carrying the bytes between them.

use super::*;
use crate::event::MessageKind;
use crate::handshake::client::ClientRequest;
use crate::handshake::Header;

const ENTROPY: Entropy = {
    let mut e = [0u8; 48];
    let mut i = 0;
    while i < 48 {
        e[i] = (i as u8).wrapping_mul(37).wrapping_add(11);
        i += 1;
    }
    e
};

fn h(name: &str, value: &str) -> Header {
    (name.to_owned(), value.to_owned())
}

fn host() -> Vec<Header> {
    vec![h("Host", "example.com")]
}

/// What one handle saw while the loop ran.
#[derive(Default, Debug)]
struct Seen {
    /// (type, data, close status, application context) per indication.
    received: Vec<(BufferType, Vec<u8>, Option<u16>, usize)>,
    sent: Vec<usize>,
    errors: Vec<HResult>,
    /// Bytes handed out by `SendToNetwork` with no application context.
    internal: Vec<u8>,
}

/// A handle in the canonical loop, reading from `inbox`.
struct Peer {
    handle: Handle,
    inbox: Vec<u8>,
    /// A `ReceiveFromNetwork` waiting for bytes, and how much one read takes.
    reading: Option<usize>,
    read_size: usize,
    seen: Seen,
    /// Most bytes the handle had waiting to go out at once.
    most_internal: usize,
}

impl Peer {
    fn new(handle: Handle) -> Peer {
        Peer {
            handle,
            inbox: Vec::new(),
            reading: None,
            read_size: usize::MAX,
            seen: Seen::default(),
            most_internal: 0,
        }
    }

    /// Runs the loop until the handle has nothing to do; what it sends is
    /// appended to `wire`. Returns whether anything happened.
    fn step(&mut self, wire: &mut Vec<u8>) -> bool {
        let mut moved = false;
        loop {
            if let Some(ctx) = self.reading.filter(|_| !self.inbox.is_empty()) {
                let buf = self.handle.action_buffer(ctx);
                let n = buf.len().min(self.inbox.len()).min(self.read_size);
                buf[..n].copy_from_slice(&self.inbox[..n]);
                self.inbox.drain(..n);
                self.handle.complete_action(ctx, n);
                self.reading = None;
            }
            let queue = match self.reading {
                Some(_) => ActionQueue::Send,
                None => ActionQueue::All,
            };
            let a = match self.handle.get_action(queue) {
                Ok(a) => a,
                Err(e) => {
                    self.seen.errors.push(e);
                    moved = true;
                    continue;
                }
            };
            let ctx = a.action_context;
            match a.action {
                Action::NoAction => {
                    self.handle.complete_action(ctx, 0);
                    return moved;
                }
                Action::SendToNetwork => {
                    let data = self.handle.action_data(ctx).to_vec();
                    assert_eq!(data.len(), a.buffer_len);
                    if a.application_context == 0 {
                        self.most_internal = self.most_internal.max(data.len());
                        self.seen.internal.extend_from_slice(&data);
                    }
                    wire.extend_from_slice(&data);
                    self.handle.complete_action(ctx, data.len());
                }
                Action::IndicateSendComplete => {
                    self.seen.sent.push(a.application_context);
                    self.handle.complete_action(ctx, 0);
                }
                Action::ReceiveFromNetwork => {
                    assert_eq!(a.buffer_count, 1);
                    self.reading = Some(ctx);
                }
                Action::IndicateReceiveComplete => {
                    let data = self.handle.action_data(ctx).to_vec();
                    let t = a.buffer_type.unwrap_or(BufferType::BinaryFragment);
                    let entry = (t, data, a.close_status, a.application_context);
                    if a.buffer_count == 1 {
                        self.seen.received.push(entry);
                    } else {
                        self.seen
                            .received
                            .push((t, b"<none>".to_vec(), None, entry.3));
                    }
                    self.handle.complete_action(ctx, 0);
                }
            }
            moved = true;
        }
    }
}

/// Runs both loops until neither moves a byte.
fn exchange(a: &mut Peer, b: &mut Peer) {
    for _ in 0..10_000 {
        let mut to_b = Vec::new();
        let mut to_a = Vec::new();
        let moved = a.step(&mut to_b) | b.step(&mut to_a);
        b.inbox.extend_from_slice(&to_b);
        a.inbox.extend_from_slice(&to_a);
        if !moved && to_a.is_empty() && to_b.is_empty() {
            return;
        }
    }
    panic!("the loops never settled");
}

/// A client and a server handle with the handshake done.
fn pair_with(client: Vec<Property>, server: Vec<Property>) -> (Peer, Peer) {
    let mut c = Handle::create_client(client, ENTROPY).unwrap();
    let mut s = Handle::create_server(server).unwrap();
    let mut request = host();
    request.extend(c.begin_client_handshake(&["chat"], &[], &host()).unwrap());
    let response = s
        .begin_server_handshake(Some("chat"), &[], &request)
        .unwrap();
    let chosen = c.end_client_handshake(&response).unwrap();
    assert_eq!(chosen.subprotocol, Some(0));
    (Peer::new(c), Peer::new(s))
}

fn pair() -> (Peer, Peer) {
    pair_with(vec![], vec![])
}

fn data(bytes: &[u8]) -> Payload {
    Payload::Data(bytes.to_vec())
}

/// Pieces received, joined, with the type of the last.
fn joined(seen: &Seen) -> (Vec<u8>, Option<BufferType>) {
    let bytes = seen.received.iter().flat_map(|r| r.1.clone()).collect();
    (bytes, seen.received.last().map(|r| r.0))
}

#[test]
fn properties_have_the_documented_defaults_and_limits() {
    let c = Handle::create_client(vec![], ENTROPY).unwrap();
    assert_eq!(
        (c.receive_buffer_size(), c.send_buffer_size()),
        (4096, 4096)
    );
    let s = Handle::create_server(vec![]).unwrap();
    assert_eq!((s.receive_buffer_size(), s.send_buffer_size()), (4096, 16));
    let refused = [
        Property::ReceiveBufferSize(255),
        Property::SendBufferSize(255),
        Property::KeepaliveInterval(30_000),
        Property::SupportedVersions(vec![13]),
        Property::AllocatedBuffer(vec![0; 4096 + 4096 + 256]),
    ];
    for p in refused {
        let got = Handle::create_client(vec![p.clone()], ENTROPY).err();
        assert_eq!(got, Some(HResult::InvalidArg), "{p:?}");
    }
    assert!(Handle::create_client(vec![Property::ReceiveBufferSize(256)], ENTROPY).is_ok());
    // A server's documented default is below the documented minimum.
    assert!(Handle::create_server(vec![Property::SendBufferSize(16)]).is_ok());
    let small = Handle::create_server(vec![Property::SendBufferSize(15)]);
    assert_eq!(small.err(), Some(HResult::InvalidArg));
    let allocated = Property::AllocatedBuffer(vec![0; 256 + 256 + 257]);
    let sized = vec![
        Property::ReceiveBufferSize(256),
        Property::SendBufferSize(256),
        allocated,
    ];
    assert!(Handle::create_client(sized, ENTROPY).is_ok());
}

#[test]
fn global_properties_are_the_keepalive_interval_and_the_versions() {
    assert_eq!(
        get_global_property(PropertyType::KeepaliveInterval),
        Ok(GlobalProperty::KeepaliveInterval(30_000))
    );
    assert_eq!(
        get_global_property(PropertyType::SupportedVersions),
        Ok(GlobalProperty::SupportedVersions(vec![13]))
    );
    let handle_only = get_global_property(PropertyType::ReceiveBufferSize);
    assert_eq!(handle_only, Err(HResult::InvalidArg));
    assert_eq!(
        PropertyType::from_u32(6),
        Some(PropertyType::SupportedVersions)
    );
    assert_eq!(PropertyType::from_u32(7), None);
    assert_eq!(
        BufferType::from_u32(0x8000_0006),
        Some(BufferType::UnsolicitedPong)
    );
    assert_eq!(HResult::InvalidOperation.code(), 0x803D_0003_u32 as i32);
}

#[test]
fn a_client_adds_the_handshake_fields_to_headers_that_name_the_host() {
    let mut c = Handle::create_client(vec![], ENTROPY).unwrap();
    let no_host = c.begin_client_handshake(&[], &[], &[h("Origin", "x")]);
    assert_eq!(no_host, Err(HResult::InvalidArg));
    let bad_field = c.begin_client_handshake(&[], &[], &[h("Host", "a"), h("Bad Name", "x")]);
    assert_eq!(bad_field, Err(HResult::InvalidFormat));
    let bad_protocol = c.begin_client_handshake(&["a b"], &[], &host());
    assert_eq!(bad_protocol, Err(HResult::InvalidFormat));
    let two_in_one = c.begin_client_handshake(&[], &["a, b"], &host());
    assert_eq!(two_in_one, Err(HResult::InvalidFormat));

    let added = c
        .begin_client_handshake(&["chat", "v2"], &["x-one; p=1", "x-two"], &host())
        .unwrap();
    let key = crate::handshake::client::key_from_nonce(ENTROPY[..16].try_into().unwrap());
    let expected = [
        h("Upgrade", "websocket"),
        h("Connection", "Upgrade"),
        h("Sec-WebSocket-Key", &key),
        h("Sec-WebSocket-Version", "13"),
        h("Sec-WebSocket-Protocol", "chat, v2"),
        h("Sec-WebSocket-Extensions", "x-one; p=1, x-two"),
    ];
    assert_eq!(added, expected);
    let again = c.begin_client_handshake(&[], &[], &host());
    assert_eq!(again, Err(HResult::InvalidOperation));
    let mut s = Handle::create_server(vec![]).unwrap();
    let wrong_role = s.begin_client_handshake(&[], &[], &host());
    assert_eq!(wrong_role, Err(HResult::InvalidOperation));
}

/// A client that offered `protocols` and `extensions`, and the response a
/// server gives it choosing `protocol` and `accepted`.
fn respond(
    protocols: &[&str],
    extensions: &[&str],
    protocol: Option<&str>,
    accepted: Option<&str>,
) -> (Handle, Vec<Header>) {
    let mut c = Handle::create_client(vec![], ENTROPY).unwrap();
    let added = c
        .begin_client_handshake(protocols, extensions, &host())
        .unwrap();
    let key = &added.iter().find(|f| f.0 == "Sec-WebSocket-Key").unwrap().1;
    let mut response = vec![
        h("Upgrade", "websocket"),
        h("Connection", "Upgrade"),
        h("Sec-WebSocket-Accept", &crate::handshake::accept_key(key)),
    ];
    response.extend(protocol.map(|p| h("Sec-WebSocket-Protocol", p)));
    response.extend(accepted.map(|e| h("Sec-WebSocket-Extensions", e)));
    (c, response)
}

#[test]
fn the_end_of_a_client_handshake_gives_indices_into_the_offers() {
    let (mut c, response) = respond(
        &["a", "b"],
        &["x-one", "x-two; q"],
        Some("b"),
        Some("x-two"),
    );
    let chosen = c.end_client_handshake(&response).unwrap();
    assert_eq!(chosen.subprotocol, Some(1));
    assert_eq!(chosen.extensions, vec![1]);
    assert_eq!(
        c.end_client_handshake(&response),
        Err(HResult::InvalidOperation)
    );

    let (mut c, response) = respond(&[], &[], None, None);
    assert_eq!(c.end_client_handshake(&response), Ok(Selected::default()));
}

#[test]
fn a_client_refuses_a_response_that_does_not_match_its_offer() {
    let cases = [
        (Some("z"), None, HResult::SubprotocolNotSupported),
        (None, None, HResult::SubprotocolNotSupported),
        (
            Some("a"),
            Some("x-other"),
            HResult::ProtocolExtensionsNotSupported,
        ),
    ];
    for (protocol, accepted, expected) in cases {
        let (mut c, response) = respond(&["a"], &["x-one"], protocol, accepted);
        assert_eq!(c.end_client_handshake(&response), Err(expected));
        // A failed handshake leaves the handle good only for deleting.
        assert_eq!(
            c.send(BufferType::PingPong, Payload::None, 1),
            Err(HResult::InvalidOperation)
        );
    }
    let (mut c, mut response) = respond(&[], &[], None, None);
    response[2].1 = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".into();
    assert_eq!(
        c.end_client_handshake(&response),
        Err(HResult::InvalidProtocolFormat)
    );
}

fn request(extra: &[Header]) -> Vec<Header> {
    let mut r = vec![
        h("Host", "example.com"),
        h("Upgrade", "websocket"),
        h("Connection", "Upgrade"),
        h("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        h("Sec-WebSocket-Version", "13"),
    ];
    r.extend_from_slice(extra);
    r
}

#[test]
fn a_server_answers_a_request_with_the_fields_of_a_101() {
    let mut s = Handle::create_server(vec![]).unwrap();
    let offers = [
        h("Sec-WebSocket-Protocol", "chat, v2"),
        h("Sec-WebSocket-Extensions", "x-one; p, x-two"),
    ];
    let answer = s
        .begin_server_handshake(Some("v2"), &["x-two"], &request(&offers))
        .unwrap();
    // RFC 6455 §1.3's example key and accept value.
    let expected = [
        h("Upgrade", "websocket"),
        h("Connection", "Upgrade"),
        h("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        h("Sec-WebSocket-Protocol", "v2"),
        h("Sec-WebSocket-Extensions", "x-two"),
    ];
    assert_eq!(answer, expected);
    // Ending the handshake is optional, and allowed once it has begun.
    assert_eq!(s.end_server_handshake(), Ok(()));
    let mut fresh = Handle::create_server(vec![]).unwrap();
    assert_eq!(fresh.end_server_handshake(), Err(HResult::InvalidOperation));
}

#[test]
fn a_server_refuses_requests_and_selections_that_do_not_fit() {
    let offers = [h("Sec-WebSocket-Protocol", "chat")];
    type Case<'a> = (Vec<Header>, Option<&'a str>, &'a [&'a str], HResult);
    let cases: [Case; 5] = [
        (
            request(&[])[..3].to_vec(),
            None,
            &[],
            HResult::InvalidProtocolFormat,
        ),
        (
            request(&[])
                .into_iter()
                .map(|f| match f.0.as_str() {
                    "Sec-WebSocket-Version" => h("Sec-WebSocket-Version", "8"),
                    _ => f,
                })
                .collect(),
            None,
            &[],
            HResult::ProtocolVersionNotSupported,
        ),
        (
            request(&offers),
            Some("other"),
            &[],
            HResult::SubprotocolNotSupported,
        ),
        (
            request(&offers),
            None,
            &["x-one"],
            HResult::ProtocolExtensionsNotSupported,
        ),
        (request(&offers), None, &["bad ext"], HResult::InvalidFormat),
    ];
    for (headers, protocol, extensions, expected) in cases {
        let mut s = Handle::create_server(vec![]).unwrap();
        let got = s.begin_server_handshake(protocol, extensions, &headers);
        assert_eq!(got, Err(expected), "{headers:?}");
    }
}

#[test]
fn nothing_is_sent_or_received_before_the_handshake() {
    let mut c = Handle::create_client(vec![], ENTROPY).unwrap();
    assert_eq!(
        c.send(BufferType::BinaryMessage, data(b"x"), 1),
        Err(HResult::InvalidOperation)
    );
    assert_eq!(c.receive(None, 1), Err(HResult::InvalidOperation));
    assert_eq!(
        c.get_action(ActionQueue::All),
        Err(HResult::InvalidOperation)
    );
    c.begin_client_handshake(&[], &[], &host()).unwrap();
    assert_eq!(c.receive(None, 1), Err(HResult::InvalidOperation));
    // Aborting before the handshake has completed does nothing.
    c.abort();
    let mut s = Handle::create_server(vec![]).unwrap();
    let response = s.begin_server_handshake(None, &[], &request(&[])).unwrap();
    let key = crate::handshake::client::key_from_nonce(ENTROPY[..16].try_into().unwrap());
    let response: Vec<Header> = response
        .into_iter()
        .map(|f| match f.0.as_str() {
            "Sec-WebSocket-Accept" => h(&f.0, &crate::handshake::accept_key(&key)),
            _ => f,
        })
        .collect();
    c.end_client_handshake(&response).unwrap();
    assert_eq!(c.send(BufferType::BinaryMessage, data(b"x"), 1), Ok(()));
}

#[test]
fn messages_cross_whole_and_are_indicated_with_their_contexts() {
    let (mut c, mut s) = pair();
    c.handle
        .send(BufferType::Utf8Message, data("héllo".as_bytes()), 7)
        .unwrap();
    s.handle.receive(None, 9).unwrap();
    exchange(&mut c, &mut s);
    assert_eq!(c.seen.sent, vec![7]);
    let expected = (
        BufferType::Utf8Message,
        "héllo".as_bytes().to_vec(),
        None,
        9,
    );
    assert_eq!(s.seen.received, vec![expected]);

    s.handle
        .send(BufferType::BinaryMessage, data(b""), 3)
        .unwrap();
    c.handle.receive(None, 4).unwrap();
    exchange(&mut c, &mut s);
    // An empty message still has its (empty) buffer.
    assert_eq!(
        c.seen.received,
        vec![(BufferType::BinaryMessage, vec![], None, 4)]
    );
}

/// Receives until a piece ends a message (or `limit` pieces).
fn receive_message(to: &mut Peer, from: &mut Peer, max: Option<usize>) {
    for i in 0..10_000 {
        to.handle.receive(max, 100 + i).unwrap();
        exchange(from, to);
        let last = to.seen.received.last().map(|r| r.0);
        if matches!(
            last,
            Some(BufferType::Utf8Message | BufferType::BinaryMessage)
        ) {
            return;
        }
    }
    panic!("the message never ended");
}

#[test]
fn a_message_bigger_than_the_receive_buffer_comes_in_pieces() {
    let (mut c, mut s) = pair();
    let big: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    c.handle
        .send(BufferType::BinaryMessage, data(&big), 1)
        .unwrap();
    receive_message(&mut s, &mut c, None);
    let (bytes, last) = joined(&s.seen);
    assert_eq!(bytes, big);
    assert_eq!(last, Some(BufferType::BinaryMessage));
    let types: Vec<BufferType> = s.seen.received.iter().map(|r| r.0).collect();
    assert!(types.len() >= 3, "{types:?}");
    assert!(types[..types.len() - 1]
        .iter()
        .all(|t| *t == BufferType::BinaryFragment));
    assert!(s.seen.received.iter().all(|r| r.1.len() <= 4096));
}

#[test]
fn a_receive_with_a_small_buffer_gets_small_pieces_of_whole_characters() {
    let (mut c, mut s) = pair();
    let text = "añb€c𝄞d".repeat(20);
    c.handle
        .send(BufferType::Utf8Message, data(text.as_bytes()), 1)
        .unwrap();
    receive_message(&mut s, &mut c, Some(5));
    let (bytes, _) = joined(&s.seen);
    assert_eq!(bytes, text.as_bytes());
    for (t, piece, _, _) in &s.seen.received {
        assert!(piece.len() <= 5);
        assert!(std::str::from_utf8(piece).is_ok(), "{t:?} {piece:?}");
    }
}

#[test]
fn a_message_sent_in_fragments_arrives_as_one() {
    let (mut c, mut s) = pair();
    let pieces: [(BufferType, &[u8]); 3] = [
        (BufferType::Utf8Fragment, b"one "),
        (BufferType::Utf8Fragment, b"two "),
        (BufferType::Utf8Message, b"three"),
    ];
    for (i, (t, bytes)) in pieces.into_iter().enumerate() {
        c.handle.send(t, data(bytes), i + 1).unwrap();
        exchange(&mut c, &mut s);
        if i == 0 {
            // A binary piece cannot interrupt a text message.
            let mixed = c.handle.send(BufferType::BinaryMessage, data(b"x"), 9);
            assert_eq!(mixed, Err(HResult::InvalidOperation));
        }
    }
    assert_eq!(c.seen.sent, vec![1, 2, 3]);
    receive_message(&mut s, &mut c, None);
    assert_eq!(
        joined(&s.seen),
        (b"one two three".to_vec(), Some(BufferType::Utf8Message))
    );
}

#[test]
fn one_send_and_one_receive_at_a_time_and_one_action_per_queue() {
    let (mut c, _s) = pair();
    c.handle
        .send(BufferType::BinaryMessage, data(b"a"), 1)
        .unwrap();
    let second = c.handle.send(BufferType::BinaryMessage, data(b"b"), 2);
    assert_eq!(second, Err(HResult::InvalidOperation));
    c.handle.receive(None, 3).unwrap();
    assert_eq!(c.handle.receive(None, 4), Err(HResult::InvalidOperation));

    let send = c.handle.get_action(ActionQueue::Send).unwrap();
    assert_eq!(send.action, Action::SendToNetwork);
    // Until it is completed, the send queue has nothing more.
    let none = c.handle.get_action(ActionQueue::Send).unwrap();
    assert_eq!((none.action, none.action_context), (Action::NoAction, 0));
    c.handle.complete_action(none.action_context, 0);
    let receive = c.handle.get_action(ActionQueue::All).unwrap();
    assert_eq!(receive.action, Action::ReceiveFromNetwork);
    assert_eq!(
        c.handle.get_action(ActionQueue::All).unwrap().action,
        Action::NoAction
    );
    // Completing a stale or unknown context changes nothing.
    c.handle.complete_action(12345, 1);
    assert_eq!(
        c.handle.action_data(send.action_context).len(),
        send.buffer_len
    );
    c.handle
        .complete_action(send.action_context, send.buffer_len);
    // Once completed, the buffer is no longer handed out.
    assert!(c.handle.action_data(send.action_context).is_empty());
    let done = c.handle.get_action(ActionQueue::Send).unwrap();
    assert_eq!(
        (done.action, done.application_context),
        (Action::IndicateSendComplete, 1)
    );
    c.handle.complete_action(done.action_context, 0);
    assert!(c
        .handle
        .send(BufferType::BinaryMessage, data(b"b"), 2)
        .is_ok());
}

#[test]
fn a_short_send_cancels_it_and_aborts_the_handle() {
    let (mut c, _s) = pair();
    c.handle
        .send(BufferType::BinaryMessage, data(b"abc"), 1)
        .unwrap();
    c.handle.receive(None, 2).unwrap();
    let a = c.handle.get_action(ActionQueue::Send).unwrap();
    c.handle.complete_action(a.action_context, a.buffer_len - 1);
    let done = c.handle.get_action(ActionQueue::Send).unwrap();
    assert_eq!(done.action, Action::IndicateSendComplete);
    c.handle.complete_action(done.action_context, 0);
    // The queued receive drains without reading; new work fails.
    let drained = c.handle.get_action(ActionQueue::Receive).unwrap();
    assert_eq!(
        (drained.action, drained.buffer_count),
        (Action::IndicateReceiveComplete, 0)
    );
    c.handle.complete_action(drained.action_context, 0);
    let again = c.handle.send(BufferType::BinaryMessage, data(b"x"), 3);
    assert_eq!(again, Err(HResult::InvalidOperation));
}

#[test]
fn a_receive_completed_with_nothing_is_cancelled() {
    let (mut c, _s) = pair();
    c.handle.receive(None, 5).unwrap();
    let a = c.handle.get_action(ActionQueue::Receive).unwrap();
    assert_eq!((a.action, a.buffer_len), (Action::ReceiveFromNetwork, 4096));
    c.handle.complete_action(a.action_context, 0);
    let done = c.handle.get_action(ActionQueue::Receive).unwrap();
    assert_eq!(done.action, Action::IndicateReceiveComplete);
    assert_eq!((done.buffer_count, done.application_context), (0, 5));
    c.handle.complete_action(done.action_context, 0);
    assert!(c.handle.receive(None, 6).is_ok());
}

#[test]
fn pings_are_answered_through_the_receive_queue_and_pongs_indicated() {
    let (mut c, mut s) = pair();
    let with_data = c.handle.send(BufferType::PingPong, data(b"x"), 1);
    assert_eq!(with_data, Err(HResult::InvalidArg));
    c.handle
        .send(BufferType::PingPong, Payload::None, 1)
        .unwrap();
    s.handle.receive(None, 2).unwrap();
    c.handle.receive(None, 3).unwrap();
    exchange(&mut c, &mut s);
    // The server's pong went out with no application context, and the
    // ping itself was not indicated.
    assert_eq!(s.seen.internal, [0x8A, 0x00]);
    assert!(s.seen.received.is_empty());
    assert_eq!(
        c.seen.received,
        vec![(BufferType::PingPong, vec![], None, 3)]
    );

    s.handle
        .send(BufferType::UnsolicitedPong, Payload::None, 4)
        .unwrap();
    c.handle.receive(None, 5).unwrap();
    exchange(&mut c, &mut s);
    assert_eq!(
        c.seen.received[1],
        (BufferType::UnsolicitedPong, vec![], None, 5)
    );
}

fn close(status: u16, reason: &str) -> Payload {
    Payload::Close {
        status,
        reason: reason.as_bytes().to_vec(),
    }
}

#[test]
fn the_application_answers_a_close_and_only_control_frames_follow_its_own() {
    let (mut c, mut s) = pair();
    c.handle
        .send(BufferType::Close, close(1000, "bye"), 1)
        .unwrap();
    exchange(&mut c, &mut s);
    let after = c.handle.send(BufferType::BinaryMessage, data(b"late"), 2);
    assert_eq!(after, Err(HResult::InvalidOperation));
    // A ping may still follow the close, while the peer's is awaited.
    c.handle
        .send(BufferType::PingPong, Payload::None, 3)
        .unwrap();
    s.handle.receive(None, 4).unwrap();
    exchange(&mut c, &mut s);
    assert_eq!(c.seen.sent, vec![1, 3]);
    let indicated = (BufferType::Close, b"bye".to_vec(), Some(1000), 4);
    assert_eq!(s.seen.received, vec![indicated]);
    // The component does not answer a close by itself, and nothing more
    // can be received after it.
    assert!(s.seen.internal.is_empty());
    assert_eq!(s.handle.receive(None, 5), Err(HResult::InvalidOperation));

    s.handle
        .send(BufferType::Close, close(1000, ""), 6)
        .unwrap();
    c.handle.receive(None, 7).unwrap();
    exchange(&mut c, &mut s);
    assert_eq!(c.seen.received.last().unwrap().2, Some(1000));
    assert_eq!(s.seen.sent, vec![6]);
}

#[test]
fn close_statuses_and_reasons_are_checked() {
    let (mut c, mut s) = pair();
    let refused = [
        (close(1006, ""), HResult::InvalidArg),
        (close(999, ""), HResult::InvalidArg),
        (close(1005, "why"), HResult::InvalidArg),
        (close(1000, &"x".repeat(124)), HResult::InvalidArg),
        (
            Payload::Close {
                status: 1000,
                reason: vec![0xFF],
            },
            HResult::InvalidFormat,
        ),
        (data(b"x"), HResult::InvalidArg),
    ];
    for (payload, expected) in refused {
        let got = c.handle.send(BufferType::Close, payload.clone(), 1);
        assert_eq!(got, Err(expected), "{payload:?}");
    }
    c.handle
        .send(BufferType::Close, close(1005, ""), 1)
        .unwrap();
    s.handle.receive(None, 2).unwrap();
    exchange(&mut c, &mut s);
    assert_eq!(
        s.seen.received,
        vec![(BufferType::Close, vec![], Some(1005), 2)]
    );
}

#[test]
fn text_sent_must_be_utf8_unless_verification_is_off() {
    let (mut c, _s) = pair();
    let bad = c.handle.send(BufferType::Utf8Message, data(&[0xC3]), 1);
    assert_eq!(bad, Err(HResult::InvalidFormat));
    // A character may be split between fragments.
    c.handle
        .send(BufferType::Utf8Fragment, data(&[0xC3]), 1)
        .unwrap();
    let (mut c, _s) = pair_with(vec![Property::DisableUtf8Verification(true)], vec![]);
    assert!(c
        .handle
        .send(BufferType::Utf8Message, data(&[0xFF]), 1)
        .is_ok());
}

#[test]
fn a_peer_that_breaks_the_protocol_gets_a_close_then_the_receive_fails() {
    let (mut c, mut s) = pair();
    c.handle
        .send(BufferType::BinaryMessage, data(b"first"), 1)
        .unwrap();
    exchange(&mut c, &mut s);
    // An unmasked frame from a client: a wrong operation (§5.1).
    s.inbox.extend_from_slice(&[0x82, 0x01, b'x']);
    s.handle.receive(None, 2).unwrap();
    exchange(&mut c, &mut s);
    s.handle.receive(None, 3).unwrap();
    exchange(&mut c, &mut s);
    assert_eq!(s.seen.received[0].1, b"first");
    assert_eq!(s.seen.errors, vec![HResult::InvalidProtocolOperation]);
    let close = &s.seen.internal;
    assert_eq!(
        (close[0], &close[2..4]),
        (0x88, &[0x03, 0xEA][..]),
        "a 1002 close went out"
    );
    assert_eq!(s.handle.receive(None, 4), Err(HResult::InvalidOperation));

    let (mut c, mut s) = pair();
    // Text that is not UTF-8 is malformed data (1007).
    let (_, mut frame) = masked_frame(&mut c, BufferType::BinaryMessage, &[0xFF, 0xFE]);
    frame[0] = 0x81;
    s.inbox.extend_from_slice(&frame);
    s.handle.receive(None, 1).unwrap();
    exchange(&mut c, &mut s);
    assert_eq!(s.seen.errors, vec![HResult::InvalidProtocolFormat]);
    assert_eq!(&s.seen.internal[2..4], &[0x03, 0xEF]);
}

/// The frame a client handle sends for one message, and its context.
fn masked_frame(c: &mut Peer, t: BufferType, bytes: &[u8]) -> (usize, Vec<u8>) {
    c.handle.send(t, data(bytes), 77).unwrap();
    let mut wire = Vec::new();
    c.step(&mut wire);
    (77, wire)
}

#[test]
fn abort_drains_what_is_queued_and_refuses_what_comes_after() {
    let (mut c, _s) = pair();
    c.handle
        .send(BufferType::BinaryMessage, data(b"never"), 1)
        .unwrap();
    c.handle.receive(None, 2).unwrap();
    c.handle.abort();
    let mut wire = Vec::new();
    c.step(&mut wire);
    assert!(wire.is_empty(), "nothing is sent after an abort");
    assert_eq!(c.seen.sent, vec![1]);
    assert_eq!(
        c.seen.received,
        vec![(BufferType::BinaryFragment, b"<none>".to_vec(), None, 2)]
    );
    assert_eq!(
        c.handle.send(BufferType::PingPong, Payload::None, 3),
        Err(HResult::InvalidOperation)
    );
    assert_eq!(c.handle.receive(None, 4), Err(HResult::InvalidOperation));
}

#[test]
fn masking_can_be_disabled_on_both_ends() {
    // A client keeps the mask bit with the key 0, which a server with
    // masking on accepts too.
    let off = || vec![Property::DisableMasking(true)];
    let (mut c, mut s) = pair_with(off(), vec![]);
    let (_, frame) = masked_frame(&mut c, BufferType::BinaryMessage, b"plain");
    assert_eq!(frame, b"\x82\x85\0\0\0\0plain");
    s.inbox.extend_from_slice(&frame);
    s.handle.receive(None, 1).unwrap();
    exchange(&mut c, &mut s);
    assert_eq!(s.seen.received[0].1, b"plain");
    // A server with masking off accepts unmasked frames.
    let (mut c, mut s) = pair_with(vec![], off());
    s.inbox.extend_from_slice(b"\x82\x05plain");
    s.handle.receive(None, 1).unwrap();
    exchange(&mut c, &mut s);
    assert_eq!(s.seen.received[0].1, b"plain");
}

#[test]
fn a_ping_flood_costs_at_most_a_read_of_pongs() {
    let (_, mut s) = pair();
    let ping = [0x89, 0x80, 1, 2, 3, 4];
    let flood: Vec<u8> = ping
        .iter()
        .copied()
        .cycle()
        .take(ping.len() * 50_000)
        .collect();
    s.inbox = flood;
    for i in 0..100_000 {
        if s.inbox.is_empty() {
            break;
        }
        // A receive is queued whenever the last one is done; the flooder
        // reads nothing back.
        let _ = s.handle.receive(None, i);
        s.step(&mut Vec::new());
    }
    assert!(s.inbox.is_empty());
    // A read of 4096 bytes holds 682 pings; their pongs are 2 bytes each.
    assert!(s.most_internal <= 4096, "{}", s.most_internal);
    assert!(s.handle.indications.is_empty());
}

/// The differential test: the same conversation through the component and
/// through `Connection`, with the same entropy, puts the same bytes on the wire.
#[test]
fn the_component_writes_what_a_connection_writes() {
    let nonce: [u8; 16] = ENTROPY[..16].try_into().unwrap();
    let seed: [u8; 32] = ENTROPY[16..].try_into().unwrap();
    let mut request = ClientRequest::new("example.com", "/");
    request.protocols = vec!["chat".into()];
    let mut conn = Connection::client(request, Config::default(), nonce, seed, 0).unwrap();
    let head = String::from_utf8(conn.take_output()).unwrap();

    let (mut c, mut s) = pair();
    // The fields the component adds are the handshake fields of the head.
    let mut component_head = Handle::create_client(vec![], ENTROPY).unwrap();
    let added = component_head
        .begin_client_handshake(&["chat"], &[], &host())
        .unwrap();
    for (name, value) in added {
        assert!(head.contains(&format!("\r\n{name}: {value}\r\n")), "{name}");
    }
    let key = crate::handshake::client::key_from_nonce(nonce);
    let accept = crate::handshake::accept_key(&key);
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: chat\r\n\r\n"
    );
    conn.receive(response.as_bytes(), 0);
    while conn.next_event().is_some() {}

    let big: Vec<u8> = (0..70_000u32).map(|i| i as u8).collect();
    let conversation: Vec<(BufferType, Payload)> = vec![
        (BufferType::Utf8Message, data("hello".as_bytes())),
        (BufferType::BinaryMessage, data(&big)),
        (BufferType::BinaryFragment, data(b"ab")),
        (BufferType::BinaryFragment, data(b"cd")),
        (BufferType::BinaryMessage, data(b"ef")),
        (BufferType::PingPong, Payload::None),
        (BufferType::UnsolicitedPong, Payload::None),
        (BufferType::Close, close(4000, "done")),
    ];
    let mut from_component = Vec::new();
    let mut from_connection = Vec::new();
    for (i, (t, payload)) in conversation.into_iter().enumerate() {
        match (&payload, t) {
            (Payload::Data(d), BufferType::Utf8Message) => {
                conn.send_text(std::str::from_utf8(d).unwrap())
            }
            (Payload::Data(d), BufferType::BinaryMessage) if i == 1 => conn.send_binary(d),
            (Payload::Data(d), BufferType::BinaryFragment) => {
                conn.send_fragment(MessageKind::Binary, d, false)
            }
            (Payload::Data(d), _) => conn.send_fragment(MessageKind::Binary, d, true),
            (_, BufferType::PingPong) => conn.ping(b""),
            (_, BufferType::UnsolicitedPong) => conn.pong(b""),
            _ => conn.close(Some(4000), "done"),
        }
        .unwrap();
        from_connection.extend(conn.take_output());
        c.handle.send(t, payload, i + 1).unwrap();
        c.step(&mut from_component);
    }
    assert_eq!(from_component.len(), from_connection.len());
    assert!(from_component == from_connection, "the bytes differ");

    // And the server's side: unmasked frames, the same as a Connection's.
    let mut server = Connection::opened(Role::Server, Config::default(), "chat", "", [0; 32], 0);
    server.send_text("reply").unwrap();
    server.close_with_status(Some(1001), "").unwrap();
    s.handle
        .send(BufferType::Utf8Message, data(b"reply"), 1)
        .unwrap();
    let mut wire = Vec::new();
    s.step(&mut wire);
    s.handle
        .send(BufferType::Close, close(1001, ""), 2)
        .unwrap();
    s.step(&mut wire);
    assert_eq!(wire, server.take_output());
}
