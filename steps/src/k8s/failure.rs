//! Why a Job or pod failed, told the way an operator needs it: the reason, the message, and the
//! last lines of the failed pod's log, so the error alone says what to fix.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, ListParams, LogParams};

/// Log lines quoted in a failure.
pub const LOG_LINES: i64 = 20;

/// The `Failed` condition of a Job, if it has one that is true: `(reason, message)`.
pub fn job_failed(job: &Job) -> Option<(String, String)> {
    job.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Failed" && c.status == "True")
        .map(|c| {
            (
                c.reason.clone().unwrap_or_else(|| "Failed".into()),
                c.message.clone().unwrap_or_default(),
            )
        })
}

/// Whether a Job has completed.
pub fn job_complete(job: &Job) -> bool {
    job.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c.type_ == "Complete" && c.status == "True")
        })
}

/// The error text for a failed Job: its reason and message, then the newest failed pod's log tail.
pub async fn describe_failed_job(
    client: &Client,
    namespace: &str,
    job: &Job,
    reason: &str,
    message: &str,
) -> String {
    let name = job.metadata.name.clone().unwrap_or_default();
    let mut text = format!("Job {namespace}/{name} failed: {reason}");
    if !message.is_empty() {
        text.push_str(&format!(": {message}"));
    }
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let listed = pods
        .list(&ListParams::default().labels(&format!("job-name={name}")))
        .await;
    let mut pods = listed.map(|l| l.items).unwrap_or_default();
    // The newest pod that failed says most about the last attempt.
    pods.sort_by_key(|p| p.metadata.creation_timestamp.clone().map(|t| t.0));
    let failed = pods
        .iter()
        .rev()
        .find(|p| pod_phase(p) == "Failed")
        .or(pods.last());
    match failed {
        Some(pod) => text.push_str(&describe_pod_end(client, namespace, pod).await),
        None => text.push_str("\n(no pod of this Job is left to read logs from)"),
    }
    text
}

/// A pod's phase (`Pending` when not reported yet).
pub fn pod_phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending")
}

/// The termination details and log tail of one pod, as lines to append to an error.
pub async fn describe_pod_end(client: &Client, namespace: &str, pod: &Pod) -> String {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let mut text = String::new();
    let terminated = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|c| {
            c.state
                .as_ref()?
                .terminated
                .as_ref()
                .map(|t| (c.name.clone(), t.clone()))
        });
    for (container, t) in terminated {
        text.push_str(&format!(
            "\npod {name} container {container} exited {}{}{}",
            t.exit_code,
            t.reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default(),
            t.message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        ));
    }
    if let Some(reason) = pod.status.as_ref().and_then(|s| s.reason.as_deref()) {
        text.push_str(&format!("\npod {name}: {reason}"));
    }
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let params = LogParams {
        tail_lines: Some(LOG_LINES),
        ..Default::default()
    };
    match pods.logs(&name, &params).await {
        Ok(logs) if !logs.trim().is_empty() => {
            text.push_str(&format!(
                "\nlast {LOG_LINES} log lines of pod {name}:\n{}",
                logs.trim_end()
            ));
        }
        Ok(_) => text.push_str(&format!("\npod {name} logged nothing")),
        Err(e) => text.push_str(&format!("\n(cannot read the logs of pod {name}: {e})")),
    }
    text
}
