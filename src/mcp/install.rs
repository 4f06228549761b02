//! `latchgate-mcp install --ide NAME`: writes the `latchgate` MCP server
//! entry into the config file the IDE reads (targets.rs lists them and the
//! sources), keeping every other byte of that file.
//!
//! Order of work: parse the command line; choose the transport (flags, else
//! the gate's own config); build the entry; read and validate the current
//! file; compute the edit (json_splice.rs or toml_edit.rs); then either
//! print it (`--dry-run`) or write a `.bak` and replace the file atomically
//! (fsio.rs). A file we cannot read or parse is never written.
//! Exit codes: 0 done (or already up to date), 1 failed, 2 bad usage.

mod args;
mod entry;
mod fsio;
mod json_splice;
mod jsonc;
mod targets;
mod toml_edit;

use crate::json::Value;
use args::{Options, Parsed};
use entry::{Endpoint, Gate, GateConfig, Server};
use fsio::Mode;
use std::ffi::OsString;
use std::path::PathBuf;
use targets::{Env, Format, Ide, Scope};

/// The server's name in every IDE config.
const NAME: &str = "latchgate";

/// What an editor decided for a file.
#[derive(Debug, PartialEq)]
enum Edit {
    /// The entry is already exactly right: nothing to write.
    Unchanged,
    /// The whole new file text.
    Changed {
        /// The new contents.
        text: String,
        /// An older `latchgate` entry was overwritten.
        replaced: bool,
    },
}

/// Runs `install`. Usage errors come back as `Err` (the caller prints them
/// and exits 2); failures are printed here and give exit code 1.
pub fn run(args: Vec<OsString>) -> Result<i32, String> {
    let env = match Env::from_process() {
        Ok(env) => env,
        Err(e) => return Ok(fail(&e)),
    };
    let opts = match args::parse(args, &env.cwd)? {
        Parsed::Help => {
            println!("{}", args::HELP);
            return Ok(0);
        }
        Parsed::Run(opts) => opts,
    };
    match install(&opts, &env) {
        Ok(()) => Ok(0),
        Err(e) => Ok(fail(&e)),
    }
}

fn fail(msg: &str) -> i32 {
    eprintln!("latchgate-mcp install: {msg}");
    1
}

/// The planned change to one config file.
struct Plan {
    /// The path the IDE reads.
    path: PathBuf,
    /// Where to write (the target when `path` is a symlink).
    real: PathBuf,
    existing: Option<fsio::Existing>,
    edit: Edit,
    /// The entry as it appears in the file, for `--dry-run`.
    snippet: String,
    /// Where the entry sits, for people ("mcpServers.latchgate").
    key: String,
}

fn install(o: &Options, env: &Env) -> Result<(), String> {
    let (endpoint, cfg_note) = choose_endpoint(o);
    let command = entry::binary(o.binary_path.as_deref(), &env.cwd)?;
    let server = entry::server(command, &endpoint, o.ide.agent_id())?;
    let plan = plan(o, env, &server)?;
    if o.dry_run {
        if let Some(note) = &cfg_note {
            eprintln!("# note: {note}");
        }
        eprintln!(
            "# Config for {} (dry run: nothing is written)",
            o.ide.title()
        );
        eprintln!("# Would write to: {}", plan.path.display());
        if plan.edit == Edit::Unchanged {
            eprintln!("# The file already has exactly this entry: it would not change.");
        }
        print!("{}", plan.snippet);
        return Ok(());
    }
    if let Some(note) = cfg_note {
        eprintln!("note: {note}");
    }
    apply(o, &plan)?;
    summary(o, &plan, &server, &endpoint);
    if let Some(warning) = reachability(&endpoint.gate) {
        eprintln!("note: {warning}");
    }
    Ok(())
}

/// The transport; the gate's config is read only when the flags leave
/// something open. A config that fails to load is reported, not fatal.
fn choose_endpoint(o: &Options) -> (Endpoint, Option<String>) {
    let f = &o.flags;
    let complete = f.gate_url.is_some() || (f.gate_socket.is_some() && f.public_base_url.is_some());
    if complete {
        return (entry::endpoint(f, &GateConfig::defaults()), None);
    }
    match GateConfig::load() {
        Ok(cfg) => (entry::endpoint(f, &cfg), None),
        Err(e) => (
            entry::endpoint(f, &GateConfig::defaults()),
            Some(format!(
                "could not read the gate's config ({e}); using the gate's defaults"
            )),
        ),
    }
}

/// Reads the current file and computes the edit; nothing is written.
fn plan(o: &Options, env: &Env, server: &Server) -> Result<Plan, String> {
    let path = o.ide.config_path(o.scope, env)?;
    let refuse = |why: String| {
        format!(
            "cannot update {}: {why}. The file was left untouched.",
            path.display()
        )
    };
    let (real, existing) = fsio::read(&path).map_err(refuse)?;
    let original = existing.as_ref().map_or("", |e| e.text.as_str());
    let (edit, snippet, key) = match o.ide.format() {
        Format::Json {
            container,
            jsonc,
            shape,
        } => {
            let doc = json_splice::Doc::parse(original, jsonc).map_err(refuse)?;
            let value = entry::json_entry(shape, server);
            let where_ = if o.ide == Ide::OpenCode {
                opencode_container(&doc.root)
            } else {
                vec![container]
            };
            let edit = doc.upsert(&where_, NAME, &value).map_err(refuse)?;
            let snippet = json_splice::snippet(&where_, NAME, &value);
            (edit, snippet, format!("{}.{NAME}", where_.join(".")))
        }
        Format::CodexToml => {
            let edit = toml_edit::upsert(original, server).map_err(refuse)?;
            (
                edit,
                toml_edit::snippet(server),
                format!("[mcp_servers.{NAME}]"),
            )
        }
    };
    Ok(Plan {
        path,
        real,
        existing,
        edit,
        snippet,
        key,
    })
}

