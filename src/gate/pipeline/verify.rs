//! Step 12: effect verification. `http_status`: the status the provider
//! reports (`status`, `status_code` or `data.status_code`) must be expected
//! (the manifest's list, else any 2xx), the required fields present, and the
//! status the HOST observed must agree. `none`: unverifiable by declaration.

use super::dispatch::Outcome;
use super::response_check::Checked;
use crate::json::Value;
use crate::obj;
use crate::registry::{Action, VerifierKind};

/// The verification result.
pub enum Verification {
    Verified(Value),
    Failed(String),
    UnverifiableDeclared,
    ProviderFailedBeforeVerification,
}

impl Verification {
    /// The wire name.
    pub fn status(&self) -> &'static str {
        match self {
            Verification::Verified(_) => "verified",
            Verification::Failed(_) => "verification_failed",
            Verification::UnverifiableDeclared => "unverifiable_declared",
            Verification::ProviderFailedBeforeVerification => "provider_failed_before_verification",
        }
    }
    /// True only when the effect was verified.
    pub fn is_fully_successful(&self) -> bool {
        matches!(self, Verification::Verified(_))
    }
    /// The receipt's tagged `verification_outcome`.
    pub fn to_receipt_json(&self) -> Value {
        match self {
            Verification::Verified(ev) => obj! { "status" => "verified", "evidence" => ev.clone() },
            Verification::Failed(r) => {
                obj! { "status" => "verification_failed", "reason" => r.as_str() }
            }
            other => obj! { "status" => other.status() },
        }
    }
}

/// Verifies the effect of a run.
pub fn outcome(action: &Action, checked: &Checked, run: &Outcome) -> Verification {
    if checked.failure.is_some() {
        return Verification::ProviderFailedBeforeVerification;
    }
    match action.manifest.verifier {
        VerifierKind::None => Verification::UnverifiableDeclared,
        VerifierKind::FsHash => {
            Verification::Failed("fs_hash verification is not available for this provider".into())
        }
        VerifierKind::HttpStatus => http_status(action, &checked.output, run),
    }
}

fn http_status(action: &Action, output: &Value, run: &Outcome) -> Verification {
    let reported = output
        .get("status")
        .or_else(|| output.get("status_code"))
        .or_else(|| output.get("data").and_then(|d| d.get("status_code")))
        .and_then(Value::as_u64);
    let Some(reported) = reported else {
        return Verification::Failed("output reports no status".into());
    };
    let expected = &action.manifest.verification.expected_status;
    let ok = if expected.is_empty() {
        (200..300).contains(&reported)
    } else {
        expected.contains(&(reported as u16))
    };
    if !ok {
        return Verification::Failed(format!("status {reported} is not expected"));
    }
    for field in &action.manifest.verification.required_fields {
        if output.get(field).is_none() {
            return Verification::Failed(format!("required field `{field}` is missing"));
        }
    }
    let Some(observed) = run.observed.last() else {
        return Verification::Failed("the host observed no HTTP exchange".into());
    };
    if observed.status as u64 != reported {
        return Verification::Failed(format!(
            "provider reported status {reported} but the host observed {}",
            observed.status
        ));
    }
    Verification::Verified(
        obj! { "observed_status" => observed.status as u64, "origin" => observed.origin.as_str() },
    )
}
