//! Packaging (issue 9): the completion scripts of the real binary are valid
//! in each shell and complete every command and every flag its `--help`
//! shows; `make install` (its copy steps, with the build assumed done)
//! puts every file in place and `make uninstall` removes them; the systemd
//! unit, the Dockerfile and `scripts/release` are in place.
//!
//! Needs the binaries: `make integration` (or LATCHGATE_BIN=... cargo test
//! --profile fast-test --test packaging). zsh, fish, make and
//! systemd-analyze are used when installed; bash always.

mod common;

use common::{bin, mcp_bin, scratch};
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(program: &Path, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `latchgate completions <args>`, which must succeed.
fn completions(args: &[&str]) -> String {
    let out = run(&bin(), &[&["completions"], args].concat());
    assert!(
        out.status.success(),
        "completions {args:?}: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Whether `tool` is on PATH.
fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool} >/dev/null")])
        .status()
        .is_ok_and(|s| s.success())
}

/// Writes `body` to a scratch file and returns its path.
fn save(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, body).unwrap();
    p
}

/// Runs `shell -n file` (syntax only).
fn syntax_ok(shell: &str, file: &Path) {
    let out = Command::new(shell).arg("-n").arg(file).output().unwrap();
    assert!(
        out.status.success(),
        "{shell} -n {}: {}",
        file.display(),
        text(&out.stderr)
    );
}

/// The commands a usage text lists: the first word of each indented line
/// after `commands:` (case-insensitive), up to a blank line.
fn listed_commands(usage: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in usage.lines() {
        if line.trim().eq_ignore_ascii_case("commands:") {
            inside = true;
        } else if line.trim().is_empty() {
            inside = false;
        } else if inside {
            out.extend(line.split_whitespace().next().map(str::to_string));
        }
    }
    out
}

/// Flag-like words (`--long`, `-s`).
fn flag_words(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || "[]|,()`".contains(c))
        .filter(|w| match w.as_bytes() {
            [b'-', b'-', c, ..] => c.is_ascii_lowercase(),
            [b'-', c] => c.is_ascii_alphabetic(),
            _ => false,
        })
        .map(str::to_string)
        .collect()
}

/// The flags a `--help` output documents: its usage lines (to the first
/// blank line) and its option lines (starting with `-`, up to two spaces).
fn documented_flags(help: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut in_usage = false;
    for line in help.lines() {
        let trimmed = line.trim_start();
        if trimmed.to_ascii_lowercase().starts_with("usage:") {
            in_usage = true;
        } else if trimmed.is_empty() {
            in_usage = false;
        }
        if in_usage {
            out.extend(flag_words(trimmed));
        } else if trimmed.starts_with('-') {
            // Option lines are indented, but a `\`-continued string literal
            // can lose the first one's indent: accept both.
            out.extend(flag_words(trimmed.split("  ").next().unwrap_or_default()));
        }
    }
    out
}

