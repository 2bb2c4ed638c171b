//! `apiextensions.k8s.io/v1` CustomResourceDefinitions: creating one serves its kind (per
//! served version, with exactly the subresources the CRD declares), and writes of its objects
//! are checked against the version's `openAPIV3Schema` as the apiextensions server checks them:
//! unknown fields pruned (with a warning, or 400 under `fieldValidation=Strict`) unless
//! `x-kubernetes-preserve-unknown-fields`, and wrong types, enums and missing required fields
//! 422 with the structural-schema validator's wording.
//!
//! Types are registered process-wide (one leaked `ResourceType` per group/version/plural, so
//! that the rest of the emulator keeps `&'static` types); each store serves only the CRDs
//! created in it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use jsonschema::error::ValidationErrorKind;
use serde_json::{Map, Value, json};

use super::resources::ResourceType;
use super::status::Cause;

/// One registered custom type with its schema.
struct Registered {
    rt: &'static ResourceType,
    schema: Arc<Value>,
    /// The `openAPIV3Schema` as the CRD gives it, `x-kubernetes-*` markers included (field
    /// management reads list and map types from it).
    structural: Arc<Value>,
    validator: Arc<jsonschema::Validator>,
}

fn registry() -> &'static RwLock<Vec<Registered>> {
    static REGISTRY: OnceLock<RwLock<Vec<Registered>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

fn leak(s: &str) -> &'static str {
    // Interned, so that re-registering a CRD in another emulator leaks nothing new.
    static INTERNED: OnceLock<Mutex<HashMap<String, &'static str>>> = OnceLock::new();
    let mut map = INTERNED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(s) = map.get(s) {
        return s;
    }
    let leaked: &'static str = Box::leak(s.to_string().into_boxed_str());
    map.insert(s.to_string(), leaked);
    leaked
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

