//! Tiny helpers every step uses: messages on fd 2, errno, prctl, C strings,
//! reading a small file.
//!
//! Every failure before the agent runs goes through [`die`] or
//! [`die_errno`]: one line `sandbox-init: <what failed>: <why> (<hint>)` on
//! fd 2, then exit code [`EXIT_SETUP`].

use alloc::vec::Vec;
use core::ffi::{c_char, c_int, c_ulong, CStr};

/// Exit code of every failure before the agent runs.
pub const EXIT_SETUP: c_int = 125;

/// The calling thread's errno.
pub fn errno() -> c_int {
    // SAFETY: musl's __errno_location returns a valid pointer to the
    // calling thread's errno.
    unsafe { *libc::__errno_location() }
}

/// Writes all of `bytes` to `fd`, retrying short writes and EINTR; gives up
/// silently on any other error (there is nowhere left to report it).
pub fn write_all(fd: c_int, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: the pointer and length describe the live slice `bytes`.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        match usize::try_from(n) {
            Ok(0) => return,
            Ok(n) => bytes = bytes.get(n..).unwrap_or(&[]),
            Err(_) if errno() == libc::EINTR => {}
            Err(_) => return,
        }
    }
}

/// Something that can be written into a message [`Line`].
pub trait Piece {
    /// Appends itself to `line`.
    fn put(&self, line: &mut Line);
}

impl Piece for &str {
    fn put(&self, line: &mut Line) {
        line.push(self.as_bytes());
    }
}

impl Piece for &[u8] {
    fn put(&self, line: &mut Line) {
        line.push(self);
    }
}

impl Piece for &CStr {
    fn put(&self, line: &mut Line) {
        line.push(self.to_bytes());
    }
}

impl Piece for u64 {
    fn put(&self, line: &mut Line) {
        // u64::MAX has 20 digits; fill from the right.
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        let mut n = *self;
        loop {
            at -= 1;
            if let Some(d) = digits.get_mut(at) {
                *d = b'0' + (n % 10) as u8;
            }
            n /= 10;
            if n == 0 || at == 0 {
                break;
            }
        }
        line.push(digits.get(at..).unwrap_or(&[]));
    }
}

impl Piece for i64 {
    fn put(&self, line: &mut Line) {
        if *self < 0 {
            line.push(b"-");
        }
        self.unsigned_abs().put(line);
    }
}

/// One message line, assembled on the stack so it leaves in a single
/// write(2) and lines from different threads do not interleave.
pub struct Line {
    buf: [u8; 1024],
    len: usize,
}

impl Line {
    /// A line starting with `sandbox-init: `.
    pub fn new() -> Line {
        let mut line = Line {
            buf: [0; 1024],
            len: 0,
        };
        line.push(b"sandbox-init: ");
        line
    }

    /// Appends bytes; anything beyond the buffer (minus room for the
    /// newline) is cut off.
    pub fn push(&mut self, bytes: &[u8]) {
        let room = self.buf.len().saturating_sub(self.len + 1);
        for (dst, src) in self.buf.iter_mut().skip(self.len).zip(bytes).take(room) {
            *dst = *src;
            self.len += 1;
        }
    }

    /// Appends every piece in order.
    pub fn put(&mut self, pieces: &[&dyn Piece]) {
        for piece in pieces {
            piece.put(self);
        }
    }

    /// Appends the text of errno value `err` (musl's strerror).
    pub fn errno_text(&mut self, err: c_int) {
        // SAFETY: musl's strerror returns a pointer to a static,
        // NUL-terminated string for every value, never NULL.
        let text = unsafe { CStr::from_ptr(libc::strerror(err)) };
        self.push(text.to_bytes());
    }

    /// Appends ` (<hint>)` unless the hint is empty.
    pub fn hint(&mut self, hint: &str) {
        if !hint.is_empty() {
            self.push(b" (");
            self.push(hint.as_bytes());
            self.push(b")");
        }
    }

    /// Ends the line and writes it to fd 2.
    pub fn emit(&mut self) {
        if let Some(end) = self.buf.get_mut(self.len) {
            *end = b'\n';
            self.len += 1;
        }
        write_all(2, self.buf.get(..self.len).unwrap_or(&[]));
    }
}

/// `sandbox-init: <what>: <why> (<hint>)`, then exit 125.
pub fn die(what: &[&dyn Piece], why: &[&dyn Piece], hint: &str) -> ! {
    let mut line = Line::new();
    line.put(what);
    line.push(b": ");
    line.put(why);
    line.hint(hint);
    line.emit();
    exit(EXIT_SETUP)
}

