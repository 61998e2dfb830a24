//! The knobs of a connection, in the spirit of websocket.dll's properties.

use std::cell::RefCell;
use std::sync::Arc;

use crate::extension::Negotiators;
use crate::handshake::HeadLimits;

/// Which end of the connection the engine plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Sends the opening request and masks its frames.
    Client,
    /// Answers the opening request and sends unmasked frames.
    Server,
}

/// Limits, behaviours and timers for one connection. Every limit has a default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Largest message accepted, in bytes (default 64 MiB). A larger one fails
    /// the connection with 1009 as soon as its frame headers announce it,
    /// before the memory is spent.
    pub max_message_size: u64,
    /// Largest frame accepted, in bytes (default: only the message limit applies).
    pub max_frame_size: u64,
    /// Caps on the opening handshake's HTTP head.
    pub head_limits: HeadLimits,
    /// Deliver messages piece by piece as `Event::Fragment` instead of whole
    /// (websocket.dll's fragment buffer types); for large or endless messages.
    pub streaming: bool,
    /// In streaming mode, the largest piece one `Event::Fragment` carries
    /// (default 64 KiB, at least 256). Pieces need not match wire frames.
    pub receive_buffer_size: usize,
    /// Outgoing messages longer than this are sent as several frames of at
    /// most this many payload bytes (default: never split).
    pub send_buffer_size: usize,
    /// Answer pings with pongs automatically (default on).
    pub auto_pong: bool,
    /// Answer the peer's close frame automatically, echoing its code, when
    /// its `Event::CloseReceived` is taken (default on). websocket.dll's face
    /// turns it off: there the application's own close is the answer.
    pub answer_close: bool,
    /// Most pings the peer may send while the pong for an earlier one is
    /// held (`Connection::hold_pongs`); one more fails the connection with
    /// 1008, as a peer that pings without reading the answers (default 64).
    pub max_held_pings: u32,
    /// Trusted links only: a client sends unmasked frames and a server accepts
    /// them (websocket.dll's disable-masking property). Both ends must agree.
    pub disable_masking: bool,
    /// A client masks every frame with the key 0 (websocket.dll's disabled
    /// masking on a client): frames every server accepts, with nothing to
    /// XOR. Default off.
    pub zero_mask_keys: bool,
    /// Check that text messages are UTF-8 (default on; websocket.dll's
    /// disable-UTF-8-verification property turns it off).
    pub validate_utf8: bool,
    /// Send a ping after this many milliseconds without hearing from the peer,
    /// and fail the connection after twice as long (default off).
    pub keepalive_interval: Option<u64>,
    /// Milliseconds the opening handshake may take (default 30 s).
    pub handshake_timeout: Option<u64>,
    /// Milliseconds to wait for the peer's side of the closing handshake, and
    /// for a client, for the server to close the transport after it (default 5 s).
    pub close_timeout: u64,
    /// Report every frame sent and received as `Event::Frame` (for tracing tools).
    pub trace_frames: bool,
    /// Binary messages sent as one frame of at least this many bytes, and not
    /// read whole in one call, are announced by `Event::MessageStart` as soon
    /// as a read ends inside them and handed over piece by piece, for the
    /// host to assemble in memory of its own (default off). The wasm host
    /// uses it so that big messages do not grow wasm memory, which never
    /// shrinks, beyond a read; unmasked payload it copies once, from its own
    /// input.
    pub host_assembly: Option<u64>,
    /// Extensions the engine offers (client) or accepts (server) itself; see
    /// `extension::Negotiator` (default none).
    pub extensions: Negotiators,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_message_size: 64 * 1024 * 1024,
            max_frame_size: u64::MAX,
            head_limits: HeadLimits::default(),
            streaming: false,
            receive_buffer_size: 64 * 1024,
            send_buffer_size: usize::MAX,
            auto_pong: true,
            answer_close: true,
            max_held_pings: 64,
            disable_masking: false,
            zero_mask_keys: false,
            validate_utf8: true,
            keepalive_interval: None,
            handshake_timeout: Some(30_000),
            close_timeout: 5_000,
            trace_frames: false,
            host_assembly: None,
            extensions: Negotiators::default(),
        }
    }
}

impl Config {
    /// Smallest receive and send buffer sizes, as in websocket.dll.
    pub const MIN_BUFFER_SIZE: usize = 256;

    /// The configuration with buffer sizes raised to their minimum.
    pub(crate) fn normalized(mut self) -> Self {
        self.receive_buffer_size = self.receive_buffer_size.max(Self::MIN_BUFFER_SIZE);
        self.send_buffer_size = self.send_buffer_size.max(Self::MIN_BUFFER_SIZE);
        self
    }

    /// `config` normalized, still shared if it already was.
    pub(crate) fn normalized_shared(config: Arc<Config>) -> Arc<Config> {
        let min = Self::MIN_BUFFER_SIZE;
        if config.receive_buffer_size >= min && config.send_buffer_size >= min {
            config
        } else {
            Arc::new((*config).clone().normalized())
        }
    }
}

/// Hands out one `Arc<Config>` for as long as the configuration asked for
/// stays the same, so the many connections of one server share it (the wasm
/// bindings make every engine's config through one).
#[derive(Clone, Debug, Default)]
pub struct SharedConfig(RefCell<Option<Arc<Config>>>);

impl SharedConfig {
    /// `config` normalized, as the `Arc` handed out last time if equal.
    pub fn get(&self, config: Config) -> Arc<Config> {
        let config = config.normalized();
        let mut last = self.0.borrow_mut();
        match last.as_ref() {
            Some(c) if **c == config => Arc::clone(c),
            _ => Arc::clone(last.insert(Arc::new(config))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_config_is_shared_while_it_stays_the_same() {
        let shared = SharedConfig::default();
        let a = shared.get(Config::default());
        let b = shared.get(Config::default());
        assert!(Arc::ptr_eq(&a, &b));
        let changed = shared.get(Config {
            receive_buffer_size: 1,
            ..Config::default()
        });
        assert!(!Arc::ptr_eq(&a, &changed));
        assert_eq!(changed.receive_buffer_size, Config::MIN_BUFFER_SIZE);
        // Normalized before comparing: a config asking for less gets the same.
        let again = shared.get(Config {
            receive_buffer_size: 2,
            ..Config::default()
        });
        assert!(Arc::ptr_eq(&changed, &again));
    }
}
