//! `k8s.patch`: change an object with a merge, strategic-merge or JSON patch (e.g. suspend a
//! backup CronJob: `patch: {spec: {suspend: true}}`). Outputs the patched object.

use async_trait::async_trait;
use kube::api::{Patch as KubePatch, PatchParams};
use runbook_engine::kind::{Kind, StepContext, StepError};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{client, object_label, resources};

pub struct Patch;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchInput {
    /// A `kubernetes` connection (default: the runbook's only one, else KUBECONFIG).
    pub connection: Option<String>,
    /// The object's kind, e.g. `CronJob`, `Deployment`.
    pub kind: String,
    /// `group/version` when the kind is ambiguous or not a common one.
    pub api_version: Option<String>,
    /// Default: the connection's namespace, else the kubeconfig context's.
    pub namespace: Option<String>,
    pub name: String,
    /// The patch: an object for `merge`/`strategic`, a list of operations for `json`.
    pub patch: Value,
    /// `merge` (default, RFC 7386), `strategic` (Kubernetes' list-aware merge) or `json` (RFC 6902).
    #[serde(default, rename = "type")]
    pub patch_type: PatchType,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PatchType {
    #[default]
    Merge,
    Strategic,
    Json,
}

#[async_trait]
impl Kind for Patch {
    type Input = PatchInput;

    fn name(&self) -> &'static str {
        "k8s.patch"
    }

    fn about(&self) -> &'static str {
        "Patch a Kubernetes object (merge, strategic or JSON patch). Outputs the patched `object`."
    }

    fn outputs(&self) -> &'static [&'static str] {
        &["object"]
    }

    /// A merge patch sets values, so applying it twice is applying it once; a JSON patch may
    /// `add` to a list or `remove` what is gone the second time.
    fn idempotent(&self, input: &PatchInput) -> bool {
        input.patch_type != PatchType::Json
    }

    fn describe(&self, input: &PatchInput) -> String {
        format!(
            "patch {} with {}",
            object_label(&input.kind, input.namespace.as_deref(), &input.name),
            input.patch
        )
    }

    async fn run(&self, ctx: &StepContext, input: PatchInput) -> Result<Value, StepError> {
        let cluster = client::connect(ctx, input.connection.as_deref()).await?;
        let namespace = cluster.namespace(input.namespace.as_deref());
        let resource =
            resources::resolve(&cluster.client, input.api_version.as_deref(), &input.kind).await?;
        let label = object_label(&resource.api.kind, resource.scope(&namespace), &input.name);
        let api = resource.api(&cluster.client, &namespace);
        let params = PatchParams::default();
        let result = match input.patch_type {
            PatchType::Merge => {
                api.patch(&input.name, &params, &KubePatch::Merge(&input.patch))
                    .await
            }
            PatchType::Strategic => {
                api.patch(&input.name, &params, &KubePatch::Strategic(&input.patch))
                    .await
            }
            PatchType::Json => {
                let operations: json_patch::Patch = serde_json::from_value(input.patch.clone())
                    .map_err(|e| {
                        StepError::permanent(format!(
                            "`patch` is not a JSON patch (a list of {{op, path, value}}): {e}"
                        ))
                    })?;
                api.patch(&input.name, &params, &KubePatch::<()>::Json(operations))
                    .await
            }
        };
        match result {
            Ok(object) => Ok(json!({"object": object})),
            Err(e) if super::is_not_found(&e) => {
                Err(StepError::permanent(format!("{label} does not exist")))
            }
            Err(e) => Err(super::api_error(&format!("patching {label}"), e)),
        }
    }
}
