//! TOML to JSON conversion for the schema tables of a manifest.

use crate::json::{Map, Number, Value};
use crate::toml::{Item, TValue, Table};

/// Converts a TOML value to JSON. Strings, integers, finite floats,
/// booleans, arrays and tables map one to one; datetimes have no JSON form
/// and are an error, as are non-finite floats. The error starts with the
/// line of the offending value when it is inside an array or table.
pub fn toml_to_json(v: &TValue) -> Result<Value, String> {
    convert(v, 0).map_err(|(line, e)| {
        if line == 0 {
            e
        } else {
            format!("line {line}: {e}")
        }
    })
}

/// Converts a TOML table to a JSON object; errors carry the line of the
/// offending value.
pub fn table_to_json(t: &Table) -> Result<Value, (u32, String)> {
    let mut m = Map::new();
    for (k, item) in t.iter() {
        m.insert(k.clone(), convert(&item.value, item.line)?);
    }
    Ok(Value::Object(m))
}

/// Converts `v`, declared on `line` (0 when unknown).
fn convert(v: &TValue, line: u32) -> Result<Value, (u32, String)> {
    Ok(match v {
        TValue::String(s) => Value::String(s.clone()),
        TValue::Integer(i) => Value::Number(Number::Int(*i)),
        TValue::Float(f) if f.is_finite() => Value::Number(Number::Float(*f)),
        TValue::Float(_) => return Err((line, "inf and nan have no JSON form".to_string())),
        TValue::Boolean(b) => Value::Bool(*b),
        TValue::Datetime(_) => {
            return Err((
                line,
                "datetimes have no JSON form; use a string".to_string(),
            ))
        }
        TValue::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                out.push(convert(&item.value, item.line)?);
            }
            Value::Array(out)
        }
        TValue::Table(t) => table_to_json(t)?,
    })
}

/// The line of the deepest TOML item reachable along `segments` (object
/// keys, or decimal array indexes) from `start`, falling back to `line`.
/// Used to place schema compile errors, which only know a JSON pointer.
pub fn line_along(start: &Table, line: u32, segments: &[String]) -> u32 {
    let mut current: Option<&TValue> = None;
    let mut table = Some(start);
    let mut best = line;
    for seg in segments {
        let next: Option<&Item> = match (table, current) {
            (Some(t), _) => t.get(seg),
            (None, Some(TValue::Array(items))) => {
                seg.parse::<usize>().ok().and_then(|i| items.get(i))
            }
            _ => None,
        };
        let Some(item) = next else { break };
        best = item.line;
        current = Some(&item.value);
        table = match &item.value {
            TValue::Table(t) => Some(t),
            _ => None,
        };
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(value: TValue, line: u32) -> Item {
        Item { value, line }
    }

    #[test]
    fn converts_each_type() {
        let t = Table(vec![
            ("s".into(), item(TValue::String("x".into()), 1)),
            ("i".into(), item(TValue::Integer(-3), 2)),
            ("f".into(), item(TValue::Float(1.5), 3)),
            ("b".into(), item(TValue::Boolean(true), 4)),
            (
                "a".into(),
                item(
                    TValue::Array(vec![
                        item(TValue::Integer(1), 5),
                        item(TValue::String("y".into()), 5),
                    ]),
                    5,
                ),
            ),
        ]);
        let v = toml_to_json(&TValue::Table(t)).unwrap();
        assert_eq!(v.get("s"), Some(&Value::String("x".into())));
        assert_eq!(v.get("i"), Some(&Value::Number(Number::Int(-3))));
        assert_eq!(v.get("f"), Some(&Value::Number(Number::Float(1.5))));
        assert_eq!(v.get("b"), Some(&Value::Bool(true)));
        assert_eq!(
            v.get("a"),
            Some(&Value::Array(vec![
                Value::Number(Number::Int(1)),
                Value::String("y".into())
            ]))
        );
        // Key order is kept.
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["s", "i", "f", "b", "a"]);
    }

    #[test]
    fn rejects_datetime_and_nan_with_line() {
        let t = Table(vec![(
            "d".into(),
            item(TValue::Datetime("1979-05-27".into()), 7),
        )]);
        let e = toml_to_json(&TValue::Table(t)).unwrap_err();
        assert!(e.starts_with("line 7:"), "{e}");
        assert!(toml_to_json(&TValue::Float(f64::NAN)).is_err());
    }

    #[test]
    fn finds_lines_along_a_path() {
        let inner = Table(vec![("maxLength".into(), item(TValue::Integer(3), 9))]);
        let props = Table(vec![("url".into(), item(TValue::Table(inner), 8))]);
        let root = Table(vec![("properties".into(), item(TValue::Table(props), 7))]);
        let segs = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            line_along(&root, 6, &segs(&["properties", "url", "maxLength"])),
            9
        );
        assert_eq!(
            line_along(&root, 6, &segs(&["properties", "url", "nope"])),
            8
        );
        assert_eq!(line_along(&root, 6, &segs(&[])), 6);
    }
}
