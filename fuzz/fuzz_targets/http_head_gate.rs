//! The gate's HTTP/1.1 request reader (`src/net/http.rs`): request line,
//! headers, Content-Length and chunked bodies, a keep-alive series of
//! requests on one connection.
//!
//! Input: byte 0 picks the reader's buffer size, the rest is what the
//! client sent. Properties: no panic; every accepted request is well formed
//! (method, origin-form path, lower-case token header names, no control
//! characters in values, body within the limit); and the outcome does not
//! depend on how the bytes were split into reads.
#![no_main]

use latchgate::net::http::{percent_decode, read_request, ReadError, MAX_HEADERS};
use libfuzzer_sys::fuzz_target;
use std::io::{BufRead, BufReader, Cursor};

/// Body limit: small, so the 413 paths are reachable.
const MAX_BODY: usize = 4096;
/// Requests read from one connection at most.
const MAX_REQUESTS: usize = 8;

/// What one read produced, comparable across buffer sizes.
#[derive(Debug, PartialEq)]
enum Outcome {
    Request {
        method: String,
        path: String,
        query: String,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        keep_alive: bool,
    },
    Closed,
    Io(std::io::ErrorKind),
    Bad(u16, &'static str),
}

fuzz_target!(|data: &[u8]| {
    let Some((&cap, stream)) = data.split_first() else {
        return;
    };
    let small = read_all(BufReader::with_capacity(
        usize::from(cap % 64) + 1,
        Cursor::new(stream),
    ));
    let large = read_all(BufReader::with_capacity(64 * 1024, Cursor::new(stream)));
    assert_eq!(small, large, "the outcome depends on the read boundaries");
});

/// Reads requests until one fails (the server closes then) or the cap.
fn read_all<R: BufRead>(mut r: R) -> Vec<Outcome> {
    let mut out = Vec::new();
    for _ in 0..MAX_REQUESTS {
        let outcome = match read_request(&mut r, MAX_BODY) {
            Ok(req) => {
                check_request(&req);
                Outcome::Request {
                    method: req.method,
                    path: req.path,
                    query: req.query,
                    headers: req.headers,
                    body: req.body,
                    keep_alive: req.keep_alive,
                }
            }
            Err(ReadError::Closed) => Outcome::Closed,
            Err(ReadError::Io(e)) => Outcome::Io(e.kind()),
            Err(ReadError::Bad(status, code, _)) => {
                assert!((400..=599).contains(&status), "status {status}");
                assert!(!code.is_empty());
                Outcome::Bad(status, code)
            }
        };
        let done = !matches!(outcome, Outcome::Request { .. });
        out.push(outcome);
        if done {
            break;
        }
    }
    out
}

fn check_request(req: &latchgate::net::http::Request) {
    assert!(!req.method.is_empty() && req.method.bytes().all(|b| b.is_ascii_uppercase()));
    assert!(req.path.starts_with('/'), "path {:?}", req.path);
    assert!(!req.path.contains('?'));
    let no_ctl = |s: &str| !s.bytes().any(|b| b <= b' ' || b == 0x7f);
    assert!(no_ctl(&req.path) && no_ctl(&req.query));
    assert!(req.headers.len() <= MAX_HEADERS);
    for (name, value) in &req.headers {
        assert!(!name.is_empty());
        assert!(
            !name.bytes().any(|b| b.is_ascii_uppercase()),
            "name {name:?}"
        );
        assert!(!name.bytes().any(|b| b <= b' ' || b == b':' || b >= 0x7f));
        assert!(!value.bytes().any(|b| (b < b' ' && b != b'\t') || b == 0x7f));
        assert_eq!(value.trim_matches([' ', '\t']), value.as_str());
    }
    assert!(req.body.len() <= MAX_BODY);
    // What the routes then do with the target: never a panic.
    let _ = percent_decode(&req.path);
    let _ = req.query_param("limit");
    let _ = req.header("host");
}
