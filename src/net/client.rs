//! A minimal blocking HTTP/1.1 client for the operator CLI talking to the
//! gate's own sockets: one request per connection (`Connection: close`),
//! the answer read to its `Content-Length` (or to EOF), with a deadline.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// Largest answer the client accepts.
const MAX_RESPONSE: usize = 64 * 1024 * 1024;

/// A parsed answer.
#[derive(Debug)]
pub struct ClientResponse {
    /// The status code.
    pub status: u16,
    /// Header names lowercased, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl ClientResponse {
    /// The first header named `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Where the request goes.
pub enum Target<'a> {
    /// A Unix socket path.
    Unix(&'a Path),
    /// A TCP address such as `127.0.0.1:3001`.
    Tcp(&'a str),
}

/// Sends one request and reads the answer; every step is bounded by `timeout`.
pub fn request(
    target: &Target,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> std::io::Result<ClientResponse> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (k, v) in headers {
        if k.contains(['\r', '\n', ':']) || v.contains(['\r', '\n']) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "header contains a line break",
            ));
        }
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut raw = Vec::new();
    match target {
        Target::Unix(p) => {
            let mut s = UnixStream::connect(p)?;
            s.set_read_timeout(Some(timeout))?;
            s.set_write_timeout(Some(timeout))?;
            s.write_all(head.as_bytes())?;
            s.write_all(body)?;
            (&mut s).take(MAX_RESPONSE as u64).read_to_end(&mut raw)?;
        }
        Target::Tcp(a) => {
            let addr = a.parse::<std::net::SocketAddr>().map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "not an IP:PORT address")
            })?;
            let mut s = std::net::TcpStream::connect_timeout(&addr, timeout)?;
            s.set_read_timeout(Some(timeout))?;
            s.set_write_timeout(Some(timeout))?;
            s.write_all(head.as_bytes())?;
            s.write_all(body)?;
            (&mut s).take(MAX_RESPONSE as u64).read_to_end(&mut raw)?;
        }
    }
    parse(&raw)
}

fn bad(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string())
}

/// Parses a complete HTTP/1.1 answer.
fn parse(raw: &[u8]) -> std::io::Result<ClientResponse> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("the answer has no complete header"))?;
    let head =
        std::str::from_utf8(&raw[..end]).map_err(|_| bad("the answer header is not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| bad("the answer has no status code"))?;
    let mut headers = Vec::new();
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let rest = &raw[end + 4..];
    let body = match headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
    {
        Some(n) if n <= rest.len() => rest[..n].to_vec(),
        Some(_) => return Err(bad("the answer body is shorter than its Content-Length")),
        None => rest.to_vec(),
    };
    Ok(ClientResponse {
        status,
        headers,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_headers_and_sized_body() {
        let r = parse(b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}extra").unwrap();
        assert_eq!(r.status, 202);
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.body, b"{}");
    }

    #[test]
    fn refuses_truncated_answers() {
        assert!(parse(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}").is_err());
        assert!(parse(b"HTTP/1.1 200 OK\r\n").is_err());
        assert!(parse(b"garbage\r\n\r\n").is_err());
    }
}
