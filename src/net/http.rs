//! Server side of HTTP/1.1: read one request (head + body) with hard limits,
//! write one response. No chunked responses; bodies are small JSON.

use std::io::{self, BufRead, Write};

/// Largest request head (request line + headers) we accept.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Most header lines we accept.
pub const MAX_HEADERS: usize = 100;

/// Header fields a request may carry at most once.
const SINGLETON_FIELDS: [&str; 6] = [
    "host",
    "authorization",
    "dpop",
    "content-type",
    "transfer-encoding",
    "txn-token",
];

/// One parsed request.
#[derive(Debug)]
pub struct Request {
    /// Method, uppercase as sent (e.g. "POST").
    pub method: String,
    /// Path without the query, exactly as sent (not percent-decoded).
    pub path: String,
    /// The query string without `?` (empty when none).
    pub query: String,
    /// Header names lowercased, values trimmed, in order.
    pub headers: Vec<(String, String)>,
    /// The body (Content-Length or chunked), at most the configured limit.
    pub body: Vec<u8>,
    /// Whether the client asked to keep the connection open.
    pub keep_alive: bool,
}

impl Request {
    /// The first header with this (lowercase) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    /// The value of a query parameter (not percent-decoded beyond `+`/`%XX`).
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k) == name).then(|| percent_decode(v))
        })
    }
}

/// Why a request could not be read; maps to a status and code.
#[derive(Debug)]
pub enum ReadError {
    /// The peer closed the connection before sending anything (normal end of keep-alive).
    Closed,
    /// I/O failure or timeout: drop the connection without answering.
    Io(io::Error),
    /// Malformed or over-limit request: answer with this status and code, then close.
    Bad(u16, &'static str, String),
}

fn bad(status: u16, code: &'static str, msg: impl Into<String>) -> ReadError {
    ReadError::Bad(status, code, msg.into())
}

/// Reads one line ending in LF into `buf`, never more than `limit` bytes.
fn read_line_limited<R: BufRead>(
    r: &mut R,
    buf: &mut Vec<u8>,
    limit: usize,
) -> Result<usize, ReadError> {
    let start = buf.len();
    loop {
        let available = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ReadError::Io(e)),
        };
        if available.is_empty() {
            return Ok(buf.len() - start);
        }
        let (take, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        if buf.len() - start + take > limit {
            return Err(bad(
                431,
                "request_header_too_large",
                "request head exceeds 16 KiB",
            ));
        }
        buf.extend_from_slice(&available[..take]);
        r.consume(take);
        if done {
            return Ok(buf.len() - start);
        }
    }
}

