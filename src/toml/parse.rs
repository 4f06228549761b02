//! The TOML parser: statements (headers and key/value lines), keys, and
//! the compound values (arrays, inline tables). Scalars are in `scalar`,
//! table rules in `tree`.
use super::cursor::Cursor;
use super::scalar;
use super::tree::{key_name, Node};
use super::{Item, TValue, Table, TomlError};

/// Deepest nesting accepted: table path segments plus arrays and inline
/// tables. Keeps the recursive parser and converters within the stack.
pub const MAX_DEPTH: usize = 128;

/// Parses a whole TOML document into its root table.
pub fn parse(src: &str) -> Result<Table, TomlError> {
    let mut cur = Cursor::new(src);
    let mut root = Node::root();
    // The table that key/value lines go into (the last header).
    let mut current: Vec<String> = Vec::new();
    loop {
        cur.skip_blank()?;
        match cur.peek() {
            None => break,
            Some(b'[') => {
                current = header(&mut cur, &mut root)?;
                cur.end_of_line("the table header")?;
            }
            Some(_) => {
                key_value_line(&mut cur, &mut root, &current)?;
                cur.end_of_line("the value")?;
            }
        }
    }
    Ok(root.into_table())
}

/// `[a.b]` or `[[a.b]]`; returns the path.
fn header(cur: &mut Cursor, root: &mut Node) -> Result<Vec<String>, TomlError> {
    let at = cur.mark();
    let line = cur.line();
    let is_array = cur.starts_with(b"[[");
    cur.bump_n(if is_array { 2 } else { 1 });
    let path = key_path(cur)?;
    if path.len() > MAX_DEPTH {
        return Err(cur.err_at(at, too_deep()));
    }
    if is_array {
        if !cur.starts_with(b"]]") {
            return Err(cur.err(format!(
                "expected `]]` to close the array-of-tables header, {}",
                cur.found()
            )));
        }
        cur.bump_n(2);
        root.append_table(&path, line)
    } else {
        cur.expect(b']', "`]` to close the table header")?;
        root.define_table(&path, line)
    }
    .map_err(|message| cur.err_at(at, message))?;
    Ok(path)
}

/// `key = value` in the table at `current`.
fn key_value_line(cur: &mut Cursor, root: &mut Node, current: &[String]) -> Result<(), TomlError> {
    let at = cur.mark();
    let line = cur.line();
    let key = key_path(cur)?;
    let mut full = current.to_vec();
    full.extend(key.iter().cloned());
    cur.expect(b'=', &format!("`=` after key `{}`", key_name(&key)))?;
    cur.skip_ws();
    let value = value(cur, full.len()).map_err(|mut e| {
        e.message = format!("{} (in the value of `{}`)", e.message, key_name(&full));
        e
    })?;
    let table = root.table_at(current).map_err(|m| cur.err_at(at, m))?;
    table
        .insert(current, &key, value, line)
        .map_err(|m| cur.err_at(at, m))
}

/// A possibly dotted key, with whitespace allowed around the dots. Leaves
/// the cursor after trailing whitespace.
fn key_path(cur: &mut Cursor) -> Result<Vec<String>, TomlError> {
    let mut parts = Vec::new();
    loop {
        cur.skip_ws();
        if parts.len() >= MAX_DEPTH {
            return Err(cur.err(too_deep()));
        }
        parts.push(simple_key(cur)?);
        cur.skip_ws();
        if cur.peek() != Some(b'.') {
            return Ok(parts);
        }
        cur.bump();
    }
}

/// A bare key `[A-Za-z0-9_-]+` or a one-line quoted key.
fn simple_key(cur: &mut Cursor) -> Result<String, TomlError> {
    match cur.peek() {
        Some(b'"' | b'\'') if cur.starts_with(b"\"\"\"") || cur.starts_with(b"'''") => {
            Err(cur.err("multi-line strings cannot be used as keys"))
        }
        Some(b'"') => scalar::basic_string(cur),
        Some(b'\'') => scalar::literal_string(cur),
        Some(b) if is_bare_key_byte(b) => Ok(cur.take_while(is_bare_key_byte).to_string()),
        _ => Err(cur.err(format!("expected a key, {}", cur.found()))),
    }
}

