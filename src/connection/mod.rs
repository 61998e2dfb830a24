//! One WebSocket connection, from the opening handshake to CLOSED, as a sans-I/O
//! state machine: the host feeds it transport bytes, commands and the time, and
//! reads back events, output bytes and the next deadline.
//!
//! ```text
//!   receive(bytes, now) ─┐                       ┌─► next_event()   Open, Message, Ping, …
//!   send_*, close, ping ─┼─► Connection ─────────┼─► output()       bytes for the transport
//!   handle_timeout(now) ─┤                       └─► next_timeout() when to call handle_timeout
//!   transport_closed()  ─┘
//! ```
//!
//! Replies the engine owes the peer because of an event (the pong for a ping,
//! the close frame answering a close or failing the connection) are written
//! when that event is taken, not when its frame is parsed. A host that reacts to
//! each message as it takes it (say, echoing it) therefore gets its reaction on
//! the wire before the engine's close frame, as if it had run in the middle of
//! parsing.

mod closing;
#[cfg(any(target_arch = "wasm32", test))]
mod host;
mod opening;
mod pongs;
#[cfg(test)]
mod tests;

use opening::{Agreed, Opening};
use pongs::HeldPong;

use std::sync::Arc;

use crate::close::{self, CloseFrame};

use crate::config::{Config, Role};
use crate::error::{Error, UsageError};
use crate::event::{flag, tag, Event, EventQueue, MessageKind};
use crate::extension::Extension;
use crate::frame::{OpCode, MAX_CONTROL_PAYLOAD};
use crate::handshake::client::{self, ClientRequest, Response};
use crate::handshake::server::{self, Request};
use crate::handshake::HandshakeError;
use crate::mask;
use crate::publish::Shared;
use crate::receiver::Receiver;
use crate::sender::{HostHeader, Keys, Sender};

/// The WHATWG `readyState` of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ReadyState {
    /// The opening handshake is under way.
    Connecting = 0,
    /// Messages flow both ways.
    Open = 1,
    /// The closing handshake has begun, or the connection failed.
    Closing = 2,
    /// The transport is closed.
    Closed = 3,
}

/// What a deadline from `next_timeout` is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Timer {
    /// The opening handshake must be done by then.
    Handshake = 1,
    /// The closing handshake (or, for a client, the server's closing of the
    /// transport) must be done by then.
    Close = 2,
    /// Time to ping a quiet peer, or to give up on it.
    Keepalive = 3,
    /// A held pong (see `Connection::hold_pongs`) has waited too long.
    HeldPong = 4,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Client: request written, response head awaited.
    AwaitResponse,
    /// Server: request head awaited.
    AwaitRequest,
    /// Server: request read, the host's `accept` or `reject` awaited.
    AwaitAnswer,
    /// Frames flow (until the closing handshake ends it).
    Open,
    /// The handshake ended without opening the connection.
    Refused,
}

/// A WebSocket connection, client or server.
pub struct Connection {
    role: Role,
    /// Shared: a server's connections all point at one.
    config: Arc<Config>,
    phase: Phase,
    receiver: Receiver,
    sender: Sender,
    events: EventQueue,
    out: Vec<u8>,
    /// Bytes at the front of `out` already handed to the transport.
    out_sent: usize,
    extension: Option<Box<dyn Extension>>,
    // What is rarely needed is boxed: an open connection keeps at most the
    // response, and idle connections are what a server holds by the thousand.
    /// Present exactly while the phase is one of the `Await…` ones.
    opening: Option<Box<Opening>>,
    /// Both heads, kept when tracing: (sent, received).
    heads: Option<Box<(Vec<u8>, Vec<u8>)>>,
    response: Option<Box<Response>>,
    /// `None` when no subprotocol and no extension were agreed.
    agreed: Option<Box<Agreed>>,
    close_sent: bool,
    close_received: Option<Box<CloseFrame>>,
    /// Why the connection failed; boxed, as most never do.
    error: Option<Box<Error>>,
    transport_close_requested: bool,
    closed: bool,
    now: u64,
    close_deadline: Option<u64>,
    last_heard: u64,
    keepalive_pinged: bool,
    /// Room handed out by `message_buffer`, awaiting `commit_message`.
    #[cfg(any(target_arch = "wasm32", test))]
    room: Option<host::Room>,
    /// Where the host writes a message for the extension to encode.
    #[cfg(any(target_arch = "wasm32", test))]
    aside: Vec<u8>,
    /// The masking of the payload of the last `host_frame`, while some of
    /// it is left; boxed, as a connection rarely has one.
    host_mask: Option<Box<mask::Windows>>,
    /// Set by `hold_pongs`: owed pongs wait in `held`.
    holding: bool,
    /// The pong owed while holding, for the latest ping (§5.5.3); boxed, as
    /// most connections never hold one.
    held: Option<Box<HeldPong>>,
}