/// opencode 1 keeps servers directly under `mcp`; opencode 2 also accepts
/// a nested `mcp.servers` map. Use the nested map when the file already has
/// one (and no flat `latchgate` entry): a 1.x server entry always has a
/// `type`, `command`, `url` or `enabled` member, the 2.x map has none.
fn opencode_container(root: &Value) -> Vec<&'static str> {
    let mcp = root.get("mcp");
    let flat = mcp.and_then(|m| m.get(NAME)).is_some();
    let nested = mcp
        .and_then(|m| m.get("servers"))
        .and_then(Value::as_object)
        .is_some_and(|s| {
            !["type", "command", "url", "enabled"]
                .iter()
                .any(|k| s.contains_key(k))
        });
    if nested && !flat {
        vec!["mcp", "servers"]
    } else {
        vec!["mcp"]
    }
}

/// Writes the backup, then the file. Never writes when nothing changes.
fn apply(o: &Options, plan: &Plan) -> Result<(), String> {
    let Edit::Changed { text, .. } = &plan.edit else {
        return Ok(());
    };
    let private = o.scope == Scope::User;
    let fail = |why: String| {
        format!(
            "cannot update {}: {why}. The file was left untouched.",
            plan.path.display()
        )
    };
    if let Some(dir) = plan.real.parent() {
        for made in fsio::create_dirs(dir, private).map_err(fail)? {
            println!("Created directory {}", made.display());
        }
    }
    let mode = match &plan.existing {
        Some(ex) => {
            let bak = fsio::backup_path(&plan.path);
            fsio::write_atomic(&bak, ex.text.as_bytes(), Mode::Keep(ex.mode), None)
                .map_err(fail)?;
            Mode::Keep(ex.mode)
        }
        // A new file: private in the user's config, ordinary (less the
        // umask) in a project.
        None if private => Mode::New(0o600),
        None => Mode::New(0o644),
    };
    let was = plan.existing.as_ref().map(|e| e.text.as_bytes());
    fsio::write_atomic(&plan.real, text.as_bytes(), mode, was).map_err(fail)
}

fn summary(o: &Options, plan: &Plan, server: &Server, ep: &Endpoint) {
    let title = o.ide.title();
    let path = plan.path.display();
    let replaced = match &plan.edit {
        Edit::Unchanged => {
            println!(
                "{title}: already up to date ({path} has this {NAME} entry; nothing was written)."
            );
            return;
        }
        Edit::Changed { replaced, .. } => *replaced,
    };
    if replaced {
        println!("Updated the {NAME} MCP server for {title} (the previous entry was replaced).");
    } else {
        println!("Added the {NAME} MCP server for {title}.");
    }
    println!("  file:    {path} ({})", plan.key);
    if plan.real != plan.path {
        println!("           (a link to {})", plan.real.display());
    }
    if plan.existing.is_some() {
        println!("  backup:  {}", fsio::backup_path(&plan.path).display());
    }
    println!("  runs:    {} {}", server.command, server.args.join(" "));
    println!("  gate:    {}", ep.origin);
    if matches!(ep.gate, Gate::Socket { .. }) {
        println!(
            "           (if the gate runs with `latchgate up --expose-http ADDR`, install with --gate-url http://ADDR instead)"
        );
    }
    println!("{}", o.ide.next_step());
}

/// A warning when nothing answers where the entry points (the entry is
/// still right: the gate may simply not be running yet).
fn reachability(gate: &Gate) -> Option<String> {
    use std::net::{TcpStream, ToSocketAddrs};
    use std::time::Duration;
    match gate {
        Gate::Socket { path } => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return None;
            }
            Some(format!(
                "no gate is listening on {} right now; start it with `latchgate up` before using the IDE",
                path.display()
            ))
        }
        Gate::Tcp { url } => {
            let authority = url
                .strip_prefix("http://")
                .map(|r| r.split('/').next().unwrap_or(r))
                .unwrap_or(url);
            let with_port = if authority
                .rsplit_once(':')
                .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
            {
                authority.to_string()
            } else {
                format!("{authority}:80")
            };
            let up = with_port
                .to_socket_addrs()
                .ok()
                .and_then(|mut addrs| addrs.next())
                .is_some_and(|a| {
                    TcpStream::connect_timeout(&a, Duration::from_millis(300)).is_ok()
                });
            if up {
                return None;
            }
            Some(format!(
                "nothing answers at {url} right now; start the gate with `latchgate up --expose-http {with_port}` before using the IDE"
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(text: &str) -> Vec<&'static str> {
        let root = crate::json::parse(text.as_bytes()).unwrap();
        opencode_container(&root)
    }

    #[test]
    fn opencode_uses_the_nested_map_only_when_the_file_has_one() {
        assert_eq!(container("{}"), ["mcp"]);
        assert_eq!(container(r#"{"mcp": {"a": {"type": "local"}}}"#), ["mcp"]);
        assert_eq!(
            container(r#"{"mcp": {"servers": {"a": {"type": "local"}}}}"#),
            ["mcp", "servers"]
        );
        // A 1.x server that happens to be called "servers".
        assert_eq!(
            container(r#"{"mcp": {"servers": {"type": "local", "command": ["x"]}}}"#),
            ["mcp"]
        );
        // An existing flat entry is updated where it is.
        assert_eq!(
            container(r#"{"mcp": {"latchgate": {}, "servers": {}}}"#),
            ["mcp"]
        );
    }
}
