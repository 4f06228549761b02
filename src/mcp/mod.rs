//! `latchgate-mcp`: the gate's actions as MCP tools over stdio.
//!
//! `serve` (the MCP server an IDE starts) and `install` (writes the IDE's
//! config). Nothing here may use `crate::gate`, `crate::wasm`,
//! `crate::egress` or `crate::evidence`: the binary stays small because
//! the linker drops all of them (no wasmtime inside).
//!
//! | file | job |
//! |---|---|
//! | `options.rs` | `serve` flags and environment |
//! | `server.rs` | the message loop, dispatch, call threads, catalog watcher |
//! | `jsonrpc.rs` | line framing, message classification, the one writer |
//! | `catalog.rs` | the action set the client has seen; `list_changed` |
//! | `call.rs` | one `tools/call`, including the wait for an approval |
//! | `tools.rs` | action → tool; gate answer → tool result |
//! | `resources.rs` | `latchgate://actions`, `latchgate://status` |
//! | `gate_client.rs` | lease, DPoP, execute, poll, catalog |
//! | `transport.rs` | Unix socket or TCP, gate URLs |
//! | `log.rs` | stderr logging at `RUST_LOG` level |

mod call;
mod catalog;
pub mod gate_client;
pub mod install;
pub mod jsonrpc;
mod log;
pub mod options;
mod resources;
pub mod server;
pub mod tools;
pub mod transport;

use std::ffi::OsString;

/// Top-level usage.
const USAGE: &str = "\
usage: latchgate-mcp <command> [options]

commands:
  serve      serve the gate's actions as MCP tools over stdio
  install    add latchgate-mcp to an IDE's MCP config (--ide NAME)

  latchgate-mcp serve --help      options of serve
  latchgate-mcp --version
";

/// Runs `serve` with its arguments; returns the exit code.
fn serve(args: Vec<OsString>) -> Result<i32, String> {
    let env = |name: &str| std::env::var(name).ok();
    match options::parse(args, &env)? {
        options::Parsed::Help => {
            print!("{}", options::USAGE);
            Ok(0)
        }
        options::Parsed::Run(cfg) => {
            log::init(std::env::var("RUST_LOG").ok().as_deref(), &cfg.agent_id);
            Ok(server::serve(cfg))
        }
    }
}

/// Entry point of the `latchgate-mcp` binary; returns the exit code.
pub fn main() -> i32 {
    let mut args = std::env::args_os().skip(1);
    let cmd = args.next();
    let rest: Vec<OsString> = args.collect();
    let result = match cmd.as_ref().and_then(|c| c.to_str()) {
        Some("serve") => serve(rest),
        Some("install") => install::run(rest),
        Some("--version" | "-V" | "version") => {
            println!("latchgate-mcp {}", env!("CARGO_PKG_VERSION"));
            Ok(0)
        }
        Some("--help" | "-h" | "help") => {
            print!("{USAGE}");
            Ok(0)
        }
        _ => Err(format!("expected a command\n{USAGE}")),
    };
    match result {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("latchgate-mcp: {msg}");
            2
        }
    }
}
