//! Field checks for the sandbox configuration. Each returns the normalised
//! value or a reason that names the value and what is allowed; the caller
//! adds the field (`--allow-host`, `sandbox.agent.allow_hosts`, ...).

use super::{CredentialRoute, KeySource};
use std::path::{Component, Path, PathBuf};

/// Variables the sandbox sets itself; `pass_env` may not name them.
pub const RESERVED_ENV: &[&str] = &[
    "HOME",
    "PATH",
    "LATCHGATE_URL",
    "LATCHGATE_PROXY_TOKEN",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    // Not in LatchGate v0.2's list: the launcher sets them so local
    // traffic (the credential routes on 127.0.0.1) bypasses the proxy.
    "NO_PROXY",
    "no_proxy",
];

/// Paths inside the sandbox that a read-only mount must not cover.
const SANDBOX_OWNED: &[&str] = &["/workspace", "/run/latchgate", "/proc", "/dev"];

/// Headers the proxy must control itself (framing and hop-by-hop).
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
];

/// A bare host name for the proxy allowlist, lower-cased: no scheme, path,
/// port, wildcard or trailing dot.
pub fn host(value: &str) -> Result<String, String> {
    let bad = |why: &str| {
        Err(format!(
            "`{value}`: {why}; give a bare hostname such as api.example.com (the proxy allows HTTPS on port 443 only)"
        ))
    };
    if value.contains("://") {
        return bad("a scheme is not allowed");
    }
    if value.contains('/') {
        return bad("a path is not allowed");
    }
    if value.contains(':') {
        return bad("a port is not allowed");
    }
    if value.is_empty() || value.len() > 253 {
        return bad("must be 1..253 characters");
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if !value.split('.').all(label_ok) {
        return bad("labels are letters, digits and inner hyphens (1..63 each), no wildcards");
    }
    Ok(value.to_ascii_lowercase())
}

/// An environment variable name (`[A-Za-z_][A-Za-z0-9_]*`, at most 128).
pub fn env_name(value: &str) -> Result<String, String> {
    if value.contains('=') {
        return Err(format!(
            "`{value}`: a variable name only, not an assignment (the value is taken from the host environment)"
        ));
    }
    let b = value.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 128
        && !b[0].is_ascii_digit()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_');
    if !ok {
        return Err(format!(
            "`{value}`: not a variable name; allowed: letters, digits and `_`, not starting with a digit"
        ));
    }
    Ok(value.to_string())
}

/// A `pass_env` entry: a variable name the sandbox does not set itself.
pub fn pass_env(value: &str) -> Result<String, String> {
    let name = env_name(value)?;
    if RESERVED_ENV.contains(&value) {
        return Err(format!(
            "`{value}` is reserved: the sandbox sets it itself; reserved: {}",
            RESERVED_ENV.join(", ")
        ));
    }
    Ok(name)
}

/// An absolute path without `.` or `..` components, as a clean `PathBuf`.
pub fn absolute(value: &str) -> Result<PathBuf, String> {
    if value.chars().any(char::is_control) {
        return Err(format!(
            "`{}`: control characters are not allowed",
            value.escape_debug()
        ));
    }
    let p = Path::new(value);
    if !p.is_absolute() {
        return Err(format!("`{value}`: must be an absolute path"));
    }
    if p.components()
        .any(|c| matches!(c, Component::CurDir | Component::ParentDir))
    {
        return Err(format!(
            "`{value}`: `.` and `..` components are not allowed"
        ));
    }
    Ok(p.components().collect())
}

/// A read-only mount: absolute, and not `/` or a path the sandbox owns.
pub fn ro_mount(value: &str) -> Result<PathBuf, String> {
    let p = absolute(value)?;
    if p == Path::new("/") {
        return Err(format!(
            "`{value}`: the whole host filesystem cannot be mounted; name the directories the agent needs"
        ));
    }
    if let Some(owned) = SANDBOX_OWNED.iter().find(|o| p.starts_with(o)) {
        return Err(format!(
            "`{value}`: {owned} belongs to the sandbox; not allowed at or under: {}",
            SANDBOX_OWNED.join(", ")
        ));
    }
    Ok(p)
}

/// Whether `dir` is `home` or one of its ancestors (`/home`, `/`).
pub fn covers_home(dir: &Path, home: Option<&Path>) -> bool {
    home.is_some_and(|h| h.starts_with(dir))
}

/// A credential route name: `[a-z][a-z0-9_]{0,31}` (its agent variable is
/// `<NAME>_BASE_URL`, upper-cased).
pub fn route_name(value: &str) -> Result<String, String> {
    let b = value.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 32
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_');
    if !ok {
        return Err(format!(
            "`{value}`: route names are lower-case letters, digits and `_`, starting with a letter, at most 32"
        ));
    }
    Ok(value.to_string())
}

/// An `https://host[:port][/path]` upstream without credentials, query or
/// fragment; a trailing `/` is removed.
pub fn upstream(value: &str) -> Result<String, String> {
    let bad = |why: &str| {
        Err(format!(
            "`{value}`: {why}; expected https://host[/path] such as https://api.openai.com/v1"
        ))
    };
    let Some(rest) = value.strip_prefix("https://") else {
        return bad("must use https://");
    };
    if value
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || matches!(c, '@' | '?' | '#' | '\\'))
    {
        return bad("credentials, query, fragment, spaces and `\\` are not allowed");
    }
    let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
    let host_part = match authority.rsplit_once(':') {
        Some((h, port)) => {
            let port_ok = !port.is_empty()
                && port.len() <= 5
                && port.bytes().all(|b| b.is_ascii_digit())
                && port.parse::<u16>().is_ok_and(|p| p != 0);
            if !port_ok {
                return bad("the port must be 1..65535");
            }
            h
        }
        None => authority,
    };
    if host(host_part).is_err() {
        return bad("the host is not a valid hostname");
    }
    if path.split('/').any(|seg| seg == "." || seg == "..") {
        return bad("`.` and `..` path segments are not allowed");
    }
    Ok(format!(
        "https://{}{}",
        authority.to_ascii_lowercase(),
        path.trim_end_matches('/')
    ))
}

