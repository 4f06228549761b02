//! Upstream HTTP responses read by the gate's egress client
//! (`src/egress/response.rs`): what a server on the internet sends back to
//! an action's HTTP request. Interim heads, framing, chunked bodies,
//! trailers.
//!
//! Input: byte 0 picks a HEAD request or not and how many bytes each read
//! returns; the rest is the server's byte stream. Properties: no panic; an
//! accepted response has a final status and a body within the limit; the
//! outcome does not depend on the read boundaries; and where the proxy's
//! head parser (`src/proxy/head.rs`) also accepts the final head, both
//! agree on the status and the fields.
#![no_main]

use latchgate::egress::response::{read_response, MAX_HEADERS};
use latchgate::proxy::head;
use libfuzzer_sys::fuzz_target;
use std::io::{BufReader, Cursor, Read};

/// Body limit: small, so the too-large paths are reachable.
const MAX_BODY: usize = 4096;

/// A reader handing out at most `step` bytes per call.
struct Pieces<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.data.len());
        let (now, later) = self.data.split_at(n);
        buf[..n].copy_from_slice(now);
        self.data = later;
        Ok(n)
    }
}

type Outcome = Result<(u16, Vec<(String, String)>, Vec<u8>), &'static str>;

fn read(data: &[u8], step: usize, head_request: bool) -> Outcome {
    read_response(Pieces { data, step }, head_request, MAX_BODY)
        .map(|r| (r.status, r.headers, r.body))
        .map_err(|e| e.code)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, stream)) = data.split_first() else {
        return;
    };
    let head_request = mode & 1 == 1;
    let step = usize::from(mode >> 1) + 1;
    let trickled = read(stream, step, head_request);
    let whole = read(stream, usize::MAX, head_request);
    assert_eq!(
        trickled, whole,
        "the outcome depends on the read boundaries"
    );
    let Ok((status, headers, body)) = whole else {
        return;
    };
    assert!(
        (200..=599).contains(&status) && status != 101,
        "status {status}"
    );
    assert!(headers.len() <= MAX_HEADERS);
    assert!(body.len() <= MAX_BODY);
    if head_request || status == 204 || status == 304 {
        assert!(body.is_empty(), "a body where none may be");
    }

    // The proxy's parser on the same head, when it is the final one.
    if let Ok(h) = head::read_response(&mut BufReader::new(Cursor::new(stream))) {
        if h.status >= 200 {
            assert_eq!(h.status, status, "the two parsers disagree on the status");
            assert_eq!(
                h.headers.0, headers,
                "the two parsers disagree on the fields"
            );
        }
    }
});
