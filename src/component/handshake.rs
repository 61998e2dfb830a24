//! The opening handshake on header lists (§4), as websocket.dll does it: the
//! application writes and reads the HTTP heads (request line, status line,
//! its own fields), the component builds and checks the WebSocket fields.
//! The rules are the engine's (`handshake::client`, `handshake::server`).

use super::{HResult, Handle, Stage};
use crate::config::Role;
use crate::connection::Connection;
use crate::handshake::client::{self, ClientRequest, Response};
use crate::handshake::server;
use crate::handshake::{check_protocols, is_field_value, is_token, parse_extensions};
use crate::handshake::{HandshakeError, Header};

/// What a client offered, kept until the response is checked.
#[derive(Debug)]
pub(super) struct Offer {
    key: String,
    request: ClientRequest,
}

/// What the server chose, as indices into the arrays the client offered
/// (`WebSocketEndClientHandshake`'s outputs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selected {
    /// The chosen subprotocol, if subprotocols were offered.
    pub subprotocol: Option<usize>,
    /// The accepted extensions, in the server's order.
    pub extensions: Vec<usize>,
}

impl Handle {
    /// `WebSocketBeginClientHandshake`: checks what the application offers
    /// and returns the headers to add to its request (replacing any of the
    /// same name among its own). `initial_headers` must include `Host`.
    pub fn begin_client_handshake(
        &mut self,
        subprotocols: &[&str],
        extensions: &[&str],
        initial_headers: &[Header],
    ) -> Result<Vec<Header>, HResult> {
        if self.role != Role::Client || !matches!(self.stage, Stage::Created) {
            return Err(HResult::InvalidOperation);
        }
        let host = initial_headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("host"))
            .ok_or(HResult::InvalidArg)?;
        check_headers(initial_headers)?;
        let protocols: Vec<String> = subprotocols.iter().map(|p| p.to_string()).collect();
        check_protocols(&protocols).map_err(|_| HResult::InvalidFormat)?;
        for extension in extensions {
            check_extension(extension)?;
        }
        let key = client::key_from_nonce(self.nonce);
        let offered = extensions.join(", ");
        let mut fields = Vec::new();
        client::handshake_fields(&key, &protocols, &offered, |name, value| {
            fields.push((name.to_owned(), value.to_owned()))
        });
        let request = ClientRequest {
            protocols,
            extensions: extensions.iter().map(|e| e.to_string()).collect(),
            ..ClientRequest::new(host.1.clone(), "/")
        };
        self.stage = Stage::ClientBegun(Box::new(Offer { key, request }));
        Ok(fields)
    }

    /// `WebSocketEndClientHandshake`: checks the server's response headers
    /// (the application checked the status was 101) and opens the data
    /// stream. A response that fails leaves the handle good only for deleting.
    pub fn end_client_handshake(
        &mut self,
        response_headers: &[Header],
    ) -> Result<Selected, HResult> {
        let Stage::ClientBegun(offer) = &self.stage else {
            return Err(HResult::InvalidOperation);
        };
        let response = Response {
            status: 101,
            reason: "Switching Protocols".into(),
            headers: response_headers.to_vec(),
        };
        let negotiated = match client::check_response(&response, &offer.key, &offer.request) {
            Ok(negotiated) => negotiated,
            Err(e) => {
                self.stage = Stage::Failed;
                return Err(handshake_error(&e));
            }
        };
        let offered = &offer.request;
        let subprotocol = (negotiated.protocol.as_ref())
            .and_then(|p| offered.protocols.iter().position(|o| o == p));
        let extensions = negotiated
            .extensions
            .iter()
            .filter_map(|agreed| {
                (offered.extensions.iter()).position(|o| extension_name(o) == agreed.name)
            })
            .collect();
        let protocol = negotiated.protocol.unwrap_or_default();
        let conn = Connection::opened(
            Role::Client,
            self.config(),
            &protocol,
            &negotiated.extensions_header,
            self.seed,
            0,
        );
        self.stage = Stage::Open(Box::new(conn));
        Ok(Selected {
            subprotocol,
            extensions,
        })
    }

    /// `WebSocketBeginServerHandshake`: checks the client's request headers
    /// and what the application selects from its offers, and returns the
    /// headers of the 101 response (the application writes its status line).
    /// The data stream may start at once; `end_server_handshake` is optional.
    pub fn begin_server_handshake(
        &mut self,
        subprotocol: Option<&str>,
        extensions: &[&str],
        request_headers: &[Header],
    ) -> Result<Vec<Header>, HResult> {
        if self.role != Role::Server || !matches!(self.stage, Stage::Created) {
            return Err(HResult::InvalidOperation);
        }
        let request = match server::check_fields(request_headers.to_vec(), None, "/".into()) {
            Ok(request) => request,
            Err(e) => {
                self.stage = Stage::Failed;
                return Err(handshake_error(&e));
            }
        };
        if let Some(p) = subprotocol {
            if !request.protocols.iter().any(|o| o == p) {
                return Err(HResult::SubprotocolNotSupported);
            }
        }
        for extension in extensions {
            check_extension(extension)?;
            let name = extension_name(extension);
            if !request.extensions.iter().any(|o| o.name == name) {
                return Err(HResult::ProtocolExtensionsNotSupported);
            }
        }
        let accepted = extensions.join(", ");
        let value = (!accepted.is_empty()).then_some(accepted.as_str());
        let mut fields = Vec::new();
        server::accept_fields(&request, subprotocol, value, |name, value| {
            fields.push((name.to_owned(), value.to_owned()))
        });
        let protocol = subprotocol.unwrap_or_default();
        let conn = Connection::opened(Role::Server, self.config(), protocol, &accepted, [0; 32], 0);
        self.stage = Stage::ServerBegun(Box::new(conn));
        Ok(fields)
    }

    /// `WebSocketEndServerHandshake`: marks the handshake done (sending or
    /// receiving does that too).
    pub fn end_server_handshake(&mut self) -> Result<(), HResult> {
        match std::mem::replace(&mut self.stage, Stage::Created) {
            Stage::ServerBegun(conn) | Stage::Open(conn) if self.role == Role::Server => {
                self.stage = Stage::Open(conn);
                Ok(())
            }
            stage => {
                self.stage = stage;
                Err(HResult::InvalidOperation)
            }
        }
    }
}

