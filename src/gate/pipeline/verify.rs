//! Step 12: effect verification. `http_status`: the status the provider
//! reports (`status`, `status_code` or `data.status_code`) must be expected
//! (the manifest's list, else any 2xx), the required fields present, and the
//! status the HOST observed must agree. `none`: unverifiable by declaration.
//!
//! `fs_hash`: the host must have observed the requested operation on the
//! requested path, and its hashes must fit it. Read: a hash of what was
//! read, unchanged, and the provider returned exactly those bytes. Write:
//! the hash after equals SHA-256 of the content in the request (decoded
//! here, independently of the host), there was no file before a create,
//! and the hash before equals `expected_before_hash` when one was given.
//! Delete: a hash before, none after. The evidence is the effect itself.

use super::dispatch::Outcome;
use super::response_check::Checked;
use crate::gate::fsio;
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

/// Verifies the effect of a run; `input` is the provider's input (the
/// validated request for an fs action).
pub fn outcome(action: &Action, input: &Value, checked: &Checked, run: &Outcome) -> Verification {
    if checked.failure.is_some() {
        return Verification::ProviderFailedBeforeVerification;
    }
    match action.manifest.verifier {
        VerifierKind::None => Verification::UnverifiableDeclared,
        VerifierKind::FsHash => fs_hash(action, input, &checked.output, run),
        VerifierKind::HttpStatus => http_status(action, &checked.output, run),
    }
}

fn fs_hash(action: &Action, input: &Value, output: &Value, run: &Outcome) -> Verification {
    let Some(section) = &action.manifest.fs else {
        return Verification::Failed("the action has no [fs] section".into());
    };
    let req = match fsio::parse_request(input, section.max_file_bytes) {
        Ok(r) => r,
        Err(e) => return Verification::Failed(format!("the request cannot be verified: {e}")),
    };
    let Some(effect) = run.fs_effects.last() else {
        return Verification::Failed("the host observed no file operation".into());
    };
    if effect.operation != req.operation_name() || effect.path != req.path {
        return Verification::Failed(format!(
            "the host observed {} of {:?}, the request was {} of {:?}",
            effect.operation,
            effect.path,
            req.operation_name(),
            req.path
        ));
    }
    let data = output.get("data");
    let reported = |key: &str| data.and_then(|d| d.get(key)).and_then(Value::as_str);
    let fits = match &req.op {
        fsio::Op::Read => check_read(effect, reported("hash"), reported("content_base64")),
        fsio::Op::Write {
            mode,
            content,
            expected_before_hash,
        } => check_write(
            effect,
            *mode,
            content,
            expected_before_hash.as_deref(),
            reported("after_hash"),
        ),
        fsio::Op::Delete => match (&effect.before_hash, &effect.after_hash) {
            (Some(_), None) => Ok(()),
            _ => Err("a delete must observe a file before and none after".to_string()),
        },
    };
    match fits {
        Ok(()) => Verification::Verified(effect.evidence_json()),
        Err(reason) => Verification::Failed(reason),
    }
}

fn check_read(
    effect: &fsio::FsEffect,
    hash: Option<&str>,
    content: Option<&str>,
) -> Result<(), String> {
    let Some(observed) = effect.before_hash.as_deref() else {
        return Err("a read must observe the file's hash".into());
    };
    if effect.after_hash.as_deref() != Some(observed) {
        return Err("the file changed during a read".into());
    }
    if hash.is_some_and(|h| h != observed) {
        return Err(format!(
            "the provider reported hash {hash:?}, the host read {observed}"
        ));
    }
    let Some(text) = content else {
        return Err("the provider returned no content_base64".into());
    };
    let returned = fsio::base64_decode(text)
        .map(|b| crate::registry::sha256_prefixed(&b))
        .ok_or("the provider returned content that is not base64")?;
    if returned != observed {
        return Err(format!(
            "the provider returned content hashing to {returned}, the host read {observed}"
        ));
    }
    Ok(())
}

fn check_write(
    effect: &fsio::FsEffect,
    mode: crate::registry::FsOperation,
    content: &[u8],
    expected_before: Option<&str>,
    reported_after: Option<&str>,
) -> Result<(), String> {
    let wanted = crate::registry::sha256_prefixed(content);
    if effect.after_hash.as_deref() != Some(wanted.as_str()) {
        return Err(format!(
            "the file hashes to {:?} after the write, the content sent hashes to {wanted}",
            effect.after_hash
        ));
    }
    let before_fits = match mode {
        crate::registry::FsOperation::Create => effect.before_hash.is_none(),
        _ => effect.before_hash.is_some(),
    };
    if !before_fits {
        return Err(format!(
            "a {} observed {} file before",
            mode.as_str(),
            if effect.before_hash.is_some() {
                "a"
            } else {
                "no"
            }
        ));
    }
    if let Some(expected) = expected_before {
        if effect.before_hash.as_deref() != Some(expected) {
            return Err(format!(
                "the file hashed to {:?} before the write, {expected} was expected",
                effect.before_hash
            ));
        }
    }
    if reported_after.is_some_and(|h| h != wanted) {
        return Err(format!(
            "the provider reported after_hash {reported_after:?}, the host observed {wanted}"
        ));
    }
    Ok(())
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
