//! Test helpers: self-deleting temporary directories and fixed keys.

use crate::crypto::ed25519::SigningKey;
use crate::crypto::{hex, random};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A fresh directory under the system temp dir, removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    /// Creates `lg-ev-<tag>-<random>`.
    pub(crate) fn new(tag: &str) -> TempDir {
        let mut r = [0u8; 8];
        random::fill(&mut r).unwrap();
        let dir = std::env::temp_dir().join(format!("lg-ev-{tag}-{}", hex::encode(&r)));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// The directory.
    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A deterministic signing key (`seed` repeated).
pub(crate) fn key(seed: u8) -> Arc<SigningKey> {
    Arc::new(SigningKey::from_seed([seed; 32]).unwrap())
}

/// A typical decision event with trace id `t<i>`.
pub(crate) fn event(i: u64) -> crate::json::Map {
    let mut m = crate::json::Map::new();
    m.insert("trace_id", format!("t{i}"));
    m.insert(
        "timestamp",
        crate::time::rfc3339_millis(crate::time::unix_now_millis()),
    );
    m.insert("event_type", "execute");
    m.insert("decision", "allow");
    m.insert("principal", "agent:alice");
    m.insert("action_id", "http_get");
    m
}

/// The lines of `dir/events.jsonl`.
pub(crate) fn read_lines(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join(super::EVENTS_FILE)).unwrap();
    text.lines().map(str::to_string).collect()
}

/// Replaces `dir/events.jsonl` with `lines` (each newline-terminated).
pub(crate) fn write_lines(dir: &Path, lines: &[String]) {
    let mut text = String::new();
    for l in lines {
        text.push_str(l);
        text.push('\n');
    }
    std::fs::write(dir.join(super::EVENTS_FILE), text).unwrap();
}
