//! The policy engine: a TOML policy file and a fixed, deterministic,
//! self-explaining evaluator. Deny by default.
//!
//! It replaces LatchGate v0.2's Rego policy with a hard-coded rule order.
//! `file` reads and validates the policy (format in its module doc and in
//! `policies/default.toml`), `eval` decides on one call, `rate` limits calls
//! per principal and `glob` matches sensitive paths.
//!
//! Evaluation order — first match wins; the rule id is in backticks:
//! 1. ACL entry: the principal's own entry, else `"*"`'s, else none → Deny
//!    `acl.no_entry`. The actions allowed are the entry's `allowed_actions`
//!    (plus `"*"`'s when `inherits_wildcard`); `"*"` matches every action.
//!    Not allowed → Deny `acl.action`.
//! 2. Every declared side effect must be in `allowed_side_effects` (same
//!    resolution) → else Deny `acl.side_effect`, naming the first missing one.
//! 3. The lease's scopes must hold `tools:call` and every required scope →
//!    else Deny `scope`.
//! 4. Risk high or critical → Hold `approval.risk` (nothing waives this).
//! 5. A file path matching a sensitive glob → Hold `approval.sensitive_path`
//!    (nothing waives this).
//! 6. (principal, action) in the allowlist → Allow `allowlist`; undeclared
//!    domains are widened and undeclared paths allowed.
//! 7. Action in `approval.always` → Hold `approval.always`.
//! 8. Undeclared domains: action in `approval.never` → Deny
//!    `approval.never_undeclared_domain`, else Hold `approval.undeclared_domain`
//!    (an approval widens egress to exactly those hosts). Then undeclared
//!    paths: Deny `approval.never_undeclared_path` / Hold
//!    `approval.undeclared_path`.
//! 9. Otherwise Allow `acl.allow`.
//!
//! A held call carries its undeclared hosts (`widen_domains`) whichever
//! rule held it: the operator sees them, and approving widens egress to
//! exactly those hosts for that one call.

mod eval;
mod file;
mod glob;
mod rate;

pub use eval::{Decision, Outcome, PolicyInput};
pub use file::{AclEntry, Policy, RateLimit, EMBEDDED_POLICY};
pub use glob::Glob;
pub use rate::RateLimiter;
