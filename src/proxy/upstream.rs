//! Reaching an upstream the way the gate's egress does: the `[egress.hosts]`
//! static map first (its address and port win), else DNS with a deadline;
//! every address must pass `EgressConfig::address_allowed` (one private
//! answer refuses the name: that is a rebinding attempt); only a checked
//! address is connected; TLS through rustls with the SNI of the host.
//!
//! `crate::egress::resolve` and `crate::egress::tls` are private to the
//! egress module, so the small resolver and the client configuration are
//! here, built from the same public pieces (`EgressConfig`, error codes).

use crate::egress::{
    EgressConfig, EgressError, CONNECT_FAILED, DNS_FAILED, PRIVATE_ADDRESS, TIMEOUT, TLS_FAILED,
};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};
use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// A TLS connection to an upstream.
pub type TlsStream = StreamOwned<ClientConnection, TcpStream>;

/// Most addresses kept from one lookup.
const MAX_ADDRS: usize = 16;

/// The addresses `host:port` may be connected to, all checked. `ip` is the
/// host's address when the host is an IP literal (routes only: CONNECT
/// refuses literals before getting here).
pub fn resolve_checked(
    host: &str,
    ip: Option<IpAddr>,
    port: u16,
    cfg: &EgressConfig,
    deadline: Instant,
) -> Result<Vec<SocketAddr>, EgressError> {
    let addrs = if let Some(target) = cfg.static_host(host) {
        vec![target.socket_addr(port)]
    } else if let Some(ip) = ip {
        vec![SocketAddr::new(ip, port)]
    } else {
        lookup(host, port, deadline)?
    };
    if let Some(bad) = addrs.iter().find(|a| !cfg.address_allowed(a.ip())) {
        return Err(EgressError::new(
            PRIVATE_ADDRESS,
            format!(
                "{host} resolves to {}, which is not public and not in allow_private",
                bad.ip()
            ),
        ));
    }
    Ok(addrs)
}

/// System resolver lookup bounded by `deadline`. getaddrinfo cannot be
/// cancelled, so it runs on a small thread that is abandoned when the
/// deadline passes first (it ends on the resolver's own timeout).
fn lookup(host: &str, port: u16, deadline: Instant) -> Result<Vec<SocketAddr>, EgressError> {
    let left = deadline.saturating_duration_since(Instant::now());
    let (tx, rx) = mpsc::sync_channel(1);
    let target = (host.to_string(), port);
    std::thread::Builder::new()
        .name("proxy-dns".into())
        .stack_size(256 * 1024)
        .spawn(move || {
            let result = target
                .to_socket_addrs()
                .map(|it| it.take(MAX_ADDRS).collect::<Vec<_>>());
            // The receiver is gone after a timeout; nothing to do then.
            let _ = tx.send(result);
        })
        .map_err(|e| EgressError::new(DNS_FAILED, format!("cannot start resolver thread: {e}")))?;
    match rx.recv_timeout(left) {
        Ok(Ok(mut addrs)) if !addrs.is_empty() => {
            addrs.dedup();
            Ok(addrs)
        }
        Ok(Ok(_)) => Err(EgressError::new(
            DNS_FAILED,
            format!("{host} has no address"),
        )),
        Ok(Err(e)) => Err(EgressError::new(
            DNS_FAILED,
            format!("cannot resolve {host}: {e}"),
        )),
        Err(_) => Err(EgressError::new(
            DNS_FAILED,
            format!("no DNS answer for {host} in time"),
        )),
    }
}

/// Connects to the first reachable address of `addrs` (only those).
pub fn connect(addrs: &[SocketAddr], deadline: Instant) -> Result<TcpStream, EgressError> {
    let mut last = String::from("no address to connect to");
    for addr in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(EgressError::new(
                TIMEOUT,
                format!("no connection in time ({last})"),
            ));
        }
        match TcpStream::connect_timeout(addr, left) {
            Ok(sock) => {
                let _ = sock.set_nodelay(true);
                return Ok(sock);
            }
            Err(e) => last = format!("{addr}: {e}"),
        }
    }
    Err(EgressError::new(CONNECT_FAILED, last))
}

