//! Writes of built-in kinds checked against the published Kubernetes JSON schemas: the
//! `v1.34.0-local-strict/_definitions.json` of the `kubernetes-validate` package (PyPI), copied
//! verbatim into `tests/fixtures/kubernetes-json-schema/` so that the emulator checks what
//! the real apiserver's OpenAPI says, not our picture of it.
//!
//! The apiserver checks a body in two stages, and so does this module:
//! - decoding ([`decode`]): a value of the wrong JSON type is a 400 worded as Go's
//!   `encoding/json` words it; a field the type does not have is dropped with a `Warning`, or
//!   refused with 400 under `fieldValidation=Strict`;
//! - validation ([`causes`], after defaulting): a missing required field is a 422 cause.
//!
//! Kinds without a published schema (custom resources) are not checked here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use jsonschema::error::ValidationErrorKind;
use serde_json::{Map, Value, json};

use super::resources::ResourceType;
use super::status::{ApiError, Cause};

/// The schema file, relative to this crate's manifest directory.
const DEFINITIONS: &str =
    "../fixtures/kubernetes-json-schema/v1.34.0-local-strict/_definitions.json";

/// What a request's `fieldValidation` asks for unknown fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    /// Dropped silently.
    Ignore,
    /// Dropped with a `Warning` header (the default since 1.27).
    Warn,
    /// Refused with 400.
    Strict,
}

impl FieldValidation {
    /// The mode a `fieldValidation` query value names (unknown values are the server's 400).
    pub fn parse(value: Option<&str>) -> Result<Self, ApiError> {
        match value {
            None | Some("") | Some("Warn") => Ok(Self::Warn),
            Some("Ignore") => Ok(Self::Ignore),
            Some("Strict") => Ok(Self::Strict),
            Some(other) => Err(ApiError::bad_request(format!(
                "fieldValidation parameter unsupported: {other}"
            ))),
        }
    }
}

fn definitions() -> &'static Map<String, Value> {
    static DEFS: OnceLock<Map<String, Value>> = OnceLock::new();
    DEFS.get_or_init(|| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFINITIONS);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read the Kubernetes schemas {}: {e}", path.display()));
        let doc: Value = serde_json::from_str(&text).expect("the Kubernetes schemas are JSON");
        doc["$defs"]
            .as_object()
            .cloned()
            .expect("the schemas have $defs")
    })
}

/// A published definition by name (`io.k8s.api.core.v1.Container`).
pub fn definition(name: &str) -> Option<&'static Value> {
    definitions().get(name)
}

/// The published definition of a built-in kind (looked up once per kind: every write asks).
pub fn root_definition(rt: &ResourceType) -> Option<&'static Value> {
    static CACHE: OnceLock<Mutex<HashMap<String, Option<&'static str>>>> = OnceLock::new();
    let key = format!("{}/{}/{}", rt.group, rt.version, rt.kind);
    let mut cache = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let name = *cache.entry(key).or_insert_with(|| definition_of(rt));
    name.and_then(definition)
}

/// The definition name (`io.k8s.api.apps.v1.Deployment`) of a served built-in kind.
fn definition_of(rt: &ResourceType) -> Option<&'static str> {
    definitions().iter().find_map(|(name, def)| {
        def["x-kubernetes-group-version-kind"]
            .as_array()?
            .iter()
            .any(|gvk| {
                gvk["group"] == rt.group && gvk["version"] == rt.version && gvk["kind"] == rt.kind
            })
            .then_some(name.as_str())
    })
}

type Compiled = Option<(&'static str, Arc<jsonschema::Validator>)>;

/// The compiled validator of a kind, built once per process.
fn validator(rt: &ResourceType) -> Compiled {
    static CACHE: OnceLock<Mutex<HashMap<String, Compiled>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = format!("{}/{}/{}", rt.group, rt.version, rt.kind);
    if let Some(v) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return v.clone();
    }
    let compiled = definition_of(rt).map(|def| {
        let root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$ref": format!("#/$defs/{def}"),
            "$defs": definitions(),
        });
        let v = jsonschema::validator_for(&root)
            .unwrap_or_else(|e| panic!("the published schema of {def} compiles: {e}"));
        (def, Arc::new(v))
    });
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, compiled.clone());
    compiled
}

