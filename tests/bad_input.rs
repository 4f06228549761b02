//! Malformed requests of every kind get a JSON 4xx/5xx-free answer or a clean
//! close, and the gate keeps serving (no panic: in release a panic aborts).

mod common;
use common::{Agent, Gate};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

fn send_raw(gate: &Gate, raw: &[u8]) -> Vec<u8> {
    let mut s = UnixStream::connect(&gate.socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.write_all(raw);
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

/// A tiny deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn malformed_requests_get_json_errors_and_the_gate_survives() {
    let gate = Gate::start("badinput");
    let agent = Agent::lease(&gate, None);
    let auth = agent.headers("POST", "/v1/actions/echo/execute", &Default::default());
    let hdrs: String = auth.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    let fixed: Vec<Vec<u8>> = vec![
        b"GARBAGE\r\n\r\n".to_vec(),
        b"GET\r\n\r\n".to_vec(),
        b"GET / HTTP/9.9\r\n\r\n".to_vec(),
        b"get /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
        b"POST /v1/leases HTTP/1.1\r\nHost: localhost\r\nContent-Length: -1\r\n\r\n".to_vec(),
        b"POST /v1/leases HTTP/1.1\r\nHost: localhost\r\nContent-Length: 99999999999999999999\r\n\r\n".to_vec(),
        b"POST /v1/leases HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip\r\n\r\n".to_vec(),
        b"POST /v1/leases HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".to_vec(),
        b"POST /v1/leases HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\n{\"a\":".to_vec(),
        b"POST /v1/leases HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\n\r\n\xff\xfe\x00\x01".to_vec(),
        b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nBad Header\r\n\r\n".to_vec(),
        b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX: a\x01b\r\n\r\n".to_vec(),
        b"GET /v1/actions/%00/schema/request HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
        b"GET /v1/receipts/../../etc/passwd HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
        format!("POST /v1/actions/echo/execute HTTP/1.1\r\nHost: localhost\r\n{hdrs}Content-Length: 9\r\n\r\n[[[[[[[[[").into_bytes(),
        format!("POST /v1/actions/echo/execute HTTP/1.1\r\nHost: localhost\r\nAuthorization: DPoP x.y.z\r\nDPoP: {}\r\nContent-Length: 2\r\n\r\n{{}}", "a.".repeat(5000)).into_bytes(),
        format!("POST /v1/actions/echo/execute HTTP/1.1\r\nHost: localhost\r\n{hdrs}Content-Length: 40\r\n\r\n{}", "[".repeat(40)).into_bytes(),
    ];
    let mut rng = Rng(0x5eed_1234_abcd_9876);
    let mut cases = fixed;
    for _ in 0..200 {
        // Random mutations of a valid execute request.
        let mut raw = format!(
            "POST /v1/actions/echo/execute HTTP/1.1\r\nHost: localhost\r\n{hdrs}Content-Length: 2\r\n\r\n{{}}"
        )
        .into_bytes();
        for _ in 0..(1 + rng.next() % 4) {
            let i = (rng.next() as usize) % raw.len();
            raw[i] = (rng.next() % 256) as u8;
        }
        cases.push(raw);
    }
    let mut answered = 0;
    for raw in &cases {
        let out = send_raw(&gate, raw);
        if out.is_empty() {
            continue; // a clean close is acceptable
        }
        answered += 1;
        let text = String::from_utf8_lossy(&out);
        let status: u16 = text
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        assert!(
            (200..600).contains(&status),
            "no status for {:?}: {text}",
            String::from_utf8_lossy(raw)
        );
        // 501 (transfer coding) and 505 (HTTP version) are protocol answers.
        assert!(
            status < 500 || [501, 503, 505].contains(&status),
            "server error for {:?}: {text}",
            String::from_utf8_lossy(raw)
        );
        if status >= 400 {
            let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
            if !body.is_empty() {
                let v = latchgate::json::parse(body.as_bytes())
                    .unwrap_or_else(|e| panic!("non-JSON error body ({e}): {text}"));
                assert!(
                    v.get("error").is_some(),
                    "error body without a code: {text}"
                );
            }
        }
    }
    assert!(
        answered > cases.len() / 2,
        "only {answered} of {} answered",
        cases.len()
    );
    // Still alive and serving.
    assert_eq!(gate.request("GET", "/healthz", &[], b"").status, 200);
    assert_eq!(
        agent.execute(&gate, "echo", &latchgate::obj! {}).status,
        200
    );
}
