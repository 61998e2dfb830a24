//! The server's half of the opening handshake (§4.2): read the request, answer it.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use super::target::{is_host, split_target};
use super::{
    accept_key, check_protocols, field, field_has_token, own_headers, parse_extensions,
    parse_failure, split_list, write_extra_headers, write_field, ExtensionOffer, HandshakeError,
    HeadLimits, Header, VERSION,
};
use crate::error::UsageError;

/// A client's opening request, checked and taken apart for the host to judge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The resource asked for, in origin-form: path and query (an
    /// absolute-form target is reduced to these).
    pub path: String,
    /// The host and port the request is for: the `Host` value, or the
    /// authority of an absolute-form target (RFC 9112 §3.2.2). Always one
    /// that makes a valid URL (see `target`).
    pub host: String,
    /// The `Origin` value, which browsers always send.
    pub origin: Option<String>,
    /// The `Sec-WebSocket-Key` value.
    pub key: String,
    /// Subprotocols offered, in the client's order of preference.
    pub protocols: Vec<String>,
    /// Extension offers, in the client's order of preference.
    pub extensions: Vec<ExtensionOffer>,
    /// Every header field, in the order received.
    pub headers: Vec<Header>,
}

impl Request {
    /// The value of the field `name` (case-insensitively); repeated fields are
    /// joined with `", "`.
    pub fn header(&self, name: &str) -> Option<String> {
        field(&self.headers, name)
    }
}

/// Parses and checks a request head at the start of `buf`.
///
/// Returns `Ok(None)` while the head is incomplete and within the limits;
/// otherwise the request and the head's length (bytes after it belong to the
/// frame stream), or the error, whose `status()` is the HTTP answer to give.
pub fn parse_request(
    buf: &[u8],
    limits: &HeadLimits,
) -> Result<Option<(Request, usize)>, HandshakeError> {
    let mut headers = vec![httparse::EMPTY_HEADER; limits.max_headers];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) if len <= limits.max_head_size => len,
        Ok(httparse::Status::Partial) if buf.len() < limits.max_head_size => return Ok(None),
        Ok(_) => {
            return Err(HandshakeError::HeadTooLarge {
                limit: limits.max_head_size,
            })
        }
        Err(e) => return Err(parse_failure(e, limits)),
    };
    let method = req.method.unwrap_or("");
    if method != "GET" {
        return Err(HandshakeError::MethodNotAllowed(method.to_owned()));
    }
    if req.version != Some(1) {
        return Err(HandshakeError::HttpVersion);
    }
    let target = req.path.unwrap_or("");
    let (authority, path) =
        split_target(target).ok_or_else(|| HandshakeError::InvalidTarget(target.to_owned()))?;
    let request = check_fields(own_headers(req.headers), authority, path)?;
    Ok(Some((request, len)))
}

/// Checks the header fields of an opening request (§4.2.1) whose method,
/// version and target were checked already: `authority` and `path` come from
/// the target. A host that parsed the head itself (websocket.dll's face)
/// calls it with the fields alone.
pub fn check_fields(
    headers: Vec<Header>,
    authority: Option<&str>,
    path: String,
) -> Result<Request, HandshakeError> {
    let h = &headers;
    if !field_has_token(h, "upgrade", "websocket") {
        return Err(HandshakeError::InvalidUpgrade);
    }
    if !field_has_token(h, "connection", "upgrade") {
        return Err(HandshakeError::InvalidConnection);
    }
    // RFC 9112 §3.2: exactly one Host, valid even where the target names the host.
    let mut hosts = h.iter().filter(|(n, _)| n.eq_ignore_ascii_case("host"));
    let host = match (hosts.next(), hosts.next()) {
        (None, _) => return Err(HandshakeError::MissingHost),
        (Some((_, v)), None) if is_host(v) => authority.unwrap_or(v).to_owned(),
        (Some((_, v)), _) => return Err(HandshakeError::InvalidHost(v.clone())),
    };
    match field(h, "sec-websocket-version") {
        Some(v) if v.trim() == VERSION => {}
        other => return Err(HandshakeError::UnsupportedVersion(other)),
    }
    let key = field(h, "sec-websocket-key").map(|k| k.trim().to_owned());
    let key = key
        .filter(|k| BASE64.decode(k).is_ok_and(|raw| raw.len() == 16))
        .ok_or(HandshakeError::InvalidKey)?;
    let protocols: Vec<String> = field(h, "sec-websocket-protocol")
        .map(|v| split_list(&v).map(str::to_owned).collect())
        .unwrap_or_default();
    check_protocols(&protocols).map_err(|_| HandshakeError::InvalidProtocolList)?;
    let extensions = match field(h, "sec-websocket-extensions") {
        Some(v) => parse_extensions(&v).ok_or(HandshakeError::InvalidExtensionList)?,
        None => Vec::new(),
    };
    let request = Request {
        path,
        host,
        origin: field(h, "origin"),
        key,
        protocols,
        extensions,
        headers,
    };
    Ok(request)
}

