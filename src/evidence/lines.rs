//! Streaming reader for events.jsonl: one item per line, with its byte
//! offset, telling complete lines from a torn (unterminated) tail.

use super::chain::MAX_RECORD_BYTES;
use std::io::{self, BufRead, BufReader, Read};

/// How a line ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ending {
    /// Terminated by `\n` (not included in `bytes`).
    Complete,
    /// End of file without `\n`: a torn write that was never acknowledged.
    Torn,
    /// Longer than any record the writer produces; reading stops here.
    TooLong,
}

/// One line of the file.
#[derive(Debug)]
pub(crate) struct Line {
    /// 1-based line number.
    pub no: usize,
    /// Byte offset of the line's first byte.
    pub start: u64,
    /// The line without its newline.
    pub bytes: Vec<u8>,
    /// How it ended.
    pub ending: Ending,
}

/// Iterator over the lines of a reader.
pub(crate) struct Lines<R: Read> {
    reader: BufReader<R>,
    offset: u64,
    no: usize,
    done: bool,
}

impl<R: Read> Lines<R> {
    /// Reads `inner` from its current position (assumed offset 0).
    pub(crate) fn new(inner: R) -> Lines<R> {
        Lines {
            reader: BufReader::with_capacity(1 << 16, inner),
            offset: 0,
            no: 0,
            done: false,
        }
    }
}

impl<R: Read> Iterator for Lines<R> {
    type Item = io::Result<Line>;

    fn next(&mut self) -> Option<io::Result<Line>> {
        if self.done {
            return None;
        }
        let mut bytes = Vec::new();
        // A record line is at most MAX_RECORD_BYTES plus its newline.
        let cap = (MAX_RECORD_BYTES + 1) as u64;
        let n = match (&mut self.reader).take(cap).read_until(b'\n', &mut bytes) {
            Ok(n) => n,
            Err(e) => {
                self.done = true;
                return Some(Err(e));
            }
        };
        if n == 0 {
            self.done = true;
            return None;
        }
        self.no += 1;
        let start = self.offset;
        self.offset += n as u64;
        let ending = if bytes.last() == Some(&b'\n') {
            bytes.pop();
            Ending::Complete
        } else if n as u64 == cap {
            self.done = true;
            Ending::TooLong
        } else {
            self.done = true;
            Ending::Torn
        };
        Some(Ok(Line {
            no: self.no,
            start,
            bytes,
            ending,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(data: &[u8]) -> Vec<(usize, u64, Vec<u8>, Ending)> {
        Lines::new(data)
            .map(|l| {
                let l = l.unwrap();
                (l.no, l.start, l.bytes, l.ending)
            })
            .collect()
    }

    #[test]
    fn splits_lines_and_flags_a_torn_tail() {
        let got = collect(b"{\"a\":1}\n{\"b\":2}\n{\"c\"");
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], (1, 0, b"{\"a\":1}".to_vec(), Ending::Complete));
        assert_eq!(got[1], (2, 8, b"{\"b\":2}".to_vec(), Ending::Complete));
        assert_eq!(got[2], (3, 16, b"{\"c\"".to_vec(), Ending::Torn));
        assert!(collect(b"").is_empty());
        assert_eq!(collect(b"x\n").len(), 1);
    }

    #[test]
    fn stops_at_an_oversized_line() {
        let mut data = vec![b'x'; MAX_RECORD_BYTES + 10];
        data.extend_from_slice(b"\n{}\n");
        let got = collect(&data);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].3, Ending::TooLong);
    }
}
