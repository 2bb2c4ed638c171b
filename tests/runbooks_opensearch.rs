//! The shipped OpenSearch runbooks, run as an operator runs them (`--config-dir` with the
//! reference config, `--set opensearch_url=` pointing at the emulator, whose users are the
//! config's), against a cluster that lost its log indices: the restore of the newest complete
//! snapshot, the Dashboards index, the refusal when an open index is in the way and each choice
//! it offers, an interrupted restore resumed, the off-site restore through a read-only
//! repository, and a snapshot now through the backup CronJob.

use runbook_engine::exit;
mod common;

use std::time::Duration;

use common::ck8s::{Ck8sConfig, shipped};
use common::opensearch_world::*;
use common::{Ran, Workspace};
use runbook_testsupport::kube::{ActionOutcome, JobScript, KubeEmulator, PodMatcher};
use runbook_testsupport::opensearch::http_request;
use serde_json::json;

fn session(kubeconfig: Option<&std::path::Path>) -> (Workspace, Ck8sConfig) {
    let ws = Workspace::new();
    let config = ws.ck8s_config(None, None, kubeconfig);
    (ws, config)
}

fn failure(ws: &Workspace, run_id: &str, step: &str) -> String {
    let events = ws.events(run_id, "step_failed", step);
    assert!(!events.is_empty(), "step {step} did not fail");
    events.last().unwrap()["error"]
        .as_str()
        .unwrap()
        .to_string()
}

/// No password of the config in what was printed or journaled.
fn assert_no_secrets(ws: &Workspace, ran: &Ran) {
    for secret in [ADMIN_PASSWORD, SNAPSHOTTER_PASSWORD] {
        assert!(!ran.stdout.contains(secret), "{secret} printed: {ran}");
        assert!(!ran.stderr.contains(secret), "{secret} printed: {ran}");
        for id in ws.runs() {
            assert!(
                !ws.journal_text(&id).contains(secret),
                "{secret} in the journal"
            );
            assert!(
                !ws.read(&format!(".runbook/runs/{id}/run.json"))
                    .contains(secret),
                "{secret} in run.json"
            );
        }
    }
}

