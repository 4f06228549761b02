//! Operator configuration of the egress layer.

use super::ipclass::Cidr;
use super::names::check_dns_name;
use crate::config::EgressSettings;
use std::net::IpAddr;
use std::path::PathBuf;

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
    /// skips DNS and may use any port, but its address is still checked
    /// against the private ranges unless `allow_private` covers it.
    pub hosts: Vec<(String, IpAddr)>,
}

impl EgressConfig {
    /// Converts the `[egress]` section of the gate configuration: CIDRs and
    /// addresses are parsed, host names validated and lowercased. Errors
    /// name the offending `egress.*` key.
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
            let ip: IpAddr = addr
                .parse()
                .map_err(|_| format!("egress.hosts.{name}: {addr:?} is not an IP address"))?;
            hosts.push((lower, ip));
        }
        Ok(EgressConfig {
            ca_file: settings.ca_file.clone(),
            allow_private,
            hosts,
        })
    }

    /// The static address for `host` (case-insensitive), if one is configured.
    pub fn static_host(&self, host: &str) -> Option<IpAddr> {
        self.hosts
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(host))
            .map(|(_, ip)| *ip)
    }

    /// True when `ip` is public or inside an `allow_private` range.
    pub fn address_allowed(&self, ip: IpAddr) -> bool {
        super::ipclass::is_public(ip) || self.allow_private.iter().any(|c| c.contains(ip))
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
}
