//! A minimal JSON scanner: validates a document and returns the raw byte
//! spans of values, without building a tree or decoding strings.

/// Deepest nesting accepted (keeps the recursion bounded).
const MAX_DEPTH: u32 = 64;

/// The type of a scanned value.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Object,
    Array,
    String,
    Number,
    Bool,
    Null,
}

/// Why a document was rejected.
pub type Error = &'static str;

/// Cursor over a JSON document.
struct Scanner<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    fn expect(&mut self, b: u8) -> Result<(), Error> {
        if self.bump() == Some(b) {
            Ok(())
        } else {
            Err("malformed JSON")
        }
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// One value after optional whitespace: its kind and raw span.
    fn value(&mut self, depth: u32) -> Result<(Kind, &'a [u8]), Error> {
        if depth > MAX_DEPTH {
            return Err("JSON nested too deeply");
        }
        self.ws();
        let start = self.pos;
        let kind = match self.peek() {
            Some(b'{') => self.object(depth, |_, _, _| Ok(()))?,
            Some(b'[') => self.array(depth)?,
            Some(b'"') => self.string()?,
            Some(b't') => self.word(b"true", Kind::Bool)?,
            Some(b'f') => self.word(b"false", Kind::Bool)?,
            Some(b'n') => self.word(b"null", Kind::Null)?,
            Some(b'-' | b'0'..=b'9') => self.number()?,
            _ => return Err("malformed JSON"),
        };
        let raw = self.s.get(start..self.pos).ok_or("malformed JSON")?;
        Ok((kind, raw))
    }

    /// `{ "key": value, ... }`, calling `member` with each raw key token.
    fn object(
        &mut self,
        depth: u32,
        mut member: impl FnMut(&'a [u8], Kind, &'a [u8]) -> Result<(), Error>,
    ) -> Result<Kind, Error> {
        self.expect(b'{')?;
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Kind::Object);
        }
        loop {
            self.ws();
            let key_start = self.pos;
            self.string()?;
            let key = self.s.get(key_start..self.pos).ok_or("malformed JSON")?;
            self.ws();
            self.expect(b':')?;
            let (kind, raw) = self.value(depth + 1)?;
            member(key, kind, raw)?;
            self.ws();
            match self.bump() {
                Some(b',') => continue,
                Some(b'}') => return Ok(Kind::Object),
                _ => return Err("malformed JSON"),
            }
        }
    }

    fn array(&mut self, depth: u32) -> Result<Kind, Error> {
        self.expect(b'[')?;
        self.ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Kind::Array);
        }
        loop {
            self.value(depth + 1)?;
            self.ws();
            match self.bump() {
                Some(b',') => continue,
                Some(b']') => return Ok(Kind::Array),
                _ => return Err("malformed JSON"),
            }
        }
    }

    fn string(&mut self) -> Result<Kind, Error> {
        self.expect(b'"')?;
        loop {
            match self.bump() {
                Some(b'"') => return Ok(Kind::String),
                Some(b'\\') => match self.bump() {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {}
                    Some(b'u') => {
                        for _ in 0..4 {
                            if !self.bump().is_some_and(|b| b.is_ascii_hexdigit()) {
                                return Err("malformed JSON");
                            }
                        }
                    }
                    _ => return Err("malformed JSON"),
                },
                Some(0x20..) => {}
                _ => return Err("malformed JSON"),
            }
        }
    }

    fn digits(&mut self) -> Result<(), Error> {
        if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
            return Err("malformed JSON");
        }
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        Ok(())
    }

    fn number(&mut self) -> Result<Kind, Error> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        if self.peek() == Some(b'0') {
            self.pos += 1;
        } else {
            self.digits()?;
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.digits()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            self.digits()?;
        }
        Ok(Kind::Number)
    }

    fn word(&mut self, word: &[u8], kind: Kind) -> Result<Kind, Error> {
        for &b in word {
            self.expect(b)?;
        }
        Ok(kind)
    }
}

/// Validates `doc` as one JSON object and calls `member(raw_key, kind, raw)`
/// for each top-level member. Raw keys include their quotes.
pub fn members<'a>(
    doc: &'a [u8],
    member: impl FnMut(&'a [u8], Kind, &'a [u8]) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut sc = Scanner { s: doc, pos: 0 };
    sc.ws();
    if sc.peek() != Some(b'{') {
        return Err("not a JSON object");
    }
    sc.object(0, member)?;
    sc.ws();
    if sc.pos != doc.len() {
        return Err("trailing data after JSON");
    }
    Ok(())
}

/// Length of `raw` once escaped as the contents of a JSON string.
pub fn escaped_len(raw: &[u8]) -> usize {
    raw.iter()
        .map(|&b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' => 2,
            0..=0x1f => 6,
            _ => 1,
        })
        .sum()
}

/// Writes `raw` escaped as the contents of a JSON string (no quotes).
pub fn escape_into(raw: &[u8], out: &mut crate::guest::Out) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &b in raw {
        match b {
            b'"' => out.push(b"\\\""),
            b'\\' => out.push(b"\\\\"),
            b'\n' => out.push(b"\\n"),
            b'\r' => out.push(b"\\r"),
            b'\t' => out.push(b"\\t"),
            0..=0x1f => out.push(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]),
            _ => out.push(&[b]),
        }
    }
}
