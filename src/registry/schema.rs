//! A small JSON Schema subset, compiled once at load time.
//!
//! Supported keywords: `type` (a name or an array of names; `integer`
//! accepts any integral number), `properties`, `required`,
//! `additionalProperties` (boolean or schema), `enum`, `const`,
//! `minLength`/`maxLength` (Unicode scalar values), `minimum`, `maximum`,
//! `exclusiveMinimum`, `exclusiveMaximum` (numbers, draft 6 style), `items`
//! (one schema for every element), `minItems`/`maxItems`, and `format:
//! "uri"` (an absolute http(s) URL with a host, see `uri.rs`).
//! `description`, `title`, `default` and `examples` are ignored.
//!
//! Any other keyword, `pattern` included, is a compile error: a typo such
//! as `maxLenght` must not silently weaken validation. As in JSON Schema,
//! a keyword only constrains values of its own type (`minLength` ignores
//! numbers); use `type` to pin the type.

use super::uri::check_http_url;
use crate::json::{Number, Value};
use std::cmp::Ordering;

/// How deep schemas may nest (schemas come from manifests, but the compiler
/// must not recurse without bound on any input).
const MAX_SCHEMA_DEPTH: usize = 32;

/// At most this many errors are reported for one value.
const MAX_ERRORS: usize = 32;

/// A compiled schema.
#[derive(Clone, Debug, PartialEq)]
pub struct Schema {
    root: Node,
}

/// One violation: where (a JSON pointer into the value, `""` for the value
/// itself) and what.
#[derive(Clone, Debug, PartialEq)]
pub struct SchemaError {
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for SchemaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// A compile error: the path of keys inside the schema where it happened
/// and the message.
#[derive(Clone, Debug, PartialEq)]
pub struct CompileError {
    pub path: Vec<String>,
    pub message: String,
}

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "at {}: {}", self.path.join("."), self.message)
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Type {
    Null,
    Boolean,
    Integer,
    Number,
    String,
    Array,
    Object,
}

const TYPE_NAMES: &str = "null, boolean, integer, number, string, array, object";

#[derive(Clone, Debug, PartialEq)]
enum Additional {
    Allow,
    Deny,
    Schema(Box<Node>),
}

#[derive(Clone, Debug, PartialEq)]
struct Node {
    types: Option<Vec<Type>>,
    properties: Vec<(String, Node)>,
    required: Vec<String>,
    additional: Additional,
    enumeration: Option<Vec<Value>>,
    constant: Option<Value>,
    min_length: Option<u64>,
    max_length: Option<u64>,
    minimum: Option<Number>,
    maximum: Option<Number>,
    exclusive_minimum: Option<Number>,
    exclusive_maximum: Option<Number>,
    items: Option<Box<Node>>,
    min_items: Option<u64>,
    max_items: Option<u64>,
    format_uri: bool,
}

const KEYWORDS: &[&str] = &[
    "type",
    "properties",
    "required",
    "additionalProperties",
    "enum",
    "const",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "items",
    "minItems",
    "maxItems",
    "format",
    "description",
    "title",
    "default",
    "examples",
];

impl Schema {
    /// Compiles `v`; the error says where and why.
    pub fn compile(v: &Value) -> Result<Schema, String> {
        Self::compile_detailed(v).map_err(|e| e.to_string())
    }

    /// Compiles `v`, keeping the error's location as key segments.
    pub fn compile_detailed(v: &Value) -> Result<Schema, CompileError> {
        let mut path = Vec::new();
        let root = compile_node(v, &mut path, 0)?;
        Ok(Schema { root })
    }

