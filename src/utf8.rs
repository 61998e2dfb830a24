//! Incremental, fail-fast UTF-8 validation for text messages (§8.1).
//!
//! A text message arrives in pieces that can split a character anywhere. The
//! validator checks each piece as it arrives and fails at the first byte that
//! can no longer begin or continue a valid character, so a peer that sends
//! garbage is stopped at once rather than at the end of a long message
//! (Autobahn 6.4.x). Bulk checking is done by `simdutf8`; only the up-to-three
//! bytes of a character cut by a piece boundary are carried between calls.

/// Where a text message stands after the bytes fed so far.
#[derive(Clone, Debug, Default)]
pub struct Utf8Validator {
    /// Bytes of a character begun but not finished by the last piece.
    partial: [u8; 4],
    partial_len: u8,
    /// A byte of 0x80 or above was fed: the text is not plain ASCII.
    non_ascii: bool,
}

/// The fed bytes cannot be part of valid UTF-8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidUtf8;

impl Utf8Validator {
    /// A validator at the start of a message.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks the next piece of the message.
    ///
    /// On success returns how many bytes at the end of `piece` belong to a
    /// character that is not finished yet (0–3); everything before them, with
    /// any carried bytes, is complete text.
    pub fn feed(&mut self, piece: &[u8]) -> Result<usize, InvalidUtf8> {
        // ASCII, the common case, is valid and whole: one cheap pass, which
        // also spares the host a second one (`is_ascii_so_far`).
        if self.partial_len == 0 && is_ascii(piece) {
            return Ok(0);
        }
        self.non_ascii = true;
        let mut rest = piece;
        if self.partial_len > 0 {
            let have = self.partial_len as usize;
            let need = char_width(self.partial[0]) - have;
            let take = need.min(rest.len());
            let mut buf = self.partial;
            buf[have..have + take].copy_from_slice(&rest[..take]);
            let joined = &buf[..have + take];
            match std::str::from_utf8(joined) {
                Ok(_) => self.partial_len = 0,
                Err(e) if e.error_len().is_none() => {
                    self.partial = buf;
                    self.partial_len = joined.len() as u8;
                    return Ok(piece.len());
                }
                Err(_) => return Err(InvalidUtf8),
            }
            rest = &rest[take..];
        }
        match simdutf8::compat::from_utf8(rest) {
            Ok(_) => Ok(0),
            Err(e) if e.error_len().is_none() => {
                let tail = &rest[e.valid_up_to()..];
                self.partial[..tail.len()].copy_from_slice(tail);
                self.partial_len = tail.len() as u8;
                Ok(tail.len())
            }
            Err(_) => Err(InvalidUtf8),
        }
    }

    /// Ends the message: text may not stop inside a character.
    pub fn finish(&mut self) -> Result<(), InvalidUtf8> {
        let complete = self.partial_len == 0;
        self.partial_len = 0;
        if complete {
            Ok(())
        } else {
            Err(InvalidUtf8)
        }
    }

    /// Whether every byte fed since `new` was below 0x80.
    pub fn is_ascii_so_far(&self) -> bool {
        !self.non_ascii
    }

    /// Bytes carried over from earlier pieces, waiting for the rest of their character.
    pub fn pending(&self) -> usize {
        self.partial_len as usize
    }
}

/// Whether every byte is below 0x80. Valid text that passes can be decoded
/// as Latin-1, which JS engines do many times faster than UTF-8 for long
/// strings, so the engine tells its host.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub fn is_ascii(bytes: &[u8]) -> bool {
    use core::arch::wasm32::{u8x16_bitmask, v128, v128_load, v128_or};
    let mut chunks = bytes.chunks_exact(64);
    for c in &mut chunks {
        let p = c.as_ptr() as *const v128;
        // SAFETY: `c` holds 64 bytes, four v128s; v128_load needs no alignment.
        let any = unsafe {
            v128_or(
                v128_or(v128_load(p), v128_load(p.add(1))),
                v128_or(v128_load(p.add(2)), v128_load(p.add(3))),
            )
        };
        if u8x16_bitmask(any) != 0 {
            return false;
        }
    }
    is_ascii_words(chunks.remainder())
}

/// Whether every byte is below 0x80 (see the simd128 build's version).
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
pub fn is_ascii(bytes: &[u8]) -> bool {
    is_ascii_words(bytes)
}

/// `is_ascii` eight bytes at a time: wasm32's `usize` is only four, which
/// makes the standard library's check half as fast there.
fn is_ascii_words(bytes: &[u8]) -> bool {
    let mut chunks = bytes.chunks_exact(16);
    let mut high = 0u64;
    for c in &mut chunks {
        let lo = u64::from_ne_bytes(c[..8].try_into().expect("8 bytes"));
        let hi = u64::from_ne_bytes(c[8..].try_into().expect("8 bytes"));
        high |= lo | hi;
    }
    let tail = chunks.remainder().iter().fold(0u8, |acc, b| acc | b);
    (high & 0x8080_8080_8080_8080) == 0 && tail < 0x80
}

