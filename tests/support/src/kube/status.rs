//! `metav1.Status` failures, built the way apimachinery's `api/errors` constructors build them
//! (message wording, `reason`, `details` and HTTP code), so clients branch on them as on a real server.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::resources::ResourceType;

/// A failed request: rendered as a `Status` body with the matching HTTP code.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status code, also written to `.code`.
    pub code: u16,
    /// `.reason` (NotFound, AlreadyExists, Conflict, ...).
    pub reason: &'static str,
    /// `.message`.
    pub message: String,
    /// `.details`, omitted when `None`.
    pub details: Option<Value>,
}

impl ApiError {
    fn resource_details(rt: &ResourceType, name: &str) -> Value {
        // `details.kind` is the plural resource (qualifiedResource.Resource), and empty
        // strings are omitted (`omitempty`), exactly as the apiserver serialises them.
        let mut d = Map::new();
        if !name.is_empty() {
            d.insert("name".into(), json!(name));
        }
        if !rt.group.is_empty() {
            d.insert("group".into(), json!(rt.group));
        }
        d.insert("kind".into(), json!(rt.plural));
        Value::Object(d)
    }

    /// `NewNotFound`: `deployments.apps "x" not found`, 404.
    pub fn not_found(rt: &ResourceType, name: &str) -> Self {
        Self {
            code: 404,
            reason: "NotFound",
            message: format!("{} {:?} not found", rt.qualified(), name),
            details: Some(Self::resource_details(rt, name)),
        }
    }

    /// `NewAlreadyExists`: 409 with reason AlreadyExists.
    pub fn already_exists(rt: &ResourceType, name: &str) -> Self {
        Self {
            code: 409,
            reason: "AlreadyExists",
            message: format!("{} {:?} already exists", rt.qualified(), name),
            details: Some(Self::resource_details(rt, name)),
        }
    }

    /// `NewConflict` with the optimistic-concurrency message the registry uses.
    pub fn conflict(rt: &ResourceType, name: &str, why: &str) -> Self {
        Self {
            code: 409,
            reason: "Conflict",
            message: format!(
                "Operation cannot be fulfilled on {} {:?}: {}",
                rt.qualified(),
                name,
                why
            ),
            details: Some(Self::resource_details(rt, name)),
        }
    }

    /// The conflict a stale `resourceVersion` causes.
    pub fn stale(rt: &ResourceType, name: &str) -> Self {
        Self::conflict(
            rt,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// `NewInvalid`: 422; `details.kind` is the Kind here, not the resource.
    pub fn invalid(rt: &ResourceType, name: &str, field: &str, why: &str) -> Self {
        let qualified_kind = if rt.group.is_empty() {
            rt.kind.to_string()
        } else {
            format!("{}.{}", rt.kind, rt.group)
        };
        let mut details = Map::new();
        if !name.is_empty() {
            details.insert("name".into(), json!(name));
        }
        if !rt.group.is_empty() {
            details.insert("group".into(), json!(rt.group));
        }
        details.insert("kind".into(), json!(rt.kind));
        details.insert(
            "causes".into(),
            json!([{"reason": "FieldValueInvalid", "message": why, "field": field}]),
        );
        Self {
            code: 422,
            reason: "Invalid",
            message: format!("{qualified_kind} {name:?} is invalid: {field}: {why}"),
            details: Some(Value::Object(details)),
        }
    }

    /// `NewInvalid` with every field error the validation found, in the apiserver's wording:
    /// one error is `Kind "name" is invalid: field: body`, several are `[field: body, ...]`.
    pub fn invalid_causes(rt: &ResourceType, name: &str, causes: &[Cause]) -> Self {
        let mut one = Self::invalid(
            rt,
            name,
            &causes.first().map(|c| c.field.clone()).unwrap_or_default(),
            &causes.first().map(|c| c.body()).unwrap_or_default(),
        );
        let listed: Vec<String> = causes
            .iter()
            .map(|c| format!("{}: {}", c.field, c.body()))
            .collect();
        let qualified_kind = if rt.group.is_empty() {
            rt.kind.to_string()
        } else {
            format!("{}.{}", rt.kind, rt.group)
        };
        one.message = if listed.len() == 1 {
            format!("{qualified_kind} {name:?} is invalid: {}", listed[0])
        } else {
            format!(
                "{qualified_kind} {name:?} is invalid: [{}]",
                listed.join(", ")
            )
        };
        if let Some(d) = one.details.as_mut() {
            d["causes"] = causes
                .iter()
                .map(|c| json!({"reason": c.reason, "message": c.body(), "field": c.field}))
                .collect();
        }
        one
    }

    /// `NewBadRequest`: 400, message only.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            code: 400,
            reason: "BadRequest",
            message: message.into(),
            details: None,
        }
    }

