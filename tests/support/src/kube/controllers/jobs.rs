//! The Job controller: creates pods from the template (labelled `job-name`,
//! `batch.kubernetes.io/job-name`, `controller-uid`, `batch.kubernetes.io/controller-uid`, owned
//! by the Job), counts them, retries failed pods until `backoffLimit`, and writes the status the
//! real controller writes: `active`/`ready`/`succeeded`/`failed`/`terminating`, `startTime`,
//! `completionTime`, and the terminal conditions `SuccessCriteriaMet` + `Complete`
//! (CompletionsReached) or `FailureTarget` + `Failed` (BackoffLimitExceeded).
//!
//! Not emulated: the `batch.kubernetes.io/job-tracking` pod finalizer, the exponential retry
//! delay, `activeDeadlineSeconds`, indexed completion and pod failure policies.

use serde_json::{Value, json};

use super::rt;
use crate::kube::meta::{is_terminating, name_of, namespace_of, now_rfc3339, owner_uids, uid_of};
use crate::kube::state::Cluster;
use crate::kube::store::DeleteOptions;

fn has_condition(job: &Value, kind: &str) -> bool {
    job["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == kind && c["status"] == "True")
}

fn condition(kind: &str, reason: &str, message: &str, now: &str) -> Value {
    json!({"type": kind, "status": "True", "lastProbeTime": now, "lastTransitionTime": now, "reason": reason, "message": message})
}

fn pod_for(job: &Value) -> Value {
    let name = name_of(job);
    let uid = uid_of(job);
    let template = &job["spec"]["template"];
    let mut labels = template["metadata"]["labels"].clone();
    if !labels.is_object() {
        labels = json!({});
    }
    for (k, v) in [
        ("batch.kubernetes.io/controller-uid", uid),
        ("batch.kubernetes.io/job-name", name),
        ("controller-uid", uid),
        ("job-name", name),
    ] {
        labels[k] = json!(v);
    }
    let mut metadata = json!({
        "generateName": format!("{name}-"),
        "labels": labels,
        "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": name, "uid": uid, "controller": true, "blockOwnerDeletion": true}],
    });
    if template["metadata"]["annotations"].is_object() {
        metadata["annotations"] = template["metadata"]["annotations"].clone();
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": template["spec"]})
}

/// One pass.
pub fn reconcile(cluster: &Cluster) {
    let (jobs, pods) = (rt("batch", "jobs"), rt("", "pods"));
    let mut store = cluster.store();
    for job in store.list(jobs, None, None, None) {
        if is_terminating(&job)
            || has_condition(&job, "Complete")
            || has_condition(&job, "Failed")
            || job["spec"]["suspend"] == json!(true)
        {
            continue;
        }
        let (ns, name, uid) = (
            namespace_of(&job).to_string(),
            name_of(&job).to_string(),
            uid_of(&job).to_string(),
        );
        let owned: Vec<Value> = store
            .list(pods, Some(&ns), None, None)
            .into_iter()
            .filter(|p| owner_uids(p).contains(&uid))
            .collect();
        let phase = |p: &Value| {
            p["status"]["phase"]
                .as_str()
                .unwrap_or("Pending")
                .to_string()
        };
        let succeeded = owned.iter().filter(|p| phase(p) == "Succeeded").count() as i64;
        let failed = owned.iter().filter(|p| phase(p) == "Failed").count() as i64;
        let active: Vec<&Value> = owned
            .iter()
            .filter(|p| !is_terminating(p) && phase(p) != "Succeeded" && phase(p) != "Failed")
            .collect();
        let ready = active.iter().filter(|p| phase(p) == "Running").count() as i64;
        let completions = job["spec"]["completions"].as_i64().unwrap_or(1);
        let parallelism = job["spec"]["parallelism"].as_i64().unwrap_or(1);
        let backoff_limit = job["spec"]["backoffLimit"].as_i64().unwrap_or(6);
        let now = now_rfc3339();
        let start_time = job["status"]["startTime"]
            .as_str()
            .unwrap_or(&now)
            .to_string();

        let mut status =
            json!({"startTime": start_time, "terminating": 0, "uncountedTerminatedPods": {}});
        if succeeded > 0 {
            status["succeeded"] = json!(succeeded);
        }
        if failed > 0 {
            status["failed"] = json!(failed);
        }
        if succeeded >= completions {
            let message = "Reached expected number of succeeded pods";
            status["ready"] = json!(0);
            status["completionTime"] = json!(now);
            status["conditions"] = json!([
                condition("SuccessCriteriaMet", "CompletionsReached", message, &now),
                condition("Complete", "CompletionsReached", message, &now),
            ]);
        } else if failed > backoff_limit {
            let message = "Job has reached the specified backoff limit";
            for p in &active {
                let _ = store.delete(pods, &ns, name_of(p), &DeleteOptions::default());
            }
            status["ready"] = json!(0);
            status["conditions"] = json!([
                condition("FailureTarget", "BackoffLimitExceeded", message, &now),
                condition("Failed", "BackoffLimitExceeded", message, &now),
            ]);
        } else {
            let wanted = parallelism.min(completions - succeeded).max(0);
            let missing = wanted - active.len() as i64;
            for _ in 0..missing.max(0) {
                let _ = store.create(
                    pods,
                    &ns,
                    pod_for(&job),
                    false,
                    crate::kube::managed_fields::Writer::Update(
                        crate::kube::managed_fields::CONTROLLER_MANAGER,
                    ),
                );
            }
            let active_now = active.len() as i64 + missing.max(0);
            if active_now > 0 {
                status["active"] = json!(active_now);
            }
            status["ready"] = json!(ready);
        }
        store.modify(jobs, &ns, &name, |j| {
            // Keep conditions' timestamps stable across passes while nothing changes.
            if j["status"]["conditions"].is_array() && status["conditions"].is_null() {
                status["conditions"] = j["status"]["conditions"].clone();
            }
            j["status"] = status;
        });
    }
}
