//! Where the gate is: its Unix socket or a plain-HTTP TCP address, and the
//! parsing of `--gate-url` / `LATCHGATE_URL` values. One request per
//! connection through `crate::net::client` (it sends `Connection: close`).

use crate::net::client::{self, ClientResponse, Target};
use std::net::ToSocketAddrs;
use std::path::PathBuf;
use std::time::Duration;

/// The gate's address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// A Unix socket path (the default transport).
    Unix(PathBuf),
    /// `host:port` over TCP, resolved on each request.
    Tcp(String),
}

impl Endpoint {
    /// For messages: `unix:///path` or `http://host:port`.
    pub fn describe(&self) -> String {
        match self {
            Endpoint::Unix(p) => format!("unix://{}", p.display()),
            Endpoint::Tcp(a) => format!("http://{a}"),
        }
    }

    /// Sends one request and reads the whole answer; every read and write
    /// is bounded by `timeout`. A TCP name with several addresses (such as
    /// `localhost`: ::1 and 127.0.0.1) is tried in order while connections
    /// are refused; any other error ends the attempt, so a request is never
    /// sent twice.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        timeout: Duration,
    ) -> std::io::Result<ClientResponse> {
        match self {
            Endpoint::Unix(p) => {
                client::request(&Target::Unix(p), method, path, headers, body, timeout)
            }
            Endpoint::Tcp(host_port) => {
                let mut last = std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("{host_port} resolves to no address"),
                );
                for addr in host_port.to_socket_addrs()? {
                    let a = addr.to_string();
                    match client::request(&Target::Tcp(&a), method, path, headers, body, timeout) {
                        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => last = e,
                        other => return other,
                    }
                }
                Err(last)
            }
        }
    }
}

/// A parsed `http://host[:port][/]` gate URL: the TCP address and the URL
/// itself without a trailing `/` (the default `htu` base for TCP).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpUrl {
    /// `host:port` (IPv6 hosts keep their brackets).
    pub host_port: String,
    /// `http://authority`, as given, lowercased.
    pub base: String,
}

/// Parses a gate URL. Only plain `http` is spoken (the gate listens on
/// loopback; TLS belongs in front of it), with no user info, query or path.
pub fn parse_http_url(url: &str) -> Result<HttpUrl, String> {
    let lower = url.trim().to_ascii_lowercase();
    if lower.starts_with("https://") {
        return Err(format!(
            "gate URL {url:?}: https is not supported; use http:// (the gate listens on loopback) or the Unix socket"
        ));
    }
    let rest = lower
        .strip_prefix("http://")
        .ok_or_else(|| format!("gate URL {url:?} must start with http://"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if !(path.is_empty() || path == "/") {
        return Err(format!("gate URL {url:?} must not have a path"));
    }
    // Visible ASCII only: a tab, CR/LF or other control byte inside the
    // host would reach the socket address and the DPoP `htu` base.
    if authority.is_empty()
        || authority.contains(['@', '?', '#'])
        || !authority.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(format!("gate URL {url:?} has no usable host"));
    }
    let (host, port) =
        split_host_port(authority).ok_or_else(|| format!("gate URL {url:?}: bad host or port"))?;
    Ok(HttpUrl {
        host_port: format!("{host}:{port}"),
        base: format!("http://{authority}"),
    })
}

/// `host` and port (80 when absent) of an authority; IPv6 in brackets.
fn split_host_port(authority: &str) -> Option<(&str, u16)> {
    let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
        let close = inner.find(']')?;
        let after = inner.get(close + 1..)?;
        let host = authority.get(..close + 2)?;
        match after {
            "" => (host, None),
            p => (host, Some(p.strip_prefix(':')?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() || (!host.starts_with('[') && host.contains(':')) {
        return None;
    }
    let port = match port {
        None => 80,
        Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0)?,
    };
    Some((host, port))
}

/// `$LATCHGATE_URL`: `unix:///absolute/path` or an `http://` URL.
pub fn parse_env_url(value: &str) -> Result<(Endpoint, Option<String>), String> {
    if let Some(path) = value.strip_prefix("unix://") {
        if !path.starts_with('/') {
            return Err(format!(
                "LATCHGATE_URL {value:?}: a unix:// URL needs an absolute path (unix:///run/latchgate/gate.sock)"
            ));
        }
        return Ok((Endpoint::Unix(PathBuf::from(path)), None));
    }
    let url = parse_http_url(value).map_err(|e| format!("LATCHGATE_URL: {e}"))?;
    Ok((Endpoint::Tcp(url.host_port), Some(url.base)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_urls() {
        let u = parse_http_url("http://localhost:3000").unwrap();
        assert_eq!(u.host_port, "localhost:3000");
        assert_eq!(u.base, "http://localhost:3000");
        let u = parse_http_url("HTTP://127.0.0.1:3000/").unwrap();
        assert_eq!(u.host_port, "127.0.0.1:3000");
        assert_eq!(u.base, "http://127.0.0.1:3000");
        assert_eq!(parse_http_url("http://gate").unwrap().host_port, "gate:80");
        assert_eq!(
            parse_http_url("http://[::1]:3000").unwrap().host_port,
            "[::1]:3000"
        );
        assert_eq!(
            parse_http_url("http://[::1]").unwrap().host_port,
            "[::1]:80"
        );
        for bad in [
            "https://localhost:3000",
            "localhost:3000",
            "http://",
            "http://h:0",
            "http://h:99999",
            "http://h:x",
            "http://u@h:1",
            "http://h:1/v1",
            "http://::1:3000",
            "http://[::1",
            // Found by fuzz/mcp_framing: control bytes inside the host.
            "http://l\t\t\"\t/ ",
            "http://h\r\nx-evil:1",
            "http://h\u{7f}:1",
            "http://hé:1",
        ] {
            assert!(parse_http_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn env_urls() {
        assert_eq!(
            parse_env_url("unix:///run/latchgate/gate.sock").unwrap(),
            (Endpoint::Unix("/run/latchgate/gate.sock".into()), None)
        );
        assert_eq!(
            parse_env_url("http://127.0.0.1:3000").unwrap(),
            (
                Endpoint::Tcp("127.0.0.1:3000".into()),
                Some("http://127.0.0.1:3000".into())
            )
        );
        assert!(parse_env_url("unix://relative.sock").is_err());
        assert!(parse_env_url("ftp://x").is_err());
    }

    #[test]
    fn unreachable_endpoints_fail_fast() {
        let e = Endpoint::Unix("/nonexistent/lgt-mcp/gate.sock".into());
        assert!(e
            .request("GET", "/healthz", &[], b"", Duration::from_secs(1))
            .is_err());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // The listener is dropped: the port refuses connections.
        let e = Endpoint::Tcp(format!("127.0.0.1:{port}"));
        let err = e
            .request("GET", "/healthz", &[], b"", Duration::from_secs(1))
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    }
}