    /// `NewMethodNotSupported`: 405.
    pub fn method_not_supported(rt: &ResourceType, action: &str) -> Self {
        let mut d = Map::new();
        if !rt.group.is_empty() {
            d.insert("group".into(), json!(rt.group));
        }
        d.insert("kind".into(), json!(rt.plural));
        Self {
            code: 405,
            reason: "MethodNotAllowed",
            message: format!(
                "{action} is not supported on resources of kind {:?}",
                rt.qualified()
            ),
            details: Some(Value::Object(d)),
        }
    }

    /// `NewResourceExpired`: 410 with reason Expired (a watch from a compacted resourceVersion).
    pub fn expired(message: impl Into<String>) -> Self {
        Self {
            code: 410,
            reason: "Expired",
            message: message.into(),
            details: None,
        }
    }

    /// `NewForbidden` as the NamespaceLifecycle admission plugin raises it.
    pub fn forbidden(rt: &ResourceType, name: &str, why: &str) -> Self {
        let message = if name.is_empty() {
            format!("{} is forbidden: {why}", rt.qualified())
        } else {
            format!("{} {name:?} is forbidden: {why}", rt.qualified())
        };
        Self {
            code: 403,
            reason: "Forbidden",
            message,
            details: Some(Self::resource_details(rt, name)),
        }
    }

    /// The generic 404 for a path that names no served resource.
    pub fn path_not_found() -> Self {
        Self {
            code: 404,
            reason: "NotFound",
            message: "the server could not find the requested resource".into(),
            details: Some(json!({})),
        }
    }

    /// The `Status` object itself.
    pub fn to_status(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        });
        if let Some(d) = &self.details {
            s["details"] = d.clone();
        }
        s["code"] = json!(self.code);
        s
    }
}

/// One field error of a validation (`field.Error`): its type gives the reason and the wording.
#[derive(Debug, Clone, PartialEq)]
pub struct Cause {
    /// `FieldValueRequired`, `FieldValueInvalid`, `FieldValueNotSupported`, `FieldValueForbidden`, ...
    pub reason: &'static str,
    /// The field path (`spec.template.spec.containers[0].name`).
    pub field: String,
    /// What follows the type's wording: the offending value and the detail (may be empty).
    pub detail: String,
}

impl Cause {
    /// `Required value`.
    pub fn required(field: impl Into<String>) -> Self {
        Self {
            reason: "FieldValueRequired",
            field: field.into(),
            detail: String::new(),
        }
    }

    /// `Invalid value: <value>: <detail>`.
    pub fn invalid(field: impl Into<String>, value: &str, detail: &str) -> Self {
        Self {
            reason: "FieldValueInvalid",
            field: field.into(),
            detail: format!("{value}: {detail}"),
        }
    }

    /// `Unsupported value: <value>: supported values: ...`.
    pub fn not_supported(field: impl Into<String>, value: &str, supported: &[String]) -> Self {
        let quoted: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
        Self {
            reason: "FieldValueNotSupported",
            field: field.into(),
            detail: format!("{value}: supported values: {}", quoted.join(", ")),
        }
    }

    /// `Forbidden: <detail>`.
    pub fn forbidden(field: impl Into<String>, detail: &str) -> Self {
        Self {
            reason: "FieldValueForbidden",
            field: field.into(),
            detail: detail.to_string(),
        }
    }

    /// The error body after the field: the type's wording, then the detail.
    pub fn body(&self) -> String {
        let wording = match self.reason {
            "FieldValueRequired" => "Required value",
            "FieldValueInvalid" => "Invalid value",
            "FieldValueNotSupported" => "Unsupported value",
            "FieldValueForbidden" => "Forbidden",
            "FieldValueTooLong" => "Too long",
            _ => "Internal error",
        };
        if self.detail.is_empty() {
            wording.to_string()
        } else {
            format!("{wording}: {}", self.detail)
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        super::routes::json_response(code, &self.to_status())
    }
}
