//! `latchgate-mcp install` (being written).

/// Runs `install`.
pub fn run(_args: Vec<std::ffi::OsString>) -> Result<i32, String> {
    Err("install: not built yet".into())
}
