//! Operator configuration of the egress layer.

use super::ipclass::Cidr;
use super::names::check_dns_name;
use crate::config::EgressSettings;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;

/// Where an `[egress.hosts]` name goes: an address and, optionally, a port
/// that replaces whatever port the URL names (an air-gapped mirror serving
/// `https://api.example.com/` on 8443; tests sending every API host to one
/// local mock). Written `"IP"` or `"IP:PORT"` (`"[::1]:8443"` for IPv6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StaticHost {
    /// The address connected to instead of a DNS answer.
    pub ip: IpAddr,
    /// The port connected to instead of the URL's, when set.
    pub port: Option<u16>,
}

impl StaticHost {
    /// The socket address for a URL whose port is `url_port`.
    pub fn socket_addr(&self, url_port: u16) -> SocketAddr {
        SocketAddr::new(self.ip, self.port.unwrap_or(url_port))
    }
}

impl FromStr for StaticHost {
    type Err = String;

    /// Parses `"IP"`, `"IPv4:PORT"` or `"[IPv6]:PORT"`; port 0 is refused.
    fn from_str(text: &str) -> Result<StaticHost, String> {
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(StaticHost { ip, port: None });
        }
        let addr: SocketAddr = text.parse().map_err(|_| {
            format!("{text:?} is not an IP address or IP:PORT (IPv6 as \"[::1]:8443\")")
        })?;
        if addr.port() == 0 {
            return Err(format!("{text:?}: port 0 is not a port"));
        }
        Ok(StaticHost {
            ip: addr.ip(),
            port: Some(addr.port()),
        })
    }
}

/// How the gate reaches upstreams.
#[derive(Clone, Debug, Default)]
pub struct EgressConfig {
    /// Extra trust anchors (PEM certificates) added to the webpki roots,
    /// e.g. a corporate CA or an air-gapped mirror's CA.
    pub ca_file: Option<PathBuf>,
    /// Non-public ranges that may still be contacted. Empty in production;
    /// tests and private mirrors list exactly what they need.
    pub allow_private: Vec<Cidr>,
    /// Static name -> address map (air-gapped mirrors, tests). A mapped name
    /// skips DNS and may use any port (a mapped port replaces the URL's),
    /// but its address is still checked against the private ranges unless
    /// `allow_private` covers it.
    pub hosts: Vec<(String, StaticHost)>,
}

