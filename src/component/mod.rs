//! websocket.dll's face: the Windows WebSocket Protocol Component API
//! (handles, properties, handshakes on header lists, and a queue of actions
//! the application carries out and completes), over the same engine as the
//! rest of the crate. The C library (`include/websocket.h`, `make capi`) and
//! `wasmsocket/component` in JavaScript are thin layers over this module.
//!
//! The canonical loop, as with websocket.dll:
//!
//! ```text
//! let mut h = Handle::create_client(&[], entropy)?;            // WebSocketCreateClientHandle
//! let add = h.begin_client_handshake(&["chat"], &[], &[("Host".into(), host)])?;
//! // …write "GET /path HTTP/1.1", the initial headers and `add`; read the response…
//! let chosen = h.end_client_handshake(&response_headers)?;      // indices of what the server chose
//! h.send(BufferType::Utf8Message, Payload::Data(b"hi".to_vec()), 1)?;
//! h.receive(None, 2)?;
//! loop {
//!     let a = h.get_action(ActionQueue::All)?;
//!     let done = match a.action {
//!         Action::SendToNetwork => { socket.write_all(h.action_data(a.action_context))?; a.len() }
//!         Action::ReceiveFromNetwork => socket.read(h.action_buffer(a.action_context))?,
//!         Action::IndicateReceiveComplete => { use_message(a.buffer_type, h.action_data(a.action_context)); 0 }
//!         Action::IndicateSendComplete | Action::NoAction => 0,
//!     };
//!     h.complete_action(a.action_context, done);                // every GetAction, once
//! }
//! ```
//!
//! Where this follows the documentation and where it decides (the README's
//! "websocket.dll" section has the whole table):
//! - Handshakes work on header lists, as documented: the application writes
//!   the request or status line and reads the peer's head itself.
//! - One send and one receive at a time: `send` while a send has not been
//!   indicated complete (and `receive` likewise) is `InvalidOperation`.
//! - Received data comes in pieces of at most the receive buffer size (or
//!   the length of the application's buffer given to `receive`), one piece
//!   per `receive`: `*Fragment`s, then the `*Message` that ends the message.
//! - The component answers pings itself, through the receive queue (a
//!   `SendToNetwork` with no application context); it does not answer a
//!   close: the application sends its CLOSE. Received pongs are `PingPong`
//!   while a ping of ours awaits its answer, else `UnsolicitedPong`.
//! - When the peer breaks the protocol, the close frame the engine owes it
//!   (§7.1.7) goes out through the receive queue first, then `get_action`
//!   on the receive queue fails once with `InvalidProtocolFormat` or
//!   `InvalidProtocolOperation`, after the pieces that came before it.
//! - A short count on `SendToNetwork` cancels the send and, as a frame cut
//!   short leaves the stream unusable, aborts the handle; 0 on
//!   `ReceiveFromNetwork` cancels the receive, which is then indicated
//!   complete with no buffer.
//! - The send buffer size is checked (at least 256 for a client, 16 for a
//!   server, whose documented default it is) but bounds nothing: the engine
//!   builds each frame whole and hands it out as one buffer.
//! - Keep-alive and supported versions are global properties, as
//!   documented: the application sends its own `UnsolicitedPong` heartbeat.
//! - Extensions are negotiated as names only: none is applied to the data
//!   stream, so a frame with RSV bits set fails as a protocol error.

mod handshake;
mod queue;
#[cfg(test)]
mod tests;
pub mod types;

pub use handshake::Selected;
pub use queue::{ActionInfo, Payload};
pub use types::{
    close_status, Action, ActionQueue, BufferType, GlobalProperty, HResult, Property, PropertyType,
    MAX_CLOSE_REASON_LENGTH,
};

use std::collections::VecDeque;

use crate::config::{Config, Role};
use crate::connection::Connection;
use crate::utf8::Utf8Validator;

/// The receive buffer's default size.
pub const DEFAULT_RECEIVE_BUFFER_SIZE: u32 = 4096;
/// The smallest receive buffer, and the smallest send buffer of a client.
pub const MIN_BUFFER_SIZE: u32 = 256;
/// A client's default send buffer size.
pub const DEFAULT_CLIENT_SEND_BUFFER_SIZE: u32 = 4096;
/// A server's default send buffer size, and its smallest.
pub const DEFAULT_SERVER_SEND_BUFFER_SIZE: u32 = 16;
/// The keep-alive interval `get_global_property` reports, in milliseconds.
pub const KEEPALIVE_INTERVAL: u32 = 30_000;
/// The protocol versions spoken: RFC 6455's.
pub const SUPPORTED_VERSIONS: [u32; 1] = [13];

