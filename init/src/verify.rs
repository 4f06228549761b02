//! Step 9: read /proc/self/status back and refuse to start the agent
//! unless the kernel shows every layer: no capabilities in any set,
//! NO_NEW_PRIVS, a seccomp filter (and init still not dumpable).
//!
//! The file is opened early (before Landlock, which may not grant /proc to
//! init) and re-read with pread from offset 0, which makes the kernel
//! generate it afresh.

use core::ffi::{c_int, CStr};

use crate::sys;

/// /proc/self/status, opened for the whole setup.
pub struct Status {
    fd: c_int,
}

/// Room for /proc/self/status (about 1.5 KB; Cpus_allowed lines grow with
/// the CPU count).
const STATUS_MAX: usize = 16 * 1024;

/// Each line that must be there, and its exact value.
const EXPECTED: [(&str, &str); 7] = [
    ("CapInh", "0000000000000000"),
    ("CapPrm", "0000000000000000"),
    ("CapEff", "0000000000000000"),
    ("CapBnd", "0000000000000000"),
    ("CapAmb", "0000000000000000"),
    ("NoNewPrivs", "1"),
    // 2 is SECCOMP_MODE_FILTER.
    ("Seccomp", "2"),
];

const PATH: &CStr = c"/proc/self/status";

impl Status {
    /// Opens /proc/self/status or exits 125.
    pub fn open() -> Status {
        match sys::open(PATH, libc::O_RDONLY | libc::O_CLOEXEC) {
            Ok(fd) => Status { fd },
            Err(e) => sys::die_errno(
                &[&"open ", &PATH],
                e,
                "bwrap must mount /proc (--proc /proc)",
            ),
        }
    }

    /// The current contents, or exits 125.
    fn read<'b>(&self, buf: &'b mut [u8]) -> &'b [u8] {
        match sys::read_whole(self.fd, buf) {
            Ok(n) => buf.get(..n).unwrap_or(&[]),
            Err(e) => sys::die_errno(&[&"read ", &PATH], e, ""),
        }
    }

    /// Whether the `<name>:` line holds exactly `value` now.
    pub fn line_is(&self, name: &str, value: &str) -> bool {
        let mut buf = [0u8; STATUS_MAX];
        field(self.read(&mut buf), name) == Some(value.as_bytes())
    }

    /// Whether the file has a `<name>:` line (CapAmb is missing on kernels
    /// without ambient capabilities).
    pub fn has_line(&self, name: &str) -> bool {
        let mut buf = [0u8; STATUS_MAX];
        field(self.read(&mut buf), name).is_some()
    }
}

/// Checks every line of [`EXPECTED`], closes the file, checks dumpable; exits 125
/// naming the first line that does not match.
pub fn check(status: Status) {
    let mut buf = [0u8; STATUS_MAX];
    let text = status.read(&mut buf);
    for (name, want) in EXPECTED {
        match field(text, name) {
            Some(got) if got == want.as_bytes() => {}
            Some(got) => sys::die(
                &[&"verify ", &PATH],
                &[&name, &" is ", &got, &", expected ", &want],
                "a hardening layer did not take effect; refusing to start the agent",
            ),
            // No ambient set in this kernel (before 4.3): nothing to hold.
            None if name == "CapAmb" => {}
            None => sys::die(
                &[&"verify ", &PATH],
                &[&"no ", &name, &" line"],
                "this kernel cannot show the layer; refusing to start the agent",
            ),
        }
    }
    sys::close(status.fd);

    // Not in the status file: init must still be non-dumpable (step 1), so
    // the agent cannot ptrace it or open its /proc/1/mem.
    let dumpable = sys::prctl(libc::PR_GET_DUMPABLE, 0);
    if dumpable != 0 {
        sys::die(
            &[&"verify prctl(PR_GET_DUMPABLE)"],
            &[&"returned ", &i64::from(dumpable), &", expected 0"],
            "a hardening layer did not take effect; refusing to start the agent",
        );
    }
}

/// The value of the `<name>:` line, without surrounding blanks.
fn field<'t>(text: &'t [u8], name: &str) -> Option<&'t [u8]> {
    text.split(|&b| b == b'\n').find_map(|line| {
        let value = line.strip_prefix(name.as_bytes())?.strip_prefix(b":")?;
        Some(value.trim_ascii())
    })
}
