//! `velero.backup-location`: create (server-side apply) a BackupStorageLocation and wait until
//! Velero reports it Available, wait for an existing one, or delete one. The off-site restore
//! swaps `default` for a `ReadOnly` location on the off-site bucket, then swaps back.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use kube::api::{DeleteParams, DynamicObject, Patch, PatchParams};
use runbook_engine::duration::DurationInput;
use runbook_engine::kind::{Kind, StepContext, StepError, Templated};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::k8s::waiting::{Verdict, watch_until};
use crate::k8s::{FIELD_MANAGER, client};

pub struct BackupLocation;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupLocationInput {
    /// A `kubernetes` connection (default: the runbook's only one, else KUBECONFIG).
    pub connection: Option<String>,
    /// Velero's namespace (default `velero`).
    #[serde(default = "super::default_namespace")]
    pub namespace: String,
    /// `create` (and wait until Available), `wait-available` or `delete`.
    pub action: Templated<Action>,
    /// The location's name, e.g. `default` or `backup`.
    pub name: String,
    /// The object store plugin's provider, e.g. `aws` (required to create).
    pub provider: Option<String>,
    /// The bucket (required to create).
    pub bucket: Option<String>,
    /// The prefix inside the bucket, e.g. `service-cluster`.
    pub prefix: Option<String>,
    /// Provider config, as `--config` takes it (string values).
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// Shorthand for `config.region`.
    pub region: Option<String>,
    /// Shorthand for `config.s3Url`.
    pub s3_url: Option<String>,
    /// Shorthand for `config.s3ForcePathStyle`.
    pub path_style: Option<bool>,
    /// The Secret (in Velero's namespace) and key holding the provider credentials.
    pub credential: Option<Credential>,
    /// `ReadWrite` (Velero's default) or `ReadOnly` (restores only; no backups are written).
    pub access_mode: Option<Templated<AccessMode>>,
    /// Make it Velero's default location.
    pub default: Option<bool>,
    /// How long to wait for Available or deletion (default 2m).
    pub timeout: Option<DurationInput>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Create,
    WaitAvailable,
    Delete,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Credential {
    pub secret: String,
    pub key: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum AccessMode {
    ReadWrite,
    ReadOnly,
}

impl AccessMode {
    fn as_str(self) -> &'static str {
        match self {
            AccessMode::ReadWrite => "ReadWrite",
            AccessMode::ReadOnly => "ReadOnly",
        }
    }
}

#[async_trait]
impl Kind for BackupLocation {
    type Input = BackupLocationInput;

    fn name(&self) -> &'static str {
        "velero.backup-location"
    }

    fn about(&self) -> &'static str {
        "Create a Velero BackupStorageLocation (provider, bucket, prefix, region, s3Url, path style, credential, ReadOnly) and wait until Available, wait for one, or delete one. Outputs `name`, `phase`, `access_mode`."
    }

    fn outputs(&self) -> &'static [&'static str] {
        &["name", "phase", "access_mode", "bucket", "prefix"]
    }

    fn check(&self, input: &BackupLocationInput) -> Vec<String> {
        if input.action.value() == Some(&Action::Create) {
            return [("provider", &input.provider), ("bucket", &input.bucket)]
                .iter()
                .filter(|(_, value)| value.is_none())
                .map(|(k, _)| format!("`action: create` needs `{k}`"))
                .collect();
        }
        Vec::new()
    }

    fn destructive(&self, input: &BackupLocationInput) -> bool {
        !matches!(
            input.action.value(),
            Some(Action::WaitAvailable | Action::Create)
        )
    }

    fn idempotent(&self, _input: &BackupLocationInput) -> bool {
        true
    }

    fn describe(&self, input: &BackupLocationInput) -> String {
        let ns = &input.namespace;
        let name = &input.name;
        match input.action.value() {
            Some(Action::Create) => format!(
                "create BackupStorageLocation {ns}/{name} ({}, bucket {}{}, {}) and wait until Available",
                input.provider.as_deref().unwrap_or("?"),
                input.bucket.as_deref().unwrap_or("?"),
                input
                    .prefix
                    .as_ref()
                    .map(|p| format!(", prefix {p}"))
                    .unwrap_or_default(),
                input
                    .access_mode
                    .as_ref()
                    .map_or("ReadWrite".into(), |m| m.show(|m| m.as_str().into())),
            ),
            Some(Action::Delete) => {
                format!("delete BackupStorageLocation {ns}/{name} (backups in its bucket are kept)")
            }
            _ => format!("wait until BackupStorageLocation {ns}/{name} is Available"),
        }
    }

    async fn run(&self, ctx: &StepContext, input: BackupLocationInput) -> Result<Value, StepError> {
        let cluster = client::connect(ctx, input.connection.as_deref()).await?;
        let timeout = DurationInput::timeout_or(input.timeout.as_ref(), Duration::from_secs(120))?;
        let api = super::api(&cluster.client, &input.namespace, "BackupStorageLocation").await?;
        let label = format!("BackupStorageLocation {}/{}", input.namespace, input.name);
        match input.action.rendered("action")? {
            Action::Delete => {
                match api.delete(&input.name, &DeleteParams::default()).await {
                    Ok(_) => {}
                    Err(e) if crate::k8s::is_not_found(&e) => {}
                    Err(e) => return Err(crate::k8s::api_error(&format!("deleting {label}"), e)),
                }
                watch_until(
                    api,
                    &input.name,
                    timeout,
                    &format!("{label} to be deleted"),
                    |o| match o {
                        None => Verdict::Done(()),
                        Some(_) => Verdict::Pending,
                    },
                )
                .await?;
                Ok(json!({"name": input.name, "phase": "Deleted"}))
            }
            Action::Create => {
                let object = location(&input)?;
                api.patch(
                    &input.name,
                    &PatchParams::apply(FIELD_MANAGER).force(),
                    &Patch::Apply(&object),
                )
                .await
                .map_err(|e| crate::k8s::api_error(&format!("creating {label}"), e))?;
                ctx.progress
                    .message(format!("applied {label}; waiting until Available"));
                wait_available(api, &input.name, &label, timeout).await
            }
            Action::WaitAvailable => wait_available(api, &input.name, &label, timeout).await,
        }
    }
}

