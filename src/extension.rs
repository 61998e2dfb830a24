//! The hook for extensions that own RSV bits and transform payloads (§9).
//!
//! Negotiation stays in the handshake; once an extension is agreed, the host
//! installs it with `Connection::set_extension`. The receiver then accepts
//! frames whose RSV bits the extension owns and passes those messages'
//! payloads through `decode`; the sender passes whole outgoing messages
//! through `encode`. permessage-deflate (RFC 7692), using RSV1, is the
//! extension this hook is shaped for.

use crate::error::ProtocolError;

/// A negotiated extension.
pub trait Extension {
    /// The RSV bits the extension owns, as RSV1 = 0b100, RSV2 = 0b010, RSV3 = 0b001.
    fn rsv_bits(&self) -> u8;

    /// Decodes the next piece of a received message whose first frame set the
    /// extension's bits, appending the result to `out`; `fin` marks the
    /// message's last piece. Errors fail the connection with their close code.
    fn decode(&mut self, input: &[u8], fin: bool, out: &mut Vec<u8>) -> Result<(), ProtocolError>;

    /// Encodes a whole outgoing message into `out`, returning `true` if it did
    /// (the first frame then carries the extension's bits) or `false` to send
    /// the message unchanged (with `out` untouched). Messages sent fragment by
    /// fragment are always sent unchanged.
    fn encode(&mut self, message: &[u8], out: &mut Vec<u8>) -> bool;
}
