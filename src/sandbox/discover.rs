//! Finding a profile's agent on the host (`--profile claude-code` with no
//! command): the binary on PATH, symlinks resolved, and only its install
//! directory and its interpreter's runtime mounted read-only, never a
//! whole home subdirectory such as `~/.local`.

use std::path::{Path, PathBuf};

/// Directories every sandbox already has (read-only).
const SYSTEM: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32",
];

/// What to mount and run for the agent.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Found {
    /// The program to run inside (its real path, mounted at the same place).
    pub program: String,
    /// Directories to mount read-only (install directory, runtime).
    pub mounts: Vec<PathBuf>,
    /// Directories to add to PATH inside (the runtime's bin).
    pub path_dirs: Vec<String>,
}

/// Looks `binary` up on `path` (the host's PATH) and works out its mounts.
/// `home` is never mounted, nor anything that contains it.
pub fn find(binary: &str, path: &str, home: Option<&Path>) -> Result<Found, String> {
    let launcher = which(binary, path).ok_or_else(|| {
        format!("profile: the agent `{binary}` is not on PATH; install it, or give the command after `--`")
    })?;
    let real = std::fs::canonicalize(&launcher)
        .map_err(|e| format!("profile: cannot resolve {}: {e}", launcher.display()))?;
    let mut found = Found {
        program: real.to_string_lossy().into_owned(),
        ..Found::default()
    };
    add_install_dir(&mut found, &real, home)?;
    if let Some(interp) = interpreter(&real) {
        let interp_path = if interp.contains('/') {
            Some(PathBuf::from(&interp))
        } else {
            which(&interp, path)
        };
        if let Some(p) = interp_path {
            let real_interp = std::fs::canonicalize(&p).unwrap_or(p);
            if !is_system(&real_interp) {
                let dir = add_install_dir(&mut found, &real_interp, home)?;
                if let Some(parent) = real_interp.parent() {
                    if parent.starts_with(&dir) {
                        found.path_dirs.push(parent.to_string_lossy().into_owned());
                    }
                }
            }
        }
    }
    Ok(found)
}

/// Mounts the directory that holds `file` (its parent, or the parent's
/// parent when that is a `bin` directory: a package or prefix), refusing
/// home itself and anything above it.
fn add_install_dir(found: &mut Found, file: &Path, home: Option<&Path>) -> Result<PathBuf, String> {
    let parent = file.parent().unwrap_or(Path::new("/"));
    let dir = if parent.file_name().is_some_and(|n| n == "bin") {
        parent.parent().unwrap_or(parent)
    } else {
        parent
    };
    if is_system(file) {
        return Ok(dir.to_path_buf());
    }
    let covers_home = home.is_some_and(|h| h.starts_with(dir));
    if dir == Path::new("/") || covers_home {
        return Err(format!(
            "profile: the agent {} lives directly in {}; mounting that would expose the home directory: install it in its own directory or give the command after `--` with --ro-mount",
            file.display(),
            dir.display()
        ));
    }
    if !found.mounts.iter().any(|m| dir.starts_with(m)) {
        found.mounts.push(dir.to_path_buf());
    }
    Ok(dir.to_path_buf())
}

fn is_system(p: &Path) -> bool {
    SYSTEM.iter().any(|s| p.starts_with(s))
}

/// The first executable regular file named `name` on `path`.
pub fn which(name: &str, path: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    if name.contains('/') {
        return Some(PathBuf::from(name));
    }
    path.split(':').filter(|d| !d.is_empty()).find_map(|d| {
        let p = Path::new(d).join(name);
        let m = std::fs::metadata(&p).ok()?;
        (m.is_file() && m.permissions().mode() & 0o111 != 0).then_some(p)
    })
}

/// The interpreter a script names on its `#!` line (`env`'s argument when
/// the line is `#!/usr/bin/env [-S] prog`).
fn interpreter(file: &Path) -> Option<String> {
    use std::io::Read;
    let mut head = [0u8; 256];
    let n = std::fs::File::open(file).ok()?.read(&mut head).ok()?;
    let line = head.get(..n)?.strip_prefix(b"#!")?;
    let line = line.split(|&b| b == b'\n').next()?;
    let text = std::str::from_utf8(line).ok()?;
    let mut words = text.split_whitespace();
    let first = words.next()?;
    if first.ends_with("/env") {
        words.find(|w| !w.starts_with('-')).map(str::to_string)
    } else {
        Some(first.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("lg-discover-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn exe(p: &Path, text: &str) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn symlinked_script_mounts_its_package_and_runtime_not_home() {
        let home = scratch("home");
        let pkg = home.join(".local/lib/node_modules/agent");
        exe(
            &pkg.join("bin/agent.js"),
            "#!/usr/bin/env -S mynode --flag\n",
        );
        let runtime = home.join(".nvm/versions/v1");
        exe(&runtime.join("bin/mynode"), "\x7fELF");
        let bin = home.join(".local/bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::os::unix::fs::symlink(pkg.join("bin/agent.js"), bin.join("agent")).unwrap();
        let path = format!(
            "{}:{}:/usr/bin",
            bin.display(),
            runtime.join("bin").display()
        );
        let f = find("agent", &path, Some(&home)).unwrap();
        assert_eq!(f.program, pkg.join("bin/agent.js").to_string_lossy());
        assert_eq!(f.mounts, vec![pkg.clone(), runtime.clone()]);
        assert_eq!(
            f.path_dirs,
            vec![runtime.join("bin").to_string_lossy().into_owned()]
        );
    }

    #[test]
    fn binary_directly_in_home_or_missing_is_refused() {
        let home = scratch("home2");
        exe(&home.join("agent"), "\x7fELF");
        let e = find("agent", &home.to_string_lossy(), Some(&home)).unwrap_err();
        assert!(e.contains("home directory"), "{e}");
        let e = find("no-such-agent-xyz", "/usr/bin", Some(&home)).unwrap_err();
        assert!(e.contains("not on PATH"), "{e}");
    }

    #[test]
    fn system_binaries_need_no_mount() {
        let f = find("sh", "/usr/bin:/bin", None).unwrap();
        assert!(f.mounts.is_empty(), "{f:?}");
    }
}
