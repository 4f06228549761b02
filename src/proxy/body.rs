//! Message bodies: how one is delimited (RFC 9112 §6) and streaming it
//! from one side to the other as it arrives. Nothing is buffered beyond
//! one read: each piece is written (and flushed) as soon as it is read,
//! which is what lets every SSE event reach the agent when it is sent.

use super::head::Headers;
use std::io::{self, BufRead, Read, Write};

/// Longest chunk-size line or trailer line accepted.
const MAX_CHUNK_LINE: u64 = 4096;
/// Most trailer bytes accepted after the last chunk (they are dropped).
const MAX_TRAILERS: usize = 16 * 1024;
/// Size of one relay read.
pub const PIECE: usize = 16 * 1024;

/// How a message body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    None,
    /// Exactly this many bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Until the connection closes (responses only).
    UntilClose,
}

/// The framing of a request body. Ambiguous framings, the classic
/// request-smuggling vectors, are refused: Transfer-Encoding together
/// with Content-Length, any coding other than a single `chunked`,
/// conflicting or non-numeric lengths.
pub fn request_framing(h: &Headers) -> Result<Framing, &'static str> {
    if h.has("transfer-encoding") {
        if h.has("content-length") {
            return Err("both Transfer-Encoding and Content-Length");
        }
        return match h.list("transfer-encoding").as_slice() {
            [only] if only == "chunked" => Ok(Framing::Chunked),
            _ => Err("unsupported Transfer-Encoding (only chunked)"),
        };
    }
    // An explicit zero is kept: some servers want a length on every POST.
    Ok(content_length(h)?.map_or(Framing::None, Framing::Length))
}

/// The framing of a response body to a request with `method`.
pub fn response_framing(h: &Headers, status: u16, method: &str) -> Result<Framing, &'static str> {
    if method == "HEAD" || status < 200 || status == 204 || status == 304 {
        return Ok(Framing::None);
    }
    if h.has("transfer-encoding") {
        // Transfer-Encoding wins over any Content-Length (RFC 9112 §6.3).
        return match h.list("transfer-encoding").as_slice() {
            [only] if only == "chunked" => Ok(Framing::Chunked),
            _ => Err("unsupported Transfer-Encoding (only chunked)"),
        };
    }
    match content_length(h)? {
        Some(n) => Ok(Framing::Length(n)),
        None => Ok(Framing::UntilClose),
    }
}

/// The Content-Length, if any; every value (and list element) must be the
/// same decimal number.
fn content_length(h: &Headers) -> Result<Option<u64>, &'static str> {
    let mut found: Option<u64> = None;
    for v in h.all("content-length").flat_map(|v| v.split(',')) {
        let v = v.trim();
        if v.is_empty() || v.len() > 19 || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err("bad Content-Length");
        }
        let n: u64 = v.parse().map_err(|_| "bad Content-Length")?;
        if found.is_some_and(|f| f != n) {
            return Err("conflicting Content-Length values");
        }
        found = Some(n);
    }
    if h.has("content-length") && found.is_none() {
        return Err("bad Content-Length");
    }
    Ok(found)
}

/// Copies exactly `len` bytes, writing each read at once (and showing it
/// to `tap`). Returns the bytes copied (always `len` on success).
pub fn copy_length<R: Read, W: Write>(
    r: &mut R,
    w: &mut W,
    len: u64,
    tap: &mut dyn FnMut(&[u8]),
) -> io::Result<u64> {
    let mut buf = vec![0u8; PIECE];
    let mut left = len;
    while left > 0 {
        let want = usize::try_from(left).unwrap_or(PIECE).min(PIECE);
        let n = read_some(r, &mut buf[..want])?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        tap(&buf[..n]);
        w.write_all(&buf[..n])?;
        w.flush()?;
        left -= n as u64;
    }
    Ok(len)
}

/// Copies until the reader reports end of stream. A TLS peer that closes
/// without close_notify ends the body too (many servers do; for a
/// close-delimited body the agent sees the same close).
pub fn copy_until_close<R: Read, W: Write>(r: &mut R, w: &mut W) -> io::Result<u64> {
    let mut buf = vec![0u8; PIECE];
    let mut total = 0u64;
    loop {
        let n = match read_some(r, &mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(total),
            Err(e) => return Err(e),
        };
        w.write_all(&buf[..n])?;
        w.flush()?;
        total += n as u64;
    }
}

