//! `latchgate sandbox`: parse the flags, gather the configuration sources,
//! resolve them into the sandbox plan, then print it (`--print-config`) or
//! run it (`sandbox::launch`).

use crate::sandbox::{self, Inputs, Layer};
use lexopt::prelude::*;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

const HELP: &str = "\
Usage: latchgate sandbox [options] [-- CMD [ARGS...]]

Runs an agent inside the sandbox: its only ways out are the gate socket,
an HTTPS proxy to the allowed hosts and the credential routes.

Options:
  --profile NAME          claude-code, codex, cursor, opencode, aider
                          (aliases: claude, openai-codex); sets hosts,
                          pass_env, credential routes and the default command
  --workspace DIR         host directory mounted read-write at /workspace
                          (default: the current directory; relative paths are
                          resolved against it; not / or the home directory)
  --allow-host HOST       also allow HTTPS (port 443) to HOST (repeatable;
                          a bare hostname: no scheme, path or port)
  --ro-mount PATH         also mount PATH read-only (repeatable; absolute)
  --pass-env NAME         also pass variable NAME from the host (repeatable;
                          not HOME, PATH, LATCHGATE_URL, LATCHGATE_PROXY_TOKEN,
                          HTTPS_PROXY, https_proxy, HTTP_PROXY, http_proxy,
                          NO_PROXY, no_proxy, or a route's <NAME>_BASE_URL)
  --gate-socket PATH      the gate's Unix socket on the host (absolute;
                          default: the socket of the configured gate)
  --sandbox-config FILE   a standalone sandbox configuration (the keys of
                          [sandbox.agent] at the top level, or that table)
  --config FILE           latchgate.toml to read [sandbox.agent] from
                          (default: $LATCHGATE_CONFIG, then the XDG file)
  --print-config          resolve and validate, print the plan as JSON and
                          exit (0 valid, 2 invalid); nothing is launched
  -h, --help              this text

Sources, highest first: flags, --sandbox-config, [sandbox.agent] in
latchgate.toml, the profile, built-in defaults. --allow-host, --ro-mount and
--pass-env extend the list from the configuration instead of replacing it.
With --profile and no command, the profile's binary is run.

Exit status: the agent's own (128 + N when a signal N ended it); 2 for an
invalid flag or configuration; 125 when the sandbox could not be
established (the command was not run).";

#[derive(Default)]
struct Args {
    cli: Layer,
    workspace: Option<String>,
    sandbox_config: Option<PathBuf>,
    config: Option<PathBuf>,
    print_config: bool,
    help: bool,
    command: Vec<String>,
}

/// Runs `latchgate sandbox`; returns the exit code (2 for any invalid
/// flag or configuration, with the message on stderr).
pub fn run(args: Vec<OsString>) -> Result<i32, String> {
    let a = match parse(args) {
        Ok(a) => a,
        Err(problems) => return Ok(report(&problems)),
    };
    if a.help {
        println!("{HELP}");
        return Ok(0);
    }
    // As root (root-assisted mode) the sandbox's network namespace is made
    // on a helper thread from here on, beside reading the configuration and
    // preparing the launch (sys/netns.rs); the launch waits for it.
    let netns = if !a.print_config && sandbox::identity::is_root_assisted(crate::sys::spawn::euid())
    {
        crate::sys::netns::start().ok()
    } else {
        None
    };
    let (inputs, gate_side) =
        match gather(a.cli, a.workspace, a.sandbox_config, a.config, a.command) {
            Ok(g) => g,
            Err(problems) => return Ok(report(&problems)),
        };
    let spec = match sandbox::resolve(inputs) {
        Ok(s) => s,
        Err(problems) => return Ok(report(&problems)),
    };
    if a.print_config {
        println!("{}", spec.to_json().to_pretty());
        return Ok(0);
    }
    let opts = sandbox::launch::Options {
        data_dir: gate_side.data_dir,
        egress: gate_side.egress,
        admin_socket: Some(gate_side.admin_socket),
        usage_signal: std::env::var("LATCHGATE_USAGE_SIGNAL").is_ok_and(|v| v == "1"),
    };
    Ok(sandbox::launch::run(&spec, &opts, netns))
}

