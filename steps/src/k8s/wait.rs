//! `k8s.wait`: wait until an object meets a condition (`Complete`, `Ready`, a pod phase such as
//! `Succeeded`, or `Deleted`) or a field equals a value, within a timeout. A Job or pod that
//! fails while waited for ends the wait at once with its reason and last log lines.

use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::DynamicObject;
use runbook_engine::duration::DurationInput;
use runbook_engine::kind::{Kind, StepContext, StepError, Templated};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::client::{self, Cluster};
use super::failure;
use super::object_label;
use super::resources;
use super::waiting::{Verdict, watch_until};

pub struct Wait;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitInput {
    /// A `kubernetes` connection (default: the runbook's only one, else KUBECONFIG).
    pub connection: Option<String>,
    /// The object's kind, e.g. `Job`, `Pod`, `Deployment`.
    pub kind: String,
    /// `group/version` when the kind is ambiguous or not a common one.
    pub api_version: Option<String>,
    /// Default: the connection's namespace, else the kubeconfig context's.
    pub namespace: Option<String>,
    pub name: String,
    /// A condition type that must be `True` (`Complete`, `Failed`, `Ready`, `Available`), a pod
    /// phase (`Running`, `Succeeded`, `Failed`), or `Deleted`. Give this or `field` + `equals`.
    pub condition: Option<String>,
    /// A dotted path into the object, e.g. `status.phase` or `status.readyReplicas`.
    pub field: Option<String>,
    /// The value `field` must have (compared as text, so `3` and `"3"` both match).
    pub equals: Option<Value>,
    /// Instead of `equals`: wait until `field` is absent, null or empty (e.g. a CronJob's
    /// `status.active` once no Job of it runs).
    pub absent: Option<Templated<bool>>,
    /// How long to wait (default 10m).
    pub timeout: Option<DurationInput>,
}

const POD_PHASES: &[&str] = &["Pending", "Running", "Succeeded", "Failed", "Unknown"];

#[async_trait]
impl Kind for Wait {
    type Input = WaitInput;

    fn name(&self) -> &'static str {
        "k8s.wait"
    }

    fn about(&self) -> &'static str {
        "Wait until a Kubernetes object meets a condition (Job Complete, pod phase, Deleted) or a field equals a value; a failed Job or pod ends the wait with its reason and logs. Outputs `object`."
    }

    fn outputs(&self) -> &'static [&'static str] {
        &["object"]
    }

    fn check(&self, input: &WaitInput) -> Vec<String> {
        if input.absent.is_some() && (input.equals.is_some() || input.field.is_none()) {
            return vec!["`absent: true` goes with `field` and without `equals`".into()];
        }
        if input.absent.is_some() {
            return Vec::new();
        }
        match (&input.condition, &input.field, &input.equals) {
            (Some(_), None, None) | (None, Some(_), Some(_)) => Vec::new(),
            (Some(_), _, _) => vec!["give `condition`, or `field` with `equals`, not both".into()],
            (None, Some(_), None) => vec!["`field` needs `equals`: the value to wait for".into()],
            _ => vec!["give `condition` (e.g. Complete) or `field` + `equals` (e.g. status.phase: Succeeded)".into()],
        }
    }

    fn idempotent(&self, _input: &WaitInput) -> bool {
        true
    }

    fn describe(&self, input: &WaitInput) -> String {
        let what = object_label(&input.kind, input.namespace.as_deref(), &input.name);
        let until = match (&input.condition, &input.field) {
            (Some(c), _) => c.clone(),
            (None, Some(f)) if input.absent.is_some() => format!("without {f}"),
            (None, Some(f)) => format!("{f} == {}", input.equals.as_ref().unwrap_or(&Value::Null)),
            _ => "?".into(),
        };
        format!(
            "wait until {what} is {until} (timeout {})",
            input.timeout.as_ref().map_or("10m", DurationInput::text)
        )
    }

    async fn run(&self, ctx: &StepContext, input: WaitInput) -> Result<Value, StepError> {
        let cluster = client::connect(ctx, input.connection.as_deref()).await?;
        let namespace = cluster.namespace(input.namespace.as_deref());
        let resource =
            resources::resolve(&cluster.client, input.api_version.as_deref(), &input.kind).await?;
        let timeout = DurationInput::timeout_or(input.timeout.as_ref(), Duration::from_secs(600))?;
        let label = object_label(&resource.api.kind, resource.scope(&namespace), &input.name);
        let goal = Goal::from_input(&input, &resource.api.kind)?;
        ctx.progress
            .message(format!("waiting for {label} to be {}", goal.describe()));
        let kind = resource.api.kind.clone();
        let api = resource.api(&cluster.client, &namespace);
        let ended = watch_until(
            api,
            &input.name,
            timeout,
            &format!("{label} to be {}", goal.describe()),
            |object| judge(&goal, &kind, object),
        )
        .await?;
        match ended {
            Ended::Reached(object) => Ok(json!({"object": object})),
            Ended::Gone => Ok(json!({"object": null})),
            Ended::Failed(object) => Err(StepError::permanent(
                explain_failure(&cluster, &namespace, &kind, &object).await,
            )),
        }
    }
}

