//! Errors are values: what the peer did wrong, what the caller asked wrongly.
//!
//! `Error` is what fails a connection and reaches the host in an `Event::Error`;
//! each variant knows the close code the engine sends for it. `UsageError` is
//! what a command refuses with, leaving the connection as it was.

use std::fmt;

use crate::close::code;
use crate::handshake::HandshakeError;

/// A rule of RFC 6455 that the peer's data stream broke.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProtocolError {
    /// Opcode 0x3–0x7 or 0xB–0xF.
    ReservedOpcode(u8),
    /// RSV bits set that no negotiated extension owns.
    ReservedBits(u8),
    /// A 64-bit payload length with its most significant bit set.
    LengthTopBitSet,
    /// A close, ping or pong without FIN.
    FragmentedControlFrame,
    /// A control frame with more than 125 payload bytes.
    ControlFrameTooLong(u64),
    /// A client frame without a masking key.
    UnmaskedFrame,
    /// A server frame with a masking key.
    MaskedFrame,
    /// A continuation frame with no fragmented message to continue.
    UnexpectedContinuation,
    /// A new text or binary frame while a fragmented message is unfinished.
    ExpectedContinuation,
    /// A close frame with a one-byte payload.
    CloseFrameTooShort,
    /// A close frame with a code that may not appear on the wire.
    InvalidCloseCode(u16),
    /// A text message or fragment that is not UTF-8.
    InvalidUtf8,
    /// A close reason that is not UTF-8.
    InvalidCloseReason,
    /// A message larger than the configured maximum.
    MessageTooBig {
        /// The configured maximum, in bytes.
        limit: u64,
    },
    /// A frame larger than the configured maximum.
    FrameTooBig {
        /// The configured maximum, in bytes.
        limit: u64,
    },
    /// A negotiated extension could not process a message.
    Extension {
        /// Close code the extension asks for (1002, 1007 or 1009).
        close_code: u16,
        /// What the extension found.
        message: String,
    },
}

impl ProtocolError {
    /// The close code sent to the peer when this error fails the connection.
    pub fn close_code(&self) -> u16 {
        match self {
            ProtocolError::InvalidUtf8 | ProtocolError::InvalidCloseReason => code::INVALID_DATA,
            ProtocolError::MessageTooBig { .. } | ProtocolError::FrameTooBig { .. } => {
                code::TOO_BIG
            }
            ProtocolError::Extension { close_code, .. } => *close_code,
            _ => code::PROTOCOL_ERROR,
        }
    }

    /// A `MessageTooBig` (as an extension reports one, not knowing the
    /// configured maximum) with the configured maximum; others unchanged.
    pub(crate) fn with_limit(self, limit: u64) -> ProtocolError {
        match self {
            ProtocolError::MessageTooBig { .. } => ProtocolError::MessageTooBig { limit },
            other => other,
        }
    }

    /// The reason sent to the peer in the close frame: the error as
    /// displayed, but without the configured limits, which a peer has no
    /// business learning.
    pub fn public_reason(&self) -> String {
        match self {
            ProtocolError::MessageTooBig { .. } => "message too big".into(),
            ProtocolError::FrameTooBig { .. } => "frame too big".into(),
            other => other.to_string(),
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::ReservedOpcode(op) => write!(f, "reserved opcode {op:#x}"),
            ProtocolError::ReservedBits(rsv) => {
                write!(
                    f,
                    "reserved bits {rsv:#05b} set without an extension that owns them"
                )
            }
            ProtocolError::LengthTopBitSet => {
                write!(f, "64-bit payload length with the top bit set")
            }
            ProtocolError::FragmentedControlFrame => write!(f, "control frame without FIN"),
            ProtocolError::ControlFrameTooLong(n) => {
                write!(f, "control frame of {n} bytes (at most 125 allowed)")
            }
            ProtocolError::UnmaskedFrame => write!(f, "client frame is not masked"),
            ProtocolError::MaskedFrame => write!(f, "server frame is masked"),
            ProtocolError::UnexpectedContinuation => {
                write!(f, "continuation frame without a message to continue")
            }
            ProtocolError::ExpectedContinuation => {
                write!(f, "new data frame inside an unfinished fragmented message")
            }
            ProtocolError::CloseFrameTooShort => write!(f, "close frame with a 1-byte payload"),
            ProtocolError::InvalidCloseCode(c) => write!(f, "invalid close code {c}"),
            ProtocolError::InvalidUtf8 => write!(f, "text message is not valid UTF-8"),
            ProtocolError::InvalidCloseReason => write!(f, "close reason is not valid UTF-8"),
            ProtocolError::MessageTooBig { limit } => {
                write!(f, "message exceeds the maximum size of {limit} bytes")
            }
            ProtocolError::FrameTooBig { limit } => {
                write!(f, "frame exceeds the maximum size of {limit} bytes")
            }
            ProtocolError::Extension { message, .. } => write!(f, "extension error: {message}"),
        }
    }
}

