//! Default locations, following XDG and the seeds.

use std::path::PathBuf;

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn home() -> Option<PathBuf> {
    env_path("HOME")
}

/// `$XDG_DATA_HOME/latchgate`, else `~/.local/share/latchgate`.
pub fn default_data_dir() -> Result<PathBuf, String> {
    if let Some(d) = env_path("XDG_DATA_HOME") {
        return Ok(d.join("latchgate"));
    }
    home()
        .map(|h| h.join(".local/share/latchgate"))
        .ok_or_else(|| {
            "cannot find a data directory: set HOME, XDG_DATA_HOME or `data_dir` in latchgate.toml"
                .into()
        })
}

/// The config file to read when none is named: `$XDG_CONFIG_HOME/latchgate/latchgate.toml`,
/// else `~/.config/latchgate/latchgate.toml` (only if it exists).
pub fn default_config_file() -> Option<PathBuf> {
    let base = env_path("XDG_CONFIG_HOME").or_else(|| home().map(|h| h.join(".config")))?;
    let p = base.join("latchgate/latchgate.toml");
    p.is_file().then_some(p)
}

/// The runtime directory for sockets: root uses `/run/latchgate` (as the seeds
/// say); others `$XDG_RUNTIME_DIR/latchgate`, else `/tmp/latchgate-<uid>`.
pub fn default_runtime_dir() -> PathBuf {
    let uid = crate::sys::uid();
    if uid == 0 {
        return PathBuf::from("/run/latchgate");
    }
    match env_path("XDG_RUNTIME_DIR") {
        Some(d) => d.join("latchgate"),
        None => PathBuf::from(format!("/tmp/latchgate-{uid}")),
    }
}

/// The default gate socket path.
pub fn default_socket() -> PathBuf {
    default_runtime_dir().join("gate.sock")
}
