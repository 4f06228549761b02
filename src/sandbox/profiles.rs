//! Built-in agent profiles: the hosts, environment and credential routes
//! each known agent needs, and the built-in defaults when no profile is used.

/// A credential route as a profile declares it (validated like any other).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RouteTemplate {
    /// Route name (its agent variable is `<NAME>_BASE_URL`).
    pub name: &'static str,
    /// `https://` upstream base URL.
    pub upstream: &'static str,
    /// Header the proxy injects.
    pub header: &'static str,
    /// Header value format; `{}` is the credential.
    pub format: &'static str,
    /// Where the credential is read on the host.
    pub key_source: &'static str,
}

/// A built-in agent profile.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Profile {
    /// Canonical name (`claude-code`, ...).
    pub name: &'static str,
    /// The agent's binary, run when no command is given.
    pub binary: &'static str,
    /// Hosts the egress proxy lets through (HTTPS, port 443).
    pub allow_hosts: &'static [&'static str],
    /// Host variables passed into the sandbox.
    pub pass_env: &'static [&'static str],
    /// Credential routes (optional at launch: unresolved ones are skipped).
    pub routes: &'static [RouteTemplate],
}

const ANTHROPIC: RouteTemplate = RouteTemplate {
    name: "anthropic",
    upstream: "https://api.anthropic.com",
    header: "x-api-key",
    format: "{}",
    key_source: "env:ANTHROPIC_API_KEY",
};

const OPENAI: RouteTemplate = RouteTemplate {
    name: "openai",
    upstream: "https://api.openai.com/v1",
    header: "Authorization",
    format: "Bearer {}",
    key_source: "env:OPENAI_API_KEY",
};

const MANY_LLMS: &[&str] = &[
    "api.anthropic.com",
    "api.openai.com",
    "api.groq.com",
    "api.mistral.ai",
    "api.deepseek.com",
    "generativelanguage.googleapis.com",
    "openrouter.ai",
];

/// Every built-in profile, in the order `--help` lists them, with the
/// seed's hosts. Note: claude-code's `sentry.io` (Claude Code's error
/// reports) is a shared service anyone can open a project on, so a CONNECT
/// to it is a possible exfiltration channel; the seed lists it, so it stays.
pub const PROFILES: &[Profile] = &[
    Profile {
        name: "claude-code",
        binary: "claude",
        allow_hosts: &[
            "api.anthropic.com",
            "platform.claude.com",
            "statsig.anthropic.com",
            "sentry.io",
        ],
        pass_env: &["TERM", "LANG", "SHELL", "EDITOR"],
        routes: &[ANTHROPIC],
    },
    Profile {
        name: "codex",
        binary: "codex",
        allow_hosts: &["api.openai.com"],
        pass_env: &["TERM", "LANG"],
        routes: &[OPENAI],
    },
    Profile {
        name: "cursor",
        binary: "cursor",
        allow_hosts: &[
            "api.anthropic.com",
            "api.openai.com",
            "api2.cursor.sh",
            "authenticate.cursor.sh",
            "generativelanguage.googleapis.com",
        ],
        pass_env: &["TERM", "LANG"],
        routes: &[ANTHROPIC, OPENAI],
    },
    Profile {
        name: "opencode",
        binary: "opencode",
        allow_hosts: MANY_LLMS,
        pass_env: &["TERM", "LANG"],
        routes: &[ANTHROPIC, OPENAI],
    },
    Profile {
        name: "aider",
        binary: "aider",
        allow_hosts: MANY_LLMS,
        pass_env: &["TERM", "LANG"],
        routes: &[ANTHROPIC, OPENAI],
    },
];

/// Alternative names accepted by `--profile`.
pub const ALIASES: &[(&str, &str)] = &[("claude", "claude-code"), ("openai-codex", "codex")];

/// Hosts allowed when no profile and no configuration names any.
pub const DEFAULT_HOSTS: &[&str] = &[
    "api.anthropic.com",
    "api.openai.com",
    "generativelanguage.googleapis.com",
];

/// Variables passed when no profile and no configuration names any.
pub const DEFAULT_PASS_ENV: &[&str] = &["TERM", "LANG"];

/// The profile called `name` (or one of its aliases), else an error naming
/// the value and every allowed name.
pub fn lookup(name: &str) -> Result<&'static Profile, String> {
    let canonical = ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map_or(name, |(_, target)| *target);
    PROFILES
        .iter()
        .find(|p| p.name == canonical)
        .ok_or_else(|| format!("`{name}` is not a profile; allowed: {}", allowed_names()))
}

/// Every accepted profile name, aliases included, for messages.
pub fn allowed_names() -> String {
    let names: Vec<String> = PROFILES.iter().map(|p| p.name.to_string()).collect();
    let aliases: Vec<String> = ALIASES
        .iter()
        .map(|(a, t)| format!("{a} (= {t})"))
        .collect();
    format!("{}, {}", names.join(", "), aliases.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_resolve_to_their_profile() {
        assert_eq!(lookup("claude").map(|p| p.name), Ok("claude-code"));
        assert_eq!(lookup("openai-codex").map(|p| p.name), Ok("codex"));
        assert_eq!(lookup("aider").map(|p| p.binary), Ok("aider"));
    }

    #[test]
    fn unknown_profile_names_value_and_allowed() {
        let e = lookup("claud").unwrap_err();
        assert!(e.contains("`claud`") && e.contains("claude-code") && e.contains("openai-codex"));
    }

    #[test]
    fn profiles_carry_the_seed_hosts_and_routes() {
        let c = lookup("claude-code").unwrap();
        assert_eq!(c.routes, &[ANTHROPIC]);
        assert!(c.allow_hosts.contains(&"platform.claude.com"));
        assert!(c.allow_hosts.contains(&"sentry.io"));
        let cursor = lookup("cursor").unwrap();
        assert!(cursor.allow_hosts.contains(&"api2.cursor.sh"));
        assert_eq!(cursor.routes.len(), 2);
        assert_eq!(lookup("codex").unwrap().allow_hosts, &["api.openai.com"]);
        assert!(lookup("opencode")
            .unwrap()
            .allow_hosts
            .contains(&"openrouter.ai"));
        assert_eq!(lookup("aider").unwrap().allow_hosts.len(), 7);
    }
}
