//! The receiving half of the data stream: transport bytes in, events out.
//!
//! Bytes are taken as they come, in chunks of any size. Frame headers are
//! parsed in place (a header cut by a chunk boundary is carried, at most 13
//! bytes); payload bytes are unmasked while being copied once, straight from
//! the chunk into the event arena where the host will read them. Text is
//! validated as it arrives, so a bad byte fails the connection in the chunk
//! that carries it. Every rule of §5 that needs connection state is checked
//! here: masking direction, RSV bits, fragmentation, and the size limits,
//! which are judged from the frame header before any payload is buffered.

use crate::close::CloseFrame;
use crate::config::{Config, Role};
use crate::error::ProtocolError;
use crate::event::{tag, EventQueue, FrameInfo, MessageKind, TRACE_PREVIEW};
use crate::extension::Extension;
use crate::frame::{FrameHeader, OpCode, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN};
use crate::mask;
use crate::utf8::Utf8Validator;

/// Why the receiver stopped reading.
#[derive(Debug, PartialEq)]
pub(crate) enum Stop {
    /// A close frame arrived; nothing after it is read.
    Close(CloseFrame),
    /// The peer broke the protocol.
    Error(ProtocolError),
}

/// The frame whose payload is being read.
#[derive(Debug)]
struct Frame {
    op: OpCode,
    fin: bool,
    mask: Option<[u8; 4]>,
    len: u64,
    read: u64,
    /// Bytes to drop unread: the frame failed its checks, or the connection
    /// already failed and only a close frame still matters.
    skip: bool,
}

/// The data message being assembled in the arena.
#[derive(Debug)]
struct Message {
    kind: MessageKind,
    /// Arena index of the first byte not yet delivered.
    start: usize,
    /// Payload bytes so far (after decoding), for the size limit.
    size: u64,
    /// Its first frame set the extension's RSV bits.
    encoded: bool,
}

#[derive(Debug)]
pub(crate) struct Receiver {
    role: Role,
    config: Config,
    header: [u8; MAX_HEADER_LEN],
    header_len: usize,
    frame: Option<Frame>,
    message: Option<Message>,
    utf8: Utf8Validator,
    control: Vec<u8>,
    /// Unmasked input for an extension's decoder.
    scratch: Vec<u8>,
    /// The connection failed: skip data, watch only for a close frame.
    failed: bool,
    /// The stream can no longer be followed; ignore all input.
    dead: bool,
}

