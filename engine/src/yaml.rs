//! YAML parsed into a tree that keeps the line and column of every node and every mapping key, so
//! that validation can report all problems at once, each at its place.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_saphyr::Spanned;

use crate::diagnostic::Diagnostic;
use crate::source::{FileId, Loc};

#[derive(Debug, Clone, PartialEq)]
pub enum NodeValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub name: String,
    pub line: u32,
    pub column: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub line: u32,
    pub column: u32,
    pub value: NodeValue,
}

impl Node {
    pub fn loc(&self, file: FileId) -> Loc {
        Loc::new(file, self.line, self.column)
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            NodeValue::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Key, Node)]> {
        match &self.value {
            NodeValue::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v)
    }

    /// What a user would call this node's type, for "expected a list, found a string".
    pub fn type_name(&self) -> &'static str {
        match &self.value {
            NodeValue::Null => "null",
            NodeValue::Bool(_) => "a boolean",
            NodeValue::Int(_) => "an integer",
            NodeValue::Float(_) => "a number",
            NodeValue::Str(_) => "a string",
            NodeValue::Seq(_) => "a list",
            NodeValue::Map(_) => "a mapping",
        }
    }

    /// The plain JSON value, dropping positions.
    pub fn to_json(&self) -> Value {
        match &self.value {
            NodeValue::Null => Value::Null,
            NodeValue::Bool(b) => Value::Bool(*b),
            NodeValue::Int(i) => Value::from(*i),
            NodeValue::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            NodeValue::Str(s) => Value::String(s.clone()),
            NodeValue::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeValue::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.name.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// Visit every string in the tree with its location (templates live in strings).
    pub fn for_each_string<'a>(&'a self, f: &mut impl FnMut(&'a str, &'a Node)) {
        match &self.value {
            NodeValue::Str(s) => f(s, self),
            NodeValue::Seq(items) => items.iter().for_each(|n| n.for_each_string(f)),
            NodeValue::Map(entries) => entries.iter().for_each(|(_, n)| n.for_each_string(f)),
            _ => {}
        }
    }
}

/// Parse one YAML document. A syntax error becomes a diagnostic at its position.
pub fn parse(text: &str, file: FileId) -> Result<Node, Diagnostic> {
    if text.trim().is_empty() {
        return Err(
            Diagnostic::new(Loc::file_only(file), "the file is empty").expected(
                "a YAML mapping with `apiVersion: runbook/v1`, `kind: Runbook`, `name` and `steps`",
            ),
        );
    }
    serde_saphyr::from_str::<Spanned<NodeValue>>(text).map(into_node).map_err(|e| {
        let (line, column) = e.location().map(|l| (l.line() as u32, l.column() as u32)).unwrap_or((0, 0));
        let message = first_line_of_error(&e.to_string());
        Diagnostic::new(Loc::new(file, line, column), format!("invalid YAML: {message}"))
            .help("fix the YAML syntax at this position (indentation, a missing `:` or closing bracket, or quote the value)")
    })
}

fn first_line_of_error(text: &str) -> String {
    let line = text.lines().next().unwrap_or(text);
    // serde-saphyr prefixes "error: line L column C: "; the location is reported separately.
    let line = line.strip_prefix("error: ").unwrap_or(line);
    match line.find(": ") {
        Some(i) if line.starts_with("line ") => line[i + 2..].to_string(),
        _ => line.to_string(),
    }
}

fn into_node(spanned: Spanned<NodeValue>) -> Node {
    Node {
        line: spanned.referenced.line() as u32,
        column: spanned.referenced.column() as u32,
        value: spanned.value,
    }
}

impl<'de> Deserialize<'de> for NodeValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = NodeValue;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<NodeValue, E> {
        Ok(NodeValue::Null)
    }
    fn visit_none<E>(self) -> Result<NodeValue, E> {
        Ok(NodeValue::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<NodeValue, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
    fn visit_bool<E>(self, v: bool) -> Result<NodeValue, E> {
        Ok(NodeValue::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<NodeValue, E> {
        Ok(NodeValue::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<NodeValue, E> {
        i64::try_from(v)
            .map(NodeValue::Int)
            .or(Ok(NodeValue::Float(v as f64)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<NodeValue, E> {
        Ok(NodeValue::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<NodeValue, E> {
        Ok(NodeValue::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<NodeValue, E> {
        Ok(NodeValue::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NodeValue, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<NodeValue>>()? {
            items.push(into_node(item));
        }
        Ok(NodeValue::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NodeValue, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<KeyText>>()? {
            let value = into_node(map.next_value::<Spanned<NodeValue>>()?);
            let key = Key {
                name: key.value.0,
                line: key.referenced.line() as u32,
                column: key.referenced.column() as u32,
            };
            entries.push((key, value));
        }
        Ok(NodeValue::Map(entries))
    }
}

/// Mapping keys as text: `8086: x` or `true: x` are keys too, and runbooks address them by name.
struct KeyText(String);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = KeyText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a scalar mapping key")
            }
            fn visit_str<E>(self, v: &str) -> Result<KeyText, E> {
                Ok(KeyText(v.to_owned()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_unit<E>(self) -> Result<KeyText, E> {
                Ok(KeyText("null".into()))
            }
        }
        deserializer.deserialize_any(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_positions_of_keys_and_values() {
        let node = parse("a: 1\nsteps:\n  - id: x\n    uses: command\n", FileId(0)).unwrap();
        let steps = node.get("steps").unwrap();
        let NodeValue::Seq(items) = &steps.value else {
            panic!("not a list")
        };
        let (key, value) = &items[0].as_map().unwrap()[1];
        assert_eq!((key.name.as_str(), key.line, key.column), ("uses", 4, 5));
        assert_eq!((value.line, value.column), (4, 11));
        assert_eq!(value.as_str(), Some("command"));
    }

    #[test]
    fn syntax_error_has_a_position() {
        let err = parse("a: [1, 2\nb: 3\n", FileId(0)).unwrap_err();
        assert!(err.loc.line >= 1, "{err:?}");
        assert!(err.message.starts_with("invalid YAML"), "{}", err.message);
    }

    #[test]
    fn duplicate_keys_are_rejected() {
        let err = parse("a: 1\na: 2\n", FileId(0)).unwrap_err();
        assert_eq!(err.loc.line, 2);
        assert!(err.message.contains("duplicate"), "{}", err.message);
    }
}
