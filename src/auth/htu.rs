//! DPoP `htu` normalisation (RFC 9449 §4.2 comparison), identical to the
//! Python SDK's `_normalize_htu` so both sides agree byte for byte:
//!
//! 1. drop `#fragment`, then `?query`;
//! 2. lowercase scheme and authority, keep the path's case;
//! 3. drop `:80` for http and `:443` for https;
//! 4. a bare authority gets the path `/`;
//! 5. percent escapes are left exactly as they are.
//!
//! Text without `://` is returned with only step 1 applied; it can never
//! equal a real expected URL, so it simply fails the comparison.

/// The normalised form of `uri`.
pub fn normalize(uri: &str) -> String {
    let uri = uri.split('#').next().unwrap_or("");
    let uri = uri.split('?').next().unwrap_or("");
    let Some((scheme, rest)) = uri.split_once("://") else {
        return uri.to_string();
    };
    let scheme = scheme.to_lowercase();
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, "/"),
    };
    let authority = strip_default_port(&authority.to_lowercase(), &scheme);
    format!("{scheme}://{authority}{path}")
}

/// Drops the scheme's default port. The port is after the last `:`, which
/// also holds for bracketed IPv6 hosts (`[::1]:443`); a bare `[::1]` has no
/// port and ends in `]`, so it never matches.
fn strip_default_port(authority: &str, scheme: &str) -> String {
    if let Some((host, port)) = authority.rsplit_once(':') {
        if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
            return host.to_string();
        }
    }
    authority.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The six cases of vectors/dpop-cases.json `htu_normalisation_cases`.
    #[test]
    fn golden_cases() {
        let cases = [
            (
                "https://host.example/path?q=1#frag",
                "https://host.example/path",
            ),
            ("HTTPS://HOST.EXAMPLE/Path", "https://host.example/Path"),
            ("https://host.example:443/api", "https://host.example/api"),
            ("http://host.example:80/api", "http://host.example/api"),
            (
                "https://host.example:8443/api",
                "https://host.example:8443/api",
            ),
            (
                "https://host.example/path%2Fsegment",
                "https://host.example/path%2Fsegment",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(normalize(input), want, "input {input}");
        }
    }

    #[test]
    fn edge_cases_match_the_sdk() {
        assert_eq!(normalize("http://LOCALHOST:3000"), "http://localhost:3000/");
        assert_eq!(normalize("https://h:443"), "https://h/");
        assert_eq!(normalize("http://h:443/x"), "http://h:443/x");
        assert_eq!(normalize("https://h:80/x"), "https://h:80/x");
        assert_eq!(normalize("http://[::1]:80/x"), "http://[::1]/x");
        assert_eq!(normalize("http://[::1]/x"), "http://[::1]/x");
        assert_eq!(normalize("http://h/a?b#c?d"), "http://h/a");
        assert_eq!(normalize("http://h/a#b?c"), "http://h/a");
        assert_eq!(normalize("no-scheme/Path?x"), "no-scheme/Path");
        assert_eq!(normalize(""), "");
        // Only the first "://" separates the scheme.
        assert_eq!(normalize("HTTP://H/p://Q"), "http://h/p://Q");
    }

    #[test]
    fn idempotent() {
        for u in ["HTTP://H:80", "https://a.b:443/C?d", "http://x/%7E"] {
            let once = normalize(u);
            assert_eq!(normalize(&once), once);
        }
    }
}