/// Runs the bash completion function `func` (from `script`) on `words`
/// (the last one is being completed) and returns what it offers.
fn bash_complete(script: &Path, func: &str, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words
        .iter()
        .map(|w| format!("'{}'", w.replace('\'', r"'\''")))
        .collect();
    let driver = format!(
        "source '{}'\nCOMP_WORDS=({})\nCOMP_CWORD={}\n{func}\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script.display(),
        quoted.join(" "),
        words.len() - 1
    );
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &driver])
        .output()
        .unwrap();
    assert!(out.status.success(), "bash: {}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// For `program` (whose script is `script`, completion function `func`):
/// every command of its usage text is offered, and for each command the
/// flags offered are exactly the ones its `--help` documents (plus -h,
/// --help).
fn check_bash_against_help(program: &Path, script: &Path, func: &str) {
    let name = program.file_name().unwrap().to_str().unwrap();
    let usage = text(&run(program, &["--help"]).stdout);
    let commands = listed_commands(&usage);
    assert!(commands.len() >= 2, "{name}: no commands in:\n{usage}");
    let offered = bash_complete(script, func, &[name, ""]);
    for c in &commands {
        assert!(
            offered.contains(c),
            "{name}: `{c}` not offered: {offered:?}"
        );
        if c == "version" || c == "help" {
            continue;
        }
        let out = run(program, &[c, "--help"]);
        if !out.status.success() {
            // A command still being written has no help yet; the unit test
            // in src/cli/completions.rs checks its usage line instead.
            eprintln!("{name} {c} --help failed; its flags are not compared");
            continue;
        }
        let help = format!("{}{}", text(&out.stdout), text(&out.stderr));
        let documented = documented_flags(&help);
        let flags: BTreeSet<String> = bash_complete(script, func, &[name, c, "-"])
            .into_iter()
            .collect();
        let missing: Vec<_> = documented.difference(&flags).collect();
        assert!(missing.is_empty(), "{name} {c}: {missing:?} not offered");
        let extra: Vec<_> = flags
            .difference(&documented)
            .filter(|f| *f != "-h" && *f != "--help")
            .collect();
        assert!(
            extra.is_empty(),
            "{name} {c}: {extra:?} offered, not in --help"
        );
    }
}

#[test]
fn bash_scripts_are_valid_and_match_every_help_text() {
    let dir = scratch("pkg-bash");
    let main = save(&dir, "latchgate", &completions(&["bash"]));
    let mcp = save(&dir, "latchgate-mcp", &completions(&["bash", "--mcp"]));
    syntax_ok("bash", &main);
    syntax_ok("bash", &mcp);
    check_bash_against_help(&bin(), &main, "_latchgate");
    check_bash_against_help(&mcp_bin(), &mcp, "_latchgate_mcp");
}

#[test]
fn bash_completes_subcommands_and_values() {
    let dir = scratch("pkg-bash-values");
    let s = save(&dir, "latchgate", &completions(&["bash"]));
    let c = |words: &[&str]| bash_complete(&s, "_latchgate", words);
    assert_eq!(c(&["latchgate", "revo"]), ["revoke-all"]);
    assert_eq!(
        c(&["latchgate", "approvals", "--status", "pending", ""]),
        ["list", "show", "approve", "deny"]
    );
    assert!(c(&["latchgate", "approvals", "list", ""]).is_empty());
    assert_eq!(
        c(&["latchgate", "audit", "--decision", "pe"]),
        ["pending_approval"]
    );
    assert_eq!(
        c(&["latchgate", "completions", ""]),
        ["bash", "zsh", "fish"]
    );
    assert!(c(&["latchgate", "audit", "--limit", ""]).is_empty());
    // Paths: a file flag completes a file of this scratch directory.
    fs::write(dir.join("gate.toml"), "").unwrap();
    let prefix = format!("{}/gate.t", dir.display());
    let want = format!("{}/gate.toml", dir.display());
    assert_eq!(c(&["latchgate", "up", "--config", &prefix]), [want]);
    // After `--` the sandbox runs a program: command names.
    assert!(c(&["latchgate", "sandbox", "--", "bas"]).contains(&"bash".to_string()));
    let m = save(&dir, "latchgate-mcp", &completions(&["bash", "--mcp"]));
    let ides = bash_complete(
        &m,
        "_latchgate_mcp",
        &["latchgate-mcp", "install", "--ide", "wind"],
    );
    assert_eq!(ides, ["windsurf"]);
}

#[test]
fn zsh_and_fish_scripts_parse_when_the_shells_are_installed() {
    let dir = scratch("pkg-zsh-fish");
    for (shell, files) in [
        ("zsh", ["_latchgate", "_latchgate-mcp"]),
        ("fish", ["latchgate.fish", "latchgate-mcp.fish"]),
    ] {
        let main = completions(&[shell]);
        let mcp = completions(&[shell, "--mcp"]);
        assert!(main.contains("revoke-all") && mcp.contains("public-base-url"));
        if !have(shell) {
            eprintln!("{shell} is not installed: syntax not checked");
            continue;
        }
        syntax_ok(shell, &save(&dir, files[0], &main));
        syntax_ok(shell, &save(&dir, files[1], &mcp));
    }
    if have("fish") {
        // fish can list completions without a terminal.
        let script = dir.join("latchgate.fish");
        let out = Command::new("fish")
            .args(["--no-config", "-c"])
            .arg(format!(
                "source '{}'; complete -C'latchgate audit --decision al'",
                script.display()
            ))
            .output()
            .unwrap();
        let got = text(&out.stdout);
        assert!(
            got.contains("allow\t") && got.contains("allow_unverified"),
            "{got}"
        );
        assert!(!got.contains("deny"), "{got}");
    }
}

#[test]
fn a_bad_shell_name_is_refused_with_the_allowed_names() {
    for args in [
        &["completions", "tcsh"][..],
        &["completions"],
        &["completions", "bash", "x"],
    ] {
        let out = run(&bin(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        let err = text(&out.stderr);
        if args.len() == 2 {
            assert!(
                err.contains("`tcsh`") && err.contains("bash, zsh, fish"),
                "{err}"
            );
        }
    }
}

/// Runs the Makefile's `target` with the build assumed done (`-o build`):
/// the binaries are the ones under test.
fn make(target: &str, destdir: &Path, prefix: &str) -> Output {
    let bin_dir = bin().parent().unwrap().to_path_buf();
    assert!(
        bin_dir.join("latchgate-mcp").is_file(),
        "no latchgate-mcp beside latchgate"
    );
    Command::new("make")
        .arg("-C")
        .arg(repo())
        .args(["-o", "build", target])
        .arg(format!("DESTDIR={}", destdir.display()))
        .arg(format!("PREFIX={prefix}"))
        .arg(format!("BIN_DIR={}", bin_dir.display()))
        .env_remove("MAKEFLAGS")
        .env_remove("MAKELEVEL")
        .env_remove("MFLAGS")
        .output()
        .unwrap()
}

#[test]
fn make_install_puts_every_file_in_place_and_uninstall_removes_them() {
    if !have("make") {
        eprintln!("make is not installed: skipped");
        return;
    }
    let dest = scratch("pkg-install");
    let out = make("install", &dest, "/usr");
    assert!(out.status.success(), "make install: {}", text(&out.stderr));
    let root = dest.join("usr");
    let expect: &[(&str, u32, Option<&[&str]>)] = &[
        ("bin/latchgate", 0o755, None),
        ("bin/latchgate-mcp", 0o755, None),
        (
            "share/bash-completion/completions/latchgate",
            0o644,
            Some(&["bash"]),
        ),
        (
            "share/bash-completion/completions/latchgate-mcp",
            0o644,
            Some(&["bash", "--mcp"]),
        ),
        ("share/zsh/site-functions/_latchgate", 0o644, Some(&["zsh"])),
        (
            "share/zsh/site-functions/_latchgate-mcp",
            0o644,
            Some(&["zsh", "--mcp"]),
        ),
        (
            "share/fish/vendor_completions.d/latchgate.fish",
            0o644,
            Some(&["fish"]),
        ),
        (
            "share/fish/vendor_completions.d/latchgate-mcp.fish",
            0o644,
            Some(&["fish", "--mcp"]),
        ),
        ("lib/systemd/system/latchgate.service", 0o644, None),
        ("lib/sysusers.d/latchgate.conf", 0o644, None),
    ];
    for (path, mode, script) in expect {
        let p = root.join(path);
        let meta = fs::metadata(&p).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(meta.permissions().mode() & 0o7777, *mode, "{path}");
        if let Some(args) = script {
            assert_eq!(fs::read_to_string(&p).unwrap(), completions(args), "{path}");
        }
    }
    assert_eq!(
        fs::read(root.join("bin/latchgate")).unwrap(),
        fs::read(bin()).unwrap()
    );
    let unit = fs::read_to_string(root.join("lib/systemd/system/latchgate.service")).unwrap();
    assert!(
        unit.contains("\nExecStart=/usr/bin/latchgate up\n"),
        "{unit}"
    );
    assert!(!unit.contains("/usr/local/"), "PREFIX not applied");
    let users = fs::read_to_string(root.join("lib/sysusers.d/latchgate.conf")).unwrap();
    assert!(users.starts_with("u latchgate "), "{users}");

    let out = make("uninstall", &dest, "/usr");
    assert!(
        out.status.success(),
        "make uninstall: {}",
        text(&out.stderr)
    );
    for (path, _, _) in expect {
        assert!(!root.join(path).exists(), "{path} left behind");
    }
}

#[test]
fn the_installed_unit_passes_systemd_analyze_verify() {
    if !have("make") || !have("systemd-analyze") {
        eprintln!("make or systemd-analyze is not installed: skipped");
        return;
    }
    // PREFIX is the scratch directory itself, so ExecStart= names a real file.
    let prefix = scratch("pkg-unit");
    let out = make("install", Path::new(""), prefix.to_str().unwrap());
    assert!(out.status.success(), "make install: {}", text(&out.stderr));
    let unit = prefix.join("lib/systemd/system/latchgate.service");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert!(out.status.success() && err.trim().is_empty(), "{err}");
}

#[test]
fn the_unit_keeps_its_hardening() {
    let unit = fs::read_to_string(repo().join("scripts/latchgate.service")).unwrap();
    let lines: BTreeSet<&str> = unit.lines().map(str::trim).collect();
    for want in [
        "ExecStart=/usr/local/bin/latchgate up",
        "User=latchgate",
        "Environment=LATCHGATE_CONFIG=/etc/latchgate/latchgate.toml",
        "StateDirectory=latchgate",
        "StateDirectoryMode=0700",
        "RuntimeDirectory=latchgate",
        "RuntimeDirectoryMode=0700",
        "UMask=0077",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "ProtectKernelTunables=yes",
        "ProtectKernelModules=yes",
        "ProtectKernelLogs=yes",
        "ProtectControlGroups=yes",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
        "RestrictNamespaces=yes",
        "LockPersonality=yes",
        "MemoryDenyWriteExecute=no",
        "SystemCallFilter=@system-service",
    ] {
        assert!(
            lines.contains(want),
            "scripts/latchgate.service lacks `{want}`"
        );
    }
}

#[test]
fn the_dockerfile_puts_the_static_binaries_in_scratch_as_non_root() {
    let df = fs::read_to_string(repo().join("scripts/Dockerfile")).unwrap();
    let lines: Vec<&str> = df
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let last_from = lines.iter().rposition(|l| l.starts_with("FROM ")).unwrap();
    let fin = &lines[last_from..];
    assert_eq!(fin[0], "FROM scratch");
    for b in ["latchgate", "latchgate-mcp"] {
        let copy = format!("COPY target/x86_64-unknown-linux-musl/release/{b} /{b}");
        assert!(fin.contains(&copy.as_str()), "missing `{copy}`");
    }
    let user = fin.iter().find_map(|l| l.strip_prefix("USER ")).unwrap();
    let uid: u32 = user
        .split(':')
        .next()
        .unwrap()
        .parse()
        .expect("numeric USER");
    assert_ne!(uid, 0);
    assert!(fin.contains(&"ENTRYPOINT [\"/latchgate\"]"));
}

#[test]
fn the_release_script_is_executable_and_parses() {
    let p = repo().join("scripts/release");
    let mode = fs::metadata(&p).unwrap().permissions().mode();
    assert_eq!(mode & 0o111, 0o111, "scripts/release is not executable");
    syntax_ok("bash", &p);
    let body = fs::read_to_string(&p).unwrap();
    assert!(body.starts_with("#!/usr/bin/env bash\n"));
    assert!(body.contains("set -euo pipefail"));
    assert!(body.contains("sha256sum --check"));
}
