//! The opening handshake (§4), as a connection drives it: reading the head as
//! it comes, judging it (`handshake::client` and `handshake::server` hold the
//! rules), and, on a server, the host's answer. What only the handshake
//! needs is dropped when it ends.

use super::*;
use crate::handshake::client::{self, ClientRequest};
use crate::handshake::server::{self, Request};
use crate::handshake::{find_head_end, ExtensionOffer, HandshakeError, Header};

/// How much of a head's first line is checked as it comes (see
/// `check_head_start`): enough to tell an HTTP head from anything else,
/// small enough that a head dripped byte by byte costs little to check.
const EARLY_CHECK: usize = 1024;

/// What only the opening handshake needs; dropped when it ends.
#[derive(Default)]
pub(super) struct Opening {
    /// Handshake bytes received and not yet consumed.
    pub(super) head: Vec<u8>,
    /// How far `head` was searched for the blank line.
    pub(super) head_scanned: usize,
    pub(super) deadline: Option<u64>,
    /// Client: the request sent, and its key.
    pub(super) client: Option<(ClientRequest, String)>,
    /// Server: the request read, until it is answered.
    pub(super) request: Option<Request>,
}

/// The subprotocol and extensions agreed in the opening handshake.
pub(super) struct Agreed {
    pub(super) protocol: String,
    pub(super) extensions: String,
}

impl Connection {
    /// The handshake's state; only called in the `Await…` phases.
    pub(super) fn opening(&self) -> &Opening {
        self.opening.as_ref().expect("the handshake is under way")
    }

    pub(super) fn opening_mut(&mut self) -> &mut Opening {
        self.opening.as_mut().expect("the handshake is under way")
    }

    pub(super) fn handshake_deadline(&self) -> Option<u64> {
        self.opening.as_ref()?.deadline
    }

    pub(super) fn read_head(&mut self) {
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
    pub(super) fn head_can_start(&mut self) -> bool {
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
    pub(super) fn read_request(&mut self, end: usize) -> bool {
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
    pub(super) fn read_response(&mut self, end: usize) -> bool {
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
        let checked = client::check_response(&response, key, request).and_then(|negotiated| {
            self.install_agreed(&negotiated.extensions)
                .map(|()| negotiated)
        });
        self.response = Some(Box::new(response));
        match checked {
            Ok(negotiated) => {
                let protocol = negotiated.protocol.unwrap_or_default();
                self.agree(protocol, negotiated.extensions_header);
                let opening = self.opening.take().expect("the handshake is under way");
                self.open();
                self.read_early_frames(&opening.head[end..]);
            }
            Err(e) => self.fail(Error::Handshake(e)),
        }
        true
    }

    /// Client: installs the extension the server agreed to, judged by its
    /// negotiator (an agreed extension no negotiator offered is the host's).
    fn install_agreed(&mut self, agreed: &[ExtensionOffer]) -> Result<(), HandshakeError> {
        for answer in agreed {
            let Some(negotiator) = self.config.extensions.get(&answer.name) else {
                continue;
            };
            if self.extension.is_some() {
                let why = format!("{} agreed beside another extension", answer.name);
                return Err(HandshakeError::ExtensionAnswer(why));
            }
            let extension = negotiator.accept(answer).map_err(|why| {
                HandshakeError::ExtensionAnswer(format!("{}: {why}", answer.name))
            })?;
            self.extension = Some(extension);
        }
        Ok(())
    }

    /// Server: the answer to the first extension the client offered that a
    /// negotiator accepts, and the extension, or `None`.
    fn negotiate(&self) -> Option<(String, Box<dyn Extension>)> {
        let request = self.opening.as_ref()?.request.as_ref()?;
        self.config.extensions.0.iter().find_map(|n| {
            let offers: Vec<&ExtensionOffer> = (request.extensions.iter())
                .filter(|o| o.name == n.name())
                .collect();
            if offers.is_empty() {
                return None;
            }
            let (answer, extension) = n.answer(&offers)?;
            Some((answer.to_string(), extension))
        })
    }

    pub(super) fn agree(&mut self, protocol: String, extensions: String) {
        if !protocol.is_empty() || !extensions.is_empty() {
            self.agreed = Some(Box::new(Agreed {
                protocol,
                extensions,
            }));
        }
    }

    /// Ends the handshake; the caller has taken `opening`.
    pub(super) fn open(&mut self) {
        self.phase = Phase::Open;
        self.last_heard = self.now;
        let names = [self.protocol().as_bytes(), self.extensions().as_bytes()].concat();
        self.events
            .push_side(tag::OPEN, self.protocol().len() as u32, &names, 0.0);
    }

    /// Server: completes the handshake with a 101 answer. `protocol` must be
    /// one the client offered. `extensions` is the accepted extensions as one
    /// `Sec-WebSocket-Extensions` value, for a host that negotiates them
    /// itself; `None` lets the engine's negotiators answer (and install what
    /// they agree to). Frames that came early are read now.
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
        let negotiated = extensions.is_none().then(|| self.negotiate()).flatten();
        let extensions = extensions.or(negotiated.as_ref().map(|(answer, _)| answer.as_str()));
        // The field itself, not `opening()`: `out` is borrowed beside it.
        let opening = self.opening.as_deref();
        let request = opening.and_then(|o| o.request.as_ref());
        let request = request.expect("a request awaits an answer");
        let start = self.out.len();
        server::accept_response(request, protocol, extensions, headers, &mut self.out)?;
        self.keep_head(true, start);
        let protocol = protocol.unwrap_or_default().to_owned();
        let extensions = extensions.unwrap_or_default().to_owned();
        if let Some((_, extension)) = negotiated {
            self.extension = Some(extension);
        }
        self.agree(protocol, extensions);
        let opening = self.opening.take().expect("the handshake is under way");
        self.open();
        self.read_early_frames(&opening.head);
        Ok(())
    }

    /// With tracing on, keeps a copy of the head just sent (at `out[at..]`)
    /// or received (at `head[..at]`).
    pub(super) fn keep_head(&mut self, sent: bool, at: usize) {
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
    pub(super) fn refuse(&mut self) {
        self.phase = Phase::Refused;
        self.opening = None;
        self.request_transport_close(self.role == Role::Server);
    }
}
