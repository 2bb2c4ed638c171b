//! Each kind's `with` schema (schemars, draft 2020-12) brought into the runbook schema (draft-07):
//! definitions moved to the root under the kind's prefix, `$ref`s rewritten, and a template string
//! accepted wherever a number, a boolean, a list or a fixed value is expected.

use super::TEMPLATE_REF;
use serde_json::{Map, Value, json};

/// A kind's `with` schema brought into the runbook schema. Its definitions go to `definitions`
/// as `kind:NAME:DEFINITION`; the schema itself is returned for the kind's `then` (and stored as
/// `kind:NAME` only if something refers to it).
pub(super) fn import_kind_schema(
    kind: &str,
    about: &str,
    schema: Value,
    definitions: &mut Map<String, Value>,
) -> Value {
    let Value::Object(mut root) = schema else {
        return schema;
    };
    let mut own_definitions = Map::new();
    for key in ["$defs", "definitions"] {
        if let Some(Value::Object(found)) = root.remove(key) {
            own_definitions.extend(found);
        }
    }
    // The generator's name for the input struct means nothing to an author; the kind's one line
    // is what an editor should show on hover.
    for key in ["$schema", "$id", "title"] {
        root.remove(key);
    }
    root.insert("description".into(), about.into());
    let mut import = KindImport {
        kind,
        refers_to_root: false,
    };
    for (name, definition) in own_definitions {
        let imported = import.schema(definition, true);
        definitions.insert(import.definition_name(&name), imported);
    }
    // `with` itself must be a mapping (the loader says so), so the root takes no template.
    let root = import.schema(Value::Object(root), false);
    if import.refers_to_root {
        definitions.insert(import.root_name(), root.clone());
    }
    root
}

struct KindImport<'a> {
    kind: &'a str,
    refers_to_root: bool,
}

impl KindImport<'_> {
    fn definition_name(&self, name: &str) -> String {
        format!("kind:{}:{name}", self.kind)
    }

    fn root_name(&self) -> String {
        format!("kind:{}", self.kind)
    }

    /// One schema, its subschemas first. `accept_templates`: whether a template string may stand
    /// for the value (everywhere but the root and conditions).
    fn schema(&mut self, schema: Value, accept_templates: bool) -> Value {
        let Value::Object(mut map) = schema else {
            return schema;
        };
        for key in ["properties", "patternProperties", "dependentSchemas"] {
            if let Some(Value::Object(entries)) = map.get_mut(key) {
                for value in entries.values_mut() {
                    *value = self.schema(value.take(), true);
                }
            }
        }
        // The branches of `anyOf` and `oneOf` take no template of their own: the combinator as a
        // whole does (see `rejects_template_strings`), once, rather than in every branch.
        for (key, accept) in [
            ("allOf", true),
            ("prefixItems", true),
            ("anyOf", false),
            ("oneOf", false),
        ] {
            if let Some(Value::Array(items)) = map.get_mut(key) {
                for value in items.iter_mut() {
                    *value = self.schema(value.take(), accept);
                }
            }
        }
        for (key, accept) in [
            ("items", true),
            ("additionalItems", true),
            ("additionalProperties", true),
            ("contains", true),
            ("then", true),
            ("else", true),
            // Property names are never templates; conditions test the value as written.
            ("propertyNames", false),
            ("if", false),
            ("not", false),
        ] {
            match map.get_mut(key) {
                Some(Value::Array(items)) => {
                    for value in items.iter_mut() {
                        *value = self.schema(value.take(), accept);
                    }
                }
                Some(value @ Value::Object(_)) => *value = self.schema(value.take(), accept),
                _ => {}
            }
        }
        if let Some(Value::String(reference)) = map.get("$ref") {
            let rewritten = self.reference(reference);
            map.insert("$ref".into(), rewritten.into());
        }
        let map = to_draft07(map);
        if accept_templates && rejects_template_strings(&map) {
            with_template(map)
        } else {
            Value::Object(map)
        }
    }

    /// `#/$defs/Name` (or `#/definitions/Name`) to `#/definitions/kind:KIND:Name`, and `#` (the
    /// kind's root) to `#/definitions/kind:KIND`. References outside the document are left alone.
    fn reference(&mut self, reference: &str) -> String {
        let Some(fragment) = reference.strip_prefix('#') else {
            return reference.to_string();
        };
        let pointer = percent_decode(fragment);
        let segments: Vec<String> = pointer.split('/').skip(1).map(pointer_unescape).collect();
        let mut target = vec!["definitions".to_string()];
        match segments.first().map(String::as_str) {
            Some("$defs" | "definitions") if segments.len() >= 2 => {
                target.push(self.definition_name(&segments[1]));
                target.extend(segments[2..].iter().cloned());
            }
            _ => {
                self.refers_to_root = true;
                target.push(self.root_name());
                target.extend(segments);
            }
        }
        let encoded: String = target
            .iter()
            .map(|s| format!("/{}", percent_encode(&pointer_escape(s))))
            .collect();
        format!("#{encoded}")
    }
}

