//! Finds the top-level `"model"` string of a JSON request body while the
//! body streams upstream: a byte-at-a-time scanner with constant memory
//! (nothing is buffered, however large the conversation). Anything that
//! is not a well-formed object with a string `model` simply yields none;
//! the scanner never rejects or alters a request.

/// Longest model name kept (longer ones are cut).
const MAX_NAME: usize = 128;
/// Longest key compared (`model` is five bytes; longer keys are skipped).
const MAX_KEY: usize = 16;

/// The scanner's state.
#[derive(Default)]
pub struct ModelSniffer {
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// At depth 1, the next string is a key.
    expect_key: bool,
    /// The string being read is a key at depth 1.
    reading_key: bool,
    /// The string being read is the value of a top-level `model`.
    reading_model: bool,
    /// The last top-level key was `model` and its value has not started.
    after_model_key: bool,
    buf: Vec<u8>,
    found: Option<String>,
    broken: bool,
}

impl ModelSniffer {
    /// A scanner at the start of a body.
    pub fn new() -> ModelSniffer {
        ModelSniffer::default()
    }

    /// The model, once its value has been read.
    pub fn model(&self) -> Option<&str> {
        self.found.as_deref()
    }

    /// Feeds the next piece of the body.
    pub fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.found.is_some() || self.broken {
                return;
            }
            self.byte(b);
        }
    }

    fn byte(&mut self, b: u8) {
        if self.in_string {
            if self.escaped {
                self.escaped = false;
                self.keep(b);
            } else if b == b'\\' {
                self.escaped = true;
            } else if b == b'"' {
                self.in_string = false;
                self.end_string();
            } else {
                self.keep(b);
            }
            return;
        }
        match b {
            b'{' | b'[' => {
                if self.depth == 0 && b != b'{' {
                    self.broken = true; // not an object
                }
                self.depth += 1;
                if self.depth == 1 {
                    self.expect_key = true;
                }
                self.after_model_key = false;
            }
            b'}' | b']' => {
                self.depth = self.depth.saturating_sub(1);
                if self.depth == 0 {
                    self.broken = true; // the object ended without a model
                }
            }
            b'"' => {
                self.in_string = true;
                self.buf.clear();
                self.reading_key = self.depth == 1 && self.expect_key;
                self.reading_model = self.depth == 1 && !self.expect_key && self.after_model_key;
            }
            b':' if self.depth == 1 => self.expect_key = false,
            b',' if self.depth == 1 => {
                self.expect_key = true;
                self.after_model_key = false;
            }
            b' ' | b'\t' | b'\r' | b'\n' => {}
            // A number, true, false or null: a top-level model that is not
            // a string is not recorded.
            _ if self.depth == 1 => self.after_model_key = false,
            _ => {}
        }
    }

    fn keep(&mut self, b: u8) {
        let limit = if self.reading_key { MAX_KEY } else { MAX_NAME };
        if (self.reading_key || self.reading_model) && self.buf.len() < limit {
            self.buf.push(b);
        }
    }

    fn end_string(&mut self) {
        if self.reading_key {
            self.after_model_key = self.buf == b"model";
        } else if self.reading_model {
            let name = String::from_utf8_lossy(&self.buf);
            // Printable names only: this lands in the ledger.
            let clean: String = name.chars().filter(|c| !c.is_control()).collect();
            self.found = Some(clean);
        } else if self.depth == 1 {
            self.after_model_key = false;
        }
        self.reading_key = false;
        self.reading_model = false;
    }
}

#[cfg(test)]
mod tests {
    use super::ModelSniffer;

    fn sniff_in_pieces(body: &[u8], piece: usize) -> Option<String> {
        let mut s = ModelSniffer::new();
        for chunk in body.chunks(piece.max(1)) {
            s.feed(chunk);
        }
        s.model().map(str::to_string)
    }

    #[test]
    fn finds_the_top_level_model_wherever_it_is_and_however_split() {
        let body = br#"{"max_tokens":64,"messages":[{"role":"user","content":"say \"model\": \"x\" {\"model\":\"nested\"}","model":"inner"}],"model" : "claude-sonnet-4-5","stream":true}"#;
        for piece in [1, 2, 3, 7, 64, body.len()] {
            assert_eq!(
                sniff_in_pieces(body, piece).as_deref(),
                Some("claude-sonnet-4-5"),
                "piece {piece}"
            );
        }
        assert_eq!(
            sniff_in_pieces(br#"{"model":"gpt-4o","messages":[]}"#, 5).as_deref(),
            Some("gpt-4o")
        );
    }

    #[test]
    fn none_when_absent_nested_only_or_not_a_string() {
        for body in [
            &br#"{"messages":[{"model":"x"}]}"#[..],
            br#"{"model":42,"x":"y"}"#,
            br#"{"modelx":"a","xmodel":"b"}"#,
            br#"["model","a"]"#,
            br#"{"a":"model","b":"c"}"#,
            b"not json at all",
            b"",
        ] {
            assert_eq!(
                sniff_in_pieces(body, 3),
                None,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn long_and_escaped_names_are_bounded_and_clean() {
        let long = format!(r#"{{"model":"{}"}}"#, "m".repeat(1000));
        assert_eq!(sniff_in_pieces(long.as_bytes(), 10).unwrap().len(), 128);
        assert_eq!(
            sniff_in_pieces(br#"{"model":"a\"b\nc"}"#, 1).as_deref(),
            Some("a\"bnc")
        );
    }
}
