//! The RFC 6455 §5.2 frame header: parsing it from the wire and writing it back.
//!
//! Only the header lives here. Payload bytes never pass through this module, so
//! the receiver can move them straight from the transport chunk to where they
//! belong (see `receiver`), and the sender can write them after the header.

use crate::error::ProtocolError;

/// The largest header: 2 fixed bytes, an 8-byte length and a 4-byte mask key.
pub const MAX_HEADER_LEN: usize = 14;

/// Control frames carry at most this many payload bytes (§5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// A frame's opcode (§5.2). Reserved values are rejected while parsing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum OpCode {
    /// Continues the data message begun by an earlier frame.
    Continuation = 0x0,
    /// First frame of a UTF-8 text message.
    Text = 0x1,
    /// First frame of a binary message.
    Binary = 0x2,
    /// Starts or answers a closing handshake.
    Close = 0x8,
    /// Asks the peer for a pong.
    Ping = 0x9,
    /// Answers a ping, or serves as a unidirectional heartbeat.
    Pong = 0xA,
}

impl OpCode {
    /// Maps the low nibble of a header's first byte to an opcode.
    pub fn from_u8(value: u8) -> Option<OpCode> {
        Some(match value {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            _ => return None,
        })
    }

    /// Close, ping and pong: frames that may appear between a message's fragments.
    pub fn is_control(self) -> bool {
        (self as u8) & 0x8 != 0
    }
}

/// A frame header as it stands on the wire.
///
/// The opcode is kept raw so that any header can be parsed (and skipped) and
/// any header can be written, including the broken ones a protocol tester
/// sends on purpose; `check` applies the rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// Last frame of its message.
    pub fin: bool,
    /// The three RSV bits, as RSV1 = 0b100, RSV2 = 0b010, RSV3 = 0b001.
    pub rsv: u8,
    /// The opcode nibble.
    pub opcode: u8,
    /// The masking key, present on every client-to-server frame.
    pub mask: Option<[u8; 4]>,
    /// Payload length in bytes.
    pub payload_len: u64,
}

impl FrameHeader {
    /// Parses a header from the start of `buf`.
    ///
    /// Returns `Ok(None)` when `buf` does not yet hold the whole header, and
    /// `Ok(Some((header, header_len)))` once it does. The only error is a
    /// 64-bit length with its top bit set, after which the stream cannot be
    /// followed at all.
    pub fn parse(buf: &[u8]) -> Result<Option<(FrameHeader, usize)>, ProtocolError> {
        let [b0, b1, ..] = *buf else {
            return Ok(None);
        };
        let (payload_len, mut len) = match b1 & 0x7F {
            126 => match buf.get(2..4) {
                Some(b) => (u16::from_be_bytes([b[0], b[1]]) as u64, 4),
                None => return Ok(None),
            },
            127 => match buf.get(2..10) {
                Some(b) => {
                    let n = u64::from_be_bytes(b.try_into().expect("8 bytes"));
                    if n >> 63 != 0 {
                        return Err(ProtocolError::LengthTopBitSet);
                    }
                    (n, 10)
                }
                None => return Ok(None),
            },
            n => (n as u64, 2),
        };
        let mask = if b1 & 0x80 != 0 {
            let Some(key) = buf.get(len..len + 4) else {
                return Ok(None);
            };
            len += 4;
            Some(key.try_into().expect("4 bytes"))
        } else {
            None
        };
        let header = FrameHeader {
            fin: b0 & 0x80 != 0,
            rsv: (b0 >> 4) & 0x7,
            opcode: b0 & 0x0F,
            mask,
            payload_len,
        };
        Ok(Some((header, len)))
    }

