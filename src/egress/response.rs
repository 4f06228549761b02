//! Reading an HTTP/1.x response: status line, headers, body framing.
//!
//! Limits: 64 KiB for all heads together (interim 1xx heads and chunked
//! trailers included), 100 headers per head, the caller's `max_body` for
//! the body. Ambiguous framing (Transfer-Encoding with Content-Length,
//! differing Content-Lengths, codings other than plain `chunked`) is
//! refused rather than guessed at.

use super::error::{EgressError, BAD_RESPONSE, RESPONSE_TOO_LARGE, TIMEOUT, TLS_FAILED};
use super::request::is_tchar;
use super::stream::is_timeout;
use std::io::{self, Read};

/// Budget for all response heads of one exchange, in bytes.
pub const MAX_HEAD: usize = 64 * 1024;
/// Most header (or trailer) lines in one head.
pub const MAX_HEADERS: usize = 100;
/// Longest chunk-size line.
const MAX_CHUNK_LINE: usize = 4096;
/// Read buffer size.
const BUF_SIZE: usize = 16 * 1024;

/// A final (non-1xx) response.
#[derive(Debug)]
pub struct Response {
    /// Status code, 200..=599.
    pub status: u16,
    /// Headers in arrival order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The de-chunked body, at most `max_body` bytes.
    pub body: Vec<u8>,
}

fn bad(message: impl Into<String>) -> EgressError {
    EgressError::new(BAD_RESPONSE, message)
}

fn too_large(max_body: usize) -> EgressError {
    EgressError::new(
        RESPONSE_TOO_LARGE,
        format!("response body larger than {max_body} bytes"),
    )
}

/// Maps a read error to an egress error.
fn read_error(e: io::Error) -> EgressError {
    if is_timeout(&e) {
        return EgressError::new(TIMEOUT, "deadline passed while reading the response");
    }
    match e.kind() {
        // rustls reports record-layer and alert errors as InvalidData.
        io::ErrorKind::InvalidData => {
            EgressError::new(TLS_FAILED, format!("TLS error while reading: {e}"))
        }
        // A TLS peer that closes without close_notify: the body may be cut short.
        io::ErrorKind::UnexpectedEof => bad("connection closed without TLS close_notify"),
        _ => bad(format!("read failed: {e}")),
    }
}

/// A small buffered reader that counts what each line consumes.
struct Input<R> {
    inner: R,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
}

impl<R: Read> Input<R> {
    fn new(inner: R) -> Input<R> {
        Input {
            inner,
            buf: vec![0; BUF_SIZE],
            pos: 0,
            end: 0,
        }
    }

    /// Unconsumed buffered bytes.
    fn available(&self) -> &[u8] {
        self.buf.get(self.pos..self.end).unwrap_or_default()
    }

    /// Refills the buffer; `false` at a clean end of stream.
    fn fill(&mut self) -> Result<bool, EgressError> {
        loop {
            match self.inner.read(&mut self.buf) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.pos = 0;
                    self.end = n.min(self.buf.len());
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(read_error(e)),
            }
        }
    }

    /// Reads one line (LF or CRLF terminated, terminator removed). It may
    /// consume at most `budget` bytes including the terminator; the budget
    /// is charged with what was consumed.
    fn read_line(&mut self, budget: &mut usize, what: &str) -> Result<Vec<u8>, EgressError> {
        let mut line = Vec::new();
        loop {
            if self.pos >= self.end && !self.fill()? {
                return Err(bad(format!("connection closed inside the {what}")));
            }
            let avail = self.available();
            let (chunk, done) = match avail.iter().position(|&b| b == b'\n') {
                Some(i) => (avail.get(..i).unwrap_or_default(), true),
                None => (avail, false),
            };
            line.extend_from_slice(chunk);
            let consumed = chunk.len() + usize::from(done);
            self.pos += consumed;
            // +1 for the LF, found or still to come.
            if line.len() + 1 > *budget {
                return Err(bad(format!("{what} too long")));
            }
            if done {
                *budget -= line.len() + 1;
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
        }
    }

    /// Appends exactly `n` bytes to `out`.
    fn read_exact_into(&mut self, out: &mut Vec<u8>, mut n: usize) -> Result<(), EgressError> {
        while n > 0 {
            if self.pos >= self.end && !self.fill()? {
                return Err(bad("connection closed before the end of the body"));
            }
            let avail = self.available();
            let take = avail.len().min(n);
            out.extend_from_slice(avail.get(..take).unwrap_or_default());
            self.pos += take;
            n -= take;
        }
        Ok(())
    }

    /// Appends everything up to the end of the stream, at most `max` total.
    fn read_to_eof(&mut self, out: &mut Vec<u8>, max: usize) -> Result<(), EgressError> {
        loop {
            let avail = self.available();
            if out.len() + avail.len() > max {
                return Err(too_large(max));
            }
            out.extend_from_slice(avail);
            self.pos = self.end;
            if !self.fill()? {
                return Ok(());
            }
        }
    }
}