/// Decodes a chunked body from `r` and streams it to `w`: re-framed as
/// chunked (one output chunk per piece read, so nothing waits for a whole
/// input chunk) when `reframe`, else as the bare data. Chunk extensions
/// and trailers are dropped. `tap` sees the data pieces. Returns the data
/// bytes copied.
pub fn copy_chunked<R: BufRead, W: Write>(
    r: &mut R,
    w: &mut W,
    reframe: bool,
    tap: &mut dyn FnMut(&[u8]),
) -> io::Result<u64> {
    let mut buf = vec![0u8; PIECE];
    let mut out: Vec<u8> = Vec::with_capacity(PIECE + 32);
    let mut total = 0u64;
    loop {
        let size = read_chunk_size(r)?;
        if size == 0 {
            skip_trailers(r)?;
            if reframe {
                w.write_all(b"0\r\n\r\n")?;
            }
            w.flush()?;
            return Ok(total);
        }
        let mut left = size;
        while left > 0 {
            let want = usize::try_from(left).unwrap_or(PIECE).min(PIECE);
            let n = read_some(r, &mut buf[..want])?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            tap(&buf[..n]);
            out.clear();
            if reframe {
                out.extend_from_slice(format!("{n:x}\r\n").as_bytes());
            }
            out.extend_from_slice(&buf[..n]);
            if reframe {
                out.extend_from_slice(b"\r\n");
            }
            // One write per piece: one TLS record, one syscall.
            w.write_all(&out)?;
            w.flush()?;
            left -= n as u64;
            total += n as u64;
        }
        let line = read_line(r)?;
        if !line.is_empty() {
            return Err(bad("chunk data longer than its size"));
        }
    }
}

/// `1*HEXDIG [ BWS ; ext ]` on its own line (the rule is the gate's own:
/// `net::http::chunk_size`).
fn read_chunk_size<R: BufRead>(r: &mut R) -> io::Result<u64> {
    let line = read_line(r)?;
    crate::net::http::chunk_size(&line).ok_or_else(|| bad("bad chunk size"))
}

/// Trailer fields up to the blank line, read and dropped.
fn skip_trailers<R: BufRead>(r: &mut R) -> io::Result<()> {
    let mut used = 0usize;
    loop {
        let line = read_line(r)?;
        if line.is_empty() {
            return Ok(());
        }
        used += line.len();
        if used > MAX_TRAILERS {
            return Err(bad("trailers too large"));
        }
    }
}

/// One line (CRLF or LF ended) without its end; bounded.
fn read_line<R: BufRead>(r: &mut R) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    r.by_ref()
        .take(MAX_CHUNK_LINE)
        .read_until(b'\n', &mut line)?;
    if line.pop() != Some(b'\n') {
        return Err(if line.len() as u64 >= MAX_CHUNK_LINE - 1 {
            bad("chunk line too long")
        } else {
            io::ErrorKind::UnexpectedEof.into()
        });
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(line)
}

/// One read, retried on EINTR. The count never exceeds `buf.len()`, so
/// callers may slice with it.
fn read_some<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match r.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Ok(n) if n > buf.len() => return Err(bad("reader returned too much")),
            other => return other,
        }
    }
}

