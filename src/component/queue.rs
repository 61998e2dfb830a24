//! The action queue: `send` and `receive` queue work, `get_action` hands
//! out one action per queue at a time, `complete_action` takes it back.
//!
//! ```text
//!   send ──► SendToNetwork ─complete(n)─► IndicateSendComplete ─complete(0)─► done
//!   receive ─► [internal SendToNetwork]* ─► ReceiveFromNetwork ─complete(n)─► …
//!            ─► IndicateReceiveComplete (one piece) ─complete(0)─► done
//! ```
//!
//! Every byte the peer sends goes through the engine's `Connection`, and
//! every byte this side sends comes out of it: the queue only decides who
//! carries which bytes when.

use super::types::MAX_CLOSE_REASON_LENGTH;
use super::types::{close_status, Action, ActionQueue, BufferType, HResult};
use super::{Handle, Stage};
use crate::close;
use crate::connection::Connection;
use crate::error::{Error, ProtocolError};
use crate::event::{Event, MessageKind};

/// What a `send` carries (`WEB_SOCKET_BUFFER`, or none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    /// Data, for the message and fragment buffer types.
    Data(Vec<u8>),
    /// The close status and reason, for `BufferType::Close`.
    Close {
        /// The code; `close_status::EMPTY` sends a close frame without one.
        status: u16,
        /// At most `MAX_CLOSE_REASON_LENGTH` bytes of UTF-8.
        reason: Vec<u8>,
    },
    /// Nothing, for pings and pongs.
    None,
}

/// One action handed out by `get_action`. Its buffer, if it has one, is read
/// with `Handle::action_data` (or, for `ReceiveFromNetwork`, written with
/// `Handle::action_buffer`) until the action is completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActionInfo {
    /// What to do.
    pub action: Action,
    /// What the buffer holds; `None` for `NoAction` and `ReceiveFromNetwork`.
    pub buffer_type: Option<BufferType>,
    /// How many buffers the action has: 0 or 1.
    pub buffer_count: u32,
    /// The buffer's length in bytes (for a close, its reason's).
    pub buffer_len: usize,
    /// For a close: its status (`close_status::EMPTY` when it had none).
    pub close_status: Option<u16>,
    /// The context the application gave `send` or `receive`; 0 for the
    /// component's own sends and `NoAction`.
    pub application_context: usize,
    /// Passed back to `complete_action`; 0 for `NoAction`.
    pub action_context: usize,
}

impl ActionInfo {
    fn none() -> ActionInfo {
        ActionInfo {
            action: Action::NoAction,
            buffer_type: None,
            buffer_count: 0,
            buffer_len: 0,
            close_status: None,
            application_context: 0,
            action_context: 0,
        }
    }
}

/// A queued `send`.
#[derive(Debug)]
pub(super) struct SendOp {
    buffer_type: BufferType,
    payload: Payload,
    context: usize,
    /// It continues a fragmented message.
    continues: bool,
    state: SendState,
}

#[derive(Debug)]
enum SendState {
    /// Not yet given to the engine.
    Queued,
    /// Framed; these bytes are to go to the network.
    Framed(Vec<u8>),
    /// Sent (or cancelled): to be indicated complete.
    Done,
}

/// A queued `receive`.
#[derive(Debug)]
pub(super) struct ReceiveOp {
    context: usize,
    /// The largest piece it takes.
    max: usize,
    /// A `ReceiveFromNetwork` for it completed with 0.
    cancelled: bool,
}

/// A piece received, waiting for a `receive`.
#[derive(Debug)]
pub(super) struct Indication {
    buffer_type: BufferType,
    /// The data, or a close's reason.
    data: Vec<u8>,
    /// A close's status.
    status: u16,
}

/// An action handed out and not yet completed.
#[derive(Debug)]
pub(super) struct Outstanding {
    context: usize,
    kind: Pending,
    /// The buffer it hands out (to send, or received).
    data: Vec<u8>,
}

#[derive(Debug, PartialEq, Eq)]
enum Pending {
    SendToNetwork,
    IndicateSendComplete,
    /// The component's own bytes, on the receive queue.
    InternalSend,
    ReceiveFromNetwork,
    IndicateReceiveComplete,
}

