//! The hook for extensions that own RSV bits and transform payloads (§9).
//!
//! An extension is offered and agreed in the opening handshake by a
//! `Negotiator` in `Config::extensions` (or, for a host that negotiates
//! itself, installed with `Connection::set_extension`). Once agreed, the
//! receiver accepts frames whose RSV bits the extension owns and passes
//! those messages' payloads through `decode`; the sender passes whole
//! outgoing messages through `encode`. permessage-deflate (RFC 7692), using
//! RSV1, is the extension this hook is shaped for. One extension with a
//! codec is agreed per connection.

use std::fmt;
use std::sync::Arc;

use crate::error::ProtocolError;
use crate::handshake::ExtensionOffer;

/// A negotiated extension.
pub trait Extension {
    /// The RSV bits the extension owns, as RSV1 = 0b100, RSV2 = 0b010, RSV3 = 0b001.
    fn rsv_bits(&self) -> u8;

    /// Decodes the next piece of a received message whose first frame set the
    /// extension's bits, appending the result to `out`; `fin` marks the
    /// message's last piece. It appends at most `limit` bytes: a piece that
    /// decodes to more (a compression bomb) is an error before the memory is
    /// spent, `ProtocolError::MessageTooBig` (the receiver names its own
    /// limit). Errors fail the connection with their close code.
    fn decode(
        &mut self,
        input: &[u8],
        fin: bool,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), ProtocolError>;

    /// Encodes a whole outgoing message into `out`, returning `true` if it did
    /// (the first frame then carries the extension's bits) or `false` to send
    /// the message unchanged (with `out` untouched). Messages sent fragment by
    /// fragment are always sent unchanged.
    fn encode(&mut self, message: &[u8], out: &mut Vec<u8>) -> bool;

    /// The connection is quiet: give back what memory can be given back
    /// without changing what later messages decode or encode to.
    fn trim(&mut self) {}

    /// How this end compresses, if it keeps nothing from message to message
    /// (permessage-deflate without context takeover): then a message
    /// encoded once elsewhere the same way may be sent as is (`publish`).
    fn fresh(&self) -> Option<crate::deflate::Fresh> {
        None
    }

    /// About how many bytes `trim` would give back (0 by default): a host
    /// trims a quiet connection only when it holds something to give.
    fn spare_memory(&self) -> usize {
        0
    }
}

/// An extension the engine negotiates itself (§9.1), installed through
/// `Config::extensions`: it writes a client's offers, answers a client's
/// offers on a server, judges a server's answer on a client, and makes the
/// `Extension` each agreement calls for. With one installed, a client
/// offers and a server answers without the host's help; the agreed
/// extension then encodes and decodes on both directions.
pub trait Negotiator: fmt::Debug + Send + Sync {
    /// The extension token, e.g. `permessage-deflate`.
    fn name(&self) -> &str;

    /// Client: the offers to send, most wanted first.
    fn offers(&self) -> Vec<ExtensionOffer>;

    /// Client: the server's answer (an element naming this extension). The
    /// extension it agrees to, or why the answer is not acceptable, which
    /// fails the handshake.
    fn accept(&self, answer: &ExtensionOffer) -> Result<Box<dyn Extension>, String>;

    /// Server: the client's offers naming this extension, in its order of
    /// preference. The answer to the first acceptable one and its
    /// extension, or `None` to decline them all.
    fn answer(&self, offers: &[&ExtensionOffer]) -> Option<(ExtensionOffer, Box<dyn Extension>)>;
}

/// The negotiators of a `Config`. Two lists are equal when their members'
/// `Debug` forms are (a negotiator is plain data), so that connections
/// configured alike share one `Config`.
#[derive(Clone, Default)]
pub struct Negotiators(pub Vec<Arc<dyn Negotiator>>);

impl fmt::Debug for Negotiators {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.0).finish()
    }
}

impl PartialEq for Negotiators {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len()
            && (self.0.iter().zip(&other.0))
                .all(|(a, b)| Arc::ptr_eq(a, b) || format!("{a:?}") == format!("{b:?}"))
    }
}

impl Eq for Negotiators {}

impl Negotiators {
    /// The negotiator for the extension `name`.
    pub fn get(&self, name: &str) -> Option<&dyn Negotiator> {
        self.0.iter().find(|n| n.name() == name).map(|n| &**n)
    }
}
