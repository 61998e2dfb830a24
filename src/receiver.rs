//! The receiving half of the data stream: transport bytes in, events out.
//!
//! Bytes are taken as they come, in chunks of any size, and read where they
//! land: the host writes each chunk at the end of the event arena, and the
//! receiver parses headers, unmasks and validates payloads right there, so the
//! host later reads each message from where its bytes arrived. Only the
//! pieces of a fragmented message are moved, to join them; a header cut by a
//! chunk boundary is carried (at most 13 bytes). Text is validated as it
//! arrives, so a bad byte fails the connection in the chunk that carries it. Every rule of §5 that needs connection state is checked
//! here: masking direction, RSV bits, fragmentation, and the size limits,
//! which are judged from the frame header before any payload is buffered.

use crate::close::CloseFrame;
use crate::config::{Config, Role};
use crate::error::ProtocolError;
use crate::event::{tag, EventQueue, FrameInfo, MessageKind, TRACE_PREVIEW};
use crate::extension::Extension;
use crate::frame::{FrameHeader, OpCode, MAX_HEADER_LEN};
use crate::mask;
use crate::utf8::Utf8Validator;

/// What one `read` found.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Outcome {
    /// The first rule the peer broke; after it only a close frame is looked for.
    pub error: Option<ProtocolError>,
    /// A close frame; nothing after it is read.
    pub close: Option<CloseFrame>,
}

/// The frame whose payload is being read.
#[derive(Debug)]
struct Frame {
    op: OpCode,
    fin: bool,
    mask: Option<[u8; 4]>,
    len: u64,
    read: u64,
}

/// The data message being assembled in the arena.
#[derive(Debug)]
struct Message {
    kind: MessageKind,
    /// Arena index of the first byte not yet delivered.
    start: usize,
    /// Arena index just past the message's bytes so far: where its next
    /// payload byte belongs.
    end: usize,
    /// Payload bytes so far (after decoding), for the size limit.
    size: u64,
    assembly: Assembly,
}

/// Where a data message's bytes gather until the host has them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Assembly {
    /// In the arena, where they arrived; delivered whole.
    Whole,
    /// In the arena; delivered piece by piece as they arrive (`Config::streaming`).
    Streamed,
    /// Passed through the extension, whose output gathers in
    /// `Receiver::decoded` (the message's first frame set the extension's RSV
    /// bits); delivered whole or, when `streamed`, piece by piece.
    Decoded {
        /// Delivered piece by piece.
        streamed: bool,
    },
    /// Handed over piece by piece where each arrived, for the host to
    /// assemble (`Config::host_assembly`), after a `MESSAGE_START`.
    Host,
}

impl Assembly {
    /// How a message whose first frame did (`encoded`) or did not set the
    /// extension's bits gathers under `config`.
    fn of(encoded: bool, config: &Config) -> Assembly {
        match (encoded, config.streaming) {
            (true, streamed) => Assembly::Decoded { streamed },
            (false, true) => Assembly::Streamed,
            (false, false) => Assembly::Whole,
        }
    }

    /// Its bytes gather in the arena (not in `decoded`, nor with the host).
    fn in_arena(self) -> bool {
        matches!(self, Assembly::Whole | Assembly::Streamed)
    }

    fn decoded(self) -> bool {
        matches!(self, Assembly::Decoded { .. })
    }

    fn streamed(self) -> bool {
        matches!(
            self,
            Assembly::Streamed | Assembly::Decoded { streamed: true }
        )
    }
}

#[derive(Debug)]
pub(crate) struct Receiver {
    role: Role,
    header: [u8; MAX_HEADER_LEN],
    header_len: usize,
    frame: Option<Frame>,
    message: Option<Message>,
    utf8: Utf8Validator,
    control: Vec<u8>,
    /// An extension's output for the message being decoded.
    decoded: Vec<u8>,
    /// Arena index past the last byte an event or the message in progress
    /// still needs; the arena is cut back to it after each read.
    live_end: usize,
    /// A close frame ended the stream, or a broken rule failed it: ignore
    /// all input.
    dead: bool,
}

