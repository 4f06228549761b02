//! MCP's stdio framing (`src/mcp/jsonrpc.rs`: `read_line` and `classify`)
//! and the gate URLs `latchgate-mcp` accepts (`src/mcp/transport.rs`).
//!
//! Input: byte 0 picks the line limit and the reader's buffer size; the
//! rest is what the client wrote to stdin. Properties: no panic; a message
//! never holds a newline nor exceeds the limit; the lines do not depend on
//! the read boundaries; a request keeps its string or number id, and the
//! answer to any line is valid JSON-RPC; a parsed URL parses back to itself.
#![no_main]

use latchgate::json::{parse, Value};
use latchgate::mcp::jsonrpc::{classify, error_response, read_line, response, Incoming, Line};
use latchgate::mcp::transport::{parse_env_url, parse_http_url};
use libfuzzer_sys::fuzz_target;
use std::io::{BufRead, BufReader, Cursor};

/// Lines read from one input at most.
const MAX_LINES: usize = 64;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, stream)) = data.split_first() else {
        return;
    };
    // Small limits reach the too-long path; 0 stands for the real one.
    let max = match mode & 0x0f {
        0 => latchgate::mcp::jsonrpc::MAX_LINE,
        n => usize::from(n) * 8,
    };
    let cap = usize::from(mode >> 4) + 1;
    let small = lines(BufReader::with_capacity(cap, Cursor::new(stream)), max);
    let large = lines(
        BufReader::with_capacity(64 * 1024, Cursor::new(stream)),
        max,
    );
    assert_eq!(small, large, "the lines depend on the read boundaries");

    for line in &large {
        let Line::Message(bytes) = line else {
            continue;
        };
        assert!(bytes.len() <= max && !bytes.contains(&b'\n'));
        answer(bytes);
        if let Ok(text) = std::str::from_utf8(bytes) {
            url(text);
        }
    }
});

fn lines<R: BufRead>(mut r: R, max: usize) -> Vec<Line> {
    let mut out = Vec::new();
    for _ in 0..MAX_LINES {
        match read_line(&mut r, max) {
            Ok(Line::Eof) | Err(_) => break,
            Ok(l) => out.push(l),
        }
    }
    out
}

/// What the server would answer, checked to be valid JSON-RPC.
fn answer(line: &[u8]) {
    let reply = match classify(line) {
        Incoming::Request { id, method, .. } => {
            assert!(
                matches!(id, Value::String(_) | Value::Number(_)),
                "id {id:?}"
            );
            response(&id, Value::from(method))
        }
        Incoming::Invalid { id, error } => {
            assert!(matches!(
                id,
                Value::Null | Value::String(_) | Value::Number(_)
            ));
            error_response(&id, &error)
        }
        Incoming::Notification { .. } | Incoming::Response | Incoming::Ignored(_) => return,
    };
    let text = reply.to_json();
    assert!(!text.contains('\n'), "a reply spans lines");
    let back = parse(text.as_bytes()).expect("a reply is JSON");
    assert_eq!(back.get("jsonrpc").and_then(Value::as_str), Some("2.0"));
}

fn url(text: &str) {
    if let Ok(u) = parse_http_url(text) {
        assert!(u.base.starts_with("http://"));
        assert!(!u.host_port.contains(['@', '/', '?', '#', ' ']), "{u:?}");
        assert_eq!(parse_http_url(&u.base), Ok(u.clone()), "{text:?}");
    }
    let _ = parse_env_url(text);
}