/// Reads the final response from `conn`. 1xx heads are skipped (101 is an
/// error: there is no protocol switch here); HEAD requests and 204/304
/// responses have no body.
pub fn read_response<R: Read>(
    conn: R,
    head_request: bool,
    max_body: usize,
) -> Result<Response, EgressError> {
    let mut input = Input::new(conn);
    let mut budget = MAX_HEAD;
    let (status, headers) = loop {
        let (status, headers) = read_head(&mut input, &mut budget)?;
        if status == 101 {
            return Err(bad("upstream switched protocols"));
        }
        if status >= 200 {
            break (status, headers);
        }
    };
    let body = if head_request || status == 204 || status == 304 {
        Vec::new()
    } else {
        read_body(&mut input, &headers, &mut budget, max_body)?
    };
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// Status line plus header lines up to the blank line.
fn read_head<R: Read>(
    input: &mut Input<R>,
    budget: &mut usize,
) -> Result<(u16, Vec<(String, String)>), EgressError> {
    let line = input.read_line(budget, "response head")?;
    let status = parse_status_line(&line)?;
    let mut headers = Vec::new();
    loop {
        let line = input.read_line(budget, "response head")?;
        if line.is_empty() {
            return Ok((status, headers));
        }
        if headers.len() == MAX_HEADERS {
            return Err(bad(format!("more than {MAX_HEADERS} response headers")));
        }
        headers.push(parse_header_line(&line)?);
    }
}

/// `HTTP/1.x SSS[ reason]`.
fn parse_status_line(line: &[u8]) -> Result<u16, EgressError> {
    let rest = line
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| line.strip_prefix(b"HTTP/1.0 "))
        .ok_or_else(|| bad("not an HTTP/1.x status line"))?;
    let (code, reason) = rest.split_at(rest.len().min(3));
    if code.len() != 3 || !code.iter().all(u8::is_ascii_digit) {
        return Err(bad("invalid status code"));
    }
    if !(reason.is_empty() || reason.starts_with(b" ")) || has_ctl(reason) {
        return Err(bad("invalid status line"));
    }
    let status = code
        .iter()
        .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    if !(100..=599).contains(&status) {
        return Err(bad(format!("status code {status} out of range")));
    }
    Ok(status)
}

/// `name: value` with a token name and no control bytes in the value.
/// Leading whitespace (obsolete line folding) fails the token check.
fn parse_header_line(line: &[u8]) -> Result<(String, String), EgressError> {
    let colon = line
        .iter()
        .position(|&b| b == b':')
        .ok_or_else(|| bad("header line without ':'"))?;
    let (name, value) = line.split_at(colon);
    let value = value.get(1..).unwrap_or_default();
    if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
        return Err(bad("invalid response header name"));
    }
    let value = value.trim_ascii();
    if has_ctl(value) {
        return Err(bad("control character in a response header value"));
    }
    Ok((
        String::from_utf8_lossy(name).into_owned(),
        String::from_utf8_lossy(value).into_owned(),
    ))
}

/// Control bytes other than horizontal tab.
fn has_ctl(bytes: &[u8]) -> bool {
    bytes.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f)
}

/// Values of every header called `name`.
fn values<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

/// Chooses the framing (RFC 9112 §6.3) and reads the body.
fn read_body<R: Read>(
    input: &mut Input<R>,
    headers: &[(String, String)],
    budget: &mut usize,
    max_body: usize,
) -> Result<Vec<u8>, EgressError> {
    let te = values(headers, "transfer-encoding");
    let cl = values(headers, "content-length");
    let mut body = Vec::new();
    if !te.is_empty() {
        if !cl.is_empty() {
            return Err(bad("both Transfer-Encoding and Content-Length"));
        }
        let codings: Vec<String> = te
            .iter()
            .flat_map(|v| v.split(','))
            .map(|c| c.trim().to_ascii_lowercase())
            .filter(|c| !c.is_empty())
            .collect();
        if codings != ["chunked"] {
            return Err(bad("unsupported Transfer-Encoding"));
        }
        read_chunked(input, &mut body, budget, max_body)?;
        return Ok(body);
    }
    if let Some(len) = content_length(&cl)? {
        if len > max_body as u64 {
            return Err(too_large(max_body));
        }
        // Cast is exact: len <= max_body, a usize.
        let len = len as usize;
        body.reserve(len.min(BUF_SIZE * 4));
        input.read_exact_into(&mut body, len)?;
        return Ok(body);
    }
    input.read_to_eof(&mut body, max_body)?;
    Ok(body)
}

