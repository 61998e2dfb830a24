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
    /// Its first frame set the extension's RSV bits; decoded bytes gather in
    /// `Receiver::decoded` until the message (or a streamed piece) is done.
    encoded: bool,
    /// Announced by `MESSAGE_START`: each piece is handed over where it
    /// arrived, and the host assembles the message (`Config::host_assembly`).
    host: bool,
}

impl Message {
    /// Whether its bytes gather in the arena (rather than in `decoded`, or in
    /// the host's memory).
    fn in_arena(&self) -> bool {
        !self.encoded && !self.host
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
            .filter(|m| m.in_arena())
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
                encoded: h.rsv & owned != 0,
                host: false,
            });
        }
        let message = self.message.as_ref().expect("a message is open");
        // An encoded message's size is known only once decoded; `payload` checks that.
        if !message.encoded && message.size.saturating_add(h.payload_len) > config.max_message_size
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
    /// An unmasked one at once, so the host takes the rest straight from its
    /// input, however little came with the header; a masked one only once
    /// half of it has come, so a host that allocates the announced length
    /// holds at most twice what the peer really sent (a host given an
    /// unmasked one early keeps that bound itself).
    fn offer_to_host(&mut self, config: &Config, q: &mut EventQueue) {
        let (Some(f), Some(m), Some(min)) = (&self.frame, &mut self.message, config.host_assembly)
        else {
            return;
        };
        // A Binary (not Continuation) frame with FIN is a whole message.
        let whole = f.op == OpCode::Binary && f.fin;
        let too_soon = f.mask.is_some() && f.read < f.len / 2;
        if !whole || m.host || m.encoded || config.streaming || f.len < min || too_soon {
            return;
        }
        m.host = true;
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
        if !m.host || f.mask.is_some() || self.dead || n > f.len - f.read {
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
            (Some(m), Some(f)) if config.streaming && !m.encoded && !f.op.is_control() => {
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
        if message.host {
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
        let at = if message.encoded {
            let before = self.decoded.len();
            let ext = ext.as_mut().expect("encoded messages have an extension");
            ext.decode(piece, last_piece, &mut self.decoded)?;
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
            let fresh = if message.encoded {
                &self.decoded[at..]
            } else {
                &q.arena[at..message.end]
            };
            self.utf8
                .feed(fresh)
                .map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        if config.streaming && message.end - message.start >= config.receive_buffer_size {
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
        if message.host {
            // Its last piece was handed over with `fin`.
            self.message = None;
            return Ok(());
        }
        if message.kind == MessageKind::Text && config.validate_utf8 {
            self.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        if config.streaming {
            self.deliver_piece(config, q, true);
        } else {
            self.place_decoded(q);
            let known = config.validate_utf8 && self.utf8.is_ascii_so_far();
            let message = self.message.as_ref().expect("a message is open");
            let arg = message.kind as u32
                | ascii_flag(message.kind, known, &q.arena[message.start..message.end]);
            let len = message.end - message.start;
            q.push_arena(tag::MESSAGE, arg, message.start, len);
            self.live_end = self.live_end.max(message.end);
        }
        self.message = None;
        Ok(())
    }

    /// Moves what an extension decoded to the end of the arena, where the
    /// event can point at it (after all the input still to be read).
    fn place_decoded(&mut self, q: &mut EventQueue) {
        let Some(message) = self.message.as_mut().filter(|m| m.encoded) else {
            return;
        };
        message.start = q.arena.len();
        q.arena.extend_from_slice(&self.decoded);
        message.end = q.arena.len();
        self.decoded.clear();
    }

    /// Streaming mode: hands over what has arrived of the message so far,
    /// keeping back the bytes of a character not yet complete.
    fn deliver_piece(&mut self, config: &Config, q: &mut EventQueue, fin: bool) {
        if !config.streaming || self.message.is_none() {
            return;
        }
        let pending = if fin { 0 } else { self.utf8.pending() };
        // Decoded text keeps its unfinished character in `decoded`.
        let keep: Vec<u8> = match self.message.as_ref() {
            Some(m) if m.encoded => {
                let cut = self.decoded.len() - pending;
                self.decoded.split_off(cut)
            }
            _ => Vec::new(),
        };
        self.place_decoded(q);
        let known = config.validate_utf8 && self.utf8.is_ascii_so_far();
        let message = self.message.as_mut().expect("a message is open");
        let end = message.end - if message.encoded { 0 } else { pending };
        if end == message.start && !fin {
            self.decoded = keep;
            return;
        }
        let ascii = ascii_flag(message.kind, known, &q.arena[message.start..end]);
        let arg = message.kind as u32 | ascii | if fin { tag::FIN } else { 0 };
        q.push_arena(tag::FRAGMENT, arg, message.start, end - message.start);
        self.live_end = self.live_end.max(end);
        message.start = end;
        if message.encoded {
            message.start = message.end;
        }
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
            .filter(|m| m.in_arena())
            .map_or(q.arena.len(), |m| m.start)
    }

    /// The arena was compacted by `shift` bytes.
    pub fn shifted(&mut self, shift: usize) {
        if let Some(m) = self.message.as_mut().filter(|m| m.in_arena()) {
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
mod tests {
    use crate::close::code;
    use crate::config::Config;
    use crate::error::{Error, ProtocolError};
    use crate::event::MessageKind::{Binary, Text};
    use crate::extension::Extension;
    use crate::testkit::*;

    /// Feeds `wire` to an open server and expects the connection to fail with
    /// `err`, after delivering `before`, and the close frame carrying its code.
    fn server_fails(wire: &[u8], before: &[Ev], err: ProtocolError) {
        server_fails_with(Config::default(), wire, before, err);
    }

    /// Failing sends the close frame and closes the transport at once
    /// (§7.1.7), waiting for nothing more from the peer.
    fn server_fails_with(config: Config, wire: &[u8], before: &[Ev], err: ProtocolError) {
        let code = err.close_code();
        let mut s = open_server(config);
        let mut expected = before.to_vec();
        expected.push(Ev::Error(Error::Protocol(err)));
        expected.push(Ev::CloseTransport);
        assert_eq!(feed(&mut s, wire), expected);
        assert_eq!(sent_close(&s.take_output()), Some(code));
    }

    #[test]
    fn single_frame_messages() {
        let mut s = open_server(Config::default());
        let wire = [
            cframe(1, true, b"Hello"),
            cframe(2, true, &[0, 1, 255]),
            cframe(1, true, b""),
        ]
        .concat();
        assert_eq!(
            feed(&mut s, &wire),
            [text("Hello"), binary(&[0, 1, 255]), text("")]
        );
        assert!(s.take_output().is_empty());
    }

    #[test]
    fn unmasked_rfc_example_reaches_a_client() {
        let mut c = open_client(Config::default());
        assert_eq!(
            feed(&mut c, &[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]),
            [text("Hello")]
        );
    }

    #[test]
    fn fragments_with_control_frames_between() {
        let mut s = open_server(Config::default());
        let wire = [
            cframe(1, false, b"Hel"),
            cframe(9, true, b"ping!"),
            cframe(0, false, b""),
            cframe(0xA, true, b"unsolicited"),
            cframe(0, true, b"lo"),
        ]
        .concat();
        let events = feed(&mut s, &wire);
        assert_eq!(
            events,
            [
                Ev::Ping(b"ping!".to_vec()),
                Ev::Pong(b"unsolicited".to_vec()),
                text("Hello")
            ]
        );
        assert_eq!(frames(&s.take_output()), [(0xA, true, b"ping!".to_vec())]);
    }

    #[test]
    fn every_byte_boundary_gives_the_same_events() {
        let wire = [
            cframe(1, false, "κόσ".as_bytes()),
            cframe(9, true, b"p"),
            cframe(0, true, "με".as_bytes()),
            cframe(2, true, &[7; 300]),
            cframe(2, true, &[8; 70_000]),
        ]
        .concat();
        let whole = feed(&mut open_server(Config::default()), &wire);
        let mut s = open_server(Config::default());
        let mut bytewise = Vec::new();
        for b in &wire {
            bytewise.extend(feed(&mut s, std::slice::from_ref(b)));
        }
        assert_eq!(whole, bytewise);
        assert_eq!(whole[1], text("κόσμε"));
        assert_eq!(whole.len(), 4);
    }

    #[test]
    fn automatic_pong_can_be_turned_off() {
        let mut s = open_server(Config {
            auto_pong: false,
            ..Config::default()
        });
        assert_eq!(
            feed(&mut s, &cframe(9, true, b"x")),
            [Ev::Ping(b"x".to_vec())]
        );
        assert!(s.take_output().is_empty());
    }

    #[test]
    fn fragmentation_errors() {
        server_fails(
            &cframe(0, true, b"x"),
            &[],
            ProtocolError::UnexpectedContinuation,
        );
        let wire = [cframe(1, false, b"a"), cframe(1, true, b"b")].concat();
        server_fails(&wire, &[], ProtocolError::ExpectedContinuation);
        let wire = [
            cframe(2, true, b"ok"),
            cframe(1, false, b"a"),
            cframe(2, true, b"b"),
        ]
        .concat();
        server_fails(&wire, &[binary(b"ok")], ProtocolError::ExpectedContinuation);
    }

    #[test]
    fn header_rule_errors() {
        for op in [3u8, 7, 0xB, 0xF] {
            server_fails(
                &cframe(op, true, b""),
                &[],
                ProtocolError::ReservedOpcode(op),
            );
        }
        for rsv in 1..8 {
            let wire = raw_frame(1, true, rsv, Some(KEY), b"x");
            server_fails(&wire, &[], ProtocolError::ReservedBits(rsv));
        }
        server_fails(
            &cframe(9, false, b""),
            &[],
            ProtocolError::FragmentedControlFrame,
        );
        server_fails(
            &cframe(9, true, &[0; 126]),
            &[],
            ProtocolError::ControlFrameTooLong(126),
        );
        let top_bit = [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
        server_fails(&top_bit, &[], ProtocolError::LengthTopBitSet);
    }

    #[test]
    fn masking_direction_is_enforced() {
        server_fails(&sframe(1, true, b"x"), &[], ProtocolError::UnmaskedFrame);
        let mut c = open_client(Config::default());
        let events = feed(&mut c, &cframe(1, true, b"x"));
        assert_eq!(
            events,
            [
                Ev::Error(Error::Protocol(ProtocolError::MaskedFrame)),
                Ev::CloseTransport
            ]
        );
        assert_eq!(sent_close(&c.take_output()), Some(1002));
    }

    #[test]
    fn trusted_links_may_skip_masking() {
        let mut s = open_server(Config {
            disable_masking: true,
            ..Config::default()
        });
        let wire = [sframe(1, true, b"plain"), cframe(1, true, b"masked")].concat();
        assert_eq!(feed(&mut s, &wire), [text("plain"), text("masked")]);
    }

    #[test]
    fn invalid_utf8_fails_fast_with_1007() {
        // The first fragment is bad; the message never finishes, yet the error comes now.
        let wire = [
            cframe(1, false, "κόσμε".as_bytes()),
            cframe(0, false, b"\xF4\x90\x80\x80"),
        ]
        .concat();
        server_fails(&wire, &[], ProtocolError::InvalidUtf8);
        // Mid-frame: the frame's end has not even arrived.
        let whole = cframe(1, true, b"ok \xC0 and a long tail that never arrives");
        server_fails(&whole[..12], &[], ProtocolError::InvalidUtf8);
        // A message ending inside a character.
        server_fails(
            &cframe(1, true, b"abc\xE2\x82"),
            &[],
            ProtocolError::InvalidUtf8,
        );
        // Messages before the bad one are delivered; nothing of the bad one is.
        let wire = [
            cframe(1, true, b"fine"),
            cframe(1, false, b"partial "),
            cframe(0, true, b"\xFF"),
        ]
        .concat();
        server_fails(&wire, &[text("fine")], ProtocolError::InvalidUtf8);
    }

    #[test]
    fn utf8_checks_can_be_turned_off() {
        let mut s = open_server(Config {
            validate_utf8: false,
            ..Config::default()
        });
        let events = feed(&mut s, &cframe(1, true, b"\xFF\xFE"));
        assert_eq!(events, [Ev::Message(Text, vec![0xFF, 0xFE])]);
    }

    #[test]
    fn size_limits_fail_with_1009_before_buffering() {
        let limited = Config {
            max_message_size: 10,
            ..Config::default()
        };
        // Only the header of an oversized frame has arrived.
        let header = &cframe(2, true, &[0; 11])[..6];
        server_fails_with(
            limited.clone(),
            header,
            &[],
            ProtocolError::MessageTooBig { limit: 10 },
        );
        // A fragmented message grows past the limit.
        let wire = [cframe(2, false, &[0; 6]), cframe(0, true, &[0; 5])].concat();
        server_fails_with(
            limited.clone(),
            &wire,
            &[],
            ProtocolError::MessageTooBig { limit: 10 },
        );
        // Exactly at the limit is fine.
        let mut s = open_server(limited);
        assert_eq!(feed(&mut s, &cframe(2, true, &[1; 10])), [binary(&[1; 10])]);
        let frames_limited = Config {
            max_frame_size: 4,
            ..Config::default()
        };
        let wire = cframe(2, true, &[0; 5]);
        server_fails_with(
            frames_limited,
            &wire[..6],
            &[],
            ProtocolError::FrameTooBig { limit: 4 },
        );
    }

    #[test]
    fn close_frames() {
        let mut s = open_server(Config::default());
        let events = feed(&mut s, &cframe(8, true, b""));
        assert_eq!(
            events,
            [
                Ev::CloseReceived(code::NO_STATUS, String::new()),
                Ev::CloseTransport
            ]
        );
        assert_eq!(frames(&s.take_output()), [(8, true, vec![])]);

        let mut s = open_server(Config::default());
        let events = feed(&mut s, &cframe(8, true, &close_payload(4000, "done ✓")));
        assert_eq!(
            events,
            [Ev::CloseReceived(4000, "done ✓".into()), Ev::CloseTransport]
        );
        assert_eq!(sent_close(&s.take_output()), Some(4000));

        // A broken close fails the connection but still starts the closing
        // handshake: after its 1002 the server closes the transport rather than
        // wait for a second close.
        let close_fails = |payload: &[u8], err: ProtocolError| {
            let code = err.close_code();
            let mut s = open_server(Config::default());
            let events = feed(&mut s, &cframe(8, true, payload));
            assert_eq!(
                events,
                [Ev::Error(Error::Protocol(err)), Ev::CloseTransport]
            );
            assert_eq!(sent_close(&s.take_output()), Some(code));
        };
        close_fails(&[3], ProtocolError::CloseFrameTooShort);
        for bad in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
            close_fails(
                &close_payload(bad, ""),
                ProtocolError::InvalidCloseCode(bad),
            );
        }
        let bad_reason = [&1000u16.to_be_bytes()[..], b"\xFF"].concat();
        close_fails(&bad_reason, ProtocolError::InvalidCloseReason);
        // Even a close frame that breaks the header rules ends the peer's side.
        let mut s = open_server(Config::default());
        let events = feed(&mut s, &cframe(8, true, &[b'*'; 126]));
        let err = ProtocolError::ControlFrameTooLong(126);
        assert_eq!(
            events,
            [Ev::Error(Error::Protocol(err)), Ev::CloseTransport]
        );
    }

    #[test]
    fn nothing_is_read_after_a_close_frame() {
        let mut s = open_server(Config::default());
        let wire = [
            cframe(8, true, &close_payload(1000, "")),
            cframe(1, true, b"late"),
            vec![0xFF; 4],
        ]
        .concat();
        let events = feed(&mut s, &wire);
        assert_eq!(
            events,
            [Ev::CloseReceived(1000, String::new()), Ev::CloseTransport]
        );
        assert!(feed(&mut s, &cframe(1, true, b"later")).is_empty());
    }

    #[test]
    fn nothing_is_read_after_a_failure() {
        let mut s = open_server(Config::default());
        let wire = [
            cframe(1, true, b"\xFF"),
            cframe(1, true, b"ignored"),
            cframe(9, true, b"ignored"),
            cframe(8, true, &close_payload(1000, "")),
        ]
        .concat();
        assert_eq!(
            feed(&mut s, &wire),
            [
                Ev::Error(Error::Protocol(ProtocolError::InvalidUtf8)),
                Ev::CloseTransport
            ]
        );
        assert_eq!(frames(&s.take_output()).len(), 1, "one close, no pong");
        assert!(feed(&mut s, &cframe(9, true, b"later")).is_empty());
        assert!(s.take_output().is_empty());
    }

    #[test]
    fn streaming_delivers_pieces_as_they_arrive() {
        let config = Config {
            streaming: true,
            ..Config::default()
        };
        let mut s = open_server(config.clone());
        let frame = cframe(1, true, "aé€😀".as_bytes());
        // Header plus "a" and the first byte of "é": only "a" is whole.
        let events = feed(&mut s, &frame[..8]);
        assert_eq!(events, [Ev::Fragment(Text, b"a".to_vec(), false)]);
        let events = feed(&mut s, &frame[8..]);
        assert_eq!(
            events,
            [Ev::Fragment(Text, "é€😀".as_bytes().to_vec(), true)]
        );

        // Pieces follow arrival, not wire frames: two frames in one chunk are one piece.
        let mut s = open_server(config.clone());
        let wire = [cframe(2, false, b"ab"), cframe(0, true, b"")].concat();
        assert_eq!(
            feed(&mut s, &wire),
            [Ev::Fragment(Binary, b"ab".to_vec(), true)]
        );
        let mut s = open_server(config.clone());
        assert_eq!(
            feed(&mut s, &wire[..8]),
            [Ev::Fragment(Binary, b"ab".to_vec(), false)]
        );
        assert_eq!(
            feed(&mut s, &wire[8..]),
            [Ev::Fragment(Binary, vec![], true)]
        );

        let mut s = open_server(Config {
            receive_buffer_size: 256,
            ..config
        });
        let events = feed(&mut s, &cframe(2, true, &[5; 600]));
        let sizes: Vec<(usize, bool)> = events
            .iter()
            .map(|e| match e {
                Ev::Fragment(_, d, fin) => (d.len(), *fin),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(sizes, [(256, false), (256, false), (88, true)]);
    }

    #[test]
    fn big_binary_messages_can_be_assembled_by_the_host() {
        let config = Config {
            host_assembly: Some(100),
            ..Config::default()
        };
        let payload: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();

        // Unmasked (a client reads): announced as direct as soon as a read
        // ends inside it, even just after the header, with what came so far;
        // the rest is taken by the host from its own input.
        let mut c = open_client(config.clone());
        let frame = sframe(2, true, &payload);
        assert_eq!(
            feed(&mut c, &frame[..4]),
            [Ev::MessageStart(Binary, 1000, true)],
            "the header alone"
        );
        assert_eq!(
            feed(&mut c, &frame[4..504]),
            [Ev::Fragment(Binary, payload[..500].to_vec(), false)],
            "passed to `receive` after all"
        );
        assert!(c.host_payload(501, 0).is_err(), "more than the message has");
        c.host_payload(300, 0).unwrap();
        assert_eq!(drain(&mut c), []);
        c.host_payload(200, 0).unwrap();
        assert_eq!(drain(&mut c), [Ev::Fragment(Binary, vec![], true)]);
        assert!(c.host_payload(1, 0).is_err(), "no message is waiting");
        // Reading goes on after it; so does the same message through `receive`.
        let events = feed(&mut c, &[sframe(2, true, b"next"), frame.clone()].concat());
        assert_eq!(
            events,
            [binary(b"next"), binary(&payload)],
            "a message read whole is delivered whole"
        );
        // A header cut short is carried; the message starts once it is whole,
        // and the host may pass the rest to `receive` after all.
        assert_eq!(feed(&mut c, &frame[..3]), []);
        assert_eq!(
            feed(&mut c, &frame[3..600]),
            [
                Ev::MessageStart(Binary, 1000, true),
                Ev::Fragment(Binary, payload[..596].to_vec(), false)
            ]
        );
        assert_eq!(
            feed(&mut c, &frame[600..]),
            [Ev::Fragment(Binary, payload[596..].to_vec(), true)]
        );

        // Masked (a server reads): not direct, announced once half of it
        // has come (a header alone reserves nothing); each piece is handed
        // over unmasked.
        let mut s = open_server(config.clone());
        let frame = cframe(2, true, &payload);
        assert_eq!(feed(&mut s, &frame[..308]), [], "300 of 1000 bytes");
        assert_eq!(
            feed(&mut s, &frame[308..508]),
            [
                Ev::MessageStart(Binary, 1000, false),
                Ev::Fragment(Binary, payload[..500].to_vec(), false)
            ]
        );
        assert!(
            s.host_payload(1, 0).is_err(),
            "masked payload is not direct"
        );
        assert_eq!(
            feed(
                &mut s,
                &[&frame[508..], &cframe(9, true, b"p")[..]].concat()
            ),
            [
                Ev::Fragment(Binary, payload[500..].to_vec(), true),
                Ev::Ping(b"p".to_vec())
            ]
        );

        // Text, fragmented and small messages are never handed over.
        let mut s = open_server(config);
        let text_frame = cframe(1, true, &[b'a'; 200]);
        let fragmented = [cframe(2, false, &payload), cframe(0, true, b"")].concat();
        let small = cframe(2, true, &[7; 99]);
        for wire in [text_frame, fragmented, small] {
            let (a, b) = wire.split_at(wire.len() / 2);
            assert_eq!(feed(&mut s, a), []);
            let events = feed(&mut s, b);
            assert!(matches!(events[..], [Ev::Message(..)]), "{events:?}");
        }
    }

    /// A stand-in extension that owns RSV1 and inverts every payload byte.
    struct Invert;

    impl Extension for Invert {
        fn rsv_bits(&self) -> u8 {
            0b100
        }
        fn decode(
            &mut self,
            input: &[u8],
            _fin: bool,
            out: &mut Vec<u8>,
        ) -> Result<(), ProtocolError> {
            out.extend(input.iter().map(|b| !b));
            Ok(())
        }
        fn encode(&mut self, message: &[u8], out: &mut Vec<u8>) -> bool {
            out.extend(message.iter().map(|b| !b));
            true
        }
    }

    #[test]
    fn extensions_own_their_rsv_bits() {
        let inverted: Vec<u8> = b"hi".iter().map(|b| !b).collect();
        let mut s = open_server(Config::default());
        s.set_extension(Box::new(Invert));
        let wire = [
            raw_frame(1, true, 0b100, Some(KEY), &inverted),
            cframe(1, true, b"plain"),
        ]
        .concat();
        assert_eq!(feed(&mut s, &wire), [text("hi"), text("plain")]);
        s.send_text("yo").unwrap();
        let out = s.take_output();
        assert_eq!(out[0], 0xC1, "FIN + RSV1 + text");
        assert_eq!(&out[2..], [!b'y', !b'o']);
        // Bits the extension does not own, RSV1 on a continuation, and RSV1 on control frames fail.
        let mut s = open_server(Config::default());
        s.set_extension(Box::new(Invert));
        let events = feed(&mut s, &raw_frame(1, true, 0b010, Some(KEY), b"x"));
        assert_eq!(
            events,
            [
                Ev::Error(Error::Protocol(ProtocolError::ReservedBits(0b010))),
                Ev::CloseTransport
            ]
        );
        let mut s = open_server(Config::default());
        s.set_extension(Box::new(Invert));
        let wire = [
            raw_frame(1, false, 0b100, Some(KEY), &inverted),
            raw_frame(0, true, 0b100, Some(KEY), b"y"),
        ]
        .concat();
        let failed = [
            Ev::Error(Error::Protocol(ProtocolError::ReservedBits(0b100))),
            Ev::CloseTransport,
        ];
        assert_eq!(feed(&mut s, &wire), failed);
        let mut s = open_server(Config::default());
        s.set_extension(Box::new(Invert));
        let events = feed(&mut s, &raw_frame(9, true, 0b100, Some(KEY), b""));
        assert_eq!(events, failed);
    }

    #[test]
    fn extensions_decode_fragmented_and_streamed_messages() {
        let inv = |b: &[u8]| -> Vec<u8> { b.iter().map(|x| !x).collect() };
        let wire = [
            raw_frame(1, false, 0b100, Some(KEY), &inv("κό".as_bytes())),
            cframe(9, true, b"p"),
            cframe(0, false, &inv("σμ".as_bytes())),
            cframe(0, true, &inv(b"e!")),
            cframe(2, true, b"plain after"),
        ]
        .concat();
        for streaming in [false, true] {
            for cut in 0..wire.len() {
                let mut s = open_server(Config {
                    streaming,
                    ..Config::default()
                });
                s.set_extension(Box::new(Invert));
                let mut events = feed(&mut s, &wire[..cut]);
                events.extend(feed(&mut s, &wire[cut..]));
                let mut text = Vec::new();
                let mut rest = Vec::new();
                for e in events {
                    match e {
                        Ev::Fragment(Text, piece, _) => {
                            assert!(std::str::from_utf8(&piece).is_ok(), "cut {cut}");
                            text.extend(piece);
                        }
                        Ev::Message(Text, whole) => text.extend(whole),
                        Ev::Fragment(Binary, piece, _) => rest.extend(piece),
                        Ev::Message(Binary, whole) => rest.extend(whole),
                        Ev::Ping(_) => {}
                        other => panic!("{other:?}"),
                    }
                }
                assert_eq!(
                    text,
                    "κόσμe!".as_bytes(),
                    "streaming {streaming}, cut {cut}"
                );
                assert_eq!(rest, b"plain after");
            }
        }
    }

    #[test]
    fn traces_every_frame() {
        let mut s = open_server(Config {
            trace_frames: true,
            ..Config::default()
        });
        // The pong, written when the ping is taken, is traced right after it.
        match &feed(&mut s, &cframe(9, true, b"hey"))[..] {
            [Ev::Frame(seen, p1), Ev::Ping(_), Ev::Frame(sent, p2)] => {
                assert!(
                    !seen.outgoing && seen.fin && seen.masked && seen.opcode == 9 && seen.len == 3
                );
                assert!(sent.outgoing && !sent.masked && sent.opcode == 0xA);
                assert_eq!((p1.as_slice(), p2.as_slice()), (&b"hey"[..], &b"hey"[..]));
            }
            other => panic!("{other:?}"),
        }
    }
}
