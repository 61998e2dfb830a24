//! The extension seam end to end, with a test extension: a negotiator in
//! each side's `Config` offers, answers and accepts in the opening
//! handshake, and the extension they agree on encodes and decodes messages
//! in both directions. permessage-deflate takes the same path.

mod common;

use std::sync::Arc;

use common::*;
use wasmsocket::extension::{Extension, Negotiator, Negotiators};
use wasmsocket::handshake::ExtensionOffer;
use wasmsocket::{Config, Connection, Error, HandshakeError, MessageKind, ProtocolError};

/// `x-xor; key=N`: payloads XORed with a one-byte key, marked by RSV1.
#[derive(Debug)]
struct XorNegotiator {
    key: u8,
}

struct Xor {
    key: u8,
}

impl Extension for Xor {
    fn rsv_bits(&self) -> u8 {
        0b100
    }

    fn decode(
        &mut self,
        input: &[u8],
        _fin: bool,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), ProtocolError> {
        if input.len() > limit {
            return Err(ProtocolError::MessageTooBig { limit: 0 });
        }
        out.extend(input.iter().map(|b| b ^ self.key));
        Ok(())
    }

    fn encode(&mut self, message: &[u8], out: &mut Vec<u8>) -> bool {
        out.extend(message.iter().map(|b| b ^ self.key));
        true
    }
}

/// The key an `x-xor` element names, if it names exactly one valid one.
fn key_of(element: &ExtensionOffer) -> Option<u8> {
    match &element.params[..] {
        [(name, Some(value))] if name == "key" => value.parse().ok().filter(|k| *k != 0),
        _ => None,
    }
}

impl Negotiator for XorNegotiator {
    fn name(&self) -> &str {
        "x-xor"
    }

    fn offers(&self) -> Vec<ExtensionOffer> {
        vec![ExtensionOffer {
            name: "x-xor".into(),
            params: vec![("key".into(), Some(self.key.to_string()))],
        }]
    }

    fn accept(&self, answer: &ExtensionOffer) -> Result<Box<dyn Extension>, String> {
        let key = key_of(answer).ok_or("the key is missing or not 1-255")?;
        Ok(Box::new(Xor { key }))
    }

    fn answer(&self, offers: &[&ExtensionOffer]) -> Option<(ExtensionOffer, Box<dyn Extension>)> {
        let offer = offers.iter().find(|o| key_of(o).is_some())?;
        let key = key_of(offer)?;
        Some(((*offer).clone(), Box::new(Xor { key })))
    }
}

fn with_xor(key: u8) -> Config {
    Config {
        extensions: Negotiators(vec![Arc::new(XorNegotiator { key })]),
        ..Config::default()
    }
}

/// Opens a pair whose client config is `ccfg` and server config `scfg`,
/// and returns the `Open` events' extensions (client, server).
fn open_pair(ccfg: Config, scfg: Config) -> (Connection, Connection, String, String) {
    let mut client = new_client(ccfg);
    let mut server = Connection::server(scfg, 0);
    server.receive(&client.take_output(), 0);
    assert_eq!(drain(&mut server), [Ev::Request]);
    server.accept(None, None, &[]).expect("accept");
    let opened = |evs: Vec<Ev>| match &evs[..] {
        [Ev::Open(_, extensions)] => extensions.clone(),
        other => panic!("{other:?}"),
    };
    let server_ext = opened(drain(&mut server));
    client.receive(&server.take_output(), 0);
    let client_ext = opened(drain(&mut client));
    (client, server, client_ext, server_ext)
}

#[test]
fn an_agreed_extension_encodes_and_decodes_both_ways() {
    let (mut client, mut server, client_ext, server_ext) = open_pair(with_xor(7), with_xor(9));
    assert_eq!(
        (client_ext.as_str(), server_ext.as_str()),
        ("x-xor; key=7", "x-xor; key=7")
    );
    client.send_text("hello").unwrap();
    let wire = client.take_output();
    let frames = wire_frames(&wire);
    assert_eq!(
        (frames[0].rsv, frames[0].opcode),
        (0b100, 1),
        "RSV1 marks it"
    );
    assert_eq!(frames[0].payload, b"hello".map(|b| b ^ 7));
    server.receive(&wire, 1);
    assert_eq!(
        drain(&mut server),
        [Ev::Message(MessageKind::Text, b"hello".to_vec())]
    );
    server.send_binary(&[1, 2, 3]).unwrap();
    let wire = server.take_output();
    assert_eq!(wire_frames(&wire)[0].payload, [1 ^ 7, 2 ^ 7, 3 ^ 7]);
    client.receive(&wire, 2);
    assert_eq!(
        drain(&mut client),
        [Ev::Message(MessageKind::Binary, vec![1, 2, 3])]
    );
}

#[test]
fn without_a_negotiator_on_the_server_nothing_is_agreed() {
    let (mut client, mut server, client_ext, server_ext) =
        open_pair(with_xor(7), Config::default());
    assert_eq!((client_ext.as_str(), server_ext.as_str()), ("", ""));
    client.send_text("plain").unwrap();
    let wire = client.take_output();
    assert_eq!(wire_frames(&wire)[0].rsv, 0);
    server.receive(&wire, 1);
    assert_eq!(
        drain(&mut server),
        [Ev::Message(MessageKind::Text, b"plain".to_vec())]
    );
}

#[test]
fn a_server_declines_offers_its_negotiator_refuses() {
    let mut client = Connection::client(
        wasmsocket::ClientRequest {
            extensions: vec!["x-xor; key=0".into()],
            ..wasmsocket::ClientRequest::new("example.com", "/")
        },
        Config::default(),
        NONCE,
        SEED,
        0,
    )
    .unwrap();
    let mut server = Connection::server(with_xor(9), 0);
    server.receive(&client.take_output(), 0);
    drain(&mut server);
    server.accept(None, None, &[]).unwrap();
    let answer = String::from_utf8(server.take_output()).unwrap();
    assert!(!answer.contains("Sec-WebSocket-Extensions"), "{answer}");
}

#[test]
fn a_client_fails_the_handshake_on_an_answer_its_negotiator_refuses() {
    for answer in ["x-xor; key=0", "x-xor; key=1, x-xor; key=2"] {
        let mut client = new_client(with_xor(7));
        client.take_output();
        let head = String::from_utf8(RESPONSE.as_bytes().to_vec())
            .unwrap()
            .replace(
                "\r\n\r\n",
                &format!("\r\nSec-WebSocket-Extensions: {answer}\r\n\r\n"),
            );
        client.receive(head.as_bytes(), 0);
        let evs = drain(&mut client);
        assert!(
            matches!(
                &evs[0],
                Ev::Error(Error::Handshake(HandshakeError::ExtensionAnswer(_)))
            ),
            "{answer}: {evs:?}"
        );
    }
}
