//! JSON with comments (VS Code's `mcp.json`, opencode's config): comments
//! and trailing commas are overwritten with spaces so the strict parser can
//! read the text while every byte offset stays where it was. The splice
//! then edits the original text, so the comments survive.

/// Returns `text` with `//` and `/* */` comments and trailing commas
/// replaced by spaces (line breaks kept). Strings are left alone.
pub fn blank(text: &str) -> Result<String, String> {
    let mut bytes = text.as_bytes().to_vec();
    blank_comments(&mut bytes)?;
    blank_trailing_commas(&mut bytes);
    // Only ASCII bytes and whole comment bytes were replaced by spaces, so
    // the result is still UTF-8; checked anyway rather than assumed.
    String::from_utf8(bytes).map_err(|_| "internal error: comment blanking broke UTF-8".to_string())
}

fn blank_comments(b: &mut [u8]) -> Result<(), String> {
    let mut i = 0;
    let mut in_string = false;
    while let Some(&c) = b.get(i) {
        if in_string {
            match c {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        match (c, b.get(i + 1).copied()) {
            (b'"', _) => {
                in_string = true;
                i += 1;
            }
            (b'/', Some(b'/')) => {
                let end = find(b, i, b"\n").unwrap_or(b.len());
                spaces(b, i, end);
                i = end;
            }
            (b'/', Some(b'*')) => {
                let Some(close) = find(b, i + 2, b"*/") else {
                    return Err(format!(
                        "a /* comment that starts on line {} is never closed",
                        line_of(b, i)
                    ));
                };
                spaces(b, i, close + 2);
                i = close + 2;
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// `,` followed (after blanks) by `}` or `]`.
fn blank_trailing_commas(b: &mut [u8]) {
    let mut i = 0;
    let mut in_string = false;
    while let Some(&c) = b.get(i) {
        if in_string {
            match c {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
        } else if c == b'"' {
            in_string = true;
        } else if c == b',' {
            let next = b
                .iter()
                .skip(i + 1)
                .find(|x| !matches!(x, b' ' | b'\t' | b'\n' | b'\r'));
            if matches!(next, Some(b'}' | b']')) {
                if let Some(slot) = b.get_mut(i) {
                    *slot = b' ';
                }
            }
        }
        i += 1;
    }
}

fn find(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    let hay = b.get(from..)?;
    hay.windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Overwrites `[from, to)` with spaces, keeping line breaks.
fn spaces(b: &mut [u8], from: usize, to: usize) {
    for x in b.iter_mut().take(to).skip(from) {
        if *x != b'\n' && *x != b'\r' {
            *x = b' ';
        }
    }
}

fn line_of(b: &[u8], pos: usize) -> usize {
    1 + b.iter().take(pos).filter(|&&c| c == b'\n').count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_trailing_commas_become_spaces() {
        let src = "{ // hi\n \"a\": \"//no\", /* x\n y */ \"b\": [1, 2,], }";
        let out = blank(src).unwrap();
        assert_eq!(out.len(), src.len());
        assert_eq!(
            out,
            "{      \n \"a\": \"//no\",     \n      \"b\": [1, 2 ]  }"
        );
        assert!(crate::json::parse(out.as_bytes()).is_ok());
    }

    #[test]
    fn strings_with_escaped_quotes_are_not_comments() {
        let src = r#"{"a": "\"//", "b": "/*"}"#;
        assert_eq!(blank(src).unwrap(), src);
    }

    #[test]
    fn unclosed_block_comment_is_an_error() {
        let err = blank("{\n/* open").unwrap_err();
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn multibyte_text_in_comments_stays_utf8() {
        let out = blank("{} // héllo ✓").unwrap();
        assert_eq!(out.trim(), "{}");
    }
}
