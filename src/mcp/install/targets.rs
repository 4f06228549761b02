//! The IDEs `install` knows: their names, the scopes they support, the file
//! each one really reads today and the shape of the entry in it.
//!
//! Sources, checked for this release (LatchGate v0.2's table is
//! /work/shared/reference/anchor-api.md §4; differences are noted inline):
//! - Claude Code: code.claude.com/docs/en/mcp ("MCP installation scopes"):
//!   user scope is the top-level `mcpServers` of `~/.claude.json`
//!   (`$CLAUDE_CONFIG_DIR/.claude.json` when that is set), project scope is
//!   `.mcp.json` at the project root. v0.2 ran `claude mcp add` and its docs
//!   named `~/.claude/settings.json`, which Claude Code does not read for
//!   MCP servers; we write the file Claude Code reads and never run `claude`.
//! - Claude Desktop: `claude_desktop_config.json` in the app's config dir
//!   (`~/Library/Application Support/Claude` on macOS,
//!   `${XDG_CONFIG_HOME:-~/.config}/Claude` on Linux), key `mcpServers`.
//! - Cursor: cursor.com/docs/mcp: `~/.cursor/mcp.json` (global) and
//!   `.cursor/mcp.json` (project), key `mcpServers`. v0.2 had no project scope.
//! - Windsurf: docs.windsurf.com/windsurf/cascade/mcp:
//!   `~/.codeium/windsurf/mcp_config.json`, key `mcpServers`.
//! - Codex: developers.openai.com/codex/mcp: `${CODEX_HOME:-~/.codex}/config.toml`,
//!   `[mcp_servers.NAME]` with `command`, `args` and an `env` table; a
//!   trusted project may add `.codex/config.toml` (our project scope; new
//!   over v0.2).
//! - opencode: opencode.ai/docs/mcp-servers: `${XDG_CONFIG_HOME:-~/.config}/opencode/opencode.json`
//!   (project: `opencode.json`), key `mcp`, entries
//!   `{"type":"local","command":[...],"environment":{...},"enabled":true}`.
//!   opencode 2 also accepts a nested `mcp.servers` map; see `json_target`.
//! - Cline (VS Code extension): `<VS Code user dir>/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json`,
//!   key `mcpServers` (the Cline CLI reads `~/.cline/data/settings/` instead;
//!   we configure the extension, as v0.2 did).
//! - GitHub Copilot in VS Code: code.visualstudio.com/docs/copilot/reference/mcp-configuration:
//!   `mcp.json` in the user profile (`<VS Code user dir>/mcp.json`) or
//!   `.vscode/mcp.json` in the workspace, key `servers`, `"type":"stdio"`.
//!   v0.2 had no project scope.

use std::path::{Path, PathBuf};

/// An IDE (MCP client) that `install` can configure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ide {
    /// Claude Code (the CLI).
    ClaudeCode,
    /// Claude Desktop.
    ClaudeDesktop,
    /// Cursor.
    Cursor,
    /// Windsurf (Cascade).
    Windsurf,
    /// OpenAI Codex (CLI, IDE extension and app share one config).
    Codex,
    /// opencode.
    OpenCode,
    /// Cline, the VS Code extension.
    Cline,
    /// GitHub Copilot agent mode in VS Code.
    Copilot,
}

/// Every IDE, in the order `--help` lists them.
pub const ALL: [Ide; 8] = [
    Ide::ClaudeCode,
    Ide::ClaudeDesktop,
    Ide::Cursor,
    Ide::Windsurf,
    Ide::Codex,
    Ide::OpenCode,
    Ide::Cline,
    Ide::Copilot,
];

/// Where the entry goes: for the user (every project) or for one project.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The user's own configuration.
    User,
    /// A file in the current directory, meant to be committed.
    Project,
}

impl Scope {
    /// Parses `user` or `project`.
    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "user" => Some(Scope::User),
            "project" => Some(Scope::Project),
            _ => None,
        }
    }

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Scope::User => "user",
            Scope::Project => "project",
        }
    }
}

/// How the server entry looks inside a JSON config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `{"command","args","env"}`, with `"type":"stdio"` when `typed`.
    Stdio {
        /// Add `"type": "stdio"` (Claude Code and VS Code write it).
        typed: bool,
    },
    /// opencode: `{"type":"local","command":[bin, args...],"environment","enabled"}`.
    OpenCode,
}