    /// Validates `v`; on failure returns every violation found (at most 32).
    pub fn validate(&self, v: &Value) -> Result<(), Vec<SchemaError>> {
        let mut errors = Vec::new();
        let mut pointer = String::new();
        check(&self.root, v, &mut pointer, &mut errors);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

fn cerr(path: &[String], message: impl Into<String>) -> CompileError {
    CompileError {
        path: path.to_vec(),
        message: message.into(),
    }
}

/// Runs `f` with `seg` pushed on `path`.
fn within<T>(
    path: &mut Vec<String>,
    seg: &str,
    f: impl FnOnce(&mut Vec<String>) -> Result<T, CompileError>,
) -> Result<T, CompileError> {
    path.push(seg.to_string());
    let r = f(path);
    path.pop();
    r
}

fn compile_node(v: &Value, path: &mut Vec<String>, depth: usize) -> Result<Node, CompileError> {
    if depth > MAX_SCHEMA_DEPTH {
        return Err(cerr(
            path,
            format!("schema nests deeper than {MAX_SCHEMA_DEPTH} levels"),
        ));
    }
    let Some(map) = v.as_object() else {
        return Err(cerr(
            path,
            format!("a schema must be an object, found {}", v.type_name()),
        ));
    };
    if let Some(k) = map.keys().find(|k| !KEYWORDS.contains(&k.as_str())) {
        let hint = if k == "pattern" {
            " (regular expressions are not supported)"
        } else {
            ""
        };
        let mut at = path.clone();
        at.push(k.clone());
        return Err(cerr(
            &at,
            format!(
                "unsupported keyword `{k}`{hint}; supported: {}",
                KEYWORDS.join(", ")
            ),
        ));
    }
    let mut node = Node {
        types: None,
        properties: Vec::new(),
        required: Vec::new(),
        additional: Additional::Allow,
        enumeration: None,
        constant: None,
        min_length: None,
        max_length: None,
        minimum: None,
        maximum: None,
        exclusive_minimum: None,
        exclusive_maximum: None,
        items: None,
        min_items: None,
        max_items: None,
        format_uri: false,
    };
    for (key, val) in map.iter() {
        within(path, key, |p| {
            compile_keyword(&mut node, key, val, p, depth)
        })?;
    }
    if let (Some(min), Some(max)) = (node.min_length, node.max_length) {
        if min > max {
            return Err(cerr(path, "minLength is greater than maxLength"));
        }
    }
    if let (Some(min), Some(max)) = (node.min_items, node.max_items) {
        if min > max {
            return Err(cerr(path, "minItems is greater than maxItems"));
        }
    }
    Ok(node)
}

fn compile_keyword(
    node: &mut Node,
    key: &str,
    val: &Value,
    p: &mut Vec<String>,
    depth: usize,
) -> Result<(), CompileError> {
    match key {
        "type" => node.types = Some(compile_types(val, p)?),
        "properties" => {
            let Some(props) = val.as_object() else {
                return Err(cerr(p, "properties must be an object of schemas"));
            };
            for (name, sub) in props.iter() {
                let compiled = within(p, name, |p| compile_node(sub, p, depth + 1))?;
                node.properties.push((name.clone(), compiled));
            }
        }
        "required" => node.required = compile_names(val, p)?,
        "additionalProperties" => {
            node.additional = match val {
                Value::Bool(true) => Additional::Allow,
                Value::Bool(false) => Additional::Deny,
                other => Additional::Schema(Box::new(compile_node(other, p, depth + 1)?)),
            }
        }
        "enum" => match val.as_array() {
            Some(list) if !list.is_empty() => node.enumeration = Some(list.clone()),
            _ => return Err(cerr(p, "enum must be a non-empty array")),
        },
        "const" => node.constant = Some(val.clone()),
        "minLength" => node.min_length = Some(count(val, p)?),
        "maxLength" => node.max_length = Some(count(val, p)?),
        "minItems" => node.min_items = Some(count(val, p)?),
        "maxItems" => node.max_items = Some(count(val, p)?),
        "minimum" => node.minimum = Some(number(val, p)?),
        "maximum" => node.maximum = Some(number(val, p)?),
        "exclusiveMinimum" => node.exclusive_minimum = Some(number(val, p)?),
        "exclusiveMaximum" => node.exclusive_maximum = Some(number(val, p)?),
        "items" => node.items = Some(Box::new(compile_node(val, p, depth + 1)?)),
        "format" => match val.as_str() {
            Some("uri") => node.format_uri = true,
            _ => return Err(cerr(p, "format: only \"uri\" is supported")),
        },
        // description, title, default, examples: documentation only.
        _ => {}
    }
    Ok(())
}

fn compile_types(val: &Value, p: &[String]) -> Result<Vec<Type>, CompileError> {
    let names: Vec<&Value> = match val {
        Value::String(_) => vec![val],
        Value::Array(list) if !list.is_empty() => list.iter().collect(),
        _ => {
            return Err(cerr(
                p,
                format!("type must be a type name or a non-empty array of them ({TYPE_NAMES})"),
            ))
        }
    };
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let t = match name.as_str() {
            Some("null") => Type::Null,
            Some("boolean") => Type::Boolean,
            Some("integer") => Type::Integer,
            Some("number") => Type::Number,
            Some("string") => Type::String,
            Some("array") => Type::Array,
            Some("object") => Type::Object,
            _ => {
                return Err(cerr(
                    p,
                    format!("unknown type {}; allowed: {TYPE_NAMES}", name.to_json()),
                ))
            }
        };
        out.push(t);
    }
    Ok(out)
}

fn compile_names(val: &Value, p: &[String]) -> Result<Vec<String>, CompileError> {
    let Some(list) = val.as_array() else {
        return Err(cerr(p, "required must be an array of property names"));
    };
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for item in list {
        match item.as_str() {
            Some(s) if !out.iter().any(|o| o == s) => out.push(s.to_string()),
            Some(s) => return Err(cerr(p, format!("required lists `{s}` twice"))),
            None => return Err(cerr(p, "required must be an array of property names")),
        }
    }
    Ok(out)
}

fn count(val: &Value, p: &[String]) -> Result<u64, CompileError> {
    val.as_u64()
        .ok_or_else(|| cerr(p, "must be a non-negative integer"))
}

fn number(val: &Value, p: &[String]) -> Result<Number, CompileError> {
    match val {
        Value::Number(n) => Ok(*n),
        _ => Err(cerr(p, "must be a number")),
    }
}

/// Compares two numbers exactly when both are integers.
fn cmp_num(a: Number, b: Number) -> Ordering {
    match (a, b) {
        (Number::Int(x), Number::Int(y)) => x.cmp(&y),
        _ => a
            .as_f64()
            .partial_cmp(&b.as_f64())
            .unwrap_or(Ordering::Equal),
    }
}

/// JSON equality where numbers compare by value (1 equals 1.0).
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => cmp_num(*x, *y) == Ordering::Equal,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(l, r)| json_eq(l, r))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

