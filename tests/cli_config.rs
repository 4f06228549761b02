//! Start-up behaviour: first run creates what it needs, config errors name
//! the key and line, a live gate on the socket is refused, a stale socket is
//! replaced, SIGTERM drains and exits 0.

mod common;
use common::{Gate, Opts};
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn first_run_creates_private_data_and_keys() {
    let mut gate = Gate::start("firstrun");
    assert_eq!(mode(&gate.data()), 0o700);
    for k in ["receipt-signing.key", "grant-signing.key"] {
        let p = gate.data().join(k);
        assert_eq!(mode(&p), 0o600, "{k}");
        assert_eq!(std::fs::metadata(&p).unwrap().len(), 32, "{k}");
    }
    assert_eq!(mode(&gate.socket), 0o600);
    assert_eq!(mode(gate.socket.parent().unwrap()), 0o700);
    let log = gate.log();
    assert!(
        log.contains("unix socket") && log.contains("actions") && log.contains("ledger"),
        "{log}"
    );
    assert_eq!(gate.stop(), 0);
    assert!(!gate.socket.exists(), "socket removed on shutdown");
}

#[test]
fn config_errors_name_key_line_and_allowed() {
    let dir = common::scratch("badcfg");
    let cases = [
        ("data_dir = \"/x\"\nbogus_key = 1\n", "bogus_key", "line 2"),
        (
            "lease_ttl_seconds = 99999\n",
            "lease_ttl_seconds",
            "1..=3600",
        ),
        (
            "listen_http_addr = \"nope\"\n",
            "listen_http_addr",
            "IP:PORT",
        ),
        (
            "[egress]\nallow_private = [\"10.0.0.0/99\"]\n",
            "egress.allow_private",
            "CIDR",
        ),
        ("[egress]\ncafile = \"x\"\n", "egress.cafile", "ca_file"),
        ("data_dir = \n", "line 1", ""),
    ];
    for (text, needle1, needle2) in cases {
        let cfg = dir.join("bad.toml");
        std::fs::write(&cfg, text).unwrap();
        let out = Command::new(common::bin())
            .args(["up", "--config"])
            .arg(&cfg)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}: {err}");
        assert!(
            err.contains(needle1) && err.contains(needle2),
            "{text}: {err}"
        );
    }
    let out = Command::new(common::bin())
        .args(["up", "--expose-http", "localhost"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--expose-http"));
    let out = Command::new(common::bin())
        .args(["up", "--frobnicate"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("--frobnicate"));
}

#[test]
fn live_gate_refused_stale_socket_replaced() {
    let mut gate = Gate::start("live");
    // A second gate on the same socket is refused with a clear message.
    let out = Command::new(common::bin())
        .args(["up", "--config"])
        .arg(&gate.config)
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already listening"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // kill -9 leaves a stale socket file; the next start replaces it.
    gate.kill9();
    assert!(gate.socket.exists());
    gate.spawn();
    assert_eq!(gate.request("GET", "/healthz", &[], b"").status, 200);
    assert_eq!(gate.stop(), 0);
}

#[test]
fn tcp_listener_and_public_base_url() {
    let gate = Gate::start_with(
        "tcp",
        Opts {
            tcp: true,
            ..Default::default()
        },
    );
    let addr = gate.tcp.clone().unwrap();
    let r = common::tcp_request(&addr, "GET", "/healthz", &[], b"");
    assert_eq!(r.status, 200);
    // With --expose-http, proofs are checked against http://ADDR.
    let mut agent = common::Agent::lease(&gate, None);
    agent.public_base_url = format!("http://{addr}");
    let path = "/v1/actions/echo/execute";
    let r = common::tcp_request(
        &addr,
        "POST",
        path,
        &agent.headers("POST", path, &Default::default()),
        b"{}",
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    agent.public_base_url = "http://localhost:3000".into();
    let r = common::tcp_request(
        &addr,
        "POST",
        path,
        &agent.headers("POST", path, &Default::default()),
        b"{}",
    );
    assert_eq!((r.status, r.code()), (401, "invalid_dpop".to_string()));
}

#[test]
fn sigterm_does_not_wait_for_idle_keep_alive_connections() {
    use std::io::{Read, Write};
    let mut gate = Gate::start("drain");
    let mut s = std::os::unix::net::UnixStream::connect(&gate.socket).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 256];
    let n = s.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("keep-alive"));
    // The connection stays open and idle; shutdown must not wait 30 s for it.
    let t = std::time::Instant::now();
    assert_eq!(gate.stop(), 0);
    assert!(
        t.elapsed() < std::time::Duration::from_secs(5),
        "drain took {:?}",
        t.elapsed()
    );
    drop(s);
}
