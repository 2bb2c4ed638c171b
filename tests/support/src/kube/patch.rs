//! PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902), strategic merge patch, and
//! server-side apply.
//!
//! Simplifications, on purpose:
//! - Strategic merge knows the merge keys of the lists runbooks touch (containers, volumes, env,
//!   ports, volumeMounts, conditions, ownerReferences, imagePullSecrets; `finalizers` merges as a
//!   set) and the `$patch: delete|replace` and `$deleteFromPrimitiveList/<field>` directives;
//!   every other list is replaced.
//!
//! Server-side apply is not done here but in `managed_fields.rs` (field ownership, conflicts,
//! `force`), with the list and map types of the kind's schema; only an apply to `/scale` still
//! merges with the rules above.

use serde_json::{Map, Value, json};

use super::status::ApiError;

/// The patch formats, by request `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// `application/merge-patch+json`
    Merge,
    /// `application/json-patch+json`
    Json,
    /// `application/strategic-merge-patch+json`
    Strategic,
    /// `application/apply-patch+yaml` (also `+cbor`-less JSON bodies, which are YAML too)
    Apply,
}

impl PatchType {
    /// The patch type a `Content-Type` header names.
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        match essence {
            "application/merge-patch+json" => Some(Self::Merge),
            "application/json-patch+json" => Some(Self::Json),
            "application/strategic-merge-patch+json" => Some(Self::Strategic),
            "application/apply-patch+yaml" => Some(Self::Apply),
            _ => None,
        }
    }
}

/// The 422 a patch that does not apply gets (`NewGenericServerResponse(422, ...)`).
fn unprocessable() -> ApiError {
    ApiError {
        code: 422,
        reason: "Invalid",
        message: "the server rejected our request due to an error in our request".into(),
        details: Some(json!({})),
    }
}

/// Parses a patch body: JSON, or YAML for apply.
pub fn parse_body(patch_type: PatchType, body: &[u8]) -> Result<Value, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => Ok(v),
        Err(json_err) if patch_type == PatchType::Apply => {
            let text = std::str::from_utf8(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
            serde_saphyr::from_str::<Value>(text).map_err(|e| {
                ApiError::bad_request(format!("error decoding YAML: {e} (as JSON: {json_err})"))
            })
        }
        Err(e) => Err(ApiError::bad_request(format!("error decoding patch: {e}"))),
    }
}

/// Applies a parsed patch to the current object and returns the patched object.
pub fn apply(patch_type: PatchType, current: &Value, patch: &Value) -> Result<Value, ApiError> {
    match patch_type {
        PatchType::Merge => {
            if !patch.is_object() {
                return Err(ApiError::bad_request(
                    "json: cannot unmarshal into Go value of type map[string]interface {}",
                ));
            }
            let mut doc = current.clone();
            json_patch::merge(&mut doc, patch);
            Ok(doc)
        }
        PatchType::Json => {
            let ops: json_patch::Patch = serde_json::from_value(patch.clone())
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            let mut doc = current.clone();
            json_patch::patch(&mut doc, &ops).map_err(|_| unprocessable())?;
            Ok(doc)
        }
        PatchType::Strategic | PatchType::Apply => {
            if !patch.is_object() {
                return Err(ApiError::bad_request(
                    "the body of the request was in an unknown format",
                ));
            }
            let mut doc = current.clone();
            strategic_merge(&mut doc, patch);
            Ok(doc)
        }
    }
}

/// The merge key of a list field, for the lists strategic merge treats as maps.
fn merge_key(field: &str, element: &Value) -> Option<&'static str> {
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets"
        | "hostAliases" => Some("name"),
        "volumeMounts" => Some("mountPath"),
        "conditions" => Some("type"),
        "ownerReferences" => Some("uid"),
        "ports" if element.get("containerPort").is_some() => Some("containerPort"),
        "ports" => Some("port"),
        _ => None,
    }
}

/// Lists of scalars that strategic merge unions instead of replacing.
fn is_set_list(field: &str) -> bool {
    field == "finalizers"
}

/// Strategic merge of `patch` into `target`.
pub fn strategic_merge(target: &mut Value, patch: &Value) {
    let Some(patch_map) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    match patch_map.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            let mut replaced = patch_map.clone();
            replaced.remove("$patch");
            *target = Value::Object(replaced);
            return;
        }
        Some("delete") => {
            *target = Value::Null;
            return;
        }
        _ => {}
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    for (key, value) in patch_map {
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
            let remove: Vec<&Value> = value.as_array().into_iter().flatten().collect();
            if let Some(list) = target.get_mut(field).and_then(Value::as_array_mut) {
                list.retain(|v| !remove.contains(&v));
            }
            continue;
        }
        if key.starts_with('$') {
            // $setElementOrder/..., $retainKeys: ordering and pruning hints, not applied here.
            continue;
        }
        let obj = target.as_object_mut().expect("made an object above");
        match value {
            Value::Null => {
                obj.remove(key);
            }
            Value::Object(_) => {
                let entry = obj.entry(key.clone()).or_insert(Value::Null);
                strategic_merge(entry, value);
                if entry.is_null() {
                    obj.remove(key);
                }
            }
            Value::Array(items) => {
                let existing = obj.get_mut(key).and_then(Value::as_array_mut);
                match (existing, items.first()) {
                    (Some(list), Some(first))
                        if merge_key(key, first).is_some() && first.is_object() =>
                    {
                        let mk = merge_key(key, first).expect("checked");
                        merge_keyed_list(list, items, mk);
                    }
                    (Some(list), _) if is_set_list(key) => {
                        for item in items {
                            if !list.contains(item) {
                                list.push(item.clone());
                            }
                        }
                    }
                    _ => {
                        obj.insert(key.clone(), value.clone());
                    }
                }
            }
            _ => {
                obj.insert(key.clone(), value.clone());
            }
        }
    }
}

fn merge_keyed_list(list: &mut Vec<Value>, items: &[Value], key: &str) {
    for item in items {
        let id = item.get(key);
        let position = list.iter().position(|e| e.get(key) == id && id.is_some());
        let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
        match (position, delete) {
            (Some(i), true) => {
                list.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => strategic_merge(&mut list[i], item),
            (None, false) => {
                let mut fresh = Value::Null;
                strategic_merge(&mut fresh, item);
                list.push(fresh);
            }
        }
    }
}

/// The 422 for an apply without `fieldManager` (PatchOptions validation).
pub fn field_manager_required() -> ApiError {
    ApiError {
        code: 422,
        reason: "Invalid",
        message: "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch".into(),
        details: Some(json!({
            "group": "meta.k8s.io",
            "kind": "PatchOptions",
            "causes": [{"reason": "FieldValueRequired", "message": "Required value: is required for apply patch", "field": "fieldManager"}]
        })),
    }
}

/// The 422 for `force` on a patch that is not an apply.
pub fn force_not_allowed() -> ApiError {
    ApiError {
        code: 422,
        reason: "Invalid",
        message: "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be specified for non-apply patch".into(),
        details: Some(json!({
            "group": "meta.k8s.io",
            "kind": "PatchOptions",
            "causes": [{"reason": "FieldValueForbidden", "message": "Forbidden: may not be specified for non-apply patch", "field": "force"}]
        })),
    }
}