/// TLS over `sock` with SNI `host` (or the IP for a literal), handshake
/// finished before `deadline`. Reads and writes then time out after
/// `idle` each.
pub fn handshake(
    sock: TcpStream,
    host: &str,
    ip: Option<IpAddr>,
    tls: &Arc<ClientConfig>,
    deadline: Instant,
    idle: Duration,
) -> Result<TlsStream, EgressError> {
    let fail = |e: String| EgressError::new(TLS_FAILED, format!("TLS with {host}: {e}"));
    let name = match ip {
        Some(ip) => ServerName::IpAddress(ip.into()),
        None => ServerName::try_from(host.to_string()).map_err(|e| fail(e.to_string()))?,
    };
    let mut conn = ClientConnection::new(tls.clone(), name).map_err(|e| fail(e.to_string()))?;
    let mut sock = sock;
    while conn.is_handshaking() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(EgressError::new(
                TIMEOUT,
                format!("TLS handshake with {host} took too long"),
            ));
        }
        set_timeouts(&sock, left).map_err(|e| fail(e.to_string()))?;
        conn.complete_io(&mut sock)
            .map_err(|e| fail(e.to_string()))?;
    }
    set_timeouts(&sock, idle).map_err(|e| fail(e.to_string()))?;
    Ok(StreamOwned::new(conn, sock))
}

fn set_timeouts(sock: &TcpStream, t: Duration) -> io::Result<()> {
    // A zero timeout means "block forever" to the socket API.
    let t = t.max(Duration::from_millis(1));
    sock.set_read_timeout(Some(t))?;
    sock.set_write_timeout(Some(t))
}

/// The rustls client configuration: the gate's egress one (webpki roots
/// plus the operator's `ca_file`, ring, ALPN http/1.1), shared, not copied.
pub use crate::egress::tls::client_config;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::egress::Cidr;
    use std::net::TcpListener;
    use std::path::Path;

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    fn loopback_allowed() -> EgressConfig {
        EgressConfig {
            allow_private: vec![Cidr::parse("127.0.0.0/8").unwrap()],
            ..EgressConfig::default()
        }
    }

    #[test]
    fn static_map_wins_and_is_still_checked() {
        let mut cfg = EgressConfig {
            hosts: vec![("api.test".into(), "127.0.0.1:4000".parse().unwrap())],
            ..EgressConfig::default()
        };
        let e = resolve_checked("API.test", None, 443, &cfg, soon()).unwrap_err();
        assert_eq!(e.code, PRIVATE_ADDRESS);
        assert!(e.message.contains("127.0.0.1"), "{e}");
        cfg.allow_private = loopback_allowed().allow_private;
        assert_eq!(
            resolve_checked("api.test", None, 443, &cfg, soon()).unwrap(),
            vec!["127.0.0.1:4000".parse().unwrap()]
        );
    }

    #[test]
    fn literals_and_dns_answers_are_checked() {
        let cfg = EgressConfig::default();
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        let e = resolve_checked("10.1.2.3", Some(ip), 443, &cfg, soon()).unwrap_err();
        assert_eq!(e.code, PRIVATE_ADDRESS);
        // "localhost" goes through the system resolver (hosts file).
        let e = resolve_checked("localhost", None, 443, &cfg, soon()).unwrap_err();
        assert_eq!(e.code, PRIVATE_ADDRESS, "{e}");
        let e = resolve_checked("no-such-host.invalid", None, 443, &cfg, soon()).unwrap_err();
        assert_eq!(e.code, DNS_FAILED, "{e}");
    }

    #[test]
    fn connect_uses_only_the_given_addresses() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let good = listener.local_addr().unwrap();
        drop(listener);
        // The port is closed now: refused.
        let e = connect(&[good], soon()).unwrap_err();
        assert_eq!(e.code, CONNECT_FAILED);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let open = listener.local_addr().unwrap();
        assert!(connect(&[good, open], soon()).is_ok());
        let e = connect(&[], soon()).unwrap_err();
        assert_eq!(e.code, CONNECT_FAILED);
    }

    #[test]
    fn tls_needs_the_configured_ca() {
        let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls");
        let with_ca = client_config(Some(&Path::new(fixtures).join("ca.pem"))).unwrap();
        let without = client_config(None).unwrap();
        for (cfg, ok) in [(with_ca, true), (without, false)] {
            let server = super::super::testkit::Upstream::start(vec![vec![]]);
            let addrs = resolve_checked(
                "upstream.test",
                None,
                443,
                &EgressConfig {
                    hosts: vec![(
                        "upstream.test".into(),
                        format!("127.0.0.1:{}", server.port).parse().unwrap(),
                    )],
                    ..loopback_allowed()
                },
                soon(),
            )
            .unwrap();
            let sock = connect(&addrs, soon()).unwrap();
            let r = handshake(
                sock,
                "upstream.test",
                None,
                &cfg,
                soon(),
                soon() - Instant::now(),
            );
            assert_eq!(r.is_ok(), ok, "{:?}", r.err());
            if let Err(e) = r {
                assert_eq!(e.code, TLS_FAILED);
            }
        }
        assert!(client_config(Some(Path::new("/nonexistent/ca.pem")))
            .unwrap_err()
            .contains("/nonexistent/ca.pem"));
    }
}
