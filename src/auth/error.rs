//! The authentication error: an HTTP status, a wire code and a reason.

use std::fmt;

/// Why a request failed authentication.
///
/// `code` is the wire error code (§1.1 of the reference); `reason` is a
/// human explanation the gate returns as `deny_reason` (empty when none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthError {
    /// HTTP status: 401, or 503 when the gate cannot decide.
    pub status: u16,
    /// Wire code, e.g. `invalid_dpop`.
    pub code: &'static str,
    /// Human explanation (safe to show the caller).
    pub reason: String,
}

/// Reason prefix for a proof whose key is not the one the lease is bound
/// to; `AuthError::is_jkt_mismatch` looks for it.
pub(crate) const JKT_MISMATCH: &str = "cnf.jkt mismatch";

impl AuthError {
    fn new(status: u16, code: &'static str, reason: impl Into<String>) -> AuthError {
        AuthError {
            status,
            code,
            reason: reason.into(),
        }
    }
    /// 401 `lease_expired`.
    pub fn lease_expired(reason: impl Into<String>) -> AuthError {
        Self::new(401, "lease_expired", reason)
    }
    /// 401 `invalid_lease`.
    pub fn invalid_lease(reason: impl Into<String>) -> AuthError {
        Self::new(401, "invalid_lease", reason)
    }
    /// 401 `invalid_dpop`.
    pub fn invalid_dpop(reason: impl Into<String>) -> AuthError {
        Self::new(401, "invalid_dpop", reason)
    }
    /// 401 `replay_detected`.
    pub fn replay_detected(reason: impl Into<String>) -> AuthError {
        Self::new(401, "replay_detected", reason)
    }
    /// 401 `missing_auth_header`.
    pub fn missing_auth_header() -> AuthError {
        Self::new(
            401,
            "missing_auth_header",
            "Authorization header is required",
        )
    }
    /// 401 `invalid_auth_scheme`.
    pub fn invalid_auth_scheme() -> AuthError {
        Self::new(
            401,
            "invalid_auth_scheme",
            "Authorization must use the DPoP scheme: `DPoP <token>`",
        )
    }
    /// 401 `missing_dpop_header`.
    pub fn missing_dpop_header() -> AuthError {
        Self::new(401, "missing_dpop_header", "DPoP header is required")
    }
    /// 401 `key_binding_failed` (operator auth: proof key ≠ configured key).
    pub fn key_binding_failed(reason: impl Into<String>) -> AuthError {
        Self::new(401, "key_binding_failed", reason)
    }
    /// 503 `clock_error`: the gate's clock is unusable.
    pub fn clock_error() -> AuthError {
        Self::new(503, "clock_error", "system clock is not usable")
    }
    /// 503 `replay_cache_unavailable`: the gate cannot record the jti, so
    /// it refuses rather than risk accepting a replay.
    pub fn replay_cache_unavailable(reason: impl Into<String>) -> AuthError {
        Self::new(503, "replay_cache_unavailable", reason)
    }

    /// True when this is the proof-key ≠ bound-key failure of
    /// `dpop::verify_proof`, which operator auth reports as
    /// `key_binding_failed` instead of `invalid_dpop`.
    pub fn is_jkt_mismatch(&self) -> bool {
        self.code == "invalid_dpop" && self.reason.starts_with(JKT_MISMATCH)
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.reason.is_empty() {
            write!(f, "{} ({})", self.code, self.status)
        } else {
            write!(f, "{} ({}): {}", self.code, self.status, self.reason)
        }
    }
}

impl std::error::Error for AuthError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_codes() {
        let all = [
            (AuthError::lease_expired("x"), 401, "lease_expired"),
            (AuthError::invalid_lease("x"), 401, "invalid_lease"),
            (AuthError::invalid_dpop("x"), 401, "invalid_dpop"),
            (AuthError::replay_detected("x"), 401, "replay_detected"),
            (AuthError::missing_auth_header(), 401, "missing_auth_header"),
            (AuthError::invalid_auth_scheme(), 401, "invalid_auth_scheme"),
            (AuthError::missing_dpop_header(), 401, "missing_dpop_header"),
            (
                AuthError::key_binding_failed("x"),
                401,
                "key_binding_failed",
            ),
            (AuthError::clock_error(), 503, "clock_error"),
            (
                AuthError::replay_cache_unavailable("x"),
                503,
                "replay_cache_unavailable",
            ),
        ];
        for (e, status, code) in all {
            assert_eq!((e.status, e.code), (status, code));
        }
        assert_eq!(
            AuthError::invalid_dpop("ath mismatch").to_string(),
            "invalid_dpop (401): ath mismatch"
        );
    }

    #[test]
    fn jkt_mismatch_is_recognised() {
        assert!(AuthError::invalid_dpop(format!("{JKT_MISMATCH}: x")).is_jkt_mismatch());
        assert!(!AuthError::invalid_dpop("htm mismatch").is_jkt_mismatch());
        assert!(!AuthError::invalid_lease(JKT_MISMATCH).is_jkt_mismatch());
    }
}