/// The file format of a target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A JSON object holding the servers under `container`.
    Json {
        /// Top-level key of the server map (`mcpServers`, `servers`, `mcp`).
        container: &'static str,
        /// The IDE itself reads JSON with comments and trailing commas, so
        /// we accept (and keep) them too.
        jsonc: bool,
        /// The entry's shape.
        shape: Shape,
    },
    /// Codex's `config.toml`.
    CodexToml,
}

/// The environment the paths depend on, captured once (tests pass their own).
#[derive(Clone, Debug)]
pub struct Env {
    /// `$HOME`.
    pub home: Option<PathBuf>,
    /// `$XDG_CONFIG_HOME` (ignored unless absolute, as the XDG spec says).
    pub xdg_config_home: Option<PathBuf>,
    /// `$CODEX_HOME`.
    pub codex_home: Option<PathBuf>,
    /// `$CLAUDE_CONFIG_DIR` (Claude Code keeps `.claude.json` there when set).
    pub claude_config_dir: Option<PathBuf>,
    /// The current directory (project scope writes here).
    pub cwd: PathBuf,
}

impl Env {
    /// Reads the process environment.
    pub fn from_process() -> Result<Env, String> {
        let var = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let cwd = std::env::current_dir()
            .map_err(|e| format!("cannot read the current directory: {e}"))?;
        Ok(Env {
            home: var("HOME"),
            xdg_config_home: var("XDG_CONFIG_HOME").filter(|p| p.is_absolute()),
            codex_home: var("CODEX_HOME"),
            claude_config_dir: var("CLAUDE_CONFIG_DIR"),
            cwd,
        })
    }

    fn home(&self) -> Result<&Path, String> {
        self.home
            .as_deref()
            .ok_or_else(|| "HOME is not set: cannot find the user's configuration".to_string())
    }

    /// `${XDG_CONFIG_HOME:-~/.config}`.
    fn config_home(&self) -> Result<PathBuf, String> {
        match &self.xdg_config_home {
            Some(p) => Ok(p.clone()),
            None => Ok(self.home()?.join(".config")),
        }
    }

    /// The platform's per-user application data directory (Electron's
    /// `appData`): where Claude Desktop and VS Code keep their settings.
    fn app_data(&self) -> Result<PathBuf, String> {
        if cfg!(target_os = "macos") {
            Ok(self.home()?.join("Library/Application Support"))
        } else {
            self.config_home()
        }
    }

    /// VS Code's `User` directory.
    fn vscode_user(&self) -> Result<PathBuf, String> {
        Ok(self.app_data()?.join("Code/User"))
    }
}

impl Ide {
    /// Parses an `--ide` value (canonical names plus v0.2's spellings).
    pub fn parse(s: &str) -> Option<Ide> {
        match s {
            "claude-code" => Some(Ide::ClaudeCode),
            "claude" | "claude-desktop" => Some(Ide::ClaudeDesktop),
            "cursor" => Some(Ide::Cursor),
            "windsurf" => Some(Ide::Windsurf),
            "codex" => Some(Ide::Codex),
            "opencode" | "open-code" => Some(Ide::OpenCode),
            "cline" => Some(Ide::Cline),
            "copilot" | "vscode" => Some(Ide::Copilot),
            _ => None,
        }
    }