/// Header names must be tokens and values field values (RFC 9110 §5).
fn check_headers(headers: &[Header]) -> Result<(), HResult> {
    let ok = |(name, value): &Header| is_token(name) && is_field_value(value);
    if headers.iter().all(ok) {
        Ok(())
    } else {
        Err(HResult::InvalidFormat)
    }
}

/// One extension per entry, with its parameters.
fn check_extension(extension: &str) -> Result<(), HResult> {
    match parse_extensions(extension) {
        Some(list) if list.len() == 1 && is_field_value(extension) => Ok(()),
        _ => Err(HResult::InvalidFormat),
    }
}

/// The extension's name: the token before its parameters.
fn extension_name(extension: &str) -> &str {
    extension.split(';').next().unwrap_or("").trim()
}

/// What a failed handshake returns.
fn handshake_error(e: &HandshakeError) -> HResult {
    match e {
        HandshakeError::UnofferedProtocol(_) | HandshakeError::NoProtocol => {
            HResult::SubprotocolNotSupported
        }
        HandshakeError::UnofferedExtension(_) | HandshakeError::ExtensionAnswer(_) => {
            HResult::ProtocolExtensionsNotSupported
        }
        HandshakeError::UnsupportedVersion(Some(_)) => HResult::ProtocolVersionNotSupported,
        _ => HResult::InvalidProtocolFormat,
    }
}
