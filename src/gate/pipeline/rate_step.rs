//! Per-principal rate limit (limits from the policy, fixed window). Runs
//! after authentication, so the bucket is the verified principal, never a
//! claim the caller could pick. Over the limit: 429 `rate_limited` with
//! `retry-after` (seconds until the window ends).

use crate::gate::errors::GateError;
use crate::gate::Gate;
use crate::policy::Policy;

/// Counts one call for `principal`, or refuses it.
pub fn check(gate: &Gate, policy: &Policy, principal: &str) -> Result<(), GateError> {
    let Some(limit) = policy.rate_limit_for(principal) else {
        return Ok(());
    };
    gate.rate
        .check(principal, limit, crate::time::unix_now_millis())
        .map_err(|retry_after| {
            let mut e = GateError::new(429, "rate_limited").reason(format!(
                "principal `{principal}` is limited to {} calls per {} s (policy rate_limits)",
                limit.calls, limit.window_seconds
            ));
            e.headers.push(("retry-after", retry_after.to_string()));
            e
        })
}
