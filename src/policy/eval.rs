//! The evaluator: a fixed, first-match-wins rule order over a [`Policy`]
//! (listed in the module doc of `policy`). Every decision names the rule
//! that made it and says why in one sentence. Pure and deterministic: the
//! same policy and input always give the same decision, word for word.

use super::file::{AclEntry, Policy};
use crate::registry::RiskLevel;

/// The facts about one call that the policy decides on.
#[derive(Clone, Copy, Debug)]
pub struct PolicyInput<'a> {
    /// The lease's principal.
    pub principal: &'a str,
    /// The lease's scopes.
    pub scopes: &'a [String],
    /// The action called.
    pub action_id: &'a str,
    /// The manifest's risk level.
    pub risk: RiskLevel,
    /// The manifest's declared_side_effects.
    pub side_effects: &'a [String],
    /// The manifest's required_scopes (besides tools:call).
    pub required_scopes: &'a [String],
    /// Hosts the call would contact that the manifest does not declare.
    pub unresolved_domains: &'a [String],
    /// File paths the call touches (relative to its fs root), may be empty.
    pub fs_paths: &'a [String],
    /// Paths outside what the manifest declares.
    pub unresolved_paths: &'a [String],
}

/// What the policy says about a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Run it now.
    Allow,
    /// Refuse it.
    Deny,
    /// Wait for a human approval.
    Hold,
}

impl Outcome {
    /// The wire name: "allow", "deny" or "pending_approval".
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allow => "allow",
            Outcome::Deny => "deny",
            Outcome::Hold => "pending_approval",
        }
    }
}

/// A policy decision and its explanation.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// Allow, deny or hold.
    pub outcome: Outcome,
    /// The stable id of the deciding rule (e.g. "acl.action").
    pub rule: &'static str,
    /// One sentence naming principal, action and the deciding fact.
    pub reason: String,
    /// The acl key used ("*" or the principal), when one matched.
    pub acl_entry: Option<String>,
    /// Hosts to add to the run's egress sinks: the unresolved domains when
    /// allowed via the allowlist or held by any rule (an approval covers
    /// the call as shown, new hosts included); else empty.
    pub widen_domains: Vec<String>,
}

/// The wildcard that means "every action" / "every side effect".
const ANY: &str = "*";

/// The scope every tool call needs.
const TOOLS_CALL: &str = "tools:call";

/// How many items of a list a reason names before "and N more".
const LIST_SHOWN: usize = 5;

/// The acl entry that applies and how to name it in reasons.
struct Resolved<'p> {
    key: &'p str,
    entry: &'p AclEntry,
    /// The `*` entry, when `entry` inherits it.
    wildcard: Option<&'p AclEntry>,
}

impl Resolved<'_> {
    fn allows_action(&self, action: &str) -> bool {
        let own = contains_or_any(&self.entry.allowed_actions, action);
        own || self
            .wildcard
            .is_some_and(|w| contains_or_any(&w.allowed_actions, action))
    }
    fn allows_side_effect(&self, effect: &str) -> bool {
        let own = contains_or_any(&self.entry.allowed_side_effects, effect);
        own || self
            .wildcard
            .is_some_and(|w| contains_or_any(&w.allowed_side_effects, effect))
    }
    /// `acl."alice"`, or `acl."alice" (with acl."*")` when inheriting.
    fn name(&self, list: &str) -> String {
        match self.wildcard {
            Some(_) => format!("acl.{:?}.{list} (with acl.\"*\")", self.key),
            None => format!("acl.{:?}.{list}", self.key),
        }
    }
}

fn contains_or_any(list: &[String], name: &str) -> bool {
    list.iter().any(|x| x == ANY || x == name)
}

/// `"a", "b" and 3 more`, Debug-quoted so control characters are escaped.
fn list(items: &[String]) -> String {
    let shown: Vec<String> = items
        .iter()
        .take(LIST_SHOWN)
        .map(|s| format!("{s:?}"))
        .collect();
    let mut out = shown.join(", ");
    if items.len() > LIST_SHOWN {
        out.push_str(&format!(" and {} more", items.len() - LIST_SHOWN));
    }
    out
}

fn decision(
    outcome: Outcome,
    rule: &'static str,
    reason: String,
    acl_entry: Option<&str>,
    widen_domains: Vec<String>,
) -> Decision {
    Decision {
        outcome,
        rule,
        reason,
        acl_entry: acl_entry.map(str::to_string),
        widen_domains,
    }
}

