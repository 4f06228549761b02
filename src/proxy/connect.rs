//! `CONNECT host:443`: the HTTPS allowlist tunnel.
//!
//! Only authority-form `host:443` with `host` exactly (case-insensitively)
//! in `allow_hosts`; IP literals refused even when listed. The host is
//! resolved ([egress.hosts] first, else DNS), every address checked, and
//! only a checked address connected. A refusal emits `Event::Denied` and
//! closes without writing a byte (the in-sandbox forwarder turns that into
//! a TCP reset). On success: `200 Connection Established`, the bytes that
//! came with the head go upstream first, then a blind relay (TLS passes
//! through untouched).

use super::conn::AgentReader;
use super::event::{self, Event};
use super::head::RequestHead;
use super::{relay, upstream, Shared, CONNECT_TIMEOUT};
use std::io::{BufReader, Write};
use std::net::Ipv4Addr;
use std::os::unix::net::UnixStream;
use std::time::Instant;

/// The only port a tunnel may reach.
pub const TUNNEL_PORT: u16 = 443;

const ESTABLISHED: &[u8] = b"HTTP/1.1 200 Connection Established\r\n\r\n";

/// Serves one CONNECT request; the connection is the tunnel's afterwards.
pub fn tunnel(
    agent: &UnixStream,
    reader: &BufReader<AgentReader>,
    head: &RequestHead,
    shared: &Shared,
) {
    let started = Instant::now();
    let deny = |reason: &'static str, detail: String| {
        shared.emit(Event::Denied {
            target: head.target.clone(),
            reason,
            detail,
        });
    };
    let host = match check_target(&head.target, &shared.allow_hosts) {
        Ok(h) => h,
        Err((reason, detail)) => return deny(reason, detail),
    };
    let deadline = started + CONNECT_TIMEOUT;
    let addrs = match upstream::resolve_checked(&host, None, TUNNEL_PORT, &shared.egress, deadline)
    {
        Ok(a) => a,
        Err(e) if e.code == event::PRIVATE_ADDRESS => {
            return deny(event::PRIVATE_ADDRESS, e.message)
        }
        Err(e) => return deny(event::DNS_FAILED, e.message),
    };
    let sock = match upstream::connect(&addrs, deadline) {
        Ok(s) => s,
        Err(e) => return deny(event::CONNECT_FAILED, e.message),
    };
    let Ok(peer) = sock.peer_addr() else {
        return deny(event::CONNECT_FAILED, format!("{host}: connection lost"));
    };
    let mut w = agent;
    if w.write_all(ESTABLISHED).and_then(|_| w.flush()).is_err() {
        return;
    }
    // Whatever the client sent after the head (often its TLS ClientHello)
    // is already in our buffer: it goes upstream first.
    let totals = relay::run(agent, sock, reader.buffer(), shared.idle);
    shared.emit(Event::Tunnel {
        target: head.target.clone(),
        peer,
        bytes_up: totals.up,
        bytes_down: totals.down,
        duration: started.elapsed(),
    });
}

/// The lower-cased host of an allowed `host:443` target, or the denial
/// reason and its detail.
pub fn check_target(target: &str, allow: &[String]) -> Result<String, (&'static str, String)> {
    let bad = |why: &str| {
        (
            event::BAD_TARGET,
            format!("CONNECT target {target:?}: {why}"),
        )
    };
    let (host, port) = target
        .rsplit_once(':')
        .ok_or_else(|| bad("expected host:port"))?;
    if host.starts_with('[') || host.contains(':') {
        return Err((
            event::IP_LITERAL,
            format!("{target}: IP literals are not allowed, only host names"),
        ));
    }
    if port.is_empty()
        || port.len() > 5
        || port.starts_with('0')
        || !port.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad("bad port"));
    }
    if port.parse::<u16>().ok() != Some(TUNNEL_PORT) {
        return Err((
            event::PORT_NOT_ALLOWED,
            format!("{target}: only port {TUNNEL_PORT} may be tunnelled"),
        ));
    }
    let host = host.to_ascii_lowercase();
    if host.is_empty() || host.contains(['/', '@']) {
        return Err(bad("bad host"));
    }
    // Dotted digits (and shorthand such as 127.1) are addresses to the
    // system resolver: refuse them as literals.
    if host.parse::<Ipv4Addr>().is_ok() || host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err((
            event::IP_LITERAL,
            format!("{target}: IP literals are not allowed, only host names"),
        ));
    }
    if !allow.contains(&host) {
        return Err((
            event::HOST_NOT_ALLOWED,
            format!("{host} is not in allow_hosts"),
        ));
    }
    Ok(host)
}

