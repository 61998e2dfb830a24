//! The client's half of the opening handshake (§4.1): write the request, check the answer.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use super::{
    accept_key, check_protocols, field, field_has_token, own_headers, parse_extensions,
    parse_failure, split_list, write_extra_headers, write_field, ExtensionOffer, HandshakeError,
    HeadLimits, Header, VERSION,
};
use crate::error::UsageError;

/// What a client asks for in its opening request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientRequest {
    /// The `Host` value: host, and port when not the scheme's default.
    pub host: String,
    /// The resource name: path and query, starting with `/`.
    pub resource: String,
    /// Subprotocols offered, most preferred first.
    pub protocols: Vec<String>,
    /// Extension offers, each a `Sec-WebSocket-Extensions` element such as
    /// `permessage-deflate; client_max_window_bits`.
    pub extensions: Vec<String>,
    /// The `Origin` value, sent when set.
    pub origin: Option<String>,
    /// Further fields, such as `Authorization` or cookies. A `Host` here
    /// replaces the one built from `host`.
    pub headers: Vec<Header>,
}

impl ClientRequest {
    /// A request for `resource` on `host`, with nothing offered.
    pub fn new(host: impl Into<String>, resource: impl Into<String>) -> Self {
        ClientRequest {
            host: host.into(),
            resource: resource.into(),
            ..Default::default()
        }
    }

    /// Writes the request head with the given `Sec-WebSocket-Key`, after
    /// checking every part of it (§4.1 and RFC 9110 field syntax).
    pub fn write(&self, key: &str, out: &mut Vec<u8>) -> Result<(), UsageError> {
        let visible = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic());
        if !visible(&self.host) {
            return Err(UsageError::InvalidTarget(self.host.clone()));
        }
        if !self.resource.starts_with('/') || !visible(&self.resource) {
            return Err(UsageError::InvalidTarget(self.resource.clone()));
        }
        check_protocols(&self.protocols)?;
        let extensions = self.extensions.join(", ");
        if !super::is_field_value(&extensions) || parse_extensions(&extensions).is_none() {
            return Err(UsageError::InvalidExtension(extensions));
        }
        let user_host = self
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("host"));
        let user_origin = self
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("origin"));

        out.extend_from_slice(b"GET ");
        out.extend_from_slice(self.resource.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        if !user_host {
            write_field(out, "Host", &self.host);
        }
        handshake_fields(key, &self.protocols, &extensions, |name, value| {
            write_field(out, name, value)
        });
        match &self.origin {
            Some(origin) if !user_origin => {
                if !super::is_field_value(origin) {
                    return Err(UsageError::InvalidHeaderValue("Origin".into()));
                }
                write_field(out, "Origin", origin);
            }
            _ => {}
        }
        write_extra_headers(out, &self.headers)?;
        out.extend_from_slice(b"\r\n");
        Ok(())
    }
}

/// Passes the fields that make a request an opening handshake (§4.1) to
/// `field`: for checked `protocols` and `extensions` (one
/// `Sec-WebSocket-Extensions` value), those offers too. A host that writes
/// the rest of the request itself (websocket.dll's face) adds just these.
pub fn handshake_fields(
    key: &str,
    protocols: &[String],
    extensions: &str,
    mut field: impl FnMut(&str, &str),
) {
    field("Upgrade", "websocket");
    field("Connection", "Upgrade");
    field("Sec-WebSocket-Key", key);
    field("Sec-WebSocket-Version", VERSION);
    if !protocols.is_empty() {
        field("Sec-WebSocket-Protocol", &protocols.join(", "));
    }
    if !extensions.is_empty() {
        field("Sec-WebSocket-Extensions", extensions);
    }
}

/// The `Sec-WebSocket-Key` for 16 bytes of entropy from the host.
pub fn key_from_nonce(nonce: [u8; 16]) -> String {
    BASE64.encode(nonce)
}

/// A server's response head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// The reason phrase.
    pub reason: String,
    /// Header fields in the order received.
    pub headers: Vec<Header>,
}

