//! HTTP/1.x heads: reading them (bounded size and header count) and
//! parsing them strictly. The request head comes from the agent, the
//! response head from an upstream; neither is trusted.

use std::io::{self, BufRead, Read};

/// Largest request or response head read, in bytes.
pub const MAX_HEAD: usize = 32 * 1024;
/// Most header fields in one head.
pub const MAX_HEADERS: usize = 128;

/// Why a head could not be read.
#[derive(Debug)]
pub enum HeadError {
    /// The peer closed (or timed out) before sending a single byte.
    Closed,
    /// A read failed part way (timeout, reset, EOF inside the head).
    Io(io::Error),
    /// Larger than [`MAX_HEAD`] or more than [`MAX_HEADERS`] fields.
    TooLarge,
    /// Not a valid HTTP/1.x head; the text says what was wrong.
    Malformed(&'static str),
}

impl std::fmt::Display for HeadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeadError::Closed => f.write_str("connection closed before a head"),
            HeadError::Io(e) => write!(f, "reading the head: {e}"),
            HeadError::TooLarge => write!(
                f,
                "head larger than {MAX_HEAD} bytes or {MAX_HEADERS} fields"
            ),
            HeadError::Malformed(what) => write!(f, "malformed {what}"),
        }
    }
}

/// Header fields in arrival order; names are kept as sent, compared
/// case-insensitively.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers(pub Vec<(String, String)>);

impl Headers {
    /// Every value of `name`, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// True when `name` is present at all.
    pub fn has(&self, name: &str) -> bool {
        self.all(name).next().is_some()
    }

    /// The comma-separated list elements of every `name` field, trimmed,
    /// lower-cased, empty elements dropped (`Connection`, `Transfer-Encoding`).
    pub fn list(&self, name: &str) -> Vec<String> {
        self.all(name)
            .flat_map(|v| v.split(','))
            .map(|t| t.trim().to_ascii_lowercase())
            .filter(|t| !t.is_empty())
            .collect()
    }

    /// True when the `name` list contains `token` (case-insensitive).
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.list(name)
            .iter()
            .any(|t| t.eq_ignore_ascii_case(token))
    }
}

/// A parsed request head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestHead {
    /// Method token as sent (methods are case-sensitive).
    pub method: String,
    /// Request target as sent (visible ASCII only).
    pub target: String,
    /// HTTP/1.1 (true) or HTTP/1.0 (false).
    pub http11: bool,
    /// Header fields.
    pub headers: Headers,
}

/// A parsed response head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseHead {
    /// Status code, 100..=999.
    pub status: u16,
    /// Reason phrase (may be empty).
    pub reason: String,
    /// Header fields.
    pub headers: Headers,
}

/// Reads one request head. Blank lines before the request line are
/// skipped (RFC 9112 §2.2).
pub fn read_request<R: BufRead>(r: &mut R) -> Result<RequestHead, HeadError> {
    let lines = read_lines(r)?;
    let (first, fields) = lines.split_first().ok_or(HeadError::Closed)?;
    let (method, target, http11) = parse_request_line(first)?;
    Ok(RequestHead {
        method,
        target,
        http11,
        headers: parse_fields(fields)?,
    })
}

/// Reads one response head (interim 1xx heads included: the caller
/// decides what to do with them).
pub fn read_response<R: BufRead>(r: &mut R) -> Result<ResponseHead, HeadError> {
    let lines = read_lines(r)?;
    let (first, fields) = lines.split_first().ok_or(HeadError::Closed)?;
    let (status, reason) = parse_status_line(first)?;
    Ok(ResponseHead {
        status,
        reason,
        headers: parse_fields(fields)?,
    })
}

