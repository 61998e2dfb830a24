//! Payload masking (§5.3): XOR with a 4-byte key, repeated.
//!
//! Masking is the one pass over every payload byte on both the sending and the
//! receiving side, so it is done many bytes at a time: 16 (one 128-bit vector)
//! with `simd128` when the wasm build enables it, otherwise 32 as four u64
//! words (which LLVM vectorises on native targets), then 8, then the rest one
//! by one. `offset` says where in the key the first byte falls, so a frame
//! arriving in several chunks can be unmasked chunk by chunk.

/// Masks or unmasks `buf` in place; `offset` is the payload position of `buf[0]`.
pub fn apply(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let key = rotate(key, offset);
    let mut chunks = buf.chunks_exact_mut(WIDE);
    for chunk in &mut chunks {
        xor_wide(chunk, key);
    }
    let rest = chunks.into_remainder();
    let key = u64::from_ne_bytes(repeat8(key));
    let mut words = rest.chunks_exact_mut(8);
    for word in &mut words {
        let v = u64::from_ne_bytes((&*word).try_into().expect("8 bytes")) ^ key;
        word.copy_from_slice(&v.to_ne_bytes());
    }
    let key = key.to_ne_bytes();
    for (i, b) in words.into_remainder().iter_mut().enumerate() {
        *b ^= key[i];
    }
}

/// Bytes per window of a big masked payload that the host writes itself
/// (`Connection::host_frame`): the host copies a window in, the engine masks
/// it, the host copies it out to where the frame goes. A window stays in the
/// CPU's caches through all three, so a payload too big for them crosses
/// memory once (read from the message, written to the frame) instead of once
/// per pass.
pub const WINDOW: usize = 64 * 1024;

/// Masks one frame's payload window by window, in order: its key, and how
/// many of its bytes are done and left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Windows {
    key: [u8; 4],
    done: u64,
    left: u64,
}

impl Windows {
    /// A payload of `len` bytes masked with `key`.
    pub fn new(key: [u8; 4], len: u64) -> Self {
        Windows {
            key,
            done: 0,
            left: len,
        }
    }

    /// Masks `buf` in place as the payload's next bytes. False, and `buf`
    /// left as it is, if that is more than the payload has left.
    pub fn apply(&mut self, buf: &mut [u8]) -> bool {
        let n = buf.len() as u64;
        if n > self.left {
            return false;
        }
        // Only the key's phase matters, so the offset is taken mod 4.
        apply(buf, self.key, (self.done % 4) as usize);
        self.done += n;
        self.left -= n;
        true
    }

    /// Bytes of the payload not masked yet.
    pub fn left(&self) -> u64 {
        self.left
    }
}

/// Appends `src` to `out`, masked with `key` as if `src[0]` sat at payload
/// position `offset`. One pass: the copy and the XOR are the same loop.
pub fn extend_masked(out: &mut Vec<u8>, src: &[u8], key: [u8; 4], offset: usize) {
    let start = out.len();
    out.extend_from_slice(src);
    apply(&mut out[start..], key, offset);
}

/// The key as it applies to a buffer starting at payload position `offset`.
fn rotate(key: [u8; 4], offset: usize) -> [u8; 4] {
    let mut k = key;
    k.rotate_left(offset % 4);
    k
}

fn repeat8(key: [u8; 4]) -> [u8; 8] {
    let [a, b, c, d] = key;
    [a, b, c, d, a, b, c, d]
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
const WIDE: usize = 16;
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
const WIDE: usize = 32;

/// XORs one `WIDE`-byte chunk with the (already rotated) key, using 128-bit
/// wasm vectors.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
fn xor_wide(chunk: &mut [u8], key: [u8; 4]) {
    use core::arch::wasm32::{u32x4_splat, v128, v128_load, v128_store, v128_xor};
    let k = u32x4_splat(u32::from_ne_bytes(key));
    let p = chunk.as_mut_ptr() as *mut v128;
    // SAFETY: `chunk` is exactly 16 bytes, and wasm loads and stores may be unaligned.
    unsafe { v128_store(p, v128_xor(v128_load(p), k)) }
}

/// XORs one `WIDE`-byte chunk with the (already rotated) key, four u64 words
/// at a time, which native targets vectorise.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(always)]
fn xor_wide(chunk: &mut [u8], key: [u8; 4]) {
    let k = u64::from_ne_bytes(repeat8(key));
    for word in chunk.chunks_exact_mut(8) {
        let v = u64::from_ne_bytes((&*word).try_into().expect("8 bytes")) ^ k;
        word.copy_from_slice(&v.to_ne_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naive(buf: &mut [u8], key: [u8; 4], offset: usize) {
        for (i, b) in buf.iter_mut().enumerate() {
            *b ^= key[(offset + i) % 4];
        }
    }

    #[test]
    fn masks_rfc_example() {
        let mut buf = *b"Hello";
        apply(&mut buf, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(buf, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    }

    #[test]
    fn masking_twice_restores() {
        let original: Vec<u8> = (0..=255).collect();
        let mut buf = original.clone();
        apply(&mut buf, [1, 2, 3, 4], 0);
        assert_ne!(buf, original);
        apply(&mut buf, [1, 2, 3, 4], 0);
        assert_eq!(buf, original);
    }

    #[test]
    fn windows_refuse_more_than_the_payload() {
        let mut w = Windows::new([1, 2, 3, 4], 5);
        let mut buf = [0u8; 6];
        assert!(!w.apply(&mut buf));
        assert_eq!(buf, [0; 6]);
        assert!(w.apply(&mut buf[..5]));
        assert_eq!(w.left(), 0);
        assert!(!w.apply(&mut buf[..1]));
    }

    proptest! {
        #[test]
        fn windows_equal_one_pass(data in proptest::collection::vec(any::<u8>(), 0..300),
                                  key in any::<[u8; 4]>(), sizes in proptest::collection::vec(1usize..40, 1..20)) {
            let mut whole = data.clone();
            apply(&mut whole, key, 0);
            let mut windowed = data.clone();
            let mut w = Windows::new(key, data.len() as u64);
            let mut at = 0;
            for size in sizes.iter().cycle() {
                if at == data.len() {
                    break;
                }
                let end = (at + size).min(data.len());
                prop_assert!(w.apply(&mut windowed[at..end]));
                at = end;
            }
            prop_assert_eq!(w.left(), 0);
            prop_assert_eq!(whole, windowed);
        }

        #[test]
        fn matches_bytewise_xor(data in proptest::collection::vec(any::<u8>(), 0..200),
                                key in any::<[u8; 4]>(), offset in 0usize..8) {
            let mut fast = data.clone();
            apply(&mut fast, key, offset);
            let mut slow = data.clone();
            naive(&mut slow, key, offset);
            prop_assert_eq!(&fast, &slow);
            let mut appended = vec![9u8];
            extend_masked(&mut appended, &data, key, offset);
            prop_assert_eq!(&appended[1..], &slow[..]);
        }

        #[test]
        fn chunked_equals_whole(data in proptest::collection::vec(any::<u8>(), 0..200),
                                key in any::<[u8; 4]>(), cut in 0usize..200) {
            let cut = cut.min(data.len());
            let mut whole = data.clone();
            apply(&mut whole, key, 0);
            let mut parts = data.clone();
            let (a, b) = parts.split_at_mut(cut);
            apply(a, key, 0);
            apply(b, key, cut);
            prop_assert_eq!(whole, parts);
        }
    }
}
