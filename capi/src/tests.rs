//! The header's values are the component's: every HRESULT, enum value and
//! constant `include/websocket.h` defines is checked against the Rust side.

use super::ffi::*;
use wasmsocket::component::{
    Action, ActionQueue, BufferType, HResult, MAX_CLOSE_REASON_LENGTH, PropertyType, close_status,
};

const HEADER: &str = include_str!("../../include/websocket.h");

/// The value the header gives `name`: a `#define` or an enumerator.
fn value(name: &str) -> i64 {
    for line in HEADER.lines() {
        let line = line.trim().trim_end_matches(',');
        let rest = match (line.strip_prefix("#define "), line.strip_prefix(name)) {
            (Some(def), _) => match def.strip_prefix(name) {
                Some(r) if r.starts_with(' ') => r,
                _ => continue,
            },
            (None, Some(r)) if r.starts_with(" = ") => &r[3..],
            _ => continue,
        };
        let number = rest
            .trim()
            .trim_start_matches("((HRESULT)")
            .trim_end_matches(')')
            .trim_end_matches('L');
        return match number.strip_prefix("0x") {
            Some(hex) => i64::from_str_radix(hex, 16).unwrap(),
            None => number.parse().unwrap(),
        };
    }
    panic!("{name} is not in websocket.h");
}

/// An HRESULT as C sees it (the header writes the unsigned bits).
fn hresult(name: &str) -> i32 {
    value(name) as u32 as i32
}

#[test]
fn hresults_match_the_component() {
    use HResult::*;
    let all = [
        InvalidArg,
        OutOfMemory,
        InvalidFormat,
        NumericOverflow,
        InvalidOperation,
        InvalidProtocolOperation,
        InvalidProtocolFormat,
        ProtocolExtensionsNotSupported,
        SubprotocolNotSupported,
        ProtocolVersionNotSupported,
    ];
    for e in all {
        assert_eq!(hresult(e.name()), e.code(), "{}", e.name());
    }
    assert_eq!(hresult("S_OK"), S_OK);
    assert_eq!(hresult("S_FALSE"), S_FALSE);
    assert_eq!(hresult("E_FAIL"), E_FAIL);
    assert_eq!(hresult("E_INVALIDARG"), E_INVALIDARG);
    assert_eq!(hresult("E_POINTER"), E_POINTER);
    assert_eq!(hresult("WS_E_INVALID_FORMAT"), WS_E_INVALID_FORMAT);
    assert_eq!(hresult("WS_E_OBJECT_FAULTED"), WS_E_OBJECT_FAULTED);
    assert_eq!(hresult("WS_E_NUMERIC_OVERFLOW"), WS_E_NUMERIC_OVERFLOW);
    assert_eq!(hresult("WS_E_OPERATION_ABORTED"), WS_E_OPERATION_ABORTED);
}