fn bad(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufReader;

    fn headers(list: &[(&str, &str)]) -> Headers {
        Headers(
            list.iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn request_framing_refuses_ambiguity() {
        let f = |l: &[(&str, &str)]| request_framing(&headers(l));
        assert_eq!(f(&[]), Ok(Framing::None));
        assert_eq!(f(&[("Content-Length", "0")]), Ok(Framing::Length(0)));
        assert_eq!(f(&[("content-length", "12")]), Ok(Framing::Length(12)));
        assert_eq!(
            f(&[("content-length", "12"), ("Content-Length", "12, 12")]),
            Ok(Framing::Length(12))
        );
        assert_eq!(f(&[("Transfer-Encoding", "Chunked")]), Ok(Framing::Chunked));
        for bad in [
            &[("Transfer-Encoding", "chunked"), ("Content-Length", "3")][..],
            &[("Transfer-Encoding", "gzip, chunked")],
            &[("Transfer-Encoding", "chunked, chunked")],
            &[("Transfer-Encoding", "identity")],
            &[("Transfer-Encoding", "")],
            &[("Content-Length", "1"), ("Content-Length", "2")],
            &[("Content-Length", "-1")],
            &[("Content-Length", "+1")],
            &[("Content-Length", "0x10")],
            &[("Content-Length", "")],
            &[("Content-Length", "99999999999999999999")],
        ] {
            assert!(f(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn response_framing_by_status_and_method() {
        let h = |l: &[(&str, &str)]| headers(l);
        let cl = h(&[("Content-Length", "5")]);
        assert_eq!(response_framing(&cl, 200, "GET"), Ok(Framing::Length(5)));
        assert_eq!(response_framing(&cl, 200, "HEAD"), Ok(Framing::None));
        assert_eq!(response_framing(&cl, 204, "GET"), Ok(Framing::None));
        assert_eq!(response_framing(&cl, 304, "GET"), Ok(Framing::None));
        assert_eq!(
            response_framing(&h(&[]), 200, "GET"),
            Ok(Framing::UntilClose)
        );
        let te = h(&[("Transfer-Encoding", "chunked"), ("Content-Length", "5")]);
        assert_eq!(response_framing(&te, 200, "POST"), Ok(Framing::Chunked));
        assert!(response_framing(&h(&[("Transfer-Encoding", "gzip")]), 200, "GET").is_err());
    }

    #[test]
    fn chunked_is_decoded_and_reframed() {
        let input = b"5;ext=1\r\nhello\r\n6 \r\n world\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        let mut r = BufReader::new(&input[..]);
        let mut out = Vec::new();
        assert_eq!(
            copy_chunked(&mut r, &mut out, true, &mut |_| {}).unwrap(),
            11
        );
        assert_eq!(out, b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
        // The reader stops right after the body: the next message is intact.
        let mut rest = String::new();
        r.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "NEXT");

        let mut r = BufReader::new(&input[..]);
        let mut raw = Vec::new();
        copy_chunked(&mut r, &mut raw, false, &mut |_| {}).unwrap();
        assert_eq!(raw, b"hello world");
    }

    #[test]
    fn bad_chunked_bodies_fail() {
        for bad in [
            &b"x\r\n"[..],
            b"\r\n",
            b"+5\r\nhello\r\n0\r\n\r\n",
            b"5\r\nhelloX\r\n0\r\n\r\n",
            b"5\r\nhel",
            b"1000000000000000\r\n",
            b"5\r\nhello\r\n",
            b"0\r\nX: 1\r\n",
        ] {
            let mut out = Vec::new();
            assert!(
                copy_chunked(&mut BufReader::new(bad), &mut out, true, &mut |_| {}).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let mut long = b"1".repeat(5000);
        long.extend_from_slice(b"\r\n");
        let mut out = Vec::new();
        assert!(copy_chunked(&mut BufReader::new(&long[..]), &mut out, true, &mut |_| {}).is_err());
    }

    #[test]
    fn length_and_close_copies() {
        let mut out = Vec::new();
        let mut r = &b"abcdef"[..];
        assert_eq!(copy_length(&mut r, &mut out, 4, &mut |_| {}).unwrap(), 4);
        assert_eq!(out, b"abcd");
        assert_eq!(r, b"ef");
        assert!(copy_length(&mut &b"ab"[..], &mut Vec::new(), 3, &mut |_| {}).is_err());
        let mut out = Vec::new();
        assert_eq!(copy_until_close(&mut &b"xyz"[..], &mut out).unwrap(), 3);
        assert_eq!(out, b"xyz");
    }

    /// A reader that hands out its pieces one read at a time.
    struct Pieces(Vec<Vec<u8>>);
    impl Read for Pieces {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Ok(0);
            }
            let p = self.0.remove(0);
            let n = p.len().min(buf.len());
            buf[..n].copy_from_slice(&p[..n]);
            if n < p.len() {
                self.0.insert(0, p[n..].to_vec());
            }
            Ok(n)
        }
    }

    /// Records every write separately.
    struct Writes(Vec<Vec<u8>>);
    impl Write for Writes {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_chunk_arriving_in_pieces_is_written_piece_by_piece() {
        // One 10-byte chunk split across two reads: the first half is
        // written before the second is read.
        let mut r = BufReader::new(Pieces(vec![
            b"a\r\nhello".to_vec(),
            b"world\r\n".to_vec(),
            b"0\r\n\r\n".to_vec(),
        ]));
        let mut w = Writes(Vec::new());
        copy_chunked(&mut r, &mut w, true, &mut |_| {}).unwrap();
        assert_eq!(
            w.0,
            vec![
                b"5\r\nhello\r\n".to_vec(),
                b"5\r\nworld\r\n".to_vec(),
                b"0\r\n\r\n".to_vec()
            ]
        );
    }
}
