//! Deployments, ReplicaSets, StatefulSets and DaemonSets: pods follow `spec.replicas`, and the
//! status (`replicas`, `readyReplicas`, `availableReplicas`, `updatedReplicas`,
//! `observedGeneration`, and for Deployments the `Available`/`Progressing` conditions) follows
//! the pods once the pods controller reports them Running.
//!
//! Simplified: Deployments own their pods directly (no ReplicaSet in between) and roll out by
//! replacing every pod whose `pod-template-hash` is stale at once; StatefulSets create and remove
//! pods `<name>-<ordinal>` in order and create claims from `volumeClaimTemplates` (kept on scale
//! down, as the default retention policy does); DaemonSets report one scheduled, ready pod and
//! create none (the emulator has no nodes).

use std::hash::{Hash, Hasher};

use serde_json::{Map, Value, json};

use super::rt;
use crate::kube::meta::{
    is_terminating, name_of, namespace_of, now_rfc3339, owner_uids, random_suffix, uid_of,
};
use crate::kube::resources::ResourceType;
use crate::kube::state::Cluster;
use crate::kube::store::{DeleteOptions, Store};

/// A stable 10-character hash of the pod template, as `pod-template-hash` carries.
fn template_hash(template: &Value) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    template.to_string().hash(&mut h);
    let mut x = h.finish();
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..10)
        .map(|_| {
            let c = ALPHABET[(x % ALPHABET.len() as u64) as usize] as char;
            x /= ALPHABET.len() as u64;
            c
        })
        .collect()
}

/// Sets `key: n` unless `n` is zero (these status fields are `omitempty`).
fn put_count(status: &mut Map<String, Value>, key: &str, n: i64) {
    if n != 0 {
        status.insert(key.into(), json!(n));
    }
}

fn owned_pods(store: &Store, ns: &str, uid: &str) -> Vec<Value> {
    store
        .list(rt("", "pods"), Some(ns), None, None)
        .into_iter()
        .filter(|p| owner_uids(p).iter().any(|u| u == uid) && !is_terminating(p))
        .collect()
}

fn new_pod(
    owner_rt: &ResourceType,
    owner: &Value,
    name: String,
    extra_labels: &[(&str, String)],
) -> Value {
    let template = &owner["spec"]["template"];
    let mut labels = template["metadata"]["labels"].clone();
    if !labels.is_object() {
        labels = json!({});
    }
    for (k, v) in extra_labels {
        labels[*k] = json!(v);
    }
    let mut spec = template["spec"].clone();
    if spec["restartPolicy"].is_null() {
        spec["restartPolicy"] = json!("Always");
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": template["metadata"]["annotations"].as_object().cloned().unwrap_or_default(),
            "ownerReferences": [{"apiVersion": owner_rt.api_version(), "kind": owner_rt.kind, "name": name_of(owner),
                                  "uid": uid_of(owner), "controller": true, "blockOwnerDeletion": true}],
        },
        "spec": spec,
    })
}

fn is_ready(pod: &Value) -> bool {
    pod["status"]["phase"] == "Running"
}

