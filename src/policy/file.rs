//! The policy file: its format, parsing and validation.
//!
//! ```toml
//! version = "default-1"            # required string, 1..=64 chars: named in every ledger event as policy_version
//!
//! [acl."*"]                        # the wildcard entry: used for a principal with no entry of its own
//! allowed_actions = ["*"]          # action ids, or "*" meaning every action (required; may be [])
//! allowed_side_effects = ["*"]     # side-effect names (manifests' declared_side_effects, e.g. "http_read",
//!                                  # "http_write", "fs_write"), or "*" (optional, default [])
//!
//! [acl."uid:1000"]
//! allowed_actions = ["http_fetch", "echo"]
//! allowed_side_effects = ["http_read"]
//! inherits_wildcard = false        # optional, default false: also allow what acl."*" allows (union of both lists)
//!
//! [approval]
//! always = ["http_post"]           # these actions always need a human approval
//! never = ["echo"]                 # these actions never wait for a human: undeclared domains/paths are
//!                                  # then DENIED, not held; cannot waive the risk or sensitive-path rules
//! sensitive_paths = ["**/.env", "**/.env.*", "**/secrets/**", "**/.ssh/**", "**/.aws/credentials"]
//!                                  # optional; this list is the default when the key is absent
//!
//! [[allowlist]]                    # skip approval for this principal + action
//! principal = "dev:anonymous"      # (except risk high/critical and sensitive paths)
//! action = "http_fetch"
//!
//! [rate_limits]                    # optional; no limit when absent
//! default = { calls = 20, window_seconds = 1 }   # per principal, fixed window
//! [rate_limits.principals."uid:1000"]
//! calls = 100
//! window_seconds = 60
//! ```
//!
//! Rules checked here:
//! - every key anywhere must be one of those above: an unknown key is an
//!   error listing the allowed ones (a typo must never silently weaken policy);
//! - `version` is required, 1..=64 characters, no control characters;
//! - principals (acl keys, allowlist principals, rate-limit keys) and names
//!   in lists are non-empty; `"*"` is the only wildcard and stands alone
//!   (`"http_*"` is an error, not a pattern);
//! - `"*"` is allowed only in acl lists and as the acl key: allowlist,
//!   `always`, `never` and rate-limit principals name exact ids;
//! - an action in both `always` and `never` is an error;
//! - `calls` is 1..=1_000_000 and `window_seconds` 1..=86_400, both required;
//! - `sensitive_paths` entries are globs (see [`Glob`]).
//!
//! A policy with no acl entry that applies denies everything (deny by default).

use super::glob::Glob;
use crate::config::fields::Fields;
use crate::config::ConfigError;
use crate::toml::{Item, TValue, Table};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;

/// The embedded default policy, used when no policy file is given: every
/// principal may call every action (development use).
pub const EMBEDDED_POLICY: &str = include_str!("../../policies/default.toml");

/// The origin named in errors and by [`Policy::origin`] for the embedded policy.
const EMBEDDED_ORIGIN: &str = "embedded default policy";

/// Largest policy file read, in bytes.
const MAX_POLICY_BYTES: u64 = 1024 * 1024;

/// Longest `version`, in characters.
const MAX_VERSION_CHARS: usize = 64;

/// `approval.sensitive_paths` when the key is absent.
const DEFAULT_SENSITIVE_PATHS: &[&str] = &[
    "**/.env",
    "**/.env.*",
    "**/secrets/**",
    "**/.ssh/**",
    "**/.aws/credentials",
];

const TOP_KEYS: &[&str] = &["version", "acl", "approval", "allowlist", "rate_limits"];
const ACL_KEYS: &[&str] = &[
    "allowed_actions",
    "allowed_side_effects",
    "inherits_wildcard",
];
const APPROVAL_KEYS: &[&str] = &["always", "never", "sensitive_paths"];
const ALLOWLIST_KEYS: &[&str] = &["principal", "action"];
const RATE_KEYS: &[&str] = &["default", "principals"];
const LIMIT_KEYS: &[&str] = &["calls", "window_seconds"];

