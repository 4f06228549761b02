//! CONNECT targets (`src/proxy/connect.rs`, `check_target`) and the
//! bridge's `--listen`/`--connect` addresses (`src/bridge/addr.rs`).
//!
//! Input: the first line is the CONNECT target (the request target as the
//! head parser passes it), the other lines the proxy's `allow_hosts`
//! (normalised as the proxy does). Properties: no panic; a tunnel is only
//! ever allowed to `host:443` where `host` is listed, is no IP literal and
//! is exactly the target's host lower-cased; a parsed bridge address prints
//! back to the same address.
#![no_main]

use latchgate::bridge::addr::{self, Target};
use latchgate::proxy::check_target;
use latchgate::proxy::TUNNEL_PORT;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let target = lines.next().unwrap_or_default();
    // As `Shared::new` normalises the configured list.
    let allow: Vec<String> = lines
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect();

    if let Ok(host) = check_target(target, &allow) {
        assert!(allow.contains(&host), "{host:?} is not in the allowlist");
        let suffix = format!(":{TUNNEL_PORT}");
        let named = target
            .strip_suffix(&suffix)
            .expect("an allowed target ends in :443");
        assert_eq!(named.to_ascii_lowercase(), host);
        assert!(
            host.parse::<std::net::IpAddr>().is_err(),
            "IP literal {host:?}"
        );
        assert!(!host.contains([':', '/', '@', '[']), "host {host:?}");
        assert!(!host.bytes().all(|b| b.is_ascii_digit() || b == b'.'));
    }
    // The same target against an allowlist holding it: still never an IP.
    let mut all = allow.clone();
    if let Some((h, _)) = target.rsplit_once(':') {
        all.push(h.to_ascii_lowercase());
    }
    if let Ok(host) = check_target(target, &all) {
        assert!(
            host.parse::<std::net::IpAddr>().is_err(),
            "IP literal {host:?}"
        );
    }

    for line in text.split('\n') {
        bridge_address(line);
    }
});

fn bridge_address(s: &str) {
    let listen = addr::listen(s);
    let target = addr::target(s);
    if let (Ok(l), Ok(t)) = (&listen, &target) {
        let _ = addr::same(l, t);
    }
    match target {
        Ok(t @ (Target::Tcp(_) | Target::Host { .. })) => {
            if let Target::Host { name, port } = &t {
                assert_ne!(*port, 0);
                assert!(!name.is_empty() && !name.contains([':', '/', '[']));
            }
            assert_eq!(addr::target(&t.to_string()), Ok(t.clone()), "{s:?}");
        }
        Ok(Target::Unix(p)) => assert!(!p.as_os_str().is_empty()),
        Err(_) => {}
    }
    if let Ok(addr::Listen::Tcp(a)) = listen {
        assert_ne!(a.port(), 0);
        assert_eq!(addr::listen(&a.to_string()), Ok(addr::Listen::Tcp(a)));
    }
}