#[cfg(test)]
mod tests {
    use super::super::event::*;
    use super::super::testkit::{closed_without_a_byte, egress_to, Harness, Step, Upstream};
    use super::super::ProxyConfig;
    use super::*;
    use crate::egress::EgressConfig;
    use rustls::pki_types::ServerName;
    use rustls::{ClientConnection, StreamOwned};
    use std::io::{BufReader, Read};
    use std::net::{Shutdown, TcpListener};

    fn allowing(hosts: &[&str], egress: EgressConfig) -> ProxyConfig {
        ProxyConfig {
            allow_hosts: hosts.iter().map(|h| h.to_string()).collect(),
            egress,
            ..ProxyConfig::deny_all()
        }
    }

    fn read_exactly(mut a: &UnixStream, n: usize) -> Vec<u8> {
        let mut buf = vec![0u8; n];
        a.read_exact(&mut buf).unwrap();
        buf
    }

    #[test]
    fn target_rules() {
        let allow = vec!["api.anthropic.com".to_string(), "127.0.0.1".to_string()];
        let ok = |t: &str| check_target(t, &allow);
        assert_eq!(ok("api.anthropic.com:443").unwrap(), "api.anthropic.com");
        assert_eq!(ok("API.Anthropic.COM:443").unwrap(), "api.anthropic.com");
        let reason = |t: &str| ok(t).unwrap_err().0;
        assert_eq!(reason("api.anthropic.com:80"), event::PORT_NOT_ALLOWED);
        assert_eq!(reason("api.anthropic.com:4443"), event::PORT_NOT_ALLOWED);
        assert_eq!(reason("evil.com:443"), event::HOST_NOT_ALLOWED);
        assert_eq!(reason("api.anthropic.com.:443"), event::HOST_NOT_ALLOWED);
        assert_eq!(reason("sub.api.anthropic.com:443"), event::HOST_NOT_ALLOWED);
        assert_eq!(reason("127.0.0.1:443"), event::IP_LITERAL);
        assert_eq!(reason("127.1:443"), event::IP_LITERAL);
        assert_eq!(reason("[::1]:443"), event::IP_LITERAL);
        assert_eq!(reason("[2606:4700::1]:443"), event::IP_LITERAL);
        for bad in [
            "api.anthropic.com",
            "api.anthropic.com:",
            "api.anthropic.com:+443",
            "api.anthropic.com:443443",
            "api.anthropic.com:0443",
            ":443",
            "user@api.anthropic.com:443",
            "/x:443",
        ] {
            assert_eq!(reason(bad), event::BAD_TARGET, "{bad}");
        }
    }