/// What one acl entry (`[acl."PRINCIPAL"]`) allows.
#[derive(Clone, Debug)]
pub struct AclEntry {
    /// Action ids, or `"*"` for every action.
    pub allowed_actions: Vec<String>,
    /// Side-effect names, or `"*"` for every side effect.
    pub allowed_side_effects: Vec<String>,
    /// Also allow what the `"*"` entry allows.
    pub inherits_wildcard: bool,
}

/// A fixed-window rate limit: `calls` per `window_seconds`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Calls allowed per window (1..=1_000_000).
    pub calls: u32,
    /// Window length in seconds (1..=86_400).
    pub window_seconds: u32,
}

/// A validated policy (see the module doc for the file format).
#[derive(Clone, Debug)]
pub struct Policy {
    /// Named in every ledger event as `policy_version`.
    pub version: String,
    /// The file path, or "embedded default policy".
    pub origin: String,
    /// Principal (or `"*"`) to what it may do.
    pub acl: BTreeMap<String, AclEntry>,
    /// Actions that always need a human approval.
    pub always: BTreeSet<String>,
    /// Actions that never wait for a human.
    pub never: BTreeSet<String>,
    /// (principal, action) pairs that skip approval.
    pub allowlist: BTreeSet<(String, String)>,
    /// Paths whose use always needs a human approval.
    pub sensitive_paths: Vec<Glob>,
    /// Rate limit for principals without their own.
    pub default_rate: Option<RateLimit>,
    /// Per-principal rate limits.
    pub principal_rates: BTreeMap<String, RateLimit>,
}

impl Policy {
    /// Parses and validates policy text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Policy, ConfigError> {
        let root = crate::toml::parse(text).map_err(|e| ConfigError(format!("{origin}: {e}")))?;
        let f = Fields { origin };
        let mut policy = Policy {
            version: String::new(),
            origin: origin.to_string(),
            acl: BTreeMap::new(),
            always: BTreeSet::new(),
            never: BTreeSet::new(),
            allowlist: BTreeSet::new(),
            sensitive_paths: default_sensitive_paths()?,
            default_rate: None,
            principal_rates: BTreeMap::new(),
        };
        let mut version = None;
        for (key, item) in root.iter() {
            match key.as_str() {
                "version" => version = Some(parse_version(&f, item)?),
                "acl" => policy.acl = acl(&f, item)?,
                "approval" => approval(&f, item, &mut policy)?,
                "allowlist" => policy.allowlist = allowlist(&f, item)?,
                "rate_limits" => rate_limits(&f, item, &mut policy)?,
                other => return Err(unknown_key(&f, other, item, "at the top level", TOP_KEYS)),
            }
        }
        policy.version = version.ok_or_else(|| {
            ConfigError(format!(
                "{origin}: missing required key `version` (a string of 1..={MAX_VERSION_CHARS} \
                 characters naming this policy, e.g. \"default-1\")"
            ))
        })?;
        Ok(policy)
    }

    /// `None` → the embedded default; `Some(path)` → read (max 1 MiB) and
    /// parse; errors name the path.
    pub fn load(path: Option<&Path>) -> Result<Policy, ConfigError> {
        let Some(path) = path else {
            return Policy::parse(EMBEDDED_POLICY, EMBEDDED_ORIGIN);
        };
        let shown = path.display().to_string();
        let cannot =
            |e: std::io::Error| ConfigError(format!("cannot read policy file {shown}: {e}"));
        let file = std::fs::File::open(path).map_err(cannot)?;
        // Refuse FIFOs and devices: reading one could block or never end.
        if !file.metadata().map_err(cannot)?.is_file() {
            return Err(ConfigError(format!(
                "policy file {shown} is not a regular file"
            )));
        }
        let mut bytes = Vec::new();
        file.take(MAX_POLICY_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(cannot)?;
        if bytes.len() as u64 > MAX_POLICY_BYTES {
            return Err(ConfigError(format!(
                "policy file {shown} is larger than 1 MiB"
            )));
        }
        let text = String::from_utf8(bytes)
            .map_err(|_| ConfigError(format!("policy file {shown} is not valid UTF-8")))?;
        Policy::parse(&text, &shown)
    }

    /// The principal's own limit, else the default, else None.
    pub fn rate_limit_for(&self, principal: &str) -> Option<RateLimit> {
        self.principal_rates
            .get(principal)
            .copied()
            .or(self.default_rate)
    }

    /// Warnings for action ids named in acl/always/never/allowlist that are
    /// not in `known` ("*" excepted), in a stable order.
    pub fn unknown_actions(&self, known: &[&str]) -> Vec<String> {
        let mut named: Vec<(String, &str)> = Vec::new();
        for (principal, entry) in &self.acl {
            for action in &entry.allowed_actions {
                named.push((format!("acl.{principal:?}.allowed_actions"), action));
            }
        }
        for action in &self.always {
            named.push(("approval.always".into(), action));
        }
        for action in &self.never {
            named.push(("approval.never".into(), action));
        }
        for (principal, action) in &self.allowlist {
            named.push((format!("allowlist entry for {principal:?}"), action));
        }
        named
            .into_iter()
            .filter(|(_, action)| *action != "*" && !known.contains(action))
            .map(|(place, action)| {
                format!(
                    "policy {}: {place} names unknown action {action:?}",
                    self.origin
                )
            })
            .collect()
    }
}