fn is_bare_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// Any value; `depth` is how deep the key holding it sits.
fn value(cur: &mut Cursor, depth: usize) -> Result<TValue, TomlError> {
    if depth > MAX_DEPTH {
        return Err(cur.err(too_deep()));
    }
    match cur.peek() {
        Some(b'"') if cur.starts_with(b"\"\"\"") => {
            scalar::multiline_basic_string(cur).map(TValue::String)
        }
        Some(b'"') => scalar::basic_string(cur).map(TValue::String),
        Some(b'\'') if cur.starts_with(b"'''") => {
            scalar::multiline_literal_string(cur).map(TValue::String)
        }
        Some(b'\'') => scalar::literal_string(cur).map(TValue::String),
        Some(b'[') => array(cur, depth + 1),
        Some(b'{') => inline_table(cur, depth + 1),
        Some(b) if b.is_ascii_alphanumeric() || b == b'+' || b == b'-' => scalar::bare_value(cur),
        _ => Err(cur.err(format!("expected a value, {}", cur.found()))),
    }
}

/// `[ v, v, ]`: may span lines and hold comments; a trailing comma is fine.
fn array(cur: &mut Cursor, depth: usize) -> Result<TValue, TomlError> {
    let open = cur.mark();
    cur.bump();
    let mut items = Vec::new();
    loop {
        cur.skip_blank()?;
        match cur.peek() {
            Some(b']') => {
                cur.bump();
                return Ok(TValue::Array(items));
            }
            None => return Err(cur.err_at(open, "unterminated array")),
            _ => {}
        }
        let line = cur.line();
        let value = value(cur, depth)?;
        items.push(Item { value, line });
        cur.skip_blank()?;
        match cur.peek() {
            Some(b',') => cur.bump(),
            Some(b']') => {
                cur.bump();
                return Ok(TValue::Array(items));
            }
            None => return Err(cur.err_at(open, "unterminated array")),
            _ => return Err(cur.err(format!("expected `,` or `]` in the array, {}", cur.found()))),
        }
    }
}

/// `{ k = v, a.b = v }` on one line, no trailing comma.
fn inline_table(cur: &mut Cursor, depth: usize) -> Result<TValue, TomlError> {
    let open = cur.mark();
    cur.bump();
    let mut node = Node::root();
    cur.skip_ws();
    if cur.peek() == Some(b'}') {
        cur.bump();
        return Ok(TValue::Table(Table::default()));
    }
    loop {
        cur.skip_ws();
        if cur.peek() == Some(b'}') {
            return Err(cur.err("trailing comma is not allowed in an inline table"));
        }
        let at = cur.mark();
        let line = cur.line();
        let key = key_path(cur)?;
        cur.expect(b'=', &format!("`=` after key `{}`", key_name(&key)))?;
        cur.skip_ws();
        let value = value(cur, depth + key.len())?;
        node.insert(&[], &key, value, line)
            .map_err(|m| cur.err_at(at, m))?;
        cur.skip_ws();
        match cur.peek() {
            Some(b',') => cur.bump(),
            Some(b'}') => {
                cur.bump();
                return Ok(TValue::Table(node.into_table()));
            }
            None => return Err(cur.err_at(open, "unterminated inline table")),
            Some(b'\n' | b'\r') => {
                return Err(cur.err("an inline table must close on the same line (missing `}`?)"))
            }
            _ => {
                return Err(cur.err(format!(
                    "expected `,` or `}}` in the inline table, {}",
                    cur.found()
                )))
            }
        }
    }
}