impl Policy {
    /// Decides on one call; see the module doc of `policy` for the order.
    pub fn evaluate(&self, input: &PolicyInput) -> Decision {
        let who = input.principal;
        let what = input.action_id;

        // 1. The acl entry: the principal's own, else "*", else deny.
        let Some((key, entry)) = self
            .acl
            .get_key_value(who)
            .or_else(|| self.acl.get_key_value(ANY))
        else {
            return decision(
                Outcome::Deny,
                "acl.no_entry",
                format!(
                    "principal {who:?} may not call {what:?}: the policy has no acl entry for it and no \"*\" entry"
                ),
                None,
                Vec::new(),
            );
        };
        let acl = Resolved {
            key,
            entry,
            wildcard: if entry.inherits_wildcard && key != ANY {
                self.acl.get(ANY)
            } else {
                None
            },
        };
        let acl_key = Some(key.as_str());
        if !acl.allows_action(what) {
            return decision(
                Outcome::Deny,
                "acl.action",
                format!(
                    "principal {who:?} may not call {what:?}: it is not in {}",
                    acl.name("allowed_actions")
                ),
                acl_key,
                Vec::new(),
            );
        }

        // 2. Every declared side effect must be allowed.
        if let Some(effect) = input
            .side_effects
            .iter()
            .find(|e| !acl.allows_side_effect(e))
        {
            return decision(
                Outcome::Deny,
                "acl.side_effect",
                format!(
                    "principal {who:?} may not call {what:?}: its side effect {effect:?} is not in {}",
                    acl.name("allowed_side_effects")
                ),
                acl_key,
                Vec::new(),
            );
        }

        // 3. The lease must carry tools:call and every required scope.
        if let Some(scope) = std::iter::once(TOOLS_CALL)
            .chain(input.required_scopes.iter().map(String::as_str))
            .find(|s| !input.scopes.iter().any(|have| have == s))
        {
            return decision(
                Outcome::Deny,
                "scope",
                format!("principal {who:?} may not call {what:?}: the lease lacks scope {scope:?}"),
                acl_key,
                Vec::new(),
            );
        }

        // 4. High and critical risk always wait for a human; nothing waives this.
        if input.risk.is_high() {
            return decision(
                Outcome::Hold,
                "approval.risk",
                format!(
                    "{what:?} by principal {who:?} needs approval: its risk level is {}",
                    input.risk.as_str()
                ),
                acl_key,
                // An approval covers the call as shown, its new hosts included.
                input.unresolved_domains.to_vec(),
            );
        }

        // 5. Sensitive paths always wait for a human; nothing waives this.
        // Unresolved paths are checked too, in case a caller lists a path
        // only there.
        for path in input.fs_paths.iter().chain(input.unresolved_paths) {
            if let Some(glob) = self.sensitive_paths.iter().find(|g| g.matches(path)) {
                return decision(
                    Outcome::Hold,
                    "approval.sensitive_path",
                    format!(
                        "{what:?} by principal {who:?} needs approval: path {path:?} matches sensitive pattern {:?}",
                        glob.as_str()
                    ),
                    acl_key,
                    // An approval covers the call as shown, its new hosts included.
                input.unresolved_domains.to_vec(),
                );
            }
        }

        // 6. The allowlist skips approval (undeclared domains and paths included).
        if self
            .allowlist
            .contains(&(who.to_string(), what.to_string()))
        {
            return decision(
                Outcome::Allow,
                "allowlist",
                format!("{what:?} by principal {who:?} is allowed without approval: the allowlist names this pair"),
                acl_key,
                input.unresolved_domains.to_vec(),
            );
        }

        // 7. Actions that always need a human.
        if self.always.contains(what) {
            return decision(
                Outcome::Hold,
                "approval.always",
                format!("{what:?} by principal {who:?} needs approval: approval.always lists it"),
                acl_key,
                // An approval covers the call as shown, its new hosts included.
                input.unresolved_domains.to_vec(),
            );
        }

        // 8. Undeclared domains, then undeclared paths: a human may widen
        // them, unless the action is one that never waits for a human.
        let never = self.never.contains(what);
        if !input.unresolved_domains.is_empty() {
            let hosts = list(input.unresolved_domains);
            return if never {
                decision(
                    Outcome::Deny,
                    "approval.never_undeclared_domain",
                    format!(
                        "{what:?} by principal {who:?} is denied: it would contact undeclared hosts {hosts} and approval.never lists it"
                    ),
                    acl_key,
                    Vec::new(),
                )
            } else {
                decision(
                    Outcome::Hold,
                    "approval.undeclared_domain",
                    format!(
                        "{what:?} by principal {who:?} needs approval: it would contact undeclared hosts {hosts}"
                    ),
                    acl_key,
                    input.unresolved_domains.to_vec(),
                )
            };
        }
        if !input.unresolved_paths.is_empty() {
            let paths = list(input.unresolved_paths);
            return if never {
                decision(
                    Outcome::Deny,
                    "approval.never_undeclared_path",
                    format!(
                        "{what:?} by principal {who:?} is denied: it would touch undeclared paths {paths} and approval.never lists it"
                    ),
                    acl_key,
                    Vec::new(),
                )
            } else {
                decision(
                    Outcome::Hold,
                    "approval.undeclared_path",
                    format!(
                        "{what:?} by principal {who:?} needs approval: it would touch undeclared paths {paths}"
                    ),
                    acl_key,
                    Vec::new(),
                )
            };
        }

        // 9. Nothing stands in the way.
        decision(
            Outcome::Allow,
            "acl.allow",
            format!(
                "{what:?} by principal {who:?} is allowed by {}",
                acl.name("allowed_actions")
            ),
            acl_key,
            Vec::new(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(text: &str) -> Policy {
        Policy::parse(&format!("version = \"t-1\"\n{text}"), "test.toml").unwrap()
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    /// A call's facts, owned; `input()` borrows them.
    struct Call {
        principal: String,
        scopes: Vec<String>,
        action: String,
        risk: RiskLevel,
        side_effects: Vec<String>,
        required_scopes: Vec<String>,
        domains: Vec<String>,
        fs_paths: Vec<String>,
        paths: Vec<String>,
    }

    impl Call {
        fn new(principal: &str, action: &str) -> Call {
            Call {
                principal: principal.into(),
                scopes: strings(&["tools:call"]),
                action: action.into(),
                risk: RiskLevel::Low,
                side_effects: Vec::new(),
                required_scopes: Vec::new(),
                domains: Vec::new(),
                fs_paths: Vec::new(),
                paths: Vec::new(),
            }
        }
        fn input(&self) -> PolicyInput<'_> {
            PolicyInput {
                principal: &self.principal,
                scopes: &self.scopes,
                action_id: &self.action,
                risk: self.risk,
                side_effects: &self.side_effects,
                required_scopes: &self.required_scopes,
                unresolved_domains: &self.domains,
                fs_paths: &self.fs_paths,
                unresolved_paths: &self.paths,
            }
        }
        fn run(&self, p: &Policy) -> Decision {
            p.evaluate(&self.input())
        }
    }

    const OPEN: &str = "[acl.\"*\"]\nallowed_actions = [\"*\"]\nallowed_side_effects = [\"*\"]\n";

    #[test]
    fn outcome_names() {
        assert_eq!(Outcome::Allow.as_str(), "allow");
        assert_eq!(Outcome::Deny.as_str(), "deny");
        assert_eq!(Outcome::Hold.as_str(), "pending_approval");
    }

    #[test]
    fn no_entry_and_no_wildcard_denies() {
        let p = policy("[acl.alice]\nallowed_actions = [\"*\"]\n");
        let d = Call::new("bob", "echo").run(&p);
        assert_eq!((d.outcome, d.rule), (Outcome::Deny, "acl.no_entry"));
        assert_eq!(d.acl_entry, None);
        assert!(
            d.reason.contains("\"bob\"") && d.reason.contains("\"echo\""),
            "{}",
            d.reason
        );
        // An empty policy denies everything.
        let d = Call::new("bob", "echo").run(&policy(""));
        assert_eq!(d.rule, "acl.no_entry");
    }

    #[test]
    fn absent_principal_falls_back_to_wildcard() {
        let p = policy(
            "[acl.\"*\"]\nallowed_actions = [\"echo\"]\n[acl.alice]\nallowed_actions = []\n",
        );
        let d = Call::new("bob", "echo").run(&p);
        assert_eq!((d.outcome, d.rule), (Outcome::Allow, "acl.allow"));
        assert_eq!(d.acl_entry.as_deref(), Some("*"));
        // alice has her own (empty) entry: "*" is not consulted.
        let d = Call::new("alice", "echo").run(&p);
        assert_eq!((d.outcome, d.rule), (Outcome::Deny, "acl.action"));
        assert_eq!(d.acl_entry.as_deref(), Some("alice"));
        assert!(
            d.reason.contains("acl.\"alice\".allowed_actions"),
            "{}",
            d.reason
        );
    }

    #[test]
    fn action_not_allowed_denies() {
        let p = policy("[acl.alice]\nallowed_actions = [\"http_fetch\"]\n");
        let d = Call::new("alice", "http_post").run(&p);
        assert_eq!((d.outcome, d.rule), (Outcome::Deny, "acl.action"));
        assert_eq!(
            d.reason,
            "principal \"alice\" may not call \"http_post\": it is not in acl.\"alice\".allowed_actions"
        );
        assert_eq!(Call::new("alice", "http_fetch").run(&p).rule, "acl.allow");
    }

    #[test]
    fn inherits_wildcard_is_a_union() {
        let p = policy(
            "[acl.\"*\"]\nallowed_actions = [\"echo\"]\nallowed_side_effects = [\"http_read\"]\n\
             [acl.alice]\nallowed_actions = [\"http_post\"]\nallowed_side_effects = [\"http_write\"]\ninherits_wildcard = true\n\
             [acl.bob]\nallowed_actions = [\"http_post\"]\nallowed_side_effects = [\"http_write\"]\n",
        );
        let mut c = Call::new("alice", "echo");
        c.side_effects = strings(&["http_read", "http_write"]);
        let d = c.run(&p);
        assert_eq!((d.outcome, d.rule), (Outcome::Allow, "acl.allow"));
        assert_eq!(d.acl_entry.as_deref(), Some("alice"));
        assert!(d.reason.contains("(with acl.\"*\")"), "{}", d.reason);
        c.action = "http_post".into();
        assert_eq!(c.run(&p).rule, "acl.allow");
        c.action = "other".into();
        assert_eq!(c.run(&p).rule, "acl.action");
        // Without inherits_wildcard, bob gets only his own lists.
        let mut c = Call::new("bob", "echo");
        assert_eq!(c.run(&p).rule, "acl.action");
        c.action = "http_post".into();
        c.side_effects = strings(&["http_read"]);
        assert_eq!(c.run(&p).rule, "acl.side_effect");
    }

    #[test]
    fn inherits_wildcard_without_a_wildcard_entry_is_harmless() {
        let p = policy("[acl.alice]\nallowed_actions = [\"echo\"]\ninherits_wildcard = true\n");
        assert_eq!(Call::new("alice", "echo").run(&p).rule, "acl.allow");
        assert_eq!(Call::new("alice", "x").run(&p).rule, "acl.action");
    }

    #[test]
    fn side_effect_not_allowed_names_the_first_missing() {
        let p = policy(
            "[acl.\"*\"]\nallowed_actions = [\"*\"]\nallowed_side_effects = [\"http_read\"]\n",
        );
        let mut c = Call::new("alice", "http_post");
        c.side_effects = strings(&["http_read", "http_write", "fs_write"]);
        let d = c.run(&p);
        assert_eq!((d.outcome, d.rule), (Outcome::Deny, "acl.side_effect"));
        assert_eq!(
            d.reason,
            "principal \"alice\" may not call \"http_post\": its side effect \"http_write\" is not in acl.\"*\".allowed_side_effects"
        );
        // allowed_side_effects defaults to []: any declared effect is denied.
        let p = policy("[acl.\"*\"]\nallowed_actions = [\"*\"]\n");
        assert_eq!(c.run(&p).rule, "acl.side_effect");
        c.side_effects.clear();
        assert_eq!(c.run(&p).rule, "acl.allow");
    }

    #[test]
    fn missing_scopes_deny() {
        let p = policy(OPEN);
        let mut c = Call::new("alice", "echo");
        c.scopes.clear();
        let d = c.run(&p);
        assert_eq!((d.outcome, d.rule), (Outcome::Deny, "scope"));
        assert!(d.reason.contains("\"tools:call\""), "{}", d.reason);
        c.scopes = strings(&["tools:call", "net:read"]);
        c.required_scopes = strings(&["net:read", "fs:write"]);
        let d = c.run(&p);
        assert_eq!(d.rule, "scope");
        assert!(d.reason.contains("\"fs:write\""), "{}", d.reason);
        c.scopes.push("fs:write".into());
        assert_eq!(c.run(&p).rule, "acl.allow");
    }

    #[test]
    fn acl_is_checked_before_scopes() {
        let p = policy("[acl.\"*\"]\nallowed_actions = [\"echo\"]\n");
        let mut c = Call::new("alice", "other");
        c.scopes.clear();
        assert_eq!(c.run(&p).rule, "acl.action");
    }

    #[test]
    fn high_risk_holds_and_nothing_waives_it() {
        let p = policy(&format!(
            "{OPEN}[approval]\nnever = [\"danger\"]\n[[allowlist]]\nprincipal = \"alice\"\naction = \"danger\"\n"
        ));
        for risk in [RiskLevel::High, RiskLevel::Critical] {
            let mut c = Call::new("alice", "danger");
            c.risk = risk;
            c.domains = strings(&["evil.example"]);
            let d = c.run(&p);
            assert_eq!((d.outcome, d.rule), (Outcome::Hold, "approval.risk"));
            assert_eq!(d.widen_domains, strings(&["evil.example"]));
            assert!(d.reason.contains(risk.as_str()), "{}", d.reason);
        }
        let mut c = Call::new("alice", "danger");
        c.risk = RiskLevel::Medium;
        assert_eq!(c.run(&p).rule, "allowlist");
    }

    #[test]
    fn scope_is_checked_before_risk() {
        let mut c = Call::new("alice", "echo");
        c.risk = RiskLevel::Critical;
        c.scopes.clear();
        assert_eq!(c.run(&policy(OPEN)).rule, "scope");
    }

    #[test]
    fn sensitive_paths_hold_and_nothing_waives_them() {
        let p = policy(&format!(
            "{OPEN}[approval]\nnever = [\"fs_read\"]\n[[allowlist]]\nprincipal = \"alice\"\naction = \"fs_read\"\n"
        ));
        let mut c = Call::new("alice", "fs_read");
        c.fs_paths = strings(&["src/main.rs", "config/.env.local"]);
        let d = c.run(&p);
        assert_eq!(
            (d.outcome, d.rule),
            (Outcome::Hold, "approval.sensitive_path")
        );
        assert!(
            d.reason.contains("\"config/.env.local\"") && d.reason.contains("\"**/.env.*\""),
            "{}",
            d.reason
        );
        // Listed only as unresolved: still caught.
        c.fs_paths = strings(&["src/main.rs"]);
        c.paths = strings(&["home/.ssh/id_ed25519"]);
        assert_eq!(c.run(&p).rule, "approval.sensitive_path");
        // Risk comes first.
        c.risk = RiskLevel::High;
        assert_eq!(c.run(&p).rule, "approval.risk");
        // An operator's own list replaces the default one.
        let p = policy(&format!(
            "{OPEN}[approval]\nsensitive_paths = [\"keys/**\"]\n"
        ));
        let mut c = Call::new("alice", "fs_read");
        c.fs_paths = strings(&[".env"]);
        assert_eq!(c.run(&p).rule, "acl.allow");
        c.fs_paths = strings(&["keys/a"]);
        assert_eq!(c.run(&p).rule, "approval.sensitive_path");
    }

    #[test]
    fn allowlist_allows_and_widens() {
        let p = policy(&format!(
            "{OPEN}[approval]\nalways = [\"http_post\"]\n[[allowlist]]\nprincipal = \"alice\"\naction = \"http_post\"\n"
        ));
        let mut c = Call::new("alice", "http_post");
        c.domains = strings(&["a.example", "b.example"]);
        c.paths = strings(&["out/x"]);
        let d = c.run(&p);
        assert_eq!((d.outcome, d.rule), (Outcome::Allow, "allowlist"));
        assert_eq!(d.widen_domains, strings(&["a.example", "b.example"]));
        assert_eq!(d.acl_entry.as_deref(), Some("*"));
        // Another principal gets the `always` hold, without widening.
        c.principal = "bob".into();
        let d = c.run(&p);
        assert_eq!((d.outcome, d.rule), (Outcome::Hold, "approval.always"));
        assert_eq!(d.widen_domains, strings(&["a.example", "b.example"]));
    }

    #[test]
    fn allowlist_does_not_bypass_the_acl() {
        let p = policy(
            "[acl.alice]\nallowed_actions = [\"echo\"]\n[[allowlist]]\nprincipal = \"alice\"\naction = \"http_post\"\n",
        );
        assert_eq!(Call::new("alice", "http_post").run(&p).rule, "acl.action");
    }

    #[test]
    fn always_holds() {
        let p = policy(&format!("{OPEN}[approval]\nalways = [\"http_post\"]\n"));
        let d = Call::new("alice", "http_post").run(&p);
        assert_eq!((d.outcome, d.rule), (Outcome::Hold, "approval.always"));
        assert_eq!(
            d.reason,
            "\"http_post\" by principal \"alice\" needs approval: approval.always lists it"
        );
        assert_eq!(Call::new("alice", "echo").run(&p).rule, "acl.allow");
    }

    #[test]
    fn undeclared_domains_hold_and_widen_unless_never() {
        let p = policy(&format!("{OPEN}[approval]\nnever = [\"echo\"]\n"));
        let mut c = Call::new("alice", "http_fetch");
        c.domains = strings(&["x.example"]);
        c.paths = strings(&["tmp/out"]);
        let d = c.run(&p);
        assert_eq!(
            (d.outcome, d.rule),
            (Outcome::Hold, "approval.undeclared_domain")
        );
        assert_eq!(d.widen_domains, strings(&["x.example"]));
        assert!(d.reason.contains("\"x.example\""), "{}", d.reason);
        c.action = "echo".into();
        let d = c.run(&p);
        assert_eq!(
            (d.outcome, d.rule),
            (Outcome::Deny, "approval.never_undeclared_domain")
        );
        assert!(d.widen_domains.is_empty());
    }

    #[test]
    fn undeclared_paths_hold_unless_never() {
        let p = policy(&format!("{OPEN}[approval]\nnever = [\"echo\"]\n"));
        let mut c = Call::new("alice", "fs_write");
        c.fs_paths = strings(&["tmp/out"]);
        c.paths = strings(&["tmp/out"]);
        let d = c.run(&p);
        assert_eq!(
            (d.outcome, d.rule),
            (Outcome::Hold, "approval.undeclared_path")
        );
        assert!(d.widen_domains.is_empty());
        c.action = "echo".into();
        let d = c.run(&p);
        assert_eq!(
            (d.outcome, d.rule),
            (Outcome::Deny, "approval.never_undeclared_path")
        );
    }

    #[test]
    fn long_lists_are_shortened_in_reasons() {
        let p = policy(OPEN);
        let mut c = Call::new("alice", "http_fetch");
        c.domains = (0..8).map(|i| format!("h{i}.example")).collect();
        let d = c.run(&p);
        assert!(
            d.reason.ends_with("\"h4.example\" and 3 more"),
            "{}",
            d.reason
        );
        assert_eq!(d.widen_domains.len(), 8);
    }

    #[test]
    fn reasons_escape_control_characters() {
        let d = Call::new("a\nb", "x\u{1b}y").run(&policy(""));
        assert!(
            !d.reason.contains('\n') && !d.reason.contains('\u{1b}'),
            "{}",
            d.reason
        );
    }

    #[test]
    fn plain_call_is_allowed_and_deterministic() {
        let p = policy(OPEN);
        let mut c = Call::new("alice", "echo");
        c.side_effects = strings(&["http_read"]);
        c.fs_paths = strings(&["notes/todo.txt"]);
        let d = c.run(&p);
        assert_eq!((d.outcome, d.rule), (Outcome::Allow, "acl.allow"));
        assert_eq!(
            d.reason,
            "\"echo\" by principal \"alice\" is allowed by acl.\"*\".allowed_actions"
        );
        assert_eq!(d, c.run(&p.clone()));
        assert_eq!(d, c.run(&p));
    }

    #[test]
    fn embedded_default_allows_low_risk_and_holds_the_rest() {
        let p = Policy::load(None).unwrap();
        let mut c = Call::new("dev:anonymous", "http_fetch");
        c.side_effects = strings(&["http_read"]);
        assert_eq!(c.run(&p).rule, "acl.allow");
        c.fs_paths = strings(&[".env"]);
        assert_eq!(c.run(&p).rule, "approval.sensitive_path");
        c.fs_paths.clear();
        c.domains = strings(&["other.example"]);
        assert_eq!(c.run(&p).rule, "approval.undeclared_domain");
    }
}
