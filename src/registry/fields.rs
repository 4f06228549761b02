//! Typed access to one TOML table of a manifest, with errors that name the
//! file, the full key path and the line.

use super::manifest::ManifestError;
use crate::toml::{Item, TValue, Table};

/// One table of a manifest, seen from the reader: where it is (key path and
/// line) and which file it came from.
pub struct View<'a> {
    origin: &'a str,
    table: &'a Table,
    prefix: String,
    line: u32,
}

/// A value with the line it was declared on.
pub type At<T> = (T, u32);

impl<'a> View<'a> {
    /// The root table of `origin`.
    pub fn root(origin: &'a str, table: &'a Table) -> Self {
        View {
            origin,
            table,
            prefix: String::new(),
            line: 1,
        }
    }

    /// The full key path of `key` in this table (`limits.fuel`).
    pub fn path(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.prefix)
        }
    }

    /// The line this table starts on (1 for the root).
    pub fn line(&self) -> u32 {
        self.line
    }

    /// The underlying TOML table.
    pub fn table(&self) -> &'a Table {
        self.table
    }

    /// An error about `key` (a key of this table) at `line`.
    pub fn err(&self, key: &str, line: u32, message: impl Into<String>) -> ManifestError {
        ManifestError {
            origin: self.origin.to_string(),
            key: self.path(key),
            line,
            message: message.into(),
        }
    }

    /// An error about this table itself.
    pub fn err_here(&self, message: impl Into<String>) -> ManifestError {
        ManifestError {
            origin: self.origin.to_string(),
            key: self.prefix.clone(),
            line: self.line,
            message: message.into(),
        }
    }

    /// Fails on the first key that is not in `allowed`.
    pub fn allow_only(&self, allowed: &[&str]) -> Result<(), ManifestError> {
        match self
            .table
            .iter()
            .find(|(k, _)| !allowed.contains(&k.as_str()))
        {
            Some((k, item)) => Err(self.err(
                k,
                item.line,
                format!("unknown key `{k}`; allowed here: {}", allowed.join(", ")),
            )),
            None => Ok(()),
        }
    }

    /// The raw item under `key`.
    pub fn item(&self, key: &str) -> Option<&'a Item> {
        self.table.get(key)
    }

    fn wrong_type(&self, key: &str, item: &Item, want: &str) -> ManifestError {
        self.err(
            key,
            item.line,
            format!("expected {want}, found {}", item.value.type_name()),
        )
    }

    /// A required key is absent: the error names the key, at the line of
    /// this table.
    pub fn missing(&self, key: &str) -> ManifestError {
        self.err(
            key,
            self.line,
            format!("missing required key `{}`", self.path(key)),
        )
    }

    /// An optional string.
    pub fn string(&self, key: &str) -> Result<Option<At<String>>, ManifestError> {
        match self.item(key) {
            None => Ok(None),
            Some(Item {
                value: TValue::String(s),
                line,
            }) => Ok(Some((s.clone(), *line))),
            Some(other) => Err(self.wrong_type(key, other, "a string")),
        }
    }

    /// A required string.
    pub fn req_string(&self, key: &str) -> Result<At<String>, ManifestError> {
        self.string(key)?.ok_or_else(|| self.missing(key))
    }

    /// An optional integer in `min..=max`.
    pub fn uint(&self, key: &str, min: u64, max: u64) -> Result<Option<At<u64>>, ManifestError> {
        let (i, line) = match self.item(key) {
            None => return Ok(None),
            Some(Item {
                value: TValue::Integer(i),
                line,
            }) => (*i, *line),
            Some(other) => return Err(self.wrong_type(key, other, "an integer")),
        };
        match u64::try_from(i) {
            Ok(u) if (min..=max).contains(&u) => Ok(Some((u, line))),
            _ => Err(self.err(
                key,
                line,
                format!("{i} is out of range; allowed: {min} to {max}"),
            )),
        }
    }

    /// An optional boolean.
    pub fn boolean(&self, key: &str) -> Result<Option<At<bool>>, ManifestError> {
        match self.item(key) {
            None => Ok(None),
            Some(Item {
                value: TValue::Boolean(b),
                line,
            }) => Ok(Some((*b, *line))),
            Some(other) => Err(self.wrong_type(key, other, "a boolean (true or false)")),
        }
    }

    /// An optional array, as its items.
    fn array(&self, key: &str, want: &str) -> Result<Option<At<&'a [Item]>>, ManifestError> {
        match self.item(key) {
            None => Ok(None),
            Some(Item {
                value: TValue::Array(a),
                line,
            }) => Ok(Some((a.as_slice(), *line))),
            Some(other) => Err(self.wrong_type(key, other, want)),
        }
    }

    /// An optional array of strings, each with its line.
    pub fn strings(&self, key: &str) -> Result<Option<At<Vec<At<String>>>>, ManifestError> {
        let Some((items, line)) = self.array(key, "an array of strings")? else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            match &item.value {
                TValue::String(s) => out.push((s.clone(), item.line)),
                other => {
                    return Err(self.err(
                        key,
                        item.line,
                        format!(
                            "expected an array of strings, found an element of type {}",
                            other.type_name()
                        ),
                    ))
                }
            }
        }
        Ok(Some((out, line)))
    }

    /// An optional array of integers in `min..=max`, each with its line.
    pub fn uints(
        &self,
        key: &str,
        min: u64,
        max: u64,
    ) -> Result<Option<At<Vec<At<u64>>>>, ManifestError> {
        let Some((items, line)) = self.array(key, "an array of integers")? else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let i = match &item.value {
                TValue::Integer(i) => *i,
                other => {
                    return Err(self.err(
                        key,
                        item.line,
                        format!(
                            "expected an array of integers, found an element of type {}",
                            other.type_name()
                        ),
                    ))
                }
            };
            match u64::try_from(i) {
                Ok(u) if (min..=max).contains(&u) => out.push((u, item.line)),
                _ => {
                    return Err(self.err(
                        key,
                        item.line,
                        format!("{i} is out of range; allowed: {min} to {max}"),
                    ))
                }
            }
        }
        Ok(Some((out, line)))
    }

    /// An optional sub-table.
    pub fn table_at(&self, key: &str) -> Result<Option<View<'a>>, ManifestError> {
        match self.item(key) {
            None => Ok(None),
            Some(Item {
                value: TValue::Table(t),
                line,
            }) => Ok(Some(View {
                origin: self.origin,
                table: t,
                prefix: self.path(key),
                line: *line,
            })),
            Some(other) => Err(self.wrong_type(key, other, "a table")),
        }
    }

    /// An optional array of tables (`[[key]]`); element `i` has the key path
    /// `key[i]`.
    pub fn tables(&self, key: &str) -> Result<Vec<View<'a>>, ManifestError> {
        let Some((items, _)) = self.array(key, "an array of tables ([[...]])")? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match &item.value {
                TValue::Table(t) => out.push(View {
                    origin: self.origin,
                    table: t,
                    prefix: format!("{}[{i}]", self.path(key)),
                    line: item.line,
                }),
                other => {
                    return Err(self.err(
                        key,
                        item.line,
                        format!(
                            "expected an array of tables, found an element of type {}",
                            other.type_name()
                        ),
                    ))
                }
            }
        }
        Ok(out)
    }
}