/// Reads one request from `r`. `max_body` bounds the body (413 above it).
pub fn read_request<R: BufRead>(r: &mut R, max_body: usize) -> Result<Request, ReadError> {
    let mut line = Vec::with_capacity(256);
    // Tolerate (a few) empty lines before a request line, as RFC 9112 allows.
    let mut skipped = 0;
    loop {
        line.clear();
        let n = read_line_limited(r, &mut line, MAX_HEAD_BYTES)?;
        if n == 0 {
            return Err(ReadError::Closed);
        }
        if line != b"\r\n" && line != b"\n" {
            break;
        }
        skipped += 1;
        if skipped > 4 {
            return Err(bad(400, "bad_request", "empty request line"));
        }
    }
    let request_line = std::str::from_utf8(&line)
        .map_err(|_| bad(400, "bad_request", "request line is not UTF-8"))?
        .trim_end_matches(['\r', '\n']);
    let mut parts = request_line.split(' ');
    let (method, target, version) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(t), Some(v), None) => (m, t, v),
        _ => return Err(bad(400, "bad_request", "malformed request line")),
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(bad(400, "bad_request", "malformed method"));
    }
    let http11 = version == "HTTP/1.1";
    let keep_alive_default = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        _ => {
            return Err(bad(
                505,
                "http_version_not_supported",
                "only HTTP/1.0 and HTTP/1.1",
            ))
        }
    };
    if !target.starts_with('/') || target.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(bad(
            400,
            "bad_request",
            "request target must be an origin-form path",
        ));
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target.to_string(), String::new()),
    };
    let method = method.to_string();

    let mut headers = Vec::new();
    let mut head_len = line.len();
    loop {
        line.clear();
        let n = read_line_limited(r, &mut line, MAX_HEAD_BYTES - head_len.min(MAX_HEAD_BYTES))?;
        if n == 0 {
            return Err(ReadError::Io(io::ErrorKind::UnexpectedEof.into()));
        }
        head_len += n;
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        if headers.len() >= MAX_HEADERS {
            return Err(bad(
                431,
                "request_header_too_large",
                "more than 100 headers",
            ));
        }
        let text = std::str::from_utf8(&line)
            .map_err(|_| bad(400, "bad_request", "header is not UTF-8"))?
            .trim_end_matches(['\r', '\n']);
        let (name, value) = text
            .split_once(':')
            .ok_or_else(|| bad(400, "bad_request", "header line without ':'"))?;
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(bad(400, "bad_request", "malformed header name"));
        }
        let value = value.trim_matches([' ', '\t']);
        if value.bytes().any(|b| (b < b' ' && b != b'\t') || b == 0x7f) {
            return Err(bad(400, "bad_request", "control character in header value"));
        }
        headers.push((name.to_ascii_lowercase(), value.to_string()));
    }

    fn find<'h>(headers: &'h [(String, String)], n: &'h str) -> impl Iterator<Item = &'h str> + 'h {
        headers
            .iter()
            .filter(move |(k, _)| k == n)
            .map(|(_, v)| v.as_str())
    }
    // Fields that must appear at most once: with two, which one a check reads
    // and which one a later step uses could differ (RFC 9110 §5.3; RFC 9449 §4.3
    // for DPoP). HTTP/1.1 also requires exactly one Host (RFC 9112 §3.2).
    for name in SINGLETON_FIELDS {
        if find(&headers, name).nth(1).is_some() {
            return Err(bad(400, "bad_request", format!("repeated {name} header")));
        }
    }
    if http11 && find(&headers, "host").next().is_none() {
        return Err(bad(400, "bad_request", "missing Host header"));
    }
    let keep_alive = match find(&headers, "connection")
        .next()
        .map(|v| v.to_ascii_lowercase())
    {
        Some(v) if v.split(',').any(|t| t.trim() == "close") => false,
        Some(v) if v.split(',').any(|t| t.trim() == "keep-alive") => true,
        _ => keep_alive_default,
    };
    let chunked = match find(&headers, "transfer-encoding").last() {
        None => false,
        Some(te) if te.eq_ignore_ascii_case("chunked") => true,
        Some(_) => {
            return Err(bad(
                501,
                "not_implemented",
                "only chunked transfer-encoding is supported",
            ))
        }
    };
    let lengths: Vec<&str> = find(&headers, "content-length").collect();
    let body = if chunked {
        if !lengths.is_empty() {
            return Err(bad(
                400,
                "bad_request",
                "both Content-Length and Transfer-Encoding",
            ));
        }
        read_chunked(r, max_body)?
    } else {
        let len = match lengths.as_slice() {
            [] => 0,
            [one] => parse_digits(one, 10)
                .ok_or_else(|| bad(400, "bad_request", "invalid Content-Length"))?,
            _ => return Err(bad(400, "bad_request", "repeated Content-Length")),
        };
        if len > max_body {
            return Err(bad(
                413,
                "payload_too_large",
                format!("request body exceeds {max_body} bytes"),
            ));
        }
        let mut body = vec![0u8; len];
        r.read_exact(&mut body).map_err(ReadError::Io)?;
        body
    };
    Ok(Request {
        method,
        path,
        query,
        headers,
        body,
        keep_alive,
    })
}

