use super::*;

fn parse_list(value: &str) -> Vec<ExtensionOffer> {
    crate::handshake::parse_extensions(value).expect("an extension list")
}

fn one(value: &str) -> ExtensionOffer {
    parse_list(value).remove(0)
}

fn with(options: DeflateOptions) -> PerMessageDeflate {
    PerMessageDeflate { options }
}

/// The answer a default server gives to `offers`, as text.
fn answer_to(server: &PerMessageDeflate, offers: &str) -> Option<String> {
    let offers = parse_list(offers);
    let refs: Vec<&ExtensionOffer> = offers.iter().collect();
    server.answer(&refs).map(|(answer, _)| answer.to_string())
}

#[test]
fn a_client_offers_what_browsers_offer_and_what_it_is_told() {
    let offers = PerMessageDeflate::default().offers();
    assert_eq!(
        offers[0].to_string(),
        "permessage-deflate; client_max_window_bits"
    );
    let all = with(DeflateOptions {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        server_max_window_bits: Some(10),
        client_max_window_bits: Some(12),
        ..DeflateOptions::default()
    });
    assert_eq!(
        all.offers()[0].to_string(),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
         server_max_window_bits=10; client_max_window_bits=12"
    );
}

#[test]
fn a_server_answers_the_first_offer_it_can_accept() {
    let server = PerMessageDeflate::default();
    assert_eq!(
        answer_to(&server, "permessage-deflate").as_deref(),
        Some("permessage-deflate")
    );
    assert_eq!(
        answer_to(&server, "permessage-deflate; client_max_window_bits").as_deref(),
        Some("permessage-deflate")
    );
    assert_eq!(
        answer_to(
            &server,
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; \
             client_no_context_takeover"
        )
        .as_deref(),
        Some(
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=10"
        )
    );
    // Offers it cannot accept are passed over, in order.
    for bad in [
        "permessage-deflate; x=1",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=010",
        "permessage-deflate; client_max_window_bits=abc",
        "permessage-deflate; server_no_context_takeover=1",
    ] {
        assert_eq!(answer_to(&server, bad), None, "{bad}");
        let two = format!("{bad}, permessage-deflate; client_no_context_takeover");
        assert_eq!(
            answer_to(&server, &two).as_deref(),
            Some("permessage-deflate; client_no_context_takeover"),
            "{bad}"
        );
    }
}

#[test]
fn a_server_imposes_its_own_limits() {
    let server = with(DeflateOptions {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        server_max_window_bits: Some(11),
        client_max_window_bits: Some(10),
        ..DeflateOptions::default()
    });
    assert_eq!(
        answer_to(
            &server,
            "permessage-deflate; server_max_window_bits=13; client_max_window_bits"
        )
        .as_deref(),
        Some(
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=11; client_max_window_bits=10"
        )
    );
    // A client that did not say it takes a window limit gets none.
    assert_eq!(
        answer_to(&server, "permessage-deflate").as_deref(),
        Some(
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=11"
        )
    );
}

#[test]
fn a_client_accepts_valid_answers_and_refuses_the_rest() {
    let client = with(DeflateOptions {
        server_max_window_bits: Some(12),
        client_max_window_bits: Some(11),
        ..DeflateOptions::default()
    });
    for ok in [
        "permessage-deflate",
        "permessage-deflate; server_no_context_takeover",
        "permessage-deflate; client_no_context_takeover",
        "permessage-deflate; server_max_window_bits=8",
        "permessage-deflate; server_max_window_bits=12; client_max_window_bits=9",
    ] {
        assert!(client.accept(&one(ok)).is_ok(), "{ok}");
    }
    for bad in [
        "permessage-deflate; x",
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=13",
        "permessage-deflate; client_max_window_bits=12",
        "permessage-deflate; client_max_window_bits=16",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
    ] {
        assert!(client.accept(&one(bad)).is_err(), "{bad}");
    }
}

/// A client's and a server's codec as `answer` agrees them.
fn pair(
    client: DeflateOptions,
    server: DeflateOptions,
) -> (Box<dyn Extension>, Box<dyn Extension>) {
    let (c, s) = (with(client), with(server));
    let offer = c.offers().remove(0);
    let (answer, server_codec) = s.answer(&[&offer]).expect("accepted");
    let client_codec = c.accept(&answer).expect("a valid answer");
    (client_codec, server_codec)
}

fn roundtrip(from: &mut dyn Extension, to: &mut dyn Extension, message: &[u8]) -> Vec<u8> {
    let mut wire = Vec::new();
    assert!(from.encode(message, &mut wire));
    let mut out = Vec::new();
    to.decode(&wire, true, &mut out, usize::MAX).unwrap();
    out
}

fn json(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| format!("{{\"id\":{i},\"name\":\"item {i}\",\"ok\":true}}"))
        .collect::<Vec<_>>()
        .join(",")
        .into_bytes()
}

#[test]
fn messages_round_trip_with_and_without_context_takeover() {
    let resets = [false, true];
    for server_reset in resets {
        for client_reset in resets {
            for bits in [None, Some(8), Some(9), Some(12)] {
                let (mut c, mut s) = pair(
                    DeflateOptions {
                        threshold: 0,
                        ..DeflateOptions::default()
                    },
                    DeflateOptions {
                        threshold: 0,
                        server_no_context_takeover: server_reset,
                        client_no_context_takeover: client_reset,
                        server_max_window_bits: bits,
                        ..DeflateOptions::default()
                    },
                );
                for i in 0..5 {
                    let m = json(40 + i * 200);
                    assert_eq!(roundtrip(&mut *c, &mut *s, &m), m);
                    assert_eq!(roundtrip(&mut *s, &mut *c, &m), m);
                    c.trim();
                    s.trim();
                }
            }
        }
    }
}

