//! Error replies as OpenSearch writes them: `{"error": {"root_cause": [..], "type", "reason"}, "status"}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub fn error(status: StatusCode, kind: &str, reason: &str, extra: Value) -> Response {
    let mut cause = json!({"type": kind, "reason": reason});
    if let (Some(c), Value::Object(more)) = (cause.as_object_mut(), extra) {
        c.extend(more);
    }
    let body = json!({"error": {"root_cause": [cause.clone()], "type": kind, "reason": reason}, "status": status.as_u16()});
    let body = {
        let mut b = body;
        if let Some(e) = b.get_mut("error").and_then(Value::as_object_mut)
            && let Some(c) = cause.as_object()
        {
            for (k, v) in c {
                e.entry(k.clone()).or_insert(v.clone());
            }
        }
        b
    };
    let mut reply = super::routes::json_reply(body);
    *reply.status_mut() = status;
    reply
}

pub fn index_not_found(index: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "index_not_found_exception",
        &format!("no such index [{index}]"),
        json!({"index": index, "resource.type": "index_or_alias", "resource.id": index, "index_uuid": "_na_"}),
    )
}

pub fn repository_missing(repository: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "repository_missing_exception",
        &format!("[{repository}] missing"),
        json!({}),
    )
}

pub fn snapshot_missing(repository: &str, snapshot: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "snapshot_missing_exception",
        &format!("[{repository}:{snapshot}] is missing"),
        json!({}),
    )
}

/// Restoring over an open index: HTTP 500 (the exception class sets no status of its own).
pub fn open_index_conflict(repository: &str, snapshot: &str, index: &str) -> Response {
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "snapshot_restore_exception",
        &format!(
            "[{repository}:{snapshot}/uuid-{snapshot}] cannot restore index [{index}] because an open index with same name already exists in the cluster. Either close or delete the existing index or restore the index under a different name by providing a rename pattern and replacement name"
        ),
        json!({}),
    )
}

pub fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [("www-authenticate", "Basic realm=\"OpenSearch Security\"")],
        "Unauthorized",
    )
        .into_response()
}