/// Deployments and ReplicaSets: `<name>-<hash>-<suffix>` pods.
fn reconcile_replicated(store: &mut Store, owner_rt: &'static ResourceType) {
    let now = now_rfc3339();
    for owner in store.list(owner_rt, None, None, None) {
        if is_terminating(&owner) {
            continue;
        }
        let (ns, name, uid) = (
            namespace_of(&owner).to_string(),
            name_of(&owner).to_string(),
            uid_of(&owner).to_string(),
        );
        let desired = owner["spec"]["replicas"].as_i64().unwrap_or(1);
        let hash = template_hash(&owner["spec"]["template"]);
        let mut pods = owned_pods(store, &ns, &uid);
        // Stale template: replace those pods.
        for stale in pods.iter().filter(|p| {
            p["metadata"]["labels"]["pod-template-hash"].as_str() != Some(hash.as_str())
        }) {
            let _ = store.delete(
                rt("", "pods"),
                &ns,
                name_of(stale),
                &DeleteOptions::default(),
            );
        }
        pods.retain(|p| {
            p["metadata"]["labels"]["pod-template-hash"].as_str() == Some(hash.as_str())
        });
        pods.sort_by(|a, b| {
            a["metadata"]["creationTimestamp"]
                .as_str()
                .cmp(&b["metadata"]["creationTimestamp"].as_str())
        });
        while (pods.len() as i64) > desired {
            let victim = pods.pop().expect("len > desired >= 0");
            let _ = store.delete(
                rt("", "pods"),
                &ns,
                name_of(&victim),
                &DeleteOptions::default(),
            );
        }
        for _ in pods.len() as i64..desired {
            let pod_name = format!("{name}-{hash}-{}", random_suffix(5));
            let pod = new_pod(
                owner_rt,
                &owner,
                pod_name,
                &[("pod-template-hash", hash.clone())],
            );
            if let Ok(p) = store.create(
                rt("", "pods"),
                &ns,
                pod,
                false,
                crate::kube::managed_fields::Writer::Update(
                    crate::kube::managed_fields::CONTROLLER_MANAGER,
                ),
            ) {
                pods.push(p);
            }
        }
        let ready = pods.iter().filter(|p| is_ready(p)).count() as i64;
        let replicas = pods.len() as i64;
        let mut status = Map::new();
        status.insert(
            "observedGeneration".into(),
            owner["metadata"]["generation"].clone(),
        );
        put_count(&mut status, "replicas", replicas);
        put_count(&mut status, "readyReplicas", ready);
        put_count(&mut status, "availableReplicas", ready);
        if owner_rt.kind == "Deployment" {
            put_count(&mut status, "updatedReplicas", replicas);
            put_count(&mut status, "unavailableReplicas", (desired - ready).max(0));
            let available = ready >= desired;
            let rs_name = format!("{name}-{hash}");
            let old = owner["status"]["conditions"].clone();
            let keep_time = |kind: &str, st: &str, reason: &str| -> (String, String) {
                old.as_array()
                    .into_iter()
                    .flatten()
                    .find(|c| c["type"] == kind && c["status"] == st && c["reason"] == reason)
                    .map(|c| {
                        (
                            c["lastUpdateTime"].as_str().unwrap_or(&now).to_string(),
                            c["lastTransitionTime"].as_str().unwrap_or(&now).to_string(),
                        )
                    })
                    .unwrap_or((now.clone(), now.clone()))
            };
            let (a_status, a_reason, a_message) = if available {
                (
                    "True",
                    "MinimumReplicasAvailable",
                    "Deployment has minimum availability.".to_string(),
                )
            } else {
                (
                    "False",
                    "MinimumReplicasUnavailable",
                    "Deployment does not have minimum availability.".to_string(),
                )
            };
            let (p_reason, p_message) = if available {
                (
                    "NewReplicaSetAvailable",
                    format!("ReplicaSet \"{rs_name}\" has successfully progressed."),
                )
            } else {
                (
                    "ReplicaSetUpdated",
                    format!("ReplicaSet \"{rs_name}\" is progressing."),
                )
            };
            let (au, at) = keep_time("Available", a_status, a_reason);
            let (pu, pt) = keep_time("Progressing", "True", p_reason);
            status.insert(
                "conditions".into(),
                json!([
                    {"type": "Available", "status": a_status, "lastUpdateTime": au, "lastTransitionTime": at, "reason": a_reason, "message": a_message},
                    {"type": "Progressing", "status": "True", "lastUpdateTime": pu, "lastTransitionTime": pt, "reason": p_reason, "message": p_message},
                ]),
            );
        } else {
            put_count(&mut status, "fullyLabeledReplicas", replicas);
        }
        store.modify(owner_rt, &ns, &name, |o| {
            o["status"] = Value::Object(status)
        });
    }
}