impl Handle {
    /// `WebSocketSend`: queues a message, a fragment, a close, a ping or an
    /// unsolicited pong. One send at a time: the next may be queued once
    /// this one has been indicated complete.
    pub fn send(
        &mut self,
        buffer_type: BufferType,
        payload: Payload,
        context: usize,
    ) -> Result<(), HResult> {
        self.check_session()?;
        if self.send.is_some() {
            return Err(HResult::InvalidOperation);
        }
        let mut continues = false;
        match (buffer_type, &payload) {
            (BufferType::Close, Payload::Close { status, reason }) => {
                check_close(*status, reason)?;
                if self.close_queued {
                    return Err(HResult::InvalidOperation);
                }
                self.close_queued = true;
            }
            (BufferType::PingPong | BufferType::UnsolicitedPong, Payload::None) => {}
            (BufferType::Close | BufferType::PingPong | BufferType::UnsolicitedPong, _) => {
                return Err(HResult::InvalidArg)
            }
            (data_type, Payload::Data(data)) => {
                let text = matches!(
                    data_type,
                    BufferType::Utf8Message | BufferType::Utf8Fragment
                );
                let fin = matches!(
                    data_type,
                    BufferType::Utf8Message | BufferType::BinaryMessage
                );
                if self.close_queued || self.sending.is_some_and(|t| t != text) {
                    return Err(HResult::InvalidOperation);
                }
                if text && !self.settings.disable_utf8_verification {
                    let mut validator = self.outgoing_text.clone();
                    let whole = validator.feed(data).and_then(|_| match fin {
                        true => validator.finish(),
                        false => Ok(()),
                    });
                    whole.map_err(|_| HResult::InvalidFormat)?;
                    self.outgoing_text = if fin { Default::default() } else { validator };
                }
                continues = self.sending.is_some();
                self.sending = (!fin).then_some(text);
            }
            _ => return Err(HResult::InvalidArg),
        }
        self.send = Some(SendOp {
            buffer_type,
            payload,
            context,
            continues,
            state: SendState::Queued,
        });
        Ok(())
    }

    /// `WebSocketReceive`: queues a receive of one piece, of at most `max`
    /// bytes (the length of the application's buffer) or, with `None`, the
    /// receive buffer size. One receive at a time.
    pub fn receive(&mut self, max: Option<usize>, context: usize) -> Result<(), HResult> {
        self.check_session()?;
        if self.receive.is_some() || self.receive_ended {
            return Err(HResult::InvalidOperation);
        }
        let max = max.unwrap_or(self.settings.receive_buffer_size as usize);
        if max == 0 {
            return Err(HResult::InvalidArg);
        }
        self.receive = Some(ReceiveOp {
            context,
            max,
            cancelled: false,
        });
        Ok(())
    }

    /// `WebSocketGetAction`: the next action of `queue`, or `NoAction`.
    /// Fails when the peer broke the protocol (once, on the receive queue).
    pub fn get_action(&mut self, queue: ActionQueue) -> Result<ActionInfo, HResult> {
        self.check_stream()?;
        if queue.has_send() {
            if let Some(action) = self.send_action()? {
                return Ok(action);
            }
        }
        if queue.has_receive() {
            if let Some(action) = self.receive_action()? {
                return Ok(action);
            }
        }
        Ok(ActionInfo::none())
    }

    /// The buffer of an outstanding action: bytes to send, or what was
    /// received (a close's reason). Empty for any other context.
    pub fn action_data(&self, action_context: usize) -> &[u8] {
        match self.outstanding(action_context) {
            Some(o) if o.kind != Pending::ReceiveFromNetwork => &o.data,
            _ => &[],
        }
    }

    /// The buffer of an outstanding `ReceiveFromNetwork`, to read into; made
    /// on first use (a host reading into memory of its own never needs it).
    /// Empty for any other context, or if there is no memory for it:
    /// completing with 0 then cancels the receive.
    pub fn action_buffer(&mut self, action_context: usize) -> &mut [u8] {
        let receiving = (self.receive_outstanding.as_ref())
            .is_some_and(|o| o.context == action_context && o.kind == Pending::ReceiveFromNetwork);
        let size = self.settings.receive_buffer_size as usize;
        let missing = size.saturating_sub(self.receive_buffer.len());
        if !receiving || self.receive_buffer.try_reserve_exact(missing).is_err() {
            return &mut [];
        }
        self.receive_buffer
            .resize(size.max(self.receive_buffer.len()), 0);
        &mut self.receive_buffer[..size]
    }