type Ext<'a> = Option<&'a mut (dyn Extension + 'static)>;

impl Receiver {
    pub fn new(role: Role, config: &Config) -> Self {
        Receiver {
            role,
            config: config.clone(),
            header: [0; MAX_HEADER_LEN],
            header_len: 0,
            frame: None,
            message: None,
            utf8: Utf8Validator::new(),
            control: Vec::with_capacity(MAX_CONTROL_PAYLOAD),
            scratch: Vec::new(),
            failed: false,
            dead: false,
        }
    }

    /// Reads `data`, pushing events into `q`. Returns why reading stopped, if
    /// it did; the caller then stops feeding data frames (see `fail`).
    pub fn read(&mut self, data: &[u8], q: &mut EventQueue, mut ext: Ext<'_>) -> Option<Stop> {
        if self.dead {
            return None;
        }
        let stop = self.read_frames(data, q, &mut ext);
        if stop.is_none() {
            self.deliver_piece(q, false);
        }
        stop
    }

    fn read_frames(&mut self, data: &[u8], q: &mut EventQueue, ext: &mut Ext<'_>) -> Option<Stop> {
        let mut pos = 0;
        loop {
            if self.frame.is_none() {
                let (header, used) = match self.next_header(&data[pos..]) {
                    Ok(Some(h)) => h,
                    Ok(None) => return None,
                    Err(e) => {
                        self.dead = true;
                        return Some(Stop::Error(e));
                    }
                };
                let preview = &data[pos + used..];
                pos += used;
                if let Err(e) = self.begin_frame(header, preview, q, ext) {
                    return Some(Stop::Error(e));
                }
            }
            let frame = self.frame.as_ref().expect("a frame is being read");
            let want = (frame.len - frame.read).min((data.len() - pos) as u64) as usize;
            let want = self.streaming_cap(want, q);
            let chunk = &data[pos..pos + want];
            pos += want;
            if let Err(e) = self.payload(chunk, q, ext) {
                return Some(Stop::Error(e));
            }
            let frame = self.frame.as_ref().expect("a frame is being read");
            if frame.read == frame.len {
                if let Some(stop) = self.end_frame(q) {
                    return Some(stop);
                }
            } else if pos == data.len() {
                return None;
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
        h: FrameHeader,
        preview: &[u8],
        q: &mut EventQueue,
        ext: &mut Ext<'_>,
    ) -> Result<(), ProtocolError> {
        if self.config.trace_frames {
            let n = (h.payload_len.min(TRACE_PREVIEW as u64) as usize).min(preview.len());
            let mut shown = [0u8; TRACE_PREVIEW];
            shown[..n].copy_from_slice(&preview[..n]);
            if let Some(key) = h.mask {
                mask::apply(&mut shown[..n], key, 0);
            }
            q.push_frame(FrameInfo::of(&h, false), &shown[..n]);
        }
        let checked = h.check();
        // Set before judging, so that a frame that fails can still be skipped.
        self.frame = Some(Frame {
            op: checked.clone().unwrap_or(OpCode::Continuation),
            fin: h.fin,
            mask: h.mask,
            len: h.payload_len,
            read: 0,
            skip: true,
        });
        if self.failed {
            // Only a close frame still matters; everything else is skipped.
            if checked == Ok(OpCode::Close) {
                self.control.clear();
                self.frame.as_mut().expect("frame set above").skip = false;
            }
            return Ok(());
        }
        let op = checked?;
        match (self.role, h.mask.is_some()) {
            (Role::Server, false) if !self.config.disable_masking => {
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
        } else {
            self.begin_data(op, &h, owned, q)?;
        }
        self.frame.as_mut().expect("frame set above").skip = false;
        Ok(())
    }

    fn begin_data(
        &mut self,
        op: OpCode,
        h: &FrameHeader,
        owned: u8,
        q: &EventQueue,
    ) -> Result<(), ProtocolError> {
        match (op, &self.message) {
            (OpCode::Continuation, None) => return Err(ProtocolError::UnexpectedContinuation),
            (OpCode::Text | OpCode::Binary, Some(_)) => {
                return Err(ProtocolError::ExpectedContinuation)
            }
            _ => {}
        }
        if h.payload_len > self.config.max_frame_size {
            return Err(ProtocolError::FrameTooBig {
                limit: self.config.max_frame_size,
            });
        }
        if op != OpCode::Continuation {
            self.utf8 = Utf8Validator::new();
            self.message = Some(Message {
                kind: if op == OpCode::Text {
                    MessageKind::Text
                } else {
                    MessageKind::Binary
                },
                start: q.arena.len(),
                size: 0,
                encoded: h.rsv & owned != 0,
            });
        }
        let message = self.message.as_ref().expect("a message is open");
        // An encoded message's size is known only once decoded; `payload` checks that.
        if !message.encoded
            && message.size.saturating_add(h.payload_len) > self.config.max_message_size
        {
            return Err(ProtocolError::MessageTooBig {
                limit: self.config.max_message_size,
            });
        }
        Ok(())
    }

    /// In streaming mode, reads at most what fits in the next piece, so no
    /// piece exceeds `receive_buffer_size` (decoded messages excepted).
    fn streaming_cap(&self, want: usize, q: &EventQueue) -> usize {
        match (&self.message, &self.frame) {
            (Some(m), Some(f))
                if self.config.streaming && !m.encoded && !f.skip && !f.op.is_control() =>
            {
                let held = q.arena.len() - m.start;
                want.min(self.config.receive_buffer_size.saturating_sub(held).max(1))
            }
            _ => want,
        }
    }

    /// Takes the next payload bytes of the current frame.
    fn payload(
        &mut self,
        chunk: &[u8],
        q: &mut EventQueue,
        ext: &mut Ext<'_>,
    ) -> Result<(), ProtocolError> {
        let frame = self.frame.as_mut().expect("a frame is being read");
        let offset = frame.read as usize;
        frame.read += chunk.len() as u64;
        if frame.skip {
            return Ok(());
        }
        if frame.op.is_control() {
            let start = self.control.len();
            self.control.extend_from_slice(chunk);
            if let Some(key) = frame.mask {
                mask::apply(&mut self.control[start..], key, offset);
            }
            return Ok(());
        }
        let last_piece = frame.fin && frame.read == frame.len;
        let key = frame.mask;
        let message = self.message.as_mut().expect("a message is open");
        let before = q.arena.len();
        if message.encoded {
            self.scratch.clear();
            self.scratch.extend_from_slice(chunk);
            if let Some(key) = key {
                mask::apply(&mut self.scratch, key, offset);
            }
            let ext = ext.as_mut().expect("encoded messages have an extension");
            ext.decode(&self.scratch, last_piece, &mut q.arena)?;
        } else if let Some(key) = key {
            mask::extend_masked(&mut q.arena, chunk, key, offset);
        } else {
            q.arena.extend_from_slice(chunk);
        }
        message.size += (q.arena.len() - before) as u64;
        if message.size > self.config.max_message_size {
            return Err(ProtocolError::MessageTooBig {
                limit: self.config.max_message_size,
            });
        }
        if message.kind == MessageKind::Text && self.config.validate_utf8 {
            self.utf8
                .feed(&q.arena[before..])
                .map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        if self.config.streaming && q.arena.len() - message.start >= self.config.receive_buffer_size
        {
            self.deliver_piece(q, false);
        }
        Ok(())
    }

    /// Finishes the current frame: control frames act, final data frames
    /// complete their message.
    fn end_frame(&mut self, q: &mut EventQueue) -> Option<Stop> {
        let frame = self.frame.take().expect("a frame is being read");
        if frame.skip {
            return None;
        }
        match frame.op {
            OpCode::Ping if !self.failed => q.push_side(tag::PING, 0, &self.control, 0.0),
            OpCode::Pong if !self.failed => q.push_side(tag::PONG, 0, &self.control, 0.0),
            OpCode::Close => {
                self.dead = true;
                if self.failed {
                    let any = CloseFrame::parse(&self.control).unwrap_or(CloseFrame {
                        code: None,
                        reason: String::new(),
                    });
                    return Some(Stop::Close(any));
                }
                return match CloseFrame::parse(&self.control) {
                    Ok(close) => {
                        let code = close.reported_code() as u32;
                        q.push_side(tag::CLOSE_RECEIVED, code, close.reason.as_bytes(), 0.0);
                        Some(Stop::Close(close))
                    }
                    Err(e) => Some(Stop::Error(e)),
                };
            }
            OpCode::Ping | OpCode::Pong => {}
            OpCode::Text | OpCode::Binary | OpCode::Continuation => {
                if frame.fin {
                    return self.end_message(q).err().map(Stop::Error);
                }
            }
        }
        None
    }

    fn end_message(&mut self, q: &mut EventQueue) -> Result<(), ProtocolError> {
        let message = self.message.as_ref().expect("a message is open");
        if message.kind == MessageKind::Text && self.config.validate_utf8 {
            self.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        if self.config.streaming {
            self.deliver_piece(q, true);
        } else {
            let len = q.arena.len() - message.start;
            q.push_arena(tag::MESSAGE, message.kind as u32, message.start, len);
        }
        self.message = None;
        Ok(())
    }

    /// Streaming mode: hands over what has arrived of the message so far,
    /// keeping back the bytes of a character not yet complete.
    fn deliver_piece(&mut self, q: &mut EventQueue, fin: bool) {
        if !self.config.streaming {
            return;
        }
        let Some(message) = self.message.as_mut() else {
            return;
        };
        let end = q.arena.len() - if fin { 0 } else { self.utf8.pending() };
        if end == message.start && !fin {
            return;
        }
        let arg = message.kind as u32 | if fin { 0x100 } else { 0 };
        q.push_arena(tag::FRAGMENT, arg, message.start, end - message.start);
        message.start = end;
    }

    /// The connection failed: from now on only a close frame is looked for.
    /// Nothing of the message that was being assembled is delivered.
    pub fn fail(&mut self, q: &mut EventQueue) {
        self.failed = true;
        if let Some(m) = self.message.take() {
            q.arena.truncate(m.start);
        }
        if let Some(f) = self.frame.as_mut() {
            f.skip = f.op != OpCode::Close || f.skip;
        }
    }

    /// Stops reading for good (after a close frame, or when the stream is lost).
    pub fn stop(&mut self) {
        self.dead = true;
    }

    /// Arena index from which bytes are still needed: the undelivered part of
    /// a message being assembled.
    pub fn keep_from(&self, q: &EventQueue) -> usize {
        self.message.as_ref().map_or(q.arena.len(), |m| m.start)
    }

    /// The arena was compacted by `shift` bytes.
    pub fn shifted(&mut self, shift: usize) {
        if let Some(m) = self.message.as_mut() {
            m.start -= shift;
        }
    }

    /// Whether the stream is inside a frame or a fragmented message.
    pub fn mid_message(&self) -> bool {
        self.header_len > 0 || self.frame.is_some() || self.message.is_some()
    }
}