fn report(problems: &[String]) -> i32 {
    eprintln!("latchgate sandbox: invalid configuration:");
    for p in problems {
        eprintln!("  - {p}");
    }
    2
}

fn parse(args: Vec<OsString>) -> Result<Args, Vec<String>> {
    // Everything after the first `--` is the command, never our flags.
    let split = args.iter().position(|a| a == "--");
    let (flags, command) = match split {
        Some(i) => (
            args.get(..i).unwrap_or_default(),
            args.get(i + 1..).unwrap_or_default(),
        ),
        None => (&args[..], &[][..]),
    };
    let mut a = Args::default();
    let mut problems = Vec::new();
    for c in command {
        match c.to_str() {
            Some(s) => a.command.push(s.to_string()),
            None => problems.push(format!(
                "command: `{}` is not valid UTF-8",
                c.to_string_lossy()
            )),
        }
    }
    let mut p = lexopt::Parser::from_args(flags.iter().cloned());
    loop {
        let arg = match p.next() {
            Ok(Some(arg)) => arg,
            Ok(None) => break,
            Err(e) => {
                problems.push(super::arg_error(e));
                break;
            }
        };
        // Owned, so the parser can be borrowed again for the flag's value.
        let arg = match arg {
            Long(l) => Flag::Long(l.to_string()),
            Short(c) => Flag::Short(c),
            Value(v) => Flag::Value(v),
        };
        let r = flag(&mut p, arg, &mut a);
        if let Err(e) = r {
            problems.push(e);
        }
    }
    if problems.is_empty() {
        Ok(a)
    } else {
        Err(problems)
    }
}

enum Flag {
    Long(String),
    Short(char),
    Value(OsString),
}

fn flag(p: &mut lexopt::Parser, arg: Flag, a: &mut Args) -> Result<(), String> {
    let v = super::value_str;
    let name = match &arg {
        Flag::Long(l) => l.as_str(),
        Flag::Short('h') => "help",
        Flag::Short(c) => return Err(format!("sandbox: unexpected argument `-{c}` (see `latchgate sandbox --help`)")),
        Flag::Value(v) => {
            return Err(format!(
                "sandbox: unexpected argument `{}`; put the command after `--` (latchgate sandbox -- my-agent)",
                v.to_string_lossy()
            ))
        }
    };
    match name {
        "profile" => a.cli.profile = Some(v(p, "--profile")?),
        "workspace" => a.workspace = Some(v(p, "--workspace")?),
        "allow-host" => {
            let s = v(p, "--allow-host")?;
            let h = sandbox::validate::host(&s).map_err(|e| format!("--allow-host {e}"))?;
            a.cli.allow_hosts.get_or_insert_with(Vec::new).push(h);
        }
        "ro-mount" => {
            let s = v(p, "--ro-mount")?;
            let m = sandbox::validate::ro_mount(&s).map_err(|e| format!("--ro-mount {e}"))?;
            a.cli.ro_mounts.get_or_insert_with(Vec::new).push(m);
        }
        "pass-env" => {
            let s = v(p, "--pass-env")?;
            let n = sandbox::validate::pass_env(&s).map_err(|e| format!("--pass-env {e}"))?;
            a.cli.pass_env.get_or_insert_with(Vec::new).push(n);
        }
        "gate-socket" => {
            let s = v(p, "--gate-socket")?;
            let g = sandbox::validate::absolute(&s).map_err(|e| format!("--gate-socket {e}"))?;
            a.cli.gate_socket = Some(g);
        }
        "sandbox-config" => a.sandbox_config = Some(PathBuf::from(v(p, "--sandbox-config")?)),
        "config" => a.config = Some(PathBuf::from(v(p, "--config")?)),
        "print-config" => a.print_config = true,
        "help" => a.help = true,
        other => {
            return Err(format!(
                "sandbox: unexpected argument `--{other}` (see `latchgate sandbox --help`)"
            ))
        }
    }
    Ok(())
}

