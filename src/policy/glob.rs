//! Path globs for the policy's `sensitive_paths`.
//!
//! A pattern is a `/`-separated list of segments:
//! - `**` (a whole segment) matches any number of path segments, including none;
//! - `*` matches any run of characters within one segment (possibly empty);
//! - `?` matches exactly one character within one segment;
//! - every other character matches itself (case-sensitive; no escapes, no classes).
//!
//! Paths are split on `/`; empty and `.` segments are dropped, so a leading
//! `./` or `/` (and `a//b`) does not matter. A path matches if it matches
//! either as written (`..` kept as a segment) or with `..` resolved
//! lexically: over-matching a sensitive path only asks a human, while
//! under-matching would let `x/../.env` slip past `**/.env`.
//!
//! Matching never backtracks exponentially: one resumable star per level
//! gives at most O(pattern × path) steps (see [`wildcard`]).

/// Longest pattern accepted, in bytes.
const MAX_PATTERN_BYTES: usize = 1024;

/// One pattern segment.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seg {
    /// `**`: any number of whole segments, including none.
    Any,
    /// One segment: literal characters, `*` and `?`.
    One(Vec<Tok>),
}

/// One element of a segment pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok {
    /// A literal character.
    Char(char),
    /// `*`: any run of characters.
    Star,
    /// `?`: exactly one character.
    Question,
}

/// A compiled path glob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Glob {
    text: String,
    segs: Vec<Seg>,
}