fn has_type(v: &Value, t: Type) -> bool {
    match (t, v) {
        (Type::Null, Value::Null) => true,
        (Type::Boolean, Value::Bool(_)) => true,
        (Type::Number, Value::Number(_)) => true,
        (Type::Integer, Value::Number(Number::Int(_))) => true,
        (Type::Integer, Value::Number(Number::Float(f))) => f.fract() == 0.0,
        (Type::String, Value::String(_)) => true,
        (Type::Array, Value::Array(_)) => true,
        (Type::Object, Value::Object(_)) => true,
        _ => false,
    }
}

fn type_name(t: Type) -> &'static str {
    match t {
        Type::Null => "null",
        Type::Boolean => "boolean",
        Type::Integer => "integer",
        Type::Number => "number",
        Type::String => "string",
        Type::Array => "array",
        Type::Object => "object",
    }
}

fn push_err(errors: &mut Vec<SchemaError>, pointer: &str, message: String) {
    if errors.len() < MAX_ERRORS {
        errors.push(SchemaError {
            path: pointer.to_string(),
            message,
        });
    }
}

/// Appends `/seg` (RFC 6901 escaped) to `pointer`, runs `f`, restores it.
fn descend(pointer: &mut String, seg: &str, f: impl FnOnce(&mut String)) {
    let len = pointer.len();
    pointer.push('/');
    pointer.push_str(&seg.replace('~', "~0").replace('/', "~1"));
    f(pointer);
    pointer.truncate(len);
}

fn check(node: &Node, v: &Value, pointer: &mut String, errors: &mut Vec<SchemaError>) {
    if errors.len() >= MAX_ERRORS {
        return;
    }
    if let Some(types) = &node.types {
        if !types.iter().any(|t| has_type(v, *t)) {
            let want: Vec<&str> = types.iter().map(|t| type_name(*t)).collect();
            push_err(
                errors,
                pointer,
                format!("expected {}, found {}", want.join(" or "), v.type_name()),
            );
            // Other keywords would only add noise about the wrong type.
            return;
        }
    }
    if let Some(list) = &node.enumeration {
        if !list.iter().any(|e| json_eq(e, v)) {
            let allowed: Vec<String> = list.iter().map(Value::to_json).collect();
            push_err(
                errors,
                pointer,
                format!("must be one of {}", allowed.join(", ")),
            );
        }
    }
    if let Some(c) = &node.constant {
        if !json_eq(c, v) {
            push_err(errors, pointer, format!("must equal {}", c.to_json()));
        }
    }
    match v {
        Value::String(s) => check_string(node, s, pointer, errors),
        Value::Number(n) => check_number(node, *n, pointer, errors),
        Value::Array(items) => check_array(node, items, pointer, errors),
        Value::Object(_) => check_object(node, v, pointer, errors),
        Value::Null | Value::Bool(_) => {}
    }
}

