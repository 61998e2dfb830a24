//! Any bytes as the frame stream into an open client connection (through a
//! real handshake), with the configuration taken from the input; what the
//! client writes back must be good for a server.
#![no_main]

mod common;

use common::*;
use libfuzzer_sys::fuzz_target;
use wasmsocket::Config;

fuzz_target!(|data: &[u8]| {
    let Some((a, b, cut, bytes)) = split_input(data) else {
        return;
    };
    let ccfg = config(a, b);
    let scfg = Config {
        disable_masking: ccfg.disable_masking,
        ..Config::default()
    };
    let (mut client, mut server) = open_pair(ccfg.clone(), scfg.clone());
    let mut ck = Checker::for_config(&ccfg);
    ck.opens = 1;
    feed_two_reads(&mut client, &mut ck, bytes, cut);

    // The client's answers (pongs, close) must not trouble a server.
    let mut sck = Checker::for_config(&scfg);
    sck.requests = 1;
    sck.opens = 1;
    server.receive(&client.take_output(), 5);
    sck.drain(&mut server);
    assert!(!matches!(sck.error, Some(wasmsocket::Error::Protocol(_))), "the client wrote bad frames");
    finish(&mut client, &mut ck);
});