#[test]
fn the_runbooks_validate_and_plan_with_the_reference_config() {
    let ws = Workspace::new();
    let config = ws.ck8s_config(None, None, None);
    for runbook in ["backup-now", "restore", "restore-offsite"] {
        let file = shipped(&format!("opensearch/{runbook}.yaml"));
        let ran = ws.runbook(&["validate", &file]);
        assert_eq!(ran.code, exit::OK, "{runbook}: {ran}");
        let config_args = config.args();
        let mut args = vec!["plan", file.as_str()];
        args.extend(config_args.iter().map(String::as_str));
        let planned = ws.runbook(&args);
        assert_eq!(planned.code, exit::OK, "{runbook}: {planned}");
        assert!(!planned.stdout.contains(ADMIN_PASSWORD), "{planned}");
        // The default URL is where ck8s serves OpenSearch.
        assert!(
            planned
                .stdout
                .contains("https://opensearch.ops.ck8s-test.example.invalid"),
            "{runbook}: {planned}"
        );
    }
    let file = shipped("opensearch/restore.yaml");
    let config_args = config.args();
    let mut args = vec!["plan", file.as_str()];
    args.extend(config_args.iter().map(String::as_str));
    let planned = ws.runbook(&args);
    for step in ["dashboards-delete", "delete-open", "close-open", "restore"] {
        let line = planned
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{step} (")))
            .unwrap_or_else(|| panic!("{step} not planned: {planned}"));
        assert!(
            line.to_lowercase().contains("destructive"),
            "{step} marked destructive: {line}\n{planned}"
        );
    }
}

#[test]
fn restore_brings_back_the_lost_indices_from_the_newest_complete_snapshot() {
    let world = OpenSearchWorld::start();
    world.seed();
    let (ws, config) = session(None);
    let ran = ws.run_shipped(
        &config,
        "opensearch/restore.yaml",
        &["--set", &world.url_param()],
    );
    assert_eq!(ran.code, exit::OK, "{ran}");
    let id = ran.run_id();
    world.assert_restored();

    // Not the newer PARTIAL one, nor the newest SUCCESS one that lacks kubeaudit-*.
    let restore = ws.outputs(&id, "restore");
    assert_eq!(restore["snapshot"], EXPECTED, "{restore}");
    assert_eq!(
        restore["indices"],
        json!([KUBEAUDIT, KUBERNETES, OTHER]),
        "{restore}"
    );
    assert_eq!(restore["shards"]["done"], 3);
    let request = world.os.with(|c| c.restores.clone());
    assert_eq!(
        request.len(),
        1,
        "one restore, the Dashboards index not asked for"
    );
    assert_eq!(request[0]["indices"], "kubernetes-*,kubeaudit-*,other-*");

    // The report: what is there now, with document counts.
    let restored = ws.outputs(&id, "restored")["json"].clone();
    let counts: Vec<(String, String)> = restored
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["index"].as_str().unwrap().to_string(),
                r["docs.count"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        counts,
        vec![
            (KUBEAUDIT.to_string(), "45".to_string()),
            (KUBERNETES.to_string(), "130".to_string()),
            (OTHER.to_string(), "16".to_string()),
        ]
    );
    assert_eq!(ws.events(&id, "step_skipped", "dashboards-delete").len(), 1);
    assert_no_secrets(&ws, &ran);

    // A named snapshot is restored as named (here over the indices just restored: deleted first).
    let ran = ws.run_shipped(
        &config,
        "opensearch/restore.yaml",
        &[
            "--set",
            &world.url_param(),
            "--set",
            &format!("snapshot={OLDER}"),
            "--set",
            "existing=delete",
        ],
    );
    assert_eq!(ran.code, exit::OK, "{ran}");
    world.assert_restored_from(REPOSITORY, OLDER);
    assert_eq!(
        ws.outputs(&ran.run_id(), "delete-open")["deleted"],
        json!([KUBEAUDIT, KUBERNETES, OTHER])
    );
}

#[test]
fn restore_of_the_dashboards_index_deletes_the_current_one_first() {
    let world = OpenSearchWorld::start();
    world.seed();
    let (ws, config) = session(None);

    // The 2022 index name is not in these snapshots: refused before anything is deleted.
    let ran = ws.run_shipped(
        &config,
        "opensearch/restore.yaml",
        &[
            "--set",
            &world.url_param(),
            "--set",
            "restore_dashboards=true",
            "--set",
            "dashboards_index=.opensearch_dashboards_1",
        ],
    );
    assert_eq!(ran.code, exit::STEP_FAILED, "{ran}");
    let error = failure(&ws, &ran.run_id(), "dashboards-in-snapshot");
    assert!(
        error.contains("holds no .opensearch_dashboards_1 index"),
        "{error}"
    );
    assert!(error.contains("Nothing was deleted"), "{error}");
    assert_eq!(
        world.docs(DASHBOARDS),
        Some(0),
        "the current index is still there"
    );
    assert!(world.os.with(|c| c.restores.is_empty()));

    let ran = ws.run_shipped(
        &config,
        "opensearch/restore.yaml",
        &[
            "--set",
            &world.url_param(),
            "--set",
            "restore_dashboards=true",
        ],
    );
    assert_eq!(ran.code, exit::OK, "{ran}");
    let id = ran.run_id();
    assert_eq!(
        ws.outputs(&id, "dashboards-delete")["deleted"],
        json!([DASHBOARDS]),
        "the fresh index behind .kibana was deleted first"
    );
    world.assert_dashboards_restored(EXPECTED);
    world.assert_restored_from(REPOSITORY, EXPECTED);
    let dashboards = ws.outputs(&id, "dashboards-restore");
    assert_eq!(dashboards["indices"], json!([DASHBOARDS]), "{dashboards}");
    let requests = world.os.with(|c| c.restores.clone());
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0]["indices"], ".kibana,.kibana_*,-.kibana_*_*");
    assert_eq!(requests[0]["ignore_unavailable"], true);
}

/// The refusal: exit 1 at `refuse-open`, the open index named with the choices; nothing restored.
/// A cluster where a lost index's name is taken by an open write index: the restore refuses.
fn refused_over_an_open_index() -> (OpenSearchWorld, Workspace, String) {
    let world = OpenSearchWorld::start();
    world.seed();
    world.seed_write_index(3);
    let (ws, config) = session(None);
    let id = refused(&world, &ws, &config);
    (world, ws, id)
}

