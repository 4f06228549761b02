//! `latchgate completions bash|zsh|fish [--mcp]`: prints a shell completion
//! script for `latchgate`, or with `--mcp` for `latchgate-mcp`.
//!
//! The tables `LATCHGATE` and `MCP` below are the one place that lists every
//! command, subcommand and flag; the three renderers only format them. A
//! unit test compares the tables with every command's help text, so a flag
//! added to a command cannot be forgotten here.
//!
//! One script per binary (not one script for both): bash-completion, zsh and
//! fish each load a completion lazily from a file named after the command.

use lexopt::prelude::*;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::Write as _;

const HELP: &str = "\
Usage: latchgate completions bash|zsh|fish [--mcp]

Prints a completion script on stdout: for `latchgate`, or with --mcp for
`latchgate-mcp`. `make install` puts both where each shell looks for them:
  bash  share/bash-completion/completions/latchgate
  zsh   share/zsh/site-functions/_latchgate
  fish  share/fish/vendor_completions.d/latchgate.fish
For the current shell only: source <(latchgate completions bash)
  --mcp                the script for latchgate-mcp
  -h, --help           this text";

/// The shells we write scripts for, as the error message names them.
const SHELLS: &str = "bash, zsh, fish";

/// How a flag's value is completed.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Val {
    /// A switch: takes no value.
    Switch,
    /// A path to a file (directories are offered too, to walk into).
    File,
    /// A path to a directory.
    Dir,
    /// Free text, named as the help text names it (N, ADDR, ID ...).
    Text(&'static str),
    /// One of these words.
    OneOf(&'static [&'static str]),
}

/// One flag of a command.
struct Flag {
    long: &'static str,
    short: Option<char>,
    val: Val,
    /// May be given more than once.
    many: bool,
    about: &'static str,
}

/// A flag given at most once.
const fn flag(long: &'static str, val: Val, about: &'static str) -> Flag {
    Flag {
        long,
        short: None,
        val,
        many: false,
        about,
    }
}

/// A flag that may be repeated.
const fn many(long: &'static str, val: Val, about: &'static str) -> Flag {
    Flag {
        long,
        short: None,
        val,
        many: true,
        about,
    }
}

/// A flag with a one-letter alias.
const fn short(c: char, long: &'static str, val: Val, about: &'static str) -> Flag {
    Flag {
        long,
        short: Some(c),
        val,
        many: false,
        about,
    }
}

/// One command of a program.
struct Cmd {
    name: &'static str,
    about: &'static str,
    /// Words accepted as the first argument (`list`, `show` ...).
    subs: &'static [&'static str],
    /// Flag groups; a shared group (`OPERATOR`) appears in several commands.
    flags: &'static [&'static [Flag]],
    /// `-- CMD ARGS...` ends the flags and names a program to run.
    runs_command: bool,
}

/// A command without subcommands.
const fn cmd(name: &'static str, about: &'static str, flags: &'static [&'static [Flag]]) -> Cmd {
    Cmd {
        name,
        about,
        subs: &[],
        flags,
        runs_command: false,
    }
}

/// A command whose first argument is one of `subs`.
const fn with_subs(
    name: &'static str,
    about: &'static str,
    subs: &'static [&'static str],
    flags: &'static [&'static [Flag]],
) -> Cmd {
    Cmd {
        name,
        about,
        subs,
        flags,
        runs_command: false,
    }
}

/// A binary and its commands.
struct Program {
    name: &'static str,
    /// Prefix of the bash and fish functions we define (a valid name there).
    func: &'static str,
    /// How this script is printed, for its header.
    generated_by: &'static str,
    cmds: &'static [Cmd],
}

/// What both binaries accept in place of a command.
const TOP_FLAGS: &[(&str, &str)] = &[
    ("--help", "show the commands"),
    ("-h", "show the commands"),
    ("--version", "print the version"),
    ("-V", "print the version"),
];

const HELP_FLAG: &[Flag] = &[short(
    'h',
    "help",
    Val::Switch,
    "show the help of this command",
)];
const JSON: &[Flag] = &[flag("json", Val::Switch, "JSON output")];
const CONFIG: &[Flag] = &[flag("config", Val::File, "latchgate.toml to use")];
/// The flags of every command that talks to the operator socket.
const OPERATOR: &[Flag] = &[
    flag("config", Val::File, "gate configuration (finds the socket)"),
    flag("admin-socket", Val::File, "the operator socket"),
    flag("admin-url", Val::Text("URL"), "a TCP operator listener"),
    flag("token-file", Val::File, "its bearer token"),
];