/// Parses a response head from the start of `buf`. Returns `Ok(None)` while
/// the head is incomplete and within the limits; on success the head's length,
/// so the bytes after it can go to the frame stream.
pub fn parse_response(
    buf: &[u8],
    limits: &HeadLimits,
) -> Result<Option<(Response, usize)>, HandshakeError> {
    let mut headers = vec![httparse::EMPTY_HEADER; limits.max_headers];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(buf) {
        Ok(httparse::Status::Complete(len)) if len <= limits.max_head_size => {
            let response = Response {
                status: resp.code.unwrap_or(0),
                reason: resp.reason.unwrap_or("").to_owned(),
                headers: own_headers(resp.headers),
            };
            Ok(Some((response, len)))
        }
        Ok(httparse::Status::Partial) if buf.len() < limits.max_head_size => Ok(None),
        Ok(_) => Err(HandshakeError::HeadTooLarge {
            limit: limits.max_head_size,
        }),
        Err(e) => Err(parse_failure(e, limits)),
    }
}

/// What the server agreed to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Negotiated {
    /// The chosen subprotocol, if any.
    pub protocol: Option<String>,
    /// The accepted extensions, in the server's order.
    pub extensions: Vec<ExtensionOffer>,
    /// The `Sec-WebSocket-Extensions` value exactly as the server sent it
    /// (repeated fields joined with `", "`): WHATWG `extensions`.
    pub extensions_header: String,
}