/// The structural schema as JSON Schema: `nullable` admits null, objects with `properties`
/// and no `x-kubernetes-preserve-unknown-fields` admit no other fields (so that they are
/// found and pruned), `x-kubernetes-int-or-string` admits both.
fn to_json_schema(s: &Value) -> Value {
    let Some(map) = s.as_object() else {
        return s.clone();
    };
    let mut out = Map::new();
    for (k, v) in map {
        match k.as_str() {
            "properties" => {
                let props: Map<String, Value> = v
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(name, p)| (name.clone(), to_json_schema(p)))
                    .collect();
                out.insert(k.clone(), Value::Object(props));
            }
            "items" | "additionalProperties" if v.is_object() => {
                out.insert(k.clone(), to_json_schema(v));
            }
            "allOf" | "anyOf" | "oneOf" => {
                let list: Vec<Value> = v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(to_json_schema)
                    .collect();
                out.insert(k.clone(), Value::Array(list));
            }
            "description" | "nullable" | "format" | "default" | "example" => {}
            _ if k.starts_with("x-kubernetes-") => {}
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    let preserve = map.get("x-kubernetes-preserve-unknown-fields") == Some(&json!(true));
    if map.get("x-kubernetes-int-or-string") == Some(&json!(true)) {
        out.remove("type");
        out.insert("type".into(), json!(["integer", "string"]));
    }
    if map.get("nullable") == Some(&json!(true))
        && let Some(t) = out.get("type").cloned()
    {
        let mut types = match t {
            Value::Array(a) => a,
            other => vec![other],
        };
        types.push(json!("null"));
        out.insert("type".into(), Value::Array(types));
        if let Some(Value::Array(options)) = out.get_mut("enum") {
            options.push(Value::Null);
        }
    }
    if map.contains_key("properties") && !preserve && !map.contains_key("additionalProperties") {
        out.insert("additionalProperties".into(), json!(false));
    }
    Value::Object(out)
}

/// The types a CRD object defines (one per served version), registering them process-wide.
pub fn register(crd: &Value) -> Vec<&'static ResourceType> {
    let spec = &crd["spec"];
    let names = &spec["names"];
    let group = leak(spec["group"].as_str().unwrap_or_default());
    let plural = leak(names["plural"].as_str().unwrap_or_default());
    let kind = leak(names["kind"].as_str().unwrap_or_default());
    let singular = leak(
        names["singular"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| kind.to_ascii_lowercase())
            .as_str(),
    );
    let short: Vec<&'static str> = strings(&names["shortNames"])
        .iter()
        .map(|s| leak(s))
        .collect();
    let short: &'static [&'static str] = Box::leak(short.into_boxed_slice());
    let namespaced = spec["scope"] != "Cluster";
    let mut out = Vec::new();
    for version in spec["versions"].as_array().into_iter().flatten() {
        if version["served"] == json!(false) {
            continue;
        }
        let name = leak(version["name"].as_str().unwrap_or_default());
        let mut subs: Vec<&'static str> = Vec::new();
        if version["subresources"]["status"].is_object() {
            subs.push("status");
        }
        if version["subresources"]["scale"].is_object() {
            subs.push("scale");
        }
        let structural = Arc::new(version["schema"]["openAPIV3Schema"].clone());
        let schema = Arc::new(to_json_schema(&structural));
        let mut reg = registry().write().unwrap_or_else(|e| e.into_inner());
        let existing = reg
            .iter()
            .position(|r| r.rt.group == group && r.rt.version == name && r.rt.plural == plural);
        let same = existing.is_some_and(|i| {
            let r = reg[i].rt;
            *reg[i].schema == *schema
                && *reg[i].structural == *structural
                && r.subresources == subs.as_slice()
                && r.kind == kind
                && r.namespaced == namespaced
                && r.short_names == short
        });
        if same {
            out.push(reg[existing.expect("found")].rt);
            continue;
        }
        let subresources: &'static [&'static str] = Box::leak(subs.into_boxed_slice());
        let rt: &'static ResourceType = Box::leak(Box::new(ResourceType {
            group,
            version: name,
            plural,
            singular,
            kind,
            namespaced,
            short_names: short,
            subresources,
            extra_field_selectors: &[],
            custom: true,
        }));
        let mut root = (*schema).clone();
        if let Some(o) = root.as_object_mut() {
            o.insert(
                "$schema".into(),
                json!("https://json-schema.org/draft/2020-12/schema"),
            );
            // The apiserver owns metadata; the CRD schema's `metadata: {type: object}` is no pruning rule.
            if let Some(props) = o.get_mut("properties").and_then(Value::as_object_mut) {
                props.insert("metadata".into(), json!({"type": "object"}));
            }
        }
        let validator = match jsonschema::validator_for(&root) {
            Ok(v) => Arc::new(v),
            Err(_) => Arc::new(jsonschema::validator_for(&json!({})).expect("empty schema")),
        };
        let entry = Registered {
            rt,
            schema,
            structural,
            validator,
        };
        match existing {
            Some(i) => reg[i] = entry,
            None => reg.push(entry),
        }
        out.push(rt);
    }
    out
}

/// The registered type at group/version/plural, if any emulator defined it.
pub fn by_plural(group: &str, version: &str, plural: &str) -> Option<&'static ResourceType> {
    registry()
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|r| r.rt.group == group && r.rt.version == version && r.rt.plural == plural)
        .map(|r| r.rt)
}

/// The `openAPIV3Schema` of a registered custom type, as its CRD declares it.
pub fn structural_schema(rt: &ResourceType) -> Option<Arc<Value>> {
    registry()
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|r| r.rt.group == rt.group && r.rt.version == rt.version && r.rt.plural == rt.plural)
        .map(|r| r.structural.clone())
}

/// The registered type of an apiVersion and kind.
pub fn by_kind(api_version: &str, kind: &str) -> Option<&'static ResourceType> {
    registry()
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|r| r.rt.api_version() == api_version && r.rt.kind == kind)
        .map(|r| r.rt)
}

fn validator(rt: &ResourceType) -> Option<Arc<jsonschema::Validator>> {
    registry()
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|r| r.rt.group == rt.group && r.rt.version == rt.version && r.rt.plural == rt.plural)
        .map(|r| r.validator.clone())
}

fn pointer_to_path(pointer: &str) -> String {
    let mut out = String::new();
    for seg in pointer.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        if seg.chars().all(|c| c.is_ascii_digit()) && !seg.is_empty() {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&seg);
        }
    }
    out
}

fn json_type_name(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "string",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::Bool(_) => "boolean",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        Value::Null => "null",
    }
}

