//! Codex's `config.toml`. We have a TOML reader but no writer, so the text
//! is edited conservatively: the `[mcp_servers.latchgate]` table and its
//! `[mcp_servers.latchgate.env]` subtable are replaced where they are, or
//! appended; every other byte stays. The file must parse before (else we
//! refuse) and after (else we refuse: the entry is in a form we cannot
//! rewrite, such as an inline table), and everything outside
//! `mcp_servers.latchgate` must read back the same.

use super::entry::Server;
use super::Edit;
use crate::toml::{self, Item, TValue, Table};
use std::ops::Range;

const MAIN: [&str; 2] = ["mcp_servers", "latchgate"];
const ENV: [&str; 3] = ["mcp_servers", "latchgate", "env"];

/// The two tables as they are written (for `--dry-run`).
pub fn snippet(s: &Server) -> String {
    format!("{}\n{}", main_table(s, "\n"), env_table(s, "\n"))
}

/// Sets `[mcp_servers.latchgate]` in `original` to `s`.
pub fn upsert(original: &str, s: &Server) -> Result<Edit, String> {
    let root = toml::parse(original).map_err(|e| format!("it is not valid TOML: {e}"))?;
    let existing = match root.get("mcp_servers").map(|i| &i.value) {
        None => None,
        Some(TValue::Table(servers)) => match servers.get("latchgate").map(|i| &i.value) {
            None => None,
            Some(TValue::Table(t)) => Some(t),
            Some(other) => {
                return Err(format!(
                    "`mcp_servers.latchgate` should be a table but its type is {}",
                    other.type_name()
                ))
            }
        },
        Some(other) => {
            return Err(format!(
                "`mcp_servers` should be a table but its type is {}",
                other.type_name()
            ))
        }
    };
    if existing.is_some_and(|t| is_exactly(t, s)) {
        return Ok(Edit::Unchanged);
    }
    let text = edit(original, s)?;
    if text == original {
        return Ok(Edit::Unchanged);
    }
    verify(&root, &text, s)?;
    Ok(Edit::Changed {
        text,
        replaced: existing.is_some(),
    })
}

/// The new text: our two tables where theirs were, else at the end.
fn edit(original: &str, s: &Server) -> Result<String, String> {
    let nl = if original.contains("\r\n") {
        "\r\n"
    } else {
        "\n"
    };
    let main = main_table(s, nl);
    let env = env_table(s, nl);
    let lines = scan(original)?;
    let main_at = lines.iter().position(|l| is_header(l, &MAIN));
    let env_at = lines.iter().position(|l| is_header(l, &ENV));
    let both = format!("{main}{nl}{env}");
    // Replacements as (byte range, text), applied from the end.
    let mut edits: Vec<(Range<usize>, String)> = match (main_at, env_at) {
        (Some(m), Some(e)) => vec![(block(&lines, m), main), (block(&lines, e), env)],
        (Some(m), None) => vec![(block(&lines, m), both)],
        (None, Some(e)) => vec![(block(&lines, e), both)],
        (None, None) => return Ok(append(original, &both, nl)),
    };
    edits.sort_by_key(|(r, _)| std::cmp::Reverse(r.start));
    let mut out = original.to_string();
    for (range, with) in edits {
        if out.get(range.clone()).is_none() {
            return Err(internal());
        }
        out.replace_range(range, &with);
    }
    Ok(out)
}

fn is_header(line: &Line, path: &[&str]) -> bool {
    line.header
        .as_ref()
        .is_some_and(|h| h.len() == path.len() && h.iter().zip(path).all(|(a, b)| a == b))
}

fn append(original: &str, tables: &str, nl: &str) -> String {
    if original.trim().is_empty() {
        return tables.to_string();
    }
    let mut out = original.to_string();
    if !out.ends_with('\n') {
        out.push_str(nl);
    }
    if !(out.ends_with("\n\n") || out.ends_with("\n\r\n")) {
        out.push_str(nl);
    }
    out.push_str(tables);
    out
}

/// The new file must parse, hold our entry, and read the same as before
/// everywhere outside `mcp_servers.latchgate`.
fn verify(before: &Table, text: &str, s: &Server) -> Result<(), String> {
    let after = toml::parse(text).map_err(|_| cannot_rewrite())?;
    let ours = after
        .get("mcp_servers")
        .and_then(|i| table(&i.value))
        .and_then(|t| t.get("latchgate"))
        .and_then(|i| table(&i.value));
    if !ours.is_some_and(|t| has_entry(t, s)) {
        return Err(cannot_rewrite());
    }
    if !same_table(&without_latchgate(before), &without_latchgate(&after)) {
        return Err(internal());
    }
    Ok(())
}