fn check_string(node: &Node, s: &str, pointer: &str, errors: &mut Vec<SchemaError>) {
    let len = s.chars().count() as u64;
    if let Some(min) = node.min_length {
        if len < min {
            push_err(
                errors,
                pointer,
                format!("must be at least {min} characters long"),
            );
        }
    }
    if let Some(max) = node.max_length {
        if len > max {
            push_err(
                errors,
                pointer,
                format!("must be at most {max} characters long"),
            );
        }
    }
    if node.format_uri {
        if let Err(e) = check_http_url(s) {
            push_err(errors, pointer, format!("not a valid uri: {e}"));
        }
    }
}

fn check_number(node: &Node, n: Number, pointer: &str, errors: &mut Vec<SchemaError>) {
    let show = |b: Number| Value::Number(b).to_json();
    if let Some(b) = node.minimum {
        if cmp_num(n, b) == Ordering::Less {
            push_err(errors, pointer, format!("must be >= {}", show(b)));
        }
    }
    if let Some(b) = node.maximum {
        if cmp_num(n, b) == Ordering::Greater {
            push_err(errors, pointer, format!("must be <= {}", show(b)));
        }
    }
    if let Some(b) = node.exclusive_minimum {
        if cmp_num(n, b) != Ordering::Greater {
            push_err(errors, pointer, format!("must be > {}", show(b)));
        }
    }
    if let Some(b) = node.exclusive_maximum {
        if cmp_num(n, b) != Ordering::Less {
            push_err(errors, pointer, format!("must be < {}", show(b)));
        }
    }
}

fn check_array(node: &Node, items: &[Value], pointer: &mut String, errors: &mut Vec<SchemaError>) {
    let n = items.len() as u64;
    if let Some(min) = node.min_items {
        if n < min {
            push_err(errors, pointer, format!("must have at least {min} items"));
        }
    }
    if let Some(max) = node.max_items {
        if n > max {
            push_err(errors, pointer, format!("must have at most {max} items"));
        }
    }
    if let Some(item_schema) = &node.items {
        for (i, item) in items.iter().enumerate() {
            descend(pointer, &i.to_string(), |p| {
                check(item_schema, item, p, errors)
            });
        }
    }
}

fn check_object(node: &Node, v: &Value, pointer: &mut String, errors: &mut Vec<SchemaError>) {
    let Some(map) = v.as_object() else { return };
    for name in &node.required {
        if !map.contains_key(name) {
            push_err(
                errors,
                pointer,
                format!("missing required property `{name}`"),
            );
        }
    }
    for (key, val) in map.iter() {
        match node.properties.iter().find(|(k, _)| k == key) {
            Some((_, sub)) => descend(pointer, key, |p| check(sub, val, p, errors)),
            None => match &node.additional {
                Additional::Allow => {}
                Additional::Deny => descend(pointer, key, |p| {
                    push_err(errors, p, format!("unknown property `{key}`"))
                }),
                Additional::Schema(sub) => descend(pointer, key, |p| check(sub, val, p, errors)),
            },
        }
    }
}

/// Generic limits applied to any input or output before schema checks:
/// containers nest at most `max_depth` deep (a bare `{}` is depth 1) and
/// no array holds more than `max_items` elements. Never recurses deeper
/// than `max_depth + 1`.
pub fn check_shape(v: &Value, max_depth: usize, max_items: usize) -> Result<(), String> {
    shape(v, 0, max_depth, max_items)
}