/// The segments of a JSON pointer, unescaped.
fn segments(pointer: &str) -> Vec<String> {
    pointer
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect()
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// How a step from a schema node to a child is taken.
#[derive(Clone, Copy, PartialEq)]
enum Step {
    Property,
    Item,
    MapValue,
}

/// Follows `$ref`s; returns the schema and the last definition name passed.
fn resolve<'a>(schema: &'a Value, mut def: Option<&'a str>) -> (&'a Value, Option<&'a str>) {
    let mut s = schema;
    while let Some(r) = s["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap_or_default();
        match definitions().get(name) {
            Some(d) => {
                s = d;
                def = Some(
                    definitions()
                        .get_key_value(name)
                        .map(|(k, _)| k.as_str())
                        .unwrap_or(name),
                );
            }
            None => break,
        }
    }
    (s, def)
}

/// Where a pointer leads in the schema of `root_def`.
struct Walk {
    /// The Go type of the struct holding the last named field (`DeploymentSpec`).
    go_struct: String,
    /// The field names from the root, without indices or map keys (as Go reports them).
    go_field: Vec<String>,
    /// The apiserver's field path (`spec.template.spec.containers[0].name`).
    field_path: String,
    /// The schema at the pointer.
    leaf: &'static Value,
}

fn short(def: &str) -> &str {
    def.rsplit('.').next().unwrap_or(def)
}

fn walk(root_def: &'static str, pointer: &[String]) -> Walk {
    let defs = definitions();
    let (mut node, mut def) = resolve(&defs[root_def], Some(root_def));
    let mut go_struct = short(root_def).to_string();
    let mut go_field = Vec::new();
    let mut field_path = String::new();
    for seg in pointer {
        let step = if node["properties"].get(seg.as_str()).is_some() {
            Step::Property
        } else if node.get("items").is_some() {
            Step::Item
        } else if node["additionalProperties"].is_object() {
            Step::MapValue
        } else {
            break;
        };
        let child = match step {
            Step::Property => {
                go_struct = short(def.unwrap_or_default()).to_string();
                go_field.push(seg.clone());
                if !field_path.is_empty() {
                    field_path.push('.');
                }
                field_path.push_str(seg);
                &node["properties"][seg.as_str()]
            }
            Step::Item => {
                field_path.push_str(&format!("[{seg}]"));
                &node["items"]
            }
            Step::MapValue => {
                field_path.push_str(&format!("[{seg}]"));
                &node["additionalProperties"]
            }
        };
        (node, def) = resolve(child, def);
    }
    Walk {
        go_struct,
        go_field,
        field_path,
        leaf: node,
    }
}

/// The Go type a schema node decodes into, as `encoding/json` prints it.
fn go_type(schema: &Value) -> String {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap_or_default();
        let mut parts = name.rsplit('.');
        let kind = parts.next().unwrap_or_default();
        let package = parts.next().unwrap_or_default();
        return format!("{package}.{kind}");
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let format = schema["format"].as_str().unwrap_or_default();
    match types.iter().find(|t| **t != "null").copied() {
        Some("integer") => match format {
            "int32" => "int32".into(),
            _ => "int64".into(),
        },
        Some("number") => "float64".into(),
        Some("boolean") => "bool".into(),
        Some("string") if format == "byte" => "[]uint8".into(),
        Some("string") => "string".into(),
        Some("array") => format!("[]{}", go_type(&schema["items"])),
        Some("object") if schema["additionalProperties"].is_object() => {
            format!("map[string]{}", go_type(&schema["additionalProperties"]))
        }
        _ => "interface {}".into(),
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        Value::Null => "null",
    }
}

fn cannot_be_handled(rt: &ResourceType, why: &str) -> ApiError {
    ApiError::bad_request(format!(
        "{} in version {:?} cannot be handled as a {}: {why}",
        rt.kind, rt.version, rt.kind
    ))
}

/// The type-error and unknown-field findings of one pass over a body.
struct Findings {
    type_errors: Vec<(Vec<String>, Value)>,
    unknown: Vec<Vec<String>>,
    required: Vec<(Vec<String>, String)>,
    enums: Vec<(Vec<String>, Value, Vec<String>)>,
}

fn findings(validator: &jsonschema::Validator, obj: &Value) -> Findings {
    let mut f = Findings {
        type_errors: Vec::new(),
        unknown: Vec::new(),
        required: Vec::new(),
        enums: Vec::new(),
    };
    for e in validator.iter_errors(obj) {
        let at = segments(e.instance_path().as_str());
        match e.kind() {
            ValidationErrorKind::Type { .. } | ValidationErrorKind::OneOfNotValid { .. } => {
                f.type_errors.push((at, e.instance().clone().into_owned()));
            }
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                for name in unexpected {
                    let mut p = at.clone();
                    p.push(name.clone());
                    f.unknown.push(p);
                }
            }
            ValidationErrorKind::Required { property } => {
                f.required
                    .push((at, property.as_str().unwrap_or_default().to_string()));
            }
            ValidationErrorKind::Enum { options } => {
                let allowed = options
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|o| o.as_str().map(str::to_string))
                    .collect();
                f.enums
                    .push((at, e.instance().clone().into_owned(), allowed));
            }
            _ => {}
        }
    }
    f
}

