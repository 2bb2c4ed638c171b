//! Velero: restores from schedules and backups, partial failures and their results,
//! read-only locations and backup sync, backups.

use std::io::Read;
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, PostParams, WatchEvent,
    WatchParams,
};
use serde_json::{Value, json};

use super::{SETTLE, client, run};
use crate::kube::{KubeEmulator, RestoreScript, StoredBackup};

fn velero_api(c: kube::Client, kind: &str, plural: &str) -> Api<DynamicObject> {
    let ar =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("velero.io", "v1", kind), plural);
    Api::namespaced_with(c, "velero", &ar)
}

fn object(v: Value) -> DynamicObject {
    serde_json::from_value(v).unwrap()
}

fn grafana_objects() -> Vec<Value> {
    vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "monitoring", "uid": "old-ns"}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "user-grafana", "namespace": "monitoring", "uid": "old", "resourceVersion": "5", "labels": {"velero": "backup"}},
               "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "grafana"}},
                        "template": {"metadata": {"labels": {"app": "grafana"}}, "spec": {"containers": [{"name": "grafana", "image": "grafana/grafana:8"}]}}},
               "status": {"replicas": 1}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "grafana-ini", "namespace": "monitoring", "labels": {"velero": "backup"}},
               "data": {"grafana.ini": "[server]\n"}}),
    ]
}

fn default_location(k8s: &KubeEmulator) {
    k8s.apply(json!({
        "apiVersion": "velero.io/v1", "kind": "BackupStorageLocation",
        "metadata": {"name": "default", "namespace": "velero"},
        "spec": {"provider": "aws", "default": true, "objectStorage": {"bucket": "ck8s-velero", "prefix": "service-cluster"}}
    }));
}

