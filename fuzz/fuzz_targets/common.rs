//! Shared by the fuzz targets: setting up connections and draining them
//! while checking the promises of the event stream.
#![allow(dead_code)]

use wasmsocket::{ClientRequest, Config, Connection, Error, Event, MessageKind};

pub const NONCE: [u8; 16] = *b"0123456789abcdef";
pub const SEED: [u8; 32] = [42; 32];

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

/// Checks events as they are taken.
#[derive(Default)]
pub struct Checker {
    pub closed: bool,
    pub errored: bool,
    pub protocol_error: bool,
    pub request: bool,
    pub opened: bool,
    /// Streaming: the largest piece allowed.
    pub piece_limit: Option<usize>,
    pub utf8: bool,
    streaming: Option<MessageKind>,
}

impl Checker {
    pub fn for_config(cfg: &Config) -> Checker {
        Checker {
            piece_limit: cfg
                .streaming
                .then(|| cfg.receive_buffer_size.max(Config::MIN_BUFFER_SIZE)),
            utf8: cfg.validate_utf8,
            ..Default::default()
        }
    }

    /// Takes every event, checking each.
    pub fn drain(&mut self, c: &mut Connection) {
        while let Some(e) = c.next_event() {
            self.check(&e);
        }
    }

    fn check(&mut self, e: &Event<'_>) {
        assert!(!self.closed, "event after Closed: {e:?}");
        if self.errored {
            assert!(
                matches!(
                    e,
                    Event::CloseTransport { .. } | Event::Closed { .. } | Event::Frame { .. }
                ),
                "{e:?} after Error"
            );
        }
        match *e {
            Event::Request => {
                assert!(!self.request, "second Request");
                self.request = true;
            }
            Event::Open { .. } => {
                assert!(!self.opened, "second Open");
                self.opened = true;
            }
            Event::Message { kind, data } => {
                assert!(
                    self.streaming.is_none(),
                    "Message inside a streamed message"
                );
                if kind == MessageKind::Text && self.utf8 {
                    assert!(std::str::from_utf8(data).is_ok(), "text message not UTF-8");
                }
            }
            Event::Fragment { kind, data, fin } => {
                if let Some(k) = self.streaming {
                    assert_eq!(k, kind, "fragment kind changed");
                }
                if kind == MessageKind::Text && self.utf8 {
                    assert!(std::str::from_utf8(data).is_ok(), "text piece not UTF-8");
                }
                if let Some(limit) = self.piece_limit {
                    assert!(data.len() <= limit, "piece {} > {limit}", data.len());
                }
                self.streaming = if fin { None } else { Some(kind) };
            }
            Event::MessageStart { kind, .. } => {
                assert!(self.streaming.is_none(), "MessageStart inside a message");
                assert_eq!(kind, MessageKind::Binary, "only binary is host-assembled");
                self.streaming = Some(kind);
            }
            Event::Ping(p) | Event::Pong(p) => assert!(p.len() <= 125),
            Event::CloseReceived { code, reason } => {
                assert!(code == 1005 || wasmsocket::close::is_valid_on_wire(code));
                assert!(reason.len() <= 123);
            }
            Event::Error(err) => {
                let code = err.close_code();
                assert!(matches!(code, None | Some(1002 | 1007 | 1009)), "{err:?}");
                self.errored = true;
                self.protocol_error = matches!(err, Error::Protocol(_));
            }
            Event::CloseTransport { .. } => {}
            Event::Closed {
                code, was_clean, ..
            } => {
                self.closed = true;
                assert!(!was_clean || code != 1006);
            }
            Event::Frame { preview, .. } => {
                assert!(preview.len() <= wasmsocket::event::TRACE_PREVIEW)
            }
        }
    }
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