    /// `WebSocketCompleteAction`: `bytes` sent for `SendToNetwork` (fewer than
    /// handed out cancels the send, and aborts the handle), received for
    /// `ReceiveFromNetwork` (0 cancels the receive), 0 for the others. An
    /// unknown context (that of `NoAction`) is ignored.
    pub fn complete_action(&mut self, action_context: usize, bytes: usize) {
        if self.is_outstanding(action_context, Pending::ReceiveFromNetwork) {
            let size = self.settings.receive_buffer_size as usize;
            let n = bytes.min(size).min(self.receive_buffer.len());
            let input = std::mem::take(&mut self.receive_buffer);
            self.complete_receive(action_context, &input[..n]);
            self.receive_buffer = input;
        } else {
            self.complete(action_context, bytes);
        }
    }

    /// Completes a `ReceiveFromNetwork` whose bytes the application read
    /// into memory of its own (the C face's allocated buffer); empty cancels
    /// the receive.
    pub fn complete_receive(&mut self, action_context: usize, input: &[u8]) {
        if !self.is_outstanding(action_context, Pending::ReceiveFromNetwork) {
            return;
        }
        self.receive_outstanding = None;
        if input.is_empty() {
            if let Some(op) = &mut self.receive {
                op.cancelled = true;
            }
            return;
        }
        if let Some(conn) = self.connection_mut() {
            conn.receive(input, 0);
            self.take_events();
        }
    }

    fn complete(&mut self, action_context: usize, bytes: usize) {
        let held = |slot: &Option<Outstanding>| {
            slot.as_ref()
                .is_some_and(|o| action_context != 0 && o.context == action_context)
        };
        let slot = match () {
            _ if held(&self.send_outstanding) => &mut self.send_outstanding,
            _ if held(&self.receive_outstanding) => &mut self.receive_outstanding,
            _ => return,
        };
        let Some(done) = slot.take() else { return };
        match done.kind {
            Pending::SendToNetwork => {
                if let Some(op) = &mut self.send {
                    op.state = SendState::Done;
                }
                if bytes != done.data.len() {
                    self.abort();
                }
            }
            Pending::IndicateSendComplete => self.send = None,
            Pending::InternalSend if bytes != done.data.len() => self.abort(),
            Pending::IndicateReceiveComplete => self.receive = None,
            _ => {}
        }
    }

    /// Sending and receiving need a handshake done (a server's begun).
    fn check_session(&mut self) -> Result<(), HResult> {
        self.check_stream()?;
        if self.aborted {
            return Err(HResult::InvalidOperation);
        }
        Ok(())
    }

    fn check_stream(&mut self) -> Result<(), HResult> {
        if matches!(self.stage, Stage::ServerBegun(_)) {
            self.end_server_handshake()?;
        }
        match self.stage {
            Stage::Open(_) => Ok(()),
            _ => Err(HResult::InvalidOperation),
        }
    }

    /// The send queue's next action, if it has one now.
    fn send_action(&mut self) -> Result<Option<ActionInfo>, HResult> {
        if self.send_outstanding.is_some() {
            return Ok(None);
        }
        let aborted = self.aborted;
        let Some(op) = self.send.as_mut() else {
            return Ok(None);
        };
        if aborted {
            op.state = SendState::Done;
        }
        if let SendState::Queued = op.state {
            let Stage::Open(conn) = &mut self.stage else {
                unreachable!("checked by check_stream");
            };
            if let Err(e) = frame(conn, op) {
                self.send = None;
                return Err(e);
            }
            if op.buffer_type == BufferType::PingPong {
                self.ping_unanswered = true;
            }
            let bytes = conn.take_output();
            op.state = match bytes.is_empty() {
                true => SendState::Done,
                false => SendState::Framed(bytes),
            };
        }
        let (kind, data) = match std::mem::replace(&mut op.state, SendState::Done) {
            SendState::Framed(bytes) => (Pending::SendToNetwork, bytes),
            _ => (Pending::IndicateSendComplete, Vec::new()),
        };
        let (buffer_type, context) = (op.buffer_type, op.context);
        let close = match &op.payload {
            Payload::Close { status, .. } if kind == Pending::SendToNetwork => Some(*status),
            _ => None,
        };
        let info = self.hand_out(kind, data, buffer_type, close, context);
        Ok(Some(info))
    }