/// Entropy a client handle needs: 16 bytes for `Sec-WebSocket-Key`, then 32
/// to seed the masking keys. The engine reads no random source itself.
pub type Entropy = [u8; 48];

/// Where a handle stands in its life.
#[derive(Debug)]
enum Stage {
    /// Made; no handshake begun.
    Created,
    /// Client: request headers handed out, response awaited.
    ClientBegun(Box<handshake::Offer>),
    /// Server: response headers handed out (the data stream may start).
    ServerBegun(Box<Connection>),
    /// The data stream.
    Open(Box<Connection>),
    /// A handshake call failed; the handle is good for nothing but deleting.
    Failed,
}

/// The checked properties of a handle.
#[derive(Clone, Debug)]
struct Settings {
    receive_buffer_size: u32,
    send_buffer_size: u32,
    disable_masking: bool,
    disable_utf8_verification: bool,
}

/// A WebSocket session (`WEB_SOCKET_HANDLE`). Dropping it is
/// `WebSocketDeleteHandle`.
#[derive(Debug)]
pub struct Handle {
    role: Role,
    settings: Settings,
    nonce: [u8; 16],
    seed: [u8; 32],
    stage: Stage,
    /// The receive buffer `ReceiveFromNetwork` hands out.
    receive_buffer: Vec<u8>,
    /// `abort` was called: queued operations drain, new ones fail.
    aborted: bool,
    send: Option<queue::SendOp>,
    receive: Option<queue::ReceiveOp>,
    /// The action handed out by each queue and not yet completed.
    send_outstanding: Option<queue::Outstanding>,
    receive_outstanding: Option<queue::Outstanding>,
    /// Pieces received, for the receives to come.
    indications: VecDeque<queue::Indication>,
    /// Bytes the component sends itself (pongs, the close frame of a
    /// failure), handed out by the receive queue.
    internal: VecDeque<(BufferType, Vec<u8>)>,
    /// The peer broke the protocol; reported once by the receive queue.
    failure: Option<HResult>,
    /// Nothing more can be received: the peer's close was indicated, or a
    /// failure reported.
    receive_ended: bool,
    /// A CLOSE was queued: only control frames may follow.
    close_queued: bool,
    /// The kind of the fragmented message being sent, if one is open.
    sending: Option<bool>,
    /// Checks outgoing text, message by message.
    outgoing_text: Utf8Validator,
    /// A ping of ours awaits its pong.
    ping_unanswered: bool,
    /// Numbers action contexts, so a stale one is recognised.
    actions: usize,
}

impl Handle {
    /// `WebSocketCreateClientHandle`.
    pub fn create_client(properties: Vec<Property>, entropy: Entropy) -> Result<Handle, HResult> {
        Handle::create(Role::Client, properties, entropy)
    }

    /// `WebSocketCreateServerHandle`.
    pub fn create_server(properties: Vec<Property>) -> Result<Handle, HResult> {
        Handle::create(Role::Server, properties, [0; 48])
    }

