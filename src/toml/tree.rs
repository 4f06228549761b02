//! The document tree while parsing. Each table remembers how it came to
//! exist, which decides what TOML lets a later header or dotted key do:
//!
//! - a table named only as the parent in a header (`a` in `[a.b]`) may be
//!   defined once later by its own `[a]`;
//! - a `[header]` table may not be defined again, nor extended by dotted
//!   keys from elsewhere;
//! - a table made by dotted keys (`a.b = 1`) may get more dotted keys and
//!   sub-table headers (`[a.c]`) but not its own `[a]` header;
//! - inline tables and arrays written as values are closed.
//!
//! Errors are plain messages; the parser adds the position.
use super::{Item, TValue, Table};

/// How a table came to exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    /// Created as the parent of a header path.
    Implicit,
    /// Defined by its own `[header]`, or an element of `[[header]]`.
    Header,
    /// Created by a dotted key.
    Dotted,
}

/// A table being built.
#[derive(Debug)]
pub(super) struct Node {
    origin: Origin,
    line: u32,
    entries: Vec<(String, Slot)>,
}

/// What a key holds while building.
#[derive(Debug)]
enum Slot {
    /// A finished value, including inline tables and arrays (closed).
    Value(Item),
    /// A table still open to headers or dotted keys.
    Table(Node),
    /// An array of tables from `[[header]]`; never empty.
    Array { line: u32, tables: Vec<Node> },
}

impl Node {
    /// An empty root (or inline) table.
    pub(super) fn root() -> Node {
        Node::new(Origin::Header, 1)
    }

    fn new(origin: Origin, line: u32) -> Node {
        Node {
            origin,
            line,
            entries: Vec::new(),
        }
    }

    fn position(&self, key: &str) -> Option<usize> {
        self.entries.iter().position(|(k, _)| k == key)
    }

    /// The slot at `key`, created by `make` when missing.
    fn slot_or(&mut self, key: &str, make: impl FnOnce() -> Slot) -> Option<&mut Slot> {
        let idx = match self.position(key) {
            Some(idx) => idx,
            None => {
                self.entries.push((key.to_string(), make()));
                self.entries.len() - 1
            }
        };
        self.entries.get_mut(idx).map(|(_, slot)| slot)
    }

    /// Handles `[path]` at `line`.
    pub(super) fn define_table(&mut self, path: &[String], line: u32) -> Result<(), String> {
        let (last, parents) = path.split_last().ok_or("empty table name")?;
        let parent = self.header_parent(parents, line)?;
        let mut created = false;
        let slot = parent.slot_or(last, || {
            created = true;
            Slot::Table(Node::new(Origin::Header, line))
        });
        if created {
            return Ok(());
        }
        match slot {
            Some(Slot::Table(t)) if t.origin == Origin::Implicit => {
                t.origin = Origin::Header;
                t.line = line;
                Ok(())
            }
            Some(Slot::Table(t)) if t.origin == Origin::Header => Err(format!(
                "table `{}` is defined more than once",
                key_name(path)
            )),
            Some(Slot::Table(_)) => Err(format!(
                "table `{}` was already defined with dotted keys",
                key_name(path)
            )),
            Some(Slot::Array { .. }) => Err(format!(
                "`{0}` is an array of tables; use [[{0}]] to add an element",
                key_name(path)
            )),
            Some(Slot::Value(item)) => Err(already_value(path, &item.value)),
            None => Err(internal()),
        }
    }

    /// Handles `[[path]]` at `line`: appends a new table.
    pub(super) fn append_table(&mut self, path: &[String], line: u32) -> Result<(), String> {
        let (last, parents) = path.split_last().ok_or("empty table name")?;
        let parent = self.header_parent(parents, line)?;
        let mut created = false;
        let slot = parent.slot_or(last, || {
            created = true;
            Slot::Array {
                line,
                tables: vec![Node::new(Origin::Header, line)],
            }
        });
        if created {
            return Ok(());
        }
        match slot {
            Some(Slot::Array { tables, .. }) => {
                tables.push(Node::new(Origin::Header, line));
                Ok(())
            }
            Some(Slot::Table(_)) => Err(format!(
                "`{}` is already a table, so it cannot be an array of tables",
                key_name(path)
            )),
            Some(Slot::Value(item)) => Err(already_value(path, &item.value)),
            None => Err(internal()),
        }
    }