/// Checks a response against the request that was sent with `key` (§4.1,
/// "the client MUST validate the server's response").
pub fn check_response(
    response: &Response,
    key: &str,
    offered: &ClientRequest,
) -> Result<Negotiated, HandshakeError> {
    let h = &response.headers;
    if response.status != 101 {
        return Err(HandshakeError::Status {
            status: response.status,
            reason: response.reason.clone(),
            headers: h.clone(),
        });
    }
    let upgrade = field(h, "upgrade");
    if !upgrade.is_some_and(|u| u.trim().eq_ignore_ascii_case("websocket")) {
        return Err(HandshakeError::InvalidUpgrade);
    }
    if !field_has_token(h, "connection", "upgrade") {
        return Err(HandshakeError::InvalidConnection);
    }
    if field(h, "sec-websocket-accept").as_deref().map(str::trim) != Some(accept_key(key).as_str())
    {
        return Err(HandshakeError::InvalidAccept);
    }
    // As browsers and `ws` do, a client that offered subprotocols insists on
    // one of them: RFC 6455 allows none, but the application asked for one.
    let protocol = match field(h, "sec-websocket-protocol") {
        Some(p) if !p.trim().is_empty() => {
            let p = p.trim();
            if !offered.protocols.iter().any(|o| o == p) {
                return Err(HandshakeError::UnofferedProtocol(p.to_owned()));
            }
            Some(p.to_owned())
        }
        _ if !offered.protocols.is_empty() => return Err(HandshakeError::NoProtocol),
        _ => None,
    };
    let extensions_header = field(h, "sec-websocket-extensions").unwrap_or_default();
    let extensions =
        parse_extensions(&extensions_header).ok_or(HandshakeError::InvalidExtensionList)?;
    let offered_names: Vec<&str> = offered
        .extensions
        .iter()
        .flat_map(|e| split_list(e))
        .filter_map(|e| e.split(';').next())
        .map(str::trim)
        .collect();
    if let Some(e) = extensions
        .iter()
        .find(|e| !offered_names.contains(&e.name.as_str()))
    {
        return Err(HandshakeError::UnofferedExtension(e.name.clone()));
    }
    Ok(Negotiated {
        protocol,
        extensions,
        extensions_header: extensions_header.trim().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
    const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

    fn request() -> ClientRequest {
        let mut r = ClientRequest::new("server.example.com", "/chat");
        r.protocols = vec!["chat".into(), "superchat".into()];
        r.origin = Some("http://example.com".into());
        r
    }

    fn response(extra: &str) -> Response {
        let head = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {ACCEPT}\r\n{extra}\r\n"
        );
        parse_response(head.as_bytes(), &HeadLimits::default())
            .unwrap()
            .unwrap()
            .0
    }

    #[test]
    fn writes_the_rfc_request() {
        let mut out = Vec::new();
        request().write(KEY, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Protocol: chat, superchat\r\nOrigin: http://example.com\r\n\r\n"
        );
    }

    #[test]
    fn key_is_base64_of_the_nonce() {
        assert_eq!(key_from_nonce(*b"the sample nonce"), KEY);
    }

    #[test]
    fn user_headers_are_written_and_host_can_be_replaced() {
        let mut r = ClientRequest::new("a.test", "/?q=1");
        r.extensions = vec!["permessage-deflate; client_max_window_bits".into()];
        r.headers = vec![
            ("Host".into(), "b.test".into()),
            ("X-Token".into(), "t".into()),
        ];
        let mut out = Vec::new();
        r.write(KEY, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("GET /?q=1 HTTP/1.1\r\nUpgrade"));
        assert!(text
            .contains("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"));
        assert!(text.contains("Host: b.test\r\nX-Token: t\r\n\r\n"));
    }

    #[test]
    fn refuses_bad_requests() {
        let cases: Vec<(ClientRequest, UsageError)> = vec![
            (
                ClientRequest::new("", "/"),
                UsageError::InvalidTarget("".into()),
            ),
            (
                ClientRequest::new("a b", "/"),
                UsageError::InvalidTarget("a b".into()),
            ),
            (
                ClientRequest::new("h", "chat"),
                UsageError::InvalidTarget("chat".into()),
            ),
            (
                ClientRequest::new("h", "/a\r\nb"),
                UsageError::InvalidTarget("/a\r\nb".into()),
            ),
            (
                ClientRequest {
                    protocols: vec!["a".into(), "A".into()],
                    ..ClientRequest::new("h", "/")
                },
                UsageError::DuplicateProtocol("A".into()),
            ),
            (
                ClientRequest {
                    protocols: vec!["a,b".into()],
                    ..ClientRequest::new("h", "/")
                },
                UsageError::InvalidProtocol("a,b".into()),
            ),
            (
                ClientRequest {
                    extensions: vec!["bad ext".into()],
                    ..ClientRequest::new("h", "/")
                },
                UsageError::InvalidExtension("bad ext".into()),
            ),
            (
                ClientRequest {
                    origin: Some("o\r\nX: 1".into()),
                    ..ClientRequest::new("h", "/")
                },
                UsageError::InvalidHeaderValue("Origin".into()),
            ),
            (
                ClientRequest {
                    headers: vec![("Upgrade".into(), "h2c".into())],
                    ..ClientRequest::new("h", "/")
                },
                UsageError::ReservedHeader("Upgrade".into()),
            ),
        ];
        for (req, err) in cases {
            assert_eq!(req.write(KEY, &mut Vec::new()), Err(err));
        }
    }

    #[test]
    fn accepts_a_valid_response() {
        let n = check_response(
            &response("Sec-WebSocket-Protocol: chat\r\n"),
            KEY,
            &request(),
        )
        .unwrap();
        assert_eq!(n.protocol.as_deref(), Some("chat"));
        let plain = ClientRequest::new("server.example.com", "/chat");
        let n = check_response(&response(""), KEY, &plain).unwrap();
        assert_eq!(n, Negotiated::default());
        // Offered subprotocols, and the server picked none: refused, as browsers do.
        assert_eq!(
            check_response(&response(""), KEY, &request()),
            Err(HandshakeError::NoProtocol)
        );
    }

    #[test]
    fn upgrade_and_connection_are_case_insensitive_lists() {
        let head = format!(
            "HTTP/1.1 101 OK\r\nupgrade: WebSocket\r\nconnection: keep-alive, UPGRADE\r\nsec-websocket-accept: {ACCEPT}\r\nsec-websocket-protocol: chat\r\n\r\n"
        );
        let (resp, _) = parse_response(head.as_bytes(), &HeadLimits::default())
            .unwrap()
            .unwrap();
        assert!(check_response(&resp, KEY, &request()).is_ok());
    }

    #[test]
    fn refuses_bad_responses() {
        let base = |up: &str, conn: &str, acc: &str, extra: &str| {
            let head = format!("HTTP/1.1 101 OK\r\n{up}{conn}{acc}{extra}\r\n");
            parse_response(head.as_bytes(), &HeadLimits::default())
                .unwrap()
                .unwrap()
                .0
        };
        let up = "Upgrade: websocket\r\n";
        let conn = "Connection: Upgrade\r\n";
        let acc = &format!("Sec-WebSocket-Accept: {ACCEPT}\r\n");
        let cases = [
            (base("", conn, acc, ""), HandshakeError::InvalidUpgrade),
            (
                base("Upgrade: h2c\r\n", conn, acc, ""),
                HandshakeError::InvalidUpgrade,
            ),
            (base(up, "", acc, ""), HandshakeError::InvalidConnection),
            (
                base(up, "Connection: close\r\n", acc, ""),
                HandshakeError::InvalidConnection,
            ),
            (base(up, conn, "", ""), HandshakeError::InvalidAccept),
            (
                base(up, conn, "Sec-WebSocket-Accept: AAAA\r\n", ""),
                HandshakeError::InvalidAccept,
            ),
            (
                base(up, conn, acc, "Sec-WebSocket-Protocol: other\r\n"),
                HandshakeError::UnofferedProtocol("other".into()),
            ),
            (
                base(up, conn, acc, "Sec-WebSocket-Protocol: Chat\r\n"),
                HandshakeError::UnofferedProtocol("Chat".into()),
            ),
            (
                base(up, conn, acc, "Sec-WebSocket-Protocol: chat, superchat\r\n"),
                HandshakeError::UnofferedProtocol("chat, superchat".into()),
            ),
            (
                base(
                    up,
                    conn,
                    acc,
                    "Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Extensions: permessage-deflate\r\n",
                ),
                HandshakeError::UnofferedExtension("permessage-deflate".into()),
            ),
        ];
        for (resp, err) in cases {
            assert_eq!(check_response(&resp, KEY, &request()), Err(err));
        }
    }

    #[test]
    fn offered_extensions_are_accepted() {
        let mut req = request();
        req.protocols.clear();
        req.extensions = vec!["permessage-deflate; client_max_window_bits".into()];
        let resp = response(
            "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n",
        );
        let n = check_response(&resp, KEY, &req).unwrap();
        assert_eq!(
            n.extensions_header,
            "permessage-deflate; server_no_context_takeover"
        );
        assert_eq!(n.extensions[0].params[0].0, "server_no_context_takeover");
    }

    #[test]
    fn non_101_carries_status_and_headers() {
        let head = b"HTTP/1.1 302 Found\r\nLocation: ws://elsewhere/\r\nContent-Length: 0\r\n\r\n";
        let (resp, _) = parse_response(head, &HeadLimits::default())
            .unwrap()
            .unwrap();
        match check_response(&resp, KEY, &request()) {
            Err(HandshakeError::Status {
                status: 302,
                reason,
                headers,
            }) => {
                assert_eq!(reason, "Found");
                assert_eq!(headers[0], ("Location".into(), "ws://elsewhere/".into()));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn response_parsing_respects_limits_and_keeps_trailing_bytes() {
        let limits = HeadLimits {
            max_head_size: 64,
            max_headers: 2,
        };
        let head = b"HTTP/1.1 101 OK\r\nA: 1\r\n\r\n\x81\x02hi";
        let (_, len) = parse_response(head, &limits).unwrap().unwrap();
        assert_eq!(&head[len..], b"\x81\x02hi");
        assert_eq!(parse_response(&head[..10], &limits), Ok(None));
        let long = [b"HTTP/1.1 101 OK\r\nA: ".as_slice(), &[b'x'; 80]].concat();
        assert_eq!(
            parse_response(&long, &limits),
            Err(HandshakeError::HeadTooLarge { limit: 64 })
        );
        let many = b"HTTP/1.1 101 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
        assert_eq!(
            parse_response(many, &limits),
            Err(HandshakeError::TooManyHeaders { limit: 2 })
        );
        assert!(matches!(
            parse_response(b"HTTP/1.1 abc\r\n\r\n", &limits),
            Err(HandshakeError::Malformed(_))
        ));
    }
}
