//! `velero.backup`: an on-demand Backup (from a schedule's template, as `velero backup create
//! --from-schedule`, or with its own filters), named after the run and step so a resumed run
//! waits for the Backup it started instead of taking another.

use std::time::Duration;

use async_trait::async_trait;
use kube::api::{DynamicObject, PostParams};
use runbook_engine::duration::DurationInput;
use runbook_engine::kind::{Kind, StepContext, StepError};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::k8s::client;
use crate::k8s::target::Selector;
use crate::k8s::waiting::{Verdict, watch_until};

pub struct Backup;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupInput {
    /// A `kubernetes` connection (default: the runbook's only one, else KUBECONFIG).
    pub connection: Option<String>,
    /// Velero's namespace (default `velero`).
    #[serde(default = "super::default_namespace")]
    pub namespace: String,
    /// The Backup's name (default: `<run-id>-<step-id>`).
    pub name: Option<String>,
    /// Take the schedule's backup template (and label) as `--from-schedule` does.
    pub from_schedule: Option<String>,
    pub included_namespaces: Option<Vec<String>>,
    pub excluded_namespaces: Option<Vec<String>>,
    pub included_resources: Option<Vec<String>>,
    pub excluded_resources: Option<Vec<String>>,
    /// Only objects with these labels: `velero=backup` or `{velero: backup}`.
    pub label_selector: Option<Selector>,
    /// The BackupStorageLocation (default: Velero's default location).
    pub storage_location: Option<String>,
    /// How long Velero keeps it, e.g. `720h0m0s`.
    pub ttl: Option<String>,
    /// Wait until the backup finishes (default true).
    #[serde(default = "yes")]
    pub wait: bool,
    /// How long to wait (default 4h).
    pub timeout: Option<DurationInput>,
}

fn yes() -> bool {
    true
}

#[async_trait]
impl Kind for Backup {
    type Input = BackupInput;

    fn name(&self) -> &'static str {
        "velero.backup"
    }

    fn about(&self) -> &'static str {
        "Take an on-demand Velero backup (optionally from a schedule's template) and wait for it. Outputs `backup`, `phase`."
    }

    fn outputs(&self) -> &'static [&'static str] {
        &["backup", "phase", "items_backed_up"]
    }

    fn idempotent(&self, _input: &BackupInput) -> bool {
        true
    }

    fn describe(&self, input: &BackupInput) -> String {
        let name = input.name.as_deref().unwrap_or("<run-id>-<step-id>");
        let from = input
            .from_schedule
            .as_ref()
            .map(|s| format!(" from schedule {s}'s template"))
            .unwrap_or_default();
        let wait = if input.wait { " and wait for it" } else { "" };
        format!("create Velero Backup {name}{from}{wait}")
    }

    async fn run(&self, ctx: &StepContext, input: BackupInput) -> Result<Value, StepError> {
        let cluster = client::connect(ctx, input.connection.as_deref()).await?;
        let timeout =
            DurationInput::timeout_or(input.timeout.as_ref(), Duration::from_secs(4 * 3600))?;
        let backups = super::api(&cluster.client, &input.namespace, "Backup").await?;
        let name = input.name.clone().unwrap_or_else(|| ctx.object_name());
        let label = format!("Backup {}/{name}", input.namespace);
        let existing = backups
            .get_opt(&name)
            .await
            .map_err(|e| crate::k8s::api_error("reading the Backup", e))?;
        if existing.is_some() {
            ctx.progress
                .message(format!("found {label} from an earlier attempt"));
        } else {
            let object = self.object(&cluster.client, &input, &name).await?;
            match backups.create(&PostParams::default(), &object).await {
                Ok(_) => ctx.progress.message(format!("created {label}")),
                Err(e) if crate::k8s::is_conflict(&e) => {}
                Err(e) => return Err(crate::k8s::api_error(&format!("creating {label}"), e)),
            }
        }
        if !input.wait {
            return Ok(json!({"backup": name, "phase": "New"}));
        }
        let backup = watch_until(
            backups,
            &name,
            timeout,
            &format!("{label} to finish"),
            |o| match o {
                None => {
                    Verdict::Failed(StepError::new(format!("{label} was deleted while it ran")))
                }
                Some(b) => {
                    let phase = b.data["status"]["phase"].as_str().unwrap_or("New");
                    if matches!(
                        phase,
                        "Completed" | "PartiallyFailed" | "Failed" | "FailedValidation"
                    ) {
                        return Verdict::Done(b.clone());
                    }
                    let done = b.data["status"]["progress"]["itemsBackedUp"]
                        .as_u64()
                        .unwrap_or(0);
                    ctx.progress.position(
                        format!("{name}: {phase}, items backed up"),
                        done,
                        b.data["status"]["progress"]["totalItems"].as_u64(),
                    );
                    Verdict::Pending
                }
            },
        )
        .await?;
        let status = &backup.data["status"];
        let phase = status["phase"].as_str().unwrap_or_default();
        match phase {
            "Completed" => Ok(
                json!({"backup": name, "phase": phase, "items_backed_up": status["progress"]["itemsBackedUp"]}),
            ),
            "FailedValidation" => Err(StepError::permanent(format!(
                "{label} failed validation: {}",
                status["validationErrors"]
                    .as_array()
                    .map(|a| a
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join("; "))
                    .unwrap_or_default()
            ))),
            _ => Err(StepError::permanent(format!(
                "{label} ended {phase}: {} (see `velero backup logs {name}`)",
                status["failureReason"]
                    .as_str()
                    .unwrap_or("no reason given")
            ))),
        }
    }
}

impl Backup {
    async fn object(
        &self,
        client: &kube::Client,
        input: &BackupInput,
        name: &str,
    ) -> Result<DynamicObject, StepError> {
        let mut spec = json!({});
        let mut labels = json!({"app.kubernetes.io/managed-by": "runbook"});
        if let Some(schedule) = &input.from_schedule {
            let schedules = super::api(client, &input.namespace, "Schedule").await?;
            let found = schedules
                .get_opt(schedule)
                .await
                .map_err(|e| crate::k8s::api_error("reading the Schedule", e))?;
            let found = found.ok_or_else(|| {
                StepError::permanent(format!(
                    "Velero schedule {}/{schedule} does not exist",
                    input.namespace
                ))
            })?;
            spec = found.data["spec"]["template"].clone();
            labels["velero.io/schedule-name"] = json!(schedule);
        }
        let lists = [
            ("includedNamespaces", &input.included_namespaces),
            ("excludedNamespaces", &input.excluded_namespaces),
            ("includedResources", &input.included_resources),
            ("excludedResources", &input.excluded_resources),
        ];
        for (field, value) in lists {
            if let Some(v) = value {
                spec[field] = json!(v);
            }
        }
        if let Some(s) = &input.label_selector {
            spec["labelSelector"] = s.to_label_selector()?;
        }
        if let Some(l) = &input.storage_location {
            spec["storageLocation"] = json!(l);
        }
        if let Some(t) = &input.ttl {
            spec["ttl"] = json!(t);
        }
        let object = json!({
            "apiVersion": "velero.io/v1",
            "kind": "Backup",
            "metadata": {"name": name, "namespace": input.namespace, "labels": labels},
            "spec": spec,
        });
        Ok(serde_json::from_value(object).expect("a valid object"))
    }
}
