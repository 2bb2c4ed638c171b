//! `k8s.logs`: read a pod's log (optionally the last lines, or the previous container's).

use async_trait::async_trait;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams};
use runbook_engine::kind::{Kind, StepContext, StepError};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::client;

pub struct Logs;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogsInput {
    /// A `kubernetes` connection (default: the runbook's only one, else KUBECONFIG).
    pub connection: Option<String>,
    /// Default: the connection's namespace, else the kubeconfig context's.
    pub namespace: Option<String>,
    pub pod: String,
    /// Default: the pod's only container.
    pub container: Option<String>,
    /// Only the last this many lines.
    pub tail: Option<i64>,
    /// The log of the previous (crashed) container instead of the current one.
    #[serde(default)]
    pub previous: bool,
}

#[async_trait]
impl Kind for Logs {
    type Input = LogsInput;

    fn name(&self) -> &'static str {
        "k8s.logs"
    }

    fn about(&self) -> &'static str {
        "Read a pod's log. Outputs `logs`."
    }

    fn outputs(&self) -> &'static [&'static str] {
        &["logs"]
    }

    fn idempotent(&self, _input: &LogsInput) -> bool {
        true
    }

    fn describe(&self, input: &LogsInput) -> String {
        let ns = input
            .namespace
            .as_ref()
            .map(|n| format!("{n}/"))
            .unwrap_or_default();
        format!("read the log of pod {ns}{}", input.pod)
    }

    async fn run(&self, ctx: &StepContext, input: LogsInput) -> Result<Value, StepError> {
        let cluster = client::connect(ctx, input.connection.as_deref()).await?;
        let namespace = cluster.namespace(input.namespace.as_deref());
        let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), &namespace);
        let params = LogParams {
            container: input.container.clone(),
            tail_lines: input.tail,
            previous: input.previous,
            ..LogParams::default()
        };
        let logs = pods.logs(&input.pod, &params).await.map_err(|e| {
            super::api_error(
                &format!("reading the log of pod {namespace}/{}", input.pod),
                e,
            )
        })?;
        Ok(json!({"logs": logs}))
    }
}