impl Connection {
    /// A client connection. Writes the opening request into the output at
    /// once, offering what `request` lists and what the config's
    /// negotiators offer.
    ///
    /// `nonce` is 16 bytes of entropy for `Sec-WebSocket-Key`; `seed` is 32
    /// bytes of entropy for the frame masking keys. `now` is the host's clock in
    /// milliseconds (any epoch; it only has to move forward).
    pub fn client(
        request: ClientRequest,
        config: impl Into<Arc<Config>>,
        nonce: [u8; 16],
        seed: [u8; 32],
        now: u64,
    ) -> Result<Connection, UsageError> {
        let config = config.into();
        let mut request = request;
        let offers = config.extensions.0.iter().flat_map(|n| n.offers());
        request.extensions.extend(offers.map(|o| o.to_string()));
        let key = client::key_from_nonce(nonce);
        let mut out = Vec::new();
        request.write(&key, &mut out)?;
        let mut conn = Connection::new(Role::Client, config, Phase::AwaitResponse, seed, now);
        if conn.config.trace_frames {
            conn.heads = Some(Box::new((out.clone(), Vec::new())));
        }
        conn.out = out;
        conn.opening_mut().client = Some((request, key));
        Ok(conn)
    }

    /// A server connection, waiting for the client's opening request. A
    /// server keeping many connections can pass one `Arc<Config>` to all.
    pub fn server(config: impl Into<Arc<Config>>, now: u64) -> Connection {
        Connection::new(
            Role::Server,
            config.into(),
            Phase::AwaitRequest,
            [0; 32],
            now,
        )
    }

    /// A connection whose opening handshake was made elsewhere, by a host
    /// that speaks HTTP itself and hands the engine only the data stream
    /// (websocket.dll's face, `component`, builds on it). It starts OPEN
    /// with the subprotocol and extensions agreed there, without an
    /// `Event::Open`; no extension is installed unless `set_extension` is
    /// called. `seed` is as for `client`.
    pub fn opened(
        role: Role,
        config: impl Into<Arc<Config>>,
        protocol: &str,
        extensions: &str,
        seed: [u8; 32],
        now: u64,
    ) -> Connection {
        let mut conn = Connection::new(role, config.into(), Phase::Open, seed, now);
        conn.opening = None;
        conn.agree(protocol.to_owned(), extensions.to_owned());
        conn
    }

    /// `seed` is used by a client that masks.
    fn new(role: Role, config: Arc<Config>, phase: Phase, seed: [u8; 32], now: u64) -> Connection {
        let config = Config::normalized_shared(config);
        let keys = match role {
            Role::Client if config.zero_mask_keys => Keys::Zero,
            Role::Client if !config.disable_masking => Keys::random(seed),
            _ => Keys::None,
        };
        Connection {
            role,
            receiver: Receiver::new(role),
            sender: Sender::new(keys, config.send_buffer_size, config.trace_frames),
            opening: Some(Box::new(Opening {
                deadline: config.handshake_timeout.map(|t| now.saturating_add(t)),
                ..Opening::default()
            })),
            config,
            phase,
            events: EventQueue::default(),
            out: Vec::new(),
            out_sent: 0,
            extension: None,
            heads: None,
            response: None,
            agreed: None,
            close_sent: false,
            close_received: None,
            error: None,
            transport_close_requested: false,
            closed: false,
            now,
            close_deadline: None,
            last_heard: now,
            keepalive_pinged: false,
            #[cfg(any(target_arch = "wasm32", test))]
            room: None,
            #[cfg(any(target_arch = "wasm32", test))]
            aside: Vec::new(),
            host_mask: None,
            holding: false,
            held: None,
        }
    }

    /// Client or server.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The connection's configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Where the connection stands.
    pub fn state(&self) -> ReadyState {
        let closing = self.transport_close_requested || self.error.is_some();
        match self.phase {
            _ if self.closed => ReadyState::Closed,
            Phase::Refused => ReadyState::Closing,
            Phase::Open if closing || self.close_sent || self.close_received.is_some() => {
                ReadyState::Closing
            }
            Phase::Open => ReadyState::Open,
            _ if closing => ReadyState::Closing,
            _ => ReadyState::Connecting,
        }
    }

