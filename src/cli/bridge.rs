//! `latchgate bridge`: parse the flags, take over `--ready-fd`, then run
//! the relay (`bridge::run`).

use crate::bridge::{self, addr, Options};
use lexopt::prelude::*;
use std::ffi::OsString;
use std::time::Duration;

const HELP: &str = "\
Usage: latchgate bridge --listen ADDR --connect ADDR [options]

Relays every connection accepted on --listen to --connect, bytes
untouched, in both directions (replaces `socat TCP-LISTEN:PORT,bind=IP,
fork,reuseaddr UNIX-CONNECT:PATH` and the other directions).

Addresses:
  IP:PORT                 TCP: 127.0.0.1:8082, [::1]:8082
  PATH, unix:PATH         a Unix socket (any value containing `/` is a path)
  HOST:PORT               TCP, --connect only: resolved at each connection

Options:
  --listen ADDR           where to accept connections (an IP literal or a
                          Unix socket path; a stale socket file nobody
                          listens on is replaced, anything else is an error;
                          the socket file is removed on exit)
  --connect ADDR          where each connection is relayed to
  --socket-mode OCTAL     mode of the --listen Unix socket file (default
                          0660; 000 to 777)
  --max-connections N     connections relayed at once (default 256,
                          1 to 16384); more are accepted and closed at once
  --connect-timeout SECS  limit for reaching --connect (default 10, 1 to
                          3600); on failure that client's connection is
                          closed and one line goes to stderr
  --idle-timeout SECS     close a connection with no byte either way for
                          this long (default 600, 1 to 604800)
  --ready-fd N            once listening, write one byte (a newline) to the
                          inherited descriptor N (3 or more) and close it
  -h, --help              this text

An end of stream on one side is passed on as a half-close: the other
direction keeps flowing until it ends too. TCP sockets use TCP_NODELAY.

SIGTERM, SIGINT or SIGHUP: stop accepting (the listener is closed at once),
let open connections finish, exit 0; a second signal exits at once with
128 + its number.

Exit status: 0 after a signal; 1 when the listener cannot be set up; 2 for
an invalid flag.";

/// Highest `--max-connections` (two threads each).
const MAX_CONNECTIONS: u64 = 16384;
/// Highest `--connect-timeout`, in seconds.
const MAX_CONNECT_TIMEOUT: u64 = 3600;
/// Highest `--idle-timeout`, in seconds (a week).
const MAX_IDLE_TIMEOUT: u64 = 604_800;
/// Highest `--ready-fd` (fits a descriptor number).
const MAX_READY_FD: u64 = i32::MAX as u64;

#[derive(Default)]
struct Args {
    listen: Option<addr::Listen>,
    connect: Option<addr::Target>,
    socket_mode: Option<u32>,
    max_connections: Option<u64>,
    connect_timeout: Option<u64>,
    idle_timeout: Option<u64>,
    ready_fd: Option<i32>,
    help: bool,
}

/// Runs `latchgate bridge`; an invalid flag is an `Err` (exit 2).
pub fn run(args: Vec<OsString>) -> Result<i32, String> {
    let a = parse(args).map_err(|e| format!("bridge: {e}"))?;
    if a.help {
        println!("{HELP}");
        return Ok(0);
    }
    let opts = options(&a).map_err(|e| format!("bridge: {e}"))?;
    // Taken before the bridge opens any descriptor of its own.
    let ready = match a.ready_fd {
        Some(n) => Some(bridge::ready::take(n).map_err(|e| format!("bridge: {e}"))?),
        None => None,
    };
    Ok(bridge::run(opts, ready))
}