/// The compiled default sensitive paths.
fn default_sensitive_paths() -> Result<Vec<Glob>, ConfigError> {
    DEFAULT_SENSITIVE_PATHS
        .iter()
        .map(|p| Glob::parse(p).map_err(|e| ConfigError(format!("built-in sensitive path: {e}"))))
        .collect()
}

/// The "unknown key" error, listing what is allowed `where_`.
fn unknown_key(f: &Fields, key: &str, item: &Item, where_: &str, allowed: &[&str]) -> ConfigError {
    f.err(
        key,
        item,
        &format!("unknown key; allowed {where_}: {}", allowed.join(", ")),
    )
}

/// "missing required key" inside the table `key` (at `item`).
fn missing(f: &Fields, key: &str, item: &Item, wanted: &str, what: &str) -> ConfigError {
    f.err(
        key,
        item,
        &format!("missing required key `{wanted}` ({what})"),
    )
}

fn parse_version(f: &Fields, item: &Item) -> Result<String, ConfigError> {
    let v = f.string("version", item)?;
    let n = v.chars().count();
    if n == 0 || n > MAX_VERSION_CHARS || v.chars().any(char::is_control) {
        return Err(f.err(
            "version",
            item,
            &format!("expected 1..={MAX_VERSION_CHARS} characters without control characters, such as \"default-1\""),
        ));
    }
    Ok(v)
}

/// A non-empty name; `"*"` only if `star_ok`, and never `*` within a name.
fn check_name(
    f: &Fields,
    key: &str,
    item: &Item,
    name: &str,
    star_ok: bool,
) -> Result<(), ConfigError> {
    if name.is_empty() {
        return Err(f.err(key, item, "empty name; expected a non-empty string"));
    }
    if name == "*" && !star_ok {
        return Err(f.err(key, item, "\"*\" is not allowed here; name an exact id"));
    }
    if name != "*" && name.contains('*') {
        return Err(f.err(
            key,
            item,
            &format!(
                "{name:?}: patterns are not supported; use exact ids{}",
                if star_ok { " or \"*\" alone" } else { "" }
            ),
        ));
    }
    Ok(())
}

/// An array of names (see [`check_name`]).
fn names(f: &Fields, key: &str, item: &Item, star_ok: bool) -> Result<Vec<String>, ConfigError> {
    let list = f.strings(key, item)?;
    for name in &list {
        check_name(f, key, item, name, star_ok)?;
    }
    Ok(list)
}

fn acl(f: &Fields, item: &Item) -> Result<BTreeMap<String, AclEntry>, ConfigError> {
    let mut out = BTreeMap::new();
    for (principal, entry) in f.table("acl", item)?.iter() {
        let key = format!("acl.{principal:?}");
        check_name(f, &key, entry, principal, true)?;
        out.insert(
            principal.clone(),
            acl_entry(f, &key, principal == "*", entry)?,
        );
    }
    Ok(out)
}

