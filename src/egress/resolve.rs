//! Turning a URL host into the addresses that may be connected to.
//!
//! Static hosts (whose mapped port, if any, replaces the URL's) and IP
//! literals skip DNS; names go through the system resolver on a helper
//! thread so the deadline still bounds the wait. Every address is then
//! checked: one private address refuses the whole request
//! (a name that mixes public and private answers is a rebinding attempt).

use super::config::EgressConfig;
use super::error::{EgressError, DNS_FAILED, PRIVATE_ADDRESS, TIMEOUT};
use super::url::Url;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::mpsc;
use std::thread;
use std::time::Instant;

/// Most addresses kept from one lookup (all of them are still checked).
const MAX_ADDRS: usize = 16;

/// Resolves `url` and checks every address. The returned addresses are the
/// only ones the caller may connect to.
pub fn resolve_checked(
    url: &Url,
    cfg: &EgressConfig,
    deadline: Instant,
) -> Result<Vec<SocketAddr>, EgressError> {
    let addrs = resolve(url, cfg, deadline)?;
    check_addresses(&addrs, cfg)?;
    Ok(addrs)
}

/// Static host map (its port, if set, wins over the URL's), then IP
/// literal, then DNS.
fn resolve(
    url: &Url,
    cfg: &EgressConfig,
    deadline: Instant,
) -> Result<Vec<SocketAddr>, EgressError> {
    if let Some(target) = cfg.static_host(url.bare_host()) {
        return Ok(vec![target.socket_addr(url.port)]);
    }
    if let Some(ip) = url.ip {
        return Ok(vec![SocketAddr::new(ip, url.port)]);
    }
    let mut addrs = lookup(url.bare_host(), url.port, deadline)?;
    addrs.dedup();
    if addrs.is_empty() {
        return Err(EgressError::new(
            DNS_FAILED,
            format!("{} has no address", url.host),
        ));
    }
    Ok(addrs)
}

/// Every address must be public or inside an `allow_private` range.
pub fn check_addresses(addrs: &[SocketAddr], cfg: &EgressConfig) -> Result<(), EgressError> {
    match addrs.iter().find(|a| !cfg.address_allowed(a.ip())) {
        Some(a) => Err(EgressError::new(
            PRIVATE_ADDRESS,
            format!("address {} is not public and not in allow_private", a.ip()),
        )),
        None => Ok(()),
    }
}