fn options(a: &Args) -> Result<Options, String> {
    let Some(listen) = a.listen.clone() else {
        return Err(format!(
            "--listen is required: {} (see `latchgate bridge --help`)",
            addr::LISTEN_FORMS
        ));
    };
    let Some(connect) = a.connect.clone() else {
        return Err(format!(
            "--connect is required: {} (see `latchgate bridge --help`)",
            addr::TARGET_FORMS
        ));
    };
    if addr::same(&listen, &connect) {
        return Err(format!(
            "--listen and --connect are the same address ({listen}); the bridge would relay to itself"
        ));
    }
    if a.socket_mode.is_some() && !matches!(listen, addr::Listen::Unix(_)) {
        return Err("--socket-mode applies to a Unix socket --listen only".into());
    }
    Ok(Options {
        listen,
        connect,
        socket_mode: a.socket_mode.unwrap_or(bridge::DEFAULT_SOCKET_MODE),
        max_connections: a
            .max_connections
            .map_or(bridge::DEFAULT_MAX_CONNECTIONS, |n| n as usize),
        connect_timeout: a
            .connect_timeout
            .map_or(bridge::DEFAULT_CONNECT_TIMEOUT, Duration::from_secs),
        idle_timeout: a
            .idle_timeout
            .map_or(bridge::DEFAULT_IDLE_TIMEOUT, Duration::from_secs),
    })
}

fn parse(args: Vec<OsString>) -> Result<Args, String> {
    let mut a = Args::default();
    let mut p = lexopt::Parser::from_args(args);
    while let Some(arg) = p.next().map_err(super::arg_error)? {
        let name = match arg {
            Short('h') | Long("help") => {
                a.help = true;
                continue;
            }
            Long(l) => l.to_string(),
            other => return Err(unexpected(other)),
        };
        let flag = format!("--{name}");
        match name.as_str() {
            "listen" => {
                let v = super::value_str(&mut p, &flag)?;
                let l = addr::listen(&v).map_err(|e| format!("{flag}: {e}"))?;
                once(&mut a.listen, l, &flag)?;
            }
            "connect" => {
                let v = super::value_str(&mut p, &flag)?;
                let t = addr::target(&v).map_err(|e| format!("{flag}: {e}"))?;
                once(&mut a.connect, t, &flag)?;
            }
            "socket-mode" => {
                let v = super::value_str(&mut p, &flag)?;
                once(&mut a.socket_mode, mode(&v, &flag)?, &flag)?;
            }
            "max-connections" => {
                let v = super::value_str(&mut p, &flag)?;
                let n = number(&v, &flag, 1, MAX_CONNECTIONS, "")?;
                once(&mut a.max_connections, n, &flag)?;
            }
            "connect-timeout" => {
                let v = super::value_str(&mut p, &flag)?;
                let n = number(&v, &flag, 1, MAX_CONNECT_TIMEOUT, " seconds")?;
                once(&mut a.connect_timeout, n, &flag)?;
            }
            "idle-timeout" => {
                let v = super::value_str(&mut p, &flag)?;
                let n = number(&v, &flag, 1, MAX_IDLE_TIMEOUT, " seconds")?;
                once(&mut a.idle_timeout, n, &flag)?;
            }
            "ready-fd" => {
                let v = super::value_str(&mut p, &flag)?;
                let n = number(&v, &flag, 3, MAX_READY_FD, " (an inherited descriptor)")?;
                let fd = i32::try_from(n).map_err(|_| format!("{flag}: `{v}` is too large"))?;
                once(&mut a.ready_fd, fd, &flag)?;
            }
            other => {
                return Err(format!(
                    "unexpected argument `--{other}` (see `latchgate bridge --help`)"
                ))
            }
        }
    }
    Ok(a)
}

fn unexpected(arg: lexopt::Arg<'_>) -> String {
    let shown = match arg {
        Short(c) => format!("-{c}"),
        Long(l) => format!("--{l}"),
        Value(v) => v.to_string_lossy().into_owned(),
    };
    format!("unexpected argument `{shown}` (see `latchgate bridge --help`)")
}

fn once<T>(slot: &mut Option<T>, v: T, flag: &str) -> Result<(), String> {
    if slot.is_some() {
        return Err(format!("{flag} is given twice; give it once"));
    }
    *slot = Some(v);
    Ok(())
}

/// A whole decimal number from `min` to `max`.
fn number(v: &str, flag: &str, min: u64, max: u64, unit: &str) -> Result<u64, String> {
    let digits = !v.is_empty() && v.len() <= 20 && v.bytes().all(|b| b.is_ascii_digit());
    match v.parse::<u64>() {
        Ok(n) if digits && (min..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "{flag}: `{v}` is not allowed; give a whole number from {min} to {max}{unit}"
        )),
    }
}

