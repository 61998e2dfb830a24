//! The opening handshake (§4): the client's request and the server's answer.
//!
//! Like websocket.dll's handshake functions, this builds and checks HTTP heads
//! and does nothing else HTTP: redirects, authentication and proxies are the
//! host's business. Heads are parsed with `httparse`, within caps on head size
//! and header count.

pub mod client;
pub mod server;
pub mod target;

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use sha1::{Digest, Sha1};

use crate::error::UsageError;

/// The GUID that §1.3 appends to the client's key before hashing.
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The only protocol version this engine speaks (§4.1).
pub const VERSION: &str = "13";

/// The `Sec-WebSocket-Accept` value for a client's `Sec-WebSocket-Key`.
pub fn accept_key(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(GUID.as_bytes());
    BASE64.encode(sha.finalize())
}

/// Caps applied while reading a head, so a peer cannot make the engine buffer
/// or scan without bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeadLimits {
    /// Largest head, in bytes, through the blank line (default 16 KiB).
    pub max_head_size: usize,
    /// Most header fields (default 64).
    pub max_headers: usize,
}

impl Default for HeadLimits {
    fn default() -> Self {
        HeadLimits {
            max_head_size: 16 * 1024,
            max_headers: 64,
        }
    }
}

/// A header field as it arrived; values that are not UTF-8 are kept lossily.
pub type Header = (String, String);

/// Why an opening handshake failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandshakeError {
    /// The head is not well-formed HTTP/1.1.
    Malformed(String),
    /// The head grew past `HeadLimits::max_head_size`.
    HeadTooLarge {
        /// The configured cap, in bytes.
        limit: usize,
    },
    /// The head has more fields than `HeadLimits::max_headers`.
    TooManyHeaders {
        /// The configured cap.
        limit: usize,
    },
    /// The request method is not GET.
    MethodNotAllowed(String),
    /// The request is older than HTTP/1.1.
    HttpVersion,
    /// The request has no `Host` field.
    MissingHost,
    /// `Host` is repeated or is not a host and port.
    InvalidHost(String),
    /// The request target is neither origin-form nor absolute-form.
    InvalidTarget(String),
    /// `Upgrade` is missing or does not name `websocket`.
    InvalidUpgrade,
    /// `Connection` is missing or lacks the `upgrade` token.
    InvalidConnection,
    /// `Sec-WebSocket-Key` is missing or not base64 of 16 bytes.
    InvalidKey,
    /// `Sec-WebSocket-Version` is missing or not 13.
    UnsupportedVersion(Option<String>),
    /// `Sec-WebSocket-Protocol` is not a list of distinct tokens.
    InvalidProtocolList,
    /// `Sec-WebSocket-Extensions` does not parse.
    InvalidExtensionList,
    /// The server answered with a status other than 101.
    Status {
        /// The HTTP status code.
        status: u16,
        /// The reason phrase.
        reason: String,
        /// The response's fields (e.g. `Location` for a redirect).
        headers: Vec<Header>,
    },
    /// `Sec-WebSocket-Accept` is missing or does not match the key.
    InvalidAccept,
    /// The server chose a subprotocol the client did not offer.
    UnofferedProtocol(String),
    /// The client offered subprotocols and the server chose none.
    NoProtocol,
    /// The server accepted an extension the client did not offer.
    UnofferedExtension(String),
    /// The server's answer for an extension the engine negotiates is not
    /// acceptable, or names a second extension where one is agreed.
    ExtensionAnswer(String),
    /// The transport ended before the head was complete.
    ConnectionClosed,
}

impl HandshakeError {
    /// The HTTP status a server answers this error with.
    pub fn status(&self) -> u16 {
        match self {
            HandshakeError::HeadTooLarge { .. } | HandshakeError::TooManyHeaders { .. } => 431,
            HandshakeError::MethodNotAllowed(_) => 405,
            HandshakeError::UnsupportedVersion(_) => 426,
            HandshakeError::Status { status, .. } => *status,
            _ => 400,
        }
    }