/// The Content-Length, if any; repeated headers must agree.
fn content_length(values: &[&str]) -> Result<Option<u64>, EgressError> {
    let mut found = None;
    for v in values {
        let ok = !v.is_empty() && v.len() <= 19 && v.bytes().all(|b| b.is_ascii_digit());
        let n: u64 = match v.parse() {
            Ok(n) if ok => n,
            _ => return Err(bad("invalid Content-Length")),
        };
        if found.is_some_and(|f| f != n) {
            return Err(bad("conflicting Content-Length headers"));
        }
        found = Some(n);
    }
    Ok(found)
}

/// Chunked body; trailers are read (against the head budget) and dropped.
fn read_chunked<R: Read>(
    input: &mut Input<R>,
    body: &mut Vec<u8>,
    budget: &mut usize,
    max_body: usize,
) -> Result<(), EgressError> {
    loop {
        let mut line_budget = MAX_CHUNK_LINE;
        let line = input.read_line(&mut line_budget, "chunk size line")?;
        let size = parse_chunk_size(&line)?;
        if size == 0 {
            break;
        }
        let room = max_body.saturating_sub(body.len());
        if size > room as u64 {
            return Err(too_large(max_body));
        }
        // Cast is exact: size <= room, a usize.
        input.read_exact_into(body, size as usize)?;
        // Exactly CRLF (or a bare LF) may follow the chunk data.
        let mut crlf_budget = 2;
        let end = input.read_line(&mut crlf_budget, "chunk terminator")?;
        if !end.is_empty() {
            return Err(bad("chunk not followed by CRLF"));
        }
    }
    let mut count = 0;
    loop {
        let line = input.read_line(budget, "chunked trailer")?;
        if line.is_empty() {
            return Ok(());
        }
        count += 1;
        if count > MAX_HEADERS {
            return Err(bad(format!("more than {MAX_HEADERS} trailer lines")));
        }
        parse_header_line(&line)?;
    }
}

