//! The shipped Velero and Grafana runbooks, run as an operator runs them (`--config-dir` with the
//! reference config, the cluster's kubeconfig in `.state/`) against the Kubernetes emulator with
//! Velero's controllers, seeded with last night's scheduled backups.

use runbook_engine::exit;
mod common;

use common::Workspace;
use common::ck8s::{Ck8sConfig, shipped};
use common::velero_world::{NEWEST, OLDER, SCHEDULE, grafana_objects, service_cluster};
use runbook_testsupport::kube::{KubeEmulator, StoredBackup};
use serde_json::{Value, json};

fn session(k8s: &KubeEmulator) -> (Workspace, Ck8sConfig) {
    let ws = Workspace::new();
    let config = ws.ck8s_config(None, None, Some(k8s.kubeconfig_path()));
    (ws, config)
}

#[test]
fn backup_now_takes_a_completed_backup_from_the_daily_schedule() {
    let k8s = service_cluster();
    let (ws, config) = session(&k8s);
    let ran = ws.run_shipped(&config, "velero/backup-now.yaml", &[]);
    assert_eq!(ran.code, exit::OK, "{ran}");
    let id = ran.run_id();
    let backup = ws.outputs(&id, "backup");
    let name = backup["backup"].as_str().unwrap().to_string();
    assert_eq!(backup["phase"], "Completed");
    let object = k8s.get("velero.io/v1", "Backup", "velero", &name).unwrap();
    assert_eq!(
        object["metadata"]["labels"]["velero.io/schedule-name"], SCHEDULE,
        "made from the schedule"
    );
    assert_eq!(
        object["spec"]["labelSelector"],
        json!({"matchLabels": {"velero": "backup"}}),
        "with the schedule's selection"
    );
    assert!(k8s.backups_in_location("default").contains(&name));
    assert_eq!(ws.outputs(&id, "listed")["latest"], name.as_str());
}

#[test]
fn restore_brings_back_deleted_objects_from_the_newest_or_a_named_backup() {
    let k8s = service_cluster();
    let (ws, config) = session(&k8s);
    k8s.delete("apps/v1", "Deployment", "monitoring", "user-grafana");

    let ran = ws.run_shipped(
        &config,
        "velero/restore.yaml",
        &["--set", "namespaces=[monitoring]"],
    );
    assert_eq!(ran.code, exit::OK, "{ran}");
    let id = ran.run_id();
    let restore = ws.outputs(&id, "restore");
    assert_eq!(restore["backup"], NEWEST, "the newest completed backup");
    assert_eq!(restore["phase"], "Completed");
    let deployment = k8s
        .get("apps/v1", "Deployment", "monitoring", "user-grafana")
        .expect("the Deployment is back");
    assert_eq!(
        deployment["metadata"]["labels"]["velero.io/restore-name"],
        format!("{id}-restore")
    );
    let spec = &k8s
        .get(
            "velero.io/v1",
            "Restore",
            "velero",
            &format!("{id}-restore"),
        )
        .unwrap()["spec"];
    assert_eq!(spec["includedNamespaces"], json!(["monitoring"]));

    // A named backup, every namespace: the ConfigMap only the older backup holds comes back.
    let ran = ws.run_shipped(
        &config,
        "velero/restore.yaml",
        &["--set", &format!("backup={OLDER}")],
    );
    assert_eq!(ran.code, exit::OK, "{ran}");
    assert_eq!(ws.outputs(&ran.run_id(), "restore")["backup"], OLDER);
    let restored = k8s
        .get("v1", "ConfigMap", "harbor", "harbor-settings")
        .expect("restored from the named backup");
    assert_eq!(restored["data"]["from"], "older-backup");
    assert!(
        ws.events(&ran.run_id(), "step_skipped", "choose-backup")
            .len()
            == 1,
        "no schedule lookup for a named backup"
    );
}

#[test]
fn restore_of_a_schedule_without_completed_backups_fails_before_restoring_anything() {
    let k8s = service_cluster();
    let (ws, config) = session(&k8s);
    let ran = ws.run_shipped(
        &config,
        "velero/restore.yaml",
        &["--set", "schedule=weekly-backup"],
    );
    assert_eq!(ran.code, exit::STEP_FAILED, "{ran}");
    assert!(
        k8s.names("velero.io/v1", "Restore", Some("velero"))
            .is_empty(),
        "no Restore was created"
    );
    assert!(ran.stdout.contains("choose-backup"), "{ran}");
}