fn read_chunked<R: BufRead>(r: &mut R, max_body: usize) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        read_line_limited(r, &mut line, 1024)?;
        let size = chunk_size(line_content(&line))
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| bad(400, "bad_request", "bad chunk size"))?;
        if size == 0 {
            // Trailers: read until the empty line.
            loop {
                line.clear();
                let n = read_line_limited(r, &mut line, 1024)?;
                if n == 0 || line == b"\r\n" || line == b"\n" {
                    return Ok(body);
                }
            }
        }
        if body.len().saturating_add(size) > max_body {
            return Err(bad(
                413,
                "payload_too_large",
                format!("request body exceeds {max_body} bytes"),
            ));
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..]).map_err(ReadError::Io)?;
        line.clear();
        read_line_limited(r, &mut line, 2)?;
        if line != b"\r\n" && line != b"\n" {
            return Err(bad(400, "bad_request", "chunk not followed by CRLF"));
        }
    }
}

/// A line without its end: the `\n` and one `\r` before it.
fn line_content(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The size on a chunk-size line (given without its CRLF), the one rule
/// for both halves of the product: the gate's request reader here and the
/// egress proxy's streaming decoder (`proxy::body`), so the two can never
/// disagree on where a chunk ends. RFC 9112: `1*HEXDIG [ BWS ";" ext ]`:
/// hex digits only (no sign, no `0x`), at most 15 of them (below 2^60, so
/// no overflow anywhere), then spaces or tabs (some servers pad the size
/// even without an extension) and an extension, whose content is ignored.
pub fn chunk_size(line: &[u8]) -> Option<u64> {
    let mut digits = match line.iter().position(|&b| b == b';') {
        Some(i) => line.get(..i)?,
        None => line,
    };
    while let Some(rest) = digits
        .strip_suffix(b" ")
        .or_else(|| digits.strip_suffix(b"\t"))
    {
        digits = rest;
    }
    if digits.is_empty() || digits.len() > 15 || !digits.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
}

/// Parses a Content-Length (radix 10): digits only.
/// `usize::from_str_radix` alone would also take a leading `+`, which RFC 9112
/// does not allow and another parser on the path may read differently.
fn parse_digits(text: &str, radix: u32) -> Option<usize> {
    if text.is_empty() || !text.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    usize::from_str_radix(text, radix).ok()
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Decodes `%XX` escapes and `+` (as space) in a query component.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A response ready to write.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// A JSON response.
    pub fn json(status: u16, body: String) -> Response {
        Response {
            status,
            headers: vec![("content-type", "application/json".into())],
            body: body.into_bytes(),
        }
    }
    /// A response with no body (used where the reference answers a bare status).
    pub fn empty(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }
    /// Adds a header.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.push((name, value.into()));
        self
    }
}

/// The reason phrase for the statuses we send.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Status",
    }
}

