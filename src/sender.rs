//! The sending half of the data stream: messages and control frames in, wire bytes out.
//!
//! A client masks every frame with a fresh key (§5.3) drawn from a ChaCha
//! stream seeded with the host's entropy, so the engine itself never reaches
//! for a random source. Payloads are copied and masked in one pass into the
//! output buffer, right after their header.

use rand_chacha::ChaCha12Rng;
use rand_core::{Rng, SeedableRng};

use crate::error::UsageError;
use crate::event::{EventQueue, FrameInfo, MessageKind};
use crate::extension::Extension;
use crate::frame::{FrameHeader, OpCode, MAX_HEADER_LEN};
use crate::mask;

/// Room reserved in the output for a message the host writes in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg(any(target_arch = "wasm32", test))]
pub(crate) struct Slot {
    /// Where the frame starts in the output.
    base: usize,
    /// Bytes kept for the header: enough for the longest payload allowed.
    header_room: usize,
    /// The longest payload allowed.
    capacity: usize,
}

#[cfg(any(target_arch = "wasm32", test))]
impl Slot {
    /// Output index where the host writes the payload.
    pub fn payload_at(&self) -> usize {
        self.base + self.header_room
    }
}

/// The header of a frame whose payload the host writes itself
/// (`Sender::host_header`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostHeader {
    /// The header's bytes: the first `len` of them.
    pub bytes: [u8; MAX_HEADER_LEN],
    /// How many of `bytes` the header takes.
    pub len: usize,
    /// The key the payload is to be masked with, if any.
    pub mask: Option<[u8; 4]>,
}

#[derive(Debug)]
pub(crate) struct Sender {
    keys: Keys,
    /// Largest payload per outgoing data frame.
    frame_size: usize,
    trace: bool,
    /// An outgoing message sent fragment by fragment and not finished.
    fragmenting: Option<MessageKind>,
}

/// Where a sender's masking keys come from.
#[derive(Debug)]
pub(crate) enum Keys {
    /// No mask: servers, and clients with masking disabled.
    None,
    /// A fresh key per frame (§5.3). Boxed: a server should not carry a
    /// generator it never uses.
    Random(Box<ChaCha12Rng>),
    /// The mask bit with the key 0, which every server accepts and which
    /// leaves the payload as it is (websocket.dll's disabled masking).
    Zero,
}

impl Keys {
    /// Fresh keys from `seed`.
    pub fn random(seed: [u8; 32]) -> Keys {
        Keys::Random(Box::new(ChaCha12Rng::from_seed(seed)))
    }

    fn next(&mut self) -> Option<[u8; 4]> {
        match self {
            Keys::None => None,
            Keys::Random(rng) => Some(rng.next_u32().to_ne_bytes()),
            Keys::Zero => Some([0; 4]),
        }
    }

    fn mask(&self) -> bool {
        !matches!(self, Keys::None)
    }
}

impl Sender {
    /// A sender that masks with `keys`.
    pub fn new(keys: Keys, frame_size: usize, trace: bool) -> Self {
        Sender {
            keys,
            frame_size,
            trace,
            fragmenting: None,
        }
    }

    /// Writes one frame. The caller has checked that it may be sent.
    pub fn frame(
        &mut self,
        out: &mut Vec<u8>,
        q: &mut EventQueue,
        opcode: u8,
        fin: bool,
        rsv: u8,
        payload: &[u8],
    ) {
        let header = FrameHeader {
            fin,
            rsv,
            opcode,
            mask: self.keys.next(),
            payload_len: payload.len() as u64,
        };
        out.reserve(header.encoded_len() + payload.len());
        header.write(out);
        match header.mask {
            // The zero key leaves the payload as it is.
            Some(key) if key != [0; 4] => mask::extend_masked(out, payload, key, 0),
            _ => out.extend_from_slice(payload),
        }
        if self.trace {
            q.push_frame(FrameInfo::of(&header, true), payload);
        }
    }

    #[cfg(any(target_arch = "wasm32", test))]
    /// Reserves room at the end of `out` for a message of up to `max_len`
    /// bytes that the host writes in place: header room for that length
    /// (zeroed), then the payload's. `None` if there is no memory for it.
    pub fn reserve(&self, out: &mut Vec<u8>, max_len: usize) -> Option<Slot> {
        let longest = FrameHeader {
            fin: true,
            rsv: 0,
            opcode: 0,
            mask: self.keys.mask().then_some([0; 4]),
            payload_len: max_len as u64,
        };
        let header_room = longest.encoded_len();
        out.try_reserve(header_room.checked_add(max_len)?).ok()?;
        for b in &mut out.spare_capacity_mut()[..header_room] {
            b.write(0);
        }
        Some(Slot {
            base: out.len(),
            header_room,
            capacity: max_len,
        })
    }