fn cannot_rewrite() -> String {
    "it defines mcp_servers.latchgate in a form this installer cannot rewrite safely \
     (for example an inline table or dotted keys); remove that entry or turn it into a \
     [mcp_servers.latchgate] table, then run again"
        .into()
}

fn internal() -> String {
    "internal error while editing the file; nothing was written".into()
}

fn table(v: &TValue) -> Option<&Table> {
    match v {
        TValue::Table(t) => Some(t),
        _ => None,
    }
}

/// `command`, `args` and `env` are ours.
fn has_entry(t: &Table, s: &Server) -> bool {
    let command =
        matches!(t.get("command").map(|i| &i.value), Some(TValue::String(c)) if *c == s.command);
    let args = match t.get("args").map(|i| &i.value) {
        Some(TValue::Array(items)) => {
            items.len() == s.args.len()
                && items
                    .iter()
                    .zip(&s.args)
                    .all(|(i, a)| matches!(&i.value, TValue::String(x) if x == a))
        }
        _ => false,
    };
    let env = match t.get("env").map(|i| &i.value) {
        Some(TValue::Table(e)) => {
            e.0.len() == s.env.len()
                && e.iter().zip(&s.env).all(|((k, i), (ek, ev))| {
                    k == ek && matches!(&i.value, TValue::String(x) if x == ev)
                })
        }
        _ => false,
    };
    command && args && env
}

/// The entry is ours and nothing else is in it (already up to date).
fn is_exactly(t: &Table, s: &Server) -> bool {
    t.0.len() == 3 && has_entry(t, s)
}

/// The document with `mcp_servers.latchgate` (and an emptied
/// `mcp_servers`) removed.
fn without_latchgate(root: &Table) -> Table {
    let mut out = Table::default();
    for (k, item) in root.iter() {
        if k == "mcp_servers" {
            if let TValue::Table(servers) = &item.value {
                let rest: Vec<(String, Item)> = servers
                    .iter()
                    .filter(|(name, _)| *name != "latchgate")
                    .map(|(n, i)| (n.clone(), i.clone()))
                    .collect();
                if rest.is_empty() {
                    continue;
                }
                let value = TValue::Table(Table(rest));
                out.0.push((k.clone(), Item { value, line: 0 }));
                continue;
            }
        }
        out.0.push((k.clone(), item.clone()));
    }
    out
}

/// Equality that ignores the line numbers items carry.
fn same_table(a: &Table, b: &Table) -> bool {
    a.0.len() == b.0.len()
        && a.iter()
            .zip(b.iter())
            .all(|((ka, ia), (kb, ib))| ka == kb && same(&ia.value, &ib.value))
}

fn same(a: &TValue, b: &TValue) -> bool {
    match (a, b) {
        (TValue::Table(x), TValue::Table(y)) => same_table(x, y),
        (TValue::Array(x), TValue::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(&p.value, &q.value))
        }
        _ => a == b,
    }
}

fn main_table(s: &Server, nl: &str) -> String {
    let args: Vec<String> = s.args.iter().map(|a| quote(a)).collect();
    format!(
        "[mcp_servers.latchgate]{nl}command = {}{nl}args = [{}]{nl}",
        quote(&s.command),
        args.join(", ")
    )
}

fn env_table(s: &Server, nl: &str) -> String {
    let mut out = format!("[mcp_servers.latchgate.env]{nl}");
    for (k, v) in &s.env {
        out.push_str(&format!("{} = {}{nl}", key(k), quote(v)));
    }
    out
}

/// A TOML basic string.
fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A bare key when it may be one, else quoted.
fn key(k: &str) -> String {
    let bare = !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        k.to_string()
    } else {
        quote(k)
    }
}

/// One line of the file, as the block finder needs it.
struct Line {
    /// Byte range, line break included.
    range: Range<usize>,
    /// The table path when this line is a `[table]` header.
    header: Option<Vec<String>>,
    /// Blank or a comment, outside any multi-line string.
    trivia: bool,
}

