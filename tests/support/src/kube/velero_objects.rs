//! The object-storage side of Velero's DownloadRequests: the emulator serves the files a
//! `downloadURL` points at (`/velero-objects/restores/<r>/restore-<r>-results.gz`, `...-logs.gz`),
//! gzip-compressed as Velero stores them, in place of a pre-signed S3 URL.

use std::io::Write;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use flate2::Compression;
use flate2::write::GzEncoder;

use super::state::Cluster;

/// The object key of a download target, relative to `/velero-objects/`.
pub fn object_key(target_kind: &str, name: &str) -> Option<String> {
    match target_kind {
        "RestoreResults" => Some(format!("restores/{name}/restore-{name}-results.gz")),
        "RestoreLog" => Some(format!("restores/{name}/restore-{name}-logs.gz")),
        "BackupLog" => Some(format!("backups/{name}/{name}-logs.gz")),
        _ => None,
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

/// Serves one stored object.
pub async fn handle(State(cluster): State<Arc<Cluster>>, Path(path): Path<String>) -> Response {
    let parts: Vec<&str> = path.split('/').collect();
    let content = match parts.as_slice() {
        ["restores", name, file] if file.ends_with("-results.gz") => cluster
            .buckets()
            .restore_results
            .get(*name)
            .map(|v| serde_json::to_vec(v).unwrap_or_default()),
        ["restores", name, file] if file.ends_with("-logs.gz") => cluster
            .buckets()
            .restore_logs
            .get(*name)
            .map(|l| l.as_bytes().to_vec()),
        ["backups", name, _] => {
            Some(format!("time=\"now\" level=info msg=\"Backup {name} completed\"\n").into_bytes())
        }
        _ => None,
    };
    match content {
        Some(bytes) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/octet-stream")],
            Body::from(gzip(&bytes)),
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "application/xml")],
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>",
        )
            .into_response(),
    }
}