/// `1*HEXDIG [BWS ; extensions]`, at most 16 hex digits.
fn parse_chunk_size(line: &[u8]) -> Result<u64, EgressError> {
    let end = line.iter().position(|&b| b == b';').unwrap_or(line.len());
    let (digits, ext) = line.split_at(end);
    let digits = digits.trim_ascii_end();
    if digits.is_empty()
        || digits.len() > 16
        || !digits.iter().all(u8::is_ascii_hexdigit)
        || has_ctl(ext)
    {
        return Err(bad("invalid chunk size line"));
    }
    let text = std::str::from_utf8(digits).map_err(|_| bad("invalid chunk size line"))?;
    u64::from_str_radix(text, 16).map_err(|_| bad("invalid chunk size line"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn read(raw: &[u8], max: usize) -> Result<Response, EgressError> {
        read_response(Cursor::new(raw.to_vec()), false, max)
    }

    fn code(raw: &[u8], max: usize) -> &'static str {
        read(raw, max).unwrap_err().code
    }

    /// A reader that hands out one byte per call, to exercise refills.
    struct Trickle(Vec<u8>, usize);
    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match (self.0.get(self.1), buf.first_mut()) {
                (Some(&b), Some(slot)) => {
                    *slot = b;
                    self.1 += 1;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn content_length_body() {
        let r = read(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhelloEXTRA",
            100,
        )
        .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, b"hello");
        assert_eq!(
            r.headers[0],
            ("Content-Type".to_string(), "text/plain".to_string())
        );
        // Identical repeats are fine.
        let r = read(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nok",
            100,
        )
        .unwrap();
        assert_eq!(r.body, b"ok");
    }

    #[test]
    fn chunked_body_with_extensions_and_trailers() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n5\r\nhello\r\n7 ;ext=1\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n";
        assert_eq!(read(raw, 100).unwrap().body, b"hello, world");
        let r = read_response(Trickle(raw.to_vec(), 0), false, 100).unwrap();
        assert_eq!(r.body, b"hello, world");
        assert_eq!(code(raw, 11), RESPONSE_TOO_LARGE);
        assert_eq!(read(raw, 12).unwrap().body.len(), 12);
    }

    #[test]
    fn eof_delimited_body() {
        let r = read(b"HTTP/1.0 200 OK\n\nall of it", 100).unwrap();
        assert_eq!(r.body, b"all of it");
        assert_eq!(
            code(b"HTTP/1.0 200 OK\r\n\r\nall of it", 8),
            RESPONSE_TOO_LARGE
        );
    }

    #[test]
    fn content_length_over_cap_fails_before_reading() {
        assert_eq!(
            code(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", 10),
            RESPONSE_TOO_LARGE
        );
        assert_eq!(
            code(
                b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999\r\n\r\n",
                10
            ),
            RESPONSE_TOO_LARGE
        );
    }

    #[test]
    fn interim_responses_are_skipped_and_101_refused() {
        let r = read(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok", 100).unwrap();
        assert_eq!((r.status, r.body.as_slice()), (201, &b"ok"[..]));
        assert_eq!(
            r.headers,
            vec![("Content-Length".to_string(), "2".to_string())]
        );
        assert_eq!(
            code(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
                100
            ),
            BAD_RESPONSE
        );
    }

    #[test]
    fn bodiless_responses() {
        for raw in [
            &b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"[..],
            b"HTTP/1.1 304 Not Modified\r\n\r\n",
        ] {
            assert!(read(raw, 100).unwrap().body.is_empty());
        }
        let r = read_response(
            Cursor::new(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n".to_vec()),
            true,
            10,
        )
        .unwrap();
        assert!(r.body.is_empty());
    }

    #[test]
    fn redirects_are_returned_as_is() {
        let r = read(
            b"HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/\r\nContent-Length: 0\r\n\r\n",
            100,
        )
        .unwrap();
        assert_eq!(r.status, 302);
        assert_eq!(r.headers[0].1, "http://169.254.169.254/");
    }

    #[test]
    fn malformed_heads() {
        for raw in [
            &b""[..],
            b"HTTP/1.1 200 OK",
            b"HTTP/1.1 200 OK\r\n",
            b"HTTP/2 200 OK\r\n\r\n",
            b"HTTP/1.1 20 OK\r\n\r\n",
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"HTTP/1.1 099 X\r\n\r\n",
            b"HTTP/1.1 600 X\r\n\r\n",
            b"HTTP/1.1 200OK\r\n\r\n",
            b"HTTP/1.1 200 O\x01K\r\n\r\n",
            b"ICY 200 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nName : x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nA: b\x00\r\n\r\n",
        ] {
            assert_eq!(
                code(raw, 100),
                BAD_RESPONSE,
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn ambiguous_framing_is_refused() {
        for raw in [
            &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n"
                [..],
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
            b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nab",
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nab",
            b"HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\nabc",
        ] {
            assert_eq!(
                code(raw, 100),
                BAD_RESPONSE,
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn malformed_chunks() {
        for raw in [
            &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"[..],
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n",
        ] {
            assert_eq!(
                code(raw, 100),
                BAD_RESPONSE,
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
        let huge = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n";
        assert_eq!(code(huge, 100), RESPONSE_TOO_LARGE);
        let overflow =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\n";
        assert_eq!(code(overflow, 100), BAD_RESPONSE);
        let long_line = format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;{}\r\n",
            "x".repeat(MAX_CHUNK_LINE)
        );
        assert_eq!(code(long_line.as_bytes(), 100), BAD_RESPONSE);
    }

    #[test]
    fn head_limits() {
        let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(code(&many, 100), BAD_RESPONSE);

        let big = format!("HTTP/1.1 200 OK\r\nX-Big: {}\r\n\r\n", "v".repeat(MAX_HEAD));
        assert_eq!(code(big.as_bytes(), 100), BAD_RESPONSE);

        // The budget covers interim heads too.
        let mut interim = Vec::new();
        while interim.len() <= MAX_HEAD {
            interim.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        interim.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(code(&interim, 100), BAD_RESPONSE);

        // Just under the limit still parses.
        let fits = format!(
            "HTTP/1.1 200 OK\r\nX-Big: {}\r\n\r\n",
            "v".repeat(MAX_HEAD - 100)
        );
        assert_eq!(read(fits.as_bytes(), 100).unwrap().status, 200);
    }

    #[test]
    fn truncated_body_is_an_error() {
        assert_eq!(
            code(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", 100),
            BAD_RESPONSE
        );
    }

    #[test]
    fn io_errors_map_to_codes() {
        assert_eq!(
            read_error(io::Error::new(io::ErrorKind::WouldBlock, "x")).code,
            TIMEOUT
        );
        assert_eq!(
            read_error(io::Error::new(io::ErrorKind::TimedOut, "x")).code,
            TIMEOUT
        );
        assert_eq!(
            read_error(io::Error::new(io::ErrorKind::InvalidData, "x")).code,
            TLS_FAILED
        );
        assert_eq!(
            read_error(io::Error::new(io::ErrorKind::UnexpectedEof, "x")).code,
            BAD_RESPONSE
        );
        assert_eq!(
            read_error(io::Error::new(io::ErrorKind::ConnectionReset, "x")).code,
            BAD_RESPONSE
        );
    }
}