/// Draft 2020-12 keywords schemars writes, in their draft-07 spelling.
fn to_draft07(mut map: Map<String, Value>) -> Map<String, Value> {
    if let Some(prefix) = map.remove("prefixItems") {
        if let Some(rest) = map.remove("items") {
            map.insert("additionalItems".into(), rest);
        }
        map.insert("items".into(), prefix);
    }
    for key in ["dependentRequired", "dependentSchemas"] {
        if let Some(Value::Object(entries)) = map.remove(key) {
            let dependencies = map.entry("dependencies").or_insert_with(|| json!({}));
            if let Some(dependencies) = dependencies.as_object_mut() {
                dependencies.extend(entries);
            }
        }
    }
    // Draft-07 ignores every keyword next to `$ref` (a description, a default, `nullable` rules):
    // `allOf: [{$ref}]` keeps them in force.
    if map.len() > 1
        && let Some(reference) = map.remove("$ref")
    {
        let reference = json!({"$ref": reference});
        match map.get_mut("allOf") {
            Some(Value::Array(all)) => all.insert(0, reference),
            _ => {
                map.insert("allOf".into(), json!([reference]));
            }
        }
    }
    map
}

/// Whether a template string could fail this schema: it expects another type, a fixed value or
/// a shaped string. `anyOf` and `oneOf` count too, as their branches take no template (and a
/// template would match every string branch of a `oneOf`, which fails it).
fn rejects_template_strings(map: &Map<String, Value>) -> bool {
    if ["anyOf", "oneOf", "enum", "const"]
        .iter()
        .any(|k| map.contains_key(*k))
    {
        return true;
    }
    let Some(types) = map.get("type") else {
        return false;
    };
    let takes_strings = match types {
        Value::String(t) => t == "string",
        Value::Array(ts) => ts.iter().any(|t| t == "string"),
        _ => true,
    };
    !takes_strings
        || ["pattern", "format", "minLength", "maxLength"]
            .iter()
            .any(|k| map.contains_key(*k))
}

/// `anyOf: [template, schema]`, with the annotations outside where editors look for them.
fn with_template(mut map: Map<String, Value>) -> Value {
    let mut outer = Map::new();
    for key in ["description", "title", "default", "examples", "deprecated"] {
        if let Some(value) = map.remove(key) {
            outer.insert(key.into(), value);
        }
    }
    outer.insert(
        "anyOf".into(),
        json!([{"$ref": TEMPLATE_REF}, Value::Object(map)]),
    );
    Value::Object(outer)
}

fn pointer_escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

pub(super) fn pointer_unescape(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

/// Percent-encodes what a URI fragment cannot hold (definition names can be `Vec<Foo>`).
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        let allowed = byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?".contains(&byte);
        if allowed {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

pub(super) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