/// Where a table's lines are: from its header to the next header, less
/// the blank and comment lines just before that header (they usually
/// belong to it).
fn block(lines: &[Line], header: usize) -> Range<usize> {
    let next = lines
        .iter()
        .skip(header + 1)
        .position(|l| l.header.is_some())
        .map_or(lines.len(), |p| p + header + 1);
    let mut end = next;
    while end > header + 1 && lines.get(end - 1).is_some_and(|l| l.trivia) {
        end -= 1;
    }
    let start = lines.get(header).map_or(0, |l| l.range.start);
    let stop = lines.get(end - 1).map_or(start, |l| l.range.end);
    start..stop
}

/// Multi-line string state carried from one line to the next.
#[derive(Clone, Copy, PartialEq)]
enum Ml {
    None,
    Basic,
    Literal,
}

/// Splits a valid TOML document into lines and finds the table headers: a
/// line whose first character is `[` outside any string or open array.
fn scan(text: &str) -> Result<Vec<Line>, String> {
    let mut out = Vec::new();
    let mut ml = Ml::None;
    let mut depth = 0usize;
    let mut at = 0;
    for raw in text.split_inclusive('\n') {
        let range = at..at + raw.len();
        at += raw.len();
        let outside = ml == Ml::None;
        let t = raw.trim_start();
        let trivia = outside && (t.trim().is_empty() || t.starts_with('#'));
        if outside && depth == 0 && t.starts_with('[') {
            out.push(Line {
                range,
                header: Some(header_path(raw)?),
                trivia: false,
            });
            continue;
        }
        lex(raw, &mut ml, &mut depth);
        out.push(Line {
            range,
            header: None,
            trivia,
        });
    }
    Ok(out)
}

/// The path of a header line, read by the real parser.
fn header_path(line: &str) -> Result<Vec<String>, String> {
    let t = toml::parse(line).map_err(|_| internal())?;
    let mut path = Vec::new();
    let mut cur = &t;
    loop {
        let [(k, item)] = cur.0.as_slice() else {
            return if cur.0.is_empty() {
                Ok(path)
            } else {
                Err(internal())
            };
        };
        path.push(k.clone());
        match &item.value {
            TValue::Table(inner) => cur = inner,
            // `[[array]]`: its path never equals ours, so mark it apart.
            TValue::Array(_) => {
                path.push("[[]]".into());
                return Ok(path);
            }
            _ => return Err(internal()),
        }
    }
}

/// Advances the string/bracket state over one (non-header) line.
fn lex(line: &str, ml: &mut Ml, depth: &mut usize) {
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match *ml {
            Ml::Basic => {
                if b.get(i) == Some(&b'\\') {
                    i += 2;
                    continue;
                }
                if b.get(i..i + 3) == Some(b"\"\"\"") {
                    i = skip_extra(b, i + 3, b'"');
                    *ml = Ml::None;
                    continue;
                }
                i += 1;
            }
            Ml::Literal => {
                if b.get(i..i + 3) == Some(b"'''") {
                    i = skip_extra(b, i + 3, b'\'');
                    *ml = Ml::None;
                    continue;
                }
                i += 1;
            }
            Ml::None => match b.get(i) {
                Some(b'#') => return,
                Some(b'"') if b.get(i..i + 3) == Some(b"\"\"\"") => {
                    *ml = Ml::Basic;
                    i += 3;
                }
                Some(b'\'') if b.get(i..i + 3) == Some(b"'''") => {
                    *ml = Ml::Literal;
                    i += 3;
                }
                Some(b'"') => i = string_end(b, i + 1, true),
                Some(b'\'') => i = string_end(b, i + 1, false),
                Some(b'[' | b'{') => {
                    *depth += 1;
                    i += 1;
                }
                Some(b']' | b'}') => {
                    *depth = depth.saturating_sub(1);
                    i += 1;
                }
                _ => i += 1,
            },
        }
    }
}

/// Up to two more quote characters right after a closing `"""` belong to
/// the string.
fn skip_extra(b: &[u8], mut i: usize, q: u8) -> usize {
    for _ in 0..2 {
        if b.get(i) == Some(&q) {
            i += 1;
        }
    }
    i
}

