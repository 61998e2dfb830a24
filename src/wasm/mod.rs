//! The engine's face to JavaScript (wasm32 only): one `Engine` per connection.
//!
//! The surface is flat on purpose. Bytes cross through a staging buffer in
//! wasm memory that JS writes into (`staging_area`), so a transport chunk or an
//! outgoing message costs one copy and one call. After every call the engine
//! fills a small `Report` (its address is fixed, read once by JS) with where the
//! new events and the output lie in memory; JS reads them through one
//! `DataView`, so no JS object is made per event on the Rust side. Commands
//! answer with a status number (0 = done) rather than a thrown error, so the
//! hot paths allocate nothing; `last_error` has the words.
//!
//! Contract with the JS host: read the reported events and output right after
//! the call that reported them, before the next call (which may reuse the
//! memory). Where things lie in memory, and what the numbers mean, is
//! `contract`.

#[cfg(feature = "component")]
mod component;
mod contract;

use std::cell::RefCell;
use std::sync::Arc;

use wasm_bindgen::prelude::*;

use crate::close;
use crate::config::{Config, SharedConfig};
use crate::connection::Connection;
use crate::deflate::{DeflateOptions, Fresh, PerMessageDeflate};
use crate::error::UsageError;
use crate::event::MessageKind;
use crate::extension::{Negotiator, Negotiators};
use crate::handshake::{self, client::ClientRequest, HandshakeError, HeadLimits};
use crate::mask;
use crate::publish::{Framer, Shared};
use crate::Error;
use contract::Report;
pub use contract::{contract, status};

/// Limits and switches for a connection; defaults as in `Config`.
#[wasm_bindgen]
#[derive(Clone)]
pub struct EngineConfig {
    /// Largest message in bytes.
    pub max_message_size: f64,
    /// Largest frame in bytes.
    pub max_frame_size: f64,
    /// Largest handshake head in bytes.
    pub max_head_size: u32,
    /// Most handshake header fields.
    pub max_headers: u32,
    /// Deliver messages piece by piece.
    pub streaming: bool,
    /// Largest piece in streaming mode.
    pub receive_buffer_size: u32,
    /// Largest outgoing frame payload (0 = never split).
    pub send_buffer_size: u32,
    /// Answer pings automatically.
    pub auto_pong: bool,
    /// Most pings while a pong is held.
    pub max_held_pings: u32,
    /// Trusted links only: no masking.
    pub disable_masking: bool,
    /// Check that text is UTF-8.
    pub validate_utf8: bool,
    /// Keepalive ping interval in ms (0 = off).
    pub keepalive_interval: f64,
    /// Opening handshake timeout in ms (0 = none).
    pub handshake_timeout: f64,
    /// Closing handshake timeout in ms.
    pub close_timeout: f64,
    /// Report every frame as an event.
    pub trace_frames: bool,
    /// Binary messages of at least this many bytes in one frame are
    /// assembled by the host (0 = never).
    pub host_assembly: f64,
    /// Offer (client) or accept (server) permessage-deflate, with the
    /// `deflate_*` settings (see `deflate::DeflateOptions`).
    pub deflate: bool,
    /// The server starts every compressed message afresh.
    pub deflate_server_no_context_takeover: bool,
    /// The client starts every compressed message afresh.
    pub deflate_client_no_context_takeover: bool,
    /// The server's largest window, 8–15 (0 = no limit).
    pub deflate_server_max_window_bits: u8,
    /// The client's largest window, 8–15 (0 = no limit).
    pub deflate_client_max_window_bits: u8,
    /// Messages shorter than this are sent uncompressed.
    pub deflate_threshold: u32,
    /// zlib's compression level, 0–9.
    pub deflate_level: u8,
    /// Every engine made while these fields stay the same shares one
    /// `Config` (a server's connections).
    shared: SharedConfig,
    /// The negotiator last made, made again only when the settings change.
    negotiator: RefCell<Option<Arc<PerMessageDeflate>>>,
}

