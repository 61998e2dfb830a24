//! Close frames (§5.5.1, §7.4): status codes, reasons, and their rules.

use crate::error::{ProtocolError, UsageError};

/// Status codes with a name in RFC 6455 §7.4.1 (and the IANA registry).
pub mod code {
    /// The purpose of the connection has been fulfilled.
    pub const NORMAL: u16 = 1000;
    /// The endpoint is going away (server shutdown, page navigation).
    pub const GOING_AWAY: u16 = 1001;
    /// The peer broke the protocol.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// The peer sent a kind of data the endpoint cannot accept.
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// Never sent: the close frame carried no status.
    pub const NO_STATUS: u16 = 1005;
    /// Never sent: the transport closed without a close frame.
    pub const ABNORMAL: u16 = 1006;
    /// The message data was inconsistent with its type (bad UTF-8).
    pub const INVALID_DATA: u16 = 1007;
    /// A message violated the endpoint's policy.
    pub const POLICY: u16 = 1008;
    /// A message was too big to process.
    pub const TOO_BIG: u16 = 1009;
    /// The client expected an extension the server did not negotiate.
    pub const MANDATORY_EXTENSION: u16 = 1010;
    /// The server met an unexpected condition.
    pub const INTERNAL_ERROR: u16 = 1011;
    /// Never sent: the TLS handshake failed.
    pub const TLS_HANDSHAKE: u16 = 1015;
}

/// Longest close reason: 125 payload bytes minus the 2-byte code.
pub const MAX_REASON_LEN: usize = 123;

/// Whether `code` may appear in a close frame on the wire (§7.4).
///
/// 1004–1006 and 1015 are reserved or never sent; 1016–2999 are reserved for
/// future RFCs; 1012–1014 are registered with IANA and accepted.
pub fn is_valid_on_wire(c: u16) -> bool {
    matches!(c, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// Whether an application may close with `code`: 1000 or 3000–4999, as the
/// WHATWG `WebSocket.close()` allows.
pub fn is_app_code(c: u16) -> bool {
    c == code::NORMAL || (3000..=4999).contains(&c)
}

/// A close frame's contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseFrame {
    /// The status code, or `None` for an empty close frame (reported as 1005).
    pub code: Option<u16>,
    /// The UTF-8 reason, possibly empty.
    pub reason: String,
}

impl CloseFrame {
    /// Parses and checks a received close payload.
    pub fn parse(payload: &[u8]) -> Result<CloseFrame, ProtocolError> {
        match payload {
            [] => Ok(CloseFrame {
                code: None,
                reason: String::new(),
            }),
            [_] => Err(ProtocolError::CloseFrameTooShort),
            [hi, lo, reason @ ..] => {
                let c = u16::from_be_bytes([*hi, *lo]);
                if !is_valid_on_wire(c) {
                    return Err(ProtocolError::InvalidCloseCode(c));
                }
                let reason =
                    std::str::from_utf8(reason).map_err(|_| ProtocolError::InvalidCloseReason)?;
                Ok(CloseFrame {
                    code: Some(c),
                    reason: reason.to_owned(),
                })
            }
        }
    }

    /// A close frame to send; `code` must be valid on the wire (any code the
    /// engine itself sends, e.g. 1001 on shutdown or 1002 on a protocol error).
    pub fn new(code: Option<u16>, reason: &str) -> Result<CloseFrame, UsageError> {
        match code {
            Some(c) if !is_valid_on_wire(c) => return Err(UsageError::InvalidCloseCode(c)),
            None if !reason.is_empty() => {
                return Err(UsageError::InvalidState(
                    "a close reason needs a close code",
                ))
            }
            _ => {}
        }
        if reason.len() > MAX_REASON_LEN {
            return Err(UsageError::CloseReasonTooLong(reason.len()));
        }
        Ok(CloseFrame {
            code,
            reason: reason.to_owned(),
        })
    }

    /// The code reported to the application: 1005 for a frame without one.
    pub fn reported_code(&self) -> u16 {
        self.code.unwrap_or(code::NO_STATUS)
    }

    /// The frame's payload bytes.
    pub fn payload(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(2 + self.reason.len());
        if let Some(c) = self.code {
            out.extend_from_slice(&c.to_be_bytes());
            out.extend_from_slice(self.reason.as_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_close_means_no_status() {
        let f = CloseFrame::parse(&[]).unwrap();
        assert_eq!(f.code, None);
        assert_eq!(f.reported_code(), code::NO_STATUS);
        assert!(f.payload().is_empty());
    }

    #[test]
    fn one_byte_close_is_a_protocol_error() {
        let err = CloseFrame::parse(&[0x03]).unwrap_err();
        assert_eq!(err, ProtocolError::CloseFrameTooShort);
        assert_eq!(err.close_code(), 1002);
    }

    #[test]
    fn received_codes_follow_section_7_4() {
        let accepted: [u16; 16] = [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
            4000, 4999,
        ];
        for c in accepted {
            let f = CloseFrame::parse(&c.to_be_bytes()).unwrap();
            assert_eq!(f.code, Some(c));
        }
        let refused: [u16; 13] = [
            0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ];
        for c in refused {
            let err = CloseFrame::parse(&c.to_be_bytes()).unwrap_err();
            assert_eq!(err, ProtocolError::InvalidCloseCode(c));
            assert_eq!(err.close_code(), 1002);
        }
    }

    #[test]
    fn invalid_reason_is_invalid_data() {
        let mut payload = 1000u16.to_be_bytes().to_vec();
        payload.extend_from_slice(b"\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5\xED\xA0\x80");
        let err = CloseFrame::parse(&payload).unwrap_err();
        assert_eq!(err, ProtocolError::InvalidCloseReason);
        assert_eq!(err.close_code(), 1007);
    }

    #[test]
    fn roundtrips_code_and_reason() {
        let f = CloseFrame::new(Some(4001), "bye ✓").unwrap();
        assert_eq!(CloseFrame::parse(&f.payload()).unwrap(), f);
    }

    #[test]
    fn sending_checks_code_and_reason() {
        assert_eq!(
            CloseFrame::new(Some(1005), ""),
            Err(UsageError::InvalidCloseCode(1005))
        );
        assert_eq!(
            CloseFrame::new(Some(999), ""),
            Err(UsageError::InvalidCloseCode(999))
        );
        let long = "x".repeat(124);
        assert_eq!(
            CloseFrame::new(Some(1000), &long),
            Err(UsageError::CloseReasonTooLong(124))
        );
        assert!(CloseFrame::new(Some(1000), &long[..123]).is_ok());
        assert!(CloseFrame::new(None, "why").is_err());
    }

    #[test]
    fn app_codes_are_1000_and_3000_to_4999() {
        assert!(is_app_code(1000) && is_app_code(3000) && is_app_code(4999));
        assert!(!is_app_code(1001) && !is_app_code(2999) && !is_app_code(5000));
    }
}