    fn create(role: Role, properties: Vec<Property>, entropy: Entropy) -> Result<Handle, HResult> {
        let mut settings = Settings {
            receive_buffer_size: DEFAULT_RECEIVE_BUFFER_SIZE,
            send_buffer_size: match role {
                Role::Client => DEFAULT_CLIENT_SEND_BUFFER_SIZE,
                Role::Server => DEFAULT_SERVER_SEND_BUFFER_SIZE,
            },
            disable_masking: false,
            disable_utf8_verification: false,
        };
        let mut allocated = None;
        for property in properties {
            match property {
                Property::ReceiveBufferSize(n) if n >= MIN_BUFFER_SIZE => {
                    settings.receive_buffer_size = n
                }
                Property::SendBufferSize(n) if n >= min_send_buffer(role) => {
                    settings.send_buffer_size = n
                }
                Property::DisableMasking(on) => settings.disable_masking = on,
                Property::DisableUtf8Verification(on) => settings.disable_utf8_verification = on,
                Property::AllocatedBuffer(buffer) => allocated = Some(buffer),
                _ => return Err(HResult::InvalidArg),
            }
        }
        let receive_buffer = match allocated {
            Some(buffer)
                if buffer.len() as u64
                    <= allocated_buffer_minimum(
                        settings.receive_buffer_size,
                        settings.send_buffer_size,
                    ) =>
            {
                return Err(HResult::InvalidArg)
            }
            Some(buffer) => buffer,
            None => Vec::new(),
        };
        let mut nonce = [0; 16];
        let mut seed = [0; 32];
        nonce.copy_from_slice(&entropy[..16]);
        seed.copy_from_slice(&entropy[16..]);
        Ok(Handle {
            role,
            settings,
            nonce,
            seed,
            stage: Stage::Created,
            receive_buffer,
            aborted: false,
            send: None,
            receive: None,
            send_outstanding: None,
            receive_outstanding: None,
            indications: VecDeque::new(),
            internal: VecDeque::new(),
            failure: None,
            receive_ended: false,
            close_queued: false,
            sending: None,
            outgoing_text: Utf8Validator::new(),
            ping_unanswered: false,
            actions: 0,
        })
    }

    /// Client or server.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The receive buffer size the handle was made with.
    pub fn receive_buffer_size(&self) -> u32 {
        self.settings.receive_buffer_size
    }

    /// The send buffer size the handle was made with.
    pub fn send_buffer_size(&self) -> u32 {
        self.settings.send_buffer_size
    }

    /// `WebSocketAbortHandle`: queued sends and receives are indicated
    /// complete (nothing more is sent or read for them) and new ones fail.
    /// Does nothing before the handshake has completed.
    pub fn abort(&mut self) {
        if let Some(conn) = self.connection_mut() {
            conn.abort();
            while conn.next_event().is_some() {}
            self.aborted = true;
            self.internal.clear();
        }
    }

    /// The engine's connection once the data stream may flow.
    fn connection_mut(&mut self) -> Option<&mut Connection> {
        match &mut self.stage {
            Stage::ServerBegun(conn) | Stage::Open(conn) => Some(conn),
            _ => None,
        }
    }

    /// The engine's configuration for this handle's data stream.
    fn config(&self) -> Config {
        Config {
            // websocket.dll hands messages over in pieces and sets no limit.
            max_message_size: u64::MAX,
            streaming: true,
            receive_buffer_size: self.settings.receive_buffer_size as usize,
            answer_close: false,
            // As documented: a client keeps the mask bit with the key 0, a
            // server accepts unmasked frames.
            disable_masking: self.settings.disable_masking && self.role == Role::Server,
            zero_mask_keys: self.settings.disable_masking && self.role == Role::Client,
            validate_utf8: !self.settings.disable_utf8_verification,
            handshake_timeout: None,
            ..Config::default()
        }
    }
}

/// `WebSocketGetGlobalProperty`: the keep-alive interval and the supported
/// versions; the other properties belong to handles (`InvalidArg`).
pub fn get_global_property(property: PropertyType) -> Result<GlobalProperty, HResult> {
    match property {
        PropertyType::KeepaliveInterval => {
            Ok(GlobalProperty::KeepaliveInterval(KEEPALIVE_INTERVAL))
        }
        PropertyType::SupportedVersions => Ok(GlobalProperty::SupportedVersions(
            SUPPORTED_VERSIONS.to_vec(),
        )),
        _ => Err(HResult::InvalidArg),
    }
}

/// The smallest send buffer a handle of `role` may be given: a server's
/// documented default is 16, below the documented minimum of 256 that
/// holds for clients.
pub fn min_send_buffer(role: Role) -> u32 {
    match role {
        Role::Client => MIN_BUFFER_SIZE,
        Role::Server => DEFAULT_SERVER_SEND_BUFFER_SIZE,
    }
}

/// An allocated buffer must be larger than this many bytes: the receive
/// buffer + the send buffer + 256, as documented.
pub fn allocated_buffer_minimum(receive_buffer_size: u32, send_buffer_size: u32) -> u64 {
    receive_buffer_size as u64 + send_buffer_size as u64 + 256
}