    /// The canonical `--ide` name.
    pub fn name(self) -> &'static str {
        match self {
            Ide::ClaudeCode => "claude-code",
            Ide::ClaudeDesktop => "claude",
            Ide::Cursor => "cursor",
            Ide::Windsurf => "windsurf",
            Ide::Codex => "codex",
            Ide::OpenCode => "opencode",
            Ide::Cline => "cline",
            Ide::Copilot => "copilot",
        }
    }

    /// The `LATCHGATE_AGENT_ID` the entry sets (v0.2's ide ids).
    pub fn agent_id(self) -> &'static str {
        match self {
            Ide::ClaudeDesktop => "claude-desktop",
            other => other.name(),
        }
    }

    /// The product name, for messages.
    pub fn title(self) -> &'static str {
        match self {
            Ide::ClaudeCode => "Claude Code",
            Ide::ClaudeDesktop => "Claude Desktop",
            Ide::Cursor => "Cursor",
            Ide::Windsurf => "Windsurf",
            Ide::Codex => "Codex",
            Ide::OpenCode => "opencode",
            Ide::Cline => "Cline (VS Code)",
            Ide::Copilot => "VS Code (GitHub Copilot)",
        }
    }

    /// What to do after installing, for the summary.
    pub fn next_step(self) -> &'static str {
        match self {
            Ide::ClaudeCode => {
                "Start a new Claude Code session to pick it up (`claude mcp list` shows it)."
            }
            Ide::ClaudeDesktop => "Quit and reopen Claude Desktop to pick it up.",
            Ide::Cursor => "Restart Cursor, or enable it under Settings > MCP.",
            Ide::Windsurf => "Refresh the MCP servers in Windsurf (Cascade > MCP) or restart it.",
            Ide::Codex => "Start a new Codex session; `/mcp` lists it.",
            Ide::OpenCode => "Restart opencode to pick it up.",
            Ide::Cline => "Reload the VS Code window to pick it up.",
            Ide::Copilot => {
                "Reload the VS Code window, then start the server from mcp.json if asked."
            }
        }
    }

    /// The scopes this IDE has a file for.
    pub fn scopes(self) -> &'static [Scope] {
        match self {
            Ide::ClaudeCode | Ide::Cursor | Ide::Codex | Ide::OpenCode | Ide::Copilot => {
                &[Scope::User, Scope::Project]
            }
            Ide::ClaudeDesktop | Ide::Windsurf | Ide::Cline => &[Scope::User],
        }
    }

    /// The file format and entry shape.
    pub fn format(self) -> Format {
        let stdio = |typed| Shape::Stdio { typed };
        match self {
            Ide::ClaudeCode => json("mcpServers", false, stdio(true)),
            Ide::ClaudeDesktop | Ide::Cursor | Ide::Windsurf | Ide::Cline => {
                json("mcpServers", false, stdio(false))
            }
            Ide::Copilot => json("servers", true, stdio(true)),
            Ide::OpenCode => json("mcp", true, Shape::OpenCode),
            Ide::Codex => Format::CodexToml,
        }
    }

    /// Ok when this IDE has a file for `scope`; the error names the
    /// allowed scopes.
    pub fn check_scope(self, scope: Scope) -> Result<(), String> {
        if self.scopes().contains(&scope) {
            return Ok(());
        }
        let allowed: Vec<&str> = self.scopes().iter().map(|s| s.name()).collect();
        Err(format!(
            "--ide {} has no {} scope (allowed: {})",
            self.name(),
            scope.name(),
            allowed.join(", ")
        ))
    }

    /// The config file for `scope`.
    pub fn config_path(self, scope: Scope, env: &Env) -> Result<PathBuf, String> {
        self.check_scope(scope)?;
        let project = |rel: &str| Ok(env.cwd.join(rel));
        match (self, scope) {
            (Ide::ClaudeCode, Scope::User) => match &env.claude_config_dir {
                Some(dir) => Ok(dir.join(".claude.json")),
                None => Ok(env.home()?.join(".claude.json")),
            },
            (Ide::ClaudeCode, Scope::Project) => project(".mcp.json"),
            (Ide::ClaudeDesktop, _) => {
                Ok(env.app_data()?.join("Claude/claude_desktop_config.json"))
            }
            (Ide::Cursor, Scope::User) => Ok(env.home()?.join(".cursor/mcp.json")),
            (Ide::Cursor, Scope::Project) => project(".cursor/mcp.json"),
            (Ide::Windsurf, _) => Ok(env.home()?.join(".codeium/windsurf/mcp_config.json")),
            (Ide::Codex, Scope::User) => match &env.codex_home {
                Some(dir) => Ok(dir.join("config.toml")),
                None => Ok(env.home()?.join(".codex/config.toml")),
            },
            (Ide::Codex, Scope::Project) => project(".codex/config.toml"),
            (Ide::OpenCode, Scope::User) => Ok(env.config_home()?.join("opencode/opencode.json")),
            (Ide::OpenCode, Scope::Project) => project("opencode.json"),
            (Ide::Cline, _) => Ok(env
                .vscode_user()?
                .join("globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json")),
            (Ide::Copilot, Scope::User) => Ok(env.vscode_user()?.join("mcp.json")),
            (Ide::Copilot, Scope::Project) => project(".vscode/mcp.json"),
        }
    }
}

