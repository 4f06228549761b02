//! Shape checks for the short strings a manifest declares: ids, versions,
//! provider names and digests, labels, scopes, secret and header names. Each returns `Err(what is allowed)` on failure so the
//! manifest reader can quote it.

/// Action ids: `[A-Za-z0-9_-]{1,128}`.
pub fn action_id(s: &str) -> Result<(), String> {
    let ok = (1..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    ok.then_some(())
        .ok_or_else(|| "allowed: 1 to 128 of A-Z a-z 0-9 _ -".to_string())
}

/// Versions: `[A-Za-z0-9._+-]{1,64}`.
pub fn version(s: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'+' | b'-'));
    ok.then_some(())
        .ok_or_else(|| "allowed: 1 to 64 of A-Z a-z 0-9 . _ + -".to_string())
}

/// Builtin provider names (after `builtin:`): `[a-z0-9_]{1,64}`.
pub fn builtin_name(s: &str) -> Result<(), String> {
    lower_label(s).map_err(|_| "allowed: builtin:<1 to 64 of a-z 0-9 _>".to_string())
}

/// Module digests: `sha256:` followed by 64 lowercase hex digits.
pub fn module_digest(s: &str) -> Result<(), String> {
    let hex = s.strip_prefix("sha256:").unwrap_or("");
    let ok = hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    ok.then_some(())
        .ok_or_else(|| "allowed: sha256:<64 lowercase hex digits>".to_string())
}

/// Side-effect labels: `[a-z0-9_]{1,64}` (e.g. `http_read`, `http_write`).
pub fn side_effect(s: &str) -> Result<(), String> {
    lower_label(s)
}

fn lower_label(s: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    ok.then_some(())
        .ok_or_else(|| "allowed: 1 to 64 of a-z 0-9 _".to_string())
}

/// Scopes: `ns:name`, 4 to 64 of `[a-z0-9:_-]`, both sides of the first `:`
/// non-empty (the lease scope alphabet).
pub fn scope(s: &str) -> Result<(), String> {
    let charset = s
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b':' | b'_' | b'-'));
    let shaped = match s.split_once(':') {
        Some((ns, name)) => !ns.is_empty() && !name.is_empty(),
        None => false,
    };
    let ok = (4..=64).contains(&s.len()) && charset && shaped;
    ok.then_some(())
        .ok_or_else(|| "allowed: ns:name, 4 to 64 of a-z 0-9 : _ -".to_string())
}

/// Secret names: an uppercase letter then `[A-Z0-9_]`, at most 64.
pub fn secret_name(s: &str) -> Result<(), String> {
    let first_ok = s.bytes().next().is_some_and(|b| b.is_ascii_uppercase());
    let ok = first_ok
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    ok.then_some(())
        .ok_or_else(|| "allowed: A-Z then A-Z 0-9 _, at most 64".to_string())
}

/// Headers a manifest may never set: they frame the request or route it,
/// and letting a manifest set them would allow request smuggling.
const FORBIDDEN_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
    "trailer",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
];

/// HTTP header names: an RFC 9110 token of 1 to 64 characters, not one of
/// the framing/routing headers the egress layer owns.
pub fn header_name(s: &str) -> Result<(), String> {
    let token = (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !token {
        return Err(
            "allowed: 1 to 64 HTTP token characters (A-Z a-z 0-9 !#$%&'*+-.^_`|~)".to_string(),
        );
    }
    let lower = s.to_ascii_lowercase();
    if FORBIDDEN_HEADERS.contains(&lower.as_str()) {
        return Err(format!(
            "header `{s}` is set by the gate, not by manifests (forbidden: {})",
            FORBIDDEN_HEADERS.join(", ")
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(action_id("http_fetch").is_ok());
        assert!(action_id("A-z_9").is_ok());
        assert!(action_id(&"a".repeat(128)).is_ok());
        assert!(action_id(&"a".repeat(129)).is_err());
        assert!(action_id("").is_err());
        assert!(action_id("a.b").is_err());
        assert!(action_id("a/b").is_err());
    }

    #[test]
    fn providers_and_digests() {
        assert!(builtin_name("http_api").is_ok());
        assert!(builtin_name("Http").is_err());
        assert!(module_digest(&format!("sha256:{}", "a".repeat(64))).is_ok());
        assert!(module_digest(&format!("sha256:{}", "A".repeat(64))).is_err());
        assert!(module_digest(&format!("sha256:{}", "a".repeat(63))).is_err());
        assert!(module_digest(&"a".repeat(64)).is_err());
    }

    #[test]
    fn scopes_secrets_headers() {
        assert!(scope("tools:call").is_ok());
        assert!(scope("toolscall").is_err());
        assert!(scope(":call").is_err());
        assert!(scope("Tools:call").is_err());
        assert!(secret_name("GITHUB_TOKEN").is_ok());
        assert!(secret_name("github").is_err());
        assert!(secret_name("1TOKEN").is_err());
        assert!(header_name("Authorization").is_ok());
        assert!(header_name("X-Api-Key").is_ok());
        assert!(header_name("Bad Header").is_err());
        assert!(header_name("Host").is_err());
        assert!(header_name("transfer-encoding").is_err());
    }
}