/// System resolver lookup bounded by `deadline`. getaddrinfo cannot be
/// cancelled, so it runs on a small thread that is abandoned (and ends on
/// its own resolver timeout) when the deadline passes first.
fn lookup(host: &str, port: u16, deadline: Instant) -> Result<Vec<SocketAddr>, EgressError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(EgressError::new(TIMEOUT, "deadline passed before DNS"));
    }
    let (tx, rx) = mpsc::sync_channel(1);
    let target = (host.to_string(), port);
    thread::Builder::new()
        .name("egress-dns".into())
        .stack_size(256 * 1024)
        .spawn(move || {
            let result = target
                .to_socket_addrs()
                .map(|it| it.take(MAX_ADDRS).collect::<Vec<_>>());
            // The receiver may be gone after a timeout; nothing to do then.
            let _ = tx.send(result);
        })
        .map_err(|e| EgressError::new(DNS_FAILED, format!("cannot start resolver thread: {e}")))?;
    match rx.recv_timeout(left) {
        Ok(Ok(addrs)) => Ok(addrs),
        Ok(Err(e)) => Err(EgressError::new(
            DNS_FAILED,
            format!("cannot resolve {host}: {e}"),
        )),
        Err(mpsc::RecvTimeoutError::Timeout) => Err(EgressError::new(
            TIMEOUT,
            format!("deadline passed resolving {host}"),
        )),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(EgressError::new(
            DNS_FAILED,
            format!("resolver thread for {host} died"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::egress::ipclass::Cidr;
    use crate::egress::url::parse;
    use std::time::Duration;

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    #[test]
    fn static_hosts_skip_dns_and_keep_the_port() {
        let cfg = EgressConfig {
            hosts: vec![("upstream.test".into(), "203.0.113.5".parse().unwrap())],
            ..EgressConfig::default()
        };
        let url = parse("https://UPSTREAM.test:9443/").unwrap();
        let addrs = resolve(&url, &cfg, soon()).unwrap();
        assert_eq!(addrs, vec!["203.0.113.5:9443".parse().unwrap()]);
        // ...but the address is still checked (TEST-NET-3 is not public).
        let e = resolve_checked(&url, &cfg, soon()).unwrap_err();
        assert_eq!(e.code, PRIVATE_ADDRESS);
        assert!(e.message.contains("203.0.113.5"), "{}", e.message);
    }

    #[test]
    fn a_mapped_port_replaces_the_url_port() {
        let cfg = EgressConfig {
            hosts: vec![
                ("api.github.com".into(), "127.0.0.1:40001".parse().unwrap()),
                ("mirror.test".into(), "[::1]:8443".parse().unwrap()),
            ],
            allow_private: vec![Cidr::parse("127.0.0.0/8").unwrap()],
            ..EgressConfig::default()
        };
        for u in ["https://api.github.com/x", "https://API.github.com:9443/x"] {
            let addrs = resolve_checked(&parse(u).unwrap(), &cfg, soon()).unwrap();
            assert_eq!(addrs, vec!["127.0.0.1:40001".parse().unwrap()], "{u}");
        }
        let url = parse("https://mirror.test/").unwrap();
        assert_eq!(
            resolve(&url, &cfg, soon()).unwrap(),
            vec!["[::1]:8443".parse().unwrap()]
        );
        // The mapped address is still checked: ::1 is not in allow_private.
        let e = resolve_checked(&url, &cfg, soon()).unwrap_err();
        assert_eq!(e.code, PRIVATE_ADDRESS);
    }

    #[test]
    fn ip_literals_are_checked() {
        let cfg = EgressConfig::default();
        for u in [
            "https://127.0.0.1/",
            "https://[::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://169.254.169.254/",
        ] {
            let e = resolve_checked(&parse(u).unwrap(), &cfg, soon()).unwrap_err();
            assert_eq!(e.code, PRIVATE_ADDRESS, "{u}");
        }
        let addrs = resolve_checked(&parse("https://8.8.8.8/").unwrap(), &cfg, soon()).unwrap();
        assert_eq!(addrs, vec!["8.8.8.8:443".parse().unwrap()]);
    }

    #[test]
    fn allow_private_admits_only_its_range() {
        let cfg = EgressConfig {
            allow_private: vec![Cidr::parse("127.0.0.0/8").unwrap()],
            ..EgressConfig::default()
        };
        assert!(resolve_checked(&parse("https://127.0.0.1/").unwrap(), &cfg, soon()).is_ok());
        let e = resolve_checked(&parse("https://10.0.0.1/").unwrap(), &cfg, soon()).unwrap_err();
        assert_eq!(e.code, PRIVATE_ADDRESS);
    }

    #[test]
    fn one_private_answer_refuses_all() {
        let cfg = EgressConfig::default();
        let addrs: Vec<SocketAddr> = vec![
            "8.8.8.8:443".parse().unwrap(),
            "10.0.0.1:443".parse().unwrap(),
        ];
        let e = check_addresses(&addrs, &cfg).unwrap_err();
        assert_eq!(e.code, PRIVATE_ADDRESS);
        assert!(e.message.contains("10.0.0.1"));
    }

    #[test]
    fn names_resolving_to_loopback_are_refused_after_dns() {
        // "localhost" goes through the system resolver (hosts file).
        let url = parse("https://localhost/").unwrap();
        let e = resolve_checked(&url, &EgressConfig::default(), soon()).unwrap_err();
        assert_eq!(e.code, PRIVATE_ADDRESS, "{e}");
        assert!(
            e.message.contains("127.0.0.1") || e.message.contains("::1"),
            "{e}"
        );
    }

    #[test]
    fn unresolvable_and_late_lookups_fail() {
        let url = parse("https://no-such-host.invalid/").unwrap();
        let e = resolve_checked(&url, &EgressConfig::default(), soon()).unwrap_err();
        assert!(e.code == DNS_FAILED || e.code == TIMEOUT, "{e}");
        let e = resolve_checked(&url, &EgressConfig::default(), Instant::now()).unwrap_err();
        assert_eq!(e.code, TIMEOUT);
    }
}