const DECISIONS: &[&str] = &[
    "allow",
    "allow_unverified",
    "deny",
    "pending_approval",
    "error",
];
const APPROVAL_STATES: &[&str] = &[
    "pending", "claimed", "approved", "denied", "failed", "expired",
];
const PROFILES: &[&str] = &[
    "claude-code",
    "codex",
    "cursor",
    "opencode",
    "aider",
    "claude",
    "openai-codex",
];
const IDES: &[&str] = &[
    "claude-code",
    "claude",
    "cursor",
    "windsurf",
    "codex",
    "opencode",
    "cline",
    "copilot",
];

/// Every command of `latchgate`, in the order of its usage text.
const LATCHGATE: Program = Program {
    name: "latchgate",
    func: "_latchgate",
    generated_by: "latchgate completions",
    cmds: &[
        cmd(
            "up",
            "run the gate (Unix socket, optional TCP)",
            &[
                CONFIG,
                &[flag(
                    "expose-http",
                    Val::Text("ADDR"),
                    "also listen on TCP ADDR",
                )],
                HELP_FLAG,
            ],
        ),
        cmd(
            "audit",
            "read the ledger",
            &[
                &[
                    short('l', "limit", Val::Text("N"), "events to show"),
                    flag("json", Val::Switch, "a JSON array of the full events"),
                    flag("action", Val::Text("ID"), "only this action"),
                    flag("principal", Val::Text("P"), "only this principal"),
                    flag("decision", Val::OneOf(DECISIONS), "only this decision"),
                    flag("event-type", Val::Text("T"), "only this event type"),
                    flag("trace-id", Val::Text("T"), "one call"),
                    flag("session-id", Val::Text("S"), "one lease session"),
                    flag("after", Val::Text("TIME"), "newer than (RFC 3339)"),
                    flag("before", Val::Text("TIME"), "older than (RFC 3339)"),
                    flag("ledger", Val::Dir, "ledger directory"),
                ],
                CONFIG,
                HELP_FLAG,
            ],
        ),
        cmd(
            "verify",
            "check the ledger offline",
            &[
                &[flag("ledger", Val::Dir, "ledger directory")],
                JSON,
                CONFIG,
                HELP_FLAG,
            ],
        ),
        cmd(
            "status",
            "the running gate (listeners, approvals, calls)",
            &[JSON, OPERATOR, HELP_FLAG],
        ),
        with_subs(
            "approvals",
            "decide held calls",
            &["list", "show", "approve", "deny"],
            &[
                &[
                    flag("status", Val::OneOf(APPROVAL_STATES), "only this state"),
                    flag("limit", Val::Text("N"), "at most N"),
                    flag("reason", Val::Text("TEXT"), "why it was denied"),
                ],
                JSON,
                OPERATOR,
                HELP_FLAG,
            ],
        ),
        with_subs(
            "policy",
            "explain a policy decision",
            &["check"],
            &[
                &[
                    flag("principal", Val::Text("P"), "the caller"),
                    flag("action", Val::Text("ID"), "the action id"),
                    flag("input", Val::Text("JSON"), "the input of the call"),
                    many("scope", Val::Text("S"), "a scope the lease holds"),
                    flag("policy", Val::File, "this policy file"),
                ],
                JSON,
                CONFIG,
                HELP_FLAG,
            ],
        ),
        cmd(
            "reload",
            "load manifests and policy again",
            &[JSON, OPERATOR, HELP_FLAG],
        ),
        cmd(
            "revoke-all",
            "end every lease and undispatched grant",
            &[JSON, OPERATOR, HELP_FLAG],
        ),
        cmd(
            "drain",
            "refuse new calls, finish calls in flight",
            &[JSON, OPERATOR, HELP_FLAG],
        ),
        with_subs(
            "actions",
            "the actions, their risk, egress and secrets",
            &["list", "show"],
            &[JSON, CONFIG, HELP_FLAG],
        ),
        with_subs(
            "secrets",
            "the secret store",
            &["set", "list", "rm"],
            &[CONFIG, HELP_FLAG],
        ),
        Cmd {
            name: "sandbox",
            about: "run an agent contained",
            subs: &[],
            flags: &[
                &[
                    flag("profile", Val::OneOf(PROFILES), "the agent"),
                    flag("workspace", Val::Dir, "mounted read-write at /workspace"),
                    many("allow-host", Val::Text("HOST"), "also allow HTTPS to HOST"),
                    many("ro-mount", Val::File, "also mount PATH read-only"),
                    many("pass-env", Val::Text("NAME"), "also pass variable NAME"),
                    flag("gate-socket", Val::File, "the Unix socket of the gate"),
                    flag(
                        "sandbox-config",
                        Val::File,
                        "a standalone sandbox configuration",
                    ),
                    flag(
                        "print-config",
                        Val::Switch,
                        "print the plan as JSON and exit",
                    ),
                ],
                CONFIG,
                HELP_FLAG,
            ],
            runs_command: true,
        },
        cmd(
            "gateway",
            "LLM credential gateway on a Unix socket",
            &[
                &[
                    flag("listen-unix", Val::File, "the socket to serve"),
                    flag("socket-mode", Val::Text("OCTAL"), "its mode after bind"),
                ],
                CONFIG,
                HELP_FLAG,
            ],
        ),
        cmd(
            "bridge",
            "relay TCP and Unix connections",
            &[
                &[
                    flag(
                        "listen",
                        Val::File,
                        "where to accept (address or socket path)",
                    ),
                    flag(
                        "connect",
                        Val::File,
                        "where to relay (address or socket path)",
                    ),
                    flag(
                        "socket-mode",
                        Val::Text("OCTAL"),
                        "mode of the listening socket",
                    ),
                    flag("max-connections", Val::Text("N"), "connections at once"),
                    flag(
                        "connect-timeout",
                        Val::Text("SECS"),
                        "limit for reaching --connect",
                    ),
                    flag(
                        "idle-timeout",
                        Val::Text("SECS"),
                        "close idle connections after",
                    ),
                    flag(
                        "ready-fd",
                        Val::Text("N"),
                        "signal readiness on descriptor N",
                    ),
                ],
                HELP_FLAG,
            ],
        ),
        cmd(
            "doctor",
            "check this host and the gate",
            &[JSON, CONFIG, HELP_FLAG],
        ),
        with_subs(
            "completions",
            "print a shell completion script",
            &["bash", "zsh", "fish"],
            &[
                &[flag("mcp", Val::Switch, "the script for latchgate-mcp")],
                HELP_FLAG,
            ],
        ),
        cmd("version", "print the version", &[]),
        cmd("help", "show the commands", &[]),
    ],
};

