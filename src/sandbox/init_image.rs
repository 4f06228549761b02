//! sandbox-init, embedded: built from `init/` by build.rs, copied into each
//! sandbox read-only by bwrap from a sealed memfd (never a host path the
//! agent could write).

/// The static sandbox-init binary (empty off Linux).
pub static IMAGE: &[u8] = include_bytes!(env!("LATCHGATE_SANDBOX_INIT"));
