//! Editing a JSON config in place. The file is validated with the strict
//! parser, then only the `latchgate` entry's bytes are replaced (or a new
//! member is inserted); every other byte of the file, including key order,
//! number spelling, indentation and (for JSONC files) comments, stays as it
//! was. The result is parsed again and must equal the original document
//! with just that entry set, or nothing is written.

use super::{jsonc, Edit};
use crate::json::{self, Limits, Map, Value};

/// Deep enough for any real config; the scanner below is iterative.
const MAX_DEPTH: usize = 512;

/// A parsed config file and the text it came from.
pub struct Doc<'a> {
    original: &'a str,
    /// The text the scanner reads: the original, or for JSONC the original
    /// with comments and trailing commas blanked (same byte offsets).
    scan: String,
    jsonc: bool,
    /// True when the file held nothing but whitespace (and comments).
    blank: bool,
    /// The parsed top-level object.
    pub root: Value,
}

/// A member of an object in the scanned text.
struct Member {
    key: String,
    key_start: usize,
    value_start: usize,
    value_end: usize,
}

impl<'a> Doc<'a> {
    /// Parses `original`; an error says what is wrong and where.
    pub fn parse(original: &'a str, jsonc: bool) -> Result<Doc<'a>, String> {
        let scan = if jsonc {
            jsonc::blank(original)?
        } else {
            original.to_string()
        };
        if scan.trim().is_empty() {
            return Ok(Doc {
                original,
                scan,
                jsonc,
                blank: true,
                root: Value::Object(Map::new()),
            });
        }
        let root = json::parse_with(
            scan.as_bytes(),
            Limits {
                max_depth: MAX_DEPTH,
            },
        )
        .map_err(|e| {
            let (line, col) = line_col(original, e.offset);
            format!(
                "it is not valid JSON: {} at line {line}, column {col}",
                e.message
            )
        })?;
        if !matches!(root, Value::Object(_)) {
            return Err(format!(
                "its top level is a JSON {}, not an object",
                root.type_name()
            ));
        }
        Ok(Doc {
            original,
            scan,
            jsonc,
            blank: false,
            root,
        })
    }

    /// Sets `path...[name] = entry`, creating the objects on `path` that
    /// are missing. Anything on `path` that exists but is not an object is
    /// an error naming it.
    pub fn upsert(&self, path: &[&str], name: &str, entry: &Value) -> Result<Edit, String> {
        let mut cur = &self.root;
        let mut container = Some(cur);
        for (i, key) in path.iter().enumerate() {
            match cur.get(key) {
                None => {
                    container = None;
                    break;
                }
                Some(v @ Value::Object(_)) => {
                    cur = v;
                    container = Some(v);
                }
                Some(other) => {
                    return Err(format!(
                        "`{}` is a JSON {}, not an object of servers",
                        path[..=i].join("."),
                        other.type_name()
                    ))
                }
            }
        }
        let existing = container.and_then(|c| c.get(name));
        if existing == Some(entry) {
            return Ok(Edit::Unchanged);
        }
        let replaced = existing.is_some();
        let expected = with_entry(&self.root, path, name, entry);
        let text = if self.blank {
            self.fresh(&expected)
        } else {
            self.splice(path, name, entry)?
        };
        // Read it back: the edit must mean exactly "this entry set".
        let check = Doc::parse(&text, self.jsonc).map_err(|e| {
            format!(
                "internal error: the edited file would be unreadable ({e}); nothing was written"
            )
        })?;
        if check.root != expected {
            return Err("internal error: the edited file would not read back as intended; nothing was written".into());
        }
        Ok(Edit::Changed { text, replaced })
    }

    /// A whole new document (the file was missing or blank). Comments in
    /// an otherwise blank JSONC file are kept above it.
    fn fresh(&self, doc: &Value) -> String {
        let mut out = self.original.trim_end().to_string();
        if !out.is_empty() {
            out.push('\n');
        }
        pretty(doc, "", "  ", "\n", &mut out);
        out.push('\n');
        out
    }

    /// Replaces or inserts the entry in the original text.
    fn splice(&self, path: &[&str], name: &str, entry: &Value) -> Result<String, String> {
        let b = self.scan.as_bytes();
        let nl = if self.original.contains("\r\n") {
            "\r\n"
        } else {
            "\n"
        };
        let mut open = skip_ws(b, 0);
        let unit = self.indent_unit(open)?;
        for (i, key) in path.iter().enumerate() {
            let (members, close) = self.members(open)?;
            match members.iter().find(|m| m.key == *key) {
                Some(m) => open = m.value_start,
                None => {
                    let value = nested(&path[i + 1..], name, entry);
                    return self.insert(open, close, &members, key, &value, &unit, nl);
                }
            }
        }
        let (members, close) = self.members(open)?;
        match members.iter().find(|m| m.key == name) {
            Some(m) => {
                let multiline = self.is_multiline(open, &members);
                let indent = line_indent(self.original, m.key_start);
                let mut text = String::new();
                render(entry, &indent, &unit, nl, multiline, &mut text);
                replace(self.original, m.value_start, m.value_end, &text)
            }
            None => self.insert(open, close, &members, name, entry, &unit, nl),
        }
    }

    /// Inserts `"key": value` as the last member of the object at `open`.
    #[allow(clippy::too_many_arguments)]
    fn insert(
        &self,
        open: usize,
        close: usize,
        members: &[Member],
        key: &str,
        value: &Value,
        unit: &str,
        nl: &str,
    ) -> Result<String, String> {
        let key_json = Value::from(key).to_json();
        let Some(last) = members.last() else {
            // Empty object: open it up onto its own lines.
            let outer = line_indent(self.original, open);
            let inner = format!("{outer}{unit}");
            let mut text = format!("{nl}{inner}{key_json}: ");
            render(value, &inner, unit, nl, true, &mut text);
            let inside = self.original.get(open + 1..close).unwrap_or("");
            if inside.trim().is_empty() {
                text.push_str(nl);
                text.push_str(&outer);
                return replace(self.original, open + 1, close, &text);
            }
            // Keep comments that sat inside the empty object after it.
            return replace(self.original, open + 1, open + 1, &text);
        };
        let mut text = String::from(",");
        if self.is_multiline(open, members) {
            // Line up with the members already there.
            let first = members.first().map_or(last.key_start, |m| m.key_start);
            let indent = line_indent(self.original, first);
            text.push_str(nl);
            text.push_str(&indent);
            text.push_str(&key_json);
            text.push_str(": ");
            render(value, &indent, unit, nl, true, &mut text);
        } else {
            text.push(' ');
            text.push_str(&key_json);
            text.push_str(": ");
            text.push_str(&value.to_json());
        }
        replace(self.original, last.value_end, last.value_end, &text)
    }

    /// True when the object's first member starts on a new line.
    fn is_multiline(&self, open: usize, members: &[Member]) -> bool {
        match members.first() {
            Some(m) => self
                .scan
                .get(open..m.key_start)
                .is_some_and(|s| s.contains('\n')),
            None => true,
        }
    }

    /// The file's indentation step, from the top-level object's first
    /// member (two spaces when that tells nothing).
    fn indent_unit(&self, root_open: usize) -> Result<String, String> {
        let (members, _) = self.members(root_open)?;
        if let Some(m) = members.first() {
            if self.is_multiline(root_open, &members) {
                let outer = line_indent(self.original, root_open);
                let inner = line_indent(self.original, m.key_start);
                if let Some(step) = inner.strip_prefix(outer.as_str()) {
                    if !step.is_empty() {
                        return Ok(step.to_string());
                    }
                }
            }
        }
        Ok("  ".into())
    }

    /// The members of the object whose `{` is at `open`, and its `}`.
    fn members(&self, open: usize) -> Result<(Vec<Member>, usize), String> {
        let b = self.scan.as_bytes();
        if b.get(open) != Some(&b'{') {
            return Err(internal());
        }
        let mut out = Vec::new();
        let mut i = open + 1;
        loop {
            i = skip_ws(b, i);
            match b.get(i) {
                Some(b'}') => return Ok((out, i)),
                Some(b'"') => {}
                _ => return Err(internal()),
            }
            let key_start = i;
            let key_end = string_end(b, i)?;
            let key = match b.get(key_start..key_end).map(json::parse) {
                Some(Ok(Value::String(s))) => s,
                _ => return Err(internal()),
            };
            i = skip_ws(b, key_end);
            if b.get(i) != Some(&b':') {
                return Err(internal());
            }
            let value_start = skip_ws(b, i + 1);
            let value_end = value_end(b, value_start)?;
            out.push(Member {
                key,
                key_start,
                value_start,
                value_end,
            });
            i = skip_ws(b, value_end);
            match b.get(i) {
                Some(b',') => i += 1,
                Some(b'}') => {}
                _ => return Err(internal()),
            }
        }
    }
}

/// The entry inside its containers, as `--dry-run` prints it.
pub fn snippet(path: &[&str], name: &str, entry: &Value) -> String {
    let mut out = String::new();
    pretty(&nested(path, name, entry), "", "  ", "\n", &mut out);
    out.push('\n');
    out
}

/// `root` with `path...[name] = entry` (missing objects created at the end).
fn with_entry(root: &Value, path: &[&str], name: &str, entry: &Value) -> Value {
    let mut root = root.clone();
    set(&mut root, path, name, entry);
    root
}

fn set(v: &mut Value, path: &[&str], name: &str, entry: &Value) {
    let Value::Object(m) = v else { return };
    match path.split_first() {
        None => m.insert(name, entry.clone()),
        Some((key, rest)) => {
            if m.get(key).is_none() {
                m.insert(*key, Map::new());
            }
            if let Some(child) = m.get_mut(key) {
                set(child, rest, name, entry);
            }
        }
    }
}

/// `{path[0]: {path[1]: ... {name: entry}}}` for a missing part of the path.
fn nested(path: &[&str], name: &str, entry: &Value) -> Value {
    let mut v = Value::Object(Map::new());
    set(&mut v, path, name, entry);
    v
}

/// Writes `v` indented as the line it starts on (`indent`), one member per
/// line with `unit` per level, or compact when `multiline` is false.
fn render(v: &Value, indent: &str, unit: &str, nl: &str, multiline: bool, out: &mut String) {
    if multiline {
        pretty(v, indent, unit, nl, out);
    } else {
        out.push_str(&v.to_json());
    }
}

fn pretty(v: &Value, indent: &str, unit: &str, nl: &str, out: &mut String) {
    let inner = format!("{indent}{unit}");
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(nl);
                out.push_str(&inner);
                out.push_str(&Value::from(k.as_str()).to_json());
                out.push_str(": ");
                pretty(x, &inner, unit, nl, out);
            }
            out.push_str(nl);
            out.push_str(indent);
            out.push('}');
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(nl);
                out.push_str(&inner);
                pretty(x, &inner, unit, nl, out);
            }
            out.push_str(nl);
            out.push_str(indent);
            out.push(']');
        }
        other => out.push_str(&other.to_json()),
    }
}

