//! The proxy's chunked decoder (`src/proxy/body.rs`, `copy_chunked`), which
//! streams agent request bodies (and upstream responses) as they arrive.
//!
//! Input: byte 0 picks the reader's buffer size and whether the output is
//! re-framed; the rest is the chunked body. Properties: no panic; the
//! decoded bytes are what the tap saw; a re-framed body decodes to the same
//! bytes (round trip); the result does not depend on the read boundaries;
//! and where the gate's own chunked reader (`src/net/http.rs`) also accepts
//! the body, both decoders agree on its bytes (no parser differential
//! between the two halves of the product).
#![no_main]

use latchgate::net::http;
use latchgate::proxy::body::copy_chunked;
use libfuzzer_sys::fuzz_target;
use std::io::{BufReader, Cursor};

/// Body limit handed to the gate's reader (above any input the fuzzer makes).
const MAX_BODY: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let reframe = mode & 1 == 1;
    let cap = usize::from(mode >> 1) + 1;

    let small = decode(BufReader::with_capacity(cap, Cursor::new(body)), reframe);
    let large = decode(
        BufReader::with_capacity(64 * 1024, Cursor::new(body)),
        reframe,
    );
    let (Ok((data_small, out_small)), Ok((data_large, out_large))) = (&small, &large) else {
        assert_eq!(
            small.is_ok(),
            large.is_ok(),
            "acceptance depends on read boundaries"
        );
        return;
    };
    assert_eq!(
        data_small, data_large,
        "decoded bytes depend on read boundaries"
    );

    for (data, out) in [(data_small, out_small), (data_large, out_large)] {
        if reframe {
            // Our own chunked output must decode to the same bytes.
            let again = decode(BufReader::new(Cursor::new(out.as_slice())), false);
            let (redone, _) = again.expect("re-framed output is valid chunked");
            assert_eq!(&redone, data, "re-framing changed the body");
        } else {
            assert_eq!(out, data, "the output is not the tapped data");
        }
    }

    let mut request =
        b"POST /v1/x HTTP/1.1\r\nHost: g\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    request.extend_from_slice(body);
    if let Ok(req) = http::read_request(&mut BufReader::new(Cursor::new(&request)), MAX_BODY) {
        assert_eq!(
            &req.body, data_large,
            "the gate and the proxy decode differently"
        );
    }
});

/// The decoded data (as the tap saw it) and what was written.
fn decode<R: std::io::BufRead>(mut r: R, reframe: bool) -> std::io::Result<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    let mut seen = Vec::new();
    let total = copy_chunked(&mut r, &mut out, reframe, &mut |piece| {
        seen.extend_from_slice(piece)
    })?;
    assert_eq!(
        total,
        seen.len() as u64,
        "the returned count is not the data length"
    );
    Ok((seen, out))
}