#[wasm_bindgen]
impl EngineConfig {
    /// The defaults.
    #[wasm_bindgen(constructor)]
    pub fn new() -> EngineConfig {
        let c = Config::default();
        let d = DeflateOptions::default();
        EngineConfig {
            max_message_size: c.max_message_size as f64,
            max_frame_size: c.max_frame_size as f64,
            max_head_size: c.head_limits.max_head_size as u32,
            max_headers: c.head_limits.max_headers as u32,
            streaming: c.streaming,
            receive_buffer_size: c.receive_buffer_size as u32,
            send_buffer_size: 0,
            auto_pong: c.auto_pong,
            max_held_pings: c.max_held_pings,
            disable_masking: c.disable_masking,
            validate_utf8: c.validate_utf8,
            keepalive_interval: c.keepalive_interval.unwrap_or(0) as f64,
            handshake_timeout: c.handshake_timeout.unwrap_or(0) as f64,
            close_timeout: c.close_timeout as f64,
            trace_frames: c.trace_frames,
            host_assembly: c.host_assembly.unwrap_or(0) as f64,
            deflate: false,
            deflate_server_no_context_takeover: d.server_no_context_takeover,
            deflate_client_no_context_takeover: d.client_no_context_takeover,
            deflate_server_max_window_bits: 0,
            deflate_client_max_window_bits: 0,
            deflate_threshold: d.threshold as u32,
            deflate_level: d.level,
            shared: SharedConfig::default(),
            negotiator: RefCell::default(),
        }
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// A message framed once for a server's connections (`publish`): its frame
/// lies at `ptr()` for `len()` bytes until the next call into the engine.
#[wasm_bindgen]
pub struct SharedFrame {
    shared: Shared,
    bytes: Vec<u8>,
}

#[wasm_bindgen]
impl SharedFrame {
    /// Where the frame lies in wasm memory.
    pub fn ptr(&self) -> u32 {
        self.bytes.as_ptr() as u32
    }

    /// The frame's length.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.bytes.len()
    }
}

thread_local! {
    /// One framer for every publish, so its compressor is made once.
    static FRAMER: RefCell<Framer> = RefCell::default();
}

#[wasm_bindgen]
impl EngineConfig {
    /// Frames `len` staged bytes (kind 1 text, 2 binary) as a server with
    /// this config would for a connection that takes `SharedFrame`s
    /// (`Engine::send_shared`): compressed as its permessage-deflate does
    /// without context takeover if `deflate`, else as they are.
    pub fn frame_shared(&self, kind: u8, len: usize, deflate: bool) -> SharedFrame {
        let encoding = deflate.then(|| Fresh::server(&self.deflate_options()));
        let mut bytes = Vec::new();
        let shared = with_staged(len, |message| {
            FRAMER.with_borrow_mut(|f| f.frame(message_kind(kind), message, encoding, &mut bytes))
        });
        SharedFrame { shared, bytes }
    }

    /// The header alone of an uncompressed message of `len` bytes framed for
    /// many connections, which the host follows with the payload itself.
    pub fn shared_header(&self, kind: u8, len: usize) -> SharedFrame {
        let mut bytes = Vec::new();
        let shared = Framer::header(message_kind(kind), len, &mut bytes);
        SharedFrame { shared, bytes }
    }
}

impl EngineConfig {
    fn to_config(&self) -> Config {
        let positive = |v: f64| (v > 0.0).then_some(v as u64);
        Config {
            max_message_size: self.max_message_size as u64,
            max_frame_size: self.max_frame_size as u64,
            head_limits: HeadLimits {
                max_head_size: self.max_head_size as usize,
                max_headers: self.max_headers as usize,
            },
            streaming: self.streaming,
            receive_buffer_size: self.receive_buffer_size as usize,
            send_buffer_size: match self.send_buffer_size {
                0 => usize::MAX,
                n => n as usize,
            },
            auto_pong: self.auto_pong,
            answer_close: true,
            max_held_pings: self.max_held_pings,
            disable_masking: self.disable_masking,
            zero_mask_keys: false,
            validate_utf8: self.validate_utf8,
            keepalive_interval: positive(self.keepalive_interval),
            handshake_timeout: positive(self.handshake_timeout),
            close_timeout: self.close_timeout.max(0.0) as u64,
            trace_frames: self.trace_frames,
            host_assembly: positive(self.host_assembly),
            extensions: Negotiators(self.negotiators()),
        }
    }