/// Why a connection failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The opening handshake failed; see `HandshakeError::status` for servers.
    Handshake(HandshakeError),
    /// The peer's frames broke the protocol.
    Protocol(ProtocolError),
    /// The opening handshake did not finish in time.
    HandshakeTimeout,
    /// The peer sent nothing for two keepalive intervals.
    KeepaliveTimeout,
    /// The transport ended before the closing handshake.
    ConnectionLost {
        /// It ended in the middle of a frame or a fragmented message.
        mid_message: bool,
    },
    /// The peer sent more than `Config::max_held_pings` pings while the
    /// pong for an earlier one waited for it to read, or did not take a held
    /// pong within `Config::close_timeout`: it is not reading.
    PongsUnread {
        /// The pings that found a pong held.
        pings: u32,
    },
    /// No memory for more input, or for a message to send: the engine's
    /// buffers could not grow by `bytes` (in wasm, memory shared by every
    /// connection, 4 GiB at most).
    OutOfMemory {
        /// What did not fit.
        bytes: usize,
    },
}

impl Error {
    /// The close code sent to the peer for this error, if a close frame is sent.
    pub fn close_code(&self) -> Option<u16> {
        match self {
            Error::Protocol(e) => Some(e.close_code()),
            Error::PongsUnread { .. } => Some(code::POLICY),
            _ => None,
        }
    }

    /// What the peer is told (a close reason, a refusal's body): the error
    /// without the configured limits.
    pub fn public_reason(&self) -> String {
        match self {
            Error::Protocol(e) => e.public_reason(),
            Error::Handshake(e) => e.public_reason(),
            Error::PongsUnread { .. } => "pings sent without reading the pongs".into(),
            other => other.to_string(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Handshake(e) => write!(f, "handshake failed: {e}"),
            Error::Protocol(e) => write!(f, "protocol error: {e}"),
            Error::HandshakeTimeout => write!(f, "opening handshake timed out"),
            Error::KeepaliveTimeout => write!(f, "peer did not answer keepalive pings"),
            Error::ConnectionLost { mid_message: true } => {
                write!(f, "connection lost in the middle of a message")
            }
            Error::ConnectionLost { mid_message: false } => {
                write!(f, "connection lost without a closing handshake")
            }
            Error::PongsUnread { pings } => {
                write!(f, "peer sent {pings} pings without reading the pongs")
            }
            Error::OutOfMemory { bytes } => {
                write!(f, "out of memory for {bytes} more bytes")
            }
        }
    }
}

impl std::error::Error for Error {}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Self {
        Error::Protocol(e)
    }
}

impl From<HandshakeError> for Error {
    fn from(e: HandshakeError) -> Self {
        Error::Handshake(e)
    }
}

/// A command the engine refused; the connection is unchanged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UsageError {
    /// The connection is not in a state that allows this command.
    InvalidState(&'static str),
    /// A close code the application may not send (it may send 1000 and 3000–4999).
    InvalidCloseCode(u16),
    /// A close reason over 123 bytes of UTF-8.
    CloseReasonTooLong(usize),
    /// A ping or pong payload over 125 bytes.
    ControlPayloadTooLong(usize),
    /// A header name that is not an HTTP token.
    InvalidHeaderName(String),
    /// A header value holding CR, LF, NUL or another control byte.
    InvalidHeaderValue(String),
    /// A header the handshake writes itself.
    ReservedHeader(String),
    /// A subprotocol that is not an HTTP token.
    InvalidProtocol(String),
    /// The same subprotocol offered twice (compared case-insensitively).
    DuplicateProtocol(String),
    /// A subprotocol the client did not offer.
    UnofferedProtocol(String),
    /// An extension offer or answer that is not a valid header value.
    InvalidExtension(String),
    /// A host or resource name unfit for the request line or `Host` header.
    InvalidTarget(String),
    /// A status the server may not refuse a handshake with.
    InvalidStatus(u16),
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::InvalidState(why) => write!(f, "invalid state: {why}"),
            UsageError::InvalidCloseCode(c) => {
                write!(f, "close code {c} is neither 1000 nor in 3000-4999")
            }
            UsageError::CloseReasonTooLong(n) => {
                write!(
                    f,
                    "close reason is {n} bytes of UTF-8 (at most 123 allowed)"
                )
            }
            UsageError::ControlPayloadTooLong(n) => {
                write!(f, "control payload is {n} bytes (at most 125 allowed)")
            }
            UsageError::InvalidHeaderName(n) => write!(f, "invalid header name {n:?}"),
            UsageError::InvalidHeaderValue(n) => write!(f, "invalid value for header {n:?}"),
            UsageError::ReservedHeader(n) => {
                write!(f, "header {n:?} is written by the handshake itself")
            }
            UsageError::InvalidProtocol(p) => write!(f, "invalid subprotocol {p:?}"),
            UsageError::DuplicateProtocol(p) => write!(f, "duplicate subprotocol {p:?}"),
            UsageError::UnofferedProtocol(p) => {
                write!(f, "subprotocol {p:?} was not offered by the client")
            }
            UsageError::InvalidExtension(e) => write!(f, "invalid extension list {e:?}"),
            UsageError::InvalidTarget(t) => write!(f, "invalid host or resource {t:?}"),
            UsageError::InvalidStatus(s) => {
                write!(f, "{s} is not a status to refuse a handshake with")
            }
        }
    }
}

impl std::error::Error for UsageError {}