    /// The receive queue's next action, if it has one now.
    fn receive_action(&mut self) -> Result<Option<ActionInfo>, HResult> {
        if self.receive_outstanding.is_some() {
            return Ok(None);
        }
        if let Some((buffer_type, bytes)) = self.internal.pop_front() {
            let info = self.hand_out(Pending::InternalSend, bytes, buffer_type, None, 0);
            return Ok(Some(info));
        }
        let Some(op) = self.receive.as_ref() else {
            return Ok(None);
        };
        let (context, max) = (op.context, op.max);
        if op.cancelled || self.aborted {
            let info = self.hand_out(
                Pending::IndicateReceiveComplete,
                Vec::new(),
                None,
                None,
                context,
            );
            return Ok(Some(info));
        }
        if let Some(piece) = self.next_piece(max) {
            if piece.buffer_type == BufferType::Close {
                self.receive_ended = true;
            }
            let status = (piece.buffer_type == BufferType::Close).then_some(piece.status);
            let info = self.hand_out(
                Pending::IndicateReceiveComplete,
                piece.data,
                Some(piece.buffer_type),
                status,
                context,
            );
            return Ok(Some(info));
        }
        if let Some(failure) = self.failure.take() {
            self.receive = None;
            self.receive_ended = true;
            return Err(failure);
        }
        Ok(Some(self.hand_out(
            Pending::ReceiveFromNetwork,
            Vec::new(),
            None,
            None,
            context,
        )))
    }

    /// The next piece received; data is cut to at most `max` bytes, the
    /// rest staying for the next receive and the piece becoming a fragment.
    fn next_piece(&mut self, max: usize) -> Option<Indication> {
        let front = self.indications.front_mut()?;
        let control = matches!(
            front.buffer_type,
            BufferType::Close | BufferType::PingPong | BufferType::UnsolicitedPong
        );
        // A control frame's payload (125 bytes at most) is never cut.
        if control || front.data.len() <= max {
            return self.indications.pop_front();
        }
        let text = matches!(
            front.buffer_type,
            BufferType::Utf8Message | BufferType::Utf8Fragment
        );
        let mut cut = max;
        // Keep characters whole where the piece can hold one.
        while text && cut > 0 && front.data[cut] & 0xC0 == 0x80 {
            cut -= 1;
        }
        if cut == 0 {
            cut = max;
        }
        let data = front.data.drain(..cut).collect();
        let buffer_type = match text {
            true => BufferType::Utf8Fragment,
            false => BufferType::BinaryFragment,
        };
        Some(Indication {
            buffer_type,
            data,
            status: 0,
        })
    }

    /// Records an action as outstanding and describes it.
    fn hand_out(
        &mut self,
        kind: Pending,
        data: Vec<u8>,
        buffer_type: impl Into<Option<BufferType>>,
        close_status: Option<u16>,
        application_context: usize,
    ) -> ActionInfo {
        self.actions += 1;
        let context = self.actions;
        let (action, send_queue) = match kind {
            Pending::SendToNetwork => (Action::SendToNetwork, true),
            Pending::IndicateSendComplete => (Action::IndicateSendComplete, true),
            Pending::InternalSend => (Action::SendToNetwork, false),
            Pending::ReceiveFromNetwork => (Action::ReceiveFromNetwork, false),
            Pending::IndicateReceiveComplete => (Action::IndicateReceiveComplete, false),
        };
        let buffer_len = match kind {
            Pending::ReceiveFromNetwork => self.settings.receive_buffer_size as usize,
            _ => data.len(),
        };
        let buffer_type = buffer_type.into();
        // A cancelled or drained receive is indicated without a buffer.
        let has_buffer = match kind {
            Pending::IndicateSendComplete => false,
            Pending::IndicateReceiveComplete => buffer_type.is_some(),
            _ => true,
        };
        let info = ActionInfo {
            action,
            buffer_type,
            buffer_count: has_buffer as u32,
            buffer_len,
            close_status,
            application_context,
            action_context: context,
        };
        let outstanding = Some(Outstanding {
            context,
            kind,
            data,
        });
        if send_queue {
            self.send_outstanding = outstanding;
        } else {
            self.receive_outstanding = outstanding;
        }
        info
    }