/// An HTTP header name (an RFC 9110 token) the proxy may inject.
pub fn header(value: &str) -> Result<String, String> {
    let tchar = |c: u8| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c);
    if value.is_empty() || value.len() > 64 || !value.bytes().all(tchar) {
        return Err(format!(
            "`{}`: not an HTTP header name; expected a non-empty token such as Authorization or x-api-key",
            value.escape_debug()
        ));
    }
    if FORBIDDEN_HEADERS.contains(&value.to_ascii_lowercase().as_str()) {
        return Err(format!(
            "`{value}`: the proxy controls this header; not allowed: {}",
            FORBIDDEN_HEADERS.join(", ")
        ));
    }
    Ok(value.to_string())
}

/// A header value format with exactly one `{}` and no control characters.
pub fn format(value: &str) -> Result<String, String> {
    if value.matches("{}").count() != 1 || value.len() > 256 {
        return Err(format!(
            "`{}`: must contain `{{}}` exactly once (replaced by the credential), such as \"Bearer {{}}\"",
            value.escape_debug()
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(format!(
            "`{}`: control characters are not allowed in a header value",
            value.escape_debug()
        ));
    }
    Ok(value.to_string())
}

/// Where a credential is read: `env:VAR`, `file:/abs/path` or `secret:NAME`
/// (the gate's secret store).
pub fn key_source(value: &str) -> Result<KeySource, String> {
    let allowed = "expected \"env:VARIABLE\", \"file:/absolute/path\" or \"secret:NAME\" (a name in `latchgate secrets`)";
    if let Some(var) = value.strip_prefix("env:") {
        let name = env_name(var).map_err(|e| format!("`{value}`: {e}; {allowed}"))?;
        return Ok(KeySource::Env(name));
    }
    if let Some(p) = value.strip_prefix("file:") {
        let path = absolute(p).map_err(|e| format!("`{value}`: {e}; {allowed}"))?;
        return Ok(KeySource::File(path));
    }
    if let Some(name) = value.strip_prefix("secret:") {
        if !crate::secrets::valid_name(name) {
            return Err(format!(
                "`{value}`: secret names are [A-Z][A-Z0-9_], at most 64 characters; {allowed}"
            ));
        }
        return Ok(KeySource::Secret(name.to_string()));
    }
    Err(format!("`{value}`: {allowed}"))
}

/// A whole route from its four fields (`format` defaults to `{}`).
pub fn route(
    name: &str,
    upstream_v: &str,
    header_v: &str,
    format_v: Option<&str>,
    key_source_v: &str,
) -> Result<CredentialRoute, String> {
    Ok(CredentialRoute {
        name: route_name(name)?,
        upstream: upstream(upstream_v)?,
        header: header(header_v)?,
        format: format(format_v.unwrap_or("{}"))?,
        key_source: key_source(key_source_v)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_must_be_bare() {
        assert_eq!(host("API.Anthropic.com"), Ok("api.anthropic.com".into()));
        for (bad, why) in [
            ("https://api.x.com", "scheme"),
            ("api.x.com/v1", "path"),
            ("api.x.com:8080", "port"),
            ("", "1..253"),
            ("*.x.com", "wildcards"),
            ("api.x.com.", "labels"),
            ("-a.com", "labels"),
        ] {
            let e = host(bad).unwrap_err();
            assert!(
                e.contains(&format!("`{bad}`")) && e.contains(why),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn pass_env_names_only_and_not_reserved() {
        assert_eq!(pass_env("GITHUB_TOKEN"), Ok("GITHUB_TOKEN".into()));
        assert!(pass_env("A=b").unwrap_err().contains("not an assignment"));
        assert!(pass_env("1X").unwrap_err().contains("not a variable name"));
        assert!(pass_env("").is_err());
        for r in RESERVED_ENV {
            let e = pass_env(r).unwrap_err();
            assert!(
                e.contains("reserved") && e.contains(&format!("`{r}`")),
                "{e}"
            );
        }
        for seed in [
            "HOME",
            "PATH",
            "LATCHGATE_URL",
            "LATCHGATE_PROXY_TOKEN",
            "HTTPS_PROXY",
            "https_proxy",
            "HTTP_PROXY",
            "http_proxy",
        ] {
            assert!(pass_env(seed).is_err(), "{seed}");
        }
    }

    #[test]
    fn paths_must_be_absolute_and_clean() {
        assert_eq!(absolute("/opt/node/"), Ok(PathBuf::from("/opt/node")));
        assert!(absolute("opt").unwrap_err().contains("absolute"));
        assert!(absolute("/opt/../etc").unwrap_err().contains(".."));
        assert!(absolute("/opt/\n").unwrap_err().contains("control"));
    }

    #[test]
    fn ro_mounts_refuse_root_and_sandbox_paths() {
        assert!(ro_mount("/").unwrap_err().contains("whole host"));
        assert!(ro_mount("/proc/1").unwrap_err().contains("/proc"));
        assert!(ro_mount("/workspace")
            .unwrap_err()
            .contains("belongs to the sandbox"));
        assert!(ro_mount("/run/latchgate/x").is_err());
        assert_eq!(ro_mount("/opt/node-22"), Ok(PathBuf::from("/opt/node-22")));
        assert!(
            ro_mount("/devices").is_ok(),
            "prefix by component, not by text"
        );
    }

    #[test]
    fn home_and_its_ancestors_are_covered() {
        let h = Path::new("/home/dev");
        assert!(covers_home(Path::new("/home/dev"), Some(h)));
        assert!(covers_home(Path::new("/home"), Some(h)));
        assert!(covers_home(Path::new("/"), Some(h)));
        assert!(!covers_home(Path::new("/home/dev/proj"), Some(h)));
        assert!(!covers_home(Path::new("/home/devx"), Some(h)));
        assert!(!covers_home(Path::new("/home"), None));
    }

    #[test]
    fn upstreams_are_https_urls() {
        assert_eq!(
            upstream("https://API.openai.com/v1/"),
            Ok("https://api.openai.com/v1".into())
        );
        assert_eq!(
            upstream("https://h.example:8443"),
            Ok("https://h.example:8443".into())
        );
        for (bad, why) in [
            ("http://api.x.com", "https://"),
            ("https://u:p@api.x.com", "credentials"),
            ("https://api.x.com/?a=1", "query"),
            ("https:///v1", "hostname"),
            ("https://api.x.com:0", "port"),
            ("https://api.x.com:99999", "port"),
            ("https://api.x.com/a/../b", ".."),
        ] {
            let e = upstream(bad).unwrap_err();
            assert!(
                e.contains(&format!("`{bad}`")) && e.contains(why),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn headers_formats_and_key_sources() {
        assert!(header("x-api-key").is_ok());
        assert!(header("").unwrap_err().contains("non-empty"));
        assert!(header("bad header").is_err());
        assert!(header("Content-Length").unwrap_err().contains("controls"));
        assert!(format("Bearer {}").is_ok());
        assert!(format("Bearer").unwrap_err().contains("exactly once"));
        assert!(format("{} {}").is_err());
        assert!(format("{}\r\nX: y").unwrap_err().contains("control"));
        assert_eq!(
            key_source("env:MY_KEY"),
            Ok(KeySource::Env("MY_KEY".into()))
        );
        assert_eq!(
            key_source("file:/run/k"),
            Ok(KeySource::File("/run/k".into()))
        );
        assert_eq!(
            key_source("secret:OPENAI"),
            Ok(KeySource::Secret("OPENAI".into()))
        );
        for bad in [
            "MY_KEY",
            "env:",
            "env:A=B",
            "file:rel",
            "secret:lower",
            "vault:x",
        ] {
            let e = key_source(bad).unwrap_err();
            assert!(
                e.contains(&format!("`{bad}`")) && e.contains("env:VARIABLE"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn route_names_are_lower_snake() {
        assert!(route_name("my_provider").is_ok());
        assert!(route_name("My").is_err());
        assert!(route_name("1a").is_err());
        let r = route("x", "https://a.b", "Authorization", None, "env:K").unwrap();
        assert_eq!(r.format, "{}");
    }
}
