//! The component's vocabulary, with the values websocket.h gives them:
//! actions, queues, buffer types, properties, close statuses and HRESULTs.

use std::fmt;

/// What the application must do next (`WEB_SOCKET_ACTION`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Action {
    /// Nothing to do now (`WEB_SOCKET_NO_ACTION`).
    NoAction = 0,
    /// Write the action's buffer to the network (`WEB_SOCKET_SEND_TO_NETWORK_ACTION`).
    SendToNetwork = 1,
    /// A `send` is done; its buffer is the application's again
    /// (`WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION`).
    IndicateSendComplete = 2,
    /// Read from the network into the action's buffer
    /// (`WEB_SOCKET_RECEIVE_FROM_NETWORK_ACTION`).
    ReceiveFromNetwork = 3,
    /// A `receive` is done: the action's buffer holds what arrived
    /// (`WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION`).
    IndicateReceiveComplete = 4,
}

/// Which queue `get_action` looks at (`WEB_SOCKET_ACTION_QUEUE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ActionQueue {
    /// Actions of `send` (`WEB_SOCKET_SEND_ACTION_QUEUE`).
    Send = 1,
    /// Actions of `receive`, and the component's own sends
    /// (`WEB_SOCKET_RECEIVE_ACTION_QUEUE`).
    Receive = 2,
    /// Both (`WEB_SOCKET_ALL_ACTION_QUEUE`).
    All = 3,
}

impl ActionQueue {
    /// The queue with this value, if it is one.
    pub fn from_u32(value: u32) -> Option<ActionQueue> {
        match value {
            1 => Some(ActionQueue::Send),
            2 => Some(ActionQueue::Receive),
            3 => Some(ActionQueue::All),
            _ => None,
        }
    }

    pub(super) fn has_send(self) -> bool {
        self as u32 & 1 != 0
    }

    pub(super) fn has_receive(self) -> bool {
        self as u32 & 2 != 0
    }
}

/// What a buffer holds (`WEB_SOCKET_BUFFER_TYPE`). Received data comes in
/// pieces that need not match wire frames: `*Fragment`s, then the
/// `*Message` that ends it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum BufferType {
    /// The last (or only) piece of a text message.
    Utf8Message = 0x8000_0000,
    /// A piece of a text message, more to come.
    Utf8Fragment = 0x8000_0001,
    /// The last (or only) piece of a binary message.
    BinaryMessage = 0x8000_0002,
    /// A piece of a binary message, more to come.
    BinaryFragment = 0x8000_0003,
    /// A close frame: its status and reason.
    Close = 0x8000_0004,
    /// Sent: a ping. Received: the pong answering one.
    PingPong = 0x8000_0005,
    /// A pong nobody asked for (a heartbeat).
    UnsolicitedPong = 0x8000_0006,
}

impl BufferType {
    /// The buffer type with this value, if it is one.
    pub fn from_u32(value: u32) -> Option<BufferType> {
        use BufferType::*;
        [
            Utf8Message,
            Utf8Fragment,
            BinaryMessage,
            BinaryFragment,
            Close,
            PingPong,
            UnsolicitedPong,
        ]
        .into_iter()
        .find(|t| *t as u32 == value)
    }
}

/// The properties a handle is made with, or the global ones
/// (`WEB_SOCKET_PROPERTY_TYPE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum PropertyType {
    /// `ULONG`, at least 256, default 4096.
    ReceiveBufferSize = 0,
    /// `ULONG`, default 4096 (client) or 16 (server).
    SendBufferSize = 1,
    /// `BOOL`: a client does not mask; a server accepts unmasked frames.
    DisableMasking = 2,
    /// `PVOID`: memory of the application's for the component's buffers.
    AllocatedBuffer = 3,
    /// `BOOL`: received text is not checked to be UTF-8.
    DisableUtf8Verification = 4,
    /// `ULONG`, global: the keep-alive interval, in milliseconds.
    KeepaliveInterval = 5,
    /// `ULONG` array, global: the protocol versions spoken.
    SupportedVersions = 6,
}

impl PropertyType {
    /// The property type with this value, if it is one.
    pub fn from_u32(value: u32) -> Option<PropertyType> {
        use PropertyType::*;
        [
            ReceiveBufferSize,
            SendBufferSize,
            DisableMasking,
            AllocatedBuffer,
            DisableUtf8Verification,
            KeepaliveInterval,
            SupportedVersions,
        ]
        .into_iter()
        .find(|t| *t as u32 == value)
    }
}

