//! Absolute http/https URL parsing for egress requests.
//!
//! Deliberately narrow: `scheme://host[:port][/path][?query][#fragment]`,
//! ASCII only, no userinfo, no percent-encoded or numeric-shorthand hosts.
//! The path and query are kept byte for byte; the fragment is dropped.

use super::error::{EgressError, BAD_URL, UNSUPPORTED_SCHEME};
use super::names::check_dns_name;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Longest URL accepted, in bytes.
pub const MAX_URL_LEN: usize = 8192;

/// The two schemes egress speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS.
    Https,
}

impl Scheme {
    /// `"http"` or `"https"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    /// 80 or 443.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// A parsed absolute URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    /// http or https.
    pub scheme: Scheme,
    /// Lowercased host name, dotted IPv4, or bracketed IPv6 (`[::1]`).
    pub host: String,
    /// The address when the host is an IP literal.
    pub ip: Option<IpAddr>,
    /// Explicit port, else the scheme default.
    pub port: u16,
    /// Path and query as sent; always starts with `/`.
    pub path: String,
}

impl Url {
    /// Same as the module function [`parse`].
    pub fn parse(input: &str) -> Result<Url, EgressError> {
        parse(input)
    }

    /// `host` or `host:port` when the port is not the scheme default
    /// (the Host header value).
    pub fn authority(&self) -> String {
        if self.port == self.scheme.default_port() {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// `scheme://authority` (the observed effect recorded in evidence).
    pub fn origin(&self) -> String {
        format!("{}://{}", self.scheme.as_str(), self.authority())
    }

    /// The host without IPv6 brackets (what DNS and SNI take).
    pub fn bare_host(&self) -> &str {
        self.host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(&self.host)
    }
}

impl std::fmt::Display for Scheme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.origin(), self.path)
    }
}

fn bad(message: impl Into<String>) -> EgressError {
    EgressError::new(BAD_URL, message)
}

/// Parses an absolute http or https URL. Never panics.
pub fn parse(input: &str) -> Result<Url, EgressError> {
    if input.len() > MAX_URL_LEN {
        return Err(bad(format!("URL longer than {MAX_URL_LEN} bytes")));
    }
    // Covers CR/LF/NUL/TAB, DEL, space and any non-ASCII byte at once.
    if input.bytes().any(|b| !(0x21..0x7f).contains(&b)) {
        return Err(bad("URL has a control character, space or non-ASCII byte"));
    }
    let (scheme_text, rest) = input
        .split_once(':')
        .ok_or_else(|| bad("not an absolute URL"))?;
    let scheme = parse_scheme(scheme_text)?;
    let rest = rest
        .strip_prefix("//")
        .ok_or_else(|| bad("URL has no '//' authority"))?;
    // Drop the fragment: it is never sent.
    let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path_query) = rest.split_at(split);
    let (host, ip, port) = parse_authority(authority, scheme)?;
    let path = if path_query.starts_with('/') {
        path_query.to_string()
    } else {
        // Empty path, or a query straight after the authority.
        format!("/{path_query}")
    };
    Ok(Url {
        scheme,
        host,
        ip,
        port,
        path,
    })
}

/// RFC 3986 scheme syntax, then http/https only.
fn parse_scheme(text: &str) -> Result<Scheme, EgressError> {
    let mut bytes = text.bytes();
    let first_ok = bytes.next().is_some_and(|b| b.is_ascii_alphabetic());
    let rest_ok = bytes.all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.');
    if !first_ok || !rest_ok {
        return Err(bad("not an absolute URL"));
    }
    match text.to_ascii_lowercase().as_str() {
        "http" => Ok(Scheme::Http),
        "https" => Ok(Scheme::Https),
        other => Err(EgressError::new(
            UNSUPPORTED_SCHEME,
            format!("scheme {other:?} is not http or https"),
        )),
    }
}

/// `host[:port]` or `[v6][:port]`; userinfo is refused outright.
fn parse_authority(
    authority: &str,
    scheme: Scheme,
) -> Result<(String, Option<IpAddr>, u16), EgressError> {
    if authority.contains('@') {
        return Err(bad("URL carries userinfo"));
    }
    if let Some(inner) = authority.strip_prefix('[') {
        let (v6, after) = inner
            .split_once(']')
            .ok_or_else(|| bad("unterminated IPv6 literal"))?;
        // Ipv6Addr parsing refuses zone identifiers ("%25eth0") too.
        let ip: Ipv6Addr = v6.parse().map_err(|_| bad("invalid IPv6 literal"))?;
        let port = match after {
            "" => scheme.default_port(),
            _ => match after.strip_prefix(':') {
                Some(p) => parse_port(p)?,
                None => return Err(bad("junk after IPv6 literal")),
            },
        };
        return Ok((format!("[{ip}]"), Some(IpAddr::V6(ip)), port));
    }
    let (host, port) = match authority.split_once(':') {
        Some((h, p)) => (h, parse_port(p)?),
        None => (authority, scheme.default_port()),
    };
    if host.is_empty() {
        return Err(bad("URL has an empty host"));
    }
    let host = host.to_ascii_lowercase();
    if let Ok(v4) = host.parse::<Ipv4Addr>() {
        return Ok((host, Some(IpAddr::V4(v4)), port));
    }
    check_dns_name(&host).map_err(|e| bad(format!("invalid host: {e}")))?;
    Ok((host, None, port))
}

