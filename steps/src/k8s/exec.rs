//! `k8s.exec`: run a command in a pod's container (the `exec` subresource over a websocket, as
//! `kubectl exec` does); stdout and stderr are captured and a non-zero exit fails the step.

use async_trait::async_trait;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams};
use runbook_engine::kind::{Kind, StepContext, StepError, Templated};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::client;

pub struct Exec;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecInput {
    /// A `kubernetes` connection (default: the runbook's only one, else KUBECONFIG).
    pub connection: Option<String>,
    /// Default: the connection's namespace, else the kubeconfig context's.
    pub namespace: Option<String>,
    pub pod: String,
    /// Default: the pod's only container.
    pub container: Option<String>,
    /// Program and arguments (no shell; write `[sh, -c, "..."]` for one).
    pub command: Templated<Vec<String>>,
    /// Text written to the command's standard input.
    pub stdin: Option<String>,
}

#[async_trait]
impl Kind for Exec {
    type Input = ExecInput;

    fn name(&self) -> &'static str {
        "k8s.exec"
    }

    fn about(&self) -> &'static str {
        "Run a command in a pod's container; a non-zero exit fails the step. Outputs `stdout`, `stderr`, `exit_code`."
    }

    fn outputs(&self) -> &'static [&'static str] {
        &["stdout", "stderr", "exit_code"]
    }

    fn describe(&self, input: &ExecInput) -> String {
        let command = input
            .command
            .value()
            .map(|a| a.join(" "))
            .unwrap_or_default();
        let container = input
            .container
            .as_ref()
            .map(|c| format!(" container {c}"))
            .unwrap_or_default();
        let ns = input
            .namespace
            .as_ref()
            .map(|n| format!("{n}/"))
            .unwrap_or_default();
        format!("exec in pod {ns}{}{container}: {command}", input.pod)
    }

    async fn run(&self, ctx: &StepContext, input: ExecInput) -> Result<Value, StepError> {
        let command = input.command.rendered("command")?;
        if command.is_empty() {
            return Err(StepError::permanent(
                "`command` is empty; the first item is the program to run",
            ));
        }
        let cluster = client::connect(ctx, input.connection.as_deref()).await?;
        let namespace = cluster.namespace(input.namespace.as_deref());
        let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), &namespace);
        let mut params = AttachParams::default()
            .stdin(input.stdin.is_some())
            .stdout(true)
            .stderr(true);
        if let Some(c) = &input.container {
            params = params.container(c);
        }
        let where_ = format!("pod {namespace}/{}", input.pod);
        let mut process = pods
            .exec(&input.pod, command.clone(), &params)
            .await
            .map_err(|e| super::api_error(&format!("exec in {where_}"), e))?;
        if let (Some(text), Some(mut stdin)) = (&input.stdin, process.stdin()) {
            stdin
                .write_all(text.as_bytes())
                .await
                .map_err(|e| StepError::new(format!("writing stdin: {e}")))?;
            drop(stdin);
        }
        let status = process.take_status();
        let mut stdout_reader = process
            .stdout()
            .ok_or_else(|| StepError::new("exec gave no stdout"))?;
        let mut stderr_reader = process
            .stderr()
            .ok_or_else(|| StepError::new("exec gave no stderr"))?;
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let (r1, r2) = tokio::join!(
            stdout_reader.read_to_end(&mut out),
            stderr_reader.read_to_end(&mut err)
        );
        r1.and(r2)
            .map_err(|e| StepError::new(format!("reading exec output from {where_}: {e}")))?;
        let status = match status {
            Some(s) => s.await,
            None => None,
        };
        let _ = process.join().await;
        let stdout = String::from_utf8_lossy(&out).into_owned();
        let stderr = String::from_utf8_lossy(&err).into_owned();
        let exit_code = exit_code(status.as_ref());
        if exit_code != 0 {
            return Err(StepError::new(format!(
                "`{}` in {where_} exited {exit_code}{}",
                command.join(" "),
                if stderr.trim().is_empty() {
                    String::new()
                } else {
                    format!(":\n{}", stderr.trim_end())
                }
            )));
        }
        Ok(json!({"stdout": stdout, "stderr": stderr, "exit_code": exit_code}))
    }
}

/// The exit code from the exec status channel: `Success`, or `NonZeroExitCode` with an
/// `ExitCode` cause.
fn exit_code(status: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Status>) -> i64 {
    let Some(status) = status else { return 0 };
    if status.status.as_deref() == Some("Success") {
        return 0;
    }
    status
        .details
        .as_ref()
        .and_then(|d| d.causes.as_ref())
        .and_then(|causes| {
            causes
                .iter()
                .find(|c| c.reason.as_deref() == Some("ExitCode"))
        })
        .and_then(|c| c.message.as_deref())
        .and_then(|m| m.parse().ok())
        .unwrap_or(1)
}