/// Decoding a custom object: the unknown fields (pruned from `obj`), as field paths.
pub fn prune(rt: &ResourceType, obj: &mut Value) -> Vec<String> {
    let Some(v) = validator(rt) else {
        return Vec::new();
    };
    let mut unknown = Vec::new();
    for e in v.iter_errors(obj) {
        if let ValidationErrorKind::AdditionalProperties { unexpected } = e.kind() {
            for name in unexpected {
                unknown.push((e.instance_path().as_str().to_string(), name.clone()));
            }
        }
    }
    let mut out = Vec::new();
    for (parent, name) in unknown {
        let path = pointer_to_path(&parent);
        out.push(if path.is_empty() {
            name.clone()
        } else {
            format!("{path}.{name}")
        });
        if let Some(o) = obj.pointer_mut(&parent).and_then(Value::as_object_mut) {
            o.remove(&name);
        }
    }
    out
}

/// The schema's findings for a custom object, in the structural validator's words.
pub fn causes(rt: &ResourceType, obj: &Value) -> Vec<Cause> {
    let Some(v) = validator(rt) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in v.iter_errors(obj) {
        let at = pointer_to_path(e.instance_path().as_str());
        match e.kind() {
            ValidationErrorKind::Type { kind } => {
                let expected = match kind {
                    jsonschema::error::TypeKind::Single(t) => t.to_string(),
                    jsonschema::error::TypeKind::Multiple(ts) => ts
                        .iter()
                        .map(|t| t.to_string())
                        .filter(|t| t != "null")
                        .collect::<Vec<_>>()
                        .join(","),
                };
                let got = json_type_name(e.instance());
                out.push(Cause::invalid(
                    at.clone(),
                    &format!("{got:?}"),
                    &format!("{at} in body must be of type {expected}: {got:?}"),
                ));
            }
            ValidationErrorKind::Enum { options } => {
                out.push(Cause::not_supported(
                    at,
                    &e.instance().to_string(),
                    &strings(options),
                ));
            }
            ValidationErrorKind::Required { property } => {
                let p = property.as_str().unwrap_or_default();
                out.push(Cause::required(if at.is_empty() {
                    p.to_string()
                } else {
                    format!("{at}.{p}")
                }));
            }
            ValidationErrorKind::Minimum { limit } => out.push(Cause::invalid(
                at.clone(),
                &e.instance().to_string(),
                &format!("{at} in body should be greater than or equal to {limit}"),
            )),
            ValidationErrorKind::Maximum { limit } => out.push(Cause::invalid(
                at.clone(),
                &e.instance().to_string(),
                &format!("{at} in body should be less than or equal to {limit}"),
            )),
            ValidationErrorKind::Pattern { pattern } => out.push(Cause::invalid(
                at.clone(),
                &e.instance().to_string(),
                &format!("{at} in body should match '{pattern}'"),
            )),
            _ => {}
        }
    }
    out
}

/// The status the apiextensions controllers give an accepted CRD.
pub fn accepted_status(crd: &Value, now: &str) -> Value {
    let names = crd["spec"]["names"].clone();
    let condition = |kind: &str, reason: &str, message: &str| json!({"type": kind, "status": "True", "lastTransitionTime": now, "reason": reason, "message": message});
    json!({
        "acceptedNames": names,
        "conditions": [
            condition("NamesAccepted", "NoConflicts", "no conflicts found"),
            condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ],
        "storedVersions": crd["spec"]["versions"].as_array().into_iter().flatten()
            .filter(|v| v["storage"] == json!(true)).map(|v| v["name"].clone()).collect::<Vec<_>>(),
    })
}

/// A CRD's name must be `<plural>.<group>`.
pub fn name_causes(crd: &Value) -> Vec<Cause> {
    let name = crd["metadata"]["name"].as_str().unwrap_or_default();
    let want = format!(
        "{}.{}",
        crd["spec"]["names"]["plural"].as_str().unwrap_or_default(),
        crd["spec"]["group"].as_str().unwrap_or_default()
    );
    if name == want {
        Vec::new()
    } else {
        vec![Cause::invalid(
            "metadata.name",
            &format!("{name:?}"),
            "must be spec.names.plural+\".\"+spec.group",
        )]
    }
}