    /// The body of a server's refusal: the error as displayed, but without
    /// the configured limits, which a peer has no business learning.
    pub fn public_reason(&self) -> String {
        match self {
            HandshakeError::HeadTooLarge { .. } | HandshakeError::TooManyHeaders { .. } => {
                "request head too large".into()
            }
            other => other.to_string(),
        }
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::Malformed(why) => write!(f, "malformed HTTP head: {why}"),
            HandshakeError::HeadTooLarge { limit } => {
                write!(f, "HTTP head larger than {limit} bytes")
            }
            HandshakeError::TooManyHeaders { limit } => {
                write!(f, "more than {limit} header fields")
            }
            HandshakeError::MethodNotAllowed(m) => write!(f, "method {m} is not GET"),
            HandshakeError::HttpVersion => write!(f, "HTTP version older than 1.1"),
            HandshakeError::MissingHost => write!(f, "missing Host header"),
            HandshakeError::InvalidHost(h) => write!(f, "invalid or repeated Host {h:?}"),
            HandshakeError::InvalidTarget(t) => {
                write!(f, "request target {t:?} is not a path or an absolute URL")
            }
            HandshakeError::InvalidUpgrade => write!(f, "Upgrade header does not name websocket"),
            HandshakeError::InvalidConnection => {
                write!(f, "Connection header lacks the upgrade token")
            }
            HandshakeError::InvalidKey => {
                write!(f, "Sec-WebSocket-Key is missing or not base64 of 16 bytes")
            }
            HandshakeError::UnsupportedVersion(Some(v)) => {
                write!(f, "Sec-WebSocket-Version {v:?} is not 13")
            }
            HandshakeError::UnsupportedVersion(None) => write!(f, "missing Sec-WebSocket-Version"),
            HandshakeError::InvalidProtocolList => {
                write!(f, "Sec-WebSocket-Protocol is not a list of distinct tokens")
            }
            HandshakeError::InvalidExtensionList => {
                write!(f, "Sec-WebSocket-Extensions does not parse")
            }
            HandshakeError::Status { status, reason, .. } => {
                write!(f, "server answered {status} {reason}")
            }
            HandshakeError::InvalidAccept => {
                write!(
                    f,
                    "Sec-WebSocket-Accept is missing or does not match the key"
                )
            }
            HandshakeError::UnofferedProtocol(p) => {
                write!(f, "server chose subprotocol {p:?}, which was not offered")
            }
            HandshakeError::NoProtocol => {
                write!(f, "server chose none of the subprotocols offered")
            }
            HandshakeError::UnofferedExtension(e) => {
                write!(f, "server accepted extension {e:?}, which was not offered")
            }
            HandshakeError::ExtensionAnswer(why) => {
                write!(f, "server's extension answer refused: {why}")
            }
            HandshakeError::ConnectionClosed => write!(f, "connection closed during the handshake"),
        }
    }
}

impl std::error::Error for HandshakeError {}

/// One entry of a `Sec-WebSocket-Extensions` list (§9.1): a name and its parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtensionOffer {
    /// The extension token, e.g. `permessage-deflate`.
    pub name: String,
    /// Parameters in order; a value of `None` is a bare flag.
    pub params: Vec<(String, Option<String>)>,
}

impl fmt::Display for ExtensionOffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        for (k, v) in &self.params {
            match v {
                Some(v) => write!(f, "; {k}={v}")?,
                None => write!(f, "; {k}")?,
            }
        }
        Ok(())
    }
}

/// Parses a `Sec-WebSocket-Extensions` value. Quoted parameter values are
/// unquoted and must then be tokens, as §9.1 requires.
pub fn parse_extensions(value: &str) -> Option<Vec<ExtensionOffer>> {
    let mut offers = Vec::new();
    for item in split_list(value) {
        let mut parts = split_outside_quotes(item, ';').into_iter().map(str::trim);
        let name = parts.next()?;
        if !is_token(name) {
            return None;
        }
        let mut params = Vec::new();
        for param in parts {
            let (key, val) = match param.split_once('=') {
                Some((k, v)) => (k.trim(), Some(unquote(v.trim())?)),
                None => (param, None),
            };
            if !is_token(key) || val.as_deref().is_some_and(|v| !is_token(v)) {
                return None;
            }
            params.push((key.to_owned(), val));
        }
        offers.push(ExtensionOffer {
            name: name.to_owned(),
            params,
        });
    }
    Some(offers)
}

/// Splits a comma-separated header list (RFC 9110 §5.6.1), trimming spaces and
/// skipping empty elements; commas inside quoted strings do not split.
pub(crate) fn split_list(value: &str) -> impl Iterator<Item = &str> {
    split_outside_quotes(value, ',')
        .into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn split_outside_quotes(value: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                parts.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&value[start..]);
    parts
}