    #[cfg(any(target_arch = "wasm32", test))]
    /// Completes a message of `len` bytes the host wrote at `slot`: writes
    /// its header (shortest form) right before the payload, closing any gap,
    /// and masks the payload where it is. Messages that need splitting into
    /// frames, or that a fragmented send blocks, take the general path.
    ///
    /// # Safety
    /// `slot` is the last one `reserve` gave for `out`, `out` has not changed
    /// since, and the host wrote `len` (at most `slot.capacity`) bytes at
    /// `slot.payload_at()`.
    pub unsafe fn commit(
        &mut self,
        out: &mut Vec<u8>,
        q: &mut EventQueue,
        slot: Slot,
        kind: MessageKind,
        len: usize,
    ) -> Result<(), UsageError> {
        assert!(
            len <= slot.capacity && out.len() == slot.base,
            "a stale message slot"
        );
        let at = slot.payload_at();
        // SAFETY: the header room was zeroed by `reserve` and the host wrote
        // the payload, so all of `base..at + len` is initialized.
        unsafe { out.set_len(at + len) };
        if len > self.frame_size || self.fragmenting.is_some() {
            let payload = out.split_off(at);
            out.truncate(slot.base);
            return self.message(out, q, kind, &payload, None);
        }
        let header = FrameHeader {
            fin: true,
            rsv: 0,
            opcode: kind as u8,
            mask: self.keys.next(),
            payload_len: len as u64,
        };
        let (bytes, n) = header.encode();
        out[slot.base..slot.base + n].copy_from_slice(&bytes[..n]);
        let payload_at = slot.base + n;
        if payload_at != at {
            out.copy_within(at..at + len, payload_at);
            out.truncate(payload_at + len);
        }
        if let Some(key) = header.mask {
            mask::apply(&mut out[payload_at..], key, 0);
        }
        if self.trace {
            let shown = len.min(crate::event::TRACE_PREVIEW);
            let mut preview = [0u8; crate::event::TRACE_PREVIEW];
            preview[..shown].copy_from_slice(&out[payload_at..payload_at + shown]);
            if let Some(key) = header.mask {
                mask::apply(&mut preview[..shown], key, 0);
            }
            q.push_frame(FrameInfo::of(&header, true), &preview[..shown]);
        }
        Ok(())
    }

    /// Whether a message whose (encoded) payload is `len` bytes would go out
    /// now as one unmasked frame and nothing else: not masked, split at the
    /// send buffer size, traced, or behind a fragmented send.
    pub fn writes_plain_frame(&self, len: usize) -> bool {
        !self.keys.mask() && len <= self.frame_size && !self.trace && self.fragmenting.is_none()
    }

    /// The header of a message of `len` bytes sent as one frame whose
    /// payload the host writes itself, after the header, and its masking key
    /// (§5.3) if it is masked; `None` when the message must take the general
    /// path instead (encoded by an extension, split at the send buffer size,
    /// traced, or behind a fragmented send; or longer than any buffer of the
    /// engine's may be, so that a message too big for them fails the
    /// connection whoever writes it).
    pub fn host_header(
        &mut self,
        kind: MessageKind,
        len: usize,
        extension: bool,
    ) -> Option<HostHeader> {
        let plain = len <= self.frame_size && !self.trace && self.fragmenting.is_none();
        if extension || !plain || len > isize::MAX as usize {
            return None;
        }
        let header = FrameHeader {
            fin: true,
            rsv: 0,
            opcode: kind as u8,
            mask: self.keys.next(),
            payload_len: len as u64,
        };
        let (bytes, len) = header.encode();
        Some(HostHeader {
            bytes,
            len,
            // The zero key leaves the payload as it is.
            mask: header.mask.filter(|key| *key != [0; 4]),
        })
    }

