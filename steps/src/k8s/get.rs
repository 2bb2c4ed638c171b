//! `k8s.get`: read one object; outputs it whole (and `found: false` with `optional: true`).

use async_trait::async_trait;
use runbook_engine::kind::{Kind, StepContext, StepError};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{client, object_label, resources};

pub struct Get;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetInput {
    /// A `kubernetes` connection (default: the runbook's only one, else KUBECONFIG).
    pub connection: Option<String>,
    /// The object's kind, e.g. `Deployment`, `CronJob`, `Backup`.
    pub kind: String,
    /// `group/version` when the kind is ambiguous or not a common one.
    pub api_version: Option<String>,
    /// Default: the connection's namespace, else the kubeconfig context's.
    pub namespace: Option<String>,
    pub name: String,
    /// A missing object is not an error: outputs `found: false` and `object: null`.
    #[serde(default)]
    pub optional: bool,
}

#[async_trait]
impl Kind for Get {
    type Input = GetInput;

    fn name(&self) -> &'static str {
        "k8s.get"
    }

    fn about(&self) -> &'static str {
        "Read one Kubernetes object. Outputs `object` (and `found`)."
    }

    fn outputs(&self) -> &'static [&'static str] {
        &["object", "found"]
    }

    fn idempotent(&self, _input: &GetInput) -> bool {
        true
    }

    fn describe(&self, input: &GetInput) -> String {
        format!(
            "read {}",
            object_label(&input.kind, input.namespace.as_deref(), &input.name)
        )
    }

    async fn run(&self, ctx: &StepContext, input: GetInput) -> Result<Value, StepError> {
        let cluster = client::connect(ctx, input.connection.as_deref()).await?;
        let namespace = cluster.namespace(input.namespace.as_deref());
        let resource =
            resources::resolve(&cluster.client, input.api_version.as_deref(), &input.kind).await?;
        let label = object_label(&resource.api.kind, resource.scope(&namespace), &input.name);
        let object = resource
            .api(&cluster.client, &namespace)
            .get_opt(&input.name)
            .await
            .map_err(|e| super::api_error(&format!("reading {label}"), e))?;
        match object {
            Some(object) => Ok(json!({"object": object, "found": true})),
            None if input.optional => Ok(json!({"object": null, "found": false})),
            None => Err(StepError::permanent(format!("{label} does not exist"))),
        }
    }
}
