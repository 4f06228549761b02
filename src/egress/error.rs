//! The one error type of the egress layer: a stable code plus a message.
//!
//! Messages name hosts, addresses and header names, never header values:
//! a secret header value must not reach a log, a receipt or the provider.

use std::fmt;

/// The URL does not parse.
pub const BAD_URL: &str = "bad_url";
/// The scheme is not http or https.
pub const UNSUPPORTED_SCHEME: &str = "unsupported_scheme";
/// The port is not 80 or 443 (and the host is neither a configured static
/// host nor an IP literal inside `[egress] allow_private`).
pub const PORT_NOT_ALLOWED: &str = "port_not_allowed";
/// The host is not covered by any declared sink.
pub const UNDECLARED_SINK: &str = "undeclared_sink";
/// Secret headers would travel over plain http.
pub const INSECURE_SECRET_TRANSPORT: &str = "insecure_secret_transport";
/// Name resolution failed or returned no address.
pub const DNS_FAILED: &str = "dns_failed";
/// A resolved address is not public and no `allow_private` entry covers it.
pub const PRIVATE_ADDRESS: &str = "private_address";
/// No TCP connection could be made.
pub const CONNECT_FAILED: &str = "connect_failed";
/// The TLS handshake or record layer failed (including certificate checks).
pub const TLS_FAILED: &str = "tls_failed";
/// The deadline passed (during DNS, connect, TLS, write or read).
pub const TIMEOUT: &str = "timeout";
/// The response body is larger than the caller's cap.
pub const RESPONSE_TOO_LARGE: &str = "response_too_large";
/// The upstream sent something that is not a valid HTTP/1.x response.
pub const BAD_RESPONSE: &str = "bad_response";
/// The request method or a header name or value is invalid.
pub const BAD_REQUEST_HEADER: &str = "bad_request_header";

/// An egress failure: `code` is one of the constants of this module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EgressError {
    /// Stable machine-readable code (see the constants above).
    pub code: &'static str,
    /// Human-readable detail; never contains secret header values.
    pub message: String,
}

impl EgressError {
    /// Builds an error from a code constant and a message.
    pub fn new(code: &'static str, message: impl Into<String>) -> EgressError {
        EgressError {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for EgressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for EgressError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_joins_code_and_message() {
        let e = EgressError::new(TIMEOUT, "deadline passed");
        assert_eq!(e.to_string(), "timeout: deadline passed");
        assert_eq!(e.code, "timeout");
    }
}