/// 1..=65535, decimal digits only, at most five of them.
fn parse_port(text: &str) -> Result<u16, EgressError> {
    let digits_ok = !text.is_empty() && text.len() <= 5 && text.bytes().all(|b| b.is_ascii_digit());
    if !digits_ok {
        return Err(bad(format!("invalid port {text:?}")));
    }
    match text.parse::<u16>() {
        Ok(p) if p != 0 => Ok(p),
        _ => Err(bad(format!("invalid port {text:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Url {
        match parse(s) {
            Ok(u) => u,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    fn code(s: &str) -> &'static str {
        match parse(s) {
            Ok(u) => panic!("{s} parsed as {u:?}"),
            Err(e) => e.code,
        }
    }

    #[test]
    fn defaults_and_normalisation() {
        let u = ok("HTTPS://API.Example.COM");
        assert_eq!(u.scheme, Scheme::Https);
        assert_eq!(u.host, "api.example.com");
        assert_eq!(u.port, 443);
        assert_eq!(u.path, "/");
        assert_eq!(u.ip, None);
        assert_eq!(u.to_string(), "https://api.example.com/");
        assert_eq!(Url::parse("https://API.example.com"), Ok(u));
        assert_eq!(Scheme::Http.to_string(), "http");
        let u = ok("http://a.com");
        assert_eq!((u.port, u.path.as_str()), (80, "/"));
        assert_eq!(u.authority(), "a.com");
    }

    #[test]
    fn path_and_query_kept_fragment_dropped() {
        let u = ok("https://a.com/x/%2F/y?q=1&r=%20#frag");
        assert_eq!(u.path, "/x/%2F/y?q=1&r=%20");
        let u = ok("https://a.com?q=1");
        assert_eq!(u.path, "/?q=1");
        let u = ok("https://a.com#only-frag");
        assert_eq!(u.path, "/");
        let u = ok("https://a.com/p#f?notquery");
        assert_eq!(u.path, "/p");
    }

    #[test]
    fn ports() {
        let u = ok("https://a.com:8443/x");
        assert_eq!(u.port, 8443);
        assert_eq!(u.authority(), "a.com:8443");
        assert_eq!(u.origin(), "https://a.com:8443");
        assert_eq!(ok("https://a.com:443/").authority(), "a.com");
        assert_eq!(ok("http://a.com:443/").authority(), "a.com:443");
        for bad_port in [
            "https://a.com:/",
            "https://a.com:0/",
            "https://a.com:65536/",
            "https://a.com:000443/",
            "https://a.com:-1/",
            "https://a.com:+80/",
            "https://a.com:8a/",
            "https://a.com:1:2/",
        ] {
            assert_eq!(code(bad_port), BAD_URL, "{bad_port}");
        }
    }

    #[test]
    fn ip_literals() {
        let u = ok("https://127.0.0.1:8443/");
        assert_eq!(u.ip, Some("127.0.0.1".parse().unwrap()));
        assert_eq!(u.bare_host(), "127.0.0.1");
        let u = ok("https://[::FFFF:127.0.0.1]:8443/x");
        assert_eq!(u.host, "[::ffff:127.0.0.1]");
        assert_eq!(u.bare_host(), "::ffff:127.0.0.1");
        assert_eq!(u.ip, Some("::ffff:127.0.0.1".parse().unwrap()));
        assert_eq!(u.authority(), "[::ffff:127.0.0.1]:8443");
        let u = ok("http://[2001:DB8::1]");
        assert_eq!((u.host.as_str(), u.port), ("[2001:db8::1]", 80));
        assert_eq!(code("http://[::1"), BAD_URL);
        assert_eq!(code("http://[::1]x/"), BAD_URL);
        assert_eq!(code("http://[fe80::1%25eth0]/"), BAD_URL);
        assert_eq!(code("http://[127.0.0.1]/"), BAD_URL);
        assert_eq!(code("http://::1/"), BAD_URL);
    }

    #[test]
    fn rejects_ambiguous_numeric_hosts() {
        for s in [
            "http://127.1/",
            "http://2130706433/",
            "http://0x7f.0.0.1/",
            "http://0177.0.0.1/",
            "http://127.000.000.001/",
        ] {
            assert_eq!(code(s), BAD_URL, "{s}");
        }
    }

    #[test]
    fn rejects_malformed() {
        for s in [
            "",
            "a.com/x",
            "//a.com/",
            "https:a.com",
            "https:/a.com",
            "https://",
            "https:///x",
            "https://:443/",
            "https://user@a.com/",
            "https://user:pw@a.com/",
            "https://a.com@evil.com/",
            "https://a .com/",
            "https://a.com/ x",
            "https://a.com/\r\nX: y",
            "https://a.com/\u{0}",
            "https://a.com/\t",
            "https://a.com/é",
            "https://ex%61mple.com/",
            "https://a_b.com/",
            "https://a..com/",
            "https://a.com./",
            "https://a.com\\@evil.com/",
            "1http://a.com/",
        ] {
            assert_eq!(code(s), BAD_URL, "{s:?}");
        }
        let long = format!("https://a.com/{}", "x".repeat(MAX_URL_LEN));
        assert_eq!(code(&long), BAD_URL);
    }

    #[test]
    fn other_schemes_are_unsupported() {
        for s in [
            "ftp://a.com/",
            "file:///etc/passwd",
            "gopher://a.com/",
            "mailto:x@a.com",
        ] {
            assert_eq!(code(s), UNSUPPORTED_SCHEME, "{s}");
        }
    }
}