fn shape(v: &Value, depth: usize, max_depth: usize, max_items: usize) -> Result<(), String> {
    let children: Box<dyn Iterator<Item = &Value>> = match v {
        Value::Array(items) => {
            if items.len() > max_items {
                return Err(format!(
                    "an array has {} items; at most {max_items} allowed",
                    items.len()
                ));
            }
            Box::new(items.iter())
        }
        Value::Object(map) => Box::new(map.iter().map(|(_, v)| v)),
        _ => return Ok(()),
    };
    if depth + 1 > max_depth {
        return Err(format!("nesting is deeper than {max_depth} levels"));
    }
    for child in children {
        shape(child, depth + 1, max_depth, max_items)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::obj;

    fn s(v: Value) -> Schema {
        Schema::compile(&v).unwrap()
    }
    fn int(i: i64) -> Value {
        Value::from(i)
    }
    fn arr(v: Vec<Value>) -> Value {
        Value::Array(v)
    }
    fn fails_at(schema: &Schema, v: &Value, path: &str) -> String {
        let errs = schema.validate(v).unwrap_err();
        assert!(errs.iter().any(|e| e.path == path), "{errs:?}");
        errs.iter()
            .map(|e| e.message.clone())
            .collect::<Vec<_>>()
            .join("; ")
    }

    #[test]
    fn type_single_and_list() {
        let t = s(obj! { "type" => "string" });
        assert!(t.validate(&"x".into()).is_ok());
        assert!(fails_at(&t, &int(1), "").contains("expected string, found integer"));
        let t = s(obj! { "type" => arr(vec!["string".into(), "null".into()]) });
        assert!(t.validate(&Value::Null).is_ok());
        assert!(t.validate(&"x".into()).is_ok());
        assert!(t.validate(&Value::Bool(true)).is_err());
    }

    #[test]
    fn integer_accepts_integral_floats_only() {
        let t = s(obj! { "type" => "integer" });
        assert!(t.validate(&int(3)).is_ok());
        assert!(t.validate(&Value::from(3.0)).is_ok());
        assert!(t.validate(&Value::from(3.5)).is_err());
        let n = s(obj! { "type" => "number" });
        assert!(n.validate(&Value::from(3.5)).is_ok());
        assert!(n.validate(&int(3)).is_ok());
        assert!(n.validate(&"3".into()).is_err());
    }

    #[test]
    fn properties_required_additional() {
        let t = s(obj! {
            "type" => "object",
            "required" => arr(vec!["url".into()]),
            "additionalProperties" => false,
            "properties" => obj! { "url" => obj! { "type" => "string" } },
        });
        assert!(t.validate(&obj! { "url" => "x" }).is_ok());
        assert!(fails_at(&t, &obj! {}, "").contains("missing required property `url`"));
        assert!(fails_at(&t, &obj! { "url" => "x", "extra" => 1 }, "/extra")
            .contains("unknown property"));
        fails_at(&t, &obj! { "url" => 5 }, "/url");
        // additionalProperties as a schema
        let t = s(obj! { "additionalProperties" => obj! { "type" => "integer" } });
        assert!(t.validate(&obj! { "a" => 1, "b" => 2 }).is_ok());
        fails_at(&t, &obj! { "a" => 1, "b" => "x" }, "/b");
        // default is to allow
        let t = s(obj! { "type" => "object" });
        assert!(t.validate(&obj! { "anything" => arr(vec![]) }).is_ok());
    }

    #[test]
    fn pointer_escapes_keys() {
        let t = s(obj! { "additionalProperties" => false });
        fails_at(&t, &obj! { "a/b~c" => 1 }, "/a~1b~0c");
    }

    #[test]
    fn enum_and_const() {
        let t = s(obj! { "enum" => arr(vec!["a".into(), int(1)]) });
        assert!(t.validate(&"a".into()).is_ok());
        assert!(t.validate(&Value::from(1.0)).is_ok());
        assert!(fails_at(&t, &"b".into(), "").contains("one of"));
        let t = s(obj! { "const" => obj! { "k" => arr(vec![int(1)]) } });
        assert!(t.validate(&obj! { "k" => arr(vec![int(1)]) }).is_ok());
        assert!(t.validate(&obj! { "k" => arr(vec![int(2)]) }).is_err());
        assert!(Schema::compile(&obj! { "enum" => arr(vec![]) }).is_err());
    }

    #[test]
    fn string_lengths_count_scalar_values() {
        let t = s(obj! { "minLength" => 2, "maxLength" => 3 });
        assert!(t.validate(&"ab".into()).is_ok());
        assert!(t.validate(&"äöü".into()).is_ok()); // 6 bytes, 3 chars
        assert!(fails_at(&t, &"a".into(), "").contains("at least 2"));
        assert!(fails_at(&t, &"abcd".into(), "").contains("at most 3"));
        // Non-strings are not constrained by string keywords.
        assert!(t.validate(&int(1)).is_ok());
    }

    #[test]
    fn numeric_bounds() {
        let t = s(obj! { "minimum" => 1, "maximum" => 10 });
        assert!(t.validate(&int(1)).is_ok());
        assert!(t.validate(&int(10)).is_ok());
        assert!(t.validate(&int(0)).is_err());
        assert!(t.validate(&Value::from(10.5)).is_err());
        let t = s(obj! { "exclusiveMinimum" => 1, "exclusiveMaximum" => 2.5 });
        assert!(t.validate(&Value::from(2.0)).is_ok());
        assert!(t.validate(&int(1)).is_err());
        assert!(t.validate(&Value::from(2.5)).is_err());
        // Large integers compare exactly.
        let t = s(obj! { "maximum" => i64::MAX - 1 });
        assert!(t.validate(&int(i64::MAX)).is_err());
    }

    #[test]
    fn arrays() {
        let t =
            s(obj! { "items" => obj! { "type" => "integer" }, "minItems" => 1, "maxItems" => 2 });
        assert!(t.validate(&arr(vec![int(1)])).is_ok());
        assert!(t.validate(&arr(vec![])).is_err());
        assert!(t.validate(&arr(vec![int(1), int(2), int(3)])).is_err());
        fails_at(&t, &arr(vec![int(1), "x".into()]), "/1");
    }

    #[test]
    fn format_uri() {
        let t = s(obj! { "format" => "uri" });
        assert!(t.validate(&"https://httpbin.org/get".into()).is_ok());
        assert!(t.validate(&"file:///etc/passwd".into()).is_err());
        assert!(t.validate(&"https://x.org/a b".into()).is_err());
        assert!(Schema::compile(&obj! { "format" => "email" }).is_err());
    }

    #[test]
    fn ignored_and_unknown_keywords() {
        let t = s(
            obj! { "type" => "string", "description" => "d", "title" => "t", "default" => "x", "examples" => arr(vec![]) },
        );
        assert!(t.validate(&"y".into()).is_ok());
        let e = Schema::compile_detailed(
            &obj! { "properties" => obj! { "u" => obj! { "pattern" => "^a" } } },
        )
        .unwrap_err();
        assert_eq!(e.path, ["properties", "u", "pattern"]);
        assert!(e.message.contains("not supported"), "{}", e.message);
        let e = Schema::compile_detailed(&obj! { "maxLenght" => 3 }).unwrap_err();
        assert_eq!(e.path, ["maxLenght"]);
    }

    #[test]
    fn malformed_keywords() {
        for bad in [
            obj! { "type" => "str" },
            obj! { "type" => arr(vec![]) },
            obj! { "properties" => arr(vec![]) },
            obj! { "properties" => obj! { "a" => "string" } },
            obj! { "required" => "a" },
            obj! { "required" => arr(vec!["a".into(), "a".into()]) },
            obj! { "minLength" => -1 },
            obj! { "maxItems" => 1.5 },
            obj! { "minimum" => "1" },
            obj! { "minLength" => 3, "maxLength" => 2 },
            obj! { "additionalProperties" => "no" },
            Value::Bool(true),
        ] {
            assert!(Schema::compile(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn compile_depth_is_bounded() {
        let mut v = obj! { "type" => "string" };
        for _ in 0..40 {
            v = obj! { "items" => v };
        }
        assert!(Schema::compile(&v).unwrap_err().contains("deeper"));
    }

    #[test]
    fn shape_limits() {
        let mut v = int(1);
        for _ in 0..10 {
            v = arr(vec![v]);
        }
        assert!(check_shape(&v, 10, 100).is_ok());
        let deeper = obj! { "a" => v };
        assert!(check_shape(&deeper, 10, 100).is_err());
        assert!(check_shape(&arr(vec![int(0); 100]), 10, 100).is_ok());
        assert!(check_shape(&arr(vec![int(0); 101]), 10, 100).is_err());
        assert!(check_shape(&obj! { "x" => arr(vec![int(0); 101]) }, 10, 100).is_err());
        assert!(check_shape(&"scalar".into(), 0, 0).is_ok());
    }
}