/// Reads the files and the environment the resolution needs.
fn gather(
    mut cli: Layer,
    workspace: Option<String>,
    sandbox_config: Option<PathBuf>,
    config: Option<PathBuf>,
    command: Vec<String>,
) -> Result<(Inputs, GateSide), Vec<String>> {
    let cwd = std::env::current_dir()
        .map_err(|e| vec![format!("cannot read the current directory: {e}")])?;
    // A relative --workspace is taken against the current directory.
    if let Some(w) = workspace {
        if w.is_empty() {
            return Err(vec![
                "--workspace: the value is empty; give a directory".into()
            ]);
        }
        cli.workspace = Some(cwd.join(w));
    }
    let gate_cfg = crate::config::load(config.as_deref()).map_err(|e| vec![e.to_string()])?;
    let mut sources = Vec::new();
    let gate = match &gate_cfg.sandbox {
        Some((origin, table)) => {
            sources.push(origin.clone());
            Some(sandbox::config::from_gate_table(origin, table)?)
        }
        None => None,
    };
    let standalone = match sandbox_config {
        Some(path) => {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                vec![format!(
                    "--sandbox-config: cannot read {}: {e}",
                    path.display()
                )]
            })?;
            let origin = path.display().to_string();
            let layer = sandbox::config::from_file_text(&origin, &text)?;
            sources.insert(0, origin);
            Some(layer)
        }
        None => None,
    };
    let inputs = Inputs {
        cli,
        standalone,
        gate,
        command,
        default_gate_socket: absolute_from(&cwd, &gate_cfg.listen_uds_path),
        cwd,
        home: std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from),
        sources,
    };
    let gate_side = GateSide {
        admin_socket: absolute_from(&inputs.cwd, &gate_cfg.listen_admin_uds_path),
        data_dir: gate_cfg.data_dir,
        egress: gate_cfg.egress,
    };
    Ok((inputs, gate_side))
}

/// What the sandbox takes from the gate's configuration.
struct GateSide {
    /// For `secret:` key sources and the fallback event file.
    data_dir: PathBuf,
    /// `[egress]`, which the egress proxy follows too.
    egress: crate::config::EgressSettings,
    /// Where the session's events go into the ledger.
    admin_socket: PathBuf,
}

fn absolute_from(cwd: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        cwd.join(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn flags_and_command_split_at_double_dash() {
        let a = parse(os(&[
            "--profile",
            "claude",
            "--allow-host",
            "API.x.com",
            "--allow-host",
            "b.com",
            "--pass-env",
            "GITHUB_TOKEN",
            "--print-config",
            "--",
            "agent",
            "--profile",
            "x",
        ]))
        .unwrap();
        assert_eq!(a.cli.profile.as_deref(), Some("claude"));
        assert_eq!(
            a.cli.allow_hosts,
            Some(vec!["api.x.com".into(), "b.com".into()])
        );
        assert_eq!(a.cli.pass_env, Some(vec!["GITHUB_TOKEN".into()]));
        assert!(a.print_config);
        assert_eq!(a.command, vec!["agent", "--profile", "x"]);
    }

    #[test]
    fn bad_flag_values_name_flag_and_value() {
        let e = parse(os(&[
            "--allow-host",
            "https://a.com",
            "--pass-env",
            "HOME",
            "--ro-mount",
            "rel",
            "--gate-socket",
            "g.sock",
            "stray",
        ]))
        .err()
        .unwrap()
        .join("\n");
        for needle in [
            "--allow-host `https://a.com`: a scheme",
            "--pass-env `HOME` is reserved",
            "--ro-mount `rel`: must be an absolute path",
            "--gate-socket `g.sock`: must be an absolute path",
            "unexpected argument `stray`",
        ] {
            assert!(e.contains(needle), "missing {needle} in {e}");
        }
        assert!(parse(os(&["--bogus"])).err().unwrap()[0].contains("--bogus"));
    }

    #[test]
    fn help_lists_every_flag() {
        for f in [
            "--profile",
            "--workspace",
            "--allow-host",
            "--ro-mount",
            "--pass-env",
            "--gate-socket",
            "--sandbox-config",
            "--print-config",
            "-- CMD",
        ] {
            assert!(HELP.contains(f), "{f}");
        }
    }
}