    /// Applies the rules that need no connection state: no reserved opcodes,
    /// and control frames final and at most 125 bytes (§5.5). RSV bits,
    /// masking direction and fragmentation are judged by the receiver, which
    /// knows the negotiated extensions and the role.
    pub fn check(&self) -> Result<OpCode, ProtocolError> {
        let op = OpCode::from_u8(self.opcode).ok_or(ProtocolError::ReservedOpcode(self.opcode))?;
        if op.is_control() {
            if !self.fin {
                return Err(ProtocolError::FragmentedControlFrame);
            }
            if self.payload_len > MAX_CONTROL_PAYLOAD as u64 {
                return Err(ProtocolError::ControlFrameTooLong(self.payload_len));
            }
        }
        Ok(op)
    }

    /// Bytes this header takes on the wire.
    pub fn encoded_len(&self) -> usize {
        let len_bytes = match self.payload_len {
            0..=125 => 0,
            126..=0xFFFF => 2,
            _ => 8,
        };
        2 + len_bytes + if self.mask.is_some() { 4 } else { 0 }
    }

    /// The header's bytes, with the shortest length encoding (§5.2 requires
    /// the minimal one): the array and how much of it is used.
    pub fn encode(&self) -> ([u8; MAX_HEADER_LEN], usize) {
        let mut b = [0u8; MAX_HEADER_LEN];
        b[0] = (self.fin as u8) << 7 | (self.rsv & 0x7) << 4 | (self.opcode & 0xF);
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut n = match self.payload_len {
            len @ 0..=125 => {
                b[1] = mask_bit | len as u8;
                2
            }
            len @ 126..=0xFFFF => {
                b[1] = mask_bit | 126;
                b[2..4].copy_from_slice(&(len as u16).to_be_bytes());
                4
            }
            len => {
                b[1] = mask_bit | 127;
                b[2..10].copy_from_slice(&len.to_be_bytes());
                10
            }
        };
        if let Some(key) = self.mask {
            b[n..n + 4].copy_from_slice(&key);
            n += 4;
        }
        (b, n)
    }