fn json(container: &'static str, jsonc: bool, shape: Shape) -> Format {
    Format::Json {
        container,
        jsonc,
        shape,
    }
}

/// The `--ide` names, for usage messages.
pub fn names() -> String {
    let names: Vec<&str> = ALL.iter().map(|i| i.name()).collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Env {
        Env {
            home: Some(PathBuf::from("/h")),
            xdg_config_home: None,
            codex_home: None,
            claude_config_dir: None,
            cwd: PathBuf::from("/p"),
        }
    }

    fn path(ide: Ide, scope: Scope, env: &Env) -> String {
        ide.config_path(scope, env).unwrap().display().to_string()
    }

    #[test]
    fn user_paths_follow_each_ide() {
        let e = env();
        assert_eq!(path(Ide::ClaudeCode, Scope::User, &e), "/h/.claude.json");
        assert_eq!(path(Ide::Cursor, Scope::User, &e), "/h/.cursor/mcp.json");
        assert_eq!(
            path(Ide::Windsurf, Scope::User, &e),
            "/h/.codeium/windsurf/mcp_config.json"
        );
        assert_eq!(path(Ide::Codex, Scope::User, &e), "/h/.codex/config.toml");
        if !cfg!(target_os = "macos") {
            assert_eq!(
                path(Ide::ClaudeDesktop, Scope::User, &e),
                "/h/.config/Claude/claude_desktop_config.json"
            );
            assert_eq!(
                path(Ide::OpenCode, Scope::User, &e),
                "/h/.config/opencode/opencode.json"
            );
            assert_eq!(
                path(Ide::Cline, Scope::User, &e),
                "/h/.config/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json"
            );
            assert_eq!(
                path(Ide::Copilot, Scope::User, &e),
                "/h/.config/Code/User/mcp.json"
            );
        }
    }

    #[test]
    fn overrides_from_the_environment() {
        let mut e = env();
        e.xdg_config_home = Some(PathBuf::from("/x"));
        e.codex_home = Some(PathBuf::from("/c"));
        e.claude_config_dir = Some(PathBuf::from("/cc"));
        assert_eq!(path(Ide::Codex, Scope::User, &e), "/c/config.toml");
        assert_eq!(path(Ide::ClaudeCode, Scope::User, &e), "/cc/.claude.json");
        if !cfg!(target_os = "macos") {
            assert_eq!(
                path(Ide::OpenCode, Scope::User, &e),
                "/x/opencode/opencode.json"
            );
            assert_eq!(path(Ide::Copilot, Scope::User, &e), "/x/Code/User/mcp.json");
        }
    }

    #[test]
    fn project_paths_are_in_the_current_directory() {
        let e = env();
        assert_eq!(path(Ide::ClaudeCode, Scope::Project, &e), "/p/.mcp.json");
        assert_eq!(path(Ide::Cursor, Scope::Project, &e), "/p/.cursor/mcp.json");
        assert_eq!(
            path(Ide::Codex, Scope::Project, &e),
            "/p/.codex/config.toml"
        );
        assert_eq!(path(Ide::OpenCode, Scope::Project, &e), "/p/opencode.json");
        assert_eq!(
            path(Ide::Copilot, Scope::Project, &e),
            "/p/.vscode/mcp.json"
        );
    }

    #[test]
    fn unsupported_scope_names_the_allowed_ones() {
        let err = Ide::ClaudeDesktop
            .config_path(Scope::Project, &env())
            .unwrap_err();
        assert!(
            err.contains("no project scope") && err.contains("allowed: user"),
            "{err}"
        );
    }

    #[test]
    fn missing_home_is_an_error_not_a_panic() {
        let mut e = env();
        e.home = None;
        assert!(Ide::Cursor.config_path(Scope::User, &e).is_err());
        // Project scope does not need HOME.
        assert!(Ide::Cursor.config_path(Scope::Project, &e).is_ok());
    }

    #[test]
    fn names_round_trip() {
        for ide in ALL {
            assert_eq!(Ide::parse(ide.name()), Some(ide));
        }
        assert_eq!(Ide::parse("claude-desktop"), Some(Ide::ClaudeDesktop));
        assert_eq!(Ide::parse("nope"), None);
        assert_eq!(Ide::ClaudeDesktop.agent_id(), "claude-desktop");
        assert_eq!(Ide::Codex.agent_id(), "codex");
    }
}