fn acl_entry(
    f: &Fields,
    key: &str,
    is_wildcard: bool,
    item: &Item,
) -> Result<AclEntry, ConfigError> {
    let mut actions = None;
    let mut out = AclEntry {
        allowed_actions: Vec::new(),
        allowed_side_effects: Vec::new(),
        inherits_wildcard: false,
    };
    for (k, v) in f.table(key, item)?.iter() {
        let full = format!("{key}.{k}");
        match k.as_str() {
            "allowed_actions" => actions = Some(names(f, &full, v, true)?),
            "allowed_side_effects" => out.allowed_side_effects = names(f, &full, v, true)?,
            "inherits_wildcard" => {
                out.inherits_wildcard = f.boolean(&full, v)?;
                if is_wildcard {
                    return Err(f.err(
                        &full,
                        v,
                        "has no meaning on the \"*\" entry itself; remove it",
                    ));
                }
            }
            other => {
                return Err(unknown_key(
                    f,
                    &full_key(key, other),
                    v,
                    "in an acl entry",
                    ACL_KEYS,
                ))
            }
        }
    }
    out.allowed_actions = actions.ok_or_else(|| {
        missing(
            f,
            key,
            item,
            "allowed_actions",
            "action ids or \"*\"; [] allows none",
        )
    })?;
    Ok(out)
}

/// `table.key`, quoting `key` only when it is not a bare TOML key.
fn full_key(table: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        format!("{table}.{key}")
    } else {
        format!("{table}.{key:?}")
    }
}

fn approval(f: &Fields, item: &Item, policy: &mut Policy) -> Result<(), ConfigError> {
    for (k, v) in f.table("approval", item)?.iter() {
        let full = format!("approval.{k}");
        match k.as_str() {
            "always" => policy.always = names(f, &full, v, false)?.into_iter().collect(),
            "never" => policy.never = names(f, &full, v, false)?.into_iter().collect(),
            "sensitive_paths" => {
                let mut globs = Vec::new();
                for pattern in f.strings(&full, v)? {
                    globs.push(Glob::parse(&pattern).map_err(|e| f.err(&full, v, &e))?);
                }
                policy.sensitive_paths = globs;
            }
            other => {
                return Err(unknown_key(
                    f,
                    &full_key("approval", other),
                    v,
                    "in [approval]",
                    APPROVAL_KEYS,
                ))
            }
        }
    }
    if let Some(both) = policy.always.intersection(&policy.never).next() {
        return Err(f.err(
            "approval",
            item,
            &format!("action {both:?} is in both `always` and `never`; keep it in one"),
        ));
    }
    Ok(())
}

fn allowlist(f: &Fields, item: &Item) -> Result<BTreeSet<(String, String)>, ConfigError> {
    let TValue::Array(entries) = &item.value else {
        return Err(f.err(
            "allowlist",
            item,
            &format!(
                "expected [[allowlist]] tables, found {}",
                item.value.type_name()
            ),
        ));
    };
    let mut out = BTreeSet::new();
    for entry in entries {
        out.insert(allowlist_entry(f, entry)?);
    }
    Ok(out)
}

fn allowlist_entry(f: &Fields, item: &Item) -> Result<(String, String), ConfigError> {
    let table: &Table = f.table("allowlist", item)?;
    let mut principal = None;
    let mut action = None;
    for (k, v) in table.iter() {
        let full = format!("allowlist.{k}");
        match k.as_str() {
            "principal" | "action" => {
                let s = f.string(&full, v)?;
                check_name(f, &full, v, &s, false)?;
                if k == "principal" {
                    principal = Some(s);
                } else {
                    action = Some(s);
                }
            }
            other => {
                return Err(unknown_key(
                    f,
                    &full_key("allowlist", other),
                    v,
                    "in [[allowlist]]",
                    ALLOWLIST_KEYS,
                ))
            }
        }
    }
    let principal = principal.ok_or_else(|| {
        missing(
            f,
            "allowlist",
            item,
            "principal",
            "the principal this entry is for",
        )
    })?;
    let action = action.ok_or_else(|| {
        missing(
            f,
            "allowlist",
            item,
            "action",
            "the action id that skips approval",
        )
    })?;
    Ok((principal, action))
}

