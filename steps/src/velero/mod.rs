//! Velero step kinds, driving Velero through its CRDs (`velero.io/v1`) as the `velero` CLI does,
//! with no CLI binary at run time. Shared here: the APIs of Velero's kinds and how a Backup reads.

pub mod backup;
pub mod backup_location;
pub mod backups;
pub mod restore;
pub mod results;

use kube::Client;
use kube::api::{Api, DynamicObject};
use runbook_engine::kind::StepError;
use serde_json::{Value, json};

use crate::k8s::resources;

/// Velero's own namespace, where its objects live.
pub const DEFAULT_NAMESPACE: &str = "velero";

pub fn default_namespace() -> String {
    DEFAULT_NAMESPACE.to_string()
}

/// The API of one Velero kind (`Restore`, `Backup`, ...) in Velero's namespace.
pub async fn api(
    client: &Client,
    namespace: &str,
    kind: &str,
) -> Result<Api<DynamicObject>, StepError> {
    let resource = resources::resolve(client, Some("velero.io/v1"), kind)
        .await
        .map_err(|e| {
            StepError::permanent(format!(
                "{} (is Velero installed in this cluster?)",
                e.message
            ))
        })?;
    Ok(resource.api(client, namespace))
}

/// A Backup as the kinds report it.
pub fn backup_summary(backup: &DynamicObject) -> Value {
    let labels = backup.metadata.labels.clone().unwrap_or_default();
    json!({
        "name": backup.metadata.name,
        "phase": backup.data["status"]["phase"].as_str().unwrap_or("New"),
        "started": backup.data["status"]["startTimestamp"],
        "completed": backup.data["status"]["completionTimestamp"],
        "expires": backup.data["status"]["expiration"],
        "schedule": labels.get("velero.io/schedule-name"),
        "location": backup.data["spec"]["storageLocation"],
    })
}

/// The newest Backup in one of `phases`, by start time then name (schedule backups are named
/// `<schedule>-<YYYYMMDDHHMMSS>`, so names sort in time order too).
pub fn latest<'a>(backups: &'a [DynamicObject], phases: &[&str]) -> Option<&'a DynamicObject> {
    backups
        .iter()
        .filter(|b| phases.contains(&b.data["status"]["phase"].as_str().unwrap_or("New")))
        .max_by(|a, b| {
            let key = |o: &DynamicObject| {
                (
                    o.data["status"]["startTimestamp"]
                        .as_str()
                        .map(str::to_string),
                    o.metadata.name.clone(),
                )
            };
            key(a).cmp(&key(b))
        })
}