fn refused(world: &OpenSearchWorld, ws: &Workspace, config: &Ck8sConfig) -> String {
    let ran = ws.run_shipped(
        config,
        "opensearch/restore.yaml",
        &["--set", &world.url_param()],
    );
    assert_eq!(ran.code, exit::STEP_FAILED, "{ran}");
    let id = ran.run_id();
    let error = failure(ws, &id, "refuse-open");
    assert!(error.contains("nothing restored"), "{error}");
    assert!(
        error.contains(&format!(": {OTHER} (on a new cluster")),
        "{error}"
    );
    assert!(error.contains(EXPECTED), "{error}");
    for choice in ["close", "delete", "rename"] {
        assert!(
            error.contains(&format!("`--set existing={choice}`")),
            "{choice} offered: {error}"
        );
    }
    assert!(
        error.contains(&format!("runbook resume {id} --yes")),
        "{error}"
    );
    assert!(ran.stdout.contains("refuse-open"), "{ran}");
    assert!(world.os.with(|c| c.restores.is_empty()), "nothing restored");
    assert_eq!(world.docs(OTHER), Some(3), "the write index untouched");
    assert_eq!(world.docs(KUBERNETES), None);
    id
}

fn resume(ws: &Workspace, id: &str, extra: &[&str]) -> Ran {
    let mut args = vec!["resume", id, "--yes"];
    args.extend(extra);
    ws.runbook(&args)
}

#[test]
fn an_open_index_refuses_the_restore_and_closing_it_as_offered_works() {
    let (world, ws, id) = refused_over_an_open_index();

    let ran = resume(&ws, &id, &["--set", "existing=close"]);
    assert_eq!(ran.code, exit::OK, "{ran}");
    assert_eq!(
        ws.events(&id, "step_succeeded", "close-open").len(),
        1,
        "{ran}"
    );
    // Restored over the closed index: the snapshot's copy, open again.
    world.assert_restored();
    assert_no_secrets(&ws, &ran);
}

#[test]
fn an_open_index_refuses_the_restore_and_deleting_it_as_offered_works() {
    let (world, ws, id) = refused_over_an_open_index();

    let ran = resume(&ws, &id, &["--set", "existing=delete"]);
    assert_eq!(ran.code, exit::OK, "{ran}");
    assert_eq!(ws.outputs(&id, "delete-open")["deleted"], json!([OTHER]));
    world.assert_restored();
}

#[test]
fn an_open_index_refuses_the_restore_and_renaming_as_offered_keeps_it() {
    let (world, ws, id) = refused_over_an_open_index();

    let ran = resume(&ws, &id, &["--set", "existing=rename"]);
    assert_eq!(ran.code, exit::OK, "{ran}");
    assert_eq!(world.docs(OTHER), Some(3), "the write index kept as it was");
    let (k, a, o, _) = docs_in(EXPECTED);
    for (index, docs) in [(KUBERNETES, k), (KUBEAUDIT, a), (OTHER, o)] {
        assert_eq!(world.docs(&format!("restored-{index}")), Some(docs));
    }
    let request = world.os.with(|c| c.restores[0].clone());
    assert_eq!(request["rename_pattern"], "(.+)");
    assert_eq!(request["rename_replacement"], "restored-$1");
    let restored = ws.outputs(&id, "restored")["json"].clone();
    assert_eq!(restored.as_array().unwrap().len(), 3, "{restored}");
}

#[test]
fn an_interrupted_restore_resumes_by_waiting_for_the_restore_the_server_took() {
    let world = OpenSearchWorld::start();
    world.seed();
    // Recovery that takes a long time: the run is interrupted while the restore waits.
    world.os.with(|c| c.recovery_polls = 100_000);
    let (ws, config) = session(None);
    let file = shipped("opensearch/restore.yaml");
    let url = world.url_param();
    let config_args = config.args();
    let mut args = vec!["run", file.as_str(), "--yes", "--set", url.as_str()];
    args.extend(config_args.iter().map(String::as_str));
    let child = ws.spawn(&args);
    common::wait_until(Duration::from_secs(60), "the restore to start", || {
        world.os.with(|c| !c.restores.is_empty())
    });
    std::thread::sleep(Duration::from_millis(300));
    common::kill(&child, libc::SIGINT);
    std::thread::sleep(Duration::from_millis(300));
    common::kill(&child, libc::SIGINT);
    let ran = common::finish(child);
    assert_eq!(ran.code, exit::INTERRUPTED, "{ran}");
    let id = ws.runs().pop().unwrap();

    // A plain resume: the restore step finds the indices recovering from this snapshot, does
    // not ask the server again (which would fail on the open indices), and waits.
    world.os.with(|c| {
        c.recovery_polls = 3;
        for index in c.indices.values_mut() {
            index.recovery_polls_left = index.recovery_polls_left.min(3);
        }
    });
    let resumed = resume(&ws, &id, &[]);
    assert_eq!(resumed.code, exit::OK, "{resumed}");
    assert_eq!(world.os.with(|c| c.restores.len()), 1, "restored once");
    assert_eq!(ws.events(&id, "step_started", "restore").len(), 2);
    world.assert_restored();
    let restored = ws.outputs(&id, "restored")["json"].clone();
    assert_eq!(restored.as_array().unwrap().len(), 3, "{restored}");
}