#[test]
fn offsite_restore_swaps_a_read_only_location_in_and_the_main_one_back() {
    let k8s = service_cluster();
    let (ws, config) = session(&k8s);
    k8s.delete("apps/v1", "Deployment", "monitoring", "user-grafana");
    let mut offsite = grafana_objects();
    offsite[1]["metadata"]["annotations"] = json!({"copy": "off-site"});
    k8s.location_holds_backups(
        "backup",
        vec![
            StoredBackup::new("velero-daily-backup-20261119000000", offsite)
                .from_schedule(SCHEDULE)
                .at("2026-11-19T00:00:00Z"),
        ],
    );
    k8s.clear_requests();

    let ran = ws.run_shipped(
        &config,
        "velero/restore-offsite.yaml",
        &["--set", "namespaces=[monitoring]"],
    );
    assert_eq!(ran.code, exit::OK, "{ran}");
    let id = ran.run_id();
    assert_eq!(
        ws.outputs(&id, "restore")["backup"],
        "velero-daily-backup-20261119000000"
    );
    let deployment = k8s
        .get("apps/v1", "Deployment", "monitoring", "user-grafana")
        .expect("restored from off-site");
    assert_eq!(deployment["metadata"]["annotations"]["copy"], "off-site");

    // The off-site location was read-only, on the sync's endpoint and bucket, with its own keys.
    let requests = k8s.requests();
    let created = |kind: &str, name: &str| -> Value {
        requests
            .iter()
            .filter_map(|r| r.body.clone())
            .find(|b| b["kind"] == kind && b["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no {kind} {name} was written"))
    };
    let location = created("BackupStorageLocation", "backup");
    assert_eq!(location["spec"]["accessMode"], "ReadOnly");
    assert_eq!(
        location["spec"]["objectStorage"]["bucket"],
        "ck8s-test-velero"
    );
    assert_eq!(
        location["spec"]["config"]["s3Url"],
        "https://s3.offsite-region-1.example.invalid"
    );
    assert_eq!(
        location["spec"]["credential"],
        json!({"name": "velero-backup", "key": "cloud"})
    );
    let secret = created("Secret", "velero-backup");
    let ini = secret["stringData"]["cloud"].as_str().unwrap().to_string();
    assert!(
        ini.contains("aws_access_key_id=test-offsite-access-key\n")
            && ini.contains("aws_secret_access_key=test-offsite-secret-key\n"),
        "a real ini (no literal \\n, the secret key, not the access key twice): {ini:?}"
    );

    // The main location was deleted before the records (or Velero re-imports them).
    let position = |method: &str, path_end: &str| {
        requests
            .iter()
            .position(|r| r.method == method && r.path.ends_with(path_end))
            .unwrap_or_else(|| panic!("no {method} …{path_end}"))
    };
    let bsl_deleted = position("DELETE", "/backupstoragelocations/default");
    let first_record_deleted = requests
        .iter()
        .position(|r| r.method == "DELETE" && r.path.contains("/backups/"))
        .expect("backup records deleted");
    assert!(bsl_deleted < first_record_deleted);

    // Swapped back: only `default`, read-write, on the main bucket and endpoint; secret gone.
    assert_eq!(
        k8s.names("velero.io/v1", "BackupStorageLocation", Some("velero")),
        vec!["velero/default".to_string()]
    );
    let default = k8s
        .get("velero.io/v1", "BackupStorageLocation", "velero", "default")
        .unwrap();
    assert_eq!(default["spec"]["accessMode"], "ReadWrite");
    assert_eq!(default["spec"]["default"], true);
    assert_eq!(
        default["spec"]["objectStorage"]["bucket"],
        "ck8s-test-velero"
    );
    assert_eq!(
        default["spec"]["config"]["s3Url"],
        "https://s3.test-region-1.example.invalid"
    );
    assert_eq!(default["status"]["phase"], "Available");
    assert!(k8s.get("v1", "Secret", "velero", "velero-backup").is_none());
    assert_eq!(
        k8s.backups_in_location("backup"),
        vec!["velero-daily-backup-20261119000000".to_string()],
        "the off-site bucket is untouched"
    );

    // The off-site keys never reached the output or the journal.
    for text in [&ran.stdout, &ran.stderr, &ws.journal_text(&id)] {
        assert!(!text.contains("test-offsite-secret-key"));
        assert!(!text.contains("test-offsite-access-key"));
    }
}