/// StatefulSets: ordinal pods and claims from `volumeClaimTemplates`.
fn reconcile_statefulsets(store: &mut Store) {
    let sts_rt = rt("apps", "statefulsets");
    for sts in store.list(sts_rt, None, None, None) {
        if is_terminating(&sts) {
            continue;
        }
        let (ns, name, uid) = (
            namespace_of(&sts).to_string(),
            name_of(&sts).to_string(),
            uid_of(&sts).to_string(),
        );
        let desired = sts["spec"]["replicas"].as_i64().unwrap_or(1);
        let revision = format!("{name}-{}", template_hash(&sts["spec"]["template"]));
        let templates: Vec<Value> = sts["spec"]["volumeClaimTemplates"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let pods = owned_pods(store, &ns, &uid);
        let ordinal = |p: &Value| -> i64 {
            name_of(p)
                .rsplit('-')
                .next()
                .and_then(|o| o.parse().ok())
                .unwrap_or(-1)
        };
        for p in pods.iter().filter(|p| ordinal(p) >= desired) {
            let _ = store.delete(rt("", "pods"), &ns, name_of(p), &DeleteOptions::default());
        }
        for i in 0..desired {
            let pod_name = format!("{name}-{i}");
            match store.get(rt("", "pods"), &ns, &pod_name) {
                // OrderedReady: ordinal i+1 is created only once ordinal i runs.
                Some(p) if is_ready(p) => continue,
                Some(_) => break,
                None => {}
            }
            for t in &templates {
                let claim = format!("{}-{pod_name}", name_of(t));
                if store
                    .get(rt("", "persistentvolumeclaims"), &ns, &claim)
                    .is_none()
                {
                    let mut pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                        "metadata": {"name": claim, "labels": sts["spec"]["selector"]["matchLabels"]},
                        "spec": t["spec"]});
                    if pvc["metadata"]["labels"].is_null() {
                        pvc["metadata"].as_object_mut().map(|m| m.remove("labels"));
                    }
                    let _ = store.create(
                        rt("", "persistentvolumeclaims"),
                        &ns,
                        pvc,
                        false,
                        crate::kube::managed_fields::Writer::Update(
                            crate::kube::managed_fields::CONTROLLER_MANAGER,
                        ),
                    );
                }
            }
            let mut pod = new_pod(
                sts_rt,
                &sts,
                pod_name.clone(),
                &[
                    ("controller-revision-hash", revision.clone()),
                    ("statefulset.kubernetes.io/pod-name", pod_name.clone()),
                    ("apps.kubernetes.io/pod-index", i.to_string()),
                ],
            );
            let mut volumes = pod["spec"]["volumes"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for t in &templates {
                volumes.push(json!({"name": name_of(t), "persistentVolumeClaim": {"claimName": format!("{}-{pod_name}", name_of(t))}}));
            }
            if !volumes.is_empty() {
                pod["spec"]["volumes"] = json!(volumes);
            }
            pod["spec"]["hostname"] = json!(pod_name);
            let _ = store.create(
                rt("", "pods"),
                &ns,
                pod,
                false,
                crate::kube::managed_fields::Writer::Update(
                    crate::kube::managed_fields::CONTROLLER_MANAGER,
                ),
            );
            break;
        }
        let pods = owned_pods(store, &ns, &uid);
        let ready = pods.iter().filter(|p| is_ready(p)).count() as i64;
        let mut status = Map::new();
        status.insert(
            "observedGeneration".into(),
            sts["metadata"]["generation"].clone(),
        );
        status.insert("replicas".into(), json!(pods.len()));
        put_count(&mut status, "readyReplicas", ready);
        put_count(&mut status, "availableReplicas", ready);
        put_count(&mut status, "currentReplicas", pods.len() as i64);
        put_count(&mut status, "updatedReplicas", pods.len() as i64);
        status.insert("currentRevision".into(), json!(revision));
        status.insert("updateRevision".into(), json!(revision));
        status.insert("collisionCount".into(), json!(0));
        store.modify(sts_rt, &ns, &name, |o| o["status"] = Value::Object(status));
    }
}

fn reconcile_daemonsets(store: &mut Store) {
    let ds_rt = rt("apps", "daemonsets");
    for ds in store.list(ds_rt, None, None, None) {
        let status = json!({
            "observedGeneration": ds["metadata"]["generation"],
            "currentNumberScheduled": 1, "desiredNumberScheduled": 1, "numberAvailable": 1,
            "numberMisscheduled": 0, "numberReady": 1, "updatedNumberScheduled": 1,
        });
        store.modify(ds_rt, namespace_of(&ds), name_of(&ds), |o| {
            o["status"] = status
        });
    }
}

/// One pass.
pub fn reconcile(cluster: &Cluster) {
    let mut store = cluster.store();
    reconcile_replicated(&mut store, rt("apps", "deployments"));
    reconcile_replicated(&mut store, rt("apps", "replicasets"));
    reconcile_statefulsets(&mut store);
    reconcile_daemonsets(&mut store);
}
