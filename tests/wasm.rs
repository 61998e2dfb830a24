//! The wasm bindings, run under Node by wasm-bindgen-test-runner
//! (`cargo test --target wasm32-unknown-unknown --test wasm`).
//!
//! These tests drive two `Engine`s the way the JS host does: bytes through the
//! staging buffer, events and output read from memory at the addresses the
//! `Report` gives and the offsets `contract()` gives (which
//! tests/node/contract.test.mjs holds pkg/lib/contract.js to).
#![cfg(target_arch = "wasm32")]

use wasm_bindgen_test::wasm_bindgen_test;
use wasmsocket::event::tag;
use wasmsocket::wasm::{
    check_close, check_protocols, contract, last_error, staging_area, status, Engine, EngineConfig,
};

/// The number `contract()` gives for `group.name`, as the JS host reads it.
fn contract_value(group: &str, name: &str) -> usize {
    let json = contract();
    let at = json.find(&format!("\"{group}\":{{")).expect("the group") + group.len() + 4;
    let fields = &json[at..at + json[at..].find('}').expect("the group's end")];
    let field = fields
        .split(',')
        .find_map(|f| f.strip_prefix(&format!("\"{name}\":")))
        .expect("the name");
    field.parse().expect("a number")
}

fn report(name: &str) -> usize {
    contract_value("Report", name)
}

fn record(name: &str) -> usize {
    contract_value("EventRecord", name)
}

fn u32_at(addr: usize) -> u32 {
    // SAFETY: the addresses come from the engine's own report, inside wasm memory.
    unsafe { (addr as *const u32).read_unaligned() }
}

fn u16_at(addr: usize) -> u16 {
    // SAFETY: as above.
    unsafe { (addr as *const u16).read_unaligned() }
}

fn f64_at(addr: usize) -> f64 {
    // SAFETY: as above.
    unsafe { (addr as *const f64).read_unaligned() }
}

fn bytes_at(addr: usize, len: usize) -> Vec<u8> {
    // SAFETY: as above.
    unsafe { std::slice::from_raw_parts(addr as *const u8, len).to_vec() }
}

/// An event as JS decodes it: (tag, arg, payload bytes).
type Decoded = (u16, u32, Vec<u8>);

/// What JS does after each call: read the newly reported events.
fn events(e: &Engine) -> Vec<Decoded> {
    let r = e.report() as usize;
    let (count, arena, side) = (
        u32_at(r + report("EVENT_COUNT")),
        u32_at(r + report("ARENA")),
        u32_at(r + report("SIDE")),
    );
    let mut p = u32_at(r + report("EVENTS")) as usize;
    let mut out = Vec::new();
    for _ in 0..count {
        let side_flag = contract_value("Flag", "SIDE") as u16;
        let in_side = u16_at(p + record("FLAGS")) & side_flag != 0;
        let base = if in_side { side } else { arena } as usize;
        let start = base + u32_at(p + record("START")) as usize;
        out.push((
            u16_at(p + record("TAG")),
            u32_at(p + record("ARG")),
            bytes_at(start, u32_at(p + record("LEN")) as usize),
        ));
        p += record("SIZE");
    }
    out
}

/// What JS does to write: flush, then copy the reported output.
fn output(e: &mut Engine) -> Vec<u8> {
    e.flush();
    let r = e.report() as usize;
    bytes_at(
        u32_at(r + report("OUTPUT")) as usize,
        u32_at(r + report("OUTPUT_LEN")) as usize,
    )
}

/// What JS does with a transport chunk: write it where `input` says, in place.
fn feed(e: &mut Engine, chunk: &[u8]) -> Vec<Decoded> {
    let ptr = e.input(chunk.len()) as usize;
    // SAFETY: `input` returned room for `chunk.len()` bytes at `ptr`.
    unsafe { std::ptr::copy_nonoverlapping(chunk.as_ptr(), ptr as *mut u8, chunk.len()) };
    e.receive(chunk.len(), 0.0);
    events(e)
}

