//! Step 11, the agent's last act: execve CMD with the environment bwrap
//! built, untouched. A name with a `/` is used as is; a bare name is
//! searched in PATH (default `/usr/local/bin:/usr/bin:/bin`).
//!
//! Exit codes as shells use them: 127 for "not found", 126 for found but
//! not executable (EACCES, including a Landlock denial, ENOEXEC, ...).

use core::ffi::{c_char, c_int, CStr};

use crate::sys;

/// PATH when the environment has none.
const DEFAULT_PATH: &[u8] = b"/usr/local/bin:/usr/bin:/bin";
/// Command not found.
const EXIT_NOT_FOUND: c_int = 127;
/// Found, but it cannot be run.
const EXIT_CANNOT_RUN: c_int = 126;
/// PATH_MAX, including the NUL.
const PATH_MAX: usize = 4096;

/// Replaces this process with CMD; only returns by exiting 126 or 127.
/// `argv` is CMD's NULL-terminated argument vector (argv[0] = CMD) and
/// `envp` the environment main() received.
pub fn exec(cmd: &CStr, argv: &[*const c_char], envp: *const *const c_char) -> ! {
    let name = cmd.to_bytes();
    if name.contains(&b'/') {
        execve(cmd.as_ptr(), argv, envp);
        let e = sys::errno();
        fail(
            cmd,
            e,
            if e == libc::ENOENT {
                EXIT_NOT_FOUND
            } else {
                EXIT_CANNOT_RUN
            },
        );
    }

    let mut saw_eacces = false;
    for dir in search_path().split(|&b| b == b':') {
        let mut buf = [0u8; PATH_MAX];
        // POSIX: an empty entry means the current directory.
        let dir = if dir.is_empty() { b".".as_slice() } else { dir };
        let Some(candidate) = join(&mut buf, dir, name) else {
            continue;
        };
        execve(candidate.as_ptr(), argv, envp);
        match sys::errno() {
            libc::EACCES => saw_eacces = true,
            // Not in this directory: try the next one.
            libc::ENOENT | libc::ENOTDIR | libc::ELOOP | libc::ENAMETOOLONG | libc::ESTALE => {}
            // Found but it cannot run (ENOEXEC, E2BIG, ...): stop here, as execvp does.
            e => fail(cmd, e, EXIT_CANNOT_RUN),
        }
    }
    if saw_eacces {
        fail(cmd, libc::EACCES, EXIT_CANNOT_RUN);
    }
    let mut line = sys::Line::new();
    line.put(&[&cmd, &": command not found"]);
    line.emit();
    sys::exit(EXIT_NOT_FOUND)
}

/// `sandbox-init: CMD: <strerror(err)>`, then exit `code`.
fn fail(cmd: &CStr, err: c_int, code: c_int) -> ! {
    let mut line = sys::Line::new();
    line.put(&[&cmd, &": "]);
    line.errno_text(err);
    line.emit();
    sys::exit(code)
}

/// execve; it returns only on failure (errno says why).
fn execve(path: *const c_char, argv: &[*const c_char], envp: *const *const c_char) {
    // SAFETY: `path` is NUL-terminated; `argv` ends with NULL (agent.rs
    // builds it so); `envp` is the NULL-terminated environment musl passed
    // to main, unchanged since.
    unsafe { libc::execve(path, argv.as_ptr(), envp) };
}

/// PATH from the environment, or the default.
fn search_path() -> &'static [u8] {
    // SAFETY: the name is NUL-terminated; nothing in this program changes
    // the environment, so the result stays valid.
    let value = unsafe { libc::getenv(c"PATH".as_ptr()) };
    if value.is_null() {
        return DEFAULT_PATH;
    }
    // SAFETY: getenv returned a NUL-terminated string in the environment,
    // which lives (unchanged) until execve.
    unsafe { CStr::from_ptr(value) }.to_bytes()
}

/// `dir/name` plus NUL in `buf`; None if it does not fit PATH_MAX.
fn join<'b>(buf: &'b mut [u8; PATH_MAX], dir: &[u8], name: &[u8]) -> Option<&'b CStr> {
    let len = dir.len() + 1 + name.len();
    if len >= buf.len() {
        return None;
    }
    let (head, tail) = buf.split_at_mut_checked(dir.len())?;
    head.copy_from_slice(dir);
    let (slash, tail) = tail.split_first_mut()?;
    *slash = b'/';
    tail.get_mut(..name.len())?.copy_from_slice(name);
    // The byte after the name is still 0 from the initialiser. A NUL
    // inside `dir` (impossible in an environment string) would end it early.
    CStr::from_bytes_until_nul(buf).ok()
}
