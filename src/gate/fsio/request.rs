//! The file request, from the validated call input (before dispatch) or
//! from what the provider sends the host (during the run): the same
//! parser for both, so both see the same operation, path and content.
//!
//! `{operation: "read"|"write"|"delete", path, content_base64?,
//! mode?: "create"|"overwrite", expected_before_hash?}`. `content_base64`
//! is required for a write and refused otherwise; `mode` defaults to
//! `create`; `expected_before_hash` (`sha256:<64 hex>`) only goes with
//! `overwrite`. A `null` optional member counts as absent; other members
//! are refused.

use super::base64;
use super::error::{FsError, FsErrorKind};
use crate::json::Value;
use crate::registry::FsOperation;

/// One requested file operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Read the whole file.
    Read,
    /// Write `content` (create a new file, or overwrite an existing one).
    Write {
        /// `Create` or `Overwrite`.
        mode: FsOperation,
        /// The decoded bytes to write.
        content: Vec<u8>,
        /// The current content must hash to this (`sha256:<hex>`).
        expected_before_hash: Option<String>,
    },
    /// Remove the file.
    Delete,
}

/// A parsed file request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FsRequest {
    pub op: Op,
    /// The path as given (relative to the fs root; checked by `path.rs`).
    pub path: String,
}

impl FsRequest {
    /// The manifest operation this request needs.
    pub fn operation(&self) -> FsOperation {
        match &self.op {
            Op::Read => FsOperation::Read,
            Op::Write { mode, .. } => *mode,
            Op::Delete => FsOperation::Delete,
        }
    }

    /// The wire name of the operation: read, write or delete.
    pub fn operation_name(&self) -> &'static str {
        match self.op {
            Op::Read => "read",
            Op::Write { .. } => "write",
            Op::Delete => "delete",
        }
    }
}

const KEYS: [&str; 5] = [
    "operation",
    "path",
    "content_base64",
    "mode",
    "expected_before_hash",
];

fn bad(message: impl Into<String>) -> FsError {
    FsError::new(FsErrorKind::BadRequest, message)
}

/// The string member `key`, `None` when absent or null.
fn opt_str<'a>(v: &'a Value, key: &str) -> Result<Option<&'a str>, FsError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(bad(format!("`{key}` must be a string"))),
    }
}