/// An octal mode from 000 to 777 (`0660`, `660` or `0o660`).
fn mode(v: &str, flag: &str) -> Result<u32, String> {
    let digits = v.strip_prefix("0o").unwrap_or(v);
    let ok = !digits.is_empty()
        && digits.len() <= 4
        && digits.bytes().all(|b| (b'0'..=b'7').contains(&b));
    match u32::from_str_radix(digits, 8) {
        Ok(m) if ok && m <= 0o777 => Ok(m),
        _ => Err(format!(
            "{flag}: `{v}` is not allowed; give an octal mode from 000 to 777 (e.g. 0660)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    fn opts(v: &[&str]) -> Result<Options, String> {
        options(&parse(args(v))?)
    }

    #[test]
    fn defaults_and_every_flag() {
        let o = opts(&["--listen", "127.0.0.1:8082", "--connect", "/run/gw.sock"]).unwrap();
        assert_eq!(
            o.listen,
            addr::Listen::Tcp("127.0.0.1:8082".parse().unwrap())
        );
        assert_eq!(o.connect, addr::Target::Unix("/run/gw.sock".into()));
        assert_eq!(o.socket_mode, 0o660);
        assert_eq!(o.max_connections, 256);
        assert_eq!(o.connect_timeout, Duration::from_secs(10));
        assert_eq!(o.idle_timeout, Duration::from_secs(600));
        let o = opts(&[
            "--listen=unix:/tmp/b.sock",
            "--connect",
            "gw.internal:80",
            "--socket-mode",
            "0600",
            "--max-connections",
            "3",
            "--connect-timeout",
            "2",
            "--idle-timeout",
            "5",
        ])
        .unwrap();
        assert_eq!(o.socket_mode, 0o600);
        assert_eq!(o.max_connections, 3);
        assert_eq!(o.connect_timeout, Duration::from_secs(2));
        assert_eq!(o.idle_timeout, Duration::from_secs(5));
        let a = parse(args(&["--ready-fd", "3", "-h"])).unwrap();
        assert_eq!(a.ready_fd, Some(3));
        assert!(a.help);
    }

    #[test]
    fn each_refusal_names_the_flag_and_what_is_allowed() {
        let cases: &[(&[&str], &str)] = &[
            (&["--connect", "/x/y"], "--listen is required: IP:PORT"),
            (&["--listen", "/x/y"], "--connect is required: IP:PORT"),
            (&["--listen", "nope", "--connect", "/a"], "--listen: `nope` is not an address to listen on; give IP:PORT"),
            (&["--listen", "/a", "--connect", "::1:80"], "--connect: `::1:80` is not an address; put an IPv6 address in brackets"),
            (&["--listen", "/a", "--connect", "/a"], "same address (/a)"),
            (&["--listen", "1.2.3.4:5", "--connect", "1.2.3.4:5"], "same address (1.2.3.4:5)"),
            (&["--listen", "1.2.3.4:5", "--connect", "/a", "--socket-mode", "600"], "--socket-mode applies to a Unix socket --listen only"),
            (&["--socket-mode", "0800"], "--socket-mode: `0800` is not allowed; give an octal mode from 000 to 777"),
            (&["--socket-mode", "1777"], "octal mode from 000 to 777"),
            (&["--max-connections", "0"], "--max-connections: `0` is not allowed; give a whole number from 1 to 16384"),
            (&["--max-connections", "many"], "whole number from 1 to 16384"),
            (&["--connect-timeout", "-1"], "--connect-timeout: `-1` is not allowed; give a whole number from 1 to 3600 seconds"),
            (&["--idle-timeout", "1.5"], "--idle-timeout: `1.5` is not allowed; give a whole number from 1 to 604800 seconds"),
            (&["--idle-timeout", "+5"], "whole number from 1 to 604800"),
            (&["--ready-fd", "2"], "--ready-fd: `2` is not allowed; give a whole number from 3 to"),
            (&["--listen", "/a", "--listen", "/b"], "--listen is given twice"),
            (&["--bogus"], "unexpected argument `--bogus`"),
            (&["extra"], "unexpected argument `extra`"),
            (&["-x"], "unexpected argument `-x`"),
            (&["--listen"], "missing argument for option '--listen'"),
        ];
        for (argv, want) in cases {
            let e = opts(argv).unwrap_err();
            assert!(e.contains(want), "{argv:?}: {e}");
        }
    }
}