/// The head's lines (without line ends) up to the blank line that ends it.
fn read_lines<R: BufRead>(r: &mut R) -> Result<Vec<Vec<u8>>, HeadError> {
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut used = 0usize;
    loop {
        let mut line = Vec::new();
        let left = (MAX_HEAD - used) as u64;
        let n = r
            .by_ref()
            .take(left)
            .read_until(b'\n', &mut line)
            .map_err(|e| {
                if used == 0 && line.is_empty() {
                    HeadError::Closed
                } else {
                    HeadError::Io(e)
                }
            })?;
        if n == 0 {
            if used == 0 {
                return Err(HeadError::Closed);
            }
            // Nothing more: the limit was reached, or the peer closed.
            return Err(if left == 0 {
                HeadError::TooLarge
            } else {
                HeadError::Io(io::ErrorKind::UnexpectedEof.into())
            });
        }
        used += n;
        if line.last() != Some(&b'\n') {
            // Either the size limit cut the line or the peer closed in it.
            return Err(if used >= MAX_HEAD {
                HeadError::TooLarge
            } else {
                HeadError::Io(io::ErrorKind::UnexpectedEof.into())
            });
        }
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.is_empty() {
            if lines.is_empty() {
                continue; // leading blank line
            }
            return Ok(lines);
        }
        if lines.len() > MAX_HEADERS {
            return Err(HeadError::TooLarge);
        }
        lines.push(line);
    }
}

/// `METHOD SP target SP HTTP/1.x`.
fn parse_request_line(line: &[u8]) -> Result<(String, String, bool), HeadError> {
    let text = std::str::from_utf8(line).map_err(|_| HeadError::Malformed("request line"))?;
    let mut parts = text.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HeadError::Malformed("request line"));
    };
    if !is_token(method) {
        return Err(HeadError::Malformed("method"));
    }
    if target.is_empty() || !target.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(HeadError::Malformed("request target"));
    }
    let http11 = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        _ => return Err(HeadError::Malformed("HTTP version")),
    };
    Ok((method.to_string(), target.to_string(), http11))
}

/// `HTTP/1.x SP 3DIGIT [SP reason]`.
fn parse_status_line(line: &[u8]) -> Result<(u16, String), HeadError> {
    let text = std::str::from_utf8(line).map_err(|_| HeadError::Malformed("status line"))?;
    let rest = text
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| text.strip_prefix("HTTP/1.0 "))
        .ok_or(HeadError::Malformed("status line"))?;
    let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HeadError::Malformed("status code"));
    }
    let status: u16 = code.parse().map_err(|_| HeadError::Malformed("status"))?;
    if status < 100 || !reason.bytes().all(is_field_byte) {
        return Err(HeadError::Malformed("status line"));
    }
    Ok((status, reason.to_string()))
}

/// `name: value` lines; no obsolete line folding, no space before the
/// colon, no control characters in values.
fn parse_fields(lines: &[Vec<u8>]) -> Result<Headers, HeadError> {
    let mut out = Vec::with_capacity(lines.len());
    for line in lines {
        let text = std::str::from_utf8(line).map_err(|_| HeadError::Malformed("header"))?;
        let (name, value) = text
            .split_once(':')
            .ok_or(HeadError::Malformed("header without a colon"))?;
        if !is_token(name) {
            return Err(HeadError::Malformed("header name"));
        }
        let value = value.trim_matches([' ', '\t']);
        if !value.bytes().all(is_field_byte) {
            return Err(HeadError::Malformed("header value"));
        }
        out.push((name.to_string(), value.to_string()));
    }
    Ok(Headers(out))
}