fn rate_limits(f: &Fields, item: &Item, policy: &mut Policy) -> Result<(), ConfigError> {
    for (k, v) in f.table("rate_limits", item)?.iter() {
        match k.as_str() {
            "default" => policy.default_rate = Some(rate_limit(f, "rate_limits.default", v)?),
            "principals" => {
                for (principal, limit) in f.table("rate_limits.principals", v)?.iter() {
                    let key = format!("rate_limits.principals.{principal:?}");
                    check_name(f, &key, limit, principal, false).map_err(|_| {
                        f.err(
                            &key,
                            limit,
                            "expected a principal name (non-empty, no `*`); use rate_limits.default for everyone",
                        )
                    })?;
                    policy
                        .principal_rates
                        .insert(principal.clone(), rate_limit(f, &key, limit)?);
                }
            }
            other => {
                return Err(unknown_key(
                    f,
                    &full_key("rate_limits", other),
                    v,
                    "in [rate_limits]",
                    RATE_KEYS,
                ))
            }
        }
    }
    Ok(())
}

fn rate_limit(f: &Fields, key: &str, item: &Item) -> Result<RateLimit, ConfigError> {
    let mut calls = None;
    let mut window = None;
    for (k, v) in f.table(key, item)?.iter() {
        let full = format!("{key}.{k}");
        match k.as_str() {
            "calls" => calls = Some(f.int_in(&full, v, 1, 1_000_000)? as u32),
            "window_seconds" => window = Some(f.int_in(&full, v, 1, 86_400)? as u32),
            other => {
                return Err(unknown_key(
                    f,
                    &full_key(key, other),
                    v,
                    "in a rate limit",
                    LIMIT_KEYS,
                ))
            }
        }
    }
    Ok(RateLimit {
        calls: calls
            .ok_or_else(|| missing(f, key, item, "calls", "1..=1000000 calls per window"))?,
        window_seconds: window
            .ok_or_else(|| missing(f, key, item, "window_seconds", "1..=86400"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Policy, ConfigError> {
        Policy::parse(text, "test.toml")
    }

    fn err(text: &str) -> String {
        match parse(text) {
            Ok(_) => panic!("expected an error for:\n{text}"),
            Err(e) => e.0,
        }
    }

    /// The example from the module doc, in full.
    const FULL: &str = r#"
version = "default-1"

[acl."*"]
allowed_actions = ["*"]
allowed_side_effects = ["*"]

[acl."uid:1000"]
allowed_actions = ["http_fetch", "echo"]
allowed_side_effects = ["http_read"]
inherits_wildcard = false

[approval]
always = ["http_post"]
never = ["echo"]
sensitive_paths = ["**/.env", "**/.env.*", "**/secrets/**", "**/.ssh/**", "**/.aws/credentials"]

[[allowlist]]
principal = "dev:anonymous"
action = "http_fetch"

[rate_limits]
default = { calls = 20, window_seconds = 1 }
[rate_limits.principals."uid:1000"]
calls = 100
window_seconds = 60
"#;

    #[test]
    fn full_example_parses() {
        let p = parse(FULL).unwrap();
        assert_eq!(p.version, "default-1");
        assert_eq!(p.origin, "test.toml");
        assert_eq!(p.acl.len(), 2);
        let u = &p.acl["uid:1000"];
        assert_eq!(u.allowed_actions, ["http_fetch", "echo"]);
        assert_eq!(u.allowed_side_effects, ["http_read"]);
        assert!(!u.inherits_wildcard);
        assert!(p.always.contains("http_post"));
        assert!(p.never.contains("echo"));
        assert!(p
            .allowlist
            .contains(&("dev:anonymous".into(), "http_fetch".into())));
        assert_eq!(p.sensitive_paths.len(), 5);
        let d = RateLimit {
            calls: 20,
            window_seconds: 1,
        };
        let u = RateLimit {
            calls: 100,
            window_seconds: 60,
        };
        assert_eq!(p.default_rate, Some(d));
        assert_eq!(p.rate_limit_for("uid:1000"), Some(u));
        assert_eq!(p.rate_limit_for("alice"), Some(d));
    }

    #[test]
    fn embedded_default_is_open_for_development() {
        let p = Policy::load(None).unwrap();
        assert_eq!(p.version, "default-1");
        assert_eq!(p.origin, "embedded default policy");
        assert_eq!(p.acl.len(), 1);
        let star = &p.acl["*"];
        assert_eq!(star.allowed_actions, ["*"]);
        assert_eq!(star.allowed_side_effects, ["*"]);
        assert!(p.allowlist.is_empty() && p.always.is_empty() && p.never.is_empty());
        let globs: Vec<&str> = p.sensitive_paths.iter().map(Glob::as_str).collect();
        assert_eq!(globs, DEFAULT_SENSITIVE_PATHS);
        assert_eq!(p.default_rate, None);
        assert!(p.principal_rates.is_empty());
        assert_eq!(p.rate_limit_for("anyone"), None);
    }

    #[test]
    fn embedded_commented_examples_parse_when_uncommented() {
        // Operators copy the commented examples: they must be valid.
        let mut text = String::new();
        for line in EMBEDDED_POLICY.lines() {
            let body = line.strip_prefix("# ").unwrap_or("");
            let is_toml = body.starts_with('[')
                || body
                    .split_once(" = ")
                    .is_some_and(|(k, _)| !k.contains(' '));
            if is_toml {
                text.push_str(body);
                text.push('\n');
            }
        }
        let text = format!("version = \"x\"\n{text}");
        let p = parse(&text).unwrap();
        assert!(p.acl.contains_key("uid:1000"));
        assert_eq!(p.allowlist.len(), 1);
        assert!(p.default_rate.is_some());
        assert!(p.principal_rates.contains_key("uid:1000"));
    }

    #[test]
    fn minimal_policy_defaults() {
        let p = parse("version = \"v\"").unwrap();
        assert!(p.acl.is_empty());
        assert_eq!(p.sensitive_paths.len(), 5);
        let p = parse("version = \"v\"\n[acl.alice]\nallowed_actions = []\n").unwrap();
        assert!(p.acl["alice"].allowed_actions.is_empty());
        assert!(p.acl["alice"].allowed_side_effects.is_empty());
        let p = parse("version = \"v\"\n[approval]\nsensitive_paths = []\n").unwrap();
        assert!(p.sensitive_paths.is_empty());
    }

    #[test]
    fn version_rules() {
        assert!(err("").contains("missing required key `version`"));
        assert!(err("version = \"\"").contains("`version`"));
        assert!(err(&format!("version = \"{}\"", "x".repeat(65))).contains("1..=64"));
        assert!(err("version = 1").contains("expected a string"));
        assert!(err("version = \"a\\nb\"").contains("control"));
        assert_eq!(
            parse(&format!("version = \"{}\"", "é".repeat(64)))
                .unwrap()
                .version
                .chars()
                .count(),
            64
        );
    }

    #[test]
    fn unknown_keys_are_errors_listing_allowed_keys() {
        let e = err("version = \"v\"\nversoin = 1");
        assert!(
            e.contains("test.toml: line 2: `versoin`: unknown key"),
            "{e}"
        );
        assert!(
            e.contains("version, acl, approval, allowlist, rate_limits"),
            "{e}"
        );
        let e = err(
            "version = \"v\"\n[acl.\"*\"]\nallowed_actions = []\nallowed_sideeffects = [\"*\"]\n",
        );
        assert!(
            e.contains("acl.\"*\".allowed_sideeffects")
                && e.contains("allowed_side_effects, inherits_wildcard"),
            "{e}"
        );
        let e = err("version = \"v\"\n[approval]\nalways = []\nnevr = [\"x\"]\n");
        assert!(
            e.contains("approval.nevr") && e.contains("always, never, sensitive_paths"),
            "{e}"
        );
        let e = err(
            "version = \"v\"\n[[allowlist]]\nprincipal = \"a\"\naction = \"b\"\nnote = \"x\"\n",
        );
        assert!(
            e.contains("allowlist.note") && e.contains("principal, action"),
            "{e}"
        );
        let e =
            err("version = \"v\"\n[rate_limits]\ndefualt = { calls = 1, window_seconds = 1 }\n");
        assert!(
            e.contains("rate_limits.defualt") && e.contains("default, principals"),
            "{e}"
        );
        let e = err("version = \"v\"\n[rate_limits]\ndefault = { calls = 1, window = 1 }\n");
        assert!(
            e.contains("rate_limits.default.window") && e.contains("calls, window_seconds"),
            "{e}"
        );
        let e = err("version = \"v\"\n[rate_limits.principals.a]\ncalls = 1\nwindow_seconds = 1\nburst = 2\n");
        assert!(e.contains("rate_limits.principals.\"a\".burst"), "{e}");
    }

    #[test]
    fn acl_rules() {
        let e = err("version = \"v\"\n[acl.alice]\nallowed_side_effects = []\n");
        assert!(
            e.contains("line 2") && e.contains("missing required key `allowed_actions`"),
            "{e}"
        );
        assert!(
            err("version = \"v\"\n[acl.alice]\nallowed_actions = [\"\"]\n").contains("empty name")
        );
        assert!(
            err("version = \"v\"\n[acl.alice]\nallowed_actions = [\"http_*\"]\n")
                .contains("patterns are not supported")
        );
        assert!(
            err("version = \"v\"\n[acl.alice]\nallowed_actions = \"*\"\n")
                .contains("expected an array of strings")
        );
        assert!(err("version = \"v\"\n[acl.alice]\nallowed_actions = [1]\n")
            .contains("expected a string"));
        assert!(err(
            "version = \"v\"\n[acl.alice]\nallowed_actions = []\ninherits_wildcard = \"yes\"\n"
        )
        .contains("true or false"));
        assert!(err(
            "version = \"v\"\n[acl.\"*\"]\nallowed_actions = []\ninherits_wildcard = true\n"
        )
        .contains("no meaning"));
        assert!(err("version = \"v\"\n[acl.\"\"]\nallowed_actions = []\n").contains("empty name"));
        assert!(
            err("version = \"v\"\n[acl.\"uid:*\"]\nallowed_actions = []\n")
                .contains("patterns are not supported")
        );
        assert!(err("version = \"v\"\nacl = [1]\n").contains("expected a table"));
        let p = parse(
            "version = \"v\"\n[acl.alice]\nallowed_actions = [\"a\"]\ninherits_wildcard = true\n",
        )
        .unwrap();
        assert!(p.acl["alice"].inherits_wildcard);
    }

    #[test]
    fn approval_rules() {
        let e = err("version = \"v\"\n[approval]\nalways = [\"x\", \"y\"]\nnever = [\"y\"]\n");
        assert!(e.contains("\"y\" is in both `always` and `never`"), "{e}");
        assert!(err("version = \"v\"\n[approval]\nalways = [\"*\"]\n").contains("not allowed here"));
        assert!(err("version = \"v\"\n[approval]\nnever = [\"*\"]\n").contains("not allowed here"));
        let e = err("version = \"v\"\n[approval]\nsensitive_paths = [\"a//b\"]\n");
        assert!(
            e.contains("approval.sensitive_paths") && e.contains("empty segment"),
            "{e}"
        );
        assert!(
            err("version = \"v\"\n[approval]\nsensitive_paths = [\"\"]\n")
                .contains("empty pattern")
        );
        let p = parse("version = \"v\"\n[approval]\nsensitive_paths = [\"keys/*.pem\"]\n").unwrap();
        assert_eq!(p.sensitive_paths.len(), 1);
        assert!(p.sensitive_paths[0].matches("keys/a.pem"));
    }

    #[test]
    fn allowlist_rules() {
        let e = err("version = \"v\"\n[[allowlist]]\nprincipal = \"a\"\n");
        assert!(
            e.contains("line 2") && e.contains("missing required key `action`"),
            "{e}"
        );
        assert!(err("version = \"v\"\n[[allowlist]]\naction = \"a\"\n")
            .contains("missing required key `principal`"));
        assert!(
            err("version = \"v\"\n[[allowlist]]\nprincipal = \"\"\naction = \"a\"\n")
                .contains("empty name")
        );
        assert!(
            err("version = \"v\"\n[[allowlist]]\nprincipal = \"*\"\naction = \"a\"\n")
                .contains("not allowed here")
        );
        assert!(
            err("version = \"v\"\n[[allowlist]]\nprincipal = \"p\"\naction = \"*\"\n")
                .contains("not allowed here")
        );
        assert!(
            err("version = \"v\"\n[allowlist]\nprincipal = \"p\"\naction = \"a\"\n")
                .contains("expected [[allowlist]] tables")
        );
        assert!(err("version = \"v\"\nallowlist = [1]\n").contains("expected a table"));
        let p = parse("version = \"v\"\nallowlist = []\n").unwrap();
        assert!(p.allowlist.is_empty());
    }

    #[test]
    fn rate_limit_rules() {
        let ok = |c: &str, w: &str| {
            parse(&format!("version = \"v\"\n[rate_limits]\ndefault = {{ calls = {c}, window_seconds = {w} }}\n"))
        };
        assert!(ok("1", "1").is_ok());
        assert!(ok("1000000", "86400").is_ok());
        assert!(ok("0", "1").unwrap_err().0.contains("allowed 1..=1000000"));
        assert!(ok("1000001", "1").is_err());
        assert!(ok("1", "0").unwrap_err().0.contains("allowed 1..=86400"));
        assert!(ok("1", "86401").is_err());
        assert!(ok("1", "1.5")
            .unwrap_err()
            .0
            .contains("expected an integer"));
        assert!(
            err("version = \"v\"\n[rate_limits]\ndefault = { calls = 1 }\n")
                .contains("missing required key `window_seconds`")
        );
        assert!(
            err("version = \"v\"\n[rate_limits]\ndefault = { window_seconds = 1 }\n")
                .contains("missing required key `calls`")
        );
        assert!(err(
            "version = \"v\"\n[rate_limits.principals.\"*\"]\ncalls = 1\nwindow_seconds = 1\n"
        )
        .contains("use rate_limits.default"));
        let p =
            parse("version = \"v\"\n[rate_limits.principals.bob]\ncalls = 3\nwindow_seconds = 9\n")
                .unwrap();
        assert_eq!(p.default_rate, None);
        assert_eq!(
            p.rate_limit_for("bob"),
            Some(RateLimit {
                calls: 3,
                window_seconds: 9
            })
        );
        assert_eq!(p.rate_limit_for("alice"), None);
    }

    #[test]
    fn toml_syntax_errors_name_the_origin() {
        let e = err("version = \"v\"\nversion = \"w\"\n");
        assert!(e.starts_with("test.toml: line 2"), "{e}");
        assert!(err("[acl").starts_with("test.toml: "));
    }

    #[test]
    fn load_reads_files_and_names_them() {
        let dir =
            std::env::temp_dir().join(format!("latchgate-policy-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.toml");
        std::fs::write(&good, FULL).unwrap();
        let p = Policy::load(Some(&good)).unwrap();
        assert_eq!(p.origin, good.display().to_string());
        let bad = dir.join("bad.toml");
        std::fs::write(&bad, "version = \"v\"\nbogus = 1\n").unwrap();
        let e = Policy::load(Some(&bad)).unwrap_err().0;
        assert!(e.starts_with(&format!("{}: line 2", bad.display())), "{e}");
        let big = dir.join("big.toml");
        std::fs::write(
            &big,
            format!("version = \"v\"\n#{}\n", "x".repeat(1024 * 1024)),
        )
        .unwrap();
        assert!(Policy::load(Some(&big))
            .unwrap_err()
            .0
            .contains("larger than 1 MiB"));
        let binary = dir.join("binary.toml");
        std::fs::write(&binary, [0xff, 0xfe]).unwrap();
        assert!(Policy::load(Some(&binary))
            .unwrap_err()
            .0
            .contains("not valid UTF-8"));
        let e = Policy::load(Some(&dir.join("missing.toml"))).unwrap_err().0;
        assert!(
            e.contains("cannot read policy file") && e.contains("missing.toml"),
            "{e}"
        );
        assert!(Policy::load(Some(&dir))
            .unwrap_err()
            .0
            .contains("not a regular file"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unknown_actions_are_reported_in_order() {
        let p = parse(FULL).unwrap();
        assert!(p
            .unknown_actions(&["http_fetch", "echo", "http_post"])
            .is_empty());
        let w = p.unknown_actions(&["echo"]);
        assert_eq!(
            w,
            [
                "policy test.toml: acl.\"uid:1000\".allowed_actions names unknown action \"http_fetch\"",
                "policy test.toml: approval.always names unknown action \"http_post\"",
                "policy test.toml: allowlist entry for \"dev:anonymous\" names unknown action \"http_fetch\"",
            ]
        );
    }
}