/// `text` with `[start, end)` replaced by `with`.
fn replace(text: &str, start: usize, end: usize, with: &str) -> Result<String, String> {
    let (Some(head), Some(tail)) = (text.get(..start), text.get(end..)) else {
        return Err(internal());
    };
    Ok(format!("{head}{with}{tail}"))
}

/// The spaces and tabs that start the line holding `pos`.
fn line_indent(text: &str, pos: usize) -> String {
    let head = text.get(..pos).unwrap_or("");
    let start = head.rfind('\n').map_or(0, |n| n + 1);
    text.get(start..)
        .unwrap_or("")
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect()
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// Index just past the string starting at `i` (its opening quote).
fn string_end(b: &[u8], i: usize) -> Result<usize, String> {
    let mut j = i + 1;
    loop {
        match b.get(j) {
            None => return Err(internal()),
            Some(b'\\') => j += 2,
            Some(b'"') => return Ok(j + 1),
            Some(_) => j += 1,
        }
    }
}

/// Index just past the (already validated) value starting at `i`.
fn value_end(b: &[u8], i: usize) -> Result<usize, String> {
    match b.get(i) {
        None => Err(internal()),
        Some(b'"') => string_end(b, i),
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match b.get(j) {
                    None => return Err(internal()),
                    Some(b'"') => {
                        j = string_end(b, j)?;
                        continue;
                    }
                    Some(b'{' | b'[') => depth += 1,
                    Some(b'}' | b']') => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            return Ok(j + 1);
                        }
                    }
                    Some(_) => {}
                }
                j += 1;
            }
        }
        Some(_) => {
            let mut j = i;
            while let Some(c) = b.get(j) {
                if matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                    break;
                }
                j += 1;
            }
            if j == i {
                return Err(internal());
            }
            Ok(j)
        }
    }
}

