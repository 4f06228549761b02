//! A small, strict TOML reader for configuration and manifests.
//!
//! Supports what our files use: tables `[a.b]`, arrays of tables `[[a]]`,
//! dotted and quoted keys, basic and literal strings (single and multi-line),
//! integers (with `_`, hex/octal/binary), floats, booleans, arrays and inline
//! tables. Dates are kept as their text. Every value remembers its line so a
//! config error can say where it is. Duplicate keys are errors.

mod cursor;
mod parse;
mod scalar;
mod tree;

pub use parse::{parse, MAX_DEPTH};

/// A parse error with a 1-based line and column.
#[derive(Clone, Debug, PartialEq)]
pub struct TomlError {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub col: u32,
    /// What is wrong, naming the key where there is one.
    pub message: String,
}

impl std::fmt::Display for TomlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.col, self.message
        )
    }
}

/// A value with the 1-based line its key (or element) appeared on.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    /// The value.
    pub value: TValue,
    /// 1-based line of its key (for tables: of their header).
    pub line: u32,
}

/// A TOML value.
#[derive(Clone, Debug, PartialEq)]
pub enum TValue {
    /// Any of the four string forms, escapes decoded.
    String(String),
    /// A decimal, hex, octal or binary integer.
    Integer(i64),
    /// A finite float (inf and nan are rejected).
    Float(f64),
    /// `true` or `false`.
    Boolean(bool),
    /// Offset/local date-times, dates and times, kept verbatim.
    Datetime(String),
    /// An array value, or the tables of an `[[array]]`.
    Array(Vec<Item>),
    /// A `[table]`, dotted-key table or inline table.
    Table(Table),
}

/// A table: keys unique, in file order.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Table(pub Vec<(String, Item)>);

impl Table {
    /// The item under `key`.
    pub fn get(&self, key: &str) -> Option<&Item> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
    /// Entries in file order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Item)> {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

impl TValue {
    /// The TOML type name, for error messages ("string", "integer", ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            TValue::String(_) => "string",
            TValue::Integer(_) => "integer",
            TValue::Float(_) => "float",
            TValue::Boolean(_) => "boolean",
            TValue::Datetime(_) => "datetime",
            TValue::Array(_) => "array",
            TValue::Table(_) => "table",
        }
    }
}
