//! Volumes: a dynamic provisioner that binds Pending claims (creating a PV with reclaim policy
//! Delete unless `spec.volumeName` names an existing one), the `kubernetes.io/pvc-protection`
//! controller (the finalizer goes once no running pod mounts the claim), and the PV side of a
//! claim's deletion (Released; deleted when the reclaim policy is Delete).

use serde_json::{Value, json};

use super::rt;
use crate::kube::meta::{is_terminating, name_of, namespace_of, remove_finalizer, uid_of};
use crate::kube::state::Cluster;
use crate::kube::store::DeleteOptions;

fn pod_uses_claim(pod: &Value, claim: &str) -> bool {
    pod["spec"]["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|v| v["persistentVolumeClaim"]["claimName"].as_str() == Some(claim))
}

/// One pass.
pub fn reconcile(cluster: &Cluster) {
    let (pvcs, pvs, pods) = (
        rt("", "persistentvolumeclaims"),
        rt("", "persistentvolumes"),
        rt("", "pods"),
    );
    let mut store = cluster.store();
    for pvc in store.list(pvcs, None, None, None) {
        let (ns, name) = (namespace_of(&pvc).to_string(), name_of(&pvc).to_string());
        if is_terminating(&pvc) {
            let in_use = store.list(pods, Some(&ns), None, None).iter().any(|p| {
                let phase = p["status"]["phase"].as_str().unwrap_or("Pending");
                phase != "Succeeded" && phase != "Failed" && pod_uses_claim(p, &name)
            });
            if !in_use {
                store.modify(pvcs, &ns, &name, |o| {
                    remove_finalizer(o, "kubernetes.io/pvc-protection");
                });
            }
            continue;
        }
        if pvc["status"]["phase"].as_str() != Some("Pending") {
            continue;
        }
        let requested = pvc["spec"]["resources"]["requests"]["storage"].clone();
        let access_modes = pvc["spec"]["accessModes"].clone();
        let volume_name = match pvc["spec"]["volumeName"].as_str() {
            Some(v) if store.get(pvs, "", v).is_some() => v.to_string(),
            Some(_) => continue,
            None => {
                let pv_name = format!("pvc-{}", uid_of(&pvc));
                let pv = json!({
                    "apiVersion": "v1", "kind": "PersistentVolume",
                    "metadata": {"name": pv_name, "annotations": {"pv.kubernetes.io/provisioned-by": "emulator.runbook/hostpath"}},
                    "spec": {
                        "capacity": {"storage": requested},
                        "accessModes": access_modes,
                        "persistentVolumeReclaimPolicy": "Delete",
                        "storageClassName": pvc["spec"]["storageClassName"].as_str().unwrap_or("standard"),
                        "hostPath": {"path": format!("/var/lib/emulator/{pv_name}")},
                    },
                });
                if store
                    .create(
                        pvs,
                        "",
                        pv,
                        false,
                        crate::kube::managed_fields::Writer::Update(
                            crate::kube::managed_fields::CONTROLLER_MANAGER,
                        ),
                    )
                    .is_err()
                {
                    continue;
                }
                pv_name
            }
        };
        let claim_ref = json!({"kind": "PersistentVolumeClaim", "namespace": ns, "name": name, "uid": uid_of(&pvc), "apiVersion": "v1"});
        store.modify(pvs, "", &volume_name, |pv| {
            pv["spec"]["claimRef"] = claim_ref;
            pv["status"] = json!({"phase": "Bound"});
        });
        store.modify(pvcs, &ns, &name, |o| {
            o["spec"]["volumeName"] = json!(volume_name);
            o["status"] = json!({"phase": "Bound", "accessModes": access_modes, "capacity": {"storage": requested}});
        });
    }
    for pv in store.list(pvs, None, None, None) {
        let name = name_of(&pv).to_string();
        let claim = &pv["spec"]["claimRef"];
        if claim.is_null() {
            if is_terminating(&pv) {
                store.modify(pvs, "", &name, |o| {
                    remove_finalizer(o, "kubernetes.io/pv-protection");
                });
            }
            continue;
        }
        let claim_ns = claim["namespace"].as_str().unwrap_or_default();
        let claim_name = claim["name"].as_str().unwrap_or_default();
        let bound_claim_exists = store
            .get(pvcs, claim_ns, claim_name)
            .is_some_and(|c| claim["uid"].is_null() || c["metadata"]["uid"] == claim["uid"]);
        if bound_claim_exists {
            continue;
        }
        if pv["spec"]["persistentVolumeReclaimPolicy"].as_str() == Some("Delete") {
            let _ = store.delete(pvs, "", &name, &DeleteOptions::default());
            store.modify(pvs, "", &name, |o| {
                remove_finalizer(o, "kubernetes.io/pv-protection");
            });
        } else if pv["status"]["phase"].as_str() != Some("Released") {
            store.modify(pvs, "", &name, |o| {
                o["status"] = json!({"phase": "Released"})
            });
        }
    }
}
