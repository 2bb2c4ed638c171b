//! The OpenSearch API specification (its OpenAPI files, as the reference holds them) used to
//! check a reply: the operation's response schema for a path, method and status, and a small
//! JSON Schema check of the reply against it (`$ref` across files, `type`, `properties`,
//! `required`, `additionalProperties`, `items`, `allOf`/`anyOf`/`oneOf`, `enum`, `const`,
//! `pattern`). A `$ref` into a file the reference does not include checks nothing.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

pub struct Spec {
    /// File name (`snapshot.yaml`, `_common.yaml`) to its content.
    files: BTreeMap<String, Value>,
    namespaces: Vec<String>,
}

/// A response schema: the file it is written in (for its relative `$ref`s) and the schema.
pub struct ResponseSchema<'a> {
    file: String,
    schema: &'a Value,
    pub operation: String,
}

impl Spec {
    /// Reads `<root>/namespaces/*.yaml` and `<root>/schemas/*.yaml`.
    pub fn load(root: &Path) -> Result<Spec, String> {
        let mut files = BTreeMap::new();
        let mut namespaces = Vec::new();
        for dir in ["namespaces", "schemas"] {
            let entries = std::fs::read_dir(root.join(dir))
                .map_err(|e| format!("{}: {e}", root.join(dir).display()))?;
            for entry in entries.flatten() {
                let path = entry.path();
                let name = path
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                let text = std::fs::read_to_string(&path).map_err(|e| format!("{name}: {e}"))?;
                let value: Value =
                    serde_saphyr::from_str(&text).map_err(|e| format!("{name}: {e}"))?;
                if dir == "namespaces" {
                    namespaces.push(name.clone());
                }
                files.insert(name, value);
            }
        }
        Ok(Spec { files, namespaces })
    }

    /// The schema of `method path`'s reply with `status` and content type (JSON unless `text`).
    pub fn response_schema(
        &self,
        path: &str,
        method: &str,
        status: u16,
        text: bool,
    ) -> Option<ResponseSchema<'_>> {
        for ns in &self.namespaces {
            let operation = &self.files[ns]["paths"][path][method.to_lowercase()];
            if operation.is_null() {
                continue;
            }
            let response = &operation["responses"][status.to_string()];
            let (file, response) = self.follow(ns, response)?;
            let content = if text {
                "text/plain"
            } else {
                "application/json"
            };
            let schema = &response["content"][content]["schema"];
            if schema.is_null() {
                return None;
            }
            return Some(ResponseSchema {
                file,
                schema,
                operation: operation["x-operation-group"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            });
        }
        None
    }

    /// Follows `$ref`s from `file` until a schema without one; None when a file is missing.
    fn follow<'a>(&'a self, file: &str, value: &'a Value) -> Option<(String, &'a Value)> {
        let mut file = file.to_string();
        let mut value = value;
        for _ in 0..32 {
            let Some(reference) = value.get("$ref").and_then(Value::as_str) else {
                return Some((file, value));
            };
            let (target, pointer) = reference.split_once('#').unwrap_or((reference, ""));
            if !target.is_empty() {
                file = target.rsplit('/').next().unwrap_or(target).to_string();
            }
            value = self.files.get(&file)?.pointer(pointer)?;
        }
        None
    }

    /// Problems of `value` against a response schema (empty when it conforms).
    pub fn check(&self, schema: &ResponseSchema, value: &Value) -> Vec<String> {
        let mut problems = Vec::new();
        self.validate(&schema.file, schema.schema, value, "$", &mut problems);
        problems
    }

    fn validate(
        &self,
        file: &str,
        schema: &Value,
        value: &Value,
        at: &str,
        problems: &mut Vec<String>,
    ) {
        let Some((file, schema)) = self.follow(file, schema) else {
            return;
        };
        let file = file.as_str();
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for s in all {
                self.validate(file, s, value, at, problems);
            }
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(branches) = schema.get(key).and_then(Value::as_array) {
                let fits = branches.iter().any(|s| {
                    let mut p = Vec::new();
                    self.validate(file, s, value, at, &mut p);
                    p.is_empty()
                });
                if !fits {
                    problems.push(format!("{at}: matches no branch of {key}"));
                }
            }
        }
        if let Some(expected) = schema.get("const")
            && expected != value
        {
            problems.push(format!("{at}: is {value}, the schema wants {expected}"));
        }
        if let Some(options) = schema.get("enum").and_then(Value::as_array)
            && !options.contains(value)
        {
            problems.push(format!(
                "{at}: {value} is not one of {}",
                Value::Array(options.clone())
            ));
        }
        if let Some(kind) = schema.get("type") {
            let kinds: Vec<&str> = match kind {
                Value::String(k) => vec![k.as_str()],
                Value::Array(ks) => ks.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            if !kinds.is_empty() && !kinds.iter().any(|k| is_type(k, value)) {
                problems.push(format!("{at}: {value} is not of type {}", kinds.join("|")));
                return;
            }
        }
        if let (Some(pattern), Some(text)) = (
            schema.get("pattern").and_then(Value::as_str),
            value.as_str(),
        ) && let Ok(re) = regex::Regex::new(pattern)
            && !re.is_match(text)
        {
            problems.push(format!("{at}: {text:?} does not match /{pattern}/"));
        }
        if let Some(object) = value.as_object() {
            let properties = schema.get("properties").and_then(Value::as_object);
            for required in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(name) = required.as_str()
                    && !object.contains_key(name)
                {
                    problems.push(format!("{at}: required field `{name}` is missing"));
                }
            }
            for (name, v) in object {
                let here = format!("{at}.{name}");
                match properties.and_then(|p| p.get(name)) {
                    Some(s) => self.validate(file, s, v, &here, problems),
                    None => match schema.get("additionalProperties") {
                        Some(Value::Bool(false)) => problems.push(format!("{here}: not allowed")),
                        Some(s @ Value::Object(_)) => self.validate(file, s, v, &here, problems),
                        _ => {}
                    },
                }
            }
        }
        if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
            for (i, v) in array.iter().enumerate() {
                self.validate(file, items, v, &format!("{at}[{i}]"), problems);
            }
        }
    }
}

fn is_type(kind: &str, value: &Value) -> bool {
    match kind {
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "null" => value.is_null(),
        "number" => value.is_number(),
        "integer" => {
            value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => true,
    }
}
