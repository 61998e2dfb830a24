//! The contract between the engine and its JavaScript host: where the
//! `Report` every call fills and the event records it points at lie in wasm
//! memory, and what the numbers in them mean. `pkg/lib/contract.js` writes
//! the same numbers out for JS; `contract()` gives them as this build has
//! them, and tests/node/contract.test.mjs checks that the two agree, so
//! neither side can move alone.

use std::mem::{offset_of, size_of};

use wasm_bindgen::prelude::*;

use crate::connection::ReadyState;
use crate::event::{flag, frame_bits, tag, MessageKind, RawEvent};

/// Where the last call left things, laid out for a `DataView` (all little-endian).
#[repr(C)]
#[derive(Default)]
pub(crate) struct Report {
    /// Address of the first event not reported before, how many follow, and
    /// the first one's index (for `release`).
    pub events: u32,
    pub event_count: u32,
    pub first_event: u32,
    /// Base addresses of the two payload buffers events point into.
    pub arena: u32,
    pub side: u32,
    /// Output to write to the transport (reported by `flush` only).
    pub output: u32,
    pub output_len: u32,
    /// Output written and not yet handed to the transport.
    pub pending_output: u32,
    /// The `ReadyState`.
    pub state: u32,
    /// How many pings a held pong answers (`Connection::pongs_held`).
    pub pongs_held: u32,
    /// The next deadline in ms, or -1.
    pub deadline: f64,
    /// 1 when the connection holds more buffer memory than it keeps between
    /// uses: the host calls `trim` once it has been quiet for a while
    /// (`Connection::wants_trim`).
    pub trim_due: u32,
}

/// Status numbers returned by commands; JS maps them onto DOMException names.
pub mod status {
    /// Done.
    pub const OK: u32 = 0;
    /// The connection's state forbids it (InvalidStateError).
    pub const INVALID_STATE: u32 = 1;
    /// A close code the caller may not use (InvalidAccessError).
    pub const INVALID_CODE: u32 = 2;
    /// A malformed argument: long reason, bad token, bad header (SyntaxError).
    pub const SYNTAX: u32 = 3;
    /// Any other refusal.
    pub const OTHER: u32 = 4;
}

/// The contract as `{ group: { NAME: number } }` JSON, groups and names as
/// `pkg/lib/contract.js` exports them.
#[wasm_bindgen]
pub fn contract() -> String {
    let groups: [(&str, &[(&str, u32)]); 9] = [
        (
            "Report",
            &[
                ("EVENTS", offset_of!(Report, events) as u32),
                ("EVENT_COUNT", offset_of!(Report, event_count) as u32),
                ("FIRST_EVENT", offset_of!(Report, first_event) as u32),
                ("ARENA", offset_of!(Report, arena) as u32),
                ("SIDE", offset_of!(Report, side) as u32),
                ("OUTPUT", offset_of!(Report, output) as u32),
                ("OUTPUT_LEN", offset_of!(Report, output_len) as u32),
                ("PENDING_OUTPUT", offset_of!(Report, pending_output) as u32),
                ("STATE", offset_of!(Report, state) as u32),
                ("PONGS_HELD", offset_of!(Report, pongs_held) as u32),
                ("DEADLINE", offset_of!(Report, deadline) as u32),
                ("TRIM_DUE", offset_of!(Report, trim_due) as u32),
            ],
        ),
        (
            "EventRecord",
            &[
                ("SIZE", size_of::<RawEvent>() as u32),
                ("TAG", offset_of!(RawEvent, tag) as u32),
                ("FLAGS", offset_of!(RawEvent, flags) as u32),
                ("ARG", offset_of!(RawEvent, arg) as u32),
                ("START", offset_of!(RawEvent, start) as u32),
                ("LEN", offset_of!(RawEvent, len) as u32),
                ("SIZE_ARG", offset_of!(RawEvent, size) as u32),
            ],
        ),
        (
            "Tag",
            &[
                ("REQUEST", tag::REQUEST as u32),
                ("OPEN", tag::OPEN as u32),
                ("MESSAGE", tag::MESSAGE as u32),
                ("FRAGMENT", tag::FRAGMENT as u32),
                ("PING", tag::PING as u32),
                ("PONG", tag::PONG as u32),
                ("CLOSE_RECEIVED", tag::CLOSE_RECEIVED as u32),
                ("ERROR", tag::ERROR as u32),
                ("CLOSE_TRANSPORT", tag::CLOSE_TRANSPORT as u32),
                ("CLOSED", tag::CLOSED as u32),
                ("FRAME", tag::FRAME as u32),
                ("MESSAGE_START", tag::MESSAGE_START as u32),
                ("COMPRESSED", tag::COMPRESSED as u32),
            ],
        ),
        (
            "Flag",
            &[
                ("SIDE", flag::SIDE as u32),
                ("OWES_REPLY", flag::OWES_REPLY as u32),
            ],
        ),
        (
            "Arg",
            &[
                ("KIND", 0xFF),
                ("FIN", tag::FIN),
                ("ASCII", tag::ASCII),
                ("DIRECT", tag::DIRECT),
                ("OUTGOING", tag::OUTGOING),
                ("CODE", 0xFFFF),
                ("CLEAN", tag::CLEAN),
            ],
        ),
        (
            "FrameBits",
            &[
                ("OUTGOING", frame_bits::OUTGOING),
                ("FIN", frame_bits::FIN),
                ("RSV_SHIFT", frame_bits::RSV_SHIFT),
                ("MASKED", frame_bits::MASKED),
                ("OPCODE_SHIFT", frame_bits::OPCODE_SHIFT),
            ],
        ),
        (
            "Kind",
            &[
                ("TEXT", MessageKind::Text as u8 as u32),
                ("BINARY", MessageKind::Binary as u8 as u32),
            ],
        ),
        (
            "Status",
            &[
                ("OK", status::OK),
                ("INVALID_STATE", status::INVALID_STATE),
                ("INVALID_CODE", status::INVALID_CODE),
                ("SYNTAX", status::SYNTAX),
                ("OTHER", status::OTHER),
            ],
        ),
        (
            "ReadyState",
            &[
                ("CONNECTING", ReadyState::Connecting as u8 as u32),
                ("OPEN", ReadyState::Open as u8 as u32),
                ("CLOSING", ReadyState::Closing as u8 as u32),
                ("CLOSED", ReadyState::Closed as u8 as u32),
            ],
        ),
    ];
    let body: Vec<String> = groups
        .iter()
        .map(|(group, entries)| {
            let fields: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("\"{k}\":{v}"))
                .collect();
            format!("\"{group}\":{{{}}}", fields.join(","))
        })
        .collect();
    format!("{{{}}}", body.join(","))
}
