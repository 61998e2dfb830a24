//! Any bytes as the frame stream into an open server connection (through a
//! real handshake), with the configuration taken from the input; what the
//! server writes back must be good for a client.
#![no_main]

mod common;

use common::*;
use libfuzzer_sys::fuzz_target;
use wasmsocket::Config;

fuzz_target!(|data: &[u8]| {
    let Some((a, b, cut, bytes)) = split_input(data) else {
        return;
    };
    let scfg = config(a, b);
    let ccfg = Config {
        disable_masking: scfg.disable_masking,
        ..Config::default()
    };
    let (mut client, mut server) = open_pair(ccfg.clone(), scfg.clone());
    let mut ck = Checker::for_config(&scfg);
    ck.requests = 1;
    ck.opens = 1;
    feed_two_reads(&mut server, &mut ck, bytes, cut);

    // The server's answers (pongs, close) must not trouble a client.
    let mut cck = Checker::for_config(&ccfg);
    cck.opens = 1;
    client.receive(&server.take_output(), 5);
    cck.drain(&mut client);
    assert!(!matches!(cck.error, Some(wasmsocket::Error::Protocol(_))), "the server wrote bad frames");
    finish(&mut server, &mut ck);
});