    fn deflate_options(&self) -> DeflateOptions {
        let bits = |b: u8| (b != 0).then_some(b);
        DeflateOptions {
            server_no_context_takeover: self.deflate_server_no_context_takeover,
            client_no_context_takeover: self.deflate_client_no_context_takeover,
            server_max_window_bits: bits(self.deflate_server_max_window_bits),
            client_max_window_bits: bits(self.deflate_client_max_window_bits),
            threshold: self.deflate_threshold as usize,
            level: self.deflate_level,
        }
    }

    /// permessage-deflate's negotiator when it is on: the one made last
    /// time if the settings are the same, so configs alike stay equal at
    /// the cost of a pointer comparison.
    fn negotiators(&self) -> Vec<Arc<dyn Negotiator>> {
        if !self.deflate {
            return Vec::new();
        }
        let wanted = PerMessageDeflate {
            options: self.deflate_options(),
        };
        let mut last = self.negotiator.borrow_mut();
        let negotiator = match last.as_ref() {
            Some(n) if **n == wanted => Arc::clone(n),
            _ => Arc::clone(last.insert(Arc::new(wanted))),
        };
        vec![negotiator]
    }
}

/// One WebSocket connection's engine.
#[wasm_bindgen]
pub struct Engine {
    conn: Connection,
    /// Read by JS at the address `report()` gives. Kept inline: wasm-bindgen
    /// keeps each exported value in one heap cell for its whole life and
    /// hands JS a pointer to it, so the address never changes.
    /// Its `output_len` is also what the next call consumes: JS has copied
    /// the output it reported by then.
    report: Report,
    /// What `host_window` answers for the last `host_frame`.
    host_window: usize,
}

thread_local! {
    // Scratch every engine shares: JS writes a payload into the staging area
    // and makes the call that takes it right away, and reads `last_error`
    // right after the call that failed. One of each, not one per connection,
    // which a server has by the thousand.
    static STAGING: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Staging capacity kept between calls; a bigger payload's room is freed.
const STAGING_KEEP: usize = 64 * 1024;

/// A staging area of at least `len` bytes, shared by all engines; its
/// address, valid until the next call. 0 if there is no memory for it (a
/// failed allocation must not abort inside the borrow every engine shares).
#[wasm_bindgen]
pub fn staging_area(len: usize) -> u32 {
    STAGING.with_borrow_mut(|s| {
        if s.len() < len {
            if s.try_reserve_exact(len - s.len()).is_err() {
                return 0;
            }
            s.resize(len, 0);
        }
        s.as_mut_ptr() as u32
    })
}

/// Runs `f` on the first `len` staged bytes, then lets go of a large area.
fn with_staged<R>(len: usize, f: impl FnOnce(&[u8]) -> R) -> R {
    STAGING.with_borrow_mut(|s| {
        let r = f(&s[..len.min(s.len())]);
        if s.len() > STAGING_KEEP {
            *s = Vec::new();
        }
        r
    })
}

/// Why the last refused command (of any engine) was refused.
#[wasm_bindgen]
pub fn last_error() -> String {
    LAST_ERROR.with_borrow(|e| e.clone())
}

fn now_ms(now: f64) -> u64 {
    if now.is_finite() && now > 0.0 {
        now as u64
    } else {
        0
    }
}

/// Pairs up a flat `[name, value, name, value, …]` list.
fn pairs(flat: Vec<String>) -> Vec<handshake::Header> {
    let mut it = flat.into_iter();
    let mut out = Vec::new();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    out
}

fn flatten(headers: &[handshake::Header]) -> Vec<String> {
    headers
        .iter()
        .flat_map(|(k, v)| [k.clone(), v.clone()])
        .collect()
}

fn usage_status(e: &UsageError) -> u32 {
    match e {
        UsageError::InvalidState(_) => status::INVALID_STATE,
        UsageError::InvalidCloseCode(_) => status::INVALID_CODE,
        UsageError::CloseReasonTooLong(_)
        | UsageError::InvalidProtocol(_)
        | UsageError::DuplicateProtocol(_)
        | UsageError::InvalidHeaderName(_)
        | UsageError::InvalidHeaderValue(_)
        | UsageError::ReservedHeader(_)
        | UsageError::InvalidExtension(_)
        | UsageError::InvalidTarget(_) => status::SYNTAX,
        _ => status::OTHER,
    }
}

/// Checks a WHATWG constructor's subprotocol list (RFC 6455 tokens, no
/// duplicates ignoring case). Returns "" or the reason it is refused.
#[wasm_bindgen]
pub fn check_protocols(protocols: Vec<String>) -> String {
    match handshake::check_protocols(&protocols) {
        Ok(()) => String::new(),
        Err(e) => e.to_string(),
    }
}

/// Checks the arguments of a WHATWG `close(code, reason)` whatever the state:
/// code -1 (absent), 1000 or 3000–4999, reason at most 123 bytes.
#[wasm_bindgen]
pub fn check_close(code: i32, reason: &str) -> u32 {
    let code = match code {
        -1 => None,
        c => match u16::try_from(c) {
            Ok(c) if close::is_app_code(c) => Some(c),
            _ => return status::INVALID_CODE,
        },
    };
    match close::CloseFrame::new(code, reason) {
        Ok(_) => status::OK,
        Err(e) => usage_status(&e),
    }
}

/// Checks a close frame's code and reason as the engine would send them (any
/// code valid on the wire), for hosts that must answer before the close is sent.
#[wasm_bindgen]
pub fn check_close_frame(code: u16, reason: &str) -> u32 {
    match close::CloseFrame::new(Some(code), reason) {
        Ok(_) => status::OK,
        Err(e) => usage_status(&e),
    }
}

/// The wasm memory, for the JS host's views.
#[wasm_bindgen]
pub fn wasm_memory() -> JsValue {
    wasm_bindgen::memory()
}

#[wasm_bindgen]
impl Engine {
    /// A client engine; its opening request is in the output at once.
    /// `headers` is a flat `[name, value, …]` list; `nonce` 16 and `seed` 32
    /// bytes of entropy.
    #[allow(clippy::too_many_arguments)]
    pub fn client(
        config: &EngineConfig,
        host: String,
        resource: String,
        protocols: Vec<String>,
        extensions: Vec<String>,
        origin: Option<String>,
        headers: Vec<String>,
        nonce: &[u8],
        seed: &[u8],
        now: f64,
    ) -> Result<Engine, JsError> {
        let request = ClientRequest {
            host,
            resource,
            protocols,
            extensions,
            origin,
            headers: pairs(headers),
        };
        let nonce: [u8; 16] = nonce
            .try_into()
            .map_err(|_| JsError::new("nonce must be 16 bytes"))?;
        let seed: [u8; 32] = seed
            .try_into()
            .map_err(|_| JsError::new("seed must be 32 bytes"))?;
        let conn = Connection::client(
            request,
            config.shared.get(config.to_config()),
            nonce,
            seed,
            now_ms(now),
        )
        .map_err(|e| JsError::new(&e.to_string()))?;
        Ok(Engine::wrap(conn))
    }

    /// A server engine, waiting for the opening request.
    pub fn server(config: &EngineConfig, now: f64) -> Engine {
        Engine::wrap(Connection::server(
            config.shared.get(config.to_config()),
            now_ms(now),
        ))
    }

    fn wrap(conn: Connection) -> Engine {
        let mut e = Engine {
            conn,
            report: Report::default(),
            host_window: 0,
        };
        e.finish();
        e
    }

    /// Address of the `Report`, fixed for the engine's life.
    pub fn report(&self) -> u32 {
        &self.report as *const Report as u32
    }

    /// Room for `len` bytes of transport input, written in place where the
    /// engine will parse them; its address, valid until `receive`. 0 if
    /// there is no memory for them: the connection has failed, the input is
    /// dropped, and the failure is reported.
    pub fn input(&mut self, len: usize) -> u32 {
        self.start();
        let at = self.conn.input_buffer(len);
        self.address(at)
    }

    /// Takes `len` bytes of transport input the host wrote at `input`.
    pub fn receive(&mut self, len: usize, now: f64) {
        // SAFETY: the JS host writes `len` bytes at the address `input(len)`
        // returned and calls nothing else in between (engine.js `receive`).
        unsafe { self.conn.commit_input(len, now_ms(now)) };
        self.finish();
    }

    /// The host copied `len` bytes of a direct message's payload from its
    /// input itself (`Connection::host_payload`).
    pub fn host_payload(&mut self, len: usize, now: f64) -> u32 {
        self.start();
        let r = self.conn.host_payload(len, now_ms(now));
        self.done(r)
    }

    /// Frees the buffers a quiet connection does not need (`Connection::trim`).
    pub fn trim(&mut self) {
        self.start();
        self.conn.trim();
        self.finish();
    }

    /// Holds owed pongs, coalesced, or writes the held one
    /// (`Connection::hold_pongs`).
    pub fn hold_pongs(&mut self, hold: bool) {
        self.start();
        self.conn.hold_pongs(hold);
        self.finish();
    }

    /// The transport ended or failed.
    pub fn transport_closed(&mut self, now: f64) {
        self.start();
        self.conn.transport_closed(now_ms(now));
        self.finish();
    }

    /// A deadline passed.
    pub fn handle_timeout(&mut self, now: f64) {
        self.start();
        self.conn.handle_timeout(now_ms(now));
        self.finish();
    }

    /// Writes the replies owed for reported events before index `upto`
    /// (`first_event` + position in the batch + 1).
    pub fn release(&mut self, upto: usize) {
        self.start();
        self.conn.release_events(upto);
        self.finish();
    }

    /// Writes every owed reply and reports the output to hand to the transport.
    pub fn flush(&mut self) {
        self.start();
        let out = self.conn.output();
        self.report.output = out.as_ptr() as u32;
        self.report.output_len = out.len() as u32;
        self.finish();
    }

    /// Room in the output for a message of up to `max_len` bytes, which JS
    /// writes in place (text straight from `TextEncoder.encodeInto`); its
    /// address, valid until `commit_message`. 0 if there is no memory for
    /// it: the connection has failed, and the failure is reported.
    pub fn message_buffer(&mut self, max_len: usize) -> u32 {
        self.start();
        let at = self.conn.message_buffer(max_len);
        self.address(at)
    }

    /// Sends the message of `len` bytes written at `message_buffer`; kind 1
    /// is text (UTF-8 from `TextEncoder`), 2 binary.
    pub fn commit_message(&mut self, kind: u8, len: usize) -> u32 {
        // No `start()` here: the output must not move between the two calls.
        // SAFETY: the JS host wrote `len` bytes at the address `message_buffer`
        // returned and called nothing else in between (engine.js `send`).
        let r = unsafe { self.conn.commit_message(message_kind(kind), len) };
        self.done(r)
    }

    /// The header of a message of `len` bytes the host writes itself, kind
    /// 1 text (UTF-8 from `TextEncoder`), 2 binary (`Connection::host_frame`),
    /// put at the staging area; its length, or 0 when the message must be
    /// sent the usual way. If `host_window` then says so, the payload goes
    /// through `mask_window` before the host writes it.
    pub fn host_frame(&mut self, kind: u8, len: usize) -> usize {
        self.start();
        let header = self.conn.host_frame(message_kind(kind), len);
        self.finish();
        match header {
            Ok(Some(h)) if staging_area(h.len.max(mask::WINDOW)) != 0 => {
                STAGING.with_borrow_mut(|s| s[..h.len].copy_from_slice(&h.bytes[..h.len]));
                self.host_window = if h.mask.is_some() { mask::WINDOW } else { 0 };
                h.len
            }
            _ => 0,
        }
    }

    /// The most payload bytes per `mask_window` for the last `host_frame`,
    /// or 0 when its payload goes out as it is (unmasked).
    pub fn host_window(&self) -> usize {
        self.host_window
    }

    /// Masks the `len` bytes the host put at the staging area, the next
    /// window of the last `host_frame`'s payload
    /// (`Connection::mask_host_window`).
    pub fn mask_window(&mut self, len: usize) -> u32 {
        // No `start()`: the frame's place in the output must not move.
        let r = STAGING.with_borrow_mut(|s| match s.get_mut(..len) {
            Some(window) => self.conn.mask_host_window(window),
            None => Err(UsageError::InvalidState("a window beyond the staging area")),
        });
        self.done(r)
    }

    /// Whether this connection takes `frame` as its next message
    /// (`Connection::send_shared`); if so the host writes the frame's bytes
    /// at the current end of the output. False also where no message may
    /// be sent now (closing).
    pub fn send_shared(&mut self, frame: &SharedFrame) -> bool {
        self.start();
        let taken = self.conn.send_shared(&frame.shared);
        self.finish();
        taken == Ok(true)
    }

    /// Sends the next piece of a message sent piece by piece.
    pub fn send_fragment(&mut self, kind: u8, len: usize, fin: bool) -> u32 {
        self.start();
        let r = with_staged(len, |data| {
            self.conn.send_fragment(message_kind(kind), data, fin)
        });
        self.done(r)
    }

    /// Sends a ping (`pong = false`) or pong with `len` staged bytes.
    pub fn control(&mut self, pong: bool, len: usize) -> u32 {
        self.start();
        let conn = &mut self.conn;
        let r = with_staged(len, |data| match pong {
            true => conn.pong(data),
            false => conn.ping(data),
        });
        self.done(r)
    }

    /// Writes `len` staged bytes as they are (protocol testing).
    pub fn send_raw(&mut self, len: usize) -> u32 {
        self.start();
        let r = with_staged(len, |data| self.conn.send_raw(data));
        self.done(r)
    }

    /// WHATWG `close()`: code -1 for none; 1000 or 3000–4999 otherwise.
    pub fn close(&mut self, code: i32, reason: &str) -> u32 {
        self.start();
        let r = match u16::try_from(code) {
            Ok(c) => self.conn.close(Some(c), reason),
            Err(_) if code == -1 => self.conn.close(None, reason),
            Err(_) => Err(UsageError::InvalidCloseCode(u16::MAX)),
        };
        self.done(r)
    }

    /// Closes with any code valid on the wire (1001 on shutdown, …).
    pub fn close_with_status(&mut self, code: u16, reason: &str) -> u32 {
        self.start();
        let r = self.conn.close_with_status(Some(code), reason);
        self.done(r)
    }

    /// Gives up at once: the transport should be closed.
    pub fn abort(&mut self) {
        self.start();
        self.conn.abort();
        self.finish();
    }

    /// Server: accepts the opening request.
    pub fn accept(
        &mut self,
        protocol: Option<String>,
        extensions: Option<String>,
        headers: Vec<String>,
    ) -> u32 {
        self.start();
        let r = self
            .conn
            .accept(protocol.as_deref(), extensions.as_deref(), &pairs(headers));
        self.done(r)
    }

    /// Server: refuses the opening request with an HTTP status.
    pub fn reject(&mut self, status: u16, body: &str, headers: Vec<String>) -> u32 {
        self.start();
        let r = self.conn.reject(status, body, &pairs(headers));
        self.done(r)
    }

    /// The config's `close_timeout` in ms: how long a closing connection may
    /// wait for its peer, which the host also gives its transport to drain.
    pub fn close_timeout(&self) -> f64 {
        self.conn.config().close_timeout as f64
    }

    /// The agreed subprotocol.
    pub fn protocol(&self) -> String {
        self.conn.protocol().to_owned()
    }

    /// The agreed extensions.
    pub fn extensions(&self) -> String {
        self.conn.extensions().to_owned()
    }

    /// Server: the opening request in one string, parts joined by NUL (which
    /// no part can hold): the path, the host, the extension offers, the
    /// number of subprotocols and each of them, then every header as name
    /// and value.
    /// One string crosses to JS instead of one per part.
    pub fn request_summary(&self) -> String {
        let Some(r) = self.conn.request() else {
            return String::new();
        };
        let offers: Vec<String> = r.extensions.iter().map(ToString::to_string).collect();
        let mut parts = vec![
            r.path.clone(),
            r.host.clone(),
            offers.join(", "),
            r.protocols.len().to_string(),
        ];
        parts.extend(r.protocols.iter().cloned());
        parts.extend(flatten(&r.headers));
        parts.join("\0")
    }

    /// Client: the status and headers of a refused handshake (e.g. a redirect),
    /// flat `[status, name, value, …]`; empty otherwise.
    pub fn refusal(&self) -> Vec<String> {
        match self.conn.error() {
            Some(Error::Handshake(HandshakeError::Status {
                status, headers, ..
            })) => {
                let mut v = vec![status.to_string()];
                v.extend(flatten(headers));
                v
            }
            _ => Vec::new(),
        }
    }

    /// The close code the failure sent, if the connection failed with a protocol error.
    pub fn error_code(&self) -> u16 {
        self.conn.error().and_then(Error::close_code).unwrap_or(0)
    }

    /// With tracing on: the handshake head this engine wrote.
    pub fn sent_head(&self) -> String {
        String::from_utf8_lossy(self.conn.handshake_heads().0).into_owned()
    }

    /// With tracing on: the handshake head this engine read.
    pub fn received_head(&self) -> String {
        String::from_utf8_lossy(self.conn.handshake_heads().1).into_owned()
    }
}

fn message_kind(kind: u8) -> MessageKind {
    if kind == MessageKind::Text as u8 {
        MessageKind::Text
    } else {
        MessageKind::Binary
    }
}

impl Engine {
    /// Start of every call: the output reported last time has been copied.
    fn start(&mut self) {
        let reported = std::mem::take(&mut self.report.output_len);
        self.conn.consume_output(reported as usize);
    }

    fn done(&mut self, r: Result<(), UsageError>) -> u32 {
        let code = match r {
            Ok(()) => status::OK,
            Err(e) => {
                LAST_ERROR.with_borrow_mut(|last| *last = e.to_string());
                usage_status(&e)
            }
        };
        self.finish();
        code
    }

    /// Room the engine made, as JS sees it; 0 when there was no memory for
    /// it, with the failure reported (the call ends there).
    fn address(&mut self, at: *mut u8) -> u32 {
        if at.is_null() {
            self.finish();
        }
        at as u32
    }

    /// End of every call: report the new events and the timers.
    fn finish(&mut self) {
        let (first, events, count) = self.conn.report_events();
        let (arena, side) = self.conn.event_buffers();
        let r = &mut self.report;
        r.first_event = first as u32;
        r.events = events as u32;
        r.event_count = count as u32;
        r.arena = arena as u32;
        r.side = side as u32;
        r.pending_output = self.conn.pending_output() as u32;
        r.state = self.conn.state() as u32;
        r.pongs_held = self.conn.pongs_held();
        r.trim_due = self.conn.wants_trim() as u32;
        r.deadline = match self.conn.next_timeout() {
            Some((deadline, _)) => deadline as f64,
            None => -1.0,
        };
    }
}
