//! `latchgate doctor [--json] [--config FILE]`: checks this host for the
//! gate and the sandbox (see src/doctor/). Exit 0 when nothing failed
//! (warnings allowed), 1 when a check failed, 2 for bad flags.

use super::{arg_error, unexpected, value_str};
use crate::doctor::{self, Ctx};
use lexopt::prelude::*;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;

const HELP: &str = "\
Usage: latchgate doctor [--json] [--config FILE]

Checks this host, one line per check with a verdict (ok, warn, fail) and,
for warn and fail, the fix: kernel version, unprivileged user namespaces
(and Ubuntu's AppArmor restriction), Landlock ABI, seccomp, bwrap and its
version, WSL2, runtime and data directory permissions, key file
permissions, gate reachable, ledger verifies. Finishes within 5 s.
  --json          print [{check, verdict, detail, fix}] instead
  --config FILE   the configuration to check (else the usual lookup)
Exit: 0 nothing failed (warnings allowed), 1 a check failed, 2 bad flags.";

/// Runs `doctor`.
pub fn run(args: Vec<OsString>) -> Result<i32, String> {
    let mut p = lexopt::Parser::from_args(args);
    let mut json = false;
    let mut config: Option<PathBuf> = None;
    while let Some(arg) = p.next().map_err(arg_error)? {
        match arg {
            Long("json") => json = true,
            Long("config") => config = Some(PathBuf::from(value_str(&mut p, "--config")?)),
            Short('h') | Long("help") => {
                println!("{HELP}");
                return Ok(0);
            }
            other => return Err(unexpected(other, "doctor")),
        }
    }
    let ctx = Arc::new(Ctx::from_env(config.as_deref()));
    let results = doctor::run_checks(ctx, doctor::CHECKS, doctor::DEADLINE);
    if json {
        println!("{}", doctor::to_json(&results).to_pretty());
    } else {
        print!("{}", doctor::render_text(&results));
    }
    Ok(doctor::exit_code(&results))
}