async fn wait_phase(api: &Api<DynamicObject>, name: &str, phases: &[&str]) -> DynamicObject {
    let deadline = std::time::Instant::now() + SETTLE;
    loop {
        if let Some(o) = api.get_opt(name).await.unwrap()
            && o.data["status"]["phase"]
                .as_str()
                .is_some_and(|p| phases.contains(&p))
        {
            return o;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{name} never reached {phases:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn restore_from_schedule_recreates_a_deleted_deployment() {
    let k8s = KubeEmulator::start();
    default_location(&k8s);
    k8s.seed_stored_backup(
        "default",
        StoredBackup::new("velero-daily-backup-20261120000000", vec![])
            .from_schedule("velero-daily-backup")
            .at("2026-11-20T00:00:00Z"),
    );
    k8s.seed_stored_backup(
        "default",
        StoredBackup::new("velero-daily-backup-20261121000000", grafana_objects())
            .from_schedule("velero-daily-backup")
            .at("2026-11-21T00:00:00Z"),
    );
    k8s.seed_stored_backup(
        "default",
        StoredBackup::new("velero-daily-backup-20261122000000", vec![])
            .from_schedule("velero-daily-backup")
            .phase("Failed")
            .at("2026-11-22T00:00:00Z"),
    );
    for o in grafana_objects() {
        k8s.apply(o);
    }
    run(async {
        let c = client(&k8s).await;
        let deployments: Api<Deployment> = Api::namespaced(c.clone(), "monitoring");
        deployments
            .delete("user-grafana", &DeleteParams::default())
            .await
            .unwrap();
        assert!(deployments.get_opt("user-grafana").await.unwrap().is_none());

        let restores = velero_api(c.clone(), "Restore", "restores");
        let rv = restores
            .list(&Default::default())
            .await
            .unwrap()
            .metadata
            .resource_version
            .unwrap();
        let mut events = restores
            .watch(&WatchParams::default(), &rv)
            .await
            .unwrap()
            .boxed();
        restores
            .create(&PostParams::default(), &object(json!({
                "apiVersion": "velero.io/v1", "kind": "Restore",
                "metadata": {"name": "velero-daily-backup-20261123", "namespace": "velero"},
                "spec": {"scheduleName": "velero-daily-backup", "includedNamespaces": ["monitoring"]}
            })))
            .await
            .unwrap();
        // Every status write is a MODIFIED event: collect the phases and progress on the way.
        let mut seen = Vec::new();
        let done = loop {
            let event = tokio::time::timeout(SETTLE, events.try_next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            if let WatchEvent::Added(o) | WatchEvent::Modified(o) = event {
                let st = &o.data["status"];
                seen.push((
                    st["phase"].as_str().unwrap_or("New").to_string(),
                    st["progress"]["itemsRestored"].as_i64().unwrap_or(0),
                ));
                if ["Completed", "PartiallyFailed", "Failed", "FailedValidation"]
                    .contains(&st["phase"].as_str().unwrap_or_default())
                {
                    break o;
                }
            }
        };
        assert_eq!(done.data["status"]["phase"], "Completed", "{:?}", done.data);
        assert_eq!(
            done.data["spec"]["backupName"], "velero-daily-backup-20261121000000",
            "newest Completed backup of the schedule"
        );
        assert_eq!(
            done.data["status"]["progress"],
            json!({"totalItems": 3, "itemsRestored": 3})
        );
        assert!(
            done.data["status"]["startTimestamp"].is_string()
                && done.data["status"]["completionTimestamp"].is_string()
        );
        let in_progress: Vec<i64> = seen
            .iter()
            .filter(|(p, _)| p == "InProgress")
            .map(|(_, n)| *n)
            .collect();
        assert_eq!(
            in_progress,
            [0, 1, 2],
            "progress moves item by item: {seen:?}"
        );

        let restored = deployments.get("user-grafana").await.unwrap();
        let labels = restored.metadata.labels.unwrap();
        assert_eq!(
            labels.get("velero.io/restore-name").map(String::as_str),
            Some("velero-daily-backup-20261123")
        );
        assert_eq!(
            labels.get("velero.io/backup-name").map(String::as_str),
            Some("velero-daily-backup-20261121000000")
        );
        assert_ne!(
            restored.metadata.uid.as_deref(),
            Some("old"),
            "a new object, not the backed-up metadata"
        );
    });
}

#[test]
fn restore_validation_and_partial_failure_with_results() {
    let k8s = KubeEmulator::start();
    default_location(&k8s);
    k8s.seed_velero_backup("manual-1", None, grafana_objects(), "Completed");
    k8s.apply(json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "grafana-ini", "namespace": "monitoring"}, "data": {"grafana.ini": "changed"}}));
    k8s.script_restore_named(
        "partial",
        RestoreScript::partially_failed(
            vec![],
            vec![(
                "monitoring",
                "error restoring pods/monitoring/x: admission webhook denied",
            )],
        ),
    );
    run(async {
        let c = client(&k8s).await;
        let restores = velero_api(c.clone(), "Restore", "restores");
        let spec = |name: &str, spec: Value| {
            object(
                json!({"apiVersion": "velero.io/v1", "kind": "Restore", "metadata": {"name": name}, "spec": spec}),
            )
        };
        restores
            .create(
                &PostParams::default(),
                &spec("missing", json!({"backupName": "nope"})),
            )
            .await
            .unwrap();
        let invalid = wait_phase(&restores, "missing", &["FailedValidation"]).await;
        assert_eq!(
            invalid.data["status"]["validationErrors"],
            json!(["Error retrieving backup: backups.velero.io \"nope\" not found"])
        );
        restores
            .create(
                &PostParams::default(),
                &spec("no-schedule", json!({"scheduleName": "nightly"})),
            )
            .await
            .unwrap();
        let invalid = wait_phase(&restores, "no-schedule", &["FailedValidation"]).await;
        assert_eq!(
            invalid.data["status"]["validationErrors"],
            json!(["No backups found for schedule"])
        );

        restores
            .create(
                &PostParams::default(),
                &spec("partial", json!({"backupName": "manual-1"})),
            )
            .await
            .unwrap();
        let partial = wait_phase(
            &restores,
            "partial",
            &["Completed", "PartiallyFailed", "Failed"],
        )
        .await;
        let status = &partial.data["status"];
        assert_eq!(
            (
                status["phase"].as_str(),
                status["warnings"].as_i64(),
                status["errors"].as_i64()
            ),
            (Some("PartiallyFailed"), Some(1), Some(1))
        );
        assert_eq!(
            k8s.get("v1", "ConfigMap", "monitoring", "grafana-ini")
                .unwrap()["data"]["grafana.ini"],
            "changed",
            "policy none keeps existing"
        );

        // The detailed messages, the way `velero restore describe` fetches them.
        let requests = velero_api(c.clone(), "DownloadRequest", "downloadrequests");
        requests.create(&PostParams::default(), &object(json!({"apiVersion": "velero.io/v1", "kind": "DownloadRequest",
            "metadata": {"name": "partial-results"}, "spec": {"target": {"kind": "RestoreResults", "name": "partial"}}}))).await.unwrap();
        let processed = wait_phase(&requests, "partial-results", &["Processed"]).await;
        let url = processed.data["status"]["downloadURL"]
            .as_str()
            .unwrap()
            .to_string();
        let (code, _, body) = super::http("GET", &url);
        assert_eq!(code, 200);
        let mut text = String::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_string(&mut text)
            .unwrap();
        let results: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            results["errors"]["namespaces"]["monitoring"],
            json!(["error restoring pods/monitoring/x: admission webhook denied"])
        );
        let warning = results["warnings"]["namespaces"]["monitoring"][0]
            .as_str()
            .unwrap();
        assert!(
            warning.contains("ConfigMap \"grafana-ini\" already exists"),
            "{warning}"
        );

        restores
            .create(
                &PostParams::default(),
                &spec(
                    "overwrite",
                    json!({"backupName": "manual-1", "existingResourcePolicy": "update"}),
                ),
            )
            .await
            .unwrap();
        let overwritten = wait_phase(
            &restores,
            "overwrite",
            &["Completed", "PartiallyFailed", "Failed"],
        )
        .await;
        assert_eq!(overwritten.data["status"]["phase"], "Completed");
        assert_eq!(
            k8s.get("v1", "ConfigMap", "monitoring", "grafana-ini")
                .unwrap()["data"]["grafana.ini"],
            "[server]\n"
        );
    });
}

#[test]
fn a_read_only_location_becomes_available_and_syncs_its_backups() {
    let k8s = KubeEmulator::start();
    k8s.apply(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "velero"}}));
    k8s.location_holds_backups(
        "backup",
        vec![
            StoredBackup::new("velero-daily-backup-20261120000000", grafana_objects())
                .from_schedule("velero-daily-backup"),
        ],
    );
    run(async {
        let c = client(&k8s).await;
        let locations = velero_api(c.clone(), "BackupStorageLocation", "backupstoragelocations");
        locations.create(&PostParams::default(), &object(json!({
            "apiVersion": "velero.io/v1", "kind": "BackupStorageLocation", "metadata": {"name": "backup"},
            "spec": {"provider": "aws", "accessMode": "ReadOnly", "objectStorage": {"bucket": "offsite", "prefix": "service-cluster"},
                     "config": {"region": "north", "s3Url": "https://s3.offsite", "s3ForcePathStyle": "true"},
                     "credential": {"name": "velero-backup", "key": "cloud"}}
        }))).await.unwrap();
        let available = wait_phase(&locations, "backup", &["Available"]).await;
        assert_eq!(available.data["spec"]["accessMode"], "ReadOnly");
        assert!(available.data["status"]["lastValidationTime"].is_string());

        let backups = velero_api(c.clone(), "Backup", "backups");
        let synced = wait_phase(
            &backups,
            "velero-daily-backup-20261120000000",
            &["Completed"],
        )
        .await;
        let labels = synced.metadata.labels.clone().unwrap();
        assert_eq!(
            labels.get("velero.io/storage-location").map(String::as_str),
            Some("backup")
        );

        // Backup objects deleted while their location exists come back (gotcha: delete the BSL first).
        backups
            .delete(
                "velero-daily-backup-20261120000000",
                &DeleteParams::default(),
            )
            .await
            .unwrap();
        wait_phase(
            &backups,
            "velero-daily-backup-20261120000000",
            &["Completed"],
        )
        .await;

        // No new backups into a read-only location.
        backups
            .create(
                &PostParams::default(),
                &object(json!({"apiVersion": "velero.io/v1", "kind": "Backup",
            "metadata": {"name": "nope"}, "spec": {"storageLocation": "backup"}})),
            )
            .await
            .unwrap();
        let refused = wait_phase(&backups, "nope", &["FailedValidation"]).await;
        assert_eq!(
            refused.data["status"]["validationErrors"][0],
            "backup can't be created because backup storage location backup is currently in read-only mode"
        );

        locations
            .delete("backup", &DeleteParams::default())
            .await
            .unwrap();
        backups
            .delete(
                "velero-daily-backup-20261120000000",
                &DeleteParams::default(),
            )
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(
            backups
                .get_opt("velero-daily-backup-20261120000000")
                .await
                .unwrap()
                .is_none()
        );
    });
}