fn unquote(v: &str) -> Option<String> {
    let Some(inner) = v.strip_prefix('"') else {
        return Some(v.to_owned());
    };
    let inner = inner.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// An RFC 9110 token: one or more `tchar`.
pub fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A header value the engine is willing to write: no control bytes (so no CR,
/// LF or NUL) other than horizontal tab, and no leading or trailing space.
pub fn is_field_value(s: &str) -> bool {
    s.bytes().all(|b| b == b'\t' || (b >= 0x20 && b != 0x7F)) && s.trim() == s
}

/// The values of every field named `name` (case-insensitively), joined as one
/// list, as RFC 9110 §5.3 allows for list-valued fields.
pub(crate) fn field(headers: &[Header], name: &str) -> Option<String> {
    let mut values = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str());
    let first = values.next()?;
    Some(values.fold(first.to_owned(), |mut acc, v| {
        acc.push_str(", ");
        acc.push_str(v);
        acc
    }))
}

/// Whether the comma list in field `name` holds `token` (case-insensitively).
pub(crate) fn field_has_token(headers: &[Header], name: &str, token: &str) -> bool {
    field(headers, name).is_some_and(|v| split_list(&v).any(|t| t.eq_ignore_ascii_case(token)))
}

/// Checks a list of subprotocols as a client offers or a server reads it:
/// tokens, none repeated (case-insensitively).
pub(crate) fn check_protocols<S: AsRef<str>>(protocols: &[S]) -> Result<(), UsageError> {
    for (i, p) in protocols.iter().enumerate() {
        let p = p.as_ref();
        if !is_token(p) {
            return Err(UsageError::InvalidProtocol(p.to_owned()));
        }
        if protocols[..i]
            .iter()
            .any(|q| q.as_ref().eq_ignore_ascii_case(p))
        {
            return Err(UsageError::DuplicateProtocol(p.to_owned()));
        }
    }
    Ok(())
}

/// Checks and writes extra header fields supplied by the host, refusing the
/// ones the handshake itself owns.
pub(crate) fn write_extra_headers(out: &mut Vec<u8>, headers: &[Header]) -> Result<(), UsageError> {
    const OWNED: [&str; 7] = [
        "upgrade",
        "connection",
        "sec-websocket-key",
        "sec-websocket-accept",
        "sec-websocket-version",
        "sec-websocket-protocol",
        "sec-websocket-extensions",
    ];
    for (name, value) in headers {
        if !is_token(name) {
            return Err(UsageError::InvalidHeaderName(name.clone()));
        }
        if OWNED.iter().any(|o| o.eq_ignore_ascii_case(name)) {
            return Err(UsageError::ReservedHeader(name.clone()));
        }
        if !is_field_value(value) {
            return Err(UsageError::InvalidHeaderValue(name.clone()));
        }
        write_field(out, name, value);
    }
    Ok(())
}

pub(crate) fn write_field(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Finds the end of an HTTP head in `buf`: the first blank line whose last
/// byte is at `from` or later (so bytes arriving one at a time cost one scan
/// in total). Returns the head's length including the blank line. Bare LF
/// line ends are accepted, as `httparse` accepts them.
pub(crate) fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    (from..buf.len()).find_map(|i| {
        let ends = buf[i] == b'\n'
            && ((i >= 1 && buf[i - 1] == b'\n')
                || (i >= 2 && buf[i - 1] == b'\r' && buf[i - 2] == b'\n'));
        ends.then_some(i + 1)
    })
}

/// Converts `httparse` headers into owned pairs.
pub(crate) fn own_headers(headers: &[httparse::Header<'_>]) -> Vec<Header> {
    headers
        .iter()
        .map(|h| {
            (
                h.name.to_owned(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect()
}

/// Maps an `httparse` failure onto the handshake's error.
pub(crate) fn parse_failure(e: httparse::Error, limits: &HeadLimits) -> HandshakeError {
    match e {
        httparse::Error::TooManyHeaders => HandshakeError::TooManyHeaders {
            limit: limits.max_headers,
        },
        other => HandshakeError::Malformed(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6455 §1.3's worked example.
    #[test]
    fn accept_key_matches_rfc_vector() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn tokens() {
        assert!(is_token("chat") && is_token("v2.json-rpc") && is_token("a!#$%&'*+-.^_`|~9"));
        for bad in [
            "", "a b", "a,b", "a;b", "a\"", "é", "a/b", "(x)", "a=b", "a\tb",
        ] {
            assert!(!is_token(bad), "{bad:?}");
        }
    }

    #[test]
    fn field_values_refuse_control_bytes() {
        assert!(
            is_field_value("text/plain; q=1") && is_field_value("ünïcode") && is_field_value("")
        );
        for bad in [
            "a\r\nInjected: 1",
            "a\nb",
            "a\0b",
            "a\x7fb",
            " lead",
            "trail ",
        ] {
            assert!(!is_field_value(bad), "{bad:?}");
        }
    }

    #[test]
    fn parses_extension_lists() {
        let offers = parse_extensions(
            "permessage-deflate; client_max_window_bits, permessage-deflate; server_max_window_bits=\"10\", x-foo",
        )
        .unwrap();
        assert_eq!(offers.len(), 3);
        assert_eq!(
            offers[0].params,
            vec![("client_max_window_bits".into(), None)]
        );
        assert_eq!(
            offers[1].params,
            vec![("server_max_window_bits".into(), Some("10".into()))]
        );
        assert_eq!(offers[2].name, "x-foo");
        assert_eq!(
            offers[1].to_string(),
            "permessage-deflate; server_max_window_bits=10"
        );
        for bad in ["; x", "a; =1", "a; b=\"unterminated", "a b", "a; b=\"x y\""] {
            assert_eq!(parse_extensions(bad), None, "{bad:?}");
        }
        assert_eq!(parse_extensions("").unwrap(), vec![]);
    }

    #[test]
    fn protocol_lists_must_be_distinct_tokens() {
        assert!(check_protocols(&["chat", "superchat"]).is_ok());
        assert_eq!(
            check_protocols(&["chat", "Chat"]),
            Err(UsageError::DuplicateProtocol("Chat".into()))
        );
        assert_eq!(
            check_protocols(&["a b"]),
            Err(UsageError::InvalidProtocol("a b".into()))
        );
        assert_eq!(
            check_protocols(&[""]),
            Err(UsageError::InvalidProtocol("".into()))
        );
    }

    #[test]
    fn finds_head_end_incrementally() {
        let head = b"HTTP/1.1 101 OK\r\nA: b\r\n\r\nframes";
        assert_eq!(find_head_end(head, 0), Some(25));
        for split in 0..head.len() {
            let first = find_head_end(&head[..split], 0);
            let found = first.or_else(|| find_head_end(head, split));
            assert_eq!(found, Some(25), "split {split}");
        }
        assert_eq!(find_head_end(b"GET / HTTP/1.1\nHost: x\n\n", 0), Some(24));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\nHost: x\r\n", 0), None);
    }

    #[test]
    fn joined_fields_and_tokens() {
        let headers: Vec<Header> = vec![
            ("Connection".into(), "keep-alive".into()),
            ("connection".into(), "Upgrade".into()),
        ];
        assert_eq!(
            field(&headers, "CONNECTION").unwrap(),
            "keep-alive, Upgrade"
        );
        assert!(field_has_token(&headers, "connection", "upgrade"));
        assert!(!field_has_token(&headers, "connection", "close"));
    }

    #[test]
    fn extra_headers_refuse_injection_and_owned_names() {
        let mut out = Vec::new();
        let ok: Vec<Header> = vec![("Authorization".into(), "Bearer x".into())];
        assert!(write_extra_headers(&mut out, &ok).is_ok());
        assert_eq!(out, b"Authorization: Bearer x\r\n");
        let cases: [(Header, UsageError); 3] = [
            (
                ("Bad Name".into(), "v".into()),
                UsageError::InvalidHeaderName("Bad Name".into()),
            ),
            (
                ("X".into(), "v\r\nEvil: 1".into()),
                UsageError::InvalidHeaderValue("X".into()),
            ),
            (
                ("sec-websocket-key".into(), "v".into()),
                UsageError::ReservedHeader("sec-websocket-key".into()),
            ),
        ];
        for (h, err) in cases {
            assert_eq!(write_extra_headers(&mut Vec::new(), &[h]), Err(err));
        }
    }
}