    /// Writes a whole message, through the extension if one is installed, as
    /// frames of at most `frame_size` payload bytes.
    pub fn message(
        &mut self,
        out: &mut Vec<u8>,
        q: &mut EventQueue,
        kind: MessageKind,
        payload: &[u8],
        ext: Option<&mut (dyn Extension + 'static)>,
    ) -> Result<(), UsageError> {
        if self.fragmenting.is_some() {
            return Err(UsageError::InvalidState(
                "a fragmented message is being sent",
            ));
        }
        let mut encoded = Vec::new();
        let rsv = ext.map_or(0, |e| {
            if e.encode(payload, &mut encoded) {
                e.rsv_bits()
            } else {
                0
            }
        });
        let message = payload;
        let payload = if rsv != 0 {
            encoded.as_slice()
        } else {
            payload
        };
        let mut pieces = payload.chunks(self.frame_size);
        let first = pieces.next().unwrap_or_default();
        let last = pieces.len() == 0;
        self.frame(out, q, kind as u8, last, rsv, first);
        while let Some(piece) = pieces.next() {
            let last = pieces.len() == 0;
            self.frame(out, q, OpCode::Continuation as u8, last, 0, piece);
        }
        if self.trace && rsv != 0 {
            q.push_compressed(true, kind, message);
        }
        Ok(())
    }

    /// Writes the next fragment of a message sent piece by piece.
    pub fn fragment(
        &mut self,
        out: &mut Vec<u8>,
        q: &mut EventQueue,
        kind: MessageKind,
        payload: &[u8],
        fin: bool,
    ) -> Result<(), UsageError> {
        let opcode = match self.fragmenting {
            None => kind as u8,
            Some(k) if k == kind => OpCode::Continuation as u8,
            Some(_) => {
                return Err(UsageError::InvalidState(
                    "fragment kind differs from its message",
                ))
            }
        };
        self.frame(out, q, opcode, fin, 0, payload);
        self.fragmenting = if fin { None } else { Some(kind) };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(out: &[u8]) -> Vec<(FrameHeader, Vec<u8>)> {
        let mut frames = Vec::new();
        let mut rest = out;
        while !rest.is_empty() {
            let (h, n) = FrameHeader::parse(rest).unwrap().unwrap();
            let len = h.payload_len as usize;
            let mut payload = rest[n..n + len].to_vec();
            if let Some(key) = h.mask {
                mask::apply(&mut payload, key, 0);
            }
            frames.push((h, payload));
            rest = &rest[n + len..];
        }
        frames
    }

    #[test]
    fn server_frames_are_unmasked() {
        let mut s = Sender::new(Keys::None, usize::MAX, false);
        let mut out = Vec::new();
        s.message(
            &mut out,
            &mut EventQueue::default(),
            MessageKind::Text,
            b"Hello",
            None,
        )
        .unwrap();
        assert_eq!(out, [0x81, 0x05, b'H', b'e', b'l', b'l', b'o']);
    }

    #[test]
    fn client_frames_get_fresh_keys() {
        let mut s = Sender::new(Keys::random([7; 32]), usize::MAX, false);
        let mut out = Vec::new();
        let q = &mut EventQueue::default();
        s.message(&mut out, q, MessageKind::Binary, b"abc", None)
            .unwrap();
        s.message(&mut out, q, MessageKind::Binary, b"abc", None)
            .unwrap();
        let f = frames(&out);
        assert_eq!(f[0].1, b"abc");
        assert_eq!(f[1].1, b"abc");
        assert!(f[0].0.mask.is_some());
        assert_ne!(f[0].0.mask, f[1].0.mask);
    }

    #[test]
    fn long_messages_split_at_the_send_buffer_size() {
        let mut s = Sender::new(Keys::None, 4, false);
        let mut out = Vec::new();
        s.message(
            &mut out,
            &mut EventQueue::default(),
            MessageKind::Text,
            b"0123456789",
            None,
        )
        .unwrap();
        let f = frames(&out);
        let shape: Vec<(u8, bool, &[u8])> = f
            .iter()
            .map(|(h, p)| (h.opcode, h.fin, p.as_slice()))
            .collect();
        assert_eq!(
            shape,
            [
                (1, false, &b"0123"[..]),
                (0, false, b"4567"),
                (0, true, b"89")
            ]
        );
    }

    #[test]
    fn a_host_may_write_big_payloads_itself() {
        // The same bytes as the engine writes for the whole message: as they
        // are from a server, masked with the next key from a client.
        for keys in [Keys::None, Keys::random([1; 32]), Keys::Zero] {
            let seed_twin = match &keys {
                Keys::Random(_) => Keys::random([1; 32]),
                Keys::None => Keys::None,
                Keys::Zero => Keys::Zero,
            };
            let mut s = Sender::new(keys, usize::MAX, false);
            let h = s
                .host_header(MessageKind::Binary, 70_000, false)
                .expect("one frame");
            let mut out = h.bytes[..h.len].to_vec();
            let mut payload = vec![7; 70_000];
            if let Some(key) = h.mask {
                mask::apply(&mut payload, key, 0);
            }
            out.extend_from_slice(&payload);
            let mut whole = Vec::new();
            let mut q = EventQueue::default();
            Sender::new(seed_twin, usize::MAX, false)
                .message(&mut whole, &mut q, MessageKind::Binary, &[7; 70_000], None)
                .unwrap();
            assert_eq!(out, whole);
        }
        let mut s = Sender::new(Keys::None, usize::MAX, false);
        let h = |s: &mut Sender, len, ext| s.host_header(MessageKind::Text, len, ext);
        assert_eq!(h(&mut s, 9, true), None, "an extension may encode it");
        let mut split = Sender::new(Keys::None, 1000, false);
        assert_eq!(h(&mut split, 1001, false), None, "split");
        let mut traced = Sender::new(Keys::None, usize::MAX, true);
        assert_eq!(h(&mut traced, 9, false), None, "traced");
        let mut q = EventQueue::default();
        s.fragment(&mut Vec::new(), &mut q, MessageKind::Text, b"a", false)
            .unwrap();
        assert_eq!(h(&mut s, 9, false), None, "a fragmented send is open");
    }

    #[test]
    fn empty_message_is_one_frame() {
        let mut s = Sender::new(Keys::None, 4, false);
        let mut out = Vec::new();
        s.message(
            &mut out,
            &mut EventQueue::default(),
            MessageKind::Binary,
            b"",
            None,
        )
        .unwrap();
        assert_eq!(out, [0x82, 0x00]);
    }

    /// What a host writing in place does: reserve, write, commit.
    fn in_place(s: &mut Sender, out: &mut Vec<u8>, max: usize, payload: &[u8]) {
        let slot = s.reserve(out, max).expect("memory for the test");
        let gap = slot.payload_at() - out.len();
        out.spare_capacity_mut()[gap..][..payload.len()]
            .iter_mut()
            .zip(payload)
            .for_each(|(d, b)| {
                d.write(*b);
            });
        // SAFETY: the payload was written at the slot just reserved.
        unsafe {
            s.commit(
                out,
                &mut EventQueue::default(),
                slot,
                MessageKind::Text,
                payload.len(),
            )
        }
        .unwrap();
    }

    #[test]
    fn messages_written_in_place_get_the_shortest_header() {
        for (max, len) in [
            (10, 10),
            (300, 5),
            (70_000, 200),
            (70_000, 70_000),
            (125, 0),
        ] {
            for seed in [None, Some([3; 32])] {
                let keys = || seed.map_or(Keys::None, Keys::random);
                let mut s = Sender::new(keys(), usize::MAX, false);
                let mut out = vec![0xEE];
                let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
                in_place(&mut s, &mut out, max, &payload);
                let mut expected = vec![0xEE];
                let mut reference = Sender::new(keys(), usize::MAX, false);
                reference
                    .message(
                        &mut expected,
                        &mut EventQueue::default(),
                        MessageKind::Text,
                        &payload,
                        None,
                    )
                    .unwrap();
                assert_eq!(
                    out,
                    expected,
                    "max {max}, len {len}, masked {}",
                    seed.is_some()
                );
            }
        }
    }

    #[test]
    fn messages_written_in_place_still_split_at_the_send_buffer_size() {
        let mut s = Sender::new(Keys::None, 4, false);
        let mut out = Vec::new();
        in_place(&mut s, &mut out, 10, b"0123456789");
        assert_eq!(frames(&out).len(), 3);
    }

    #[test]
    fn fragments_continue_their_message() {
        let mut s = Sender::new(Keys::None, usize::MAX, false);
        let mut out = Vec::new();
        let q = &mut EventQueue::default();
        s.fragment(&mut out, q, MessageKind::Text, b"He", false)
            .unwrap();
        assert!(s
            .message(&mut out, q, MessageKind::Text, b"x", None)
            .is_err());
        assert!(s
            .fragment(&mut out, q, MessageKind::Binary, b"x", true)
            .is_err());
        s.fragment(&mut out, q, MessageKind::Text, b"llo", true)
            .unwrap();
        assert_eq!(out, [0x01, 0x02, b'H', b'e', 0x80, 0x03, b'l', b'l', b'o']);
    }
}
