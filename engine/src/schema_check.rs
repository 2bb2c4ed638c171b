//! Checking a step's `with` (as written, positions kept) against its kind's JSON Schema.
//!
//! A subset of JSON Schema is enough for what `schemars` derives from the kinds' input structs:
//! `type`, `properties`, `required`, `additionalProperties`, `items`, `enum`, `const`, `$ref`,
//! `allOf`, `anyOf`, `oneOf`. A template string stands in for any type: it is checked after rendering.

use serde_json::Value;

use crate::diagnostic::Diagnostic;
use crate::source::{FileId, Loc};
use crate::suggest::did_you_mean;
use crate::template::is_template;
use crate::yaml::{Node, NodeValue};

/// The JSON Schema `format` of a kind's input that is a duration (`30s`, `10m`): write it on the
/// field as `#[schemars(extend("format" = "duration"))]`.
pub const DURATION_FORMAT: &str = "duration";

pub struct SchemaChecker<'a> {
    pub root: &'a Value,
    pub file: FileId,
    pub kind: &'a str,
}

impl SchemaChecker<'_> {
    pub fn check(&self, node: &Node, schema: &Value, path: &str, out: &mut Vec<Diagnostic>) {
        let schema = self.resolve(schema);
        let loc = node.loc(self.file);
        if let NodeValue::Str(s) = &node.value
            && is_template(s)
        {
            return;
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for s in all {
                self.check(node, s, path, out);
            }
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(options) = schema.get(key).and_then(Value::as_array) {
                let mut best: Option<Vec<Diagnostic>> = None;
                for option in options {
                    let mut errors = Vec::new();
                    self.check(node, option, path, &mut errors);
                    if errors.is_empty() {
                        best = None;
                        break;
                    }
                    if best.as_ref().is_none_or(|b| errors.len() < b.len()) {
                        best = Some(errors);
                    }
                }
                out.extend(best.unwrap_or_default());
            }
        }
        if let Some(types) = schema.get("type") {
            let allowed: Vec<&str> = match types {
                Value::String(t) => vec![t.as_str()],
                Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            if !allowed.is_empty() && !allowed.iter().any(|t| matches_type(node, t)) {
                out.push(
                    Diagnostic::new(
                        loc,
                        format!(
                            "`{path}` of `{}` must be {}, found {}",
                            self.kind,
                            type_names(&allowed),
                            node.type_name()
                        ),
                    )
                    .help_opt(type_hint(&allowed, node)),
                );
                return;
            }
        }
        if let Some(options) = schema.get("enum").and_then(Value::as_array) {
            let value = node.to_json();
            if !options.contains(&value) {
                let names: Vec<String> = options.iter().map(|o| o.to_string()).collect();
                let words: Vec<&str> = options.iter().filter_map(Value::as_str).collect();
                let help = node
                    .as_str()
                    .and_then(|s| did_you_mean(s, words.iter().copied()));
                out.push(
                    Diagnostic::new(
                        loc,
                        format!(
                            "`{path}` of `{}` has an unsupported value {value}",
                            self.kind
                        ),
                    )
                    .expected(format!("one of {}", names.join(", ")))
                    .help_opt(help),
                );
            }
        }
        if let Some(constant) = schema.get("const")
            && &node.to_json() != constant
        {
            out.push(Diagnostic::new(
                loc,
                format!("`{path}` of `{}` must be {constant}", self.kind),
            ));
        }
        // Durations (`timeout: 10m`) are checked here, at their line, for every kind that marks
        // its input with the `duration` format ([`DURATION_FORMAT`]).
        if schema.get("format").and_then(Value::as_str) == Some(DURATION_FORMAT)
            && let NodeValue::Str(text) = &node.value
            && let Err(e) = crate::duration::parse_duration(text)
        {
            out.push(
                Diagnostic::new(loc, format!("`{path}` of `{}`: {e}", self.kind))
                    .expected(crate::duration::EXPECTED),
            );
        }
        match &node.value {
            NodeValue::Map(entries) => self.check_object(node, entries, schema, path, out),
            NodeValue::Seq(items) => {
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.check(item, item_schema, &format!("{path}[{i}]"), out);
                    }
                }
            }
            _ => {}
        }
    }

    fn check_object(
        &self,
        node: &Node,
        entries: &[(crate::yaml::Key, Node)],
        schema: &Value,
        path: &str,
        out: &mut Vec<Diagnostic>,
    ) {
        let properties = schema.get("properties").and_then(Value::as_object);
        let names: Vec<&str> = properties
            .map(|p| p.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let prefix = if path.is_empty() {
            String::new()
        } else {
            format!("{path}.")
        };
        for (key, value) in entries {
            let key_loc = Loc::new(self.file, key.line, key.column);
            match properties.and_then(|p| p.get(&key.name)) {
                Some(s) => self.check(value, s, &format!("{prefix}{}", key.name), out),
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => out.push(
                        Diagnostic::new(
                            key_loc,
                            format!("unknown input `{prefix}{}` for `{}`", key.name, self.kind),
                        )
                        .help_opt(did_you_mean(&key.name, names.iter().copied()))
                        .expected(format!("inputs among: {}", names.join(", "))),
                    ),
                    Some(s @ Value::Object(_)) => {
                        self.check(value, s, &format!("{prefix}{}", key.name), out)
                    }
                    _ => {}
                },
            }
        }
        if let Some(required) = schema.get("required").and_then(Value::as_array) {
            for name in required.iter().filter_map(Value::as_str) {
                if !entries.iter().any(|(k, _)| k.name == name) {
                    out.push(
                        Diagnostic::new(
                            node.loc(self.file),
                            format!("`{}` needs the input `{prefix}{name}`", self.kind),
                        )
                        .help(format!("add `{name}:` under `with:`")),
                    );
                }
            }
        }
    }

    fn resolve<'s>(&'s self, schema: &'s Value) -> &'s Value {
        let mut current = schema;
        for _ in 0..16 {
            let Some(reference) = current.get("$ref").and_then(Value::as_str) else {
                break;
            };
            let pointer = reference.trim_start_matches('#');
            match self.root.pointer(pointer) {
                Some(target) => current = target,
                None => break,
            }
        }
        current
    }
}

fn matches_type(node: &Node, t: &str) -> bool {
    matches!(
        (t, &node.value),
        ("null", NodeValue::Null)
            | ("boolean", NodeValue::Bool(_))
            | ("integer", NodeValue::Int(_))
            | ("number", NodeValue::Int(_) | NodeValue::Float(_))
            | ("string", NodeValue::Str(_))
            | ("array", NodeValue::Seq(_))
            | ("object", NodeValue::Map(_))
    )
}

fn type_names(types: &[&str]) -> String {
    let words: Vec<&str> = types
        .iter()
        .filter(|t| **t != "null")
        .map(|t| match *t {
            "boolean" => "true or false",
            "integer" => "a whole number",
            "number" => "a number",
            "string" => "a string",
            "array" => "a list",
            "object" => "a mapping",
            other => other,
        })
        .collect();
    words.join(" or ")
}

fn type_hint(types: &[&str], node: &Node) -> Option<String> {
    match (&node.value, types.first()) {
        (NodeValue::Str(_), Some(&"array")) => {
            Some("write a YAML list: `[a, b]`, or one `{{ expression }}` that yields a list".into())
        }
        (NodeValue::Int(_) | NodeValue::Float(_) | NodeValue::Bool(_), Some(&"string")) => {
            Some("quote the value to make it a string".into())
        }
        (NodeValue::Str(_), Some(&"integer" | &"number")) => {
            Some("write the number without quotes".into())
        }
        _ => None,
    }
}