    /// Server: the client's opening request, from `Event::Request` until it
    /// is answered (`accept` or `reject`), after which it is let go.
    pub fn request(&self) -> Option<&Request> {
        self.opening.as_ref()?.request.as_ref()
    }

    /// Client: the server's response head, once received.
    pub fn response(&self) -> Option<&Response> {
        self.response.as_deref()
    }

    /// The agreed subprotocol, or empty.
    pub fn protocol(&self) -> &str {
        self.agreed.as_ref().map_or("", |a| &a.protocol)
    }

    /// The agreed extensions as a `Sec-WebSocket-Extensions` value, or empty.
    pub fn extensions(&self) -> &str {
        self.agreed.as_ref().map_or("", |a| &a.extensions)
    }

    /// The error that failed the connection, if one did.
    pub fn error(&self) -> Option<&Error> {
        self.error.as_deref()
    }

    /// With `trace_frames` on: the raw handshake heads, (sent, received).
    pub fn handshake_heads(&self) -> (&[u8], &[u8]) {
        match &self.heads {
            Some(heads) => (&heads.0, &heads.1),
            None => (&[], &[]),
        }
    }

    /// Installs a negotiated extension (see `extension`).
    pub fn set_extension(&mut self, extension: Box<dyn Extension>) {
        self.extension = Some(extension);
    }

    // ----- input -----

    /// Feeds bytes read from the transport. Events and output may follow.
    pub fn receive(&mut self, data: &[u8], now: u64) {
        self.begin(now);
        if !self.make_room(data.len()) {
            return;
        }
        let start = self.events.arena.len();
        self.events.arena.extend_from_slice(data);
        self.take_input(start, now);
    }

    /// Makes room in the arena for `len` more bytes of input, or fails the
    /// connection. A peer may make a message as big as `max_message_size`,
    /// and many peers at once more than memory holds (wasm's ceiling is
    /// 4 GiB, for all connections together); running out must cost the
    /// connection that asked, not abort the engine and every other.
    fn make_room(&mut self, len: usize) -> bool {
        let arena = &mut self.events.arena;
        if arena.try_reserve(len).is_ok() || arena.try_reserve_exact(len).is_ok() {
            return true;
        }
        self.fail(Error::OutOfMemory { bytes: len });
        false
    }

    /// The host copied `n` payload bytes of the message announced by a
    /// direct `Event::MessageStart` from its input into its own memory,
    /// instead of passing them to `receive`. The `Fragment` with `fin`
    /// follows once the last of them is reported.
    pub fn host_payload(&mut self, n: usize, now: u64) -> Result<(), UsageError> {
        self.begin(now);
        if self.closed {
            return Ok(());
        }
        if !self.receiver.host_took(&mut self.events, n as u64) {
            return Err(UsageError::InvalidState(
                "no direct message is waiting for that much payload",
            ));
        }
        self.last_heard = now;
        self.keepalive_pinged = false;
        Ok(())
    }

    /// Handles input the host put at `arena[start..]`.
    fn take_input(&mut self, start: usize, now: u64) {
        if self.closed {
            self.events.arena.truncate(start);
            return;
        }
        self.last_heard = now;
        self.keepalive_pinged = false;
        match self.phase {
            Phase::Open => self.read_frames(start),
            phase => {
                let input = self.events.arena.split_off(start);
                if self.events.arena.is_empty() {
                    // Handshake bytes live in `head`; an idle arena holds nothing.
                    self.events.arena = Vec::new();
                }
                match phase {
                    Phase::AwaitResponse | Phase::AwaitRequest => {
                        self.opening_mut().head.extend_from_slice(&input);
                        self.read_head();
                    }
                    Phase::AwaitAnswer => self.opening_mut().head.extend_from_slice(&input),
                    _ => {}
                }
            }
        }
    }