    #[test]
    fn allowed_connect_relays_early_data_both_ways_and_half_close() {
        let target = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = target.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut s, _) = target.accept().unwrap();
            let mut first = [0u8; 5];
            s.read_exact(&mut first).unwrap();
            s.write_all(b"WORLD").unwrap();
            let mut rest = Vec::new();
            s.read_to_end(&mut rest).unwrap(); // ends at the agent's half-close
            s.write_all(b"BYE").unwrap();
            [&first[..], &rest[..]].concat()
        });
        let h = Harness::start(allowing(
            &["api.anthropic.com"],
            egress_to(&[("api.anthropic.com", port)]),
        ));
        let mut a = h.agent();
        // The head and the first bytes of the tunnel in one write.
        a.write_all(
            b"CONNECT API.Anthropic.com:443 HTTP/1.1\r\nHost: api.anthropic.com:443\r\n\r\nHELLO",
        )
        .unwrap();
        let established = b"HTTP/1.1 200 Connection Established\r\n\r\n";
        let got = read_exactly(&a, established.len() + 5);
        assert_eq!(got, [&established[..], b"WORLD"].concat());
        a.write_all(b"MORE").unwrap();
        a.shutdown(Shutdown::Write).unwrap();
        let mut tail = Vec::new();
        a.read_to_end(&mut tail).unwrap();
        assert_eq!(tail, b"BYE");
        assert_eq!(server.join().unwrap(), b"HELLOMORE");
        let events = h.wait_events(1);
        assert_eq!(
            events[0].clone(),
            Event::Tunnel {
                target: "API.Anthropic.com:443".into(),
                peer: format!("127.0.0.1:{port}").parse().unwrap(),
                bytes_up: 9,
                bytes_down: 8,
                duration: match &events[0] {
                    Event::Tunnel { duration, .. } => *duration,
                    _ => unreachable!(),
                },
            }
        );
    }

    #[test]
    fn tls_passes_through_untouched() {
        // The agent's own TLS session, end to end through the tunnel: the
        // handshake only verifies if every byte is relayed as sent.
        let up = Upstream::start(vec![vec![Step::Send(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec(),
        )]]);
        let h = Harness::start(allowing(
            &["upstream.test"],
            egress_to(&[("upstream.test", up.port)]),
        ));
        let a = h.agent();
        (&a).write_all(b"CONNECT upstream.test:443 HTTP/1.1\r\n\r\n")
            .unwrap();
        let established = b"HTTP/1.1 200 Connection Established\r\n\r\n";
        assert_eq!(read_exactly(&a, established.len()), established);
        let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls/ca.pem");
        let cfg = upstream::client_config(Some(std::path::Path::new(fixtures))).unwrap();
        let name = ServerName::try_from("upstream.test").unwrap();
        let mut tls = StreamOwned::new(ClientConnection::new(cfg, name).unwrap(), a);
        tls.write_all(b"GET /x HTTP/1.1\r\nHost: upstream.test\r\n\r\n")
            .unwrap();
        let mut r = BufReader::new(tls);
        let (resp, body) = super::super::testkit::read_response(&mut r, "GET");
        assert_eq!((resp.status, body), (200, b"ok".to_vec()));
        assert_eq!(up.next().head.target, "/x");
    }

    #[test]
    fn refusals_close_without_a_byte_and_report() {
        // A live listener behind every mapped name: refusals must happen
        // before any connection to it.
        let target = TcpListener::bind("127.0.0.1:0").unwrap();
        target.set_nonblocking(true).unwrap();
        let port = target.local_addr().unwrap().port();
        let closed = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut egress = egress_to(&[
            ("api.anthropic.com", port),
            ("127.0.0.1", port),
            ("closed.test", closed),
        ]);
        egress.hosts.push((
            "private.test".into(),
            format!("10.0.0.1:{port}").parse().unwrap(),
        ));
        let h = Harness::start(allowing(
            &[
                "api.anthropic.com",
                "127.0.0.1",
                "::1",
                "private.test",
                "closed.test",
                "no-such-host.invalid",
            ],
            egress,
        ));
        let cases = [
            ("evil.com:443", HOST_NOT_ALLOWED),
            ("api.anthropic.com:80", PORT_NOT_ALLOWED),
            ("127.0.0.1:443", IP_LITERAL),
            ("[::1]:443", IP_LITERAL),
            ("api.anthropic.com", BAD_TARGET),
            ("private.test:443", PRIVATE_ADDRESS),
            ("closed.test:443", CONNECT_FAILED),
            ("no-such-host.invalid:443", DNS_FAILED),
        ];
        for (i, (t, reason)) in cases.iter().enumerate() {
            let mut a = h.agent();
            a.write_all(
                format!("CONNECT {t} HTTP/1.1\r\nHost: {t}\r\n\r\n\x16\x03\x01").as_bytes(),
            )
            .unwrap();
            assert!(closed_without_a_byte(&a), "{t}: bytes came back");
            let events = h.wait_events(i + 1);
            match &events[i] {
                Event::Denied {
                    target,
                    reason: r,
                    detail,
                } => {
                    assert_eq!((target.as_str(), *r), (*t, *reason), "{detail}");
                }
                other => panic!("{t}: {other:?}"),
            }
        }
        assert!(target.accept().is_err(), "a refused target was connected");
    }
}
