//! The head parser of the sandbox proxy and the LLM gateway
//! (`src/proxy/head.rs`; the gateway serves with the proxy's), and the body
//! framing decided from the headers (`src/proxy/body.rs`).
//!
//! Input: byte 0 picks request heads (from the agent) or response heads
//! (from an upstream) and the reader's buffer size; the rest is the
//! stream. Properties: no panic; an accepted head is what the strict
//! grammar allows (token method and names, visible-ASCII target, field
//! bytes only, no surrounding blanks, bounded field count); the outcome does
//! not depend on the read boundaries; the framing is unambiguous.
#![no_main]

use latchgate::proxy::body::{request_framing, response_framing, Framing};
use latchgate::proxy::head::{
    is_token, read_request, read_response, HeadError, Headers, RequestHead, ResponseHead,
    MAX_HEADERS,
};
use libfuzzer_sys::fuzz_target;
use std::io::{BufRead, BufReader, Cursor};

/// Heads read from one connection at most.
const MAX_HEADS: usize = 8;

#[derive(Debug, PartialEq)]
enum Outcome {
    Request(RequestHead, Result<Framing, &'static str>),
    Response(ResponseHead, Result<Framing, &'static str>),
    Closed,
    Io(std::io::ErrorKind),
    TooLarge,
    Malformed(&'static str),
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, stream)) = data.split_first() else {
        return;
    };
    let responses = mode & 1 == 1;
    let cap = usize::from(mode >> 1) + 1;
    let small = read_all(
        BufReader::with_capacity(cap, Cursor::new(stream)),
        responses,
    );
    let large = read_all(
        BufReader::with_capacity(64 * 1024, Cursor::new(stream)),
        responses,
    );
    assert_eq!(small, large, "the outcome depends on the read boundaries");
});

fn read_all<R: BufRead>(mut r: R, responses: bool) -> Vec<Outcome> {
    let mut out = Vec::new();
    for _ in 0..MAX_HEADS {
        let got = if responses {
            read_response(&mut r).map(|h| {
                check_headers(&h.headers);
                assert!((100..=999).contains(&h.status), "status {}", h.status);
                assert!(!h
                    .reason
                    .bytes()
                    .any(|b| b < b' ' && b != b'\t' || b == 0x7f));
                let method = if h.status % 2 == 0 { "GET" } else { "HEAD" };
                let framing = response_framing(&h.headers, h.status, method);
                check_framing(&h.headers, framing);
                Outcome::Response(h, framing)
            })
        } else {
            read_request(&mut r).map(|h| {
                check_headers(&h.headers);
                assert!(is_token(&h.method), "method {:?}", h.method);
                assert!(!h.target.is_empty() && h.target.bytes().all(|b| b.is_ascii_graphic()));
                let framing = request_framing(&h.headers);
                check_framing(&h.headers, framing);
                match framing {
                    Ok(Framing::UntilClose) => panic!("a request body cannot end at close"),
                    Ok(Framing::Chunked) => assert!(!h.headers.has("content-length")),
                    _ => {}
                }
                Outcome::Request(h, framing)
            })
        };
        let outcome = match got {
            Ok(o) => o,
            Err(HeadError::Closed) => Outcome::Closed,
            Err(HeadError::Io(e)) => Outcome::Io(e.kind()),
            Err(HeadError::TooLarge) => Outcome::TooLarge,
            Err(HeadError::Malformed(what)) => Outcome::Malformed(what),
        };
        let done = !matches!(outcome, Outcome::Request(..) | Outcome::Response(..));
        out.push(outcome);
        if done {
            break;
        }
    }
    out
}

fn check_headers(h: &Headers) {
    assert!(h.0.len() <= MAX_HEADERS + 1, "{} fields", h.0.len());
    for (name, value) in &h.0 {
        assert!(is_token(name), "name {name:?}");
        assert!(!value.bytes().any(|b| b < b' ' && b != b'\t' || b == 0x7f));
        assert_eq!(value.trim_matches([' ', '\t']), value.as_str());
    }
    // The list views the route code uses: never a panic.
    for name in ["connection", "transfer-encoding", "upgrade"] {
        for t in h.list(name) {
            assert!(!t.is_empty() && t == t.trim() && t == t.to_ascii_lowercase());
        }
    }
    let _ = h.has_token("connection", "close");
}

/// A body is delimited one way only: chunked never together with a length
/// for requests (the smuggling case), and a length is every value's number.
fn check_framing(h: &Headers, framing: Result<Framing, &'static str>) {
    match framing {
        Ok(Framing::Chunked) => assert!(h.has("transfer-encoding")),
        Ok(Framing::Length(n)) => {
            for v in h.all("content-length").flat_map(|v| v.split(',')) {
                assert_eq!(v.trim().parse::<u64>().ok(), Some(n));
            }
        }
        Ok(Framing::None) | Ok(Framing::UntilClose) | Err(_) => {}
    }
}
