//! The closing handshake (§7) and failing a connection (§7.1.7): close
//! frames sent and answered, the transport closed by the right side at the
//! right time.

use super::*;

impl Connection {
    /// Answers the peer's close (once the host has taken it) with a close
    /// frame carrying its code, unless one was sent already or the host
    /// answers itself (`Config::answer_close`).
    pub(super) fn answer_close(&mut self) {
        if self.close_sent || !self.config.answer_close {
            return;
        }
        let code = self.close_received.as_ref().and_then(|f| f.code);
        self.write_close(&CloseFrame {
            code,
            reason: String::new(),
        });
    }

    /// Closes a connection that failed with an error that sends a close
    /// frame, once the host has taken the error: the frame (unless one was
    /// sent), then the transport, waiting for nothing more.
    pub(super) fn close_failed(&mut self) {
        let Some(code) = self.error.as_deref().and_then(Error::close_code) else {
            return;
        };
        if !self.close_sent {
            let reason = self
                .error
                .as_deref()
                .map(Error::public_reason)
                .unwrap_or_default();
            let reason = truncate_utf8(&reason, close::MAX_REASON_LEN).to_owned();
            self.write_close(&CloseFrame {
                code: Some(code),
                reason,
            });
        }
        self.request_transport_close(true);
    }

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

    pub(super) fn write_close(&mut self, frame: &CloseFrame) {
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
    pub(super) fn closing_handshake_done(&mut self) {
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
    pub(super) fn request_transport_close(&mut self, graceful: bool) {
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
    pub(super) fn fail(&mut self, error: Error) {
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
