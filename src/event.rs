//! What the engine tells its host, and the queue it tells it through.
//!
//! Events are small fixed records (`RawEvent`) whose payloads are ranges of two
//! engine-owned buffers: the *arena*, which holds data-message payloads (and
//! the message being assembled at its tail), and the *side* buffer for
//! everything else (control payloads, reasons, error texts, trace previews).
//! A host in Rust reads them as `Event`s; the wasm host reads the records
//! straight out of linear memory, with no object built per event.
//! Payloads stay valid until the host has taken and released every event.

use crate::error::Error;

/// The type of a data message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum MessageKind {
    /// UTF-8 text.
    Text = 1,
    /// Arbitrary bytes.
    Binary = 2,
}

/// One frame as the engine read or wrote it, for tracing tools.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameInfo {
    /// Written by this engine rather than read from the peer.
    pub outgoing: bool,
    /// The FIN bit.
    pub fin: bool,
    /// The RSV bits, RSV1 = 0b100.
    pub rsv: u8,
    /// The raw opcode.
    pub opcode: u8,
    /// Whether the frame carried a masking key.
    pub masked: bool,
    /// The payload length.
    pub len: u64,
}

/// Something the host must know or act on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Event<'a> {
    /// Server: a valid opening request arrived. Inspect it with
    /// `Connection::request` and answer with `accept` or `reject`.
    Request,
    /// The opening handshake completed: the connection is OPEN.
    Open {
        /// The agreed subprotocol, or empty.
        protocol: &'a str,
        /// The agreed extensions as a `Sec-WebSocket-Extensions` value, or empty.
        extensions: &'a str,
    },
    /// A whole data message. Text is valid UTF-8 unless validation is off.
    Message {
        /// Text or binary.
        kind: MessageKind,
        /// The payload.
        data: &'a [u8],
    },
    /// Streaming mode, or after `MessageStart`: the next piece of a data
    /// message. Text pieces end on a character boundary, so each decodes on
    /// its own.
    Fragment {
        /// Text or binary, the same for every piece of one message.
        kind: MessageKind,
        /// The piece.
        data: &'a [u8],
        /// The message's last piece.
        fin: bool,
    },
    /// With `Config::host_assembly`: a big message has begun; its pieces,
    /// from the first byte, follow as `Fragment`s (the last with `fin`) for
    /// the host to assemble, announced as soon as a read ends inside it (a
    /// `direct` one as soon as its header is in). A host keeps what it holds
    /// to at most twice what the peer has sent by allocating `len` only once
    /// it holds half.
    MessageStart {
        /// Text or binary.
        kind: MessageKind,
        /// The message's length in bytes.
        len: u64,
        /// The payload is not masked, so the host may copy it from its own
        /// input and report it with `Connection::host_payload` rather than
        /// pass it to `receive`: one copy fewer.
        direct: bool,
    },
    /// The peer pinged; a pong is sent automatically unless turned off.
    Ping(&'a [u8]),
    /// The peer sent a pong, solicited or not.
    Pong(&'a [u8]),
    /// The peer started (or answered) the closing handshake; the state is CLOSING.
    CloseReceived {
        /// The code, 1005 when the frame had none.
        code: u16,
        /// The reason, possibly empty.
        reason: &'a str,
    },
    /// The connection failed. Messages before it were delivered; nothing of
    /// the message that broke it is.
    Error(&'a Error),
    /// Close the transport: when `graceful`, after writing out the pending
    /// output; otherwise at once (the engine gave up: a timeout, a failed
    /// handshake, an abort).
    CloseTransport {
        /// Write the pending output first.
        graceful: bool,
    },
    /// The connection is CLOSED; the last event.
    Closed {
        /// The close code: the peer's if a close frame came (1005 if it had
        /// none), 1006 if none came or the connection failed (§7.1.5).
        code: u16,
        /// The peer's close reason.
        reason: &'a str,
        /// Whether the closing handshake completed.
        was_clean: bool,
    },
    /// Tracing: a frame was read or written.
    Frame {
        /// The frame's header.
        info: FrameInfo,
        /// Up to `TRACE_PREVIEW` bytes from the start of its payload, unmasked.
        preview: &'a [u8],
    },
    /// Tracing: a message an extension decoded (received) or encoded (sent),
    /// as the application sees it, after the `Frame`s that carried it.
    Compressed {
        /// Sent by this engine rather than received.
        outgoing: bool,
        /// Text or binary.
        kind: MessageKind,
        /// Its length before compressing / after inflating.
        len: u64,
        /// Up to `TRACE_PREVIEW` bytes from its start.
        preview: &'a [u8],
    },
}

/// Where a `FRAME` event's `arg` keeps the frame's header bits.
pub mod frame_bits {
    /// Written by this engine.
    pub const OUTGOING: u32 = 1;
    /// The FIN bit.
    pub const FIN: u32 = 2;
    /// The RSV bits (three) start here.
    pub const RSV_SHIFT: u32 = 2;
    /// The frame was masked.
    pub const MASKED: u32 = 0x20;
    /// The opcode (four bits) starts here.
    pub const OPCODE_SHIFT: u32 = 8;
}

/// Longest payload preview carried by `Event::Frame`.
pub const TRACE_PREVIEW: usize = 32;

/// The numeric kinds of `RawEvent`, shared with the JavaScript host.
pub mod tag {
    /// `Event::Request`.
    pub const REQUEST: u16 = 1;
    /// `Event::Open`; the side range holds protocol then extensions, `arg` the protocol's length.
    pub const OPEN: u16 = 2;
    /// `Event::Message`; `arg` is the `MessageKind`, plus `ASCII` for text
    /// that is all ASCII.
    pub const MESSAGE: u16 = 3;
    /// `Event::Fragment`; `arg` is the `MessageKind`, plus `FIN` on the last
    /// piece, plus `ASCII` for a text piece that is all ASCII.
    pub const FRAGMENT: u16 = 4;
    /// Flag in a `FRAGMENT` `arg`: the message's last piece.
    pub const FIN: u32 = 0x100;
    /// Flag in a `MESSAGE` or `FRAGMENT` `arg`: the text is all ASCII.
    pub const ASCII: u32 = 0x200;
    /// `Event::Ping`.
    pub const PING: u16 = 5;
    /// `Event::Pong`.
    pub const PONG: u16 = 6;
    /// `Event::CloseReceived`; `arg` is the code.
    pub const CLOSE_RECEIVED: u16 = 7;
    /// `Event::Error`; `arg` is the close code sent (0 if none), the range the message.
    pub const ERROR: u16 = 8;
    /// `Event::CloseTransport`; `arg` is 1 when graceful.
    pub const CLOSE_TRANSPORT: u16 = 9;
    /// `Event::Closed`; `arg` is the code, plus `CLEAN` when the closing
    /// handshake completed.
    pub const CLOSED: u16 = 10;
    /// Flag in a `CLOSED` `arg`: the connection closed cleanly.
    pub const CLEAN: u32 = 0x10000;
    /// `Event::Frame`; `arg` packs the header (see `FrameInfo::pack`), `size` the length.
    pub const FRAME: u16 = 11;
    /// `Event::MessageStart`; `arg` is the `MessageKind`, plus `DIRECT`; `size` the length.
    pub const MESSAGE_START: u16 = 12;
    /// Flag in a `MESSAGE_START` `arg`: the host may take the payload itself.
    pub const DIRECT: u32 = 0x400;
    /// `Event::Compressed`; `arg` is the `MessageKind`, plus `OUTGOING` when
    /// sent; `size` the uncompressed length.
    pub const COMPRESSED: u16 = 13;
    /// Flag in a `COMPRESSED` `arg`: the message was sent.
    pub const OUTGOING: u32 = 0x800;
}

/// Bits of a `RawEvent`'s `flags`.
pub mod flag {
    /// The payload range lies in the side buffer (control payloads, reasons,
    /// error texts, trace previews), not in the arena (data messages).
    pub const SIDE: u16 = 1;
    /// Taking the event makes the engine answer the peer (a pong, a close
    /// frame): a host that reacts to events releases this one only once it
    /// has reacted to the ones before (see `Connection::next_event`).
    pub const OWES_REPLY: u16 = 2;

    /// The flags of an event with `tag` whose payload lies in the side buffer or not.
    pub(crate) fn of(tag: u16, side: bool) -> u16 {
        let owes = matches!(
            tag,
            super::tag::PING | super::tag::CLOSE_RECEIVED | super::tag::ERROR
        );
        (if side { SIDE } else { 0 }) | (if owes { OWES_REPLY } else { 0 })
    }
}

/// One event as stored: 24 bytes on wasm32, read by the JS host through a `DataView`.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct RawEvent {
    /// One of `tag::*`.
    pub tag: u16,
    /// Bits of `flag::*`.
    pub flags: u16,
    /// Tag-specific argument.
    pub arg: u32,
    /// Start of the payload range.
    pub start: usize,
    /// Length of the payload range.
    pub len: usize,
    /// Tag-specific size (a frame's payload length).
    pub size: f64,
}

impl FrameInfo {
    /// The trace record of a frame with header `h`.
    pub fn of(h: &crate::frame::FrameHeader, outgoing: bool) -> FrameInfo {
        FrameInfo {
            outgoing,
            fin: h.fin,
            rsv: h.rsv,
            opcode: h.opcode,
            masked: h.mask.is_some(),
            len: h.payload_len,
        }
    }

    /// Packs the header bits into a `RawEvent::arg` (see `frame_bits`).
    pub fn pack(&self) -> u32 {
        use frame_bits::*;
        let bit = |on: bool, bit: u32| if on { bit } else { 0 };
        bit(self.outgoing, OUTGOING)
            | bit(self.fin, FIN)
            | (((self.rsv & 7) as u32) << RSV_SHIFT)
            | bit(self.masked, MASKED)
            | (((self.opcode & 0xF) as u32) << OPCODE_SHIFT)
    }

    fn unpack(arg: u32, len: f64) -> FrameInfo {
        use frame_bits::*;
        FrameInfo {
            outgoing: arg & OUTGOING != 0,
            fin: arg & FIN != 0,
            rsv: ((arg >> RSV_SHIFT) & 7) as u8,
            masked: arg & MASKED != 0,
            opcode: ((arg >> OPCODE_SHIFT) & 0xF) as u8,
            len: len as u64,
        }
    }
}

/// The queue of events not yet settled, and the buffers their payloads live in.
#[derive(Debug, Default)]
pub(crate) struct EventQueue {
    pub raw: Vec<RawEvent>,
    /// Events handed to the host.
    pub taken: usize,
    /// Events whose deferred output (pong, close reply) has been written.
    pub released: usize,
    pub arena: Vec<u8>,
    pub side: Vec<u8>,
}

/// Buffer memory a connection keeps between uses without question. Past
/// it, a big message should cost its memory only while it passes: idle
/// connections are what a server holds by the thousand, and in wasm, memory
/// one connection keeps is memory no other can use.
pub(crate) const WORKING_SIZE: usize = 16 * 1024;

/// Frees an emptied buffer that grew past `WORKING_SIZE` but whose last use
/// (`used` items) filled less than a quarter of it: a stream of big
/// messages keeps reusing one allocation, while a connection whose big
/// messages have passed gives the memory back at its next small one. One
/// that goes quiet right after a big message makes no such call: its host
/// trims it (`Connection::wants_trim`).
pub(crate) fn shrink_unused<T>(buf: &mut Vec<T>, used: usize) {
    let bytes = |n: usize| n * std::mem::size_of::<T>();
    if buf.is_empty() && bytes(buf.capacity()) > WORKING_SIZE && used < buf.capacity() / 4 {
        *buf = Vec::new();
    }
}
impl EventQueue {
    /// Every event has been taken and released, so the buffers may be reused.
    pub fn is_settled(&self) -> bool {
        self.taken == self.raw.len() && self.released == self.raw.len()
    }

    /// Frees the buffers of a settled, empty queue (see `Connection::trim`).
    pub fn trim(&mut self) {
        if self.is_settled() && self.raw.is_empty() {
            self.raw = Vec::new();
            if self.arena.is_empty() {
                self.arena = Vec::new();
            }
            self.side = Vec::new();
        }
    }

    /// Drops settled events and their payloads, keeping the arena from
    /// `keep_from` on (a message still being assembled), and frees buffers
    /// that grew large. Returns how far the kept bytes moved towards the
    /// start.
    pub fn clear(&mut self, keep_from: usize) -> usize {
        debug_assert!(self.is_settled());
        let used = (self.raw.len(), self.side.len(), self.arena.len());
        self.raw.clear();
        self.taken = 0;
        self.released = 0;
        self.side.clear();
        let kept = self.arena.len() - keep_from;
        if keep_from > 0 {
            self.arena.copy_within(keep_from.., 0);
            self.arena.truncate(kept);
        }
        shrink_unused(&mut self.raw, used.0);
        shrink_unused(&mut self.side, used.1);
        shrink_unused(&mut self.arena, used.2);
        keep_from
    }

    /// Bytes of buffer capacity held.
    pub fn capacity(&self) -> usize {
        self.raw.capacity() * std::mem::size_of::<RawEvent>()
            + self.arena.capacity()
            + self.side.capacity()
    }

    /// Adds an event whose payload is `arena[start..start + len]`.
    pub fn push_arena(&mut self, tag: u16, arg: u32, start: usize, len: usize) {
        self.raw.push(RawEvent {
            tag,
            flags: flag::of(tag, false),
            arg,
            start,
            len,
            size: 0.0,
        });
    }

    /// Adds an event whose payload is copied into the side buffer.
    pub fn push_side(&mut self, tag: u16, arg: u32, payload: &[u8], size: f64) {
        let start = self.side.len();
        self.side.extend_from_slice(payload);
        self.raw.push(RawEvent {
            tag,
            flags: flag::of(tag, true),
            arg,
            start,
            len: payload.len(),
            size,
        });
    }

    /// Adds a trace event for a message an extension encoded (`outgoing`)
    /// or decoded.
    pub fn push_compressed(&mut self, outgoing: bool, kind: MessageKind, message: &[u8]) {
        let arg = kind as u32 | if outgoing { tag::OUTGOING } else { 0 };
        let preview = &message[..message.len().min(TRACE_PREVIEW)];
        self.push_side(tag::COMPRESSED, arg, preview, message.len() as f64);
    }

    /// Adds a trace event for a frame.
    pub fn push_frame(&mut self, info: FrameInfo, preview: &[u8]) {
        let preview = &preview[..preview.len().min(TRACE_PREVIEW)];
        self.push_side(tag::FRAME, info.pack(), preview, info.len as f64);
    }

    fn bytes(&self, e: &RawEvent) -> &[u8] {
        let buf = if e.flags & flag::SIDE == 0 {
            &self.arena
        } else {
            &self.side
        };
        &buf[e.start..e.start + e.len]
    }

    /// The event at `i` as the Rust host sees it; `error` is the connection's
    /// failure, which `Event::Error` borrows.
    pub fn view<'a>(&'a self, i: usize, error: Option<&'a Error>) -> Event<'a> {
        let e = &self.raw[i];
        let data = self.bytes(e);
        // Engine-written text (reasons, names) is always UTF-8.
        let text = |b: &'a [u8]| std::str::from_utf8(b).unwrap_or_default();
        let kind = |arg: u32| {
            if arg & 0xFF == MessageKind::Text as u32 {
                MessageKind::Text
            } else {
                MessageKind::Binary
            }
        };
        match e.tag {
            tag::REQUEST => Event::Request,
            tag::OPEN => {
                let (p, x) = data.split_at(e.arg as usize);
                Event::Open {
                    protocol: text(p),
                    extensions: text(x),
                }
            }
            tag::MESSAGE => Event::Message {
                kind: kind(e.arg),
                data,
            },
            tag::FRAGMENT => Event::Fragment {
                kind: kind(e.arg),
                data,
                fin: e.arg & tag::FIN != 0,
            },
            tag::MESSAGE_START => Event::MessageStart {
                kind: kind(e.arg),
                len: e.size as u64,
                direct: e.arg & tag::DIRECT != 0,
            },
            tag::PING => Event::Ping(data),
            tag::PONG => Event::Pong(data),
            tag::CLOSE_RECEIVED => Event::CloseReceived {
                code: e.arg as u16,
                reason: text(data),
            },
            tag::ERROR => Event::Error(error.expect("an error event has its error")),
            tag::CLOSE_TRANSPORT => Event::CloseTransport {
                graceful: e.arg != 0,
            },
            tag::CLOSED => Event::Closed {
                code: e.arg as u16,
                reason: text(data),
                was_clean: e.arg & tag::CLEAN != 0,
            },
            tag::COMPRESSED => Event::Compressed {
                outgoing: e.arg & tag::OUTGOING != 0,
                kind: kind(e.arg),
                len: e.size as u64,
                preview: data,
            },
            _ => Event::Frame {
                info: FrameInfo::unpack(e.arg, e.size),
                preview: data,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_event_layout_is_stable() {
        // The JS host reads these fields at fixed offsets on wasm32.
        assert_eq!(std::mem::offset_of!(RawEvent, tag), 0);
        assert_eq!(std::mem::offset_of!(RawEvent, flags), 2);
        assert_eq!(std::mem::offset_of!(RawEvent, arg), 4);
        assert_eq!(std::mem::offset_of!(RawEvent, start), 8);
    }

    #[test]
    fn frame_info_packs_and_unpacks() {
        let info = FrameInfo {
            outgoing: true,
            fin: false,
            rsv: 0b101,
            opcode: 0xA,
            masked: true,
            len: 70_000,
        };
        assert_eq!(FrameInfo::unpack(info.pack(), 70_000.0), info);
    }

    #[test]
    fn clearing_keeps_the_unfinished_message() {
        let mut q = EventQueue::default();
        q.arena.extend_from_slice(b"donepartial");
        q.push_arena(tag::MESSAGE, 2, 0, 4);
        q.taken = 1;
        q.released = 1;
        assert_eq!(q.clear(4), 4);
        assert_eq!(q.arena, b"partial");
        assert!(q.raw.is_empty() && q.is_settled());
    }

    #[test]
    fn a_large_arena_is_kept_while_used_and_freed_after() {
        let mut q = EventQueue {
            arena: vec![0; WORKING_SIZE * 8],
            ..Default::default()
        };
        // A batch that filled it: kept for the next big message.
        let len = q.arena.len();
        q.clear(len);
        assert_eq!(q.arena.capacity(), WORKING_SIZE * 8);
        // A batch that used little of it: given back.
        q.arena.extend_from_slice(&[1; 100]);
        q.clear(100);
        assert_eq!(q.arena.capacity(), 0);
        // Small buffers are kept whatever their use.
        q.arena.extend_from_slice(&[1; 100]);
        let cap = q.arena.capacity();
        q.clear(100);
        assert_eq!(q.arena.capacity(), cap);
    }
}
