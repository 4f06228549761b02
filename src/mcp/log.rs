//! Logging to stderr (stdout belongs to the protocol), filtered by
//! `RUST_LOG`: `error`, `warn` (the default), `info`, `debug`, `trace` or
//! `off`. Directives such as `latchgate_mcp=debug` or `info,foo=trace` are
//! accepted by taking the last level word in the value; there is only one
//! target here, so per-target filters would add nothing.

use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

/// A log level, most severe first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Nothing is written.
    Off = 0,
    /// Failures the user should see.
    Error = 1,
    /// Something is wrong but the server keeps going.
    Warn = 2,
    /// Milestones: lease obtained, catalog changed.
    Info = 3,
    /// Each request to the gate and each message.
    Debug = 4,
    /// Everything.
    Trace = 5,
}

impl Level {
    /// The level for a word of `RUST_LOG`, if it is one.
    pub fn from_word(word: &str) -> Option<Level> {
        match word.trim().to_ascii_lowercase().as_str() {
            "off" => Some(Level::Off),
            "error" => Some(Level::Error),
            "warn" | "warning" => Some(Level::Warn),
            "info" => Some(Level::Info),
            "debug" => Some(Level::Debug),
            "trace" => Some(Level::Trace),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Level::Off => "off",
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        }
    }
}

/// The level a `RUST_LOG` value asks for: its last level word, else warn.
pub fn parse_filter(value: &str) -> Level {
    value
        .split([',', '=', ' ', '\t'])
        .rev()
        .find_map(Level::from_word)
        .unwrap_or(Level::Warn)
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Warn as u8);
static AGENT: OnceLock<String> = OnceLock::new();

/// Sets the level from `RUST_LOG` and the agent name shown in each line.
pub fn init(rust_log: Option<&str>, agent_id: &str) {
    let level = rust_log.map(parse_filter).unwrap_or(Level::Warn);
    LEVEL.store(level as u8, Ordering::Relaxed);
    let _ = AGENT.set(agent_id.to_string());
}

/// True when messages at `level` are written.
pub fn enabled(level: Level) -> bool {
    level != Level::Off && (level as u8) <= LEVEL.load(Ordering::Relaxed)
}

/// Writes one line to stderr if `level` is enabled. Write errors are
/// ignored: a closed stderr must not stop the server.
pub fn write(level: Level, args: std::fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let agent = AGENT.get().map(String::as_str).unwrap_or("latchgate-mcp");
    let line = format!("latchgate-mcp[{agent}] {}: {args}\n", level.name());
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// `log!(Level::Info, "format {}", args)`.
macro_rules! log {
    ($level:expr, $($arg:tt)+) => {
        $crate::mcp::log::write($level, format_args!($($arg)+))
    };
}
pub(crate) use log;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_takes_the_last_level_word() {
        assert_eq!(parse_filter("debug"), Level::Debug);
        assert_eq!(parse_filter("latchgate_mcp=debug"), Level::Debug);
        assert_eq!(parse_filter("info,latchgate_mcp=trace"), Level::Trace);
        assert_eq!(parse_filter("ERROR"), Level::Error);
        assert_eq!(parse_filter("off"), Level::Off);
        assert_eq!(parse_filter("latchgate_mcp"), Level::Warn);
        assert_eq!(parse_filter(""), Level::Warn);
    }

    #[test]
    fn levels_order_by_verbosity() {
        assert!(Level::Error < Level::Warn && Level::Debug < Level::Trace);
    }
}