/// The flags `latchgate-mcp serve` and `install` share.
const MCP_GATE: &[Flag] = &[
    flag("gate-socket", Val::File, "the Unix socket of the gate"),
    flag("gate-url", Val::Text("URL"), "the gate over TCP"),
    flag("public-base-url", Val::Text("URL"), "the DPoP htu base"),
];

/// Every command of `latchgate-mcp`.
const MCP: Program = Program {
    name: "latchgate-mcp",
    func: "_latchgate_mcp",
    generated_by: "latchgate completions --mcp",
    cmds: &[
        cmd(
            "serve",
            "serve the actions of the gate as MCP tools",
            &[
                MCP_GATE,
                &[
                    flag("agent-id", Val::Text("ID"), "names this agent"),
                    flag(
                        "approval-timeout",
                        Val::Text("SECS"),
                        "wait for an approval",
                    ),
                    flag(
                        "catalog-interval",
                        Val::Text("SECS"),
                        "check the action set every",
                    ),
                ],
                HELP_FLAG,
            ],
        ),
        cmd(
            "install",
            "add latchgate-mcp to the MCP config of an IDE",
            &[
                &[
                    flag("ide", Val::OneOf(IDES), "the IDE"),
                    flag("scope", Val::OneOf(&["user", "project"]), "whose config"),
                    flag("dry-run", Val::Switch, "print the entry, write nothing"),
                    flag("binary-path", Val::File, "the latchgate-mcp the IDE runs"),
                ],
                MCP_GATE,
                HELP_FLAG,
            ],
        ),
        cmd("version", "print the version", &[]),
        cmd("help", "show the commands", &[]),
    ],
};

/// A shell we can write a script for.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Shell {
    Bash,
    Zsh,
    Fish,
}

impl Shell {
    fn parse(name: &std::ffi::OsStr) -> Result<Shell, String> {
        match name.to_str() {
            Some("bash") => Ok(Shell::Bash),
            Some("zsh") => Ok(Shell::Zsh),
            Some("fish") => Ok(Shell::Fish),
            _ => Err(format!(
                "completions: unknown shell `{}`; allowed: {SHELLS}",
                name.to_string_lossy()
            )),
        }
    }

    fn render(self, p: &Program) -> String {
        match self {
            Shell::Bash => bash(p),
            Shell::Zsh => zsh(p),
            Shell::Fish => fish(p),
        }
    }
}

/// Runs `completions`.
pub fn run(args: Vec<OsString>) -> Result<i32, String> {
    let mut p = lexopt::Parser::from_args(args);
    let mut shell = None;
    let mut mcp = false;
    while let Some(arg) = p.next().map_err(super::arg_error)? {
        match arg {
            Short('h') | Long("help") => {
                println!("{HELP}");
                return Ok(0);
            }
            Long("mcp") => mcp = true,
            Value(v) if shell.is_none() => shell = Some(Shell::parse(&v)?),
            other => return Err(super::unexpected(other, "completions")),
        }
    }
    let shell = shell.ok_or_else(|| format!("completions: name a shell: {SHELLS}"))?;
    let script = shell.render(if mcp { &MCP } else { &LATCHGATE });
    // Not print!: a closed pipe (`| head`) is an error to report, not a panic.
    let mut out = std::io::stdout().lock();
    match out.write_all(script.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(0),
        Err(e) => {
            eprintln!("latchgate: completions: cannot write the script: {e}");
            Ok(1)
        }
    }
}