/// Whether the rendered `absent` input asks for the field to be absent.
fn absent(input: &WaitInput) -> Result<bool, StepError> {
    match &input.absent {
        Some(absent) => absent.rendered("absent").copied(),
        None => Ok(false),
    }
}

/// What the wait is for.
enum Goal {
    Condition(String),
    Phase(String),
    Deleted,
    Field(String, Value),
    Absent(String),
}

impl Goal {
    fn from_input(input: &WaitInput, kind: &str) -> Result<Goal, StepError> {
        match (&input.condition, &input.field, &input.equals) {
            (Some(c), None, None) if c.eq_ignore_ascii_case("deleted") => Ok(Goal::Deleted),
            (Some(c), None, None) if kind == "Pod" && POD_PHASES.contains(&c.as_str()) => {
                Ok(Goal::Phase(c.clone()))
            }
            (Some(c), None, None) => Ok(Goal::Condition(c.clone())),
            (None, Some(f), None) if absent(input)? => Ok(Goal::Absent(f.clone())),
            (None, Some(f), Some(v)) => Ok(Goal::Field(f.clone(), v.clone())),
            _ => Err(StepError::permanent(
                "give `condition`, or `field` with `equals`",
            )),
        }
    }

    fn describe(&self) -> String {
        match self {
            Goal::Condition(c) | Goal::Phase(c) => c.clone(),
            Goal::Deleted => "deleted".into(),
            Goal::Field(f, v) => format!("{f} == {v}"),
            Goal::Absent(f) => format!("without {f}"),
        }
    }

    /// Whether the goal is itself a failure state (then reaching it is not an error).
    fn expects_failure(&self) -> bool {
        matches!(self, Goal::Condition(c) | Goal::Phase(c) if c == "Failed")
    }
}

enum Ended {
    Reached(DynamicObject),
    Gone,
    Failed(DynamicObject),
}

fn judge(goal: &Goal, kind: &str, object: Option<&DynamicObject>) -> Verdict<Ended> {
    let Some(object) = object else {
        return if matches!(goal, Goal::Deleted) {
            Verdict::Done(Ended::Gone)
        } else {
            Verdict::Pending
        };
    };
    let reached = match goal {
        Goal::Deleted => false,
        Goal::Condition(c) => has_condition(&object.data, c),
        Goal::Phase(p) => object.data["status"]["phase"].as_str() == Some(p.as_str()),
        Goal::Field(f, v) => field(&object.data, f).is_some_and(|found| same_text(found, v)),
        Goal::Absent(f) => match field(&object.data, f) {
            None | Some(Value::Null) => true,
            Some(Value::Array(a)) => a.is_empty(),
            Some(Value::String(t)) => t.is_empty(),
            Some(_) => false,
        },
    };
    if reached {
        return Verdict::Done(Ended::Reached(object.clone()));
    }
    let failed = match kind {
        "Job" => has_condition(&object.data, "Failed"),
        "Pod" => object.data["status"]["phase"] == "Failed",
        _ => false,
    };
    if failed && !goal.expects_failure() {
        Verdict::Done(Ended::Failed(object.clone()))
    } else {
        Verdict::Pending
    }
}

/// Whether `status.conditions` has `type` with status `True`.
pub fn has_condition(data: &Value, condition: &str) -> bool {
    data["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == condition && c["status"] == "True")
    })
}

/// The value at a dotted path (`status.phase`, `spec.template.spec.containers.0.image`); the
/// top-level `metadata`, `spec` and `status` are read from the object as served.
pub fn field<'a>(data: &'a Value, path: &str) -> Option<&'a Value> {
    path.trim_start_matches('.')
        .split('.')
        .try_fold(data, |v, key| match v {
            Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => v.get(key),
        })
}

fn same_text(found: &Value, wanted: &Value) -> bool {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    found == wanted || text(found) == text(wanted)
}

async fn explain_failure(
    cluster: &Cluster,
    namespace: &str,
    kind: &str,
    object: &DynamicObject,
) -> String {
    let as_typed = serde_json::to_value(object).ok();
    match kind {
        "Job" => match as_typed.and_then(|v| serde_json::from_value::<Job>(v).ok()) {
            Some(job) => {
                let (reason, message) =
                    failure::job_failed(&job).unwrap_or_else(|| ("Failed".into(), String::new()));
                failure::describe_failed_job(&cluster.client, namespace, &job, &reason, &message)
                    .await
            }
            None => format!(
                "Job {namespace}/{} failed",
                object.metadata.name.as_deref().unwrap_or("?")
            ),
        },
        _ => match as_typed.and_then(|v| serde_json::from_value::<Pod>(v).ok()) {
            Some(pod) => format!(
                "pod {namespace}/{} failed{}",
                pod.metadata.name.as_deref().unwrap_or("?"),
                failure::describe_pod_end(&cluster.client, namespace, &pod).await
            ),
            None => format!(
                "pod {namespace}/{} failed",
                object.metadata.name.as_deref().unwrap_or("?")
            ),
        },
    }
}
