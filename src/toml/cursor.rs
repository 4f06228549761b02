//! Byte cursor over a TOML document: tracks the line and column, skips
//! whitespace, comments and newlines, and builds positioned errors.
use super::TomlError;

/// A saved position, for errors that point back at where something began.
#[derive(Clone, Copy, Debug)]
pub(super) struct Mark {
    pos: usize,
    line: u32,
    line_start: usize,
}

/// Reading position in the source text.
pub(super) struct Cursor<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    line: u32,
    line_start: usize,
}

/// Control characters TOML forbids in strings and comments (tab is fine).
pub(super) fn is_control(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `src` (after a UTF-8 byte-order mark, if any).
    pub(super) fn new(src: &'a str) -> Self {
        let start = if src.starts_with('\u{feff}') { 3 } else { 0 };
        Cursor {
            src,
            bytes: src.as_bytes(),
            pos: start,
            line: 1,
            line_start: start,
        }
    }

    /// The current byte.
    pub(super) fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// The byte `ahead` positions on.
    pub(super) fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.pos.saturating_add(ahead)).copied()
    }

    /// The current character (for messages).
    pub(super) fn peek_char(&self) -> Option<char> {
        self.src.get(self.pos..).and_then(|s| s.chars().next())
    }

    /// True when the text at the cursor starts with `s`.
    pub(super) fn starts_with(&self, s: &[u8]) -> bool {
        self.bytes
            .get(self.pos..)
            .is_some_and(|rest| rest.starts_with(s))
    }

    /// Moves past one byte (no-op at the end), counting lines.
    pub(super) fn bump(&mut self) {
        if let Some(b) = self.peek() {
            self.pos += 1;
            if b == b'\n' {
                self.line = self.line.saturating_add(1);
                self.line_start = self.pos;
            }
        }
    }

    /// Moves past `n` bytes.
    pub(super) fn bump_n(&mut self, n: usize) {
        for _ in 0..n {
            self.bump();
        }
    }

    /// The current 1-based line.
    pub(super) fn line(&self) -> u32 {
        self.line
    }

    /// The current position, to report errors at later.
    pub(super) fn mark(&self) -> Mark {
        Mark {
            pos: self.pos,
            line: self.line,
            line_start: self.line_start,
        }
    }

    /// Text from `mark` up to the cursor.
    pub(super) fn since(&self, mark: Mark) -> &'a str {
        self.src.get(mark.pos..self.pos).unwrap_or_default()
    }

    /// Consumes bytes while `keep` holds and returns them. `keep` must stop
    /// only at ASCII bytes (or the end) so the text splits on characters.
    pub(super) fn take_while(&mut self, keep: impl Fn(u8) -> bool) -> &'a str {
        let start = self.mark();
        while self.peek().is_some_and(&keep) {
            self.bump();
        }
        self.since(start)
    }

    /// An error at the cursor.
    pub(super) fn err(&self, message: impl Into<String>) -> TomlError {
        self.err_at(self.mark(), message)
    }

    /// An error at `mark`; the column counts characters, from 1.
    pub(super) fn err_at(&self, mark: Mark, message: impl Into<String>) -> TomlError {
        let before = self.src.get(mark.line_start..mark.pos);
        let chars = before.map_or(mark.pos - mark.line_start, |s| s.chars().count());
        TomlError {
            line: mark.line,
            col: u32::try_from(chars).unwrap_or(u32::MAX - 1) + 1,
            message: message.into(),
        }
    }

    /// "found `x`" / "found end of line" / "found end of file", for messages.
    pub(super) fn found(&self) -> String {
        match self.peek_char() {
            None => "found end of file".to_string(),
            Some('\n' | '\r') => "found end of line".to_string(),
            Some(c) if c.is_control() => format!("found control character U+{:04X}", c as u32),
            Some(c) => format!("found `{c}`"),
        }
    }

    /// Skips spaces and tabs.
    pub(super) fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t') = self.peek() {
            self.bump();
        }
    }

    /// Consumes `\n` or `\r\n` when at one; a lone `\r` is an error.
    pub(super) fn newline(&mut self) -> Result<bool, TomlError> {
        match self.peek() {
            Some(b'\n') => {
                self.bump();
                Ok(true)
            }
            Some(b'\r') if self.peek_at(1) == Some(b'\n') => {
                self.bump_n(2);
                Ok(true)
            }
            Some(b'\r') => Err(self.err("carriage return not followed by a newline")),
            _ => Ok(false),
        }
    }

    /// Skips a `#` comment up to (not including) the end of the line.
    pub(super) fn skip_comment(&mut self) -> Result<(), TomlError> {
        if self.peek() != Some(b'#') {
            return Ok(());
        }
        self.take_while(|b| !is_control(b));
        match self.peek() {
            None | Some(b'\n' | b'\r') => Ok(()),
            Some(_) => Err(self.err(format!("{} in a comment", self.found()))),
        }
    }

    /// Skips whitespace, comments and newlines.
    pub(super) fn skip_blank(&mut self) -> Result<(), TomlError> {
        loop {
            self.skip_ws();
            self.skip_comment()?;
            if !self.newline()? {
                return Ok(());
            }
        }
    }

    /// After a statement: optional whitespace and comment, then a newline
    /// or the end of the file.
    pub(super) fn end_of_line(&mut self, after: &str) -> Result<(), TomlError> {
        self.skip_ws();
        self.skip_comment()?;
        if self.peek().is_none() || self.newline()? {
            return Ok(());
        }
        Err(self.err(format!(
            "expected end of line after {after}, {}",
            self.found()
        )))
    }

    /// Consumes `b` or fails with "expected {what}, found …".
    pub(super) fn expect(&mut self, b: u8, what: &str) -> Result<(), TomlError> {
        if self.peek() == Some(b) {
            self.bump();
            return Ok(());
        }
        Err(self.err(format!("expected {what}, {}", self.found())))
    }
}