/// Every flag of `c`, shared groups included.
fn flags(c: &Cmd) -> impl Iterator<Item = &Flag> {
    c.flags.iter().flat_map(|g| g.iter())
}

/// The spellings of a flag: `--long`, then `-s` if it has one.
fn spellings(f: &Flag) -> Vec<String> {
    let mut v = vec![format!("--{}", f.long)];
    if let Some(c) = f.short {
        v.push(format!("-{c}"));
    }
    v
}

/// The comment lines that open every script (`#` in all three shells).
fn header(out: &mut String, p: &Program, shell: &str) {
    let _ = writeln!(
        out,
        "# {shell} completion for {} {}\n# Generated by `{} {shell}`; do not edit.",
        p.name,
        env!("CARGO_PKG_VERSION"),
        p.generated_by
    );
}

// ---- bash ----------------------------------------------------------------

fn bash(p: &Program) -> String {
    let f = p.func;
    let mut s = String::new();
    header(&mut s, p, "bash");
    let names: Vec<&str> = p.cmds.iter().map(|c| c.name).collect();
    let top: Vec<&str> = TOP_FLAGS.iter().map(|(n, _)| *n).collect();
    let _ = write!(
        s,
        r#"
{f}_words() {{
    mapfile -t COMPREPLY < <(compgen -W "$1" -- "$cur")
}}

{f}_paths() {{
    compopt -o filenames 2>/dev/null
    mapfile -t COMPREPLY < <(compgen "$1" -- "$cur")
}}

{f}() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} prev=${{COMP_WORDS[COMP_CWORD-1]}}
    local cmd opts="" valued="" subs="" i w skip=0
    COMPREPLY=()
    # bash splits `--flag=value` at the `=`.
    if [[ $cur == = ]]; then
        cur=""
    elif [[ $prev == = ]] && (( COMP_CWORD > 2 )); then
        prev=${{COMP_WORDS[COMP_CWORD-2]}}
    fi
    if (( COMP_CWORD == 1 )); then
        if [[ $cur == -* ]]; then
            {f}_words "{top}"
        else
            {f}_words "{names}"
        fi
        return 0
    fi
    cmd=${{COMP_WORDS[1]}}
    case $cmd in
"#,
        top = top.join(" "),
        names = names.join(" "),
    );
    for c in p.cmds {
        bash_cmd(&mut s, f, c);
    }
    let _ = write!(
        s,
        r#"        *)
            return 0
            ;;
    esac
    if [[ $cur == -* ]]; then
        {f}_words "$opts"
        return 0
    fi
    [[ -n $subs ]] || return 0
    # Offer a subcommand only if none is given yet (skipping flags and their values).
    for ((i = 2; i < COMP_CWORD; i++)); do
        w=${{COMP_WORDS[i]}}
        if [[ $w == = ]]; then
            skip=1
        elif (( skip )); then
            skip=0
        elif [[ " $valued " == *" $w "* ]]; then
            skip=1
        elif [[ $w != -* ]]; then
            return 0
        fi
    done
    {f}_words "$subs"
}}

complete -F {f} {name}
"#,
        name = p.name,
    );
    s
}

/// One `case` arm of the bash script.
fn bash_cmd(s: &mut String, f: &str, c: &Cmd) {
    let all: Vec<String> = flags(c).flat_map(spellings).collect();
    let valued: Vec<String> = flags(c)
        .filter(|g| g.val != Val::Switch)
        .flat_map(spellings)
        .collect();
    let _ = writeln!(s, "        {})", c.name);
    let _ = writeln!(s, "            opts=\"{}\"", all.join(" "));
    let _ = writeln!(s, "            valued=\"{}\"", valued.join(" "));
    let _ = writeln!(s, "            subs=\"{}\"", c.subs.join(" "));
    if c.runs_command {
        // After `--` comes the program to run, then its arguments.
        let _ = write!(
            s,
            r#"            for ((i = 2; i < COMP_CWORD; i++)); do
                if [[ ${{COMP_WORDS[i]}} == -- ]]; then
                    if (( i + 1 == COMP_CWORD )); then
                        {f}_paths -c
                    else
                        {f}_paths -f
                    fi
                    return 0
                fi
            done
"#
        );
    }
    if !valued.is_empty() {
        let _ = writeln!(s, "            case $prev in");
        for g in flags(c) {
            let action = match g.val {
                Val::Switch => continue,
                Val::File => format!("{f}_paths -f"),
                Val::Dir => format!("{f}_paths -d"),
                Val::Text(_) => ":".to_string(),
                Val::OneOf(words) => format!("{f}_words \"{}\"", words.join(" ")),
            };
            let _ = writeln!(
                s,
                "                {})\n                    {action}\n                    return 0\n                    ;;",
                spellings(g).join("|")
            );
        }
        let _ = writeln!(s, "            esac");
    }
    let _ = writeln!(s, "            ;;");
}