    /// The transport ended (either way) or failed. The connection is CLOSED;
    /// `Event::Closed` follows, after an `Event::Error` if it ended abruptly.
    pub fn transport_closed(&mut self, now: u64) {
        self.begin(now);
        if self.closed {
            return;
        }
        self.closed = true;
        self.receiver.stop();
        self.close_deadline = None;
        let started_closing = self.close_sent || self.close_received.is_some();
        match self.phase {
            Phase::AwaitResponse | Phase::AwaitRequest | Phase::AwaitAnswer => {
                self.fail(Error::Handshake(HandshakeError::ConnectionClosed))
            }
            Phase::Open if !started_closing => self.fail(Error::ConnectionLost {
                mid_message: self.receiver.mid_message(),
            }),
            _ => {}
        }
        let (code, reason, clean) = match (&self.error, &self.close_received) {
            (None, Some(f)) => (f.reported_code(), f.reason.as_str(), self.close_sent),
            _ => (close::code::ABNORMAL, "", false),
        };
        let arg = code as u32 | if clean { tag::CLEAN } else { 0 };
        self.events
            .push_side(tag::CLOSED, arg, reason.as_bytes(), 0.0);
    }

    /// Acts on expired deadlines; see `next_timeout`.
    pub fn handle_timeout(&mut self, now: u64) {
        self.begin(now);
        if self.closed {
            return;
        }
        if self.handshake_deadline().is_some_and(|d| now >= d) {
            self.fail(Error::HandshakeTimeout);
        }
        if self.close_deadline.is_some_and(|d| now >= d) {
            self.close_deadline = None;
            self.request_transport_close(false);
        }
        if let Some(held) = self.held.as_deref() {
            if now >= held.since.saturating_add(self.config.close_timeout) {
                let pings = held.pings;
                self.fail(Error::PongsUnread { pings });
            }
        }
        if let Some(interval) = self.keepalive_interval() {
            if now >= self.last_heard.saturating_add(interval.saturating_mul(2)) {
                self.fail(Error::KeepaliveTimeout);
            } else if !self.keepalive_pinged && now >= self.last_heard.saturating_add(interval) {
                self.keepalive_pinged = true;
                self.sender.frame(
                    &mut self.out,
                    &mut self.events,
                    OpCode::Ping as u8,
                    true,
                    0,
                    b"",
                );
            }
        }
    }

    /// The earliest deadline at which `handle_timeout` must be called, and why.
    pub fn next_timeout(&self) -> Option<(u64, Timer)> {
        let keepalive = self.keepalive_interval().map(|i| {
            let wait = if self.keepalive_pinged {
                i.saturating_mul(2)
            } else {
                i
            };
            self.last_heard.saturating_add(wait)
        });
        let held = (self.held.as_deref())
            .filter(|_| self.error.is_none() && !self.closed)
            .map(|h| h.since.saturating_add(self.config.close_timeout));
        [
            (self.handshake_deadline(), Timer::Handshake),
            (self.close_deadline, Timer::Close),
            (keepalive, Timer::Keepalive),
            (held, Timer::HeldPong),
        ]
        .into_iter()
        .filter_map(|(d, t)| d.map(|d| (d, t)))
        .min_by_key(|(d, _)| *d)
    }

    fn keepalive_interval(&self) -> Option<u64> {
        let quiet = self.phase == Phase::Open && self.state() == ReadyState::Open;
        self.config.keepalive_interval.filter(|_| quiet)
    }

    // ----- events -----

