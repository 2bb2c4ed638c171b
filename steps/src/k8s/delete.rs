//! `k8s.delete`: delete objects by name or label selector and wait until they are gone.
//! A missing object is success (the goal, "it is not there", holds). For a PVC,
//! `delete_volumes: true` also deletes the PersistentVolume that was bound to it.

use std::time::Duration;

use async_trait::async_trait;
use kube::api::{DeleteParams, PropagationPolicy};
use runbook_engine::duration::DurationInput;
use runbook_engine::kind::{Kind, StepContext, StepError};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::client::{self, Cluster};
use super::object_label;
use super::resources::{self, Resource};
use super::target::{self, Selector};
use super::waiting::{Verdict, watch_until};

pub struct Delete;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteInput {
    /// A `kubernetes` connection (default: the runbook's only one, else KUBECONFIG).
    pub connection: Option<String>,
    /// The objects' kind, e.g. `Deployment`, `PersistentVolumeClaim`.
    pub kind: String,
    /// `group/version` when the kind is ambiguous or not a common one.
    pub api_version: Option<String>,
    /// Default: the connection's namespace, else the kubeconfig context's.
    pub namespace: Option<String>,
    /// One object (give this or `selector`).
    pub name: Option<String>,
    /// Every object whose labels match: `app=grafana` or `{app: grafana}`.
    pub selector: Option<Selector>,
    /// What happens to dependents: `Background` (default), `Foreground` or `Orphan`.
    pub propagation: Option<Propagation>,
    /// Wait until the objects are gone (default true).
    #[serde(default = "yes")]
    pub wait: bool,
    /// How long to wait (default 5m).
    pub timeout: Option<DurationInput>,
    /// For PersistentVolumeClaims: also delete the PersistentVolume each was bound to.
    #[serde(default)]
    pub delete_volumes: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
pub enum Propagation {
    Background,
    Foreground,
    Orphan,
}

impl From<Propagation> for PropagationPolicy {
    fn from(p: Propagation) -> Self {
        match p {
            Propagation::Background => PropagationPolicy::Background,
            Propagation::Foreground => PropagationPolicy::Foreground,
            Propagation::Orphan => PropagationPolicy::Orphan,
        }
    }
}

#[async_trait]
impl Kind for Delete {
    type Input = DeleteInput;

    fn name(&self) -> &'static str {
        "k8s.delete"
    }

    fn about(&self) -> &'static str {
        "Delete Kubernetes objects by name or label selector and wait until they are gone (a missing object is success); optionally the PVs of deleted PVCs. Outputs `deleted` and `volumes`."
    }

    fn outputs(&self) -> &'static [&'static str] {
        &["deleted", "volumes"]
    }

    fn check(&self, input: &DeleteInput) -> Vec<String> {
        target::name_xor_selector(input.name.as_deref(), input.selector.as_ref())
    }

    fn destructive(&self, _input: &DeleteInput) -> bool {
        true
    }

    fn idempotent(&self, _input: &DeleteInput) -> bool {
        true
    }

    fn describe(&self, input: &DeleteInput) -> String {
        let mut text = format!(
            "delete {}",
            object_label(
                &input.kind,
                input.namespace.as_deref(),
                &target::describe_target(input.name.as_deref(), input.selector.as_ref())
            )
        );
        if input.delete_volumes {
            text.push_str(" and its PersistentVolume");
        }
        if input.wait {
            text.push_str(", waiting until gone");
        }
        text
    }

    async fn run(&self, ctx: &StepContext, input: DeleteInput) -> Result<Value, StepError> {
        let cluster = client::connect(ctx, input.connection.as_deref()).await?;
        let namespace = cluster.namespace(input.namespace.as_deref());
        let resource =
            resources::resolve(&cluster.client, input.api_version.as_deref(), &input.kind).await?;
        let timeout = DurationInput::timeout_or(input.timeout.as_ref(), Duration::from_secs(300))?;
        let objects = target::find(
            &cluster,
            &resource,
            &namespace,
            input.name.as_deref(),
            input.selector.as_ref(),
        )
        .await?;
        let params = DeleteParams {
            propagation_policy: input.propagation.map(Into::into),
            ..DeleteParams::default()
        };
        let mut deleted = Vec::new();
        let mut volumes = Vec::new();
        for object in &objects {
            let name = object.metadata.name.clone().unwrap_or_default();
            if input.delete_volumes
                && let Some(volume) = object.data["spec"]["volumeName"]
                    .as_str()
                    .filter(|v| !v.is_empty())
            {
                volumes.push(volume.to_string());
            }
            delete_one(
                &cluster, &resource, &namespace, &name, &params, input.wait, timeout,
            )
            .await?;
            deleted.push(json!({"kind": resource.api.kind, "namespace": resource.scope(&namespace), "name": name}));
        }
        if !volumes.is_empty() {
            let pv = resources::resolve(&cluster.client, Some("v1"), "PersistentVolume").await?;
            for volume in &volumes {
                delete_one(
                    &cluster,
                    &pv,
                    "",
                    volume,
                    &DeleteParams::default(),
                    input.wait,
                    timeout,
                )
                .await?;
            }
        }
        ctx.progress
            .message(format!("deleted {} object(s)", deleted.len()));
        Ok(json!({"deleted": deleted, "volumes": volumes}))
    }
}

/// Deletes one object (NotFound is success) and, when asked, waits until it is gone.
pub async fn delete_one(
    cluster: &Cluster,
    resource: &Resource,
    namespace: &str,
    name: &str,
    params: &DeleteParams,
    wait: bool,
    timeout: Duration,
) -> Result<(), StepError> {
    let api = resource.api(&cluster.client, namespace);
    let label = object_label(&resource.api.kind, resource.scope(namespace), name);
    match api.delete(name, params).await {
        Ok(_) => {}
        Err(e) if super::is_not_found(&e) => return Ok(()),
        Err(e) => return Err(super::api_error(&format!("deleting {label}"), e)),
    }
    if wait {
        watch_until(
            api,
            name,
            timeout,
            &format!("{label} to be deleted (finalizers may hold it)"),
            |o| match o {
                None => Verdict::Done(()),
                Some(_) => Verdict::Pending,
            },
        )
        .await?;
    }
    Ok(())
}