/// Length of the character a lead byte starts; an invalid lead counts as 1 so
/// that `from_utf8` on it reports the error.
fn char_width(lead: u8) -> usize {
    match lead {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Feeds `pieces` in turn; returns the index of the piece that failed, if any.
    fn fails_at(pieces: &[&[u8]]) -> Option<usize> {
        let mut v = Utf8Validator::new();
        for (i, p) in pieces.iter().enumerate() {
            if v.feed(p).is_err() {
                return Some(i);
            }
        }
        v.finish().err().map(|_| pieces.len())
    }

    #[test]
    fn accepts_text_split_inside_characters() {
        let text = "κόσμε 𝄞 ascii €".as_bytes();
        for cut in 0..=text.len() {
            assert_eq!(fails_at(&[&text[..cut], &text[cut..]]), None, "cut {cut}");
        }
        let singles: Vec<&[u8]> = text.chunks(1).collect();
        assert_eq!(fails_at(&singles), None);
    }

    #[test]
    fn reports_incomplete_tail() {
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(b"ab\xF0\x9D"), Ok(2));
        assert_eq!(v.pending(), 2);
        assert_eq!(v.feed(b"\x84"), Ok(1));
        assert_eq!(v.feed(b"\x9E!"), Ok(0));
        assert_eq!(v.finish(), Ok(()));
    }

    /// Autobahn 6.4.x: the error is found in the piece that carries it, not at
    /// the end of the message.
    #[test]
    fn fails_fast_in_the_middle_of_a_message() {
        // κόσμε, then the first byte of a 4-byte sequence followed by an invalid continuation.
        let good = "κόσμε".as_bytes();
        assert_eq!(fails_at(&[good, b"\xF4\x90\x80\x80", b"edited"]), Some(1));
        // The lead byte alone is a valid prefix; the next byte is what breaks it.
        assert_eq!(fails_at(&[good, b"\xF4", b"\x90\x80\x80"]), Some(2));
        // A surrogate (ED A0) fails at its second byte.
        assert_eq!(fails_at(&[b"\xED", b"\xA0", b"\x80"]), Some(1));
        // Overlong forms and stray continuation bytes fail at once.
        assert_eq!(fails_at(&[b"\xC0"]), Some(0));
        assert_eq!(fails_at(&[b"\xE0\x80"]), Some(0));
        assert_eq!(fails_at(&[b"a\x80"]), Some(0));
        assert_eq!(fails_at(&[b"\xFF"]), Some(0));
    }

    #[test]
    fn the_validator_knows_whether_all_it_saw_was_ascii() {
        let mut v = Utf8Validator::new();
        assert!(v.is_ascii_so_far());
        v.feed(b"plain text").unwrap();
        assert!(v.is_ascii_so_far());
        // "é" split across pieces: not ASCII, and still valid.
        assert_eq!(v.feed(b"caf\xc3"), Ok(1));
        assert!(!v.is_ascii_so_far());
        assert_eq!(v.feed(b"\xa9 ok"), Ok(0));
        v.finish().unwrap();
        // A bad byte after ASCII is still caught.
        let mut v = Utf8Validator::new();
        v.feed(b"abc").unwrap();
        assert_eq!(v.feed(b"ab\xff"), Err(InvalidUtf8));
    }

    #[test]
    fn ascii_is_told_apart() {
        for n in [0, 1, 15, 16, 17, 100] {
            let mut bytes = vec![b'a'; n];
            assert!(is_ascii(&bytes), "{n}");
            for at in 0..n {
                bytes[at] = 0x80;
                assert!(!is_ascii(&bytes), "{n} {at}");
                bytes[at] = b'a';
            }
        }
    }

    #[test]
    fn incomplete_at_end_of_message_fails() {
        assert_eq!(fails_at(&[b"abc\xE2\x82"]), Some(1));
    }

    proptest! {
        /// Any split of any byte string gives the same verdict as checking it whole.
        #[test]
        fn verdict_matches_std(bytes in proptest::collection::vec(
                                   prop_oneof![any::<u8>(), 0x80u8..0xC0, 0xE0u8..0xF5], 0..40),
                               cuts in proptest::collection::vec(0usize..40, 0..6)) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
            cuts.sort_unstable();
            let mut pieces = Vec::new();
            let mut at = 0;
            for c in cuts {
                pieces.push(&bytes[at..c]);
                at = c;
            }
            pieces.push(&bytes[at..]);
            let whole_ok = std::str::from_utf8(&bytes).is_ok();
            prop_assert_eq!(fails_at(&pieces).is_none(), whole_ok);
        }

        /// Fail-fast: the failing piece is the one holding the first invalid byte.
        #[test]
        fn fails_where_std_first_sees_an_error(bytes in proptest::collection::vec(any::<u8>(), 1..30),
                                               cut in 0usize..30) {
            let cut = cut.min(bytes.len());
            let pieces: [&[u8]; 2] = [&bytes[..cut], &bytes[cut..]];
            if let Err(e) = std::str::from_utf8(&bytes) {
                if let Some(bad) = e.error_len() {
                    // The byte that shows the sequence is invalid: the lead itself when
                    // it can start nothing, else the first byte that does not fit.
                    let lead = bytes[e.valid_up_to()];
                    let hopeless = matches!(lead, 0x80..=0xC1 | 0xF5..=0xFF);
                    let decisive = e.valid_up_to() + if hopeless { 0 } else { bad };
                    let expected = if decisive < cut { 0 } else { 1 };
                    prop_assert_eq!(fails_at(&pieces), Some(expected));
                }
            }
        }
    }
}