// ---- zsh -----------------------------------------------------------------

fn zsh(p: &Program) -> String {
    // Named after the file zsh autoloads it from (`_latchgate-mcp`), so the
    // first completion already runs it (zsh allows `-` in function names).
    let f = format!("_{}", p.name);
    let mut s = format!("#compdef {}\n", p.name);
    header(&mut s, p, "zsh");
    let _ = write!(
        s,
        r#"
{f}() {{
    local curcontext=$curcontext state state_descr line ret=1
    typeset -A opt_args
    local -a commands
    commands=(
"#
    );
    for c in p.cmds {
        let _ = writeln!(s, "        '{}:{}'", c.name, c.about);
    }
    let _ = write!(
        s,
        r#"    )
    _arguments -C \
        '(- :)'{{-h,--help}}'[show the commands]' \
        '(- :)'{{-V,--version}}'[print the version]' \
        '1: :->command' \
        '*:: :->argument' && ret=0
    case $state in
        command)
            _describe -t commands '{name} command' commands && ret=0
            ;;
        argument)
            curcontext=${{curcontext%:*:*}}:{name}-$words[1]:
            case $words[1] in
"#,
        name = p.name
    );
    for c in p.cmds {
        zsh_cmd(&mut s, c);
    }
    let _ = write!(
        s,
        r#"            esac
            ;;
    esac
    return ret
}}

if [[ $funcstack[1] == {f} ]]; then
    {f} "$@"
else
    compdef {f} {name}
fi
"#,
        name = p.name
    );
    s
}

/// One `case` arm of the zsh script: an `_arguments` call.
fn zsh_cmd(s: &mut String, c: &Cmd) {
    let mut specs: Vec<String> = Vec::new();
    for g in flags(c) {
        let value = match g.val {
            Val::Switch => String::new(),
            Val::File => ":file:_files".to_string(),
            Val::Dir => ":directory:_files -/".to_string(),
            Val::Text(name) => format!(":{name}: "),
            Val::OneOf(words) => format!(":{}:({})", g.long, words.join(" ")),
        };
        let rest = format!("[{}]{value}'", g.about);
        let spec = match (g.short, g.many) {
            (Some(ch), _) if g.long == "help" => format!("'(- *)'{{-{ch},--help}}'{rest}"),
            (Some(ch), _) => format!("'(-{ch} --{l})'{{-{ch},--{l}}}'{rest}", l = g.long),
            (None, true) => format!("'*--{}{rest}", g.long),
            (None, false) => format!("'--{}{rest}", g.long),
        };
        specs.push(spec);
    }
    if !c.subs.is_empty() {
        specs.push(format!("'1:subcommand:({})'", c.subs.join(" ")));
        specs.push("'*:argument: '".to_string());
    }
    if c.runs_command {
        specs.push("'*::command: _normal'".to_string());
    }
    let _ = writeln!(s, "                ({})", c.name);
    if specs.is_empty() {
        let _ = writeln!(s, "                    _message 'no more arguments'");
    } else {
        let _ = writeln!(s, "                    _arguments -S \\");
        for spec in &specs {
            let _ = writeln!(s, "                        {spec} \\");
        }
        let _ = writeln!(s, "                        && ret=0");
    }
    let _ = writeln!(s, "                    ;;");
}

// ---- fish ----------------------------------------------------------------