/// Writes the 101 answer that completes the handshake, with the chosen
/// subprotocol (which must be one the client offered), the accepted
/// extensions as one `Sec-WebSocket-Extensions` value, and any extra fields.
pub fn accept_response(
    request: &Request,
    protocol: Option<&str>,
    extensions: Option<&str>,
    headers: &[Header],
    out: &mut Vec<u8>,
) -> Result<(), UsageError> {
    if let Some(p) = protocol {
        if !request.protocols.iter().any(|o| o == p) {
            return Err(UsageError::UnofferedProtocol(p.to_owned()));
        }
    }
    let extensions = extensions.filter(|e| !e.is_empty());
    if let Some(e) = extensions {
        if !super::is_field_value(e) || parse_extensions(e).is_none() {
            return Err(UsageError::InvalidExtension(e.to_owned()));
        }
    }
    let start = out.len();
    out.extend_from_slice(b"HTTP/1.1 101 Switching Protocols\r\n");
    accept_fields(request, protocol, extensions, |name, value| {
        write_field(out, name, value)
    });
    if let Err(e) = write_extra_headers(out, headers) {
        out.truncate(start);
        return Err(e);
    }
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// Passes the fields of a 101 answer to `request` (§4.2.2) to `field`, for
/// a checked `protocol` and `extensions`.
pub fn accept_fields(
    request: &Request,
    protocol: Option<&str>,
    extensions: Option<&str>,
    mut field: impl FnMut(&str, &str),
) {
    field("Upgrade", "websocket");
    field("Connection", "Upgrade");
    field("Sec-WebSocket-Accept", &accept_key(&request.key));
    if let Some(p) = protocol {
        field("Sec-WebSocket-Protocol", p);
    }
    if let Some(e) = extensions {
        field("Sec-WebSocket-Extensions", e);
    }
}

/// Writes a refusal: the status, a plain-text body saying why, and
/// `Connection: close`. A 426 also names the version this server speaks, as
/// §4.4 requires.
pub fn reject_response(
    status: u16,
    body: &str,
    headers: &[Header],
    out: &mut Vec<u8>,
) -> Result<(), UsageError> {
    if !(300..=599).contains(&status) {
        return Err(UsageError::InvalidStatus(status));
    }
    let start = out.len();
    out.extend_from_slice(format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status)).as_bytes());
    write_field(out, "Connection", "close");
    if status == 405 {
        // RFC 9110 §15.5.6: a 405 lists the methods that are allowed.
        write_field(out, "Allow", "GET");
    }
    if status == 426 {
        write_field(out, "Upgrade", "websocket");
        write_field(out, "Sec-WebSocket-Version", VERSION);
    }
    write_field(out, "Content-Type", "text/plain; charset=utf-8");
    write_field(out, "Content-Length", &body.len().to_string());
    for (name, value) in headers {
        let ok = super::is_token(name) && super::is_field_value(value);
        if !ok {
            out.truncate(start);
            return Err(UsageError::InvalidHeaderValue(name.clone()));
        }
        write_field(out, name, value);
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body.as_bytes());
    Ok(())
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        301 => "Moved Permanently",
        302 => "Found",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Refused",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_REQUEST: &str = "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\n\
        Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n";

    fn parse(head: &str) -> Result<Option<(Request, usize)>, HandshakeError> {
        parse_request(head.as_bytes(), &HeadLimits::default())
    }

    fn with(replace: &str, by: &str) -> String {
        assert!(RFC_REQUEST.contains(replace), "{replace}");
        RFC_REQUEST.replace(replace, by)
    }

    #[test]
    fn parses_the_rfc_request() {
        let (req, len) = parse(RFC_REQUEST).unwrap().unwrap();
        assert_eq!(len, RFC_REQUEST.len());
        assert_eq!(req.path, "/chat");
        assert_eq!(req.host, "server.example.com");
        assert_eq!(req.origin.as_deref(), Some("http://example.com"));
        assert_eq!(req.protocols, vec!["chat", "superchat"]);
        assert_eq!(req.header("sec-websocket-version").as_deref(), Some("13"));
        assert_eq!(req.headers.len(), 7);
    }

    #[test]
    fn writes_the_rfc_answer() {
        let (req, _) = parse(RFC_REQUEST).unwrap().unwrap();
        let mut out = Vec::new();
        accept_response(&req, Some("chat"), None, &[], &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n"
        );
    }

    #[test]
    fn incomplete_heads_wait_and_trailing_bytes_are_kept() {
        for cut in 0..RFC_REQUEST.len() {
            assert_eq!(parse(&RFC_REQUEST[..cut]), Ok(None), "cut {cut}");
        }
        let with_frame = [RFC_REQUEST.as_bytes(), b"\x81\x80abcd"].concat();
        let (_, len) = parse_request(&with_frame, &HeadLimits::default())
            .unwrap()
            .unwrap();
        assert_eq!(&with_frame[len..], b"\x81\x80abcd");
    }

    #[test]
    fn every_refusal_has_its_status() {
        let cases = [
            (
                with("GET", "POST"),
                HandshakeError::MethodNotAllowed("POST".into()),
                405,
            ),
            (
                with("HTTP/1.1", "HTTP/1.0"),
                HandshakeError::HttpVersion,
                400,
            ),
            (
                with("Upgrade: websocket\r\n", ""),
                HandshakeError::InvalidUpgrade,
                400,
            ),
            (
                with("Upgrade: websocket", "Upgrade: h2c"),
                HandshakeError::InvalidUpgrade,
                400,
            ),
            (
                with("Connection: Upgrade", "Connection: close"),
                HandshakeError::InvalidConnection,
                400,
            ),
            (
                with("Host: server.example.com\r\n", ""),
                HandshakeError::MissingHost,
                400,
            ),
            (
                with("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8"),
                HandshakeError::UnsupportedVersion(Some("8".into())),
                426,
            ),
            (
                with("Sec-WebSocket-Version: 13\r\n", ""),
                HandshakeError::UnsupportedVersion(None),
                426,
            ),
            (
                with("dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ="),
                HandshakeError::InvalidKey,
                400,
            ),
            (
                with("dGhlIHNhbXBsZSBub25jZQ==", "not base64!!"),
                HandshakeError::InvalidKey,
                400,
            ),
            (
                with("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", ""),
                HandshakeError::InvalidKey,
                400,
            ),
            (
                with("chat, superchat", "chat, Chat"),
                HandshakeError::InvalidProtocolList,
                400,
            ),
            (
                with("chat, superchat", "a b"),
                HandshakeError::InvalidProtocolList,
                400,
            ),
        ];
        for (head, err, status) in cases {
            let got = parse(&head).unwrap_err();
            assert_eq!(got, err);
            assert_eq!(got.status(), status);
        }
        let ext = with("Origin", "Sec-WebSocket-Extensions: ;;\r\nOrigin");
        assert_eq!(
            parse(&ext).unwrap_err(),
            HandshakeError::InvalidExtensionList
        );
    }

    #[test]
    fn targets_and_hosts_that_make_no_url_answer_400() {
        // RFC 9112 §3.2.2: absolute-form is accepted, and its host wins.
        let (req, _) = parse(&with("GET /chat", "GET ws://other.example:81/x?y"))
            .unwrap()
            .unwrap();
        assert_eq!(
            (req.path.as_str(), req.host.as_str()),
            ("/x?y", "other.example:81")
        );
        for target in ["*", "abc", "server.example.com:443", "ftp://h/x", "/a#b"] {
            let err = parse(&with("/chat", target)).unwrap_err();
            assert_eq!(err, HandshakeError::InvalidTarget(target.into()));
            assert_eq!(err.status(), 400);
        }
        for host in ["a b", "x:99999", "a/b", "1.2.3.256", ""] {
            let err = parse(&with("server.example.com", host)).unwrap_err();
            assert_eq!(err, HandshakeError::InvalidHost(host.into()), "{host:?}");
            assert_eq!(err.status(), 400);
        }
        let twice = with("Upgrade:", "Host: server.example.com\r\nUpgrade:");
        assert!(matches!(parse(&twice), Err(HandshakeError::InvalidHost(_))));
    }

    #[test]
    fn head_limits_answer_431() {
        let limits = HeadLimits {
            max_head_size: 100,
            max_headers: 4,
        };
        let err = parse_request(RFC_REQUEST.as_bytes(), &limits).unwrap_err();
        assert_eq!(err, HandshakeError::TooManyHeaders { limit: 4 });
        assert_eq!(err.status(), 431);
        let limits = HeadLimits {
            max_head_size: 100,
            max_headers: 64,
        };
        let err = parse_request(RFC_REQUEST.as_bytes(), &limits).unwrap_err();
        assert_eq!(err, HandshakeError::HeadTooLarge { limit: 100 });
        assert_eq!(err.status(), 431);
        // An endless head is cut off at the cap, not buffered without end.
        let endless = "GET / HTTP/1.1\r\nX: ".to_string() + &"y".repeat(200);
        assert_eq!(
            parse_request(endless.as_bytes(), &limits),
            Err(HandshakeError::HeadTooLarge { limit: 100 })
        );
    }

    #[test]
    fn garbage_is_malformed() {
        assert!(matches!(
            parse("\x16\x03\x01\x02\x00\r\n\r\n"),
            Err(HandshakeError::Malformed(_))
        ));
    }

    #[test]
    fn accept_refuses_unoffered_protocols_and_bad_extensions() {
        let (req, _) = parse(RFC_REQUEST).unwrap().unwrap();
        assert_eq!(
            accept_response(&req, Some("CHAT"), None, &[], &mut Vec::new()),
            Err(UsageError::UnofferedProtocol("CHAT".into()))
        );
        assert!(accept_response(&req, None, Some("x y"), &[], &mut Vec::new()).is_err());
        let mut out = Vec::new();
        let bad: [Header; 1] = [("Set-Cookie".into(), "a\r\nb".into())];
        assert!(accept_response(&req, None, None, &bad, &mut out).is_err());
        assert!(out.is_empty(), "a refused answer leaves nothing behind");
    }

    #[test]
    fn accept_writes_extensions_and_extra_headers() {
        let (req, _) = parse(RFC_REQUEST).unwrap().unwrap();
        let mut out = Vec::new();
        let extra: [Header; 1] = [("Set-Cookie".into(), "id=1".into())];
        accept_response(&req, None, Some("permessage-deflate"), &extra, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(
            "\r\nSec-WebSocket-Extensions: permessage-deflate\r\nSet-Cookie: id=1\r\n\r\n"
        ));
        assert!(!text.contains("Sec-WebSocket-Protocol"));
    }

    #[test]
    fn rejection_answers() {
        let mut out = Vec::new();
        reject_response(426, "version 13 only", &[], &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 426 Upgrade Required\r\n"));
        assert!(text.contains("\r\nSec-WebSocket-Version: 13\r\n"));
        assert!(text.ends_with("Content-Length: 15\r\n\r\nversion 13 only"));
        let mut out = Vec::new();
        reject_response(403, "", &[("X-Why".into(), "origin".into())], &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("HTTP/1.1 403 Forbidden\r\n")
                && text.contains("X-Why: origin\r\n\r\n")
        );
        assert_eq!(
            reject_response(101, "", &[], &mut Vec::new()),
            Err(UsageError::InvalidStatus(101))
        );
        assert_eq!(
            reject_response(200, "", &[], &mut Vec::new()),
            Err(UsageError::InvalidStatus(200))
        );
        let mut out = Vec::new();
        reject_response(405, "", &[], &mut out).unwrap();
        assert!(String::from_utf8(out)
            .unwrap()
            .contains("\r\nAllow: GET\r\n"));
    }
}