    /// Moves the engine's events into pieces, failures and the component's
    /// own sends.
    pub(super) fn take_events(&mut self) {
        let Some(conn) = (match &mut self.stage {
            Stage::Open(conn) | Stage::ServerBegun(conn) => Some(conn),
            _ => None,
        }) else {
            return;
        };
        let mut own = BufferType::PingPong;
        while let Some(event) = conn.next_event() {
            let (buffer_type, data, status) = match event {
                Event::Message { kind, data } => (data_type(kind, true), data, 0),
                Event::Fragment { kind, data, fin } => (data_type(kind, fin), data, 0),
                Event::Pong(data) if std::mem::take(&mut self.ping_unanswered) => {
                    (BufferType::PingPong, data, 0)
                }
                Event::Pong(data) => (BufferType::UnsolicitedPong, data, 0),
                Event::CloseReceived { code, reason } => {
                    (BufferType::Close, reason.as_bytes(), code)
                }
                Event::Error(e) => {
                    self.failure = Some(failure(e));
                    own = BufferType::Close;
                    continue;
                }
                _ => continue,
            };
            self.indications.push_back(Indication {
                buffer_type,
                data: data.to_vec(),
                status,
            });
        }
        let bytes = conn.take_output();
        if !bytes.is_empty() {
            self.internal.push_back((own, bytes));
        }
    }

    fn outstanding(&self, context: usize) -> Option<&Outstanding> {
        [&self.send_outstanding, &self.receive_outstanding]
            .into_iter()
            .flatten()
            .find(|o| context != 0 && o.context == context)
    }

    fn is_outstanding(&self, context: usize, kind: Pending) -> bool {
        self.outstanding(context).is_some_and(|o| o.kind == kind)
    }
}

/// Has the engine frame what `op` asks to send.
fn frame(conn: &mut Connection, op: &SendOp) -> Result<(), HResult> {
    let refused = |_| HResult::InvalidOperation;
    match (&op.payload, op.buffer_type) {
        (Payload::Close { status, reason }, _) => {
            let code = (*status != close_status::EMPTY).then_some(*status);
            let reason = std::str::from_utf8(reason).map_err(|_| HResult::InvalidFormat)?;
            conn.close_with_status(code, reason).map_err(refused)
        }
        (_, BufferType::PingPong) => conn.ping(b"").map_err(refused),
        (_, BufferType::UnsolicitedPong) => conn.pong(b"").map_err(refused),
        (Payload::Data(data), buffer_type) => {
            let kind = match buffer_type {
                BufferType::Utf8Message | BufferType::Utf8Fragment => MessageKind::Text,
                _ => MessageKind::Binary,
            };
            let fin = matches!(
                buffer_type,
                BufferType::Utf8Message | BufferType::BinaryMessage
            );
            match fin && !op.continues {
                true => conn.send(kind, data),
                false => conn.send_fragment(kind, data, fin),
            }
            .map_err(refused)
        }
        (Payload::None, _) => Err(HResult::InvalidArg),
    }
}

/// The checks a close status and reason pass before they are queued.
fn check_close(status: u16, reason: &[u8]) -> Result<(), HResult> {
    if reason.len() > MAX_CLOSE_REASON_LENGTH {
        return Err(HResult::InvalidArg);
    }
    if std::str::from_utf8(reason).is_err() {
        return Err(HResult::InvalidFormat);
    }
    match status {
        close_status::EMPTY if reason.is_empty() => Ok(()),
        s if s != close_status::EMPTY && close::is_valid_on_wire(s) => Ok(()),
        _ => Err(HResult::InvalidArg),
    }
}

fn data_type(kind: MessageKind, fin: bool) -> BufferType {
    match (kind, fin) {
        (MessageKind::Text, true) => BufferType::Utf8Message,
        (MessageKind::Text, false) => BufferType::Utf8Fragment,
        (MessageKind::Binary, true) => BufferType::BinaryMessage,
        (MessageKind::Binary, false) => BufferType::BinaryFragment,
    }
}

/// What `get_action` returns when the peer broke the protocol.
fn failure(error: &Error) -> HResult {
    use ProtocolError::*;
    match error {
        Error::OutOfMemory { .. } => HResult::OutOfMemory,
        Error::Protocol(
            ReservedOpcode(_)
            | ReservedBits(_)
            | FragmentedControlFrame
            | ControlFrameTooLong(_)
            | UnmaskedFrame
            | MaskedFrame
            | UnexpectedContinuation
            | ExpectedContinuation,
        ) => HResult::InvalidProtocolOperation,
        _ => HResult::InvalidProtocolFormat,
    }
}
