//! Any bytes as a server's answer to the opening request: the parser, the
//! checker and a client connection must cope without panicking.
#![no_main]

mod common;

use common::*;
use libfuzzer_sys::fuzz_target;
use wasmsocket::handshake::client::{check_response, key_from_nonce, parse_response};
use wasmsocket::handshake::HeadLimits;
use wasmsocket::{Config, Connection};

fuzz_target!(|data: &[u8]| {
    let limits = HeadLimits::default();
    let request = client_request();
    let key = key_from_nonce(NONCE);
    if let Ok(Some((response, len))) = parse_response(data, &limits) {
        assert!(len <= data.len() && len <= limits.max_head_size);
        if let Ok(negotiated) = check_response(&response, &key, &request) {
            assert_eq!(response.status, 101);
            if let Some(p) = &negotiated.protocol {
                assert!(request.protocols.contains(p));
            }
            let _ = &negotiated.extensions_header;
        }
    }

    // A client connection that sent its request, fed the bytes in two reads.
    let (cut, bytes) = match data.split_first() {
        Some((c, rest)) => ((*c as usize * rest.len()) / 255, rest),
        None => (0, data),
    };
    let mut client = Connection::client(request, Config::default(), NONCE, SEED, 0).unwrap();
    let _ = client.take_output();
    let mut ck = Checker::for_config(client.config());
    feed_two_reads(&mut client, &mut ck, bytes, cut);
    assert_eq!(ck.requests, 0);
    // A client writes only frames after its request: masked ones.
    let out = client.take_output();
    assert!(
        out.is_empty() || out[1] & 0x80 != 0,
        "unmasked client frame"
    );
    finish(&mut client, &mut ck);
});
