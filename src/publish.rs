//! One message framed once for many connections: a server's publish to the
//! subscribers of a topic.
//!
//! A server's frames are not masked (§5.1), so the frame one connection
//! would write for a message is the frame every connection alike would
//! write. `Framer` makes it once (compressing it once where
//! permessage-deflate keeps no context, §7.1.1.1); a connection takes it with
//! `Connection::send_shared` only where it would have written exactly those
//! bytes itself, and the host writes the same bytes to each.

use crate::deflate::Fresh;
use crate::event::MessageKind;
use crate::extension::Extension;
use crate::frame::{FrameHeader, OpCode};

/// What a connection checks before it takes a shared frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shared {
    /// How the payload was encoded: as is, or compressed as a fresh
    /// permessage-deflate compressor with these settings does (which may
    /// have left it as is: too short, or not worth it).
    pub encoding: Option<Fresh>,
    /// The frame's payload length (after compressing).
    pub payload_len: usize,
}

/// Frames messages for many connections; keeps one compressor between them.
#[derive(Default)]
pub struct Framer {
    codec: Option<(Fresh, Box<dyn Extension>)>,
}

impl Framer {
    /// Appends `message` to `out` as one unmasked frame, compressed with
    /// `encoding` if given (and if that compressor takes it).
    pub fn frame(
        &mut self,
        kind: MessageKind,
        message: &[u8],
        encoding: Option<Fresh>,
        out: &mut Vec<u8>,
    ) -> Shared {
        let mut compressed = Vec::new();
        let rsv = match encoding {
            Some(fresh) => {
                let codec = match &mut self.codec {
                    Some((made, codec)) if *made == fresh => codec,
                    slot => &mut slot.insert((fresh, Box::new(fresh.codec()))).1,
                };
                if codec.encode(message, &mut compressed) {
                    codec.rsv_bits()
                } else {
                    0
                }
            }
            None => 0,
        };
        let payload = if rsv != 0 { &compressed[..] } else { message };
        let header = header(kind, rsv, payload.len());
        out.reserve(header.encoded_len() + payload.len());
        header.write(out);
        out.extend_from_slice(payload);
        Shared {
            encoding,
            payload_len: payload.len(),
        }
    }

    /// Appends only the header of an uncompressed message of `len` bytes,
    /// for a host that puts the payload after it itself (a big message
    /// need not pass through the engine's memory to be framed).
    pub fn header(kind: MessageKind, len: usize, out: &mut Vec<u8>) -> Shared {
        header(kind, 0, len).write(out);
        Shared {
            encoding: None,
            payload_len: len,
        }
    }

    /// Drops the compressor's state (some 300 KiB) between publishes.
    pub fn trim(&mut self) {
        self.codec = None;
    }
}

