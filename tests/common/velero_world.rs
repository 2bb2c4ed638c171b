//! The service cluster's Velero as ck8s installs it, in the Kubernetes emulator: location
//! `default` on the main bucket, the daily Schedule, user Grafana running, and two nights of
//! scheduled backups. Used by the Velero, Grafana and platform runbooks' tests.

use std::time::Duration;

use runbook_testsupport::kube::{KubeEmulator, StoredBackup};
use serde_json::{Value, json};

pub const SCHEDULE: &str = "velero-daily-backup";
pub const NEWEST: &str = "velero-daily-backup-20261122000000";
pub const OLDER: &str = "velero-daily-backup-20261121000000";

pub fn grafana_objects() -> Vec<Value> {
    vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "monitoring"}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "user-grafana", "namespace": "monitoring", "labels": {"velero": "backup"}},
               "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "grafana"}},
                        "template": {"metadata": {"labels": {"app": "grafana", "velero": "backup"}},
                                     "spec": {"containers": [{"name": "grafana", "image": "grafana/grafana:8"}]}}}}),
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
               "metadata": {"name": "user-grafana", "namespace": "monitoring", "labels": {"velero": "backup"}},
               "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}),
    ]
}

pub fn harbor_config_map() -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "harbor-settings", "namespace": "harbor", "labels": {"velero": "backup"}},
           "data": {"from": "older-backup"}})
}

/// A cluster with Velero, user Grafana and two nights of backups.
pub fn service_cluster() -> KubeEmulator {
    let k8s = KubeEmulator::start();
    seed(&k8s);
    k8s
}

/// Seeds Velero, user Grafana and two nights of backups into a running emulator.
pub fn seed(k8s: &KubeEmulator) {
    k8s.apply(json!({
        "apiVersion": "velero.io/v1", "kind": "BackupStorageLocation",
        "metadata": {"name": "default", "namespace": "velero"},
        "spec": {"provider": "aws", "default": true,
                 "objectStorage": {"bucket": "ck8s-test-velero", "prefix": "service-cluster"},
                 "config": {"region": "test-region-1", "s3Url": "https://s3.test-region-1.example.invalid", "s3ForcePathStyle": "true"}}
    }));
    k8s.apply(json!({
        "apiVersion": "velero.io/v1", "kind": "Schedule",
        "metadata": {"name": SCHEDULE, "namespace": "velero"},
        "spec": {"schedule": "0 0 * * *", "template": {
            "labelSelector": {"matchLabels": {"velero": "backup"}},
            "storageLocation": "default", "ttl": "720h0m0s", "defaultVolumesToRestic": true}}
    }));
    for mut object in grafana_objects() {
        if object["kind"] == "PersistentVolumeClaim" {
            object["status"] = json!({"phase": "Pending"});
        }
        k8s.apply(object);
    }
    k8s.wait_for("the claim to be bound", Duration::from_secs(10), |k| {
        k.get("v1", "PersistentVolumeClaim", "monitoring", "user-grafana")
            .and_then(|c| c["spec"]["volumeName"].as_str().map(str::to_string))
    });
    let mut older = grafana_objects();
    older.push(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "harbor"}}));
    older.push(harbor_config_map());
    k8s.seed_stored_backup(
        "default",
        StoredBackup::new(OLDER, older)
            .from_schedule(SCHEDULE)
            .at("2026-11-21T00:00:00Z"),
    );
    k8s.seed_stored_backup(
        "default",
        StoredBackup::new(NEWEST, grafana_objects())
            .from_schedule(SCHEDULE)
            .at("2026-11-22T00:00:00Z"),
    );
}