fn fish(p: &Program) -> String {
    let (f, name) = (p.func, p.name);
    let mut s = String::new();
    header(&mut s, p, "fish");
    let _ = write!(
        s,
        r#"
# True while no command is typed yet.
function {f}_needs_command
    test (count (commandline -opc)) -eq 1
end

# True when the command is one of the arguments.
function {f}_using
    set -l words (commandline -opc)
    test (count $words) -ge 2; and contains -- $words[2] $argv
end

# True when the command is $argv[1] and only flags follow it so far.
function {f}_needs_sub
    set -l words (commandline -opc)
    test (count $words) -ge 2; and test "$words[2]" = "$argv[1]"; or return 1
    set -e words[1..2]
    for w in $words
        string match -q -- '-*' $w; or return 1
    end
end

# True after `--` (the program the command runs, and its arguments).
function {f}_after_dashdash
    contains -- -- (commandline -opc)
end

complete -c {name} -f
"#
    );
    for (flag, about) in TOP_FLAGS {
        let spec = match flag.strip_prefix("--") {
            Some(long) => format!("-l {long}"),
            None => format!("-s {}", flag.trim_start_matches('-')),
        };
        let _ = writeln!(
            s,
            "complete -c {name} -n {f}_needs_command {spec} -d '{about}'"
        );
    }
    for c in p.cmds {
        let _ = writeln!(
            s,
            "complete -c {name} -n {f}_needs_command -a {} -d '{}'",
            c.name, c.about
        );
    }
    for c in p.cmds {
        let _ = writeln!(s, "\n# {}", c.name);
        let cond = format!("'{f}_using {}'", c.name);
        if !c.subs.is_empty() {
            let _ = writeln!(
                s,
                "complete -c {name} -n '{f}_needs_sub {}' -a '{}'",
                c.name,
                c.subs.join(" ")
            );
        }
        if c.runs_command {
            let _ = writeln!(
                s,
                "complete -c {name} -n '{f}_using {}; and {f}_after_dashdash' -F",
                c.name
            );
        }
        for g in flags(c) {
            let mut line = format!("complete -c {name} -n {cond} -l {}", g.long);
            if let Some(ch) = g.short {
                let _ = write!(line, " -s {ch}");
            }
            match g.val {
                Val::Switch => {}
                Val::File => line.push_str(" -r -F"),
                Val::Dir => line.push_str(" -x -a '(__fish_complete_directories)'"),
                Val::Text(_) => line.push_str(" -x"),
                Val::OneOf(words) => {
                    let _ = write!(line, " -x -a '{}'", words.join(" "));
                }
            }
            let _ = writeln!(s, "{line} -d '{}'", g.about);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// The help texts (as Rust source) that document `program`'s command
    /// `name`. `cli/mod.rs` is searched for the command's usage line.
    fn sources(program: &str, name: &str) -> &'static [&'static str] {
        const OPERATOR: &str = include_str!("operator.rs");
        match (program, name) {
            ("latchgate", "up") => &[include_str!("up.rs")],
            ("latchgate", "audit") => &[include_str!("audit.rs")],
            ("latchgate", "verify") => &[include_str!("verify.rs")],
            ("latchgate", "status") => &[include_str!("status.rs"), OPERATOR],
            ("latchgate", "approvals") => &[include_str!("approvals.rs"), OPERATOR],
            ("latchgate", "policy") => &[include_str!("policy.rs")],
            ("latchgate", "reload" | "revoke-all" | "drain") => {
                &[include_str!("admin_ops.rs"), OPERATOR]
            }
            ("latchgate", "actions") => &[include_str!("actions.rs")],
            ("latchgate", "secrets") => &[include_str!("secrets.rs")],
            ("latchgate", "sandbox") => &[include_str!("sandbox.rs")],
            ("latchgate", "gateway") => &[include_str!("gateway.rs")],
            ("latchgate", "bridge") => &[include_str!("bridge.rs")],
            ("latchgate", "doctor") => &[include_str!("doctor.rs")],
            ("latchgate", "completions") => &[include_str!("completions.rs")],
            ("latchgate-mcp", "serve") => &[include_str!("../mcp/options.rs")],
            ("latchgate-mcp", "install") => &[include_str!("../mcp/install/args.rs")],
            _ => &[],
        }
    }

    const CLI_MAIN: &str = include_str!("mod.rs");
    const MCP_MAIN: &str = include_str!("../mcp/mod.rs");

    /// The help-text literals of a source file, `\n` escapes expanded: from
    /// a line that starts one to the line that closes the string.
    fn help_texts(src: &str) -> Vec<String> {
        let starts = [
            concat!("HELP: &str", " = \""),
            concat!("USAGE: &str", " = \""),
            concat!("fn help", "() -> String"),
            concat!("let help", " = format!("),
        ];
        let mut out = Vec::new();
        let mut current: Option<String> = None;
        for line in src.lines() {
            let mut line = line;
            if current.is_none() && starts.iter().any(|m| line.contains(m)) {
                current = Some(String::new());
                // A text may start on the line that opens it.
                if let Some(i) = line.find("= \"") {
                    line = &line[i + 3..];
                }
            }
            if let Some(text) = current.as_mut() {
                text.push_str(line);
                text.push('\n');
                let end = line.trim_end();
                let closed = (end.ends_with('"') || end.ends_with("\";") || end.ends_with("\","))
                    && !end.ends_with("\\\"");
                if closed {
                    out.push(text.replace("\\n", "\n"));
                    current = None;
                }
            }
        }
        out
    }

    /// Flag-like words (`--long`, `-s`) in `text`.
    fn flag_words(text: &str) -> Vec<String> {
        text.split(|c: char| c.is_whitespace() || "[]|,()`".contains(c))
            .filter(|w| {
                let b = w.as_bytes();
                match b {
                    [b'-', b'-', c, ..] => c.is_ascii_lowercase(),
                    [b'-', c] => c.is_ascii_alphabetic(),
                    _ => false,
                }
            })
            .map(str::to_string)
            .collect()
    }

    /// The flags a help text documents: in its usage lines (up to the
    /// first blank line) and in its option lines (an indented line that
    /// starts with `-`, up to the description).
    fn documented_flags(help: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut in_usage = false;
        for line in help.lines() {
            let trimmed = line.trim_start();
            let lower = trimmed.to_ascii_lowercase();
            if lower.contains("usage: latchgate") {
                in_usage = true;
            } else if trimmed.is_empty() {
                in_usage = false;
            }
            if in_usage {
                out.extend(flag_words(trimmed));
            } else if trimmed.starts_with('-') && line.len() > trimmed.len() {
                // "  -l, --limit N        events to show": the spec ends at two spaces.
                let spec = trimmed.split("  ").next().unwrap_or_default();
                out.extend(flag_words(spec));
            }
        }
        out
    }

    /// The flags on `name`'s line of the `latchgate` usage text (cli/mod.rs).
    fn usage_line_flags(name: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for text in help_texts(CLI_MAIN) {
            for line in text.lines() {
                if line.split_whitespace().next() == Some(name) {
                    out.extend(flag_words(line));
                }
            }
        }
        out
    }

    fn program(name: &str) -> &'static Program {
        if name == "latchgate" {
            &LATCHGATE
        } else {
            &MCP
        }
    }

    #[test]
    fn the_help_parser_finds_flags() {
        // Guards the checks below against passing because nothing was found.
        let audit = documented_flags(&help_texts(include_str!("audit.rs")).join("\n"));
        assert!(
            audit.contains("-l") && audit.contains("--limit"),
            "{audit:?}"
        );
        assert!(audit.contains("--trace-id") && audit.contains("--config"));
        let verify = documented_flags(&help_texts(include_str!("verify.rs")).join("\n"));
        assert!(verify.contains("--ledger"), "{verify:?}");
        let ops = documented_flags(&help_texts(include_str!("admin_ops.rs")).join("\n"));
        assert!(ops.contains("--json"), "{ops:?}");
        let install =
            documented_flags(&help_texts(include_str!("../mcp/install/args.rs")).join("\n"));
        assert!(install.contains("--binary-path") && install.contains("--gate-url"));
        assert!(usage_line_flags("gateway").contains("--listen-unix"));
        // Prose that mentions another command's flag is not an option line.
        let gateway = documented_flags(&help_texts(include_str!("gateway.rs")).join("\n"));
        assert!(!gateway.contains("--ledger"), "{gateway:?}");
    }

    #[test]
    fn every_documented_flag_is_in_the_table_and_nothing_else() {
        let always: BTreeSet<String> = ["-h", "--help"].iter().map(|s| s.to_string()).collect();
        for prog in ["latchgate", "latchgate-mcp"] {
            for c in program(prog).cmds {
                let mut documented = BTreeSet::new();
                for src in sources(prog, c.name) {
                    for text in help_texts(src) {
                        documented.extend(documented_flags(&text));
                    }
                }
                if prog == "latchgate" {
                    documented.extend(usage_line_flags(c.name));
                }
                let table: BTreeSet<String> = flags(c).flat_map(spellings).collect();
                let missing: Vec<_> = documented.difference(&table).collect();
                assert!(
                    missing.is_empty(),
                    "{prog} {}: not in the table: {missing:?}",
                    c.name
                );
                let extra: Vec<_> = table
                    .difference(&documented)
                    .filter(|f| !always.contains(*f))
                    .collect();
                assert!(
                    extra.is_empty(),
                    "{prog} {}: in the table, not in its help: {extra:?}",
                    c.name
                );
            }
        }
    }

    #[test]
    fn every_command_is_in_the_table_and_nothing_else() {
        for (prog, main) in [("latchgate", CLI_MAIN), ("latchgate-mcp", MCP_MAIN)] {
            // The words `main` dispatches on: `Some("up") =>`, `Some("help" | "-h") =>`.
            let mut words = BTreeSet::new();
            for line in main
                .lines()
                .filter(|l| l.contains("Some(\"") && l.contains("=>"))
            {
                words.extend(line.split('"').skip(1).step_by(2).map(str::to_string));
            }
            let commands: BTreeSet<String> = words
                .iter()
                .filter(|w| !w.starts_with('-'))
                .cloned()
                .collect();
            let top: BTreeSet<String> = words
                .iter()
                .filter(|w| w.starts_with('-'))
                .cloned()
                .collect();
            let table: BTreeSet<String> = program(prog)
                .cmds
                .iter()
                .map(|c| c.name.to_string())
                .collect();
            assert_eq!(commands, table, "{prog}: commands");
            let ours: BTreeSet<String> = TOP_FLAGS.iter().map(|(f, _)| f.to_string()).collect();
            assert_eq!(top, ours, "{prog}: flags in place of a command");
        }
    }

    #[test]
    fn subcommands_and_choices_are_the_documented_words() {
        for prog in ["latchgate", "latchgate-mcp"] {
            for c in program(prog).cmds {
                let texts: Vec<String> = sources(prog, c.name)
                    .iter()
                    .flat_map(|s| help_texts(s))
                    .collect();
                let all = texts.join("\n");
                let words: BTreeSet<&str> = all
                    .split(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '-' || ch == '_'))
                    .collect();
                for sub in c.subs {
                    assert!(
                        words.contains(sub),
                        "{prog} {}: subcommand {sub} undocumented",
                        c.name
                    );
                }
                for g in flags(c) {
                    if let Val::OneOf(choices) = g.val {
                        for w in choices {
                            assert!(
                                words.contains(w),
                                "{prog} {} --{}: {w} undocumented",
                                c.name,
                                g.long
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn names_and_descriptions_are_safe_in_every_shell() {
        // Names are pasted unquoted and descriptions inside '...' and [...].
        let name_ok = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        };
        let about_ok = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b" ,.()/+-=_<>|".contains(&b))
        };
        for p in [&LATCHGATE, &MCP] {
            for c in p.cmds {
                assert!(name_ok(c.name) && about_ok(c.about), "{}", c.name);
                c.subs.iter().for_each(|s| assert!(name_ok(s), "{s}"));
                for g in flags(c) {
                    assert!(name_ok(g.long) && about_ok(g.about), "--{}", g.long);
                    if let Val::OneOf(words) = g.val {
                        words.iter().for_each(|w| assert!(name_ok(w), "{w}"));
                    }
                    if let Val::Text(n) = g.val {
                        assert!(n.bytes().all(|b| b.is_ascii_uppercase()), "{n}");
                    }
                }
                let mut seen = BTreeSet::new();
                for s in flags(c).flat_map(spellings) {
                    assert!(seen.insert(s.clone()), "{} lists {s} twice", c.name);
                }
            }
        }
        for (f, about) in TOP_FLAGS {
            assert!(about_ok(about) && f.starts_with('-'));
        }
    }

    #[test]
    fn shells_are_parsed_and_others_named_in_the_error() {
        assert_eq!(Shell::parse("bash".as_ref()), Ok(Shell::Bash));
        assert_eq!(Shell::parse("zsh".as_ref()), Ok(Shell::Zsh));
        assert_eq!(Shell::parse("fish".as_ref()), Ok(Shell::Fish));
        let e = Shell::parse("tcsh".as_ref()).unwrap_err();
        assert!(e.contains("`tcsh`") && e.contains("bash, zsh, fish"), "{e}");
        assert!(run(vec!["powershell".into()]).is_err());
        assert!(run(vec![]).unwrap_err().contains("bash, zsh, fish"));
        assert!(run(vec!["bash".into(), "zsh".into()]).is_err());
        assert!(run(vec!["bash".into(), "--bogus".into()]).is_err());
    }

    #[test]
    fn every_script_names_every_command_and_flag() {
        for p in [&LATCHGATE, &MCP] {
            for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
                let s = shell.render(p);
                for c in p.cmds {
                    assert!(s.contains(c.name), "{shell:?} {}: {}", p.name, c.name);
                    for g in flags(c) {
                        assert!(s.contains(g.long), "{shell:?} {}: --{}", p.name, g.long);
                    }
                    for sub in c.subs {
                        assert!(s.contains(sub), "{shell:?} {}: {sub}", p.name);
                    }
                }
            }
        }
        assert!(bash(&MCP).contains("complete -F _latchgate_mcp latchgate-mcp"));
        assert!(zsh(&LATCHGATE).starts_with("#compdef latchgate\n"));
        // zsh autoloads `_latchgate-mcp` from the file of that name.
        assert!(zsh(&MCP).contains("\n_latchgate-mcp() {\n"));
        assert!(zsh(&MCP).contains("compdef _latchgate-mcp latchgate-mcp\n"));
        assert!(fish(&MCP).contains("complete -c latchgate-mcp -f"));
    }

    #[test]
    fn bash_completes_values_by_kind() {
        let s = bash(&LATCHGATE);
        assert!(s.contains("                --decision)\n                    _latchgate_words \"allow allow_unverified deny pending_approval error\""));
        assert!(s.contains("                --limit|-l)\n                    :\n"));
        assert!(s.contains("                --ledger)\n                    _latchgate_paths -d\n"));
        assert!(s.contains("                --config)\n                    _latchgate_paths -f\n"));
    }
}