fn location(input: &BackupLocationInput) -> Result<Value, StepError> {
    let provider = input
        .provider
        .as_deref()
        .ok_or_else(|| StepError::permanent("`action: create` needs `provider`"))?;
    let bucket = input
        .bucket
        .as_deref()
        .ok_or_else(|| StepError::permanent("`action: create` needs `bucket`"))?;
    let mut config = input.config.clone();
    if let Some(r) = &input.region {
        config.insert("region".into(), r.clone());
    }
    if let Some(u) = &input.s3_url {
        config.insert("s3Url".into(), u.clone());
    }
    if let Some(p) = input.path_style {
        config.insert("s3ForcePathStyle".into(), p.to_string());
    }
    let mut object_storage = json!({"bucket": bucket});
    if let Some(p) = input.prefix.as_deref().filter(|p| !p.is_empty()) {
        object_storage["prefix"] = json!(p);
    }
    let mut spec = json!({"provider": provider, "objectStorage": object_storage});
    if !config.is_empty() {
        spec["config"] = json!(config);
    }
    if let Some(c) = &input.credential {
        spec["credential"] = json!({"name": c.secret, "key": c.key});
    }
    if let Some(m) = &input.access_mode {
        spec["accessMode"] = json!(m.rendered("access_mode")?.as_str());
    }
    if let Some(d) = input.default {
        spec["default"] = json!(d);
    }
    Ok(json!({
        "apiVersion": "velero.io/v1",
        "kind": "BackupStorageLocation",
        "metadata": {"name": input.name, "namespace": input.namespace, "labels": {"app.kubernetes.io/managed-by": "runbook"}},
        "spec": spec,
    }))
}

async fn wait_available(
    api: kube::Api<DynamicObject>,
    name: &str,
    label: &str,
    timeout: Duration,
) -> Result<Value, StepError> {
    let mut last_message = String::new();
    let waited = watch_until(
        api,
        name,
        timeout,
        &format!("{label} to be Available"),
        |o| match o {
            None => Verdict::Pending,
            Some(l) => {
                let status = &l.data["status"];
                match status["phase"].as_str() {
                    Some("Available") => Verdict::Done(l.clone()),
                    Some("Unavailable") => {
                        last_message = status["message"].as_str().unwrap_or_default().to_string();
                        Verdict::Pending
                    }
                    _ => Verdict::Pending,
                }
            }
        },
    )
    .await;
    match waited {
        Ok(l) => Ok(json!({
            "name": name,
            "phase": "Available",
            "access_mode": l.data["spec"]["accessMode"].as_str().unwrap_or("ReadWrite"),
            "bucket": l.data["spec"]["objectStorage"]["bucket"],
            "prefix": l.data["spec"]["objectStorage"]["prefix"],
        })),
        Err(_) if !last_message.is_empty() => Err(StepError::new(format!(
            "{label} is Unavailable: {last_message} (check the bucket, endpoint and the credential Secret)"
        ))),
        Err(e) => Err(e),
    }
}
