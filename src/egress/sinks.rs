//! Declared sinks: which hosts a request may reach.
//!
//! Matching follows the reference kernel: case-insensitive; a plain entry
//! matches the host itself or any subdomain where the byte before the
//! suffix is `.` (`api.com` does not match `evil-api.com`); `*.x.y` needs at
//! least one label before the suffix and never matches bare `x.y`.

use super::names::check_dns_name;
use std::net::IpAddr;

/// What one rule matches.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    /// `name`: the name itself and every subdomain of it.
    Name(String),
    /// `*.suffix`: strict subdomains of `suffix` only.
    Wildcard(String),
    /// An IP literal: exactly that address, no subdomains.
    Ip(IpAddr),
}

/// One sink entry, validated and lowercased.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainRule {
    kind: Kind,
}

impl DomainRule {
    /// Parses `name`, `*.suffix` or an IP literal (`1.2.3.4`, `::1`,
    /// `[::1]`). Names follow DNS label rules and need at least two labels
    /// (a plain entry also covers subdomains, so `com` would be as broad as
    /// `*.com`); a wildcard needs at least two labels after `*.`.
    pub fn parse(entry: &str) -> Result<DomainRule, String> {
        let lower = entry.to_ascii_lowercase();
        if let Some(ip) = parse_ip(&lower) {
            return Ok(DomainRule { kind: Kind::Ip(ip) });
        }
        let (wildcard, name) = match lower.strip_prefix("*.") {
            Some(suffix) => (true, suffix),
            None => (false, lower.as_str()),
        };
        check_dns_name(name).map_err(|e| format!("sink {entry:?}: {e}"))?;
        if !name.contains('.') {
            let what = if wildcard {
                "wildcard over a top-level domain"
            } else {
                "single-label name"
            };
            return Err(format!("sink {entry:?}: {what} is too broad"));
        }
        let name = name.to_string();
        let kind = if wildcard {
            Kind::Wildcard(name)
        } else {
            Kind::Name(name)
        };
        Ok(DomainRule { kind })
    }

    /// True when `host` (as in a URL: IPv6 may be bracketed) is covered.
    pub fn matches(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        match &self.kind {
            Kind::Ip(ip) => parse_ip(&host) == Some(*ip),
            Kind::Name(name) => host == *name || is_strict_subdomain(&host, name),
            Kind::Wildcard(suffix) => is_strict_subdomain(&host, suffix),
        }
    }
}

impl std::fmt::Display for DomainRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            Kind::Name(n) => f.write_str(n),
            Kind::Wildcard(s) => write!(f, "*.{s}"),
            Kind::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// `host` is `<at least one byte>.suffix`.
fn is_strict_subdomain(host: &str, suffix: &str) -> bool {
    match host.strip_suffix(suffix).and_then(|p| p.strip_suffix('.')) {
        Some(prefix) => !prefix.is_empty(),
        None => false,
    }
}

/// An IPv4 literal, or an IPv6 literal with or without brackets.
fn parse_ip(text: &str) -> Option<IpAddr> {
    let bare = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    bare.parse().ok()
}

/// The concrete sinks of one request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sinks(pub Vec<DomainRule>);

impl Sinks {
    /// Parses every entry; the first bad one is the error.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Sinks, String> {
        let rules = entries
            .iter()
            .map(|e| DomainRule::parse(e.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Sinks(rules))
    }

    /// True when any rule covers `host`.
    pub fn allows(&self, host: &str) -> bool {
        self.0.iter().any(|r| r.matches(host))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(s: &str) -> DomainRule {
        DomainRule::parse(s).unwrap()
    }

    #[test]
    fn plain_entry_matches_host_and_dotted_subdomains() {
        let r = rule("api.com");
        assert!(r.matches("api.com"));
        assert!(r.matches("v1.api.com"));
        assert!(r.matches("a.b.api.com"));
        assert!(!r.matches("evil-api.com"));
        assert!(!r.matches("evilapi.com"));
        assert!(!r.matches("api.com.evil.com"));
        assert!(!r.matches("api.co"));
        assert!(!r.matches("pi.com"));
        assert!(!r.matches(".api.com"));
        assert!(!r.matches(""));
    }

    #[test]
    fn wildcard_needs_a_label_before_the_suffix() {
        let r = rule("*.x.y");
        assert!(r.matches("a.x.y"));
        assert!(r.matches("a.b.x.y"));
        assert!(!r.matches("x.y"));
        assert!(!r.matches("ax.y"));
        assert!(!r.matches(".x.y"));
        assert!(!r.matches("a.x.y.z"));
    }

    #[test]
    fn case_insensitive_both_ways() {
        let r = rule("API.Example.COM");
        assert_eq!(r.to_string(), "api.example.com");
        assert!(r.matches("api.example.com"));
        assert!(r.matches("V1.API.EXAMPLE.COM"));
        assert!(rule("*.X.Y").matches("A.x.Y"));
    }

    #[test]
    fn rejects_bad_entries() {
        for bad in [
            "",
            "*",
            "*.",
            "*.com",
            "com",
            "localhost",
            "*.*.com",
            "a.*.com",
            "a*.com",
            "*a.com",
            "**.a.com",
            "a..com",
            "a.com.",
            " a.com",
            "a_b.com",
            "-a.com",
            "a.com/x",
            "a.com:443",
            "127.1",
            "a.0x7f",
        ] {
            assert!(DomainRule::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ip_entries_match_exactly() {
        let r = rule("127.0.0.1");
        assert!(r.matches("127.0.0.1"));
        assert!(!r.matches("x.127.0.0.1"));
        assert!(!r.matches("127.0.0.2"));
        let r = rule("[2001:DB8::1]");
        assert!(r.matches("[2001:db8::1]"));
        assert!(r.matches("[2001:db8:0::1]"));
        assert!(!r.matches("[2001:db8::2]"));
        assert!(rule("::1").matches("[::1]"));
    }

    #[test]
    fn sinks_allow_any_matching_rule() {
        let s = Sinks::parse(&["api.com", "*.cdn.example.org"]).unwrap();
        assert!(s.allows("api.com"));
        assert!(s.allows("img.cdn.example.org"));
        assert!(!s.allows("cdn.example.org"));
        assert!(!s.allows("evil.com"));
        assert!(!Sinks::default().allows("api.com"));
        assert!(Sinks::parse(&["api.com", "*.com"]).is_err());
    }
}