/// Decoding a body of a built-in kind: wrong types are refused, unknown fields pruned (and
/// named in the returned warnings) or refused, as `mode` says.
pub fn decode(
    rt: &ResourceType,
    obj: &mut Value,
    mode: FieldValidation,
) -> Result<Vec<String>, ApiError> {
    if rt.custom {
        let unknown = super::crd::prune(rt, obj);
        return report_unknown(rt, &unknown, mode);
    }
    let Some((def, validator)) = validator(rt) else {
        return Ok(Vec::new());
    };
    let found = findings(&validator, obj);
    if let Some((at, value)) = found.type_errors.first() {
        let w = walk(def, at);
        let field = if w.go_field.is_empty() {
            String::new()
        } else {
            format!(" field {}.{}", w.go_struct, w.go_field.join("."))
        };
        let target = if w.go_field.is_empty() {
            format!("Go value of type {}", go_type_of_leaf(def, at))
        } else {
            format!("Go struct{field} of type {}", go_type_of_leaf(def, at))
        };
        return Err(cannot_be_handled(
            rt,
            &format!("json: cannot unmarshal {} into {target}", json_type(value)),
        ));
    }
    let unknown: Vec<String> = found
        .unknown
        .iter()
        .map(|p| {
            let parent = walk(def, &p[..p.len() - 1]).field_path;
            let last = p.last().cloned().unwrap_or_default();
            if parent.is_empty() {
                last
            } else {
                format!("{parent}.{last}")
            }
        })
        .collect();
    let warnings = report_unknown(rt, &unknown, mode)?;
    for p in &found.unknown {
        let parent: String = p[..p.len() - 1]
            .iter()
            .map(|s| format!("/{}", escape(s)))
            .collect();
        if let Some(o) = obj.pointer_mut(&parent).and_then(Value::as_object_mut) {
            o.remove(p.last().map(String::as_str).unwrap_or_default());
        }
    }
    Ok(warnings)
}

/// Unknown fields as the warnings of a pruning decode, or the 400 of a strict one.
fn report_unknown(
    rt: &ResourceType,
    unknown: &[String],
    mode: FieldValidation,
) -> Result<Vec<String>, ApiError> {
    let named: Vec<String> = unknown
        .iter()
        .map(|u| format!("unknown field {u:?}"))
        .collect();
    match mode {
        _ if named.is_empty() => Ok(Vec::new()),
        FieldValidation::Strict => Err(cannot_be_handled(
            rt,
            &format!("strict decoding error: {}", named.join(", ")),
        )),
        FieldValidation::Warn => Ok(named),
        FieldValidation::Ignore => Ok(Vec::new()),
    }
}

/// The Go type at a pointer: a map value or list item reports the element's type.
fn go_type_of_leaf(def: &'static str, at: &[String]) -> String {
    if at.is_empty() {
        return short(def).to_string();
    }
    let parent = walk(def, &at[..at.len() - 1]).leaf;
    let last = &at[at.len() - 1];
    let child = if parent["properties"].get(last.as_str()).is_some() {
        &parent["properties"][last.as_str()]
    } else if parent.get("items").is_some() {
        &parent["items"]
    } else if parent["additionalProperties"].is_object() {
        &parent["additionalProperties"]
    } else {
        return "interface {}".into();
    };
    go_type(child)
}

/// The schema's validation findings for a (defaulted) object: required fields and enums.
pub fn causes(rt: &ResourceType, obj: &Value) -> Vec<Cause> {
    let Some((def, validator)) = validator(rt) else {
        return Vec::new();
    };
    let found = findings(&validator, obj);
    let mut out = Vec::new();
    for (at, property) in found.required {
        let parent = walk(def, &at).field_path;
        let field = if parent.is_empty() {
            property
        } else {
            format!("{parent}.{property}")
        };
        out.push(Cause::required(field));
    }
    for (at, value, allowed) in found.enums {
        out.push(Cause::not_supported(
            walk(def, &at).field_path,
            &value.to_string(),
            &allowed,
        ));
    }
    out
}

/// Whether the published schemas describe this kind (custom resources are not in them).
pub fn knows(rt: &ResourceType) -> bool {
    validator(rt).is_some()
}