#[test]
fn offsite_restore_that_fails_still_swaps_the_main_location_back() {
    let k8s = service_cluster();
    let (ws, config) = session(&k8s);
    k8s.location_holds_backups(
        "backup",
        vec![
            StoredBackup::new("velero-daily-backup-20261119000000", grafana_objects())
                .from_schedule(SCHEDULE),
        ],
    );
    k8s.script_restore(runbook_testsupport::kube::RestoreScript::failed(
        "error downloading backup tarball",
    ));
    let ran = ws.run_shipped(&config, "velero/restore-offsite.yaml", &[]);
    assert_eq!(ran.code, exit::STEP_FAILED, "{ran}");
    assert!(
        ran.stdout.contains("error downloading backup tarball")
            || ran.stderr.contains("error downloading backup tarball"),
        "{ran}"
    );
    assert_eq!(
        k8s.names("velero.io/v1", "BackupStorageLocation", Some("velero")),
        vec!["velero/default".to_string()],
        "the main location is back"
    );
    assert!(k8s.get("v1", "Secret", "velero", "velero-backup").is_none());
}

#[test]
fn grafana_restore_replaces_the_deployment_and_its_volume() {
    let k8s = service_cluster();
    let (ws, config) = session(&k8s);
    let old_volume = k8s
        .get("v1", "PersistentVolumeClaim", "monitoring", "user-grafana")
        .unwrap()["spec"]["volumeName"]
        .as_str()
        .unwrap()
        .to_string();
    let old_uid = k8s
        .get("apps/v1", "Deployment", "monitoring", "user-grafana")
        .unwrap()["metadata"]["uid"]
        .clone();

    let plan = ws.runbook(&[
        "plan",
        &shipped("grafana/restore.yaml"),
        "--config-dir",
        config.dir.to_str().unwrap(),
        "--cluster",
        "sc",
    ]);
    assert_eq!(plan.code, exit::OK, "{plan}");
    assert!(
        plan.stdout
            .contains("2 destructive: delete-deployment, delete-pvc"),
        "{plan}"
    );

    let ran = ws.run_shipped(&config, "grafana/restore.yaml", &[]);
    assert_eq!(ran.code, exit::OK, "{ran}");
    let id = ran.run_id();
    assert_eq!(ws.outputs(&id, "restore")["backup"], NEWEST);
    let deployment = k8s
        .get("apps/v1", "Deployment", "monitoring", "user-grafana")
        .unwrap();
    assert_ne!(deployment["metadata"]["uid"], old_uid, "a new Deployment");
    assert_eq!(
        deployment["metadata"]["labels"]["velero.io/restore-name"],
        format!("{id}-restore")
    );
    let pvc = k8s
        .get("v1", "PersistentVolumeClaim", "monitoring", "user-grafana")
        .unwrap();
    assert_eq!(pvc["status"]["phase"], "Bound");
    assert!(
        k8s.get("v1", "PersistentVolume", "", &old_volume).is_none(),
        "the old volume is gone"
    );
    assert_eq!(ws.outputs(&id, "rollout")["object"]["kind"], "Deployment");
}

#[test]
fn grafana_restore_deletes_nothing_when_there_is_no_backup() {
    let k8s = service_cluster();
    let (ws, config) = session(&k8s);
    let ran = ws.run_shipped(
        &config,
        "grafana/restore.yaml",
        &["--set", "schedule=no-such-schedule"],
    );
    assert_eq!(ran.code, exit::STEP_FAILED, "{ran}");
    assert!(
        k8s.get("apps/v1", "Deployment", "monitoring", "user-grafana")
            .is_some()
    );
    assert!(
        k8s.get("v1", "PersistentVolumeClaim", "monitoring", "user-grafana")
            .is_some()
    );
}