#[test]
fn enums_match_the_component() {
    use Action::*;
    for (name, a) in [
        ("WEB_SOCKET_NO_ACTION", NoAction),
        ("WEB_SOCKET_SEND_TO_NETWORK_ACTION", SendToNetwork),
        (
            "WEB_SOCKET_INDICATE_SEND_COMPLETE_ACTION",
            IndicateSendComplete,
        ),
        ("WEB_SOCKET_RECEIVE_FROM_NETWORK_ACTION", ReceiveFromNetwork),
        (
            "WEB_SOCKET_INDICATE_RECEIVE_COMPLETE_ACTION",
            IndicateReceiveComplete,
        ),
    ] {
        assert_eq!(value(name), a as i64, "{name}");
    }
    assert_eq!(
        value("WEB_SOCKET_SEND_ACTION_QUEUE"),
        ActionQueue::Send as i64
    );
    assert_eq!(
        value("WEB_SOCKET_RECEIVE_ACTION_QUEUE"),
        ActionQueue::Receive as i64
    );
    // Written as SEND | RECEIVE in the header.
    assert_eq!(ActionQueue::All as i64, 3);
    use BufferType::*;
    for (name, t) in [
        ("WEB_SOCKET_UTF8_MESSAGE_BUFFER_TYPE", Utf8Message),
        ("WEB_SOCKET_UTF8_FRAGMENT_BUFFER_TYPE", Utf8Fragment),
        ("WEB_SOCKET_BINARY_MESSAGE_BUFFER_TYPE", BinaryMessage),
        ("WEB_SOCKET_BINARY_FRAGMENT_BUFFER_TYPE", BinaryFragment),
        ("WEB_SOCKET_CLOSE_BUFFER_TYPE", Close),
        ("WEB_SOCKET_PING_PONG_BUFFER_TYPE", PingPong),
        ("WEB_SOCKET_UNSOLICITED_PONG_BUFFER_TYPE", UnsolicitedPong),
    ] {
        assert_eq!(value(name), t as i64, "{name}");
    }
    use PropertyType::*;
    for (name, t) in [
        (
            "WEB_SOCKET_RECEIVE_BUFFER_SIZE_PROPERTY_TYPE",
            ReceiveBufferSize,
        ),
        ("WEB_SOCKET_SEND_BUFFER_SIZE_PROPERTY_TYPE", SendBufferSize),
        ("WEB_SOCKET_DISABLE_MASKING_PROPERTY_TYPE", DisableMasking),
        ("WEB_SOCKET_ALLOCATED_BUFFER_PROPERTY_TYPE", AllocatedBuffer),
        (
            "WEB_SOCKET_DISABLE_UTF8_VERIFICATION_PROPERTY_TYPE",
            DisableUtf8Verification,
        ),
        (
            "WEB_SOCKET_KEEPALIVE_INTERVAL_PROPERTY_TYPE",
            KeepaliveInterval,
        ),
        (
            "WEB_SOCKET_SUPPORTED_VERSIONS_PROPERTY_TYPE",
            SupportedVersions,
        ),
    ] {
        assert_eq!(value(name), t as i64, "{name}");
    }
    use close_status::*;
    for (name, status) in [
        ("WEB_SOCKET_SUCCESS_CLOSE_STATUS", SUCCESS),
        (
            "WEB_SOCKET_ENDPOINT_UNAVAILABLE_CLOSE_STATUS",
            ENDPOINT_UNAVAILABLE,
        ),
        ("WEB_SOCKET_PROTOCOL_ERROR_CLOSE_STATUS", PROTOCOL_ERROR),
        (
            "WEB_SOCKET_INVALID_DATA_TYPE_CLOSE_STATUS",
            INVALID_DATA_TYPE,
        ),
        ("WEB_SOCKET_EMPTY_CLOSE_STATUS", EMPTY),
        ("WEB_SOCKET_ABORTED_CLOSE_STATUS", ABORTED),
        ("WEB_SOCKET_INVALID_PAYLOAD_CLOSE_STATUS", INVALID_PAYLOAD),
        ("WEB_SOCKET_POLICY_VIOLATION_CLOSE_STATUS", POLICY_VIOLATION),
        ("WEB_SOCKET_MESSAGE_TOO_BIG_CLOSE_STATUS", MESSAGE_TOO_BIG),
        (
            "WEB_SOCKET_UNSUPPORTED_EXTENSIONS_CLOSE_STATUS",
            UNSUPPORTED_EXTENSIONS,
        ),
        ("WEB_SOCKET_SERVER_ERROR_CLOSE_STATUS", SERVER_ERROR),
        (
            "WEB_SOCKET_SECURE_HANDSHAKE_ERROR_CLOSE_STATUS",
            SECURE_HANDSHAKE_ERROR,
        ),
    ] {
        assert_eq!(value(name), status as i64, "{name}");
    }
    assert_eq!(
        value("WEB_SOCKET_MAX_CLOSE_REASON_LENGTH"),
        MAX_CLOSE_REASON_LENGTH as i64
    );
}

#[test]
fn layouts_are_c_layouts() {
    let p = size_of::<*const u8>();
    // Pointer, ULONG, then padding to the pointer's alignment.
    let pair = (p + 4).next_multiple_of(p);
    assert_eq!(
        size_of::<WebSocketBuffer>(),
        (p + 4 + 2).next_multiple_of(p)
    );
    assert_eq!(size_of::<DataBuffer>(), pair);
    assert_eq!(size_of::<WebSocketHttpHeader>(), 2 * pair);
    assert_eq!(size_of::<WebSocketProperty>(), p + pair);
    assert_eq!(std::mem::offset_of!(CloseBuffer, status), p + 4);
}
