//! The two ends of the bridge as given on the command line: `IP:PORT`
//! (`127.0.0.1:8082`, `[::1]:8082`), a Unix socket path (anything with a
//! `/`, or `unix:PATH`), and for the target only `HOST:PORT`, resolved at
//! each connection.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Longest Unix socket path the kernel takes (sun_path is 108 bytes with
/// the terminating NUL).
const MAX_UNIX_PATH: usize = 107;
/// Longest host name (RFC 1035).
const MAX_HOST: usize = 253;

/// Where the bridge listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listen {
    /// A TCP address (an IP literal: the bridge never resolves its own).
    Tcp(SocketAddr),
    /// A Unix socket path.
    Unix(PathBuf),
}

/// Where each accepted connection is relayed to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A TCP address given as an IP literal.
    Tcp(SocketAddr),
    /// A host name and port, resolved at each connection.
    Host {
        /// The name as given.
        name: String,
        /// 1 to 65535.
        port: u16,
    },
    /// A Unix socket path.
    Unix(PathBuf),
}

impl fmt::Display for Listen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Listen::Tcp(a) => write!(f, "{a}"),
            Listen::Unix(p) => write!(f, "{}", p.display()),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Tcp(a) => write!(f, "{a}"),
            Target::Host { name, port } => write!(f, "{name}:{port}"),
            Target::Unix(p) => write!(f, "{}", p.display()),
        }
    }
}

/// What `--listen` accepts, for error messages.
pub const LISTEN_FORMS: &str =
    "IP:PORT (127.0.0.1:8082, [::1]:8082) or a Unix socket path (containing `/`, or unix:PATH)";
/// What `--connect` accepts, for error messages.
pub const TARGET_FORMS: &str = "IP:PORT (127.0.0.1:8082, [::1]:8082), HOST:PORT, or a Unix socket path (containing `/`, or unix:PATH)";

/// Parses a `--listen` value.
pub fn listen(s: &str) -> Result<Listen, String> {
    if let Some(path) = unix_path(s)? {
        return Ok(Listen::Unix(path));
    }
    match ip_port(s)? {
        Some(a) => Ok(Listen::Tcp(a)),
        None => Err(format!(
            "`{s}` is not an address to listen on; give {LISTEN_FORMS}"
        )),
    }
}

/// Parses a `--connect` value.
pub fn target(s: &str) -> Result<Target, String> {
    if let Some(path) = unix_path(s)? {
        return Ok(Target::Unix(path));
    }
    if let Some(a) = ip_port(s)? {
        return Ok(Target::Tcp(a));
    }
    let Some((name, port)) = s.rsplit_once(':') else {
        return Err(format!("`{s}` has no port; give {TARGET_FORMS}"));
    };
    if name.contains(':') || name.starts_with('[') {
        return Err(format!(
            "`{s}` is not an address; put an IPv6 address in brackets ([::1]:8082)"
        ));
    }
    if !valid_host(name) {
        return Err(format!(
            "`{name}` is not a host name (letters, digits, `-`, `_` and `.`, at most {MAX_HOST}); give {TARGET_FORMS}"
        ));
    }
    let port = port_number(s, port)?;
    Ok(Target::Host {
        name: name.to_string(),
        port,
    })
}

/// True when the listener and the target are the same endpoint (the
/// bridge would relay to itself).
pub fn same(l: &Listen, t: &Target) -> bool {
    match (l, t) {
        (Listen::Tcp(a), Target::Tcp(b)) => a == b,
        (Listen::Unix(a), Target::Unix(b)) => a == b,
        _ => false,
    }
}

/// `unix:PATH` or anything containing `/`; None for other forms.
fn unix_path(s: &str) -> Result<Option<PathBuf>, String> {
    let path = match s.strip_prefix("unix:") {
        Some(p) => p,
        None if s.contains('/') => s,
        None => return Ok(None),
    };
    if path.is_empty() {
        return Err("`unix:` needs a socket path after it (unix:/run/gateway.sock)".into());
    }
    if path.contains('\0') {
        return Err("a socket path cannot contain a NUL byte".into());
    }
    if path.len() > MAX_UNIX_PATH {
        return Err(format!(
            "the socket path `{path}` is {} bytes; Unix socket paths are at most {MAX_UNIX_PATH}",
            path.len()
        ));
    }
    Ok(Some(PathBuf::from(path)))
}