/// Writes `resp` in one write call. `keep_alive` sets the Connection header.
pub fn write_response<W: Write>(w: &mut W, resp: &Response, keep_alive: bool) -> io::Result<()> {
    let mut out = Vec::with_capacity(128 + resp.body.len());
    out.extend_from_slice(
        format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status)).as_bytes(),
    );
    for (name, value) in &resp.headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("content-length: {}\r\n", resp.body.len()).as_bytes());
    out.extend_from_slice(if keep_alive {
        b"connection: keep-alive\r\n\r\n"
    } else {
        b"connection: close\r\n\r\n"
    });
    out.extend_from_slice(&resp.body);
    w.write_all(&out)?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufReader;

    fn parse(raw: &[u8]) -> Result<Request, ReadError> {
        read_request(&mut BufReader::new(raw), 1024)
    }

    #[test]
    fn parses_a_post_with_body_and_query() {
        let r =
            parse(b"POST /v1/x?a=1&b=two%20x HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}")
                .unwrap();
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/v1/x");
        assert_eq!(r.query_param("b").as_deref(), Some("two x"));
        assert_eq!(r.header("host"), Some("h"));
        assert_eq!(r.body, b"{}");
        assert!(r.keep_alive);
    }

    #[test]
    fn chunked_body() {
        let r = parse(
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(r.body, b"{}");
    }

    #[test]
    fn limits_and_malformed() {
        let over = parse(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2000\r\n\r\n");
        assert!(matches!(over, Err(ReadError::Bad(413, _, _))));
        assert!(matches!(
            parse(b"GET /\r\n\r\n"),
            Err(ReadError::Bad(400, _, _))
        ));
        assert!(matches!(
            parse(b"GET http://x/ HTTP/1.1\r\n\r\n"),
            Err(ReadError::Bad(400, _, _))
        ));
        assert!(matches!(
            parse(b"GET / HTTP/2\r\n\r\n"),
            Err(ReadError::Bad(505, _, _))
        ));
        assert!(matches!(
            parse(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
            Err(ReadError::Bad(400, _, _))
        ));
        let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
        big.extend(std::iter::repeat_n(b'a', 20_000));
        assert!(matches!(parse(&big), Err(ReadError::Bad(431, _, _))));
        assert!(matches!(parse(b""), Err(ReadError::Closed)));
    }

    #[test]
    fn never_panics_on_prefixes() {
        let raw = b"POST /a?b=%zz%4 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nff\r\nabc";
        for end in 0..raw.len() {
            let _ = parse(&raw[..end]);
        }
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("a%41"), "aA");
    }

    fn status_of(raw: &[u8]) -> Option<u16> {
        match parse(raw) {
            Err(ReadError::Bad(status, _, _)) => Some(status),
            _ => None,
        }
    }

    #[test]
    fn chunk_size_lines() {
        for (line, want) in [
            (&b"2"[..], Some(2)),
            (b"1F", Some(31)),
            (b"0", Some(0)),
            (b"a;name=value", Some(10)),
            (b"a \t;ext", Some(10)),
            (b"fffffffffffffff", Some(0xfff_ffff_ffff_ffff)),
            (b"", None),
            (b";ext", None),
            (b"2 ", Some(2)),
            (b"2\t ", Some(2)),
            (b" 2", None),
            (b"+2", None),
            (b"0x2", None),
            (b"-1", None),
            (b"2\r", None),
            (b"2\x0c;ext", None),
            (b"1000000000000000", None),
        ] {
            assert_eq!(
                chunk_size(line),
                want,
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn lengths_and_chunk_sizes_are_digits_only() {
        for cl in ["+2", "-2", " 2x", "0x2", "2 2", ""] {
            let raw = format!("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: {cl}\r\n\r\n{{}}");
            assert_eq!(
                status_of(raw.as_bytes()),
                Some(400),
                "Content-Length {cl:?}"
            );
        }
        for size in ["+2", "-2", "0x2", ""] {
            let raw = format!(
                "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n{size}\r\n{{}}\r\n0\r\n\r\n"
            );
            assert_eq!(status_of(raw.as_bytes()), Some(400), "chunk size {size:?}");
        }
        let ok = parse(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2;x=y \r\n{}\r\n0\r\n\r\n");
        assert_eq!(ok.unwrap().body, b"{}");
    }

    #[test]
    fn fields_that_must_be_single_are_refused_twice() {
        for name in ["Host", "Authorization", "DPoP", "Content-Type", "Txn-Token"] {
            let raw = format!("GET / HTTP/1.1\r\nHost: h\r\n{name}: a\r\n{name}: b\r\n\r\n");
            let raw = raw.replace("Host: h\r\nHost: a", "Host: a");
            assert_eq!(status_of(raw.as_bytes()), Some(400), "{name}");
        }
        // Lower and mixed case are the same field.
        assert_eq!(
            status_of(b"GET / HTTP/1.1\r\nHost: h\r\nDPoP: a\r\ndpop: b\r\n\r\n"),
            Some(400)
        );
    }

    #[test]
    fn http11_needs_a_host_and_http10_does_not() {
        assert_eq!(status_of(b"GET / HTTP/1.1\r\n\r\n"), Some(400));
        assert!(parse(b"GET / HTTP/1.0\r\n\r\n").is_ok());
    }
}