/// A property a handle is made with (`WEB_SOCKET_PROPERTY`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Property {
    /// The size of the buffer a `ReceiveFromNetwork` action hands out, and
    /// the largest piece one indication carries.
    ReceiveBufferSize(u32),
    /// Checked and kept; the engine builds each frame whole, so it bounds
    /// nothing here (see the module's notes).
    SendBufferSize(u32),
    /// See `PropertyType::DisableMasking`.
    DisableMasking(bool),
    /// The application's memory for the receive buffer: larger than the
    /// receive buffer + send buffer + 256 bytes.
    AllocatedBuffer(Vec<u8>),
    /// See `PropertyType::DisableUtf8Verification`.
    DisableUtf8Verification(bool),
    /// Global only: refused by `create_*_handle`.
    KeepaliveInterval(u32),
    /// Global only: refused by `create_*_handle`.
    SupportedVersions(Vec<u32>),
}

/// A global property's value (`WebSocketGetGlobalProperty`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GlobalProperty {
    /// `KeepaliveInterval`: milliseconds.
    KeepaliveInterval(u32),
    /// `SupportedVersions`.
    SupportedVersions(Vec<u32>),
}

/// The close statuses websocket.h names (`WEB_SOCKET_CLOSE_STATUS`); any
/// code valid on the wire may be sent.
pub mod close_status {
    /// 1000.
    pub const SUCCESS: u16 = 1000;
    /// 1001.
    pub const ENDPOINT_UNAVAILABLE: u16 = 1001;
    /// 1002.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// 1003.
    pub const INVALID_DATA_TYPE: u16 = 1003;
    /// 1005: the close frame had no status.
    pub const EMPTY: u16 = 1005;
    /// 1006: the connection ended without a close frame.
    pub const ABORTED: u16 = 1006;
    /// 1007.
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// 1008.
    pub const POLICY_VIOLATION: u16 = 1008;
    /// 1009.
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    /// 1010.
    pub const UNSUPPORTED_EXTENSIONS: u16 = 1010;
    /// 1011.
    pub const SERVER_ERROR: u16 = 1011;
    /// 1015.
    pub const SECURE_HANDSHAKE_ERROR: u16 = 1015;
}

/// Longest close reason, in bytes (`WEB_SOCKET_MAX_CLOSE_REASON_LENGTH`).
pub const MAX_CLOSE_REASON_LENGTH: usize = 123;

/// A failed call's HRESULT, with the value winerror.h gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum HResult {
    /// An argument is missing, out of range or not allowed here.
    InvalidArg = 0x8007_0057,
    /// Memory ran out.
    OutOfMemory = 0x8007_000E,
    /// Headers, subprotocols, extensions or text passed in are malformed.
    InvalidFormat = 0x803D_0000,
    /// An array or size passed in is too small for the answer.
    NumericOverflow = 0x803D_0002,
    /// The call is not allowed in the handle's state.
    InvalidOperation = 0x803D_0003,
    /// The peer broke a rule of the data stream (a fragment out of order,
    /// a reserved opcode or bit, an unmasked client frame, …).
    InvalidProtocolOperation = 0x8376_0001,
    /// The peer's handshake or data was malformed (a bad accept key, a
    /// close frame too short, text that is not UTF-8, …).
    InvalidProtocolFormat = 0x8376_0002,
    /// The server agreed to an extension that was not offered.
    ProtocolExtensionsNotSupported = 0x8376_0003,
    /// The server chose a subprotocol not offered, or none of those offered.
    SubprotocolNotSupported = 0x8376_0004,
    /// The client asked for a protocol version other than 13.
    ProtocolVersionNotSupported = 0x8376_0005,
}

impl HResult {
    /// The HRESULT as C sees it.
    pub fn code(self) -> i32 {
        self as u32 as i32
    }

    /// Its name in winerror.h.
    pub fn name(self) -> &'static str {
        match self {
            HResult::InvalidArg => "E_INVALIDARG",
            HResult::OutOfMemory => "E_OUTOFMEMORY",
            HResult::InvalidFormat => "WS_E_INVALID_FORMAT",
            HResult::NumericOverflow => "WS_E_NUMERIC_OVERFLOW",
            HResult::InvalidOperation => "WS_E_INVALID_OPERATION",
            HResult::InvalidProtocolOperation => "E_INVALID_PROTOCOL_OPERATION",
            HResult::InvalidProtocolFormat => "E_INVALID_PROTOCOL_FORMAT",
            HResult::ProtocolExtensionsNotSupported => "E_PROTOCOL_EXTENSIONS_NOT_SUPPORTED",
            HResult::SubprotocolNotSupported => "E_SUBPROTOCOL_NOT_SUPPORTED",
            HResult::ProtocolVersionNotSupported => "E_PROTOCOL_VERSION_NOT_SUPPORTED",
        }
    }
}

impl fmt::Display for HResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (0x{:08X})", self.name(), *self as u32)
    }
}

impl std::error::Error for HResult {}
