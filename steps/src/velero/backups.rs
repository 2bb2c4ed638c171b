//! `velero.backups`: list Velero's Backup records (phase and times) and pick the latest
//! completed one, or delete the records only (`delete-records`: the Backup objects, not the data
//! in the bucket, as the off-site procedure's `kubectl delete backups.velero.io --all` does).
//! Delete the BackupStorageLocation first, or Velero's sync brings the records back.

use std::time::Duration;

use async_trait::async_trait;
use kube::api::{DeleteParams, ListParams};
use runbook_engine::kind::{Kind, StepContext, StepError};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::k8s::client;
use crate::k8s::waiting::{Verdict, watch_until};

pub struct Backups;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupsInput {
    /// A `kubernetes` connection (default: the runbook's only one, else KUBECONFIG).
    pub connection: Option<String>,
    /// Velero's namespace (default `velero`).
    #[serde(default = "super::default_namespace")]
    pub namespace: String,
    /// `list` (default) or `delete-records`.
    #[serde(default)]
    pub action: Action,
    /// Only the backups of this schedule.
    pub schedule: Option<String>,
    /// Only the backups in this BackupStorageLocation.
    pub location: Option<String>,
    /// For `list`: fail unless there is a completed backup (default false).
    #[serde(default)]
    pub require_completed: bool,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    #[default]
    List,
    DeleteRecords,
}

#[async_trait]
impl Kind for Backups {
    type Input = BackupsInput;

    fn name(&self) -> &'static str {
        "velero.backups"
    }

    fn about(&self) -> &'static str {
        "List Velero backups with phase and time and pick the latest completed (`latest`), or delete the Backup records only (`action: delete-records`). Outputs `backups`, `latest`."
    }

    fn outputs(&self) -> &'static [&'static str] {
        &["backups", "latest", "count", "deleted"]
    }

    fn destructive(&self, input: &BackupsInput) -> bool {
        input.action == Action::DeleteRecords
    }

    fn idempotent(&self, _input: &BackupsInput) -> bool {
        true
    }

    fn describe(&self, input: &BackupsInput) -> String {
        let mut scope = String::new();
        if let Some(s) = &input.schedule {
            scope.push_str(&format!(" of schedule {s}"));
        }
        if let Some(l) = &input.location {
            scope.push_str(&format!(" in location {l}"));
        }
        let ns = &input.namespace;
        match input.action {
            Action::DeleteRecords => {
                format!("delete the Velero Backup records{scope} in {ns} (the bucket is untouched)")
            }
            Action::List => format!("list Velero backups{scope} in {ns}"),
        }
    }

    async fn run(&self, ctx: &StepContext, input: BackupsInput) -> Result<Value, StepError> {
        let cluster = client::connect(ctx, input.connection.as_deref()).await?;
        let api = super::api(&cluster.client, &input.namespace, "Backup").await?;
        let mut labels = Vec::new();
        if let Some(s) = &input.schedule {
            labels.push(format!("velero.io/schedule-name={s}"));
        }
        if let Some(l) = &input.location {
            labels.push(format!("velero.io/storage-location={l}"));
        }
        let list = api
            .list(&ListParams::default().labels(&labels.join(",")))
            .await
            .map_err(|e| crate::k8s::api_error("listing Velero backups", e))?;
        let mut items = list.items;
        items.sort_by(|a, b| {
            (
                a.data["status"]["startTimestamp"].as_str(),
                &a.metadata.name,
            )
                .cmp(&(
                    b.data["status"]["startTimestamp"].as_str(),
                    &b.metadata.name,
                ))
        });
        let summaries: Vec<Value> = items.iter().map(super::backup_summary).collect();
        let latest = super::latest(&items, &["Completed"]).map(|b| b.metadata.name.clone());
        match input.action {
            Action::List => {
                if input.require_completed && latest.is_none() {
                    return Err(StepError::new(format!(
                        "no completed Velero backup{} in {} ({} backup(s) found)",
                        input
                            .schedule
                            .as_deref()
                            .map(|s| format!(" of schedule {s}"))
                            .unwrap_or_default(),
                        input.namespace,
                        items.len()
                    )));
                }
                ctx.progress.message(format!("{} backup(s)", items.len()));
                Ok(json!({"backups": summaries, "latest": latest, "count": items.len()}))
            }
            Action::DeleteRecords => {
                let mut deleted = Vec::new();
                for b in &items {
                    let name = b.metadata.name.clone().unwrap_or_default();
                    match api.delete(&name, &DeleteParams::default()).await {
                        Ok(_) => {}
                        Err(e) if crate::k8s::is_not_found(&e) => {}
                        Err(e) => {
                            return Err(crate::k8s::api_error(
                                &format!("deleting Backup record {name}"),
                                e,
                            ));
                        }
                    }
                    watch_until(
                        api.clone(),
                        &name,
                        Duration::from_secs(120),
                        &format!("Backup record {name} to go"),
                        |o| match o {
                            None => Verdict::Done(()),
                            Some(_) => Verdict::Pending,
                        },
                    )
                    .await?;
                    deleted.push(name);
                }
                ctx.progress
                    .message(format!("deleted {} Backup record(s)", deleted.len()));
                Ok(json!({"backups": summaries, "latest": latest, "deleted": deleted}))
            }
        }
    }
}
