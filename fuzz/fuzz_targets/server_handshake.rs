//! Any bytes as a client's opening request: the parser and a server
//! connection must refuse or accept them without panicking, and what they
//! accept names a resource a host can always make a URL of (the JS host
//! once crashed on a Host it could not parse).
#![no_main]

mod common;

use common::*;
use libfuzzer_sys::fuzz_target;
use wasmsocket::handshake::server::{accept_response, parse_request};
use wasmsocket::handshake::target::is_host;
use wasmsocket::handshake::HeadLimits;
use wasmsocket::{Config, Connection};

fuzz_target!(|data: &[u8]| {
    let limits = HeadLimits::default();
    if let Ok(Some((request, len))) = parse_request(data, &limits) {
        assert!(len <= data.len() && len <= limits.max_head_size);
        assert!(is_host(&request.host), "{:?}", request.host);
        assert!(request.path.starts_with('/'));
        assert!(request.path.bytes().all(|b| b.is_ascii_graphic() && b != b'#'));
        // Whatever was offered can be accepted, echoed back as parsed.
        let extensions: Vec<String> = request.extensions.iter().map(ToString::to_string).collect();
        let mut out = Vec::new();
        accept_response(
            &request,
            request.protocols.first().map(String::as_str),
            Some(&extensions.join(", ")),
            &[],
            &mut out,
        )
        .expect("accepting what the client offered");
        assert!(out.starts_with(b"HTTP/1.1 101 ") && out.ends_with(b"\r\n\r\n"));
    }

    // A server connection fed the same bytes in two reads (cut at a
    // position taken from the input's first byte), answering as it goes.
    let (cut, bytes) = match data.split_first() {
        Some((c, rest)) => ((*c as usize * rest.len()) / 255, rest),
        None => (0, data),
    };
    let mut server = Connection::server(Config::default(), 0);
    let mut ck = Checker::for_config(server.config());
    for (i, part) in [&bytes[..cut], &bytes[cut..]].into_iter().enumerate() {
        server.receive(part, i as u64);
        ck.drain(&mut server);
        if ck.requests == 1 && ck.opens == 0 && ck.error.is_none() {
            let offered = server
                .request()
                .expect("a request")
                .protocols
                .first()
                .cloned();
            server
                .accept(offered.as_deref(), None, &[])
                .expect("accept after Request");
            ck.drain(&mut server);
            assert_eq!(ck.opens, 1);
        }
    }
    let out = server.take_output();
    assert!(out.is_empty() || out.starts_with(b"HTTP/1.1 "));
    finish(&mut server, &mut ck);
});
