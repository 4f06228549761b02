//! Step 10: run the provider in a fresh WASM store with the manifest's
//! limits (fuel, memory, wall clock, I/O calls, output size). No refund after
//! this point: the effect may have happened.

use crate::egress::{EgressError, Sinks};
use crate::gate::errors::GateError;
use crate::gate::fsio::{FsAccess, FsEffect, FsError};
use crate::gate::hostio::{GateHost, Observed};
use crate::gate::Gate;
use crate::json::Value;
use crate::obj;
use crate::registry::Action;
use crate::wasm::{Provider, RunError, RunLimits};
use std::time::Duration;

use super::render::Task;

/// What a run produced.
pub struct Outcome {
    /// Raw provider output (JSON text, unchecked).
    pub output: Vec<u8>,
    /// Fuel the run used.
    pub fuel_consumed: u64,
    /// Host calls made.
    pub io_calls: u32,
    /// Wall time of the run.
    pub duration: Duration,
    /// Effects the host observed.
    pub observed: Vec<Observed>,
    /// Egress refusals during the run.
    pub refusals: Vec<EgressError>,
    /// Egress failures during the run.
    pub failures: Vec<EgressError>,
    /// File operations the host performed.
    pub fs_effects: Vec<FsEffect>,
    /// File operations the host refused or that failed.
    pub fs_errors: Vec<FsError>,
}

impl Outcome {
    /// The `runtime` object of the response and ledger.
    pub fn runtime_json(&self) -> Value {
        obj! {
            "duration_ms" => self.duration.as_millis() as u64,
            "exit_code" => 0,
            "fuel_consumed" => self.fuel_consumed,
            "io_calls" => self.io_calls,
        }
    }
}

/// Runs the provider; a trap or limit is 502 `action_execution_failed`.
/// `fs` grants file operations (actions with `[fs]` only).
pub fn run(
    gate: &Gate,
    action: &Action,
    provider: &Provider,
    task: &Task,
    sinks: &Sinks,
    secrets: &super::secrets_step::Injected,
    fs: Option<FsAccess<'_>>,
) -> Result<Outcome, GateError> {
    let limits = &action.manifest.limits;
    let run_limits = RunLimits {
        fuel: limits.fuel,
        memory_bytes: (limits.memory_mb as usize).saturating_mul(1024 * 1024),
        timeout: Duration::from_secs(limits.timeout_seconds),
        max_io_calls: limits.max_io_calls,
        max_output_bytes: action.manifest.io.max_response_bytes,
        fs: action.manifest.fs.is_some() && fs.is_some(),
    };
    let _permit = gate
        .runs
        .acquire(Duration::from_secs(limits.timeout_seconds))
        .ok_or_else(|| {
            GateError::new(503, "runtime_busy").message("all execution slots are busy")
        })?;
    let input = task.json.to_json().into_bytes();
    let mut host = GateHost::new(
        gate,
        sinks,
        secrets,
        limits.max_host_response_bytes as usize,
    )
    .with_fs(fs);
    let result = gate.engine.run(provider, &input, &run_limits, &mut host);
    match result {
        Ok(out) => Ok(Outcome {
            output: out.output,
            fuel_consumed: out.fuel_consumed,
            io_calls: out.io_calls,
            duration: out.duration,
            observed: host.observed,
            refusals: host.refusals,
            failures: host.failures,
            fs_effects: host.fs_effects,
            fs_errors: host.fs_errors,
        }),
        Err(e) => {
            let reason = match &e {
                RunError::FuelExhausted => "fuel exhausted".to_string(),
                RunError::Timeout => {
                    format!("wall-clock limit of {} s reached", limits.timeout_seconds)
                }
                other => other.to_string(),
            };
            // A refusal seen during the run explains the failure better.
            if let Some(r) = host.refusals.first() {
                return Err(GateError::new(403, "egress_denied")
                    .reason(format!("{}: {}", r.code, r.message)));
            }
            if let Some(f) = host.fs_errors.iter().find(|f| f.kind.is_refusal()) {
                return Err(f.gate_error());
            }
            Err(GateError::new(502, "action_execution_failed").reason(reason))
        }
    }
}
