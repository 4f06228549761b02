//! The agent's environment: nothing from the host but `pass_env`, then the
//! reserved variables, which always win.

use super::layout::{GATE_SOCKET, WORKSPACE};

/// PATH inside before the ro_mounts' bin directories.
pub const BASE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What the environment is built from.
pub struct EnvInput<'a> {
    /// Names passed from the host (validated: none reserved).
    pub pass_env: &'a [String],
    /// Reads a host variable (std::env::var in the launcher; a map in tests).
    pub host: &'a dyn Fn(&str) -> Option<String>,
    /// Extra PATH directories (ro_mounts' bin/sbin, the agent's runtime).
    pub path_dirs: &'a [String],
    /// The loopback forwarder's port.
    pub forward_port: u16,
    /// The per-session proxy token, when a credential route resolved.
    pub proxy_token: Option<&'a str>,
    /// `(NAME_BASE_URL, route name)` for each resolved credential route.
    pub routes: &'a [(String, String)],
    /// The key variables of resolved routes (`env:ANTHROPIC_API_KEY`):
    /// inside they hold the session token, so a stock SDK that reads its
    /// key from the usual variable authenticates to the route unmodified.
    pub token_vars: &'a [String],
}

/// The environment, in order (a later entry replaces an earlier one of the
/// same name: bwrap applies `--setenv` in order).
pub fn build(inp: &EnvInput) -> Vec<(String, String)> {
    let mut env = Vec::new();
    for name in inp.pass_env {
        if let Some(v) = (inp.host)(name) {
            env.push((name.clone(), v));
        }
    }
    let proxy = format!("http://127.0.0.1:{}", inp.forward_port);
    let mut path = BASE_PATH.to_string();
    for d in inp.path_dirs {
        path.push(':');
        path.push_str(d);
    }
    // Local addresses never go through the proxy, so a stock client talks
    // to a credential route (http://127.0.0.1:PORT/name) directly.
    let mut no_proxy = String::from("127.0.0.1,localhost,::1");
    if let Some((_, user)) = env.iter().find(|(k, _)| k == "NO_PROXY" || k == "no_proxy") {
        if !user.is_empty() {
            no_proxy = format!("{user},{no_proxy}");
        }
    }
    let mut reserved = vec![
        ("HOME".to_string(), WORKSPACE.to_string()),
        ("PATH".to_string(), path),
        ("LATCHGATE_URL".to_string(), format!("unix://{GATE_SOCKET}")),
        ("HTTPS_PROXY".to_string(), proxy.clone()),
        ("https_proxy".to_string(), proxy.clone()),
        ("HTTP_PROXY".to_string(), proxy.clone()),
        ("http_proxy".to_string(), proxy.clone()),
        ("NO_PROXY".to_string(), no_proxy.clone()),
        ("no_proxy".to_string(), no_proxy),
    ];
    if let Some(token) = inp.proxy_token {
        reserved.push(("LATCHGATE_PROXY_TOKEN".to_string(), token.to_string()));
        for var in inp.token_vars {
            reserved.push((var.clone(), token.to_string()));
        }
    }
    for (var, name) in inp.routes {
        reserved.push((var.clone(), format!("{proxy}/{name}")));
    }
    env.retain(|(k, _)| !reserved.iter().any(|(r, _)| r == k));
    env.extend(reserved);
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_values_win_and_only_pass_env_is_copied() {
        let host = |k: &str| match k {
            "TERM" => Some("xterm".to_string()),
            "NO_PROXY" => Some("corp.internal".to_string()),
            "SECRET" => Some("nope".to_string()),
            "ANTHROPIC_API_KEY" => Some("sk-real".to_string()),
            _ => None,
        };
        let pass = vec![
            "TERM".to_string(),
            "LANG".to_string(),
            "NO_PROXY".to_string(),
        ];
        let routes = vec![("ANTHROPIC_BASE_URL".to_string(), "anthropic".to_string())];
        let env = build(&EnvInput {
            pass_env: &pass,
            host: &host,
            path_dirs: &["/opt/node/bin".to_string()],
            forward_port: 3128,
            proxy_token: Some("tok"),
            routes: &routes,
            token_vars: &["ANTHROPIC_API_KEY".to_string()],
        });
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("TERM"), Some("xterm"));
        assert_eq!(get("LANG"), None);
        assert_eq!(get("SECRET"), None);
        assert_eq!(get("HOME"), Some("/workspace"));
        assert_eq!(
            get("LATCHGATE_URL"),
            Some("unix:///run/latchgate/gate.sock")
        );
        assert_eq!(get("HTTPS_PROXY"), Some("http://127.0.0.1:3128"));
        assert_eq!(
            get("NO_PROXY"),
            Some("corp.internal,127.0.0.1,localhost,::1")
        );
        assert_eq!(
            get("ANTHROPIC_BASE_URL"),
            Some("http://127.0.0.1:3128/anthropic")
        );
        assert_eq!(get("LATCHGATE_PROXY_TOKEN"), Some("tok"));
        // The key variable holds the token, never the host's real key.
        assert_eq!(get("ANTHROPIC_API_KEY"), Some("tok"));
        assert!(!env.iter().any(|(_, v)| v.contains("sk-real")));
        assert!(get("PATH").unwrap().ends_with(":/opt/node/bin"));
        assert_eq!(env.iter().filter(|(k, _)| k == "NO_PROXY").count(), 1);
    }

    #[test]
    fn no_token_without_routes() {
        let host = |_: &str| None;
        let env = build(&EnvInput {
            pass_env: &[],
            host: &host,
            path_dirs: &[],
            forward_port: 1,
            proxy_token: None,
            routes: &[],
            token_vars: &["ANTHROPIC_API_KEY".to_string()],
        });
        assert!(!env.iter().any(|(k, _)| k == "LATCHGATE_PROXY_TOKEN"
            || k.ends_with("_BASE_URL")
            || k == "ANTHROPIC_API_KEY"));
    }
}