/// `sandbox-init: <what>: <strerror(err)> (<hint>)`, then exit 125.
pub fn die_errno(what: &[&dyn Piece], err: c_int, hint: &str) -> ! {
    let mut line = Line::new();
    line.put(what);
    line.push(b": ");
    line.errno_text(err);
    line.hint(hint);
    line.emit();
    exit(EXIT_SETUP)
}

/// `sandbox-init: <what>: <strerror(err)>`, and carry on (used once the
/// agent runs, where init must not exit over one failed connection).
pub fn warn_errno(what: &[&dyn Piece], err: c_int) {
    let mut line = Line::new();
    line.put(what);
    line.push(b": ");
    line.errno_text(err);
    line.emit();
}

/// `sandbox-init: <text>`, and carry on.
pub fn notice(text: &[&dyn Piece]) {
    let mut line = Line::new();
    line.put(text);
    line.emit();
}

/// Ends the process at once: no atexit handlers, no stdio to flush.
pub fn exit(code: c_int) -> ! {
    // SAFETY: _exit has no preconditions.
    unsafe { libc::_exit(code) }
}

/// prctl(op, arg2, 0, 0, 0). musl's prctl always reads four unsigned longs
/// after `op`, and several ops (NO_NEW_PRIVS, CAP_AMBIENT) fail with EINVAL
/// unless the unused ones are zero, so all four are always passed.
pub fn prctl(op: c_int, arg2: c_ulong) -> c_int {
    let zero: c_ulong = 0;
    // SAFETY: integer arguments only; no pointers are involved.
    unsafe { libc::prctl(op, arg2, zero, zero, zero) }
}

/// Sets this thread's name (`comm`, what `ps` shows; at most 15 bytes
/// are kept). Best effort: a name is not a security property.
pub fn set_name(name: &CStr) {
    let zero: c_ulong = 0;
    // SAFETY: PR_SET_NAME reads a NUL-terminated string from the pointer,
    // which `name` is for the whole call.
    unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr(), zero, zero, zero) };
}

/// Closes `fd`; the result is ignored (on Linux the descriptor is released
/// even when close reports an error).
pub fn close(fd: c_int) {
    // SAFETY: closing a descriptor this program owns.
    unsafe { libc::close(fd) };
}

/// open(path, flags): the descriptor, or the errno.
pub fn open(path: &CStr, flags: c_int) -> Result<c_int, c_int> {
    // The system call itself: musl's open() follows every O_CLOEXEC open
    // with an fcntl(F_SETFD) for kernels older than 2.6.23, one more
    // system call per path (init opens about twenty).
    // SAFETY: `path` is NUL-terminated; no mode argument is needed as
    // `flags` never holds O_CREAT or O_TMPFILE here.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat,
            libc::c_long::from(libc::AT_FDCWD),
            path.as_ptr(),
            libc::c_long::from(flags),
        )
    };
    match c_int::try_from(fd) {
        Ok(fd) if fd >= 0 => Ok(fd),
        _ => Err(errno()),
    }
}

/// Reads `fd` from offset 0 to end of file into `buf` (pread, so the same
/// descriptor can be read again later). Err(errno), or Err(EFBIG) if the
/// file does not fit.
pub fn read_whole(fd: c_int, buf: &mut [u8]) -> Result<usize, c_int> {
    let mut len = 0;
    loop {
        let Some(rest) = buf.get_mut(len..) else {
            return Err(libc::EFBIG);
        };
        if rest.is_empty() {
            return Err(libc::EFBIG);
        }
        let offset = libc::off_t::try_from(len).map_err(|_| libc::EFBIG)?;
        // SAFETY: the pointer and length describe the live slice `rest`.
        let n = unsafe { libc::pread(fd, rest.as_mut_ptr().cast(), rest.len(), offset) };
        match usize::try_from(n) {
            Ok(0) => return Ok(len),
            Ok(n) => len += n,
            Err(_) if errno() == libc::EINTR => {}
            Err(_) => return Err(errno()),
        }
    }
}

/// The strings of a NULL-terminated `char *` array with `count` entries
/// (argv as musl's crt passes it to main).
///
/// # Safety
/// `array` must point to at least `count` valid pointers to NUL-terminated
/// strings that live, unchanged, for the rest of the process.
pub unsafe fn c_strings(array: *const *const c_char, count: usize) -> Vec<&'static CStr> {
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        // SAFETY: i < count, so this reads one of the `count` valid entries.
        let p = unsafe { *array.add(i) };
        if p.is_null() {
            break;
        }
        // SAFETY: the caller promises a NUL-terminated string living for
        // the rest of the process.
        out.push(unsafe { CStr::from_ptr(p) });
    }
    out
}