    /// The next event, if any. Taking an event writes the reply it calls for
    /// (pong, close) into the output. Payloads borrow the connection's buffers.
    pub fn next_event(&mut self) -> Option<Event<'_>> {
        let i = self.events.taken;
        if i == self.events.raw.len() {
            return None;
        }
        self.release_through(i + 1);
        self.events.taken = i + 1;
        Some(self.events.view(i, self.error.as_deref()))
    }

    /// Writes the replies owed for events `released..upto`.
    fn release_through(&mut self, upto: usize) {
        while self.events.released < upto {
            let e = self.events.raw[self.events.released];
            self.events.released += 1;
            match e.tag {
                _ if self.closed || e.flags & flag::OWES_REPLY == 0 => {}
                tag::PING => {
                    let payload = self.events.side[e.start..e.start + e.len].to_vec();
                    self.answer_ping(payload);
                }
                tag::CLOSE_RECEIVED => self.answer_close(),
                tag::ERROR => self.close_failed(),
                _ => {}
            }
        }
    }

    /// Start of every call that changes the connection: once the host has
    /// taken and released every event, their buffers are reused.
    fn begin(&mut self, now: u64) {
        self.now = self.now.max(now);
        if self.events.is_settled() {
            let keep = self.receiver.keep_from(&self.events);
            let shift = self.events.clear(keep);
            self.receiver.shifted(shift);
        }
    }

    /// Whether the connection, between messages, holds more buffer memory
    /// than it keeps between uses (after a big message, or a batch of many
    /// events), which `trim` gives back. Buffers are kept while big messages
    /// keep coming; a host calls `trim` once the connection has been quiet
    /// for a while and this says so.
    pub fn wants_trim(&self) -> bool {
        let held = self.events.capacity() + self.out.capacity() + self.receiver.capacity();
        let spare = self.extension.as_deref().map_or(0, |e| e.spare_memory());
        let held = held + self.in_place_capacity() + spare;
        held > crate::event::WORKING_SIZE && !self.receiver.mid_message()
    }

    /// Gives back the buffer memory a quiet connection holds. A server keeps
    /// idle connections by the thousand, each holding buffers sized for its
    /// last burst (at first, the handshake); call this when the connection
    /// goes quiet, e.g. once the handshake's output is written. Buffers grow
    /// again on their next use.
    pub fn trim(&mut self) {
        self.begin(self.now);
        self.events.trim();
        if self.out.is_empty() {
            self.out = Vec::new();
        }
        if let Some(opening) = &mut self.opening {
            if opening.head.is_empty() {
                opening.head = Vec::new();
            }
        }
        self.receiver.trim();
        self.trim_in_place();
        if !self.receiver.mid_message() {
            if let Some(extension) = self.extension.as_deref_mut() {
                extension.trim();
            }
        }
    }

    // ----- output -----

    /// Bytes to write to the transport. Writes any replies still owed for
    /// events not yet taken. Call `consume_output` with what was written.
    pub fn output(&mut self) -> &[u8] {
        self.release_through(self.events.raw.len());
        &self.out[self.out_sent..]
    }

    /// Marks `n` bytes of `output()` as handed to the transport.
    pub fn consume_output(&mut self, n: usize) {
        self.out_sent = (self.out_sent + n).min(self.out.len());
        if self.out_sent == self.out.len() {
            let used = self.out.len();
            self.out_sent = 0;
            self.out.clear();
            crate::event::shrink_unused(&mut self.out, used);
        }
    }

    /// All pending output, taken out of the connection.
    pub fn take_output(&mut self) -> Vec<u8> {
        let bytes = self.output().to_vec();
        self.consume_output(bytes.len());
        bytes
    }

    /// Bytes written by the engine and not yet consumed by the host.
    pub fn pending_output(&self) -> usize {
        self.out.len() - self.out_sent
    }

    // ----- the data stream -----

    /// Reads the frames the host put at `arena[start..]`.
    fn read_frames(&mut self, start: usize) {
        let ext = self.extension.as_deref_mut();
        let outcome = self
            .receiver
            .read(&self.config, &mut self.events, start, ext);
        if let Some(e) = outcome.error {
            self.fail(Error::Protocol(e));
        }
        if let Some(frame) = outcome.close {
            self.close_received = Some(Box::new(frame));
            self.receiver.stop();
            if self.close_sent {
                self.closing_handshake_done();
            }
        }
    }

    /// Reads frames that came with the opening handshake.
    fn read_early_frames(&mut self, bytes: &[u8]) {
        let start = self.events.arena.len();
        self.events.arena.extend_from_slice(bytes);
        self.read_frames(start);
    }

    fn check_can_send(&self) -> Result<(), UsageError> {
        match self.phase {
            _ if self.closed => Err(UsageError::InvalidState("the connection is closed")),
            _ if self.transport_close_requested => {
                Err(UsageError::InvalidState("the transport is being closed"))
            }
            Phase::Open if self.close_sent => {
                Err(UsageError::InvalidState("a close frame was sent"))
            }
            Phase::Open => Ok(()),
            _ => Err(UsageError::InvalidState("the connection is not open")),
        }
    }

    /// Sends a text message.
    pub fn send_text(&mut self, text: &str) -> Result<(), UsageError> {
        self.send(MessageKind::Text, text.as_bytes())
    }

    /// Sends a binary message.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), UsageError> {
        self.send(MessageKind::Binary, data)
    }

    /// Sends a message of `kind`. Text must be UTF-8: the bindings pass bytes
    /// their encoder produced, and `send_text` takes a `&str`.
    pub(crate) fn send(&mut self, kind: MessageKind, data: &[u8]) -> Result<(), UsageError> {
        self.begin(self.now);
        self.check_can_send()?;
        let ext = self.extension.as_deref_mut();
        self.sender
            .message(&mut self.out, &mut self.events, kind, data, ext)
    }

    /// For a host that writes big payloads itself, one copy fewer: the header
    /// of a message of `len` bytes sent as one frame. The host writes it and
    /// then the payload at the current end of the output, after the
    /// `pending_output()` bytes already there. A text payload must be UTF-8.
    /// A client's frame is masked (§5.3): the host then passes the payload
    /// through `mask_host_window` in order, a window at a time (at most
    /// `mask::WINDOW` bytes, so that each stays in the CPU's caches), before
    /// writing it. `None` when the message cannot go out that way (an
    /// extension, the send buffer size or tracing apply; a fragmented send
    /// is open): send it with `send_text` or `send_binary` then.
    pub fn host_frame(
        &mut self,
        kind: MessageKind,
        len: usize,
    ) -> Result<Option<HostHeader>, UsageError> {
        self.begin(self.now);
        self.check_can_send()?;
        let header = self.sender.host_header(kind, len, self.extension.is_some());
        self.host_mask = header
            .and_then(|h| h.mask)
            .map(|key| Box::new(mask::Windows::new(key, len as u64)));
        Ok(header)
    }

    /// Masks `window` in place as the next bytes of the payload of the last
    /// `host_frame`. Refused if that frame is not masked or has fewer bytes
    /// left.
    pub fn mask_host_window(&mut self, window: &mut [u8]) -> Result<(), UsageError> {
        let masks = self.host_mask.as_mut();
        if !masks.is_some_and(|m| window.len() <= mask::WINDOW && m.apply(window)) {
            return Err(UsageError::InvalidState(
                "no masked host frame is waiting for that window",
            ));
        }
        if self.host_mask.as_ref().is_some_and(|m| m.left() == 0) {
            self.host_mask = None;
        }
        Ok(())
    }

    /// For a host that writes one frame to many connections (`publish`):
    /// whether this connection would have written exactly `shared`'s frame
    /// for its message now (`Ok(true)`, the host then writes the frame at
    /// the current end of the output) or not (`Ok(false)`: send the message
    /// with `send` then). Refused as `send` is where no message may go.
    pub fn send_shared(&mut self, shared: &Shared) -> Result<bool, UsageError> {
        self.begin(self.now);
        self.check_can_send()?;
        let same_encoding = match self.extension.as_deref() {
            None => shared.encoding.is_none(),
            Some(e) => shared.encoding.is_some() && e.fresh() == shared.encoding,
        };
        Ok(same_encoding && self.sender.writes_plain_frame(shared.payload_len))
    }

    /// Sends the next piece of a message sent piece by piece; `fin` ends it.
    /// Text pieces need not end on character boundaries, but the whole must be UTF-8.
    pub fn send_fragment(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        fin: bool,
    ) -> Result<(), UsageError> {
        self.begin(self.now);
        self.check_can_send()?;
        self.sender
            .fragment(&mut self.out, &mut self.events, kind, data, fin)
    }

    /// Sends a ping with up to 125 bytes of payload.
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), UsageError> {
        self.control(OpCode::Ping, payload)
    }

    /// Sends a pong, e.g. an unsolicited one as a unidirectional heartbeat.
    pub fn pong(&mut self, payload: &[u8]) -> Result<(), UsageError> {
        self.control(OpCode::Pong, payload)
    }

    /// Control frames may follow our close while the peer's is awaited:
    /// §5.5.1 forbids only data frames after it.
    fn control(&mut self, op: OpCode, payload: &[u8]) -> Result<(), UsageError> {
        self.begin(self.now);
        let awaiting_close = self.close_sent && self.close_received.is_none();
        if !(awaiting_close && !self.closed && !self.transport_close_requested) {
            self.check_can_send()?;
        }
        if payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(UsageError::ControlPayloadTooLong(payload.len()));
        }
        self.sender
            .frame(&mut self.out, &mut self.events, op as u8, true, 0, payload);
        Ok(())
    }

    /// Writes raw bytes to the output, bypassing every rule: for protocol
    /// testing (sending broken frames on purpose). Allowed once open.
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<(), UsageError> {
        self.begin(self.now);
        if self.phase != Phase::Open || self.closed {
            return Err(UsageError::InvalidState("the connection is not open"));
        }
        self.out.extend_from_slice(bytes);
        Ok(())
    }
}

/// Without the in-place interface (host.rs), it holds nothing.
#[cfg(not(any(target_arch = "wasm32", test)))]
impl Connection {
    fn in_place_capacity(&self) -> usize {
        0
    }

    fn trim_in_place(&mut self) {}
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.role)
            .field("state", &self.state())
            .field("protocol", &self.protocol())
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}
