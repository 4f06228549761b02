//! The operator's secret store: `<data_dir>/secrets.json`, mode 0600,
//! `{"version":1,"secrets":{"NAME":{"value":"...","set_at":"..."}}}`,
//! replaced atomically (temporary file, fsync, rename, fsync directory).
//! Only the gate's user reads it; the data directory is 0700.

use super::{valid_name, SecretValue};
use crate::json::{Map, Value};
use crate::obj;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::PathBuf;

const FILE: &str = "secrets.json";

/// The store in one data directory.
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// The store in `data_dir` (the file is created on the first `set`).
    pub fn new(data_dir: PathBuf) -> Store {
        Store { dir: data_dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.join(FILE)
    }

    fn read(&self) -> Result<Map, String> {
        let path = self.path();
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Map::new()),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        if meta.mode() & 0o077 != 0 {
            return Err(format!(
                "{} has mode {:o}; it must be readable by its owner only (chmod 600 it)",
                path.display(),
                meta.mode() & 0o777
            ));
        }
        if meta.len() > 16 * 1024 * 1024 {
            return Err(format!("{} is larger than 16 MiB", path.display()));
        }
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let doc = crate::json::parse(&bytes)
            .map_err(|e| format!("{} is not valid JSON: {e}", path.display()))?;
        match doc.get("secrets") {
            Some(Value::Object(m)) => Ok(m.clone()),
            _ => Err(format!("{} has no `secrets` object", path.display())),
        }
    }

    fn write(&self, secrets: Map) -> Result<(), String> {
        let doc = obj! { "version" => 1, "secrets" => Value::Object(secrets) };
        let tmp = self
            .dir
            .join(format!(".{FILE}.{}", crate::crypto::uuid::v4()));
        let result = (|| {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(doc.to_json().as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, self.path())?;
            std::fs::File::open(&self.dir)?.sync_all()
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.map_err(|e| format!("cannot write {}: {e}", self.path().display()))
    }

    /// Whether the store holds `name`.
    pub fn contains(&self, name: &str) -> Result<bool, String> {
        Ok(self.read()?.contains_key(name))
    }

    /// The stored value of `name`.
    pub fn get(&self, name: &str) -> Result<Option<SecretValue>, String> {
        let m = self.read()?;
        match m
            .get(name)
            .and_then(|e| e.get("value"))
            .and_then(Value::as_str)
        {
            Some(v) => SecretValue::new(v.to_string())
                .map(Some)
                .map_err(|e| format!("secret {name} in the store: {e}")),
            None => Ok(None),
        }
    }

    /// Names and when each was set, sorted.
    pub fn list(&self) -> Result<Vec<(String, String)>, String> {
        let m = self.read()?;
        let mut out: Vec<(String, String)> = m
            .iter()
            .map(|(k, v)| {
                let at = v
                    .get("set_at")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                (k.clone(), at)
            })
            .collect();
        out.sort();
        Ok(out)
    }

    /// Stores `value` under `name` (replacing it).
    pub fn set(&self, name: &str, value: &str) -> Result<(), String> {
        if !valid_name(name) {
            return Err(format!(
                "`{name}` is not a secret name: use [A-Z][A-Z0-9_], at most 64 characters"
            ));
        }
        let checked = SecretValue::new(value.to_string())?;
        let mut m = self.read()?;
        m.insert(
            name,
            obj! {
                "value" => checked.expose(),
                "set_at" => crate::time::rfc3339_secs(crate::time::unix_now()),
            },
        );
        self.write(m)
    }

    /// Removes `name`; false when it was not there.
    pub fn remove(&self, name: &str) -> Result<bool, String> {
        let mut m = self.read()?;
        if m.remove(name).is_none() {
            return Ok(false);
        }
        self.write(m).map(|()| true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn set_get_list_remove_with_owner_only_file() {
        let dir = std::env::temp_dir().join(format!("lg-store-{}", crate::crypto::uuid::v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let s = Store::new(dir.clone());
        assert!(s.get("X").unwrap().is_none());
        s.set("GITHUB_TOKEN", "ghp_abc").unwrap();
        s.set("OTHER", "v").unwrap();
        assert_eq!(s.get("GITHUB_TOKEN").unwrap().unwrap().expose(), "ghp_abc");
        let names: Vec<String> = s.list().unwrap().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["GITHUB_TOKEN", "OTHER"]);
        let mode = std::fs::metadata(dir.join(FILE))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        assert!(s.remove("OTHER").unwrap());
        assert!(!s.remove("OTHER").unwrap());
        assert!(s.set("lower", "v").is_err());
        assert!(s.set("OK", "line\nbreak").is_err());
        // A store readable by others is refused, not used.
        std::fs::set_permissions(dir.join(FILE), std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(s.get("GITHUB_TOKEN").unwrap_err().contains("chmod 600"));
    }
}