/// One unmasked frame's header: a whole message of `kind`.
fn header(kind: MessageKind, rsv: u8, len: usize) -> FrameHeader {
    FrameHeader {
        fin: true,
        rsv,
        opcode: match kind {
            MessageKind::Text => OpCode::Text,
            MessageKind::Binary => OpCode::Binary,
        } as u8,
        mask: None,
        payload_len: len as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deflate::{DeflateOptions, PerMessageDeflate};
    use crate::extension::Negotiators;
    use crate::testkit::{open_pair_with, Pair};
    use crate::Config;
    use std::sync::Arc;

    fn deflate(server_no_context_takeover: bool) -> Config {
        let options = DeflateOptions {
            server_no_context_takeover,
            ..DeflateOptions::default()
        };
        Config {
            extensions: Negotiators(vec![Arc::new(PerMessageDeflate { options })]),
            ..Config::default()
        }
    }

    /// The bytes a server connection writes for `message` on its own.
    fn own_frame(pair: &mut Pair, kind: MessageKind, message: &[u8]) -> Vec<u8> {
        match kind {
            MessageKind::Text => pair.server.send_text(std::str::from_utf8(message).unwrap()),
            MessageKind::Binary => pair.server.send_binary(message),
        }
        .unwrap();
        pair.server.take_output()
    }

    fn messages() -> Vec<(MessageKind, Vec<u8>)> {
        let long = "publish ".repeat(400).into_bytes();
        vec![
            (MessageKind::Text, b"hi".to_vec()),
            (MessageKind::Binary, vec![]),
            (MessageKind::Binary, vec![7; 200]),
            (MessageKind::Text, long.clone()),
            (MessageKind::Binary, long),
            (MessageKind::Binary, vec![1; 70_000]),
        ]
    }

    #[test]
    fn a_shared_frame_is_the_frame_each_connection_would_write() {
        for (config, encoding) in [
            (Config::default(), None),
            (
                deflate(true),
                Some(Fresh::server(&DeflateOptions {
                    server_no_context_takeover: true,
                    ..DeflateOptions::default()
                })),
            ),
        ] {
            let mut framer = Framer::default();
            let mut pair = open_pair_with(config.clone(), config.clone());
            for (kind, message) in messages() {
                let mut out = Vec::new();
                let shared = framer.frame(kind, &message, encoding, &mut out);
                assert_eq!(pair.server.send_shared(&shared), Ok(true));
                assert_eq!(out, own_frame(&mut pair, kind, &message), "{encoding:?}");
            }
        }
    }

    #[test]
    fn a_header_and_the_payload_after_it_are_the_whole_frame() {
        let mut framer = Framer::default();
        for (kind, message) in messages() {
            let (mut whole, mut parts) = (Vec::new(), Vec::new());
            let shared = framer.frame(kind, &message, None, &mut whole);
            assert_eq!(Framer::header(kind, message.len(), &mut parts), shared);
            parts.extend_from_slice(&message);
            assert_eq!(parts, whole);
        }
    }

    #[test]
    fn a_connection_refuses_a_frame_it_would_not_write() {
        let fresh = Fresh::server(&DeflateOptions::default());
        let mut framer = Framer::default();
        let mut out = Vec::new();
        let plain = framer.frame(MessageKind::Text, &[b'a'; 2000], None, &mut out);
        let squeezed = framer.frame(MessageKind::Text, &[b'a'; 2000], Some(fresh), &mut out);
        // It would compress: no plain frame, and none compressed with
        // context it keeps (it keeps context: no compressed one either).
        let mut taking = open_pair_with(deflate(false), deflate(false));
        assert_eq!(taking.server.send_shared(&plain), Ok(false));
        assert_eq!(taking.server.send_shared(&squeezed), Ok(false));
        // No extension: only the plain frame.
        let mut bare = open_pair_with(Config::default(), Config::default());
        assert_eq!(bare.server.send_shared(&squeezed), Ok(false));
        assert_eq!(bare.server.send_shared(&plain), Ok(true));
        // A client masks; a split frame or one behind a fragmented send differs.
        assert_eq!(bare.client.send_shared(&plain), Ok(false));
        bare.server
            .send_fragment(MessageKind::Text, b"a", false)
            .unwrap();
        assert_eq!(bare.server.send_shared(&plain), Ok(false));
        let split = Config {
            send_buffer_size: 1000,
            ..Config::default()
        };
        let mut small = open_pair_with(split.clone(), split);
        assert_eq!(small.server.send_shared(&plain), Ok(false));
        // Closed: the usual refusal.
        small.server.close(Some(1000), "").unwrap();
        assert!(small.server.send_shared(&plain).is_err());
    }

    #[test]
    fn a_client_that_narrows_the_window_gets_its_own_frames() {
        let mut framer = Framer::default();
        let server = deflate(true);
        let client = Config {
            extensions: Negotiators(vec![Arc::new(PerMessageDeflate {
                options: DeflateOptions {
                    server_max_window_bits: Some(10),
                    ..DeflateOptions::default()
                },
            })]),
            ..Config::default()
        };
        let mut pair = open_pair_with(client, server);
        let fresh = Fresh::server(&DeflateOptions::default());
        let mut out = Vec::new();
        let shared = framer.frame(MessageKind::Text, &[b'a'; 2000], Some(fresh), &mut out);
        assert_eq!(pair.server.send_shared(&shared), Ok(false));
    }
}