/// What JS does to send a message: write it where `message_buffer` says.
fn send(e: &mut Engine, kind: u8, data: &[u8]) -> u32 {
    let ptr = e.message_buffer(data.len()) as usize;
    // SAFETY: `message_buffer` returned room for `data.len()` bytes at `ptr`.
    unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), ptr as *mut u8, data.len()) };
    e.commit_message(kind, data.len())
}

fn stage(data: &[u8]) -> usize {
    let ptr = staging_area(data.len()) as usize;
    // SAFETY: as in `feed`.
    unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), ptr as *mut u8, data.len()) };
    data.len()
}

fn open_pair() -> (Engine, Engine) {
    let config = EngineConfig::new();
    let mut client = Engine::client(
        &config,
        "example.com".into(),
        "/chat".into(),
        vec!["chat".into()],
        vec![],
        Some("http://example.com".into()),
        vec!["X-Test".into(), "1".into()],
        &[7; 16],
        &[9; 32],
        0.0,
    )
    .expect("a valid request");
    let mut server = Engine::server(&config, 0.0);
    let request = output(&mut client);
    assert_eq!(feed(&mut server, &request), [(tag::REQUEST, 0, vec![])]);
    let summary = server.request_summary();
    let parts: Vec<&str> = summary.split('\0').collect();
    assert_eq!(
        &parts[..5],
        ["/chat", "example.com", "", "1", "chat"],
        "path, host, offers, protocols"
    );
    assert!(parts[5..].windows(2).any(|w| w == ["X-Test", "1"]));
    assert_eq!(server.accept(Some("chat".into()), None, vec![]), status::OK);
    let open = events(&server);
    assert_eq!(open, [(tag::OPEN, 4, b"chat".to_vec())]);
    let answer = output(&mut server);
    assert_eq!(
        feed(&mut client, &answer),
        [(tag::OPEN, 4, b"chat".to_vec())]
    );
    (client, server)
}

#[wasm_bindgen_test]
fn report_layout_and_a_message_each_way() {
    let (mut client, mut server) = open_pair();
    let r = client.report() as usize;
    assert_eq!(u32_at(r + report("STATE")), 1, "OPEN");
    assert_eq!(
        f64_at(r + report("DEADLINE")),
        -1.0,
        "no timer while open without keepalive"
    );

    assert_eq!(send(&mut client, 1, "héllo".as_bytes()), status::OK);
    assert!(
        u32_at(r + report("PENDING_OUTPUT")) > 0,
        "the frame waits in the output"
    );
    let wire = output(&mut client);
    assert_eq!(wire[0], 0x81, "FIN + text");
    assert_eq!(wire[1] & 0x80, 0x80, "clients mask");
    assert_eq!(
        feed(&mut server, &wire),
        [(tag::MESSAGE, 1, "héllo".as_bytes().to_vec())]
    );

    assert_eq!(send(&mut server, 2, &[0, 1, 2, 255]), status::OK);
    let wire = output(&mut server);
    assert_eq!(
        feed(&mut client, &wire),
        [(tag::MESSAGE, 2, vec![0, 1, 2, 255])]
    );
}

