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

use crate::close::{self, CloseFrame};
use std::sync::Arc;

use crate::config::{Config, Role};
use crate::error::{Error, UsageError};
use crate::event::{flag, tag, Event, EventQueue, MessageKind};
use crate::extension::Extension;
use crate::frame::{OpCode, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN};
use crate::handshake::client::{self, ClientRequest, Response};
use crate::handshake::server::{self, Request};
use crate::handshake::{find_head_end, HandshakeError, Header};
use crate::receiver::Receiver;
use crate::sender::{Sender, Slot};

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

/// How much of a head's first line is checked as it comes (see
/// `check_head_start`): enough to tell an HTTP head from anything else,
/// small enough that a head dripped byte by byte costs little to check.
const EARLY_CHECK: usize = 1024;

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
    /// Output room handed out by `message_buffer`, awaiting `commit_message`.
    slot: Option<Slot>,
    /// Set by `hold_pongs`: owed pongs wait in `held`.
    holding: bool,
    /// The pong owed while holding, for the latest ping (§5.5.3); boxed, as
    /// most connections never hold one.
    held: Option<Box<HeldPong>>,
}

/// Pings answered by no pong yet, while pongs are held.
struct HeldPong {
    /// The latest ping's payload, which the one pong owed carries.
    payload: Vec<u8>,
    /// Pings since the last pong was written.
    pings: u32,
    /// When the first of them came.
    since: u64,
}

/// What only the opening handshake needs; dropped when it ends.
#[derive(Default)]
struct Opening {
    /// Handshake bytes received and not yet consumed.
    head: Vec<u8>,
    /// How far `head` was searched for the blank line.
    head_scanned: usize,
    deadline: Option<u64>,
    /// Client: the request sent, and its key.
    client: Option<(ClientRequest, String)>,
    /// Server: the request read, until it is answered.
    request: Option<Request>,
}

/// The subprotocol and extensions agreed in the opening handshake.
struct Agreed {
    protocol: String,
    extensions: String,
}

impl Connection {
    /// A client connection. Writes the opening request into the output at once.
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
        let key = client::key_from_nonce(nonce);
        let mut out = Vec::new();
        request.write(&key, &mut out)?;
        let mut conn =
            Connection::new(Role::Client, config.into(), Phase::AwaitResponse, seed, now);
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

