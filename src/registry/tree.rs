//! A YAML tree in which every node remembers where it came from.
//!
//! The registry is parsed into this generic tree first and checked by hand afterwards
//! (see `load.rs`), instead of deserializing straight into typed structs. Serde's
//! `deny_unknown_fields` stops at the first unknown key and loses its position; walking
//! the tree lets the linter report *every* unknown key, wrong type and bad value at its
//! own `line:col`, with a "did you mean" hint.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;
use std::collections::HashMap;
use std::fmt;

/// A 1-based line and column in the registry file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

impl Pos {
    fn of<T>(spanned: &Spanned<T>) -> Pos {
        Pos {
            line: spanned.referenced.line() as u32,
            column: spanned.referenced.column() as u32,
        }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One YAML node with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub pos: Pos,
    pub value: Value,
}

/// The value of a node. Mapping entries keep the file's order.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

/// A mapping key with its own position (unknown keys are reported at the key).
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub pos: Pos,
    pub name: String,
}

impl Value {
    /// A short noun for messages like "expected a list, found a string".
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "a number",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// The scalar as text, the way a user wrote it (numbers and booleans included).
    pub fn scalar_text(&self) -> Option<String> {
        match self {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

impl Node {
    /// Looks a key up in a mapping node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k.name == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// Parses YAML text into a positioned tree. The error keeps serde-saphyr's location.
pub fn parse(text: &str) -> Result<Node, serde_saphyr::Error> {
    let spanned: Spanned<RawValue> = serde_saphyr::from_str(text)?;
    Ok(Node {
        pos: Pos::of(&spanned),
        value: spanned.value.0,
    })
}

/// Serde glue: a `Value` whose children are spanned.
struct RawValue(Value);

impl<'de> Deserialize<'de> for RawValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawVisitor).map(RawValue)
    }
}

struct RawKey(String);

impl<'de> Deserialize<'de> for RawKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let v = deserializer.deserialize_any(RawVisitor)?;
        match v {
            Value::Str(s) => Ok(RawKey(s)),
            Value::Null => Ok(RawKey("null".into())),
            other => match other.scalar_text() {
                Some(t) => Ok(RawKey(t)),
                None => Err(de::Error::custom(format!(
                    "mapping keys must be plain text, found {}",
                    other.kind()
                ))),
            },
        }
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v as i128))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Int(v as i128))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        i128::try_from(v)
            .map(Value::Int)
            .map_err(|_| E::custom("number too large"))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(RawVisitor)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<RawValue>>()? {
            items.push(Node {
                pos: Pos::of(&item),
                value: item.value.0,
            });
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries: Vec<(Key, Node)> = Vec::new();
        // Keys seen so far and where: a map, so a services mapping with thousands of
        // entries is not checked pairwise.
        let mut seen: HashMap<String, Pos> = HashMap::new();
        while let Some(key) = map.next_key::<Spanned<RawKey>>()? {
            let value = map.next_value::<Spanned<RawValue>>()?;
            let key = Key {
                pos: Pos::of(&key),
                name: key.value.0,
            };
            if let Some(first) = seen.insert(key.name.clone(), key.pos) {
                return Err(de::Error::custom(format!(
                    "duplicate key `{}` (first defined at line {})",
                    key.name, first.line
                )));
            }
            entries.push((
                key,
                Node {
                    pos: Pos::of(&value),
                    value: value.value.0,
                },
            ));
        }
        Ok(Value::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_point_at_keys_and_values() {
        let text =
            "pools:\n  - name: a\n    addresses: [\"1.2.3.4/32\", 10.0.0.1-10.0.0.9]\nport: 5000\n";
        let root = parse(text).unwrap();
        let Value::Map(entries) = &root.value else {
            panic!()
        };
        assert_eq!(entries[0].0.name, "pools");
        assert_eq!(entries[0].0.pos, Pos { line: 1, column: 1 });
        let pool = &root.get("pools").unwrap();
        let Value::Seq(items) = &pool.value else {
            panic!()
        };
        let addrs = items[0].get("addresses").unwrap();
        let Value::Seq(a) = &addrs.value else {
            panic!()
        };
        assert_eq!(
            a[1].pos,
            Pos {
                line: 3,
                column: 31
            }
        );
        assert_eq!(a[1].value, Value::Str("10.0.0.1-10.0.0.9".into()));
        let port = root.get("port").unwrap();
        assert_eq!(port.value, Value::Int(5000));
        assert_eq!(port.pos, Pos { line: 4, column: 7 });
    }

    #[test]
    fn duplicate_keys_are_rejected() {
        assert!(parse("a: 1\na: 2\n").is_err());
    }
}
