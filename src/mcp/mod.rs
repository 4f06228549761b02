//! `latchgate-mcp`: the MCP adapter (issue 5; being written).

pub mod install;

/// Entry point of the `latchgate-mcp` binary; returns the exit code.
pub fn main() -> i32 {
    let mut args = std::env::args_os().skip(1);
    let cmd = args.next();
    let rest: Vec<std::ffi::OsString> = args.collect();
    let result = match cmd.as_ref().and_then(|c| c.to_str()) {
        Some("install") => install::run(rest),
        Some("--version" | "-V" | "version") => {
            println!("latchgate-mcp {}", env!("CARGO_PKG_VERSION"));
            Ok(0)
        }
        _ => Err("usage: latchgate-mcp serve [options] | install --ide NAME [options]".to_string()),
    };
    match result {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("latchgate-mcp: {msg}");
            2
        }
    }
}
