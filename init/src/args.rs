//! The command line, parsed strictly: an unknown option, a missing or
//! malformed value or a repeated single option is an error (exit 125).
//!
//! ```text
//! sandbox-init [OPTIONS] -- CMD [ARGS...]
//!   --forward-port PORT   --proxy-socket PATH   --ready-fd N   --tty
//!   --landlock require|auto
//!   --fs-ro PATH  --fs-rw PATH  --fs-dev PATH  --fs-list PATH   (repeatable)
//! ```

use alloc::vec::Vec;
use core::ffi::{c_int, CStr};

use crate::sys::{self, Piece};

/// What a `--fs-*` path is granted by Landlock (landlock.rs maps it to rights).
#[derive(Clone, Copy)]
pub enum FsAccess {
    /// `--fs-ro`: read files, list directories, execute.
    ReadOnly,
    /// `--fs-rw`: everything for regular files, dirs, sockets, fifos, symlinks.
    ReadWrite,
    /// `--fs-dev`: read and write a device file (or the devices beneath a dir).
    Device,
    /// `--fs-list`: list directories only.
    List,
}

/// One `--fs-*` option.
pub struct FsRule {
    /// Which rights.
    pub access: FsAccess,
    /// Absolute path inside the sandbox.
    pub path: &'static CStr,
}

/// `--landlock`: what to do when the kernel has no Landlock.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum LandlockMode {
    /// Refuse to start (the default: fail closed).
    Require,
    /// Print a notice and go on without it.
    Auto,
}

/// Everything the command line says.
pub struct Args {
    /// TCP port the loopback forwarder listens on (127.0.0.1).
    pub forward_port: u16,
    /// The proxy's Unix socket the forwarder relays to.
    pub proxy_socket: &'static CStr,
    /// Where to write `R` once every layer holds.
    pub ready_fd: Option<c_int>,
    /// fd 0 is a terminal to hand to the agent as its controlling tty.
    pub tty: bool,
    /// Landlock required or best effort.
    pub landlock: LandlockMode,
    /// The `--fs-*` rules, in command-line order.
    pub fs: Vec<FsRule>,
    /// CMD and its arguments (never empty).
    pub cmd: Vec<&'static CStr>,
}

/// Hint for every command-line error.
const USAGE: &str = "usage: sandbox-init --forward-port PORT --proxy-socket PATH [--ready-fd N] \
[--tty] [--landlock require|auto] [--fs-ro|--fs-rw|--fs-dev|--fs-list PATH]... -- CMD [ARGS...]";

/// Parses `argv` (argv[0] is this program) or exits 125.
pub fn parse(argv: &[&'static CStr]) -> Args {
    let mut forward_port = None;
    let mut proxy_socket = None;
    let mut ready_fd = None;
    let mut tty = false;
    let mut landlock = None;
    let mut fs = Vec::new();

    let mut rest = argv.iter().skip(1);
    loop {
        let Some(&opt) = rest.next() else {
            die(&[&"missing `--` before the command"]);
        };
        match opt.to_bytes() {
            b"--" => break,
            b"--forward-port" => {
                let v = value(opt, rest.next());
                let port = number(opt, v, 1, u64::from(u16::MAX));
                set_once(&mut forward_port, opt, u16::try_from(port).unwrap_or(0));
            }
            b"--proxy-socket" => set_once(&mut proxy_socket, opt, path(opt, rest.next())),
            b"--ready-fd" => {
                let v = value(opt, rest.next());
                // 0-2 are the agent's stdio: never ours to write and close.
                let fd = number(opt, v, 3, c_int::MAX as u64);
                set_once(&mut ready_fd, opt, c_int::try_from(fd).unwrap_or(-1));
            }
            b"--tty" => {
                if tty {
                    die(&[&"option ", &opt, &" given twice"]);
                }
                tty = true;
            }
            b"--landlock" => {
                let v = value(opt, rest.next());
                let mode = match v.to_bytes() {
                    b"require" => LandlockMode::Require,
                    b"auto" => LandlockMode::Auto,
                    _ => die(&[&"--landlock takes require or auto, not ", &v]),
                };
                set_once(&mut landlock, opt, mode);
            }
            b"--fs-ro" => fs.push(rule(FsAccess::ReadOnly, opt, rest.next())),
            b"--fs-rw" => fs.push(rule(FsAccess::ReadWrite, opt, rest.next())),
            b"--fs-dev" => fs.push(rule(FsAccess::Device, opt, rest.next())),
            b"--fs-list" => fs.push(rule(FsAccess::List, opt, rest.next())),
            _ => die(&[&"unknown option ", &opt]),
        }
    }

    let cmd: Vec<&'static CStr> = rest.copied().collect();
    if cmd.first().is_none_or(|c| c.is_empty()) {
        die(&[&"missing command after `--`"]);
    }
    let Some(forward_port) = forward_port else {
        die(&[&"--forward-port is required"]);
    };
    let Some(proxy_socket) = proxy_socket else {
        die(&[&"--proxy-socket is required"]);
    };
    Args {
        forward_port,
        proxy_socket,
        ready_fd,
        tty,
        landlock: landlock.unwrap_or(LandlockMode::Require),
        fs,
        cmd,
    }
}

/// A command-line error: `sandbox-init: command line: <why> (usage)`.
fn die(why: &[&dyn Piece]) -> ! {
    sys::die(&[&"command line"], why, USAGE)
}

/// The value following `opt`, which must be there.
fn value(opt: &CStr, next: Option<&&'static CStr>) -> &'static CStr {
    match next {
        Some(v) => v,
        None => die(&[&"option ", &opt, &" needs a value"]),
    }
}

/// Stores `v` unless `slot` already holds a value (the option repeated).
fn set_once<T>(slot: &mut Option<T>, opt: &CStr, v: T) {
    if slot.is_some() {
        die(&[&"option ", &opt, &" given twice"]);
    }
    *slot = Some(v);
}

/// A decimal number in `min..=max`: ASCII digits only, no sign, no spaces.
fn number(opt: &CStr, v: &CStr, min: u64, max: u64) -> u64 {
    let digits = v.to_bytes();
    let mut n: u64 = 0;
    let mut ok = !digits.is_empty() && digits.len() <= 10;
    for &d in digits {
        ok &= d.is_ascii_digit();
        n = n
            .saturating_mul(10)
            .saturating_add(u64::from(d.wrapping_sub(b'0')));
    }
    if !ok || n < min || n > max {
        die(&[
            &"option ",
            &opt,
            &": not a number in ",
            &min,
            &"..",
            &max,
            &": ",
            &v,
        ]);
    }
    n
}

/// An absolute path value.
fn path(opt: &CStr, next: Option<&&'static CStr>) -> &'static CStr {
    let p = value(opt, next);
    if !p.to_bytes().starts_with(b"/") {
        die(&[&"option ", &opt, &": not an absolute path: ", &p]);
    }
    p
}

/// A `--fs-*` rule.
fn rule(access: FsAccess, opt: &CStr, next: Option<&&'static CStr>) -> FsRule {
    FsRule {
        access,
        path: path(opt, next),
    }
}