    /// Appends the header to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        let (bytes, n) = self.encode();
        out.extend_from_slice(&bytes[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(buf: &[u8]) -> (FrameHeader, usize) {
        FrameHeader::parse(buf).unwrap().unwrap()
    }

    /// RFC 6455 §5.7: a single-frame unmasked text message "Hello".
    #[test]
    fn rfc_unmasked_hello() {
        let wire = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        let (h, n) = parse_all(&wire);
        assert_eq!(n, 2);
        assert_eq!(
            (h.fin, h.check(), h.mask, h.payload_len),
            (true, Ok(OpCode::Text), None, 5)
        );
        assert_eq!(&wire[n..], b"Hello");
        let mut out = Vec::new();
        h.write(&mut out);
        assert_eq!(out, &wire[..2]);
    }

    /// §5.7: a masked "Hello" as a client sends it.
    #[test]
    fn rfc_masked_hello() {
        let wire = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let (h, n) = parse_all(&wire);
        assert_eq!(n, 6);
        assert_eq!(h.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
        let mut payload = wire[n..].to_vec();
        crate::mask::apply(&mut payload, h.mask.unwrap(), 0);
        assert_eq!(payload, b"Hello");
        let mut out = Vec::new();
        h.write(&mut out);
        assert_eq!(out, &wire[..6]);
    }

    /// §5.7: a fragmented unmasked text message, "Hel" then "lo".
    #[test]
    fn rfc_fragmented_hello() {
        let (first, _) = parse_all(&[0x01, 0x03, 0x48, 0x65, 0x6c]);
        assert_eq!(
            (first.fin, first.check(), first.payload_len),
            (false, Ok(OpCode::Text), 3)
        );
        let (last, _) = parse_all(&[0x80, 0x02, 0x6c, 0x6f]);
        assert_eq!(
            (last.fin, last.check(), last.payload_len),
            (true, Ok(OpCode::Continuation), 2)
        );
    }

    /// §5.7: unmasked ping carrying "Hello", and the masked pong answering it.
    #[test]
    fn rfc_ping_and_masked_pong() {
        let (ping, _) = parse_all(&[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        assert_eq!((ping.check(), ping.payload_len), (Ok(OpCode::Ping), 5));
        let pong_wire = [
            0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let (pong, n) = parse_all(&pong_wire);
        assert_eq!(pong.check(), Ok(OpCode::Pong));
        let mut payload = pong_wire[n..].to_vec();
        crate::mask::apply(&mut payload, pong.mask.unwrap(), 0);
        assert_eq!(payload, b"Hello");
    }

    /// §5.7: 256 bytes and 64 KiB binary messages use the 16- and 64-bit lengths.
    #[test]
    fn rfc_extended_lengths() {
        let (h, n) = parse_all(&[0x82, 0x7E, 0x01, 0x00]);
        assert_eq!((h.check(), h.payload_len, n), (Ok(OpCode::Binary), 256, 4));
        let wire64 = [0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00];
        let (h, n) = parse_all(&wire64);
        assert_eq!((h.payload_len, n), (65536, 10));
        let mut out = Vec::new();
        h.write(&mut out);
        assert_eq!(out, wire64);
    }

    #[test]
    fn writes_minimal_length_encoding() {
        for (len, expected) in [(125u64, 2usize), (126, 4), (0xFFFF, 4), (0x10000, 10)] {
            let h = FrameHeader {
                fin: true,
                rsv: 0,
                opcode: OpCode::Binary as u8,
                mask: None,
                payload_len: len,
            };
            let mut out = Vec::new();
            h.write(&mut out);
            assert_eq!(out.len(), expected, "length {len}");
            assert_eq!(h.encoded_len(), expected);
            assert_eq!(parse_all(&out).0, h);
        }
    }

    #[test]
    fn incomplete_headers_ask_for_more() {
        let full = [0x82, 0xFF, 0, 0, 0, 0, 0, 0, 1, 0, 1, 2, 3, 4];
        for cut in 0..full.len() {
            assert_eq!(FrameHeader::parse(&full[..cut]), Ok(None), "cut at {cut}");
        }
        assert!(FrameHeader::parse(&full).unwrap().is_some());
    }

    #[test]
    fn reserved_opcodes_fail() {
        for op in [3u8, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
            let (h, _) = parse_all(&[0x80 | op, 0]);
            assert_eq!(h.check(), Err(ProtocolError::ReservedOpcode(op)));
        }
    }

    #[test]
    fn length_with_top_bit_fails() {
        let wire = [0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 1];
        assert_eq!(
            FrameHeader::parse(&wire),
            Err(ProtocolError::LengthTopBitSet)
        );
    }

    #[test]
    fn control_frames_must_be_final_and_short() {
        let check = |wire: &[u8]| parse_all(wire).0.check();
        assert_eq!(
            check(&[0x09, 0x00]),
            Err(ProtocolError::FragmentedControlFrame)
        );
        assert_eq!(
            check(&[0x89, 0x7E, 0x00, 0x7E]),
            Err(ProtocolError::ControlFrameTooLong(126))
        );
        assert_eq!(check(&[0x88, 0x7D]), Ok(OpCode::Close));
        assert_eq!(check(&[0x01, 0x7E, 0x10, 0x00]), Ok(OpCode::Text));
    }

    #[test]
    fn writes_any_opcode_for_protocol_tests() {
        let h = FrameHeader {
            fin: false,
            rsv: 0b111,
            opcode: 0xB,
            mask: None,
            payload_len: 0,
        };
        let mut out = Vec::new();
        h.write(&mut out);
        assert_eq!(out, [0x7B, 0x00]);
        assert_eq!(parse_all(&out).0, h);
    }

    #[test]
    fn rsv_bits_are_reported() {
        let (h, _) = parse_all(&[0xC1, 0x00]);
        assert_eq!(h.rsv, 0b100);
        let (h, _) = parse_all(&[0xB1, 0x00]);
        assert_eq!(h.rsv, 0b011);
    }
}
