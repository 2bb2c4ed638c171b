//! `k8s.scale`: set the replicas of Deployments or StatefulSets (by name or label selector)
//! through the `scale` subresource. Outputs the counts before, so a later step can put them back:
//! `replicas: "{{ steps.stop.outputs.previous['harbor-core'] }}"`.
//!
//! Before scaling an object it notes the count it found in the annotation `REPLICAS_BEFORE`
//! (`<run>-<step>=<count>`). Running the step again in the same run (a resume after an
//! interruption part-way through) reports that count, not the 0 it set itself, so scaling down is
//! safe to repeat.

use std::collections::BTreeMap;

use async_trait::async_trait;
use kube::api::{Patch, PatchParams};
use runbook_engine::kind::{Kind, StepContext, StepError, Templated};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::target::{self, Selector};
use super::{client, object_label, resources};

pub struct Scale;

/// Where the count before the first attempt of a step is kept on the object.
pub const REPLICAS_BEFORE: &str = "runbook/replicas-before";

/// The count noted by this step (`key`) on an earlier attempt, if any.
fn noted(object: &kube::api::DynamicObject, key: &str) -> Option<i32> {
    let value = object.metadata.annotations.as_ref()?.get(REPLICAS_BEFORE)?;
    value.strip_prefix(key)?.strip_prefix('=')?.parse().ok()
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScaleInput {
    /// A `kubernetes` connection (default: the runbook's only one, else KUBECONFIG).
    pub connection: Option<String>,
    /// `Deployment` (default), `StatefulSet`, or any kind with a `scale` subresource.
    #[serde(default = "deployment")]
    pub kind: String,
    /// `group/version` when the kind is ambiguous or not a common one.
    pub api_version: Option<String>,
    /// Default: the connection's namespace, else the kubeconfig context's.
    pub namespace: Option<String>,
    /// One object (give this or `selector`).
    pub name: Option<String>,
    /// Every object whose labels match; `""` selects all of the kind in the namespace.
    pub selector: Option<Selector>,
    /// The replica count to set.
    pub replicas: Templated<u32>,
}

fn deployment() -> String {
    "Deployment".into()
}

#[async_trait]
impl Kind for Scale {
    type Input = ScaleInput;

    fn name(&self) -> &'static str {
        "k8s.scale"
    }

    fn about(&self) -> &'static str {
        "Set the replicas of Deployments/StatefulSets by name or selector. Outputs `previous: {NAME: replicas}` to restore them later."
    }

    fn outputs(&self) -> &'static [&'static str] {
        &["previous", "replicas"]
    }

    fn check(&self, input: &ScaleInput) -> Vec<String> {
        target::name_xor_selector(input.name.as_deref(), input.selector.as_ref())
    }

    /// Scaling to zero stops a service; a template may render to zero, so only a literal
    /// positive count is known to be safe.
    fn destructive(&self, input: &ScaleInput) -> bool {
        !matches!(input.replicas.value(), Some(&n) if n > 0)
    }

    fn idempotent(&self, _input: &ScaleInput) -> bool {
        true
    }

    fn describe(&self, input: &ScaleInput) -> String {
        format!(
            "scale {} to {} replicas",
            object_label(
                &input.kind,
                input.namespace.as_deref(),
                &target::describe_target(input.name.as_deref(), input.selector.as_ref())
            ),
            input.replicas.show(u32::to_string)
        )
    }

    async fn run(&self, ctx: &StepContext, input: ScaleInput) -> Result<Value, StepError> {
        let replicas = *input.replicas.rendered("replicas")?;
        let cluster = client::connect(ctx, input.connection.as_deref()).await?;
        let namespace = cluster.namespace(input.namespace.as_deref());
        let resource =
            resources::resolve(&cluster.client, input.api_version.as_deref(), &input.kind).await?;
        let objects = target::find(
            &cluster,
            &resource,
            &namespace,
            input.name.as_deref(),
            input.selector.as_ref(),
        )
        .await?;
        if objects.is_empty() && input.name.is_some() {
            return Err(StepError::permanent(format!(
                "{} does not exist",
                object_label(
                    &resource.api.kind,
                    resource.scope(&namespace),
                    input.name.as_deref().unwrap_or_default()
                )
            )));
        }
        let api = resource.api(&cluster.client, &namespace);
        let mut previous = BTreeMap::new();
        for object in &objects {
            let name = object.metadata.name.clone().unwrap_or_default();
            let label = object_label(&resource.api.kind, resource.scope(&namespace), &name);
            let scale = api
                .get_scale(&name)
                .await
                .map_err(|e| super::api_error(&format!("reading the scale of {label}"), e))?;
            let found = scale.spec.and_then(|s| s.replicas).unwrap_or(0);
            let before = noted(object, &ctx.idempotency_key).unwrap_or(found);
            previous.insert(name.clone(), before);
            let note = json!({"metadata": {"annotations": {
                REPLICAS_BEFORE: format!("{}={before}", ctx.idempotency_key)
            }}});
            api.patch(&name, &PatchParams::default(), &Patch::Merge(&note))
                .await
                .map_err(|e| super::api_error(&format!("annotating {label}"), e))?;
            let patch = json!({"spec": {"replicas": replicas}});
            api.patch_scale(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(|e| super::api_error(&format!("scaling {label}"), e))?;
            ctx.progress
                .message(format!("{label}: {before} -> {replicas} replicas"));
        }
        Ok(json!({"previous": previous, "replicas": replicas}))
    }
}
