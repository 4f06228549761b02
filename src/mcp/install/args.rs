//! Command line of `latchgate-mcp install`.

use super::entry::{check_url, Flags};
use super::targets::{self, Ide, Scope};
use lexopt::prelude::*;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Usage text for `install --help`.
pub const HELP: &str = "\
Usage: latchgate-mcp install --ide NAME [--scope user|project] [--dry-run]
           [--gate-socket PATH | --gate-url URL] [--public-base-url URL]
           [--binary-path PATH]

Adds (or updates) the `latchgate` MCP server in the config file the IDE reads,
keeping everything else in that file. The previous file is kept as <file>.bak.

  --ide NAME             claude-code, claude (Claude Desktop), cursor, windsurf,
                         codex, opencode, cline, copilot (VS Code)
  --scope user|project   user (default): your own config, every project;
                         project: a file in the current directory, to commit
                         (claude-code, cursor, codex, opencode, copilot)
  --dry-run              print the target path (stderr) and the exact entry
                         (stdout); write nothing
  --gate-url URL         reach the gate over TCP (http://HOST:PORT)
  --gate-socket PATH     reach the gate over its Unix socket
  --public-base-url URL  the gate's public_base_url (DPoP htu base)
  --binary-path PATH     the latchgate-mcp the IDE runs (default: this one)

Without --gate-url/--gate-socket the gate's own config decides (as `latchgate up`
finds it): its TCP listener if it has one, else its socket with its
public_base_url (default http://localhost:3000).";

/// What the command line asked for.
#[derive(Debug, PartialEq)]
pub struct Options {
    /// `--ide`.
    pub ide: Ide,
    /// `--scope` (default user).
    pub scope: Scope,
    /// `--dry-run`.
    pub dry_run: bool,
    /// The transport flags.
    pub flags: Flags,
    /// `--binary-path`.
    pub binary_path: Option<PathBuf>,
}

/// Parse result: run, or show help.
#[derive(Debug, PartialEq)]
pub enum Parsed {
    /// `--help`.
    Help,
    /// Install with these options.
    Run(Options),
}

/// Parses and validates the arguments after `install`; `cwd` makes a
/// relative `--gate-socket` absolute. Errors are usage errors (exit 2).
pub fn parse(args: Vec<OsString>, cwd: &Path) -> Result<Parsed, String> {
    let mut p = lexopt::Parser::from_args(args);
    let mut ide: Option<String> = None;
    let mut scope: Option<String> = None;
    let mut dry_run = false;
    let mut gate_url: Option<String> = None;
    let mut gate_socket: Option<PathBuf> = None;
    let mut public: Option<String> = None;
    let mut binary_path: Option<PathBuf> = None;
    while let Some(arg) = p.next().map_err(usage)? {
        match arg {
            Long("ide") => once(&mut ide, text(&mut p, "--ide")?, "--ide")?,
            Long("scope") => once(&mut scope, text(&mut p, "--scope")?, "--scope")?,
            Long("dry-run") => dry_run = true,
            Long("gate-url") => once(&mut gate_url, text(&mut p, "--gate-url")?, "--gate-url")?,
            Long("gate-socket") => {
                let v = PathBuf::from(p.value().map_err(usage)?);
                once(&mut gate_socket, v, "--gate-socket")?;
            }
            Long("public-base-url") => {
                let v = text(&mut p, "--public-base-url")?;
                once(&mut public, v, "--public-base-url")?;
            }
            Long("binary-path") => {
                let v = PathBuf::from(p.value().map_err(usage)?);
                once(&mut binary_path, v, "--binary-path")?;
            }
            Short('h') | Long("help") => return Ok(Parsed::Help),
            other => return Err(usage(other.unexpected())),
        }
    }
    let Some(ide_name) = ide else {
        return Err(format!(
            "install: --ide is required (one of: {})",
            targets::names()
        ));
    };
    let ide = Ide::parse(&ide_name).ok_or_else(|| {
        format!(
            "install: unknown IDE `{ide_name}` (one of: {})",
            targets::names()
        )
    })?;
    let scope = match scope {
        None => Scope::User,
        Some(s) => Scope::parse(&s)
            .ok_or_else(|| format!("install: --scope must be user or project, not `{s}`"))?,
    };
    ide.check_scope(scope)
        .map_err(|e| format!("install: {e}"))?;
    if gate_url.is_some() && gate_socket.is_some() {
        return Err("install: use --gate-url or --gate-socket, not both".into());
    }
    let gate_url = gate_url
        .map(|u| check_url("--gate-url", &u, false))
        .transpose()?;
    let public = public
        .map(|u| check_url("--public-base-url", &u, true))
        .transpose()?;
    Ok(Parsed::Run(Options {
        ide,
        scope,
        dry_run,
        flags: Flags {
            gate_url,
            gate_socket: gate_socket.map(|s| cwd.join(s)),
            public_base_url: public,
        },
        binary_path,
    }))
}

fn once<T>(slot: &mut Option<T>, v: T, flag: &str) -> Result<(), String> {
    if slot.is_some() {
        return Err(format!("install: {flag} given twice"));
    }
    *slot = Some(v);
    Ok(())
}

fn text(p: &mut lexopt::Parser, flag: &str) -> Result<String, String> {
    p.value()
        .map_err(usage)?
        .into_string()
        .map_err(|_| format!("install: {flag} must be valid UTF-8"))
}

fn usage(e: lexopt::Error) -> String {
    format!("install: {e} (see `latchgate-mcp install --help`)")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_strs(args: &[&str]) -> Result<Parsed, String> {
        parse(args.iter().map(OsString::from).collect(), Path::new("/cwd"))
    }

    fn run(args: &[&str]) -> Options {
        match parse_strs(args).unwrap() {
            Parsed::Run(o) => o,
            Parsed::Help => panic!("help"),
        }
    }

    #[test]
    fn defaults_and_flags() {
        let o = run(&["--ide", "cursor"]);
        assert_eq!(
            (o.ide, o.scope, o.dry_run),
            (Ide::Cursor, Scope::User, false)
        );
        assert_eq!(o.flags, Flags::default());
        let o = run(&[
            "--ide=claude-code",
            "--scope",
            "project",
            "--dry-run",
            "--gate-socket",
            "run/g.sock",
            "--public-base-url",
            "http://h:3000/",
            "--binary-path",
            "/b",
        ]);
        assert_eq!((o.scope, o.dry_run), (Scope::Project, true));
        assert_eq!(o.flags.gate_socket, Some(PathBuf::from("/cwd/run/g.sock")));
        assert_eq!(o.flags.public_base_url.as_deref(), Some("http://h:3000"));
        assert_eq!(o.binary_path, Some(PathBuf::from("/b")));
    }

    #[test]
    fn usage_errors() {
        let err = |a: &[&str]| parse_strs(a).unwrap_err();
        assert!(err(&[]).contains("--ide is required"));
        assert!(err(&["--ide", "emacs"]).contains("unknown IDE `emacs`"));
        assert!(err(&["--ide", "claude", "--scope", "project"]).contains("allowed: user"));
        assert!(err(&["--ide", "cursor", "--scope", "team"]).contains("user or project"));
        assert!(err(&[
            "--ide",
            "cursor",
            "--gate-url",
            "http://a:1",
            "--gate-socket",
            "/s"
        ])
        .contains("not both"));
        assert!(err(&["--ide", "cursor", "--gate-url", "ftp://a"]).contains("--gate-url"));
        assert!(err(&["--ide", "cursor", "--ide", "codex"]).contains("given twice"));
        assert!(err(&["--ide", "cursor", "--bogus"]).contains("--bogus"));
        assert!(err(&["--ide", "cursor", "extra"]).contains("extra"));
    }

    #[test]
    fn help() {
        assert_eq!(
            parse_strs(&["--ide", "cursor", "-h"]).unwrap(),
            Parsed::Help
        );
    }
}
