//! The kubelet's visible effect on pods: Pending, then Running (Ready), and for pods that run to
//! completion (`restartPolicy` Never/OnFailure) Succeeded or Failed as the test scripted
//! (unscripted ones succeed). Long-running pods (`Always`) stay Running.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::rt;
use crate::kube::logs::script_owner_name;
use crate::kube::meta::{is_terminating, name_of, namespace_of, now_rfc3339, uid_of};
use crate::kube::pod_run::pod_run;
use crate::kube::script::{ActionOutcome, JobScript, PodOutcome};
use crate::kube::state::Cluster;

/// Tracks when each pod was first seen, to time its transitions.
#[derive(Default)]
pub struct PodLifecycle {
    first_seen: HashMap<String, Instant>,
    /// Actions running or finished, by pod uid.
    actions: HashMap<String, Arc<Mutex<Option<ActionOutcome>>>>,
}

fn container_names(pod: &Value) -> Vec<(String, String)> {
    pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or_default().to_string(),
                c["image"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn condition(kind: &str, status: bool, now: &str, reason: Option<&str>) -> Value {
    let mut c = json!({"type": kind, "status": if status { "True" } else { "False" }, "lastProbeTime": null, "lastTransitionTime": now});
    if let Some(r) = reason {
        c["reason"] = json!(r);
    }
    c
}

fn running_status(pod: &Value, ip: &str) -> Value {
    let now = now_rfc3339();
    let containers: Vec<Value> = container_names(pod)
        .into_iter()
        .map(|(name, image)| {
            json!({"name": name, "image": image, "imageID": format!("{image}@sha256:0"), "ready": true,
                   "started": true, "restartCount": 0, "state": {"running": {"startedAt": now}}})
        })
        .collect();
    json!({
        "phase": "Running",
        "conditions": [
            condition("PodReadyToStartContainers", true, &now, None),
            condition("Initialized", true, &now, None),
            condition("Ready", true, &now, None),
            condition("ContainersReady", true, &now, None),
            condition("PodScheduled", true, &now, None),
        ],
        "hostIP": "10.0.0.1",
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "startTime": now,
        "containerStatuses": containers,
        "qosClass": "BestEffort",
    })
}

fn terminated_status(pod: &Value, exit_code: i32) -> Value {
    let now = now_rfc3339();
    let started = pod["status"]["startTime"]
        .as_str()
        .unwrap_or(&now)
        .to_string();
    let succeeded = exit_code == 0;
    let reason = if succeeded { "Completed" } else { "Error" };
    let containers: Vec<Value> = container_names(pod)
        .into_iter()
        .map(|(name, image)| {
            json!({"name": name, "image": image, "imageID": format!("{image}@sha256:0"), "ready": false,
                   "started": false, "restartCount": 0,
                   "state": {"terminated": {"exitCode": exit_code, "reason": reason, "startedAt": started, "finishedAt": now}}})
        })
        .collect();
    let mut status = pod["status"].clone();
    status["phase"] = json!(if succeeded { "Succeeded" } else { "Failed" });
    status["containerStatuses"] = json!(containers);
    status["conditions"] = json!([
        condition("PodReadyToStartContainers", false, &now, None),
        condition("Initialized", true, &now, Some("PodCompleted")),
        condition("Ready", false, &now, Some("PodCompleted")),
        condition("ContainersReady", false, &now, Some("PodCompleted")),
        condition("PodScheduled", true, &now, None),
    ]);
    status
}

impl PodLifecycle {
    /// The reconcile function for the controller loop.
    pub fn into_reconcile(mut self) -> impl FnMut(&Cluster) + Send {
        move |cluster| self.reconcile(cluster)
    }

    fn reconcile(&mut self, cluster: &Cluster) {
        let pods_rt = rt("", "pods");
        let pods = cluster.store().list(pods_rt, None, None, None);
        let (rollout_delay, scripts): (Duration, Vec<Option<JobScript>>) = {
            let s = cluster.scripts();
            let scripts = pods
                .iter()
                .map(|p| s.pod_script(&script_owner_name(p), p))
                .collect();
            (s.rollout_delay, scripts)
        };
        let now = Instant::now();
        let live: std::collections::HashSet<&str> = pods.iter().map(uid_of).collect();
        self.first_seen.retain(|uid, _| live.contains(uid.as_str()));
        self.actions.retain(|uid, _| live.contains(uid.as_str()));
        let mut finished_logs = Vec::new();
        let mut store = cluster.store();
        for (i, (pod, script)) in pods.iter().zip(scripts).enumerate() {
            let phase = pod["status"]["phase"].as_str().unwrap_or("Pending");
            if is_terminating(pod) || phase == "Succeeded" || phase == "Failed" {
                continue;
            }
            let runs_to_completion =
                pod["spec"]["restartPolicy"].as_str().unwrap_or("Always") != "Always";
            let script = match (script, runs_to_completion) {
                (Some(s), true) => Some(s),
                (None, true) => Some(JobScript::succeed("")),
                (_, false) => None,
            };
            let pending_for = script.as_ref().map_or(rollout_delay, |s| s.pending_for);
            let seen = *self
                .first_seen
                .entry(uid_of(pod).to_string())
                .or_insert(now);
            let elapsed = now.duration_since(seen);
            let (ns, name) = (namespace_of(pod).to_string(), name_of(pod).to_string());
            if phase == "Pending" && elapsed >= pending_for {
                let ip = format!("10.244.{}.{}", (i / 250) % 250, i % 250 + 2);
                store.modify(pods_rt, &ns, &name, |p| {
                    p["status"] = running_status(p, &ip)
                });
            } else if phase == "Running"
                && let Some(action) = script.as_ref().and_then(|s| s.action.clone())
            {
                let uid = uid_of(pod).to_string();
                match self.actions.get(&uid) {
                    None => {
                        let run = pod_run(&store, pod);
                        let slot = Arc::new(Mutex::new(None));
                        let done = slot.clone();
                        std::thread::spawn(move || {
                            let outcome = (action.0)(&run);
                            *done.lock().unwrap_or_else(|e| e.into_inner()) = Some(outcome);
                        });
                        self.actions.insert(uid, slot);
                    }
                    Some(slot) => {
                        let outcome = slot.lock().unwrap_or_else(|e| e.into_inner()).clone();
                        if let Some(outcome) = outcome {
                            finished_logs.push(((ns, name), outcome));
                        }
                    }
                }
            } else if phase == "Running"
                && let Some(s) = script.filter(|s| elapsed >= s.pending_for + s.running_for)
            {
                let exit_code = match s.outcome {
                    PodOutcome::Succeed => 0,
                    PodOutcome::Fail => s.exit_code,
                };
                store.modify(pods_rt, &ns, &name, |p| {
                    p["status"] = terminated_status(p, exit_code)
                });
            }
        }
        drop(store);
        if finished_logs.is_empty() {
            return;
        }
        // The logs are kept before the pod shows it terminated, so that a client that sees the
        // failure and reads the logs at once finds them.
        cluster.scripts().pod_logs.extend(
            finished_logs
                .iter()
                .map(|(key, outcome)| (key.clone(), outcome.logs.clone())),
        );
        let mut store = cluster.store();
        for ((ns, name), outcome) in finished_logs {
            store.modify(pods_rt, &ns, &name, |p| {
                p["status"] = terminated_status(p, outcome.exit_code)
            });
        }
    }
}