#[test]
fn restore_offsite_registers_the_imported_bucket_read_only_and_restores_from_it() {
    let world = OpenSearchWorld::start();
    world.seed_bucket("ck8s-test-opensearch-offsite");
    let (ws, config) = session(None);
    let ran = ws.run_shipped(
        &config,
        "opensearch/restore-offsite.yaml",
        &[
            "--set",
            &world.url_param(),
            "--set",
            "bucket=ck8s-test-opensearch-offsite",
        ],
    );
    assert_eq!(ran.code, exit::OK, "{ran}");
    let repository = world
        .os
        .with(|c| c.repositories.get("backup-repository").cloned())
        .expect("backup-repository registered");
    assert_eq!(
        repository,
        json!({"type": "s3", "settings": {"bucket": "ck8s-test-opensearch-offsite", "client": "default", "readonly": "true"}})
    );
    world.assert_restored_from("backup-repository", EXPECTED);
    assert!(
        world.os.with(|c| c.snapshots[REPOSITORY].is_empty()),
        "the main repository was not written to"
    );
    let id = ran.run_id();
    assert_eq!(ws.outputs(&id, "restore.restore")["snapshot"], EXPECTED);
    // Read-only: this cluster cannot write into the off-site copy.
    let (status, body) = http_request(
        world.os.url(),
        "PUT",
        "/_snapshot/backup-repository/snapshot-x",
        ("admin", ADMIN_PASSWORD),
        None,
    )
    .unwrap();
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("readonly repository"), "{body}");
    assert_no_secrets(&ws, &ran);
}

/// The backup CronJob as the chart installs it: curl-jq as the snapshotter user.
fn backup_cronjob(k8s: &KubeEmulator) {
    k8s.apply(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "opensearch-system"}}),
    );
    k8s.apply(json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "opensearch-snapshotter-user", "namespace": "opensearch-system"},
        "stringData": {"username": "snapshotter", "password": SNAPSHOTTER_PASSWORD}}));
    let env = |name: &str, key: &str| json!({"name": name, "valueFrom": {"secretKeyRef": {"name": "opensearch-snapshotter-user", "key": key}}});
    k8s.apply(json!({"apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "opensearch-backup", "namespace": "opensearch-system"},
        "spec": {"schedule": "0 */2 * * *", "startingDeadlineSeconds": 600,
            "jobTemplate": {"spec": {"activeDeadlineSeconds": 600, "template": {"spec": {
                "restartPolicy": "Never",
                "securityContext": {"runAsUser": 65534},
                "containers": [{"name": "snapshotter", "image": "elastisys/curl-jq:ubuntu",
                    "env": [env("USERNAME", "username"), env("PASSWORD", "password"),
                            {"name": "REPOSITORY", "value": REPOSITORY},
                            {"name": "OPENSEARCH", "value": "http://opensearch-master:9200"}],
                    "command": ["/bin/bash", "-c", "curl -s -i -u \"$USERNAME:$PASSWORD\" -XPUT \"$OPENSEARCH/_snapshot/$REPOSITORY/snapshot-$(date --utc +%Y%m%d_%H%M%S)z\" -H 'Content-Type: application/json' -d '{\"indices\": \"*,-.opendistro_security\", \"include_global_state\": false}' | grep '200 OK'"]}]}}}}}}));
}

