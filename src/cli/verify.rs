//! `latchgate verify`: offline check of the ledger (chain, receipt
//! signatures, checkpoints, signed head). Exit 0 intact, 2 broken, 1 unreadable.

use super::{arg_error, ledger_dir, unexpected, value_str};
use lexopt::prelude::*;
use std::ffi::OsString;
use std::path::PathBuf;

const HELP: &str = "\
Usage: latchgate verify [--ledger DIR] [--json] [--config FILE]

Checks the ledger offline: the hash chain, every receipt signature, every
signed checkpoint, and the signed head (catches truncation).
Exit status: 0 intact, 2 broken (names the first bad event), 1 unreadable.";

/// Runs `verify`.
pub fn run(args: Vec<OsString>) -> Result<i32, String> {
    let mut p = lexopt::Parser::from_args(args);
    let mut json = false;
    let mut ledger: Option<PathBuf> = None;
    let mut config: Option<PathBuf> = None;
    while let Some(arg) = p.next().map_err(arg_error)? {
        match arg {
            Long("json") => json = true,
            Long("ledger") => ledger = Some(PathBuf::from(value_str(&mut p, "--ledger")?)),
            Long("config") => config = Some(PathBuf::from(value_str(&mut p, "--config")?)),
            Short('h') | Long("help") => {
                println!("{HELP}");
                return Ok(0);
            }
            other => return Err(unexpected(other, "verify")),
        }
    }
    let dir = match ledger_dir(ledger, config.as_deref()) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("latchgate verify: {e}");
            return Ok(1);
        }
    };
    let report = match crate::evidence::verify_ledger(&dir) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("Cannot read ledger {}: {e}", dir.display());
            return Ok(1);
        }
    };
    if json {
        println!("{}", report.to_json().to_pretty());
    } else if report.intact {
        println!(
            "Ledger integrity verified: {} events, {} links intact, {} receipts and {} checkpoints signed correctly.",
            report.total_events, report.verified_links, report.receipts_verified, report.checkpoints_verified
        );
    } else if let Some(b) = &report.broken_at {
        println!(
            "Ledger integrity BROKEN at seq={} trace_id={}: {}",
            b.seq,
            b.trace_id.as_deref().unwrap_or("-"),
            b.reason
        );
        println!(
            "  {} of {} links verified before break.",
            report.verified_links, report.total_events
        );
    }
    Ok(if report.intact { 0 } else { 2 })
}
