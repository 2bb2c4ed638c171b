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

/// OpenSearch's request validation (`ActionRequestValidationException`): 400.
pub fn validation_failed(problems: &[&str]) -> Response {
    let listed: String = problems
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{}: {p};", i + 1))
        .collect();
    error(
        StatusCode::BAD_REQUEST,
        "action_request_validation_exception",
        &format!("Validation Failed: {listed}"),
        json!({}),
    )
}

/// `RepositoryException`: no status of its own, so 500.
pub fn repository_exception(repository: &str, reason: &str) -> Response {
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "repository_exception",
        &format!("[{repository}] {reason}"),
        json!({}),
    )
}

/// Registration could not read or write the repository's storage (a missing bucket): 500, with
/// the S3 client's error as the cause.
pub fn repository_not_accessible(
    repository: &str,
    base_path: &str,
    cause: &super::blobstore::StoreError,
) -> Response {
    let caused_by = json!({
        "type": "s3_exception",
        "reason": format!("{} (Service: S3, Status Code: {}, Request ID: emulator)", cause.message, cause.status),
    });
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "repository_verification_exception",
        &format!("[{repository}] path {base_path} is not accessible on cluster-manager node"),
        json!({"caused_by": caused_by}),
    )
}

pub fn invalid_snapshot_name(repository: &str, snapshot: &str, problem: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "invalid_snapshot_name_exception",
        &format!("[{repository}:{snapshot}] Invalid snapshot name [{snapshot}], {problem}"),
        json!({}),
    )
}

pub fn invalid_index_name(index: &str, problem: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "invalid_index_name_exception",
        &format!("Invalid index name [{index}], {problem}"),
        json!({"index": index, "index_uuid": "_na_"}),
    )
}

/// `SnapshotRestoreException` (500): `[repo:snapshot/uuid] reason`.
pub fn restore_refused(repository: &str, snapshot: &str, reason: &str) -> Response {
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "snapshot_restore_exception",
        &format!("[{repository}:{snapshot}/uuid-{snapshot}] {reason}"),
        json!({}),
    )
}

pub fn illegal_argument(reason: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "illegal_argument_exception",
        reason,
        json!({}),
    )
}