type Ext<'a> = Option<&'a mut (dyn Extension + 'static)>;

impl Receiver {
    /// A receiver for `role`. The connection's `Config` is passed to `read`
    /// rather than copied here: idle connections are many, and small.
    pub fn new(role: Role) -> Self {
        Receiver {
            role,
            header: [0; MAX_HEADER_LEN],
            header_len: 0,
            frame: None,
            message: None,
            utf8: Utf8Validator::new(),
            control: Vec::new(),
            decoded: Vec::new(),
            live_end: 0,
            dead: false,
        }
    }

    /// Reads the bytes the host put at `q.arena[start..]`, pushing events
    /// into `q`. The first broken rule ends the reading for good (§7.1.7:
    /// a failed connection processes nothing more); nothing of the message
    /// it broke is delivered. The arena is then cut back to what events and
    /// the message in progress use.
    pub fn read(
        &mut self,
        config: &Config,
        q: &mut EventQueue,
        start: usize,
        mut ext: Ext<'_>,
    ) -> Outcome {
        let mut outcome = Outcome::default();
        let end = q.arena.len();
        self.live_end = start;
        if !self.dead {
            match self.read_frames(config, q, start, end, &mut ext) {
                Ok(close) => outcome.close = close,
                Err(e) => {
                    self.dead = true;
                    self.message = None;
                    self.frame = None;
                    outcome.error = Some(e);
                }
            }
        }
        if outcome == Outcome::default() {
            self.deliver_piece(config, q, false);
        }
        let keep = self
            .message
            .as_ref()
            .filter(|m| m.assembly.in_arena())
            .map_or(0, |m| m.end);
        q.arena.truncate(self.live_end.max(keep));
        outcome
    }

    /// Reads frames from `q.arena[pos..end]` until the input is used up or
    /// a close frame ends the stream.
    fn read_frames(
        &mut self,
        config: &Config,
        q: &mut EventQueue,
        mut pos: usize,
        end: usize,
        ext: &mut Ext<'_>,
    ) -> Result<Option<CloseFrame>, ProtocolError> {
        loop {
            if self.frame.is_none() {
                let Some((header, used)) = self.next_header(&q.arena[pos..end])? else {
                    return Ok(None);
                };
                pos += used;
                self.begin_frame(config, header, pos, end, q, ext)?;
            }
            let frame = self.frame.as_ref().expect("a frame is being read");
            let want = (frame.len - frame.read).min((end - pos) as u64) as usize;
            let want = self.streaming_cap(config, want);
            self.payload(config, pos, want, q, ext)?;
            pos += want;
            let frame = self.frame.as_ref().expect("a frame is being read");
            if frame.read == frame.len {
                if let Some(close) = self.end_frame(config, q)? {
                    return Ok(Some(close));
                }
            } else if pos == end {
                self.offer_to_host(config, q);
                return Ok(None);
            }
        }
    }

    /// Parses the next header from the carried bytes and `data`; returns it
    /// with how many bytes of `data` it used.
    fn next_header(&mut self, data: &[u8]) -> Result<Option<(FrameHeader, usize)>, ProtocolError> {
        if self.header_len == 0 {
            let parsed = FrameHeader::parse(data)?;
            if parsed.is_none() {
                // Fewer bytes than any header needs: carry them.
                self.header[..data.len()].copy_from_slice(data);
                self.header_len = data.len();
            }
            return Ok(parsed);
        }
        let carried = self.header_len;
        let take = (MAX_HEADER_LEN - carried).min(data.len());
        self.header[carried..carried + take].copy_from_slice(&data[..take]);
        match FrameHeader::parse(&self.header[..carried + take])? {
            Some((h, n)) => {
                self.header_len = 0;
                Ok(Some((h, n - carried)))
            }
            None => {
                self.header_len += take;
                Ok(None)
            }
        }
    }

    /// Judges a new frame's header and sets up the reading of its payload.
    fn begin_frame(
        &mut self,
        config: &Config,
        h: FrameHeader,
        pos: usize,
        end: usize,
        q: &mut EventQueue,
        ext: &mut Ext<'_>,
    ) -> Result<(), ProtocolError> {
        if config.trace_frames {
            let n = (h.payload_len.min(TRACE_PREVIEW as u64) as usize).min(end - pos);
            let mut shown = [0u8; TRACE_PREVIEW];
            shown[..n].copy_from_slice(&q.arena[pos..pos + n]);
            if let Some(key) = h.mask {
                mask::apply(&mut shown[..n], key, 0);
            }
            q.push_frame(FrameInfo::of(&h, false), &shown[..n]);
        }
        let op = h.check()?;
        self.judge(config, op, &h, pos, ext)?;
        self.frame = Some(Frame {
            op,
            fin: h.fin,
            mask: h.mask,
            len: h.payload_len,
            read: 0,
        });
        Ok(())
    }

    /// The rules a frame header must meet given the role, the extension and
    /// the message in progress; sets up the message for a data frame.
    fn judge(
        &mut self,
        config: &Config,
        op: OpCode,
        h: &FrameHeader,
        pos: usize,
        ext: &mut Ext<'_>,
    ) -> Result<(), ProtocolError> {
        match (self.role, h.mask.is_some()) {
            (Role::Server, false) if !config.disable_masking => {
                return Err(ProtocolError::UnmaskedFrame)
            }
            (Role::Client, true) => return Err(ProtocolError::MaskedFrame),
            _ => {}
        }
        let owned = ext.as_ref().map_or(0, |e| e.rsv_bits());
        let rsv_ok = match op {
            OpCode::Text | OpCode::Binary => h.rsv & !owned == 0,
            _ => h.rsv == 0,
        };
        if !rsv_ok {
            return Err(ProtocolError::ReservedBits(h.rsv));
        }
        if op.is_control() {
            self.control.clear();
            Ok(())
        } else {
            self.begin_data(config, op, h, owned, pos)
        }
    }

    /// `pos` is where the frame's payload starts in the arena: a new message
    /// is read in place from there.
    fn begin_data(
        &mut self,
        config: &Config,
        op: OpCode,
        h: &FrameHeader,
        owned: u8,
        pos: usize,
    ) -> Result<(), ProtocolError> {
        match (op, &self.message) {
            (OpCode::Continuation, None) => return Err(ProtocolError::UnexpectedContinuation),
            (OpCode::Text | OpCode::Binary, Some(_)) => {
                return Err(ProtocolError::ExpectedContinuation)
            }
            _ => {}
        }
        if h.payload_len > config.max_frame_size {
            return Err(ProtocolError::FrameTooBig {
                limit: config.max_frame_size,
            });
        }
        if op != OpCode::Continuation {
            self.utf8 = Utf8Validator::new();
            self.decoded.clear();
            self.message = Some(Message {
                kind: if op == OpCode::Text {
                    MessageKind::Text
                } else {
                    MessageKind::Binary
                },
                start: pos,
                end: pos,
                size: 0,
                assembly: Assembly::of(h.rsv & owned != 0, config),
            });
        }
        let message = self.message.as_ref().expect("a message is open");
        // An encoded message's size is known only once decoded; `payload` checks that.
        if !message.assembly.decoded()
            && message.size.saturating_add(h.payload_len) > config.max_message_size
        {
            return Err(ProtocolError::MessageTooBig {
                limit: config.max_message_size,
            });
        }
        Ok(())
    }

    /// Hands a big binary message that came as one frame, read up to the
    /// end of the input and not yet whole, to the host to assemble
    /// (`Config::host_assembly`): what has come so far as the first piece.
    /// An unmasked one so that the host takes the rest straight from its
    /// input, however little came with the header; a masked one so that
    /// wasm memory holds no more of it than one read (its first half stayed
    /// here before, growing memory that never shrinks by half the biggest
    /// message). Either way the host keeps what it holds to twice what the
    /// peer sent, allocating the announced length only once half has come.
    fn offer_to_host(&mut self, config: &Config, q: &mut EventQueue) {
        let (Some(f), Some(m), Some(min)) = (&self.frame, &mut self.message, config.host_assembly)
        else {
            return;
        };
        // A Binary (not Continuation) frame with FIN is a whole message.
        let whole = f.op == OpCode::Binary && f.fin;
        if !whole || m.assembly != Assembly::Whole || f.len < min {
            return;
        }
        m.assembly = Assembly::Host;
        let direct = if f.mask.is_none() { tag::DIRECT } else { 0 };
        q.push_side(
            tag::MESSAGE_START,
            m.kind as u32 | direct,
            &[],
            f.len as f64,
        );
        if m.end > m.start {
            q.push_arena(tag::FRAGMENT, m.kind as u32, m.start, m.end - m.start);
            self.live_end = self.live_end.max(m.end);
        }
    }

    /// The host copied `n` bytes of an unmasked host-assembled message's
    /// payload from its own input instead of passing them to `read`. False
    /// (and nothing done) if no such message is in progress or `n` is more
    /// than the rest of it.
    pub fn host_took(&mut self, q: &mut EventQueue, n: u64) -> bool {
        let (Some(f), Some(m)) = (&mut self.frame, &mut self.message) else {
            return false;
        };
        if m.assembly != Assembly::Host || f.mask.is_some() || self.dead || n > f.len - f.read {
            return false;
        }
        f.read += n;
        m.size += n;
        if f.read == f.len {
            let fin = m.kind as u32 | tag::FIN;
            q.push_arena(tag::FRAGMENT, fin, q.arena.len(), 0);
            self.frame = None;
            self.message = None;
        }
        true
    }

    /// In streaming mode, reads at most what fits in the next piece, so no
    /// piece exceeds `receive_buffer_size` (decoded messages excepted).
    fn streaming_cap(&self, config: &Config, want: usize) -> usize {
        match (&self.message, &self.frame) {
            (Some(m), Some(f)) if m.assembly == Assembly::Streamed && !f.op.is_control() => {
                let held = m.end - m.start;
                want.min(config.receive_buffer_size.saturating_sub(held).max(1))
            }
            _ => want,
        }
    }

    /// Takes the `n` payload bytes at `q.arena[pos..]`: unmasks them where
    /// they are and, if earlier pieces of the message lie elsewhere, moves
    /// them up to join those.
    fn payload(
        &mut self,
        config: &Config,
        pos: usize,
        n: usize,
        q: &mut EventQueue,
        ext: &mut Ext<'_>,
    ) -> Result<(), ProtocolError> {
        let frame = self.frame.as_mut().expect("a frame is being read");
        let offset = frame.read as usize;
        frame.read += n as u64;
        let piece = &mut q.arena[pos..pos + n];
        if let Some(key) = frame.mask {
            mask::apply(piece, key, offset);
        }
        if frame.op.is_control() {
            self.control.extend_from_slice(piece);
            return Ok(());
        }
        let last_piece = frame.fin && frame.read == frame.len;
        let message = self.message.as_mut().expect("a message is open");
        if message.assembly == Assembly::Host {
            // Binary, whole in this frame, its size checked from the header:
            // the piece goes to the host as it is.
            message.size += n as u64;
            if n > 0 || last_piece {
                let fin = if last_piece { tag::FIN } else { 0 };
                q.push_arena(tag::FRAGMENT, message.kind as u32 | fin, pos, n);
                self.live_end = self.live_end.max(pos + n);
            }
            return Ok(());
        }
        let at = if message.assembly.decoded() {
            let before = self.decoded.len();
            let ext = ext.as_mut().expect("encoded messages have an extension");
            let left = config.max_message_size.saturating_sub(message.size);
            let limit = usize::try_from(left).unwrap_or(usize::MAX);
            (ext.decode(piece, last_piece, &mut self.decoded, limit))
                .map_err(|e| e.with_limit(config.max_message_size))?;
            message.size += (self.decoded.len() - before) as u64;
            before
        } else {
            if message.end != pos {
                q.arena.copy_within(pos..pos + n, message.end);
            }
            message.end += n;
            message.size += n as u64;
            message.end - n
        };
        if message.size > config.max_message_size {
            return Err(ProtocolError::MessageTooBig {
                limit: config.max_message_size,
            });
        }
        if message.kind == MessageKind::Text && config.validate_utf8 {
            let fresh = if message.assembly.decoded() {
                &self.decoded[at..]
            } else {
                &q.arena[at..message.end]
            };
            self.utf8
                .feed(fresh)
                .map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        let held = message.end - message.start;
        if message.assembly == Assembly::Streamed && held >= config.receive_buffer_size {
            self.deliver_piece(config, q, false);
        }
        Ok(())
    }

    /// Finishes the current frame: control frames act, final data frames
    /// complete their message. Returns a close frame that ends the stream.
    fn end_frame(
        &mut self,
        config: &Config,
        q: &mut EventQueue,
    ) -> Result<Option<CloseFrame>, ProtocolError> {
        let frame = self.frame.take().expect("a frame is being read");
        match frame.op {
            OpCode::Ping => q.push_side(tag::PING, 0, &self.control, 0.0),
            OpCode::Pong => q.push_side(tag::PONG, 0, &self.control, 0.0),
            OpCode::Close => {
                self.dead = true;
                let close = CloseFrame::parse(&self.control)?;
                let code = close.reported_code() as u32;
                q.push_side(tag::CLOSE_RECEIVED, code, close.reason.as_bytes(), 0.0);
                return Ok(Some(close));
            }
            OpCode::Text | OpCode::Binary | OpCode::Continuation => {
                if frame.fin {
                    self.end_message(config, q)?;
                }
            }
        }
        Ok(None)
    }

    fn end_message(&mut self, config: &Config, q: &mut EventQueue) -> Result<(), ProtocolError> {
        let message = self.message.as_ref().expect("a message is open");
        if message.assembly == Assembly::Host {
            // Its last piece was handed over with `fin`.
            self.message = None;
            return Ok(());
        }
        if message.kind == MessageKind::Text && config.validate_utf8 {
            self.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        if message.assembly.streamed() {
            self.deliver_piece(config, q, true);
        } else {
            self.place_decoded(q);
            let known = config.validate_utf8 && self.utf8.is_ascii_so_far();
            let message = self.message.as_ref().expect("a message is open");
            let arg = message.kind as u32
                | ascii_flag(message.kind, known, &q.arena[message.start..message.end]);
            let len = message.end - message.start;
            if config.trace_frames && message.assembly.decoded() {
                let bytes = q.arena[message.start..message.end].to_vec();
                q.push_compressed(false, message.kind, &bytes);
            }
            q.push_arena(tag::MESSAGE, arg, message.start, len);
            self.live_end = self.live_end.max(message.end);
        }
        self.message = None;
        Ok(())
    }

    /// Moves what an extension decoded to the end of the arena, where the
    /// event can point at it (after all the input still to be read).
    fn place_decoded(&mut self, q: &mut EventQueue) {
        let Some(message) = self.message.as_mut().filter(|m| m.assembly.decoded()) else {
            return;
        };
        message.start = q.arena.len();
        q.arena.extend_from_slice(&self.decoded);
        message.end = q.arena.len();
        self.decoded.clear();
    }

    /// A streamed message: hands over what has arrived of it so far,
    /// keeping back the bytes of a character not yet complete.
    fn deliver_piece(&mut self, config: &Config, q: &mut EventQueue, fin: bool) {
        let Some(assembly) = self.message.as_ref().map(|m| m.assembly) else {
            return;
        };
        if !assembly.streamed() {
            return;
        }
        let pending = if fin { 0 } else { self.utf8.pending() };
        // Decoded text keeps its unfinished character in `decoded`.
        let keep: Vec<u8> = if assembly.decoded() {
            let cut = self.decoded.len() - pending;
            self.decoded.split_off(cut)
        } else {
            Vec::new()
        };
        self.place_decoded(q);
        let known = config.validate_utf8 && self.utf8.is_ascii_so_far();
        let message = self.message.as_mut().expect("a message is open");
        let end = message.end - if assembly.decoded() { 0 } else { pending };
        if end == message.start && !fin {
            self.decoded = keep;
            return;
        }
        let ascii = ascii_flag(message.kind, known, &q.arena[message.start..end]);
        let arg = message.kind as u32 | ascii | if fin { tag::FIN } else { 0 };
        q.push_arena(tag::FRAGMENT, arg, message.start, end - message.start);
        self.live_end = self.live_end.max(end);
        message.start = if assembly.decoded() { message.end } else { end };
        self.decoded = keep;
    }

    /// Frees the buffers no frame or message in progress needs.
    pub fn trim(&mut self) {
        if !self.frame.as_ref().is_some_and(|f| f.op.is_control()) {
            self.control = Vec::new();
        }
        if self.message.is_none() {
            self.decoded = Vec::new();
        }
    }

    /// Bytes of buffer held for control payloads.
    #[cfg(test)]
    pub fn control_capacity(&self) -> usize {
        self.control.capacity()
    }

    /// Bytes of buffer held.
    pub fn capacity(&self) -> usize {
        self.control.capacity() + self.decoded.capacity()
    }

    /// Stops reading for good (after a close frame, or when the stream is lost).
    pub fn stop(&mut self) {
        self.dead = true;
    }

    /// Arena index from which bytes are still needed: the undelivered part of
    /// a message being assembled.
    pub fn keep_from(&self, q: &EventQueue) -> usize {
        self.message
            .as_ref()
            .filter(|m| m.assembly.in_arena())
            .map_or(q.arena.len(), |m| m.start)
    }

    /// The arena was compacted by `shift` bytes.
    pub fn shifted(&mut self, shift: usize) {
        if let Some(m) = self.message.as_mut().filter(|m| m.assembly.in_arena()) {
            m.start -= shift;
            m.end -= shift;
        }
    }

    /// Whether the stream is inside a frame or a fragmented message.
    pub fn mid_message(&self) -> bool {
        self.header_len > 0 || self.frame.is_some() || self.message.is_some()
    }
}

/// `tag::ASCII` for text whose bytes are all below 0x80; `known` says the
/// validator saw them all and found none above.
fn ascii_flag(kind: MessageKind, known: bool, bytes: &[u8]) -> u32 {
    if kind == MessageKind::Text && (known || crate::utf8::is_ascii(bytes)) {
        tag::ASCII
    } else {
        0
    }
}

#[cfg(test)]
mod tests;