/// True for `sha256:` followed by 64 lowercase hex digits.
fn is_sha256(s: &str) -> bool {
    s.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// Parses a request; content larger than `max_file_bytes` is `TooLarge`
/// (checked on the base64 length before decoding).
pub fn parse(v: &Value, max_file_bytes: u64) -> Result<FsRequest, FsError> {
    let m = v
        .as_object()
        .ok_or_else(|| bad("the file request must be a JSON object"))?;
    if let Some(k) = m.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(bad(format!(
            "unknown member `{k}`; allowed: {}",
            KEYS.join(", ")
        )));
    }
    let operation = opt_str(v, "operation")?.ok_or_else(|| bad("`operation` is required"))?;
    let path = opt_str(v, "path")?
        .ok_or_else(|| bad("`path` is required"))?
        .to_string();
    let content = opt_str(v, "content_base64")?;
    let mode = opt_str(v, "mode")?;
    let expected = opt_str(v, "expected_before_hash")?;
    let op = match operation {
        "read" | "delete" => {
            if content.is_some() || mode.is_some() || expected.is_some() {
                return Err(bad(format!(
                    "`content_base64`, `mode` and `expected_before_hash` only apply to write, not {operation}"
                )));
            }
            if operation == "read" {
                Op::Read
            } else {
                Op::Delete
            }
        }
        "write" => {
            let mode = match mode.unwrap_or("create") {
                "create" => FsOperation::Create,
                "overwrite" => FsOperation::Overwrite,
                other => {
                    return Err(bad(format!(
                        "mode `{other}` is not one of create, overwrite"
                    )))
                }
            };
            let text = content.ok_or_else(|| bad("write needs `content_base64`"))?;
            let size = base64::decoded_len(text)
                .ok_or_else(|| bad("`content_base64` is not padded base64"))?;
            if size as u64 > max_file_bytes {
                return Err(FsError::new(
                    FsErrorKind::TooLarge,
                    format!("{path:?}: content is {size} bytes; this action writes at most {max_file_bytes}"),
                ));
            }
            let content = base64::decode(text)
                .ok_or_else(|| bad("`content_base64` is not valid standard base64"))?;
            if let Some(h) = expected {
                if mode != FsOperation::Overwrite {
                    return Err(bad("`expected_before_hash` only applies to mode overwrite"));
                }
                if !is_sha256(h) {
                    return Err(bad(
                        "`expected_before_hash` must be sha256: followed by 64 lowercase hex digits",
                    ));
                }
            }
            Op::Write {
                mode,
                content,
                expected_before_hash: expected.map(str::to_string),
            }
        }
        other => {
            return Err(bad(format!(
                "operation `{other}` is not one of read, write, delete"
            )))
        }
    };
    Ok(FsRequest { op, path })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::obj;

    fn p(v: Value) -> Result<FsRequest, FsError> {
        parse(&v, 8)
    }

    #[test]
    fn parses_each_operation() {
        let r = p(obj! { "operation" => "read", "path" => "a.txt" }).unwrap();
        assert_eq!((r.op.clone(), r.path.as_str()), (Op::Read, "a.txt"));
        assert_eq!(r.operation(), FsOperation::Read);
        let r = p(obj! { "operation" => "delete", "path" => "a", "mode" => Value::Null }).unwrap();
        assert_eq!(r.op, Op::Delete);
        let r =
            p(obj! { "operation" => "write", "path" => "a", "content_base64" => "aGk=" }).unwrap();
        assert_eq!(
            r.op,
            Op::Write {
                mode: FsOperation::Create,
                content: b"hi".to_vec(),
                expected_before_hash: None
            }
        );
        let h = format!("sha256:{}", "0".repeat(64));
        let r = p(
            obj! { "operation" => "write", "path" => "a", "content_base64" => "",
            "mode" => "overwrite", "expected_before_hash" => h.as_str() },
        )
        .unwrap();
        assert_eq!(r.operation(), FsOperation::Overwrite);
        assert_eq!(r.operation_name(), "write");
    }

    #[test]
    fn refuses_malformed_requests() {
        let h = format!("sha256:{}", "0".repeat(64));
        let cases = [
            obj! { "path" => "a" },
            obj! { "operation" => "read" },
            obj! { "operation" => "list", "path" => "a" },
            obj! { "operation" => "read", "path" => 1 },
            obj! { "operation" => "read", "path" => "a", "extra" => 1 },
            obj! { "operation" => "read", "path" => "a", "content_base64" => "aGk=" },
            obj! { "operation" => "write", "path" => "a" },
            obj! { "operation" => "write", "path" => "a", "content_base64" => "aGk" },
            obj! { "operation" => "write", "path" => "a", "content_base64" => "a-k=" },
            obj! { "operation" => "write", "path" => "a", "content_base64" => "aGk=", "mode" => "append" },
            obj! { "operation" => "write", "path" => "a", "content_base64" => "aGk=", "expected_before_hash" => h.as_str() },
            obj! { "operation" => "write", "path" => "a", "content_base64" => "aGk=", "mode" => "overwrite", "expected_before_hash" => "sha256:AB" },
        ];
        for c in cases {
            let e = p(c.clone()).unwrap_err();
            assert_eq!(e.kind, FsErrorKind::BadRequest, "{}: {e}", c.to_json());
        }
        assert!(p(Value::from("x")).is_err());
    }

    #[test]
    fn content_over_the_limit_is_too_large() {
        // 9 bytes, limit 8.
        let e =
            p(obj! { "operation" => "write", "path" => "a", "content_base64" => "MTIzNDU2Nzg5" })
                .unwrap_err();
        assert_eq!(e.kind, FsErrorKind::TooLarge);
        assert!(p(
            obj! { "operation" => "write", "path" => "a", "content_base64" => "MTIzNDU2Nzg=" }
        )
        .is_ok());
    }
}