impl Glob {
    /// Compiles `pattern`; rejects empty patterns, empty segments (`a//b`,
    /// a leading or trailing `/`), `.`/`..` segments (paths are normalised,
    /// so they could never match) and `**` inside a segment (`a**`).
    pub fn parse(pattern: &str) -> Result<Glob, String> {
        if pattern.is_empty() {
            return Err("empty pattern".into());
        }
        if pattern.len() > MAX_PATTERN_BYTES {
            return Err(format!("pattern is longer than {MAX_PATTERN_BYTES} bytes"));
        }
        let mut segs = Vec::new();
        for part in pattern.split('/') {
            if part.is_empty() {
                return Err(format!(
                    "pattern {pattern:?} has an empty segment (a leading, trailing or doubled `/`)"
                ));
            }
            if part == "." || part == ".." {
                return Err(format!(
                    "pattern {pattern:?} has a `{part}` segment, which never matches a normalised path"
                ));
            }
            if part == "**" {
                // `**/**` means the same as `**`; keep one.
                if segs.last() != Some(&Seg::Any) {
                    segs.push(Seg::Any);
                }
                continue;
            }
            if part.contains("**") {
                return Err(format!(
                    "pattern {pattern:?}: `**` must be a whole segment (use `*` within a segment)"
                ));
            }
            let toks = part
                .chars()
                .map(|c| match c {
                    '*' => Tok::Star,
                    '?' => Tok::Question,
                    c => Tok::Char(c),
                })
                .collect();
            segs.push(Seg::One(toks));
        }
        Ok(Glob {
            text: pattern.to_string(),
            segs,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `path` matches (see the module doc for normalisation).
    pub fn matches(&self, path: &str) -> bool {
        let (raw, resolved) = normalise(path);
        self.matches_segments(&raw) || (resolved != raw && self.matches_segments(&resolved))
    }

    fn matches_segments(&self, path: &[&str]) -> bool {
        wildcard(
            &self.segs,
            path,
            |s| *s == Seg::Any,
            |s, seg| match s {
                Seg::One(toks) => segment_matches(toks, seg),
                Seg::Any => false,
            },
        )
    }
}

/// Whether one path segment matches one segment pattern.
fn segment_matches(toks: &[Tok], seg: &str) -> bool {
    let chars: Vec<char> = seg.chars().collect();
    wildcard(
        toks,
        &chars,
        |t| *t == Tok::Star,
        |t, c| match t {
            Tok::Char(x) => x == c,
            Tok::Question => true,
            Tok::Star => false,
        },
    )
}

/// The path's segments as written (without empty and `.` segments) and
/// with `..` resolved lexically (a `..` with nothing to pop is kept).
fn normalise(path: &str) -> (Vec<&str>, Vec<&str>) {
    let raw: Vec<&str> = path
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    let mut resolved: Vec<&str> = Vec::with_capacity(raw.len());
    for seg in &raw {
        match (*seg, resolved.last()) {
            ("..", Some(last)) if *last != ".." => {
                resolved.pop();
            }
            (s, _) => resolved.push(s),
        }
    }
    (raw, resolved)
}

/// Wildcard matching of `text` against `pat`, where items for which
/// `is_star` holds match any run of text items (possibly empty) and every
/// other item matches exactly one text item when `one` holds.
///
/// Only the most recent star is ever resumed: whatever an earlier star
/// could absorb, the later one can absorb instead, so retrying earlier
/// stars finds nothing new. Each resume moves the star's start one item
/// right, so there are at most |text| resumes of at most |pat| steps each.
fn wildcard<P, T>(
    pat: &[P],
    text: &[T],
    is_star: impl Fn(&P) -> bool,
    one: impl Fn(&P, &T) -> bool,
) -> bool {
    let mut p = 0;
    let mut t = 0;
    // (pattern index just after the last star, text index it resumes at)
    let mut resume: Option<(usize, usize)> = None;
    while let Some(item) = text.get(t) {
        match pat.get(p) {
            Some(x) if is_star(x) => {
                p += 1;
                resume = Some((p, t));
            }
            Some(x) if one(x, item) => {
                p += 1;
                t += 1;
            }
            _ => match resume {
                Some((sp, st)) => {
                    p = sp;
                    t = st + 1;
                    resume = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pat.get(p..).is_some_and(|rest| rest.iter().all(is_star))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, path: &str) -> bool {
        Glob::parse(pattern).unwrap().matches(path)
    }

    #[test]
    fn dotenv() {
        assert!(m("**/.env", ".env"));
        assert!(m("**/.env", "a/.env"));
        assert!(m("**/.env", "a/b/.env"));
        assert!(m("**/.env", "./a/.env"));
        assert!(m("**/.env", "/a/.env"));
        assert!(!m("**/.env", "a/.envrc"));
        assert!(!m("**/.env", "a/x.env"));
        assert!(!m("**/.env", ".env/a"));
        assert!(!m("**/.env", ""));
    }

    #[test]
    fn dotenv_star() {
        assert!(m("**/.env.*", "x/.env.local"));
        assert!(m("**/.env.*", ".env.production"));
        assert!(m("**/.env.*", ".env."));
        assert!(!m("**/.env.*", ".env"));
        assert!(!m("**/.env.*", "x/.envrc"));
    }

    #[test]
    fn secrets_dir() {
        assert!(m("**/secrets/**", "secrets/x"));
        assert!(m("**/secrets/**", "a/secrets/b/c"));
        assert!(m("**/secrets/**", "secrets"));
        assert!(!m("**/secrets/**", "a/secretsx/b"));
        assert!(!m("**/secrets/**", "a/b"));
    }

    #[test]
    fn fixed_tail() {
        assert!(m("**/.aws/credentials", ".aws/credentials"));
        assert!(m("**/.aws/credentials", "home/u/.aws/credentials"));
        assert!(!m("**/.aws/credentials", "home/u/.aws/config"));
        assert!(!m("**/.aws/credentials", ".aws/credentials/x"));
    }

    #[test]
    fn star_and_question_stay_in_one_segment() {
        assert!(m("a/*.txt", "a/b.txt"));
        assert!(m("a/*.txt", "a/.txt"));
        assert!(!m("a/*.txt", "a/b/c.txt"));
        assert!(m("a/?.txt", "a/b.txt"));
        assert!(!m("a/?.txt", "a/bc.txt"));
        assert!(!m("a/?.txt", "a/.txt"));
        assert!(m("a/?", "a/é"));
        assert!(m("?env", ".env"));
        assert!(m("*", "x"));
        assert!(!m("*", "x/y"));
    }

    #[test]
    fn anchored_without_double_star() {
        assert!(m("secrets/key", "secrets/key"));
        assert!(m("secrets/key", "./secrets/key"));
        assert!(!m("secrets/key", "a/secrets/key"));
        assert!(!m("secrets/key", "secrets/key2"));
    }

    #[test]
    fn double_star_in_the_middle_matches_zero_or_more() {
        assert!(m("a/**/b", "a/b"));
        assert!(m("a/**/b", "a/x/b"));
        assert!(m("a/**/b", "a/x/y/b"));
        assert!(!m("a/**/b", "a/x/y/c"));
        assert!(m("a/**/**/b", "a/b"));
    }

    #[test]
    fn dot_segments_are_normalised_both_ways() {
        // `..` resolved lexically.
        assert!(m("**/.aws/credentials", ".aws/x/../credentials"));
        assert!(m("**/.env", "secrets/../.env"));
        // `..` kept as written.
        assert!(m("**/.ssh/**", "a/.ssh/.."));
        assert!(m("**/.env", "a//./.env"));
        assert!(m("**/.env", "../../.env"));
    }

    #[test]
    fn rejects_bad_patterns() {
        assert!(Glob::parse("").is_err());
        assert!(Glob::parse("a//b").is_err());
        assert!(Glob::parse("/a").is_err());
        assert!(Glob::parse("a/").is_err());
        assert!(Glob::parse("a/../b").is_err());
        assert!(Glob::parse("./a").is_err());
        assert!(Glob::parse("a**").is_err());
        assert!(Glob::parse(&"a".repeat(2000)).is_err());
        assert_eq!(Glob::parse("**/.env").unwrap().as_str(), "**/.env");
    }

    #[test]
    fn adversarial_inputs_finish_fast() {
        let path = vec!["a"; 200].join("/");
        let start = std::time::Instant::now();
        let g = Glob::parse("**/a/**/a/**/a/**/a/**/a/**/b").unwrap();
        assert!(!g.matches(&path));
        let g = Glob::parse("**/*a*a*a*a*a*b/**/a/**/c").unwrap();
        let long_seg = format!("{}/{}", "a".repeat(3000), path);
        assert!(!g.matches(&long_seg));
        let g = Glob::parse("**/a/**/a/**/a").unwrap();
        assert!(g.matches(&path));
        assert!(start.elapsed() < std::time::Duration::from_secs(1));
    }
}
