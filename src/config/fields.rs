//! Typed access to TOML values with errors that name file, line, key and
//! what is allowed (shared by the config and policy loaders).

use super::load::ConfigError;
use crate::toml::{Item, TValue, Table};

/// Reads typed values out of a parsed TOML table; every error names the
/// origin file, the line, the key and what is allowed.
pub struct Fields<'a> {
    /// The file (or "embedded defaults") named in errors.
    pub origin: &'a str,
}

impl Fields<'_> {
    /// An error at `key` (line of `item`) saying `what`.
    pub fn err(&self, key: &str, item: &Item, what: &str) -> ConfigError {
        ConfigError(format!(
            "{}: line {}: `{key}`: {what}",
            self.origin, item.line
        ))
    }
    /// A string value.
    pub fn string(&self, key: &str, item: &Item) -> Result<String, ConfigError> {
        match &item.value {
            TValue::String(s) => Ok(s.clone()),
            other => Err(self.err(
                key,
                item,
                &format!("expected a string, found {}", other.type_name()),
            )),
        }
    }
    /// An integer within `min..=max`.
    pub fn int_in(&self, key: &str, item: &Item, min: i64, max: i64) -> Result<i64, ConfigError> {
        match &item.value {
            TValue::Integer(i) if (min..=max).contains(i) => Ok(*i),
            TValue::Integer(i) => Err(self.err(
                key,
                item,
                &format!("{i} is out of range; allowed {min}..={max}"),
            )),
            other => Err(self.err(
                key,
                item,
                &format!(
                    "expected an integer {min}..={max}, found {}",
                    other.type_name()
                ),
            )),
        }
    }
    /// An array of strings.
    pub fn strings(&self, key: &str, item: &Item) -> Result<Vec<String>, ConfigError> {
        match &item.value {
            TValue::Array(items) => items.iter().map(|i| self.string(key, i)).collect(),
            other => Err(self.err(
                key,
                item,
                &format!("expected an array of strings, found {}", other.type_name()),
            )),
        }
    }
    /// A table.
    pub fn table<'t>(&self, key: &str, item: &'t Item) -> Result<&'t Table, ConfigError> {
        match &item.value {
            TValue::Table(t) => Ok(t),
            other => Err(self.err(
                key,
                item,
                &format!("expected a table, found {}", other.type_name()),
            )),
        }
    }
}

impl Fields<'_> {
    /// A boolean value.
    pub fn boolean(&self, key: &str, item: &Item) -> Result<bool, ConfigError> {
        match &item.value {
            TValue::Boolean(b) => Ok(*b),
            other => Err(self.err(
                key,
                item,
                &format!("expected true or false, found {}", other.type_name()),
            )),
        }
    }
}