    /// Walks the parents of a header path, creating implicit tables; goes
    /// into the last element of arrays of tables.
    fn header_parent(&mut self, parents: &[String], line: u32) -> Result<&mut Node, String> {
        let mut node = self;
        for (i, key) in parents.iter().enumerate() {
            let slot = node.slot_or(key, || Slot::Table(Node::new(Origin::Implicit, line)));
            node = match slot {
                Some(Slot::Table(t)) => t,
                Some(Slot::Array { tables, .. }) => tables.last_mut().ok_or_else(internal)?,
                Some(Slot::Value(item)) => {
                    return Err(already_value(
                        parents.get(..=i).unwrap_or(parents),
                        &item.value,
                    ))
                }
                None => return Err(internal()),
            };
        }
        Ok(node)
    }

    /// The table a header path (already defined) points at.
    pub(super) fn table_at(&mut self, path: &[String]) -> Result<&mut Node, String> {
        let mut node = self;
        for key in path {
            let idx = node.position(key).ok_or_else(internal)?;
            node = match node.entries.get_mut(idx).map(|(_, slot)| slot) {
                Some(Slot::Table(t)) => t,
                Some(Slot::Array { tables, .. }) => tables.last_mut().ok_or_else(internal)?,
                _ => return Err(internal()),
            };
        }
        Ok(node)
    }

    /// Sets the (possibly dotted) `key` to `value` in this table. `table`
    /// is this table's own name, for messages.
    pub(super) fn insert(
        &mut self,
        table: &[String],
        key: &[String],
        value: TValue,
        line: u32,
    ) -> Result<(), String> {
        let full = |n: usize| key_name(&[table, key.get(..n).unwrap_or(key)].concat());
        let (last, parents) = key.split_last().ok_or("empty key")?;
        let mut node = self;
        for (i, part) in parents.iter().enumerate() {
            let slot = node.slot_or(part, || Slot::Table(Node::new(Origin::Dotted, line)));
            node = match slot {
                Some(Slot::Table(t)) if t.origin == Origin::Dotted => t,
                Some(Slot::Table(_)) => {
                    return Err(format!(
                        "table `{}` was created by a [table] header; dotted keys cannot add to it from here",
                        full(i + 1)
                    ))
                }
                Some(Slot::Array { .. }) => {
                    return Err(format!("`{}` is an array of tables; dotted keys cannot add to it", full(i + 1)))
                }
                Some(Slot::Value(item)) => {
                    return Err(already_value(&[table, key.get(..=i).unwrap_or(key)].concat(), &item.value))
                }
                None => return Err(internal()),
            };
        }
        if node.position(last).is_some() {
            return Err(format!("duplicate key `{}`", full(key.len())));
        }
        node.entries
            .push((last.clone(), Slot::Value(Item { value, line })));
        Ok(())
    }

    /// The finished table.
    pub(super) fn into_table(self) -> Table {
        Table(
            self.entries
                .into_iter()
                .map(|(k, slot)| (k, slot.into_item()))
                .collect(),
        )
    }

    fn into_item(self) -> Item {
        let line = self.line;
        Item {
            value: TValue::Table(self.into_table()),
            line,
        }
    }
}

impl Slot {
    fn into_item(self) -> Item {
        match self {
            Slot::Value(item) => item,
            Slot::Table(node) => node.into_item(),
            Slot::Array { line, tables } => Item {
                value: TValue::Array(tables.into_iter().map(Node::into_item).collect()),
                line,
            },
        }
    }
}

/// "key `a.b` is already a string" (or "an inline table", which is closed).
fn already_value(path: &[String], value: &TValue) -> String {
    let what = match value {
        TValue::Table(_) => "an inline table, which cannot be extended".to_string(),
        TValue::Array(_) => "an array value, which cannot be extended".to_string(),
        TValue::Integer(_) => "an integer, not a table".to_string(),
        other => format!("a {}, not a table", other.type_name()),
    };
    format!("key `{}` is already {what}", key_name(path))
}

fn internal() -> String {
    "internal error: table path not found".to_string()
}

/// `a.b."c d"`: a key path as written in TOML, quoting parts that need it.
pub(super) fn key_name(path: &[String]) -> String {
    let parts: Vec<String> = path
        .iter()
        .map(|part| {
            let bare = !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if bare {
                part.clone()
            } else {
                format!("{part:?}")
            }
        })
        .collect();
    parts.join(".")
}
