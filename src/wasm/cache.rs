//! On-disk cache of compiled providers, so a restart does not pay Cranelift
//! again (tens of ms per module). Each entry is `HMAC-SHA256 tag ‖ artifact`
//! keyed by a secret in the data directory; an entry that fails the tag, or
//! that wasmtime rejects (other version or settings), is recompiled and
//! replaced. Only authenticated bytes ever reach `Module::deserialize`.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::PathBuf;
use wasmtime::Module;

const DOMAIN: &[u8] = b"latchgate-module-cache-v1\0";

/// A directory of authenticated compiled modules.
pub struct ModuleCache {
    dir: PathBuf,
    key: [u8; 32],
}

impl ModuleCache {
    /// Opens (creating, 0700) the cache directory with its HMAC key.
    pub fn open(dir: PathBuf, key: [u8; 32]) -> Result<ModuleCache, String> {
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        Ok(ModuleCache { dir, key })
    }

    fn path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        self.dir.join(format!("{hex}.cwasm"))
    }

    fn tag(&self, digest: &str, artifact: &[u8]) -> [u8; 32] {
        crate::crypto::secret::hmac_sha256(&self.key, &[DOMAIN, digest.as_bytes(), b"\0", artifact])
    }

    /// The cached module for `digest`, if present, authentic and accepted.
    pub fn get(&self, engine: &wasmtime::Engine, digest: &str) -> Option<Module> {
        let bytes = std::fs::read(self.path(digest)).ok()?;
        let (tag, artifact) = bytes.split_at_checked(32)?;
        if !crate::crypto::ct_eq(tag, &self.tag(digest, artifact)) {
            return None;
        }
        crate::sys::deserialize_module(engine, artifact).ok()
    }

    /// Stores `module` under `digest` (best effort: a failure only costs a
    /// compile next time).
    pub fn put(&self, digest: &str, module: &Module) {
        let Ok(artifact) = module.serialize() else {
            return;
        };
        let tag = self.tag(digest, &artifact);
        let final_path = self.path(digest);
        let tmp = self.dir.join(format!(".{}.tmp", crate::crypto::uuid::v7()));
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut f| {
                f.write_all(&tag)?;
                f.write_all(&artifact)?;
                f.sync_all()
            });
        if written.is_err() || std::fs::rename(&tmp, &final_path).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ECHO: &[u8] = include_bytes!("../../vendor/providers/wasm/echo.wasm");

    fn cache() -> (ModuleCache, PathBuf) {
        let dir = std::env::temp_dir().join(format!("lg-modcache-{}", crate::crypto::uuid::v7()));
        (ModuleCache::open(dir.clone(), [9u8; 32]).unwrap(), dir)
    }

    #[test]
    fn round_trip_and_tamper_detection() {
        let engine = wasmtime::Engine::default();
        let (c, dir) = cache();
        let digest = crate::wasm::digest(ECHO);
        assert!(c.get(&engine, &digest).is_none());
        let m = Module::new(&engine, ECHO).unwrap();
        c.put(&digest, &m);
        assert!(c.get(&engine, &digest).is_some());

        // Flip one artifact byte: the tag no longer matches, nothing is deserialized.
        let p = c.path(&digest);
        let mut bytes = std::fs::read(&p).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&p, &bytes).unwrap();
        assert!(c.get(&engine, &digest).is_none());

        // A different key does not accept the original entry either.
        c.put(&digest, &m);
        let other = ModuleCache::open(dir, [1u8; 32]).unwrap();
        assert!(other.get(&engine, &digest).is_none());
    }

    #[test]
    fn engine_uses_the_cache_and_recovers_from_garbage() {
        let (c, _dir) = cache();
        let e = crate::wasm::Engine::new().unwrap();
        let p = e.load_cached(ECHO, Some(&c)).unwrap();
        assert!(c.path(p.digest()).exists());
        std::fs::write(c.path(p.digest()), b"garbage").unwrap();
        let e2 = crate::wasm::Engine::new().unwrap();
        assert_eq!(e2.load_cached(ECHO, Some(&c)).unwrap().digest(), p.digest());
        // Replaced by a good entry again.
        assert!(std::fs::read(c.path(p.digest())).unwrap().len() > 32);
    }
}