#[test]
fn context_takeover_shrinks_repeated_messages() {
    let (mut c, _) = pair(DeflateOptions::default(), DeflateOptions::default());
    let m = json(60);
    let mut first = Vec::new();
    c.encode(&m, &mut first);
    let mut second = Vec::new();
    c.encode(&m, &mut second);
    assert!(
        second.len() * 4 < first.len(),
        "{} then {}",
        first.len(),
        second.len()
    );
}

#[test]
fn the_rfc_examples_inflate() {
    // RFC 7692 §7.2.3.1–7.2.3.2: "Hello", then "Hello" again with the window kept.
    let (_, mut s) = pair(DeflateOptions::default(), DeflateOptions::default());
    let mut out = Vec::new();
    s.decode(
        &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
        true,
        &mut out,
        100,
    )
    .unwrap();
    assert_eq!(out, b"Hello");
    out.clear();
    s.decode(&[0xf2, 0x00, 0x11, 0x00, 0x00], true, &mut out, 100)
        .unwrap();
    assert_eq!(out, b"Hello");
    // §7.2.3.3: stored (uncompressed) blocks, and §7.2.3.4: a final block.
    out.clear();
    let stored = [
        0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
    ];
    s.decode(&stored, true, &mut out, 100).unwrap();
    assert_eq!(out, b"Hello");
    out.clear();
    s.decode(
        &[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00],
        true,
        &mut out,
        100,
    )
    .unwrap();
    assert_eq!(out, b"Hello");
    // After a final block, the next message starts a stream of its own.
    out.clear();
    s.decode(
        &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
        true,
        &mut out,
        100,
    )
    .unwrap();
    assert_eq!(out, b"Hello");
}

#[test]
fn pieces_inflate_as_they_come_and_short_messages_go_plain() {
    let (mut c, mut s) = pair(DeflateOptions::default(), DeflateOptions::default());
    let m = json(300);
    let mut wire = Vec::new();
    assert!(c.encode(&m, &mut wire));
    let mut out = Vec::new();
    let pieces: Vec<&[u8]> = wire.chunks(7).collect();
    for (i, piece) in pieces.iter().enumerate() {
        s.decode(piece, i + 1 == pieces.len(), &mut out, usize::MAX)
            .unwrap();
    }
    assert_eq!(out, m);
    let mut wire = Vec::new();
    assert!(!c.encode(b"short", &mut wire), "under the threshold");
    assert!(wire.is_empty());
}

#[test]
fn a_bomb_fails_before_its_memory_is_spent() {
    let (mut c, mut s) = pair(
        DeflateOptions {
            level: 9,
            ..DeflateOptions::default()
        },
        DeflateOptions::default(),
    );
    let zeros = vec![0u8; 16 << 20];
    let mut bomb = Vec::new();
    assert!(c.encode(&zeros, &mut bomb));
    assert!(bomb.len() < 32 << 10, "{} bytes", bomb.len());
    let mut out = Vec::new();
    let err = s.decode(&bomb, true, &mut out, 1 << 20).unwrap_err();
    assert!(matches!(err, ProtocolError::MessageTooBig { .. }));
    assert!(
        out.capacity() <= 2 << 20,
        "{} bytes reserved",
        out.capacity()
    );
}

#[test]
fn data_that_does_not_inflate_fails_with_1007() {
    let (_, mut s) = pair(DeflateOptions::default(), DeflateOptions::default());
    let err = s
        .decode(&[0xff, 0xff, 0xff, 0xff], true, &mut Vec::new(), 100)
        .unwrap_err();
    assert_eq!(err.close_code(), 1007);
}

#[test]
fn a_quiet_connection_drops_its_zlib_states_and_keeps_its_context() {
    let (mut c, mut s) = pair(DeflateOptions::default(), DeflateOptions::default());
    let m = json(60);
    let first = roundtrip(&mut *c, &mut *s, &m);
    assert_eq!(first, m);
    assert!(c.spare_memory() > 0 && s.spare_memory() > 0);
    c.trim();
    s.trim();
    assert_eq!((c.spare_memory(), s.spare_memory()), (0, 0));
    // The window survives: the same message again compresses to a few
    // bytes of back-references, and inflates.
    let mut wire = Vec::new();
    assert!(c.encode(&m, &mut wire));
    assert!(wire.len() < 32, "{} bytes", wire.len());
    let mut out = Vec::new();
    s.decode(&wire, true, &mut out, usize::MAX).unwrap();
    assert_eq!(out, m);
}

#[test]
fn random_bytes_go_uncompressed_and_text_does_not() {
    let (mut c, _) = pair(DeflateOptions::default(), DeflateOptions::default());
    let mut x: u32 = 7;
    let random: Vec<u8> = (0..64 << 10)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    assert!(!c.encode(&random, &mut Vec::new()), "random: sent as it is");
    assert!(c.encode(&json(3000), &mut Vec::new()), "text: compressed");
    let zeros_and_noise: Vec<u8> = random.iter().map(|b| b & 0x0f).collect();
    assert!(
        c.encode(&zeros_and_noise, &mut Vec::new()),
        "4 bits of noise a byte"
    );
}