/// Index after a one-line string that started before `i`.
fn string_end(b: &[u8], mut i: usize, escapes: bool) -> usize {
    let q = if escapes { b'"' } else { b'\'' };
    while let Some(&c) = b.get(i) {
        if escapes && c == b'\\' {
            i += 2;
            continue;
        }
        i += 1;
        if c == q {
            break;
        }
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> Server {
        Server {
            command: "/usr/bin/latchgate-mcp".into(),
            args: vec!["serve".into(), "--gate-url".into(), "http://h:1".into()],
            env: vec![
                ("LATCHGATE_AGENT_ID".into(), "codex".into()),
                ("RUST_LOG".into(), "warn".into()),
            ],
        }
    }

    const TABLES: &str = "[mcp_servers.latchgate]\ncommand = \"/usr/bin/latchgate-mcp\"\nargs = [\"serve\", \"--gate-url\", \"http://h:1\"]\n\n[mcp_servers.latchgate.env]\nLATCHGATE_AGENT_ID = \"codex\"\nRUST_LOG = \"warn\"\n";

    fn changed(src: &str) -> String {
        match upsert(src, &server()).unwrap() {
            Edit::Changed { text, .. } => text,
            Edit::Unchanged => panic!("expected a change"),
        }
    }

    #[test]
    fn empty_file_gets_the_tables() {
        assert_eq!(changed(""), TABLES);
        assert_eq!(snippet(&server()), TABLES);
    }

    #[test]
    fn append_keeps_everything_before() {
        let src = "model = \"o3\" # keep\n\n[mcp_servers.other]\ncommand = \"x\"";
        let out = changed(src);
        assert_eq!(out, format!("{src}\n\n{TABLES}"));
        assert_eq!(upsert(&out, &server()).unwrap(), Edit::Unchanged);
    }

    #[test]
    fn replace_in_place_keeps_neighbours() {
        let src = "a = 1\n\n[mcp_servers.latchgate]\ncommand = \"old\"\nargs = []\n# about b\n[mcp_servers.latchgate.env]\nX = \"1\"\n\n# before z\n[z]\nmulti = \"\"\"\n[mcp_servers.latchgate]\n\"\"\"\n";
        let out = changed(src);
        assert_eq!(
            out,
            format!(
                "a = 1\n\n{}# about b\n{}\n# before z\n[z]\nmulti = \"\"\"\n[mcp_servers.latchgate]\n\"\"\"\n",
                main_table(&server(), "\n"),
                env_table(&server(), "\n")
            )
        );
        assert_eq!(upsert(&out, &server()).unwrap(), Edit::Unchanged);
    }

    #[test]
    fn env_only_header_gets_the_main_table_before_it() {
        let src = "[mcp_servers.latchgate.env]\nOLD = \"1\"\n[other]\nk = 2\n";
        assert_eq!(changed(src), format!("{TABLES}[other]\nk = 2\n"));
    }

    #[test]
    fn headers_inside_arrays_and_strings_are_not_headers() {
        let src = "x = [\n  [1, 2],\n]\ns = '''\n[mcp_servers.latchgate]\n'''\n";
        let lines = scan(src).unwrap();
        assert!(lines.iter().all(|l| l.header.is_none()));
        let out = changed(src);
        assert!(out.starts_with(src));
    }

    #[test]
    fn inline_or_wrongly_typed_entries_are_refused() {
        let inline = "[mcp_servers]\nlatchgate = { command = \"old\" }\n";
        let err = upsert(inline, &server()).unwrap_err();
        assert!(err.contains("cannot rewrite safely"), "{err}");
        let err = upsert("mcp_servers = 1\n", &server()).unwrap_err();
        assert!(
            err.contains("`mcp_servers` should be a table but its type is integer"),
            "{err}"
        );
        let err = upsert("[mcp_servers]\nlatchgate = \"x\"\n", &server()).unwrap_err();
        assert!(
            err.contains("`mcp_servers.latchgate` should be a table but its type is string"),
            "{err}"
        );
        let err = upsert("[a\n", &server()).unwrap_err();
        assert!(err.contains("not valid TOML"), "{err}");
    }

    #[test]
    fn equivalent_inline_entry_counts_as_up_to_date() {
        let inline = "[mcp_servers]\nlatchgate = { command = \"/usr/bin/latchgate-mcp\", args = [\"serve\", \"--gate-url\", \"http://h:1\"], env = { LATCHGATE_AGENT_ID = \"codex\", RUST_LOG = \"warn\" } }\n";
        assert_eq!(upsert(inline, &server()).unwrap(), Edit::Unchanged);
    }

    #[test]
    fn crlf_and_quoting() {
        let mut s = server();
        s.command = "C:\\x \"y\"".into();
        let out = match upsert("a = 1\r\n", &s).unwrap() {
            Edit::Changed { text, .. } => text,
            Edit::Unchanged => panic!(),
        };
        assert!(out.contains("command = \"C:\\\\x \\\"y\\\"\"\r\n"), "{out}");
        assert!(!out.replace("\r\n", "").contains('\n'));
    }
}
