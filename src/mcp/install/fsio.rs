//! The file system side of `install`: read the current config, create the
//! directories, and replace the file atomically (temporary file in the same
//! directory, fsync, rename) with its mode kept and a `.bak` of what was
//! there before.

use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Config files larger than this are refused rather than read into memory.
const MAX_BYTES: u64 = 64 * 1024 * 1024;

/// A config file that exists.
#[derive(Debug)]
pub struct Existing {
    /// Its contents.
    pub text: String,
    /// Its permission bits.
    pub mode: u32,
}

/// Where to write (the target of a symlink, so the link survives) and the
/// current contents, if any. Errors say why the file cannot be used.
pub fn read(path: &Path) -> Result<(PathBuf, Option<Existing>), String> {
    let real = match fs::symlink_metadata(path) {
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok((path.to_path_buf(), None)),
        Err(e) => return Err(format!("cannot inspect it: {e}")),
        Ok(m) if m.file_type().is_symlink() => fs::canonicalize(path)
            .map_err(|e| format!("it is a symbolic link that cannot be followed: {e}"))?,
        Ok(_) => path.to_path_buf(),
    };
    let meta = fs::metadata(&real).map_err(|e| format!("cannot inspect it: {e}"))?;
    if !meta.is_file() {
        return Err("it is not a regular file".into());
    }
    if meta.len() > MAX_BYTES {
        return Err(format!("it is larger than {} MiB", MAX_BYTES >> 20));
    }
    let bytes = fs::read(&real).map_err(|e| format!("cannot read it: {e}"))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        format!(
            "it is not UTF-8 text (bad byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })?;
    let mode = meta.permissions().mode() & 0o7777;
    Ok((real, Some(Existing { text, mode })))
}

/// Creates `dir` and its missing parents (0700 when `private`); returns
/// the directories it created, outermost first.
pub fn create_dirs(dir: &Path, private: bool) -> Result<Vec<PathBuf>, String> {
    let mut missing: Vec<PathBuf> = dir
        .ancestors()
        .take_while(|d| !d.as_os_str().is_empty() && !d.exists())
        .map(Path::to_path_buf)
        .collect();
    missing.reverse();
    if missing.is_empty() {
        return Ok(missing);
    }
    DirBuilder::new()
        .recursive(true)
        .mode(if private { 0o700 } else { 0o777 })
        .create(dir)
        .map_err(|e| format!("cannot create directory {}: {e}", dir.display()))?;
    Ok(missing)
}

/// `<file>.bak` beside `path`.
pub fn backup_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".bak");
    path.with_file_name(name)
}

/// The permission bits of a file being written.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    /// Exactly these bits (the file being replaced had them).
    Keep(u32),
    /// A new file: these bits less the umask.
    New(u32),
}

/// Replaces `path` with `bytes` atomically, with permission bits `mode`.
/// When `was` is given, the file must still hold exactly that just before
/// the rename (someone else, often the IDE itself, may be writing it).
pub fn write_atomic(
    path: &Path,
    bytes: &[u8],
    mode: Mode,
    was: Option<&[u8]>,
) -> Result<(), String> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.latchgate-{}.tmp", std::process::id()));
    let result = write_then_rename(&tmp, path, bytes, mode, was);
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    // Make the rename itself durable.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn write_then_rename(
    tmp: &Path,
    path: &Path,
    bytes: &[u8],
    mode: Mode,
    was: Option<&[u8]>,
) -> Result<(), String> {
    let create = match mode {
        // Private until the exact bits are set below.
        Mode::Keep(_) => 0o600,
        Mode::New(bits) => bits,
    };
    let open = || {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(create)
            .open(tmp)
    };
    let mut f = match open() {
        // A temporary file left by a crashed run with our pid: ours to remove.
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            let _ = fs::remove_file(tmp);
            open()
        }
        other => other,
    }
    .map_err(|e| format!("cannot create a temporary file in {}: {e}", show_dir(tmp)))?;
    let exact = |f: &File| match mode {
        Mode::Keep(bits) => f.set_permissions(Permissions::from_mode(bits)),
        Mode::New(_) => Ok(()),
    };
    f.write_all(bytes)
        .and_then(|()| exact(&f))
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    drop(f);
    if let Some(was) = was {
        let now =
            fs::read(path).map_err(|e| format!("cannot read {} again: {e}", path.display()))?;
        if now != was {
            return Err(format!(
                "{} changed while it was being edited (is the IDE writing it right now?); run the command again",
                path.display()
            ));
        }
    }
    fs::rename(tmp, path).map_err(|e| format!("cannot replace {}: {e}", path.display()))
}

fn show_dir(tmp: &Path) -> String {
    tmp.parent()
        .map_or_else(|| ".".to_string(), |d| d.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("lg-install-fsio-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn missing_file_reads_as_none() {
        let d = dir("missing");
        let (real, ex) = read(&d.join("x.json")).unwrap();
        assert_eq!(real, d.join("x.json"));
        assert!(ex.is_none());
    }

    #[test]
    fn write_keeps_mode_and_follows_links() {
        let d = dir("mode");
        let target = d.join("real.json");
        fs::write(&target, "{}").unwrap();
        fs::set_permissions(&target, Permissions::from_mode(0o640)).unwrap();
        let link = d.join("link.json");
        symlink(&target, &link).unwrap();
        let (real, ex) = read(&link).unwrap();
        let ex = ex.unwrap();
        assert_eq!(real, fs::canonicalize(&target).unwrap());
        assert_eq!((ex.text.as_str(), ex.mode), ("{}", 0o640));
        write_atomic(&real, b"{\"a\":1}", Mode::Keep(ex.mode), Some(b"{}")).unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read_to_string(&target).unwrap(), "{\"a\":1}");
        assert_eq!(
            fs::metadata(&target).unwrap().permissions().mode() & 0o777,
            0o640
        );
        let leftovers: Vec<_> = fs::read_dir(&d).unwrap().collect();
        assert_eq!(leftovers.len(), 2, "no temporary file left behind");
    }

    #[test]
    fn concurrent_change_aborts_the_write() {
        let d = dir("race");
        let p = d.join("c.json");
        fs::write(&p, "new").unwrap();
        let err = write_atomic(&p, b"ours", Mode::New(0o600), Some(b"old")).unwrap_err();
        assert!(err.contains("changed while"), "{err}");
        assert_eq!(fs::read_to_string(&p).unwrap(), "new");
        assert_eq!(fs::read_dir(&d).unwrap().count(), 1);
    }

    #[test]
    fn directories_and_non_text_are_refused() {
        let d = dir("refuse");
        assert!(read(&d).unwrap_err().contains("not a regular file"));
        let p = d.join("bin");
        fs::write(&p, [0xff, 0xfe]).unwrap();
        assert!(read(&p).unwrap_err().contains("not UTF-8"));
    }

    #[test]
    fn create_dirs_reports_and_sets_private_mode() {
        let d = dir("dirs");
        let deep = d.join("a/b");
        let made = create_dirs(&deep, true).unwrap();
        assert_eq!(made, vec![d.join("a"), d.join("a/b")]);
        let mode = fs::metadata(d.join("a")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        assert!(create_dirs(&deep, true).unwrap().is_empty());
        assert_eq!(backup_path(&d.join("x.json")), d.join("x.json.bak"));
    }
}