/// `IP:PORT` or `[IPv6]:PORT`; None when `s` is not an IP literal with a
/// port (it may still be `HOST:PORT`), an error for port 0.
fn ip_port(s: &str) -> Result<Option<SocketAddr>, String> {
    match s.parse::<SocketAddr>() {
        Ok(a) if a.port() == 0 => Err(format!("`{s}`: the port must be 1 to 65535")),
        Ok(a) => Ok(Some(a)),
        Err(_) => Ok(None),
    }
}

fn port_number(whole: &str, port: &str) -> Result<u16, String> {
    let ok = !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit());
    match port.parse::<u16>() {
        Ok(p) if ok && p != 0 => Ok(p),
        _ => Err(format!("`{whole}`: the port must be 1 to 65535")),
    }
}

fn valid_host(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_HOST
        && !name.starts_with('.')
        && !name.starts_with('-')
        && !name.contains("..")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_forms() {
        assert_eq!(
            listen("127.0.0.1:8082").unwrap(),
            Listen::Tcp("127.0.0.1:8082".parse().unwrap())
        );
        assert_eq!(
            listen("[::1]:8082").unwrap(),
            Listen::Tcp("[::1]:8082".parse().unwrap())
        );
        assert_eq!(
            listen("/run/gw.sock").unwrap(),
            Listen::Unix("/run/gw.sock".into())
        );
        assert_eq!(
            listen("./gw.sock").unwrap(),
            Listen::Unix("./gw.sock".into())
        );
        assert_eq!(
            listen("unix:gw.sock").unwrap(),
            Listen::Unix("gw.sock".into())
        );
        assert_eq!(listen("[::1]:8082").unwrap().to_string(), "[::1]:8082");
    }

    #[test]
    fn listen_refusals_name_the_forms() {
        for bad in ["localhost:8082", "8082", "", "127.0.0.1", "host"] {
            let e = listen(bad).unwrap_err();
            assert!(
                e.contains("IP:PORT") && e.contains("Unix socket path"),
                "{bad}: {e}"
            );
        }
        assert!(listen("127.0.0.1:0").unwrap_err().contains("1 to 65535"));
        assert!(listen("unix:").unwrap_err().contains("needs a socket path"));
        let long = format!("/{}", "a".repeat(120));
        assert!(listen(&long).unwrap_err().contains("at most 107"));
        assert!(listen("/a\0b").unwrap_err().contains("NUL"));
    }

    #[test]
    fn target_forms() {
        assert_eq!(
            target("10.0.0.1:443").unwrap(),
            Target::Tcp("10.0.0.1:443".parse().unwrap())
        );
        assert_eq!(
            target("gateway.internal:8080").unwrap(),
            Target::Host {
                name: "gateway.internal".into(),
                port: 8080
            }
        );
        assert_eq!(
            target("unix:/run/gateway.sock").unwrap(),
            Target::Unix("/run/gateway.sock".into())
        );
        assert_eq!(target("localhost:1").unwrap().to_string(), "localhost:1");
    }

    #[test]
    fn target_refusals() {
        assert!(target("localhost").unwrap_err().contains("no port"));
        assert!(target("localhost:0").unwrap_err().contains("1 to 65535"));
        assert!(target("localhost:65536")
            .unwrap_err()
            .contains("1 to 65535"));
        assert!(target("localhost:+80").unwrap_err().contains("1 to 65535"));
        assert!(target("localhost:").unwrap_err().contains("1 to 65535"));
        assert!(target("::1:8082").unwrap_err().contains("brackets"));
        assert!(target("[::1:8082").unwrap_err().contains("brackets"));
        assert!(target("bad host:80")
            .unwrap_err()
            .contains("not a host name"));
        assert!(target(":80").unwrap_err().contains("not a host name"));
        assert!(target("a..b:80").unwrap_err().contains("not a host name"));
        assert!(target("-x:80").unwrap_err().contains("not a host name"));
    }

    #[test]
    fn same_endpoint_is_detected() {
        let l = listen("127.0.0.1:8082").unwrap();
        assert!(same(&l, &target("127.0.0.1:8082").unwrap()));
        assert!(!same(&l, &target("127.0.0.1:8083").unwrap()));
        let u = listen("/run/x.sock").unwrap();
        assert!(same(&u, &target("unix:/run/x.sock").unwrap()));
        assert!(!same(&u, &target("/run/y.sock").unwrap()));
    }
}