#[wasm_bindgen_test]
fn replies_wait_for_release_and_indices_count_from_first() {
    let (mut client, mut server) = open_pair();
    // Server pings, then closes; the client reports both and owes two replies.
    assert_eq!(
        {
            let n = stage(b"p");
            server.control(false, n)
        },
        status::OK
    );
    assert_eq!(server.close(4000, "bye"), status::OK);
    let wire = output(&mut server);
    let evs = feed(&mut client, &wire);
    assert_eq!(evs[0], (tag::PING, 0, b"p".to_vec()));
    assert_eq!(evs[1], (tag::CLOSE_RECEIVED, 4000, b"bye".to_vec()));
    let first = u32_at(client.report() as usize + report("FIRST_EVENT")) as usize;
    // Releasing the ping alone writes the pong, not the close.
    client.release(first + 1);
    assert_eq!(
        u32_at(client.report() as usize + report("PENDING_OUTPUT")),
        2 + 4 + 1,
        "just the pong"
    );
    let wire = output(&mut client);
    assert_eq!(wire[0], 0x8A);
    let close = wire[7..].to_vec();
    assert_eq!(close[0], 0x88, "flush writes the remaining reply");
    let evs = feed(&mut server, &close);
    assert_eq!(evs[0], (tag::CLOSE_RECEIVED, 4000, vec![]));
    assert_eq!(
        (evs[1].0, evs[1].1),
        (tag::CLOSE_TRANSPORT, 1),
        "graceful: the close reply is written first"
    );
    server.transport_closed(1.0);
    assert_eq!(events(&server)[0], (tag::CLOSED, 4000 | 0x10000, vec![]));
}

#[wasm_bindgen_test]
fn commands_answer_with_status_numbers() {
    let (mut client, _server) = open_pair();
    assert_eq!(client.close(1001, ""), status::INVALID_CODE);
    assert_eq!(client.close(1000, &"x".repeat(124)), status::SYNTAX);
    assert!(last_error().contains("123"));
    assert_eq!(
        {
            let n = stage(&[0; 126]);
            client.control(false, n)
        },
        status::OTHER
    );
    assert_eq!(client.close(1000, ""), status::OK);
    assert_eq!(send(&mut client, 1, b"late"), status::INVALID_STATE);
}

#[wasm_bindgen_test]
fn whatwg_argument_checks() {
    assert_eq!(check_protocols(vec!["a".into(), "b".into()]), "");
    assert!(check_protocols(vec!["a".into(), "A".into()]).contains("duplicate"));
    assert!(!check_protocols(vec!["a b".into()]).is_empty());
    assert_eq!(check_close(-1, ""), status::OK);
    assert_eq!(check_close(1000, "ok"), status::OK);
    assert_eq!(check_close(4999, ""), status::OK);
    assert_eq!(check_close(1005, ""), status::INVALID_CODE);
    assert_eq!(check_close(65535, ""), status::INVALID_CODE);
    assert_eq!(check_close(1000, &"é".repeat(62)), status::SYNTAX);
}

#[wasm_bindgen_test]
fn invalid_requests_and_bad_peers_are_reported() {
    let mut server = Engine::server(&EngineConfig::new(), 0.0);
    let evs = feed(&mut server, b"POST / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(evs[0].0, tag::ERROR);
    assert!(String::from_utf8_lossy(&evs[0].2).contains("POST"));
    assert!(String::from_utf8(output(&mut server))
        .unwrap()
        .starts_with("HTTP/1.1 405 "));

    let (mut client, _server) = open_pair();
    let evs = feed(&mut client, &[0x81, 0x02, 0xC3, 0x28]);
    assert_eq!(evs[0].0, tag::ERROR);
    assert_eq!(evs[0].1, 1007);
    assert_eq!(client.error_code(), 1007);
    let close = output(&mut client);
    assert_eq!(close[0], 0x88);
}

#[wasm_bindgen_test]
fn refused_handshakes_expose_status_and_headers() {
    let mut client = Engine::client(
        &EngineConfig::new(),
        "example.com".into(),
        "/".into(),
        vec![],
        vec![],
        None,
        vec![],
        &[1; 16],
        &[2; 32],
        0.0,
    )
    .unwrap();
    output(&mut client);
    let evs = feed(
        &mut client,
        b"HTTP/1.1 302 Found\r\nLocation: ws://b/\r\n\r\n",
    );
    assert_eq!(evs[0].0, tag::ERROR);
    assert_eq!(client.refusal(), ["302", "Location", "ws://b/"]);
    assert!(Engine::client(
        &EngineConfig::new(),
        "bad host".into(),
        "/".into(),
        vec![],
        vec![],
        None,
        vec![],
        &[1; 16],
        &[2; 32],
        0.0,
    )
    .is_err());
}