impl EgressConfig {
    /// Converts the `[egress]` section of the gate configuration: CIDRs and
    /// `IP` / `IP:PORT` targets are parsed, host names validated and
    /// lowercased. Errors name the offending `egress.*` key.
    pub fn from_settings(settings: &EgressSettings) -> Result<EgressConfig, String> {
        let allow_private = settings
            .allow_private
            .iter()
            .map(|c| Cidr::parse(c).map_err(|e| format!("egress.allow_private: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        let mut hosts = Vec::with_capacity(settings.hosts.len());
        for (name, addr) in &settings.hosts {
            let lower = name.to_ascii_lowercase();
            if lower.parse::<IpAddr>().is_err() {
                check_dns_name(&lower).map_err(|e| format!("egress.hosts.{name}: {e}"))?;
            }
            let target =
                Self::parse_host_target(addr).map_err(|e| format!("egress.hosts.{name}: {e}"))?;
            hosts.push((lower, target));
        }
        Ok(EgressConfig {
            ca_file: settings.ca_file.clone(),
            allow_private,
            hosts,
        })
    }

    /// Parses an `[egress.hosts]` value: `"IP"` or `"IP:PORT"` (IPv6 as
    /// `"[::1]:8443"`). The config loader uses it too, so both accept the
    /// same strings.
    pub fn parse_host_target(text: &str) -> Result<StaticHost, String> {
        text.parse()
    }

    /// The static target for `host` (case-insensitive), if one is configured.
    pub fn static_host(&self, host: &str) -> Option<StaticHost> {
        self.hosts
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(host))
            .map(|(_, target)| *target)
    }

    /// True when `ip` is public or inside an `allow_private` range.
    pub fn address_allowed(&self, ip: IpAddr) -> bool {
        super::ipclass::is_public(ip) || self.in_allow_private(ip)
    }

    /// True when `ip` is inside a range the operator listed in
    /// `allow_private` (an explicit decision to reach that network).
    pub fn in_allow_private(&self, ip: IpAddr) -> bool {
        self.allow_private.iter().any(|c| c.contains(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_host_is_case_insensitive() {
        let cfg = EgressConfig {
            hosts: vec![("Upstream.Test".into(), "127.0.0.1".parse().unwrap())],
            ..EgressConfig::default()
        };
        assert_eq!(
            cfg.static_host("upstream.test"),
            Some("127.0.0.1".parse().unwrap())
        );
        assert_eq!(cfg.static_host("other.test"), None);
    }

    #[test]
    fn private_needs_an_allow_entry() {
        let mut cfg = EgressConfig::default();
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(!cfg.address_allowed(lo));
        assert!(cfg.address_allowed("8.8.8.8".parse().unwrap()));
        cfg.allow_private = vec![Cidr::parse("127.0.0.0/8").unwrap()];
        assert!(cfg.address_allowed(lo));
        assert!(!cfg.address_allowed("10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn from_settings_parses_and_names_bad_keys() {
        let s = EgressSettings {
            ca_file: Some(PathBuf::from("/etc/ca.pem")),
            allow_private: vec!["127.0.0.0/8".into(), "fd00::/8".into()],
            hosts: vec![
                ("Mirror.Internal".into(), "10.0.0.5".into()),
                ("127.0.0.1".into(), "127.0.0.1".into()),
            ],
        };
        let cfg = EgressConfig::from_settings(&s).unwrap();
        assert_eq!(cfg.ca_file, s.ca_file);
        assert_eq!(cfg.allow_private.len(), 2);
        assert_eq!(
            cfg.hosts[0],
            ("mirror.internal".into(), "10.0.0.5".parse().unwrap())
        );

        let bad_cidr = EgressSettings {
            allow_private: vec!["10.0.0.1/8".into()],
            ..EgressSettings::default()
        };
        assert!(EgressConfig::from_settings(&bad_cidr)
            .unwrap_err()
            .contains("egress.allow_private"));
        let bad_ip = EgressSettings {
            hosts: vec![("a.test".into(), "nope".into())],
            ..EgressSettings::default()
        };
        assert!(EgressConfig::from_settings(&bad_ip)
            .unwrap_err()
            .contains("egress.hosts.a.test"));
        let bad_name = EgressSettings {
            hosts: vec![("a b".into(), "10.0.0.1".into())],
            ..EgressSettings::default()
        };
        assert!(EgressConfig::from_settings(&bad_name).is_err());
    }

    #[test]
    fn host_targets_take_an_optional_port() {
        let t = |s: &str| EgressConfig::parse_host_target(s);
        let v4: IpAddr = "127.0.0.1".parse().unwrap();
        let v6: IpAddr = "::1".parse().unwrap();
        assert_eq!(t("127.0.0.1").unwrap(), StaticHost { ip: v4, port: None });
        assert_eq!(t("::1").unwrap(), StaticHost { ip: v6, port: None });
        assert_eq!(
            t("127.0.0.1:8443").unwrap(),
            StaticHost {
                ip: v4,
                port: Some(8443)
            }
        );
        assert_eq!(
            t("[::1]:8443").unwrap(),
            StaticHost {
                ip: v6,
                port: Some(8443)
            }
        );
        for bad in [
            "",
            "host.test",
            "host.test:443",
            "127.0.0.1:",
            "127.0.0.1:0",
            "127.0.0.1:65536",
            "127.0.0.1:-1",
            "[::1]",
            "[::1]:x",
            " 127.0.0.1",
            "127.0.0.1:443/x",
        ] {
            assert!(t(bad).is_err(), "{bad:?} accepted");
        }
        // Unbracketed, a trailing group is part of the IPv6 address.
        assert_eq!(t("::1:8443").unwrap().port, None);
        // A mapped port replaces the URL's; without one the URL's is kept.
        assert_eq!(
            t("10.0.0.5:8443").unwrap().socket_addr(443),
            "10.0.0.5:8443".parse().unwrap()
        );
        assert_eq!(
            t("10.0.0.5").unwrap().socket_addr(9443),
            "10.0.0.5:9443".parse().unwrap()
        );
    }

    #[test]
    fn from_settings_keeps_ports_and_names_bad_ones() {
        let s = EgressSettings {
            hosts: vec![
                ("api.github.com".into(), "127.0.0.1:40001".into()),
                ("Mirror.Test".into(), "[fd00::5]:8443".into()),
            ],
            ..EgressSettings::default()
        };
        let cfg = EgressConfig::from_settings(&s).unwrap();
        assert_eq!(
            cfg.static_host("API.GitHub.com")
                .map(|t| t.socket_addr(443)),
            Some("127.0.0.1:40001".parse().unwrap())
        );
        assert_eq!(
            cfg.static_host("mirror.test").map(|t| t.socket_addr(443)),
            Some("[fd00::5]:8443".parse().unwrap())
        );
        for bad in ["127.0.0.1:0", "127.0.0.1:99999", "[fd00::5]", "x:1"] {
            let s = EgressSettings {
                hosts: vec![("api.github.com".into(), bad.into())],
                ..EgressSettings::default()
            };
            let e = EgressConfig::from_settings(&s).unwrap_err();
            assert!(e.starts_with("egress.hosts.api.github.com: "), "{bad}: {e}");
        }
    }

    #[test]
    fn config_file_hosts_accept_ports_and_errors_name_the_key() {
        let text = "data_dir = \"/tmp/x\"\n[egress]\nallow_private = [\"127.0.0.0/8\"]\n\
                    [egress.hosts]\n\"api.github.com\" = \"127.0.0.1:40001\"\n\
                    \"mirror.test\" = \"[::1]:8443\"\n\"plain.test\" = \"10.0.0.1\"\n";
        let cfg = crate::config::load_from_str(text, "t.toml", None).unwrap();
        let egress = EgressConfig::from_settings(&cfg.egress).unwrap();
        let at = |h: &str| egress.static_host(h).map(|t| t.socket_addr(443));
        assert_eq!(
            at("api.github.com"),
            Some("127.0.0.1:40001".parse().unwrap())
        );
        assert_eq!(at("mirror.test"), Some("[::1]:8443".parse().unwrap()));
        assert_eq!(at("plain.test"), Some("10.0.0.1:443".parse().unwrap()));
        for bad in [
            "127.0.0.1:0",
            "::1]:8443",
            "api.github.com:443",
            "127.0.0.1:70000",
        ] {
            let text = format!("[egress.hosts]\n\"api.github.com\" = \"{bad}\"\n");
            let e = crate::config::load_from_str(&text, "t.toml", None)
                .unwrap_err()
                .to_string();
            assert!(e.contains("`egress.hosts.api.github.com`"), "{bad}: {e}");
            assert!(e.contains("line 2"), "{bad}: {e}");
        }
    }

    #[test]
    fn in_allow_private_is_only_the_listed_ranges() {
        let mut cfg = EgressConfig::default();
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(!cfg.in_allow_private(lo));
        cfg.allow_private = vec![Cidr::parse("127.0.0.0/8").unwrap()];
        assert!(cfg.in_allow_private(lo));
        // Public addresses are allowed to connect but are not "allowed private".
        assert!(!cfg.in_allow_private("8.8.8.8".parse().unwrap()));
        assert!(!cfg.in_allow_private("10.0.0.1".parse().unwrap()));
    }
}