#[test]
fn unavailable_location_and_a_backup_that_snapshots_namespaces() {
    let k8s = KubeEmulator::start();
    default_location(&k8s);
    k8s.script_location_unavailable(
        "broken",
        "rpc error: BackupStorageLocation \"broken\" is unavailable: access denied",
    );
    for o in grafana_objects() {
        k8s.apply(o);
    }
    k8s.apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "other", "namespace": "default"}}));
    run(async {
        let c = client(&k8s).await;
        let locations = velero_api(c.clone(), "BackupStorageLocation", "backupstoragelocations");
        locations.create(&PostParams::default(), &object(json!({"apiVersion": "velero.io/v1", "kind": "BackupStorageLocation",
            "metadata": {"name": "broken"}, "spec": {"provider": "aws", "objectStorage": {"bucket": "b"}}}))).await.unwrap();
        let broken = wait_phase(&locations, "broken", &["Unavailable"]).await;
        assert!(
            broken.data["status"]["message"]
                .as_str()
                .unwrap()
                .contains("access denied")
        );

        let backups = velero_api(c.clone(), "Backup", "backups");
        backups.create(&PostParams::default(), &object(json!({"apiVersion": "velero.io/v1", "kind": "Backup",
            "metadata": {"name": "manual", "labels": {"velero.io/schedule-name": "velero-daily-backup"}},
            "spec": {"includedNamespaces": ["monitoring"], "labelSelector": {"matchLabels": {"velero": "backup"}}}}))).await.unwrap();
        let done = wait_phase(
            &backups,
            "manual",
            &["Completed", "Failed", "FailedValidation"],
        )
        .await;
        assert_eq!(done.data["status"]["phase"], "Completed");
        assert_eq!(done.data["spec"]["storageLocation"], "default");
        assert_eq!(
            done.data["status"]["progress"],
            json!({"totalItems": 3, "itemsBackedUp": 3})
        );
    });
    let mut names: Vec<String> = k8s
        .backup_contents("manual")
        .unwrap()
        .iter()
        .map(|o| {
            format!(
                "{}/{}",
                o["kind"].as_str().unwrap(),
                o["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "ConfigMap/grafana-ini",
            "Deployment/user-grafana",
            "Namespace/monitoring"
        ]
    );
    assert_eq!(k8s.backups_in_location("default"), ["manual"]);
}