fn too_deep() -> String {
    format!("nesting deeper than {MAX_DEPTH} levels")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(src: &str) -> Table {
        match parse(src) {
            Ok(t) => t,
            Err(e) => panic!("should parse: {e}\n{src}"),
        }
    }

    fn bad(src: &str) -> TomlError {
        match parse(src) {
            Ok(t) => panic!("should fail: {src}\ngot {t:?}"),
            Err(e) => e,
        }
    }

    /// The value at a dotted path of plain keys (arrays: last element).
    fn at<'t>(t: &'t Table, path: &str) -> &'t Item {
        let mut table = t;
        let mut parts = path.split('.').peekable();
        loop {
            let key = parts.next().unwrap_or_default();
            let item = table
                .get(key)
                .unwrap_or_else(|| panic!("no `{key}` in {path}"));
            if parts.peek().is_none() {
                return item;
            }
            table = match &item.value {
                TValue::Table(inner) => inner,
                TValue::Array(items) => match items.last().map(|i| &i.value) {
                    Some(TValue::Table(inner)) => inner,
                    _ => panic!("`{key}` holds no tables"),
                },
                other => panic!("`{key}` is a {}", other.type_name()),
            };
        }
    }

    fn val<'t>(t: &'t Table, path: &str) -> &'t TValue {
        &at(t, path).value
    }

    fn s(x: &str) -> TValue {
        TValue::String(x.to_string())
    }

    #[test]
    fn comments_and_blank_lines() {
        let t = ok("# top\n\n  a = 1 # trailing\n\t# indented\r\nb = 2\n# end");
        assert_eq!(val(&t, "a"), &TValue::Integer(1));
        assert_eq!(at(&t, "b").line, 5);
        assert_eq!(ok("").0.len(), 0);
        assert_eq!(ok("\u{feff}a = 1").0.len(), 1);
    }

    #[test]
    fn keys() {
        let t = ok(r#"
bare_key-1 = 1
"quoted key" = 2
'literal "key"' = 3
"" = 4
a . b."c.d" = 5
1234 = 6
3.14 = 7
"é\u00e9" = 8
"#);
        assert_eq!(val(&t, "bare_key-1"), &TValue::Integer(1));
        assert_eq!(val(&t, "quoted key"), &TValue::Integer(2));
        assert_eq!(val(&t, "literal \"key\""), &TValue::Integer(3));
        assert_eq!(val(&t, ""), &TValue::Integer(4));
        let TValue::Table(b) = val(&t, "a.b") else {
            panic!("a.b is a table")
        };
        assert_eq!(b.get("c.d").map(|i| &i.value), Some(&TValue::Integer(5)));
        assert_eq!(val(&t, "1234"), &TValue::Integer(6));
        assert_eq!(val(&t, "3.14"), &TValue::Integer(7));
        assert_eq!(val(&t, "éé"), &TValue::Integer(8));
        // File order is kept.
        let keys: Vec<&String> = t.0.iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                "bare_key-1",
                "quoted key",
                "literal \"key\"",
                "",
                "a",
                "1234",
                "3",
                "éé"
            ]
        );
    }

    #[test]
    fn tables_and_lines() {
        let src = "title = 't'\n\n[server]\nport = 8080\n\n[server.tls]\ncert = 'c'\n\n[a.\"b.c\"]\nx = true\n";
        let t = ok(src);
        assert_eq!(at(&t, "title").line, 1);
        assert_eq!(at(&t, "server").line, 3);
        assert_eq!(at(&t, "server.port").line, 4);
        assert_eq!(val(&t, "server.port"), &TValue::Integer(8080));
        assert_eq!(at(&t, "server.tls").line, 6);
        assert_eq!(val(&t, "server.tls.cert"), &s("c"));
        let TValue::Table(a) = val(&t, "a") else {
            panic!("a is a table")
        };
        let Some(TValue::Table(bc)) = a.get("b.c").map(|i| &i.value) else {
            panic!("b.c is a table")
        };
        assert_eq!(bc.get("x").map(|i| &i.value), Some(&TValue::Boolean(true)));
        // A parent named by a header may be defined later, once.
        let t = ok("[x.y]\nz = 1\n[x]\nw = 2\n");
        assert_eq!(val(&t, "x.w"), &TValue::Integer(2));
        assert_eq!(at(&t, "x").line, 3);
        // Sub-tables under a dotted-key table are fine.
        let t = ok("[fruit]\napple.color = 'red'\napple.taste.sweet = true\n[fruit.apple.texture]\nsmooth = true\n");
        assert_eq!(
            val(&t, "fruit.apple.texture.smooth"),
            &TValue::Boolean(true)
        );
        assert_eq!(val(&t, "fruit.apple.taste.sweet"), &TValue::Boolean(true));
    }

    #[test]
    fn arrays_of_tables() {
        let src = "[[fruit]]\nname = 'apple'\n[fruit.physical]\ncolor = 'red'\n[[fruit.variety]]\nname = 'red delicious'\n[[fruit.variety]]\nname = 'granny smith'\n\n[[fruit]]\nname = 'banana'\n[[fruit.variety]]\nname = 'plantain'\n";
        let t = ok(src);
        let TValue::Array(fruit) = val(&t, "fruit") else {
            panic!("fruit is an array")
        };
        assert_eq!(fruit.len(), 2);
        assert_eq!((fruit[0].line, fruit[1].line), (1, 10));
        let TValue::Table(apple) = &fruit[0].value else {
            panic!("element is a table")
        };
        assert_eq!(apple.get("name").map(|i| &i.value), Some(&s("apple")));
        let Some(TValue::Array(varieties)) = apple.get("variety").map(|i| &i.value) else {
            panic!("variety is an array")
        };
        assert_eq!(varieties.len(), 2);
        assert_eq!(val(&t, "fruit.name"), &s("banana"));
        assert_eq!(val(&t, "fruit.variety.name"), &s("plantain"));
    }

    #[test]
    fn strings() {
        let t = ok(r#"
basic = "tab\there \"q\" \\ \b\f\n\r \u00e9 \U0001F600"
literal = 'C:\path\no "escapes"'
ml = """
line one
  line two"""
ml_trim = """\
    The quick \
    brown \

    fox."""
ml_quotes = """a "quoted" ""word"" at end"" """
ml_end = """x"""""
ml_lit = '''
first
\n stays ''two'' '''
ml_lit_end = '''y'''''
crlf = """a
b"""
"#);
        assert_eq!(
            val(&t, "basic"),
            &s("tab\there \"q\" \\ \u{8}\u{c}\n\r é 😀")
        );
        assert_eq!(val(&t, "literal"), &s("C:\\path\\no \"escapes\""));
        assert_eq!(val(&t, "ml"), &s("line one\n  line two"));
        assert_eq!(val(&t, "ml_trim"), &s("The quick brown fox."));
        assert_eq!(
            val(&t, "ml_quotes"),
            &s("a \"quoted\" \"\"word\"\" at end\"\" ")
        );
        assert_eq!(val(&t, "ml_end"), &s("x\"\""));
        assert_eq!(val(&t, "ml_lit"), &s("first\n\\n stays ''two'' "));
        assert_eq!(val(&t, "ml_lit_end"), &s("y''"));
        assert_eq!(val(&ok("a = \"\"\"x\r\ny\"\"\""), "a"), &s("x\ny"));
        assert_eq!(val(&ok("a = \"\""), "a"), &s(""));
        assert_eq!(val(&ok("a = 'tab\there'"), "a"), &s("tab\there"));
    }

    #[test]
    fn integers() {
        let t = ok("a = 42\nb = +17\nc = -5\nd = 0\ne = 1_000_000\nf = 0xDEAD_beef\ng = 0o755\nh = 0b1101\ni = -0\nj = 9223372036854775807\nk = -9223372036854775808\n");
        let want = [
            ("a", 42),
            ("b", 17),
            ("c", -5),
            ("d", 0),
            ("e", 1_000_000),
            ("f", 0xDEAD_BEEF),
            ("g", 0o755),
            ("h", 0b1101),
            ("i", 0),
            ("j", i64::MAX),
            ("k", i64::MIN),
        ];
        for (key, n) in want {
            assert_eq!(val(&t, key), &TValue::Integer(n), "{key}");
        }
    }

    #[test]
    fn floats_bools_dates() {
        let t = ok("a = 3.25\nb = -0.01\nc = 5e+22\nd = 1e06\ne = -2E-2\nf = 6.626e-34\ng = 224_617.445_991\nh = true\ni = false\nj = 0.0\n");
        let want = [
            ("a", 3.25),
            ("b", -0.01),
            ("c", 5e22),
            ("d", 1e6),
            ("e", -0.02),
            ("f", 6.626e-34),
            ("g", 224_617.445_991),
            ("j", 0.0),
        ];
        for (key, f) in want {
            assert_eq!(val(&t, key), &TValue::Float(f), "{key}");
        }
        assert_eq!(val(&t, "h"), &TValue::Boolean(true));
        assert_eq!(val(&t, "i"), &TValue::Boolean(false));
        for d in [
            "1979-05-27T07:32:00Z",
            "1979-05-27T00:32:00.999999-07:00",
            "1979-05-27 07:32:00Z",
            "1979-05-27t07:32:00z",
            "1979-05-27T07:32:00",
            "1979-05-27",
            "07:32:00",
            "00:32:00.5",
            "2024-02-29",
            "1990-12-31T23:59:60Z",
        ] {
            let t = ok(&format!("d = {d} # comment"));
            assert_eq!(val(&t, "d"), &TValue::Datetime(d.to_string()), "{d}");
        }
    }

    #[test]
    fn arrays_and_inline_tables() {
        let src = "a = [ 1, 2, 3 ]\nb = [\n  'x', # first\n  # between\n  \"y\",\n]\nc = []\nd = [[1, 2], ['m', 1.5], {k = 1}]\np = { x = 1, y.z = 'deep', q = { r = [] } }\ne = {}\n";
        let t = ok(src);
        let TValue::Array(a) = val(&t, "a") else {
            panic!("array")
        };
        assert_eq!(
            a.iter().map(|i| i.value.clone()).collect::<Vec<_>>(),
            [1, 2, 3].map(TValue::Integer)
        );
        let TValue::Array(b) = val(&t, "b") else {
            panic!("array")
        };
        assert_eq!(
            b.iter()
                .map(|i| (i.line, i.value.clone()))
                .collect::<Vec<_>>(),
            [(3, s("x")), (5, s("y"))]
        );
        assert_eq!(val(&t, "c"), &TValue::Array(vec![]));
        let TValue::Array(d) = val(&t, "d") else {
            panic!("array")
        };
        assert_eq!(d.len(), 3);
        assert_eq!(val(&t, "p.x"), &TValue::Integer(1));
        assert_eq!(val(&t, "p.y.z"), &s("deep"));
        assert_eq!(val(&t, "p.q.r"), &TValue::Array(vec![]));
        assert_eq!(val(&t, "e"), &TValue::Table(Table::default()));
        assert_eq!(at(&t, "p.y.z").line, 9);
    }

    fn bad_at(src: &str, line: u32, col: u32, needle: &str) {
        let e = bad(src);
        assert!(
            e.message.contains(needle),
            "{src:?}: message {:?} lacks {needle:?}",
            e.message
        );
        assert_eq!((e.line, e.col), (line, col), "{src:?}: {e}");
    }

    #[test]
    fn duplicate_and_redefinition_errors() {
        bad_at("a = 1\na = 2", 2, 1, "duplicate key `a`");
        bad_at("[t]\nx = 1\n  x = 2", 3, 3, "duplicate key `t.x`");
        bad_at("a.b = 1\na.b = 2", 2, 1, "duplicate key `a.b`");
        bad_at(
            "a = 1\na.b = 2",
            2,
            1,
            "key `a` is already an integer, not a table",
        );
        bad_at("[a]\n[a]", 2, 1, "table `a` is defined more than once");
        bad_at("[a]\nb = 1\n[a.b]", 3, 1, "key `a.b` is already an integer");
        bad_at(
            "[a.b]\n[a]\n[a]",
            3,
            1,
            "table `a` is defined more than once",
        );
        bad_at(
            "[fruit]\napple.color = 'red'\n[fruit.apple]",
            3,
            1,
            "already defined with dotted keys",
        );
        bad_at(
            "[a.b.c]\nz = 9\n[a]\nb.c.t = 1",
            4,
            1,
            "created by a [table] header",
        );
        bad_at(
            "a = {}\n[a.b]",
            2,
            1,
            "inline table, which cannot be extended",
        );
        bad_at("a = { b = 1 }\na.c = 2", 2, 1, "inline table");
        bad_at("a = [1]\n[[a]]", 2, 1, "array value");
        bad_at("[a]\n[[a]]", 2, 1, "already a table");
        bad_at("[[a]]\n[a]", 2, 1, "array of tables; use [[a]]");
        bad_at("[[a.b]]\n[a]\nb.y = 2", 3, 1, "array of tables");
        bad_at("p = { x = 1, x = 2 }", 1, 14, "duplicate key `x`");
        bad_at(
            "[\"a b\"]\n['a b']",
            2,
            1,
            "table `\"a b\"` is defined more than once",
        );
    }

    #[test]
    fn string_errors() {
        bad_at("a = \"abc", 1, 5, "unterminated string");
        bad_at("a = \"abc\nd\"", 1, 5, "unterminated string");
        bad_at("a = 'abc", 1, 5, "unterminated string");
        bad_at("a = \"\"\"abc\n", 1, 5, "unterminated string");
        bad_at("a = '''abc", 1, 5, "unterminated string");
        bad_at("a = \"x\\qy\"", 1, 7, "invalid escape sequence `\\q`");
        bad_at("a = \"\\u12\"", 1, 6, "exactly 4 hex digits");
        bad_at("a = \"\\uD800\"", 1, 6, "not a Unicode scalar value");
        bad_at("a = \"\\U00110000\"", 1, 6, "not a Unicode scalar value");
        bad_at(
            "a = \"\"\"x\\ y\"\"\"",
            1,
            9,
            "invalid escape sequence `\\ `",
        );
        bad_at("a = \"x\u{1}\"", 1, 7, "control character U+0001");
        bad_at("a = 'x\u{7f}'", 1, 7, "control character U+007F");
        bad_at("a = \"\"\"x\"\"\"\"\"\"", 1, 14, "too many quotes");
        bad_at(
            "\"\"\"k\"\"\" = 1",
            1,
            1,
            "multi-line strings cannot be used as keys",
        );
        bad_at("a = \"\"\"x\ry\"\"\"", 1, 9, "carriage return");
        bad_at("# bad \u{0} comment", 1, 7, "in a comment");
    }

    #[test]
    fn value_errors() {
        bad_at("a = ", 1, 5, "expected a value, found end of file");
        bad_at("a = # c", 1, 5, "expected a value, found `#`");
        bad_at(
            "key = hello",
            1,
            7,
            "invalid value `hello` (strings must be quoted) (in the value of `key`)",
        );
        bad_at(
            "[s]\nn = 012",
            2,
            5,
            "leading zeros are not allowed (in the value of `s.n`)",
        );
        bad_at("a = 1__0", 1, 5, "invalid number `1__0`");
        bad_at("a = _1", 1, 5, "expected a value");
        bad_at("a = 1_", 1, 5, "invalid number");
        bad_at("a = +0x10", 1, 5, "cannot have a sign");
        bad_at("a = 0xG", 1, 5, "invalid number");
        bad_at("a = 9223372036854775808", 1, 5, "out of range");
        bad_at("a = 0x8000000000000000", 1, 5, "out of range");
        bad_at("a = 1.", 1, 5, "invalid float");
        bad_at("a = .5", 1, 5, "expected a value");
        bad_at("a = 1.e5", 1, 5, "invalid float");
        bad_at("a = 1e", 1, 5, "invalid float");
        bad_at("a = 01.5", 1, 5, "leading zeros");
        bad_at("a = 1e999", 1, 5, "out of range");
        bad_at("a = inf", 1, 5, "infinity and NaN");
        bad_at("a = -nan", 1, 5, "infinity and NaN");
        bad_at("a = 2023-02-29", 1, 5, "invalid date-time");
        bad_at("a = 2023-13-01", 1, 5, "invalid date-time");
        bad_at("a = 12:30", 1, 5, "invalid date-time");
        bad_at("a = 1979-05-27T07:32:00+25:00", 1, 5, "invalid date-time");
        bad_at("a = True", 1, 5, "invalid value `True`");
        bad_at(
            "a = 1 2",
            1,
            7,
            "expected end of line after the value, found `2`",
        );
        bad_at("a = [1 2]", 1, 8, "expected `,` or `]`");
        bad_at("a = [,]", 1, 6, "expected a value, found `,`");
        bad_at("a = [1,,2]", 1, 8, "expected a value");
        bad_at("a = [1, 2", 1, 5, "unterminated array");
        bad_at("a = { b = 1, }", 1, 14, "trailing comma");
        bad_at("a = { b = 1\n}", 1, 12, "must close on the same line");
        bad_at("a = { b = 1 c = 2 }", 1, 13, "expected `,` or `}`");
        bad_at("a = { b }", 1, 9, "expected `=` after key `b`");
    }

    #[test]
    fn structure_errors() {
        bad_at("a", 1, 2, "expected `=` after key `a`");
        bad_at("= 1", 1, 1, "expected a key, found `=`");
        bad_at("a = 1\n[t", 2, 3, "expected `]` to close the table header");
        bad_at("[]", 1, 2, "expected a key");
        bad_at("[[a]", 1, 4, "expected `]]`");
        bad_at(
            "[a] b = 1",
            1,
            5,
            "expected end of line after the table header",
        );
        bad_at("a.  = 1", 1, 5, "expected a key");
        bad_at("a = 1\r", 1, 6, "carriage return");
        bad_at("x = 1\n  é = 2", 2, 3, "expected a key, found `é`");
        bad_at("x = 'é' é", 1, 9, "found `é`");
    }

    #[test]
    fn depth_limit() {
        let deep_array = format!("a = {}{}", "[".repeat(200), "]".repeat(200));
        assert!(bad(&deep_array).message.contains("nesting deeper than 128"));
        let deep_inline = format!("a = {}{}", "{b = ".repeat(200), "}".repeat(200));
        assert!(bad(&deep_inline).message.contains("nesting deeper"));
        let long_key = format!("{} = 1", vec!["k"; 200].join("."));
        assert!(bad(&long_key).message.contains("nesting deeper"));
        let long_header = format!("[{}]", vec!["k"; 200].join("."));
        assert!(bad(&long_header).message.contains("nesting deeper"));
        ok(&format!("a = {}{}", "[".repeat(100), "]".repeat(100)));
        // Huge nesting errors out instead of overflowing the stack.
        assert!(parse(&"[".repeat(1_000_000)).is_err());
        assert!(parse(&format!("a={}", "[".repeat(1_000_000))).is_err());
    }

    /// xorshift64*: deterministic pseudo-random numbers for the fuzz test.
    fn rng(state: &mut u64) -> u64 {
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    #[test]
    fn never_panics_on_garbage() {
        let seed = "# c\ntitle = \"x\\u00e9\\n\"\n[a.\"b\"]\nn = -1_000\nf = 6.5e-3\nd = 1979-05-27T07:32:00Z\nm = '''\nx'''\n[[arr]]\ni = { p = [1, 'q', { r = true }], s.t = 0x1f }\nml = \"\"\"\\\n  y\"\"\"\n";
        let alphabet: Vec<char> =
            "[]{}\"'=.,#\\\n\r\t _-+:0123456789abcdefxoTZeEtrunl\u{0}\u{7f}é😀"
                .chars()
                .collect();
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        assert!(parse(seed).is_ok());
        for (cut, _) in seed.char_indices() {
            let _ = parse(&seed[..cut]);
        }
        for _ in 0..30_000 {
            let mut doc: Vec<char> = seed.chars().collect();
            for _ in 0..(rng(&mut state) % 4 + 1) {
                let pos = (rng(&mut state) as usize) % doc.len().max(1);
                let c = alphabet[(rng(&mut state) as usize) % alphabet.len()];
                match rng(&mut state) % 3 {
                    0 if pos < doc.len() => doc[pos] = c,
                    1 => doc.insert(pos.min(doc.len()), c),
                    _ if pos < doc.len() => {
                        doc.remove(pos);
                    }
                    _ => {}
                }
            }
            let text: String = doc.into_iter().collect();
            if let Err(e) = parse(&text) {
                assert!(e.line >= 1 && e.col >= 1, "{e}");
            }
        }
        for _ in 0..30_000 {
            let len = (rng(&mut state) % 40) as usize;
            let text: String = (0..len)
                .map(|_| alphabet[(rng(&mut state) as usize) % alphabet.len()])
                .collect();
            let _ = parse(&text);
        }
    }
}
