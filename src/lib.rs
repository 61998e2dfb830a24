//! wasmsocket: an RFC 6455 WebSocket engine that does no I/O.
//!
//! The engine builds and checks opening handshakes and turns transport bytes
//! into messages and messages into transport bytes; the host moves the bytes,
//! keeps the clock and supplies entropy. It is modelled on the Windows
//! WebSocket Protocol Component API (websocket.dll) and on Python's wsproto,
//! and is compiled to WebAssembly for the `wasmsocket` npm package.
//!
//! Layers, bottom up:
//! - [`frame`], [`mask`], [`utf8`], [`close`]: the wire rules, each on its own;
//! - [`handshake`]: the opening request and response (client and server);
//! - `receiver` and `sender`: the data stream in each direction;
//! - [`Connection`]: the whole life of one connection, tying them together;
//! - [`publish`]: one message framed once for many server connections;
//! - [`component`]: websocket.dll's face over it (handles, properties and a
//!   queue of actions), which the C library and `wasmsocket/component` wrap.
//!
//! A client, in outline:
//!
//! ```text
//! let mut ws = Connection::client(ClientRequest::new("example.com", "/chat"),
//!                                 Config::default(), nonce, seed, now)?;
//! transport.write(&ws.take_output());              // the opening request
//! ws.receive(&bytes_from_transport, now);
//! while let Some(event) = ws.next_event() {
//!     match event {
//!         Event::Open { protocol, .. } => { /* ... */ }
//!         Event::Message { kind, data } => { /* ... */ }
//!         Event::CloseTransport { graceful } => { /* (flush, then) close the transport */ }
//!         _ => {}
//!     }
//! }
//! ws.send_text("hello")?;
//! transport.write(&ws.take_output());
//! ```

#![warn(missing_docs)]

pub mod close;
pub mod component;
pub mod config;
mod connection;
pub mod deflate;
pub mod error;
pub mod event;
pub mod extension;
pub mod frame;
pub mod handshake;
pub mod mask;
pub mod publish;
mod receiver;
mod sender;
pub mod utf8;
#[cfg(target_arch = "wasm32")]
pub mod wasm;

#[cfg(any(test, feature = "testkit"))]
pub mod testkit;

pub use config::{Config, Role};
pub use connection::{Connection, ReadyState, Timer};
pub use error::{Error, ProtocolError, UsageError};
pub use event::{Event, FrameInfo, MessageKind};
pub use extension::Extension;
pub use handshake::client::ClientRequest;
pub use handshake::server::Request;
pub use handshake::{HandshakeError, HeadLimits};
pub use sender::HostHeader;