#[test]
fn backup_now_runs_the_cronjob_and_reports_the_snapshot_it_made() {
    let world = OpenSearchWorld::start();
    world.seed();
    world.os.with(|c| {
        c.add_index(KUBERNETES, 77);
        c.add_index(".opendistro_security", 5);
    });
    let k8s = KubeEmulator::start();
    backup_cronjob(&k8s);
    // The container: what the script does, against the emulator instead of opensearch-master.
    let url = world.os.url().to_string();
    let made = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let name = made.clone();
    k8s.script_pods(
        PodMatcher::Image("elastisys/curl-jq".into()),
        JobScript::run(move |run| {
            let (Some(user), Some(password), Some(repository)) = (
                run.var("USERNAME"),
                run.var("PASSWORD"),
                run.var("REPOSITORY"),
            ) else {
                return ActionOutcome {
                    exit_code: 1,
                    logs: "no credentials\n".into(),
                };
            };
            let now = time::OffsetDateTime::now_utc();
            let snapshot = format!(
                "snapshot-{:04}{:02}{:02}_{:02}{:02}{:02}z",
                now.year(),
                u8::from(now.month()),
                now.day(),
                now.hour(),
                now.minute(),
                now.second()
            );
            let (status, body) = http_request(
                &url,
                "PUT",
                &format!("/_snapshot/{repository}/{snapshot}"),
                (user, password),
                Some(&json!({"indices": "*,-.opendistro_security", "include_global_state": false})),
            )
            .unwrap();
            *name.lock().unwrap() = snapshot;
            ActionOutcome {
                exit_code: if status == 200 { 0 } else { 1 },
                logs: format!("HTTP/1.1 {status}\n{body}\n"),
            }
        }),
    );
    let (ws, config) = session(Some(k8s.kubeconfig_path()));
    let ran = ws.run_shipped(
        &config,
        "opensearch/backup-now.yaml",
        &["--set", &world.url_param()],
    );
    assert_eq!(ran.code, exit::OK, "{ran}");
    let id = ran.run_id();
    let made = made.lock().unwrap().clone();
    assert!(!made.is_empty(), "the Job's container ran");
    let job = ws.outputs(&id, "backup");
    assert_eq!(job["succeeded"], true);
    let job_object = k8s
        .get(
            "batch/v1",
            "Job",
            "opensearch-system",
            job["job"].as_str().unwrap(),
        )
        .expect("the Job exists");
    assert_eq!(
        job_object["spec"]["template"]["spec"]["containers"][0]["name"], "snapshotter",
        "made from the CronJob's template"
    );
    // As the snapshotter user, with the CronJob's selection.
    let requests = world.os.with(|c| c.snapshot_requests.clone());
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0]["indices"], "*,-.opendistro_security");

    let report = ws.outputs(&id, "snapshot")["json"]["snapshots"][0].clone();
    assert_eq!(report["snapshot"], made.as_str(), "{report}");
    assert_eq!(report["state"], "SUCCESS");
    assert_eq!(
        report["indices"],
        json!([DASHBOARDS, KUBERNETES]),
        "{report}"
    );
    assert_no_secrets(&ws, &ran);
}

#[test]
fn restore_of_a_chosen_partial_snapshot_asks_for_what_it_holds() {
    // The operator picks the PARTIAL snapshot, whose kubeaudit shard failed: OpenSearch refuses
    // to restore an index that was not fully snapshotted unless the request says `partial`.
    let world = OpenSearchWorld::start();
    world.seed();
    world.os.with(|c| {
        let list = c.snapshots.get_mut(REPOSITORY).unwrap();
        let partial = list.iter_mut().find(|s| s.name == PARTIAL).unwrap();
        partial.failed = [KUBEAUDIT.to_string()].into();
        c.persist(REPOSITORY).unwrap();
    });
    let (ws, config) = session(None);
    let ran = ws.run_shipped(
        &config,
        "opensearch/restore.yaml",
        &[
            "--set",
            &world.url_param(),
            "--set",
            &format!("snapshot={PARTIAL}"),
        ],
    );
    assert_eq!(ran.code, exit::OK, "{ran}");
    let request = world.os.with(|c| c.restores.clone());
    assert_eq!(request.len(), 1, "{request:?}");
    assert_eq!(request[0]["partial"], true, "{request:?}");
    let (k, _, o, _) = docs_in(PARTIAL);
    assert_eq!(world.docs(KUBERNETES), Some(k));
    assert_eq!(world.docs(OTHER), Some(o));
    assert_eq!(
        world.docs(KUBEAUDIT),
        Some(0),
        "the failed shard comes back empty"
    );
}