fn internal() -> String {
    "internal error while editing the file; nothing was written".into()
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let head = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = 1 + head.matches('\n').count();
    let col = 1 + head.rsplit('\n').next().map_or(0, |l| l.chars().count());
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::obj;

    fn entry() -> Value {
        obj! { "command" => "/b", "args" => vec![Value::from("serve")] }
    }

    fn upsert(text: &str, path: &[&str], jsonc: bool) -> Result<Edit, String> {
        Doc::parse(text, jsonc)?.upsert(path, "latchgate", &entry())
    }

    fn changed(text: &str, path: &[&str]) -> String {
        match upsert(text, path, false).unwrap() {
            Edit::Changed { text, .. } => text,
            Edit::Unchanged => panic!("expected a change"),
        }
    }

    #[test]
    fn empty_and_blank_files_get_a_fresh_document() {
        let expected = "{\n  \"mcpServers\": {\n    \"latchgate\": {\n      \"command\": \"/b\",\n      \"args\": [\n        \"serve\"\n      ]\n    }\n  }\n}\n";
        assert_eq!(changed("", &["mcpServers"]), expected);
        assert_eq!(changed(" \n", &["mcpServers"]), expected);
    }

    #[test]
    fn other_bytes_are_kept_when_inserting() {
        let src = "{\n    \"b\": 1.50,\n    \"big\": 123456789012345678901234567890,\n    \"mcpServers\": {\n        \"other\": {\"command\": \"x\"}\n    }\n}\n";
        let out = changed(src, &["mcpServers"]);
        let want = "{\n    \"b\": 1.50,\n    \"big\": 123456789012345678901234567890,\n    \"mcpServers\": {\n        \"other\": {\"command\": \"x\"},\n        \"latchgate\": {\n            \"command\": \"/b\",\n            \"args\": [\n                \"serve\"\n            ]\n        }\n    }\n}\n";
        assert_eq!(out, want);
    }

    #[test]
    fn missing_container_is_added_at_the_end() {
        let out = changed("{\"a\": [1, 2]}", &["mcpServers"]);
        assert_eq!(
            out,
            "{\"a\": [1, 2], \"mcpServers\": {\"latchgate\":{\"command\":\"/b\",\"args\":[\"serve\"]}}}"
        );
        let out = changed("{}\n", &["mcp", "servers"]);
        assert!(
            out.starts_with("{\n  \"mcp\": {\n    \"servers\": {\n      \"latchgate\""),
            "{out}"
        );
    }

    #[test]
    fn existing_entry_is_replaced_in_place() {
        let src = "{\n  \"mcpServers\": {\n    \"latchgate\": {\"command\": \"old\"},\n    \"z\": {}\n  },\n  \"after\": true\n}";
        match upsert(src, &["mcpServers"], false).unwrap() {
            Edit::Changed { text, replaced } => {
                assert!(replaced);
                assert!(text.starts_with(
                    "{\n  \"mcpServers\": {\n    \"latchgate\": {\n      \"command\": \"/b\""
                ));
                assert!(
                    text.ends_with("    },\n    \"z\": {}\n  },\n  \"after\": true\n}"),
                    "{text}"
                );
            }
            Edit::Unchanged => panic!(),
        }
    }

    #[test]
    fn identical_entry_is_unchanged() {
        let once = changed("{\"x\": 1}", &["mcpServers"]);
        assert_eq!(
            upsert(&once, &["mcpServers"], false).unwrap(),
            Edit::Unchanged
        );
    }

    #[test]
    fn empty_container_opens_onto_lines() {
        let out = changed("{\n  \"mcpServers\": {}\n}", &["mcpServers"]);
        assert_eq!(
            out,
            "{\n  \"mcpServers\": {\n    \"latchgate\": {\n      \"command\": \"/b\",\n      \"args\": [\n        \"serve\"\n      ]\n    }\n  }\n}"
        );
    }

    #[test]
    fn crlf_files_stay_crlf() {
        let out = changed("{\r\n  \"a\": 1\r\n}\r\n", &["mcpServers"]);
        assert!(!out.replace("\r\n", "").contains('\n'), "{out:?}");
    }

    #[test]
    fn jsonc_comments_and_trailing_commas_survive() {
        let src = "{\n  // servers\n  \"servers\": {\n    \"a\": {\"type\": \"stdio\"}, // keep\n  },\n}\n";
        let Edit::Changed { text, .. } = upsert(src, &["servers"], true).unwrap() else {
            panic!()
        };
        assert!(
            text.contains("// servers") && text.contains("// keep"),
            "{text}"
        );
        assert!(
            upsert(src, &["servers"], false).is_err(),
            "strict mode refuses comments"
        );
    }

    #[test]
    fn wrong_types_are_refused_with_the_key() {
        let err = upsert("[1]", &["mcpServers"], false).err().unwrap();
        assert!(err.contains("top level is a JSON array"), "{err}");
        let err = upsert("{\"mcpServers\": []}", &["mcpServers"], false)
            .err()
            .unwrap();
        assert!(err.contains("`mcpServers` is a JSON array"), "{err}");
        let err = upsert("{\"mcp\": {\"servers\": 3}}", &["mcp", "servers"], false)
            .err()
            .unwrap();
        assert!(err.contains("`mcp.servers` is a JSON integer"), "{err}");
        let err = upsert("{\"a\": }", &["mcpServers"], false).err().unwrap();
        assert!(
            err.contains("not valid JSON") && err.contains("line 1, column 7"),
            "{err}"
        );
        assert!(upsert("{\"a\":1,\"a\":2}", &["mcpServers"], false).is_err());
    }

    #[test]
    fn escaped_keys_are_matched_by_their_value() {
        let src = "{\"mcpServers\": {\"latch\\u0067ate\": {\"command\": \"old\"}}}";
        let Edit::Changed { text, replaced } = upsert(src, &["mcpServers"], false).unwrap() else {
            panic!()
        };
        assert!(replaced);
        assert_eq!(text.matches("latch").count(), 1, "{text}");
    }
}