    /// `seed` is used by a client that masks.
    fn new(role: Role, config: Arc<Config>, phase: Phase, seed: [u8; 32], now: u64) -> Connection {
        let config = Config::normalized_shared(config);
        let seed = (role == Role::Client && !config.disable_masking).then_some(seed);
        Connection {
            role,
            receiver: Receiver::new(role),
            sender: Sender::new(seed, config.send_buffer_size, config.trace_frames),
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
            slot: None,
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

    /// Room for `len` bytes of transport input, for hosts that write it in
    /// place (the wasm host copies each chunk straight here): a pointer to
    /// `len` writable bytes, valid until `commit_input` or any other call.
    /// Null if there is no memory for them: the connection has failed
    /// (`Error::OutOfMemory`), and the input is to be dropped.
    pub fn input_buffer(&mut self, len: usize) -> *mut u8 {
        self.begin(self.now);
        if !self.make_room(len) {
            return std::ptr::null_mut();
        }
        let arena = &mut self.events.arena;
        arena.spare_capacity_mut().as_mut_ptr().cast()
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

    /// Takes `len` bytes the host wrote at `input_buffer`.
    ///
    /// # Safety
    /// The host must have written `len` bytes, with `len` no more than it
    /// asked `input_buffer` for, and made no other call in between.
    pub unsafe fn commit_input(&mut self, len: usize, now: u64) {
        let arena = &mut self.events.arena;
        let start = arena.len();
        assert!(
            len <= arena.capacity() - start,
            "more input than input_buffer reserved"
        );
        // SAFETY: the caller wrote these `len` bytes of spare capacity.
        unsafe { arena.set_len(start + len) };
        self.now = self.now.max(now);
        self.take_input(start, now);
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
                tag::PING if self.config.auto_pong && !self.close_sent => {
                    let payload = self.events.side[e.start..e.start + e.len].to_vec();
                    if self.holding {
                        self.hold_pong(payload);
                    } else {
                        self.write_pong(&payload);
                    }
                }
                tag::CLOSE_RECEIVED if !self.close_sent => {
                    let code = self.close_received.as_ref().and_then(|f| f.code);
                    self.write_close(&CloseFrame {
                        code,
                        reason: String::new(),
                    });
                }
                tag::ERROR => {
                    // §7.1.7: send the close frame (unless one was sent),
                    // then close the transport, waiting for nothing more.
                    let Some(error) = self.error.as_deref() else {
                        continue;
                    };
                    let Some(code) = error.close_code() else {
                        continue;
                    };
                    if !self.close_sent {
                        let reason = error.public_reason();
                        let reason = truncate_utf8(&reason, close::MAX_REASON_LEN).to_owned();
                        self.write_close(&CloseFrame {
                            code: Some(code),
                            reason,
                        });
                    }
                    self.request_transport_close(true);
                }
                _ => {}
            }
        }
    }

    fn write_pong(&mut self, payload: &[u8]) {
        self.sender.frame(
            &mut self.out,
            &mut self.events,
            OpCode::Pong as u8,
            true,
            0,
            payload,
        );
    }

    /// Keeps the pong owed for a ping while pongs are held: one, for the
    /// latest ping. A peer that goes on pinging past `max_held_pings`, or
    /// whose pong stays held for `close_timeout`, is not reading what it
    /// asks for, and the connection fails with 1008.
    fn hold_pong(&mut self, payload: Vec<u8>) {
        let since = self.now;
        let held = self.held.get_or_insert_with(|| {
            Box::new(HeldPong {
                payload: Vec::new(),
                pings: 0,
                since,
            })
        });
        held.payload = payload;
        held.pings += 1;
        let pings = held.pings;
        if pings > self.config.max_held_pings {
            self.fail(Error::PongsUnread { pings });
        }
    }

    /// Whether the pongs the engine owes are written at once (`false`, the
    /// default) or held: the host turns holding on while the transport has
    /// not yet taken the last pong and is behind with the output, so that a
    /// peer that pings and never reads cannot make pongs pile up. While
    /// held, one pong is owed, for the latest ping (§5.5.3 asks no more);
    /// turning holding off writes it. A host that can also stop reading its
    /// transport while a pong is held (`pongs_held`) bounds the work a flood
    /// of pings costs as well; a pong held for `close_timeout` fails the
    /// connection with 1008.
    pub fn hold_pongs(&mut self, hold: bool) {
        self.begin(self.now);
        self.holding = hold;
        if hold {
            return;
        }
        if let Some(held) = self.held.take() {
            if self.phase == Phase::Open && !self.close_sent && !self.closed {
                self.write_pong(&held.payload);
            }
        }
    }

    /// How many pings a held pong answers (0: none is held).
    pub fn pongs_held(&self) -> u32 {
        self.held.as_ref().map_or(0, |h| h.pings)
    }

    /// Marks every event not yet reported as taken, for a host that reads them
    /// straight from memory; returns the first one's index, address and count.
    #[cfg(target_arch = "wasm32")]
    pub(crate) fn report_events(&mut self) -> (usize, *const crate::event::RawEvent, usize) {
        let first = self.events.taken;
        self.events.taken = self.events.raw.len();
        (
            first,
            self.events.raw[first..].as_ptr(),
            self.events.raw.len() - first,
        )
    }

    /// The addresses of the buffers event payloads point into (arena, side).
    #[cfg(target_arch = "wasm32")]
    pub(crate) fn event_buffers(&self) -> (*const u8, *const u8) {
        (self.events.arena.as_ptr(), self.events.side.as_ptr())
    }

    /// Writes the replies owed for events before index `upto`.
    #[cfg(target_arch = "wasm32")]
    pub(crate) fn release_events(&mut self, upto: usize) {
        self.release_through(upto.min(self.events.taken));
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

    // ----- the opening handshake -----

    /// The handshake's state; only called in the `Await…` phases.
    fn opening(&self) -> &Opening {
        self.opening.as_ref().expect("the handshake is under way")
    }

    fn opening_mut(&mut self) -> &mut Opening {
        self.opening.as_mut().expect("the handshake is under way")
    }

    fn handshake_deadline(&self) -> Option<u64> {
        self.opening.as_ref()?.deadline
    }

    fn read_head(&mut self) {
        let o = self.opening_mut();
        // Blank lines before a head are to be ignored (RFC 9112 §2.2).
        let blank = o
            .head
            .iter()
            .take_while(|b| matches!(b, b'\r' | b'\n'))
            .count();
        if blank > 0 {
            o.head.drain(..blank);
            o.head_scanned = o.head_scanned.saturating_sub(blank);
        }
        let limits = self.config.head_limits;
        let scanned_before = self.opening().head_scanned;
        loop {
            let o = self.opening_mut();
            let Some(end) = find_head_end(&o.head, o.head_scanned) else {
                break;
            };
            o.head_scanned = end;
            let done = match self.role {
                Role::Server => self.read_request(end),
                Role::Client => self.read_response(end),
            };
            if done {
                return;
            }
        }
        if scanned_before < EARLY_CHECK && !self.head_can_start() {
            return;
        }
        let o = self.opening_mut();
        o.head_scanned = o.head.len();
        if o.head.len() > limits.max_head_size {
            let limit = limits.max_head_size;
            self.fail(Error::Handshake(HandshakeError::HeadTooLarge { limit }));
        }
    }

    /// Fails a head whose first line already cannot start one (garbage, a
    /// TLS ClientHello sent to a plain port) at once, rather than at the head
    /// limit or the timeout; false if it did.
    fn head_can_start(&mut self) -> bool {
        let head = &self.opening().head;
        let line_end = head
            .iter()
            .position(|&b| b == b'\n')
            .map_or(head.len(), |i| i + 1);
        let line = &head[..line_end.min(EARLY_CHECK)];
        let limits = &self.config.head_limits;
        let verdict = match self.role {
            Role::Server => server::parse_request(line, limits).map(|_| ()),
            Role::Client => client::parse_response(line, limits).map(|_| ()),
        };
        match verdict {
            Err(e @ HandshakeError::Malformed(_)) => {
                self.fail(Error::Handshake(e));
                false
            }
            _ => true,
        }
    }

    /// Server: reads the request head ending at `end`; false if `httparse`
    /// wants more.
    fn read_request(&mut self, end: usize) -> bool {
        let head = &self.opening().head[..end];
        let parsed = server::parse_request(head, &self.config.head_limits);
        if let Ok(None) = parsed {
            return false;
        }
        self.keep_head(false, end);
        self.opening_mut().head.drain(..end);
        match parsed {
            Ok(request) => {
                self.opening_mut().request = request.map(|(r, _)| r);
                self.phase = Phase::AwaitAnswer;
                self.events.push_side(tag::REQUEST, 0, b"", 0.0);
            }
            Err(e) => self.fail(Error::Handshake(e)),
        }
        true
    }

    /// Client: reads and checks the response head ending at `end`, then
    /// reads the frames that came with it; false if `httparse` wants more.
    fn read_response(&mut self, end: usize) -> bool {
        let head = &self.opening().head[..end];
        let response = match client::parse_response(head, &self.config.head_limits) {
            Ok(None) => return false,
            Ok(Some((response, _))) => response,
            Err(e) => {
                self.fail(Error::Handshake(e));
                return true;
            }
        };
        self.keep_head(false, end);
        let (request, key) = (self.opening().client.as_ref()).expect("clients keep their request");
        let checked = client::check_response(&response, key, request);
        self.response = Some(Box::new(response));
        match checked {
            Ok(negotiated) => {
                let extensions = negotiated.extensions_value();
                let protocol = negotiated.protocol.unwrap_or_default();
                self.agree(protocol, extensions);
                let opening = self.opening.take().expect("the handshake is under way");
                self.open();
                self.read_early_frames(&opening.head[end..]);
            }
            Err(e) => self.fail(Error::Handshake(e)),
        }
        true
    }

    fn agree(&mut self, protocol: String, extensions: String) {
        if !protocol.is_empty() || !extensions.is_empty() {
            self.agreed = Some(Box::new(Agreed {
                protocol,
                extensions,
            }));
        }
    }

    /// Ends the handshake; the caller has taken `opening`.
    fn open(&mut self) {
        self.phase = Phase::Open;
        self.last_heard = self.now;
        let names = [self.protocol().as_bytes(), self.extensions().as_bytes()].concat();
        self.events
            .push_side(tag::OPEN, self.protocol().len() as u32, &names, 0.0);
    }

    /// Server: completes the handshake with a 101 answer. `protocol` must be
    /// one the client offered; `extensions` is the accepted extensions as one
    /// `Sec-WebSocket-Extensions` value. Frames that came early are read now.
    pub fn accept(
        &mut self,
        protocol: Option<&str>,
        extensions: Option<&str>,
        headers: &[Header],
    ) -> Result<(), UsageError> {
        self.begin(self.now);
        if self.phase != Phase::AwaitAnswer || self.closed || self.error.is_some() {
            return Err(UsageError::InvalidState(
                "no opening request awaits an answer",
            ));
        }
        // The field itself, not `opening()`: `out` is borrowed beside it.
        let opening = self.opening.as_deref();
        let request = opening.and_then(|o| o.request.as_ref());
        let request = request.expect("a request awaits an answer");
        let start = self.out.len();
        server::accept_response(request, protocol, extensions, headers, &mut self.out)?;
        self.keep_head(true, start);
        let protocol = protocol.unwrap_or_default().to_owned();
        self.agree(protocol, extensions.unwrap_or_default().to_owned());
        let opening = self.opening.take().expect("the handshake is under way");
        self.open();
        self.read_early_frames(&opening.head);
        Ok(())
    }

    /// With tracing on, keeps a copy of the head just sent (at `out[at..]`)
    /// or received (at `head[..at]`).
    fn keep_head(&mut self, sent: bool, at: usize) {
        if !self.config.trace_frames {
            return;
        }
        let heads = self.heads.get_or_insert_with(Box::default);
        if sent {
            heads.0 = self.out[at..].to_vec();
        } else if let Some(opening) = &self.opening {
            heads.1 = opening.head[..at].to_vec();
        }
    }

    /// Server: refuses the handshake with an HTTP status (300–599) and a
    /// plain-text reason, then asks for the transport to be closed.
    pub fn reject(
        &mut self,
        status: u16,
        body: &str,
        headers: &[Header],
    ) -> Result<(), UsageError> {
        self.begin(self.now);
        if self.phase != Phase::AwaitAnswer || self.closed {
            return Err(UsageError::InvalidState(
                "no opening request awaits an answer",
            ));
        }
        let start = self.out.len();
        server::reject_response(status, body, headers, &mut self.out)?;
        self.keep_head(true, start);
        self.refuse();
        Ok(())
    }

    /// Ends a handshake that will not open: a server still writes its answer
    /// (a refusal), a client has nothing left to say.
    fn refuse(&mut self) {
        self.phase = Phase::Refused;
        self.opening = None;
        self.request_transport_close(self.role == Role::Server);
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

    /// Room in the output for a message of up to `max_len` bytes that the
    /// host writes in place (the wasm host encodes text straight into it): a
    /// pointer valid until `commit_message` or any other call. Null if there
    /// is no memory for it: the connection has failed (`Error::OutOfMemory`),
    /// as WHATWG closes a WebSocket whose send cannot be buffered.
    pub fn message_buffer(&mut self, max_len: usize) -> *mut u8 {
        self.begin(self.now);
        let Some(slot) = self.sender.reserve(&mut self.out, max_len) else {
            self.slot = None;
            self.fail(Error::OutOfMemory { bytes: max_len });
            return std::ptr::null_mut();
        };
        self.slot = Some(slot);
        // SAFETY: `reserve` made room for the header and `max_len` bytes.
        unsafe { self.out.as_mut_ptr().add(slot.payload_at()) }
    }

    /// Sends the message of `len` bytes the host wrote at `message_buffer`.
    ///
    /// # Safety
    /// The host must have written `len` bytes, no more than it asked
    /// `message_buffer` for, and made no other call in between. Text must
    /// be UTF-8.
    pub unsafe fn commit_message(
        &mut self,
        kind: MessageKind,
        len: usize,
    ) -> Result<(), UsageError> {
        let slot = self
            .slot
            .take()
            .ok_or(UsageError::InvalidState("no message_buffer to commit"))?;
        self.check_can_send()?;
        let ext = self.extension.as_deref_mut();
        // SAFETY: the slot is the last one reserved, and the caller wrote the payload.
        unsafe {
            self.sender
                .commit(&mut self.out, &mut self.events, slot, kind, len, ext)
        }
    }

    /// For a host that writes big payloads itself, one copy fewer: the header
    /// of a binary message of `len` bytes sent as one unmasked frame. The
    /// host writes it and then the payload at the current end of the output,
    /// after the `pending_output()` bytes already there. `None` when the
    /// message cannot go out that way (a client masks; an extension, the
    /// send buffer size or tracing apply; a fragmented send is open): send
    /// it with `send_binary` then.
    pub fn host_binary_header(
        &mut self,
        len: usize,
    ) -> Result<Option<([u8; MAX_HEADER_LEN], usize)>, UsageError> {
        self.begin(self.now);
        self.check_can_send()?;
        Ok(self.sender.host_header(len, self.extension.is_some()))
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

    fn control(&mut self, op: OpCode, payload: &[u8]) -> Result<(), UsageError> {
        self.begin(self.now);
        self.check_can_send()?;
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

    // ----- closing -----

    /// Starts the closing handshake as an application may (WHATWG `close()`):
    /// `code` is 1000 or 3000–4999, or `None` for a close without status; the
    /// reason is at most 123 bytes. While CONNECTING this abandons the
    /// handshake; once closing has begun it does nothing.
    pub fn close(&mut self, code: Option<u16>, reason: &str) -> Result<(), UsageError> {
        if let Some(c) = code.filter(|c| !close::is_app_code(*c)) {
            return Err(UsageError::InvalidCloseCode(c));
        }
        self.close_with_status(code, reason)
    }

    /// Starts the closing handshake with any code valid on the wire, such as
    /// 1001 when a server shuts down or 1008 for a policy violation.
    pub fn close_with_status(&mut self, code: Option<u16>, reason: &str) -> Result<(), UsageError> {
        let frame = CloseFrame::new(code, reason)?;
        self.begin(self.now);
        if self.closed || self.close_sent {
            return Ok(());
        }
        if self.phase != Phase::Open {
            self.abort();
            return Ok(());
        }
        self.write_close(&frame);
        Ok(())
    }

    /// Gives up on the connection at once: asks for the transport to be
    /// closed without a closing handshake (websocket.dll's abort).
    pub fn abort(&mut self) {
        self.begin(self.now);
        if self.closed {
            return;
        }
        self.receiver.stop();
        if let Some(opening) = &mut self.opening {
            opening.deadline = None;
        }
        self.request_transport_close(false);
    }

    fn write_close(&mut self, frame: &CloseFrame) {
        self.sender.frame(
            &mut self.out,
            &mut self.events,
            OpCode::Close as u8,
            true,
            0,
            &frame.payload(),
        );
        self.close_sent = true;
        if self.close_received.is_some() {
            self.closing_handshake_done();
        } else {
            self.close_deadline = Some(self.now.saturating_add(self.config.close_timeout));
        }
    }

    /// Both close frames have crossed: the server closes the transport now; the
    /// client gives the server `close_timeout` to do so first (§7.1.1).
    fn closing_handshake_done(&mut self) {
        match self.role {
            Role::Server => self.request_transport_close(true),
            Role::Client => {
                self.close_deadline = Some(self.now.saturating_add(self.config.close_timeout))
            }
        }
    }

    /// Asks the host to close the transport: `graceful` after writing what
    /// is pending (a close frame, a refusal), otherwise at once, because the
    /// engine has given up and expects nothing more (its own deadline already
    /// did the waiting).
    fn request_transport_close(&mut self, graceful: bool) {
        self.close_deadline = None;
        if !self.transport_close_requested && !self.closed {
            self.transport_close_requested = true;
            self.events
                .push_side(tag::CLOSE_TRANSPORT, graceful as u32, b"", 0.0);
        }
    }

    /// Fails the connection (§7.1.7). A protocol error's close frame is written
    /// when its `Event::Error` is taken (the receiver by then skips everything
    /// but the peer's close); other failures close the transport.
    fn fail(&mut self, error: Error) {
        if self.error.is_some() {
            return;
        }
        let message = error.to_string();
        let code = error.close_code().unwrap_or(0);
        if let Error::Handshake(e) = &error {
            if self.role == Role::Server && self.phase == Phase::AwaitRequest && !self.closed {
                let body = e.public_reason();
                let _ = server::reject_response(e.status(), &body, &[], &mut self.out);
            }
        }
        let sends_close = error.close_code().is_some();
        self.error = Some(Box::new(error));
        self.events
            .push_side(tag::ERROR, code as u32, message.as_bytes(), 0.0);
        if sends_close {
            // Its close frame is written, and the transport closed, when the
            // event is taken (`release_through`), after the events before it.
            self.receiver.stop();
            return;
        }
        if self.phase != Phase::Open {
            self.refuse();
        } else {
            self.receiver.stop();
            self.request_transport_close(false);
        }
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn truncate_utf8(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ProtocolError;
    use crate::testkit::*;

    fn client(config: Config) -> Connection {
        let mut req = ClientRequest::new("server.example.com", "/chat");
        req.protocols = vec!["chat".into(), "superchat".into()];
        Connection::client(req, config, NONCE, [1; 32], 0).unwrap()
    }

    #[test]
    fn a_server_host_writes_big_payloads_where_the_engine_says() {
        let mut s = open_server(Config::default());
        s.send_text("before").unwrap();
        let at = s.pending_output();
        let payload = vec![9u8; 100_000];
        let (header, n) = s.host_binary_header(payload.len()).unwrap().unwrap();
        s.send_text("after").unwrap();
        let out = s.take_output();
        let wire = [&out[..at], &header[..n], &payload, &out[at..]].concat();
        let mut c = open_client(Config::default());
        assert_eq!(
            feed(&mut c, &wire),
            [text("before"), binary(&payload), text("after")]
        );
        // Clients mask, so their host cannot; nor can anyone once closing.
        assert_eq!(c.host_binary_header(10).unwrap(), None);
        s.close(Some(1000), "").unwrap();
        assert!(s.host_binary_header(10).is_err());
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
}