/// RFC 9110 token: at least one tchar.
pub fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Bytes allowed in a field value: HTAB, SP, VCHAR, obs-text.
fn is_field_byte(b: u8) -> bool {
    b == b'\t' || b == b' ' || b.is_ascii_graphic() || b >= 0x80
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufReader;

    fn req(bytes: &[u8]) -> Result<RequestHead, HeadError> {
        read_request(&mut BufReader::new(bytes))
    }

    fn resp(bytes: &[u8]) -> Result<ResponseHead, HeadError> {
        read_response(&mut BufReader::new(bytes))
    }

    #[test]
    fn parses_a_request_and_leaves_the_body() {
        let data = b"\r\nPOST /a/b?x=1 HTTP/1.1\r\nHost: h\r\nX-A:  v 1 \r\nx-a: w\nConnection: Keep-Alive, X-Foo\r\n\r\nBODY";
        let mut r = BufReader::new(&data[..]);
        let h = read_request(&mut r).unwrap();
        assert_eq!(h.method, "POST");
        assert_eq!(h.target, "/a/b?x=1");
        assert!(h.http11);
        assert_eq!(h.headers.all("x-a").collect::<Vec<_>>(), ["v 1", "w"]);
        assert!(h.headers.has_token("connection", "x-foo"));
        assert!(h.headers.has_token("connection", "keep-alive"));
        assert!(!h.headers.has("content-length"));
        let mut rest = String::new();
        r.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "BODY");
    }

    #[test]
    fn refuses_malformed_requests() {
        for bad in [
            &b"GET /\r\n\r\n"[..],
            b"GET  / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/2.0\r\n\r\n",
            b"GET / HTTP/1.1 x\r\n\r\n",
            b"G(T / HTTP/1.1\r\n\r\n",
            b"GET /\x01 HTTP/1.1\r\n\r\n",
            b"GET /\xff HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nNo colon\r\n\r\n",
            b"GET / HTTP/1.1\r\nName : v\r\n\r\n",
            b"GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
            b"GET / HTTP/1.1\r\nA: b\x00c\r\n\r\n",
            b"GET / HTTP/1.1\r\nA: b\rc\r\n\r\n",
            b"GET / HTTP/1.1\r\n: v\r\n\r\n",
        ] {
            assert!(
                matches!(req(bad), Err(HeadError::Malformed(_))),
                "{:?} accepted",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn eof_and_limits() {
        assert!(matches!(req(b""), Err(HeadError::Closed)));
        assert!(matches!(
            req(b"GET / HTTP/1.1\r\nA: b"),
            Err(HeadError::Io(_))
        ));
        assert!(matches!(req(b"GET / HTTP/1.1\r\n"), Err(HeadError::Io(_))));
        let mut big = b"GET / HTTP/1.1\r\nA: ".to_vec();
        big.extend(std::iter::repeat_n(b'x', MAX_HEAD));
        big.extend_from_slice(b"\r\n\r\n");
        assert!(matches!(req(&big), Err(HeadError::TooLarge)));
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(format!("h{i}: v\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert!(matches!(req(&many), Err(HeadError::TooLarge)));
        // Exactly at the header limit is fine.
        let mut ok = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..MAX_HEADERS {
            ok.extend_from_slice(format!("h{i}: v\r\n").as_bytes());
        }
        ok.extend_from_slice(b"\r\n");
        assert_eq!(req(&ok).unwrap().headers.0.len(), MAX_HEADERS);
    }

    #[test]
    fn parses_status_lines() {
        let h = resp(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n").unwrap();
        assert_eq!((h.status, h.reason.as_str()), (200, "OK"));
        let h = resp(b"HTTP/1.0 404\r\n\r\n").unwrap();
        assert_eq!((h.status, h.reason.as_str()), (404, ""));
        let h = resp(b"HTTP/1.1 529 Site Overloaded\r\n\r\n").unwrap();
        assert_eq!(h.reason, "Site Overloaded");
        for bad in [
            &b"HTTP/1.1 20 OK\r\n\r\n"[..],
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"HTTP/1.1 099 x\r\n\r\n",
            b"HTTP/2 200 OK\r\n\r\n",
            b"ICY 200 OK\r\n\r\n",
            b"HTTP/1.1 200 O\x01K\r\n\r\n",
            b"HTTP/1.1 +20 OK\r\n\r\n",
        ] {
            assert!(resp(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A small deterministic generator: every prefix of a few heads with
        // bytes flipped must parse or fail, never panic.
        let seeds: [&[u8]; 3] = [
            b"GET http://127.0.0.1:3128/x HTTP/1.1\r\nA: b\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"CONNECT a:443 HTTP/1.1\r\n\r\n",
        ];
        let mut x: u32 = 1;
        for seed in seeds {
            for cut in 0..=seed.len() {
                let mut data = seed[..cut].to_vec();
                for b in data.iter_mut() {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    if x.is_multiple_of(7) {
                        *b = (x >> 16) as u8;
                    }
                }
                let _ = req(&data);
                let _ = resp(&data);
            }
        }
    }
}
