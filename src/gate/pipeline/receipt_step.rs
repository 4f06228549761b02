//! Step 13: the signed receipt (LatchGate v0.2 format: JCS `result_hash`,
//! Ed25519 over its hex, `signing_key_id`). `effect_evidence` lists what
//! the host observed of each file operation (`{operation, path,
//! before_hash, after_hash, bytes_before, bytes_after}`); it is empty for
//! actions without file operations.

use super::response_check::Checked;
use super::verify::Verification;
use crate::evidence::grant::Grant;
use crate::evidence::receipt::ReceiptParts;
use crate::gate::errors::GateError;
use crate::gate::fsio::FsEffect;
use crate::gate::Gate;
use crate::json::Value;
use crate::wasm::Provider;

/// Builds and signs the receipt; `effects` are the host's observed file
/// operations, in order.
#[allow(clippy::too_many_arguments)]
pub fn build(
    gate: &Gate,
    grant: &Grant,
    provider: &Provider,
    checked: &Checked,
    verification: &Verification,
    effects: &[FsEffect],
    started_ms: i64,
    finished_ms: i64,
) -> Result<Value, GateError> {
    let parts = ReceiptParts {
        receipt_id: crate::crypto::uuid::v7(),
        grant_id: grant.grant_id.clone(),
        provider_module_digest: provider.digest().to_string(),
        provider_receipt: checked.output.clone(),
        normalized_result: checked.normalized_result(),
        verification_outcome: verification.to_receipt_json(),
        effect_evidence: effects.iter().map(FsEffect::evidence_json).collect(),
        started_at: crate::time::rfc3339_millis(started_ms),
        finished_at: crate::time::rfc3339_millis(finished_ms),
        failure_class: checked.failure_class().map(str::to_string),
    };
    crate::evidence::receipt::sign(parts, &gate.receipt_key).map_err(|e| {
        GateError::new(500, "evidence_persistence_failed")
            .message(format!("signing the receipt: {e}"))
    })
}
