//! The shipped InfluxDB runbooks, run as an operator runs them (`--config-dir` with the reference
//! config, the cluster's kubeconfig in `.state/`), against a real influxd (auth on, the config's
//! admin), a real S3 server (moto) holding real `influxd backup -portable` folders in the
//! config's bucket, and the Kubernetes emulator whose restore pod and backup Jobs really download,
//! restore, back up and upload.

use runbook_engine::exit;
mod common;

use common::ck8s::{Ck8sConfig, shipped};
use common::influxdb_world::{
    BACKUP, BACKUP_CRONJOB, BUCKET, InfluxWorld, NAMESPACE, OLDER_BACKUP, RESTORE_POD,
    S3_SECRET_KEY,
};
use common::{Ran, Workspace};
use runbook_testsupport::kube::KubeEmulator;
use runbook_testsupport::services::moto::MotoServer;
use serde_json::{Value, json};

struct Session {
    moto: MotoServer,
    k8s: KubeEmulator,
    world: InfluxWorld,
    ws: Workspace,
    config: Ck8sConfig,
}

/// InfluxDB seeded, backed up to S3 and damaged; the restore pod scripted.
fn session() -> Session {
    let moto = MotoServer::start();
    let k8s = KubeEmulator::start();
    let world = InfluxWorld::start();
    world.seed(&moto.endpoint());
    world.script_restore_pod(&k8s, &moto.endpoint());
    let ws = Workspace::new();
    let config = ws.ck8s_config(Some(&moto.endpoint()), None, Some(k8s.kubeconfig_path()));
    Session {
        moto,
        k8s,
        world,
        ws,
        config,
    }
}

impl Session {
    fn args(&self, command: &str, runbook: &str, extra: &[&str]) -> Vec<String> {
        let mut args = vec![command.to_string(), shipped(runbook)];
        args.extend(self.config.args());
        args.extend(self.world.set_args());
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    }

    fn run(&self, runbook: &str, extra: &[&str]) -> Ran {
        let args = self.args("run", runbook, extra);
        self.ws
            .runbook(&args.iter().map(String::as_str).collect::<Vec<_>>())
    }

    fn outputs(&self, run_id: &str, step: &str) -> Value {
        let events = self.ws.events(run_id, "step_succeeded", step);
        assert_eq!(events.len(), 1, "step {step} did not succeed once");
        events[0]["outputs"].clone()
    }

    /// The S3 secret key shows nowhere the operator or the journal would keep it.
    fn assert_no_secret_key(&self, ran: &Ran) {
        for text in [
            &ran.stdout,
            &ran.stderr,
            &self.ws.journal_text(&ran.run_id()),
        ] {
            assert!(
                !text.contains(S3_SECRET_KEY),
                "the S3 secret key shows:\n{text}"
            );
        }
    }
}

fn started(ws: &Workspace, run_id: &str, step: &str) -> usize {
    ws.events(run_id, "step_started", step).len()
}

#[test]
fn restore_drops_restores_the_newest_backup_and_regrants_the_writers() {
    let s = session();
    // A finished restore pod left behind by an earlier, hand-run restore (the published
    // procedure never deletes it): its spec is immutable, so the runbook must replace it.
    s.k8s.apply(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": RESTORE_POD, "namespace": NAMESPACE, "labels": {"app": "influxdb-backup"}},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "old", "image": "influxdb:1.7.6-alpine",
                 "command": ["influxd", "restore", "-portable", "/backups/20200101000000/"]}]}
    }));
    s.k8s.wait_for(
        "the stale pod to finish",
        std::time::Duration::from_secs(10),
        |k| {
            k.get("v1", "Pod", NAMESPACE, RESTORE_POD)
                .filter(|p| p["status"]["phase"] == "Succeeded" || p["status"]["phase"] == "Failed")
        },
    );
    s.world.restore_pods.lock().unwrap().clear();

    // Nothing is dropped without the operator's confirmation.
    let args = s.args("run", "influxdb/restore.yaml", &[]);
    let refused =
        s.ws.runbook(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(refused.code, exit::REFUSED, "{refused}");
    assert_eq!(s.world.databases(), ["service_cluster"]);

    let ran = s.run("influxdb/restore.yaml", &["--yes"]);
    assert_eq!(ran.code, exit::OK, "{ran}");
    let id = ran.run_id();
    assert_eq!(s.outputs(&id, "find-backup")["name"], BACKUP);
    s.world.assert_restored();
    s.world
        .assert_restore_pods_used_the_config(&s.moto.endpoint());
    let pods = s.world.restore_pods.lock().unwrap();
    assert_eq!(
        pods.len(),
        1,
        "one restore pod ran (the stale one was replaced)"
    );
    let args = pods[0].pod["spec"]["containers"][0]["args"].clone();
    assert_eq!(
        args,
        json!([
            "influxdb.influxdb-prometheus.svc:8088",
            format!("/backups/{BACKUP}/"),
            "service_cluster",
            "workload_cluster"
        ])
    );
    drop(pods);
    s.world.assert_restore_objects_gone(&s.k8s);
    // One DROP per database, each checkpointed on its own.
    let drops = s.ws.events(&id, "step_succeeded", "drop-databases");
    assert_eq!(drops.len(), 2, "{drops:?}");
    let restored = s.outputs(&id, "databases-after");
    assert!(
        restored["series"][0]["values"]
            .as_array()
            .unwrap()
            .contains(&json!(["workload_cluster"])),
        "{restored}"
    );
    s.assert_no_secret_key(&ran);
    assert!(
        !ran.stdout.contains(common::influxdb_world::ADMIN_PASSWORD)
            && !s
                .ws
                .journal_text(&id)
                .contains(common::influxdb_world::ADMIN_PASSWORD)
    );
    // Writers can write again.
    let write = std::process::Command::new("influx")
        .args([
            "-host",
            "127.0.0.1",
            "-port",
            &s.world.influx.http_port.to_string(),
        ])
        .args([
            "-username",
            "wcWriter",
            "-password",
            "test-wc-writer-password",
        ])
        .args([
            "-database",
            "workload_cluster",
            "-execute",
            "INSERT up,job=new value=4",
        ])
        .output()
        .unwrap();
    assert!(
        write.status.success() && write.stderr.is_empty(),
        "the writer cannot write: {}",
        String::from_utf8_lossy(&write.stderr)
    );
}

#[test]
fn restore_of_a_named_backup_and_one_database_leaves_the_other_alone() {
    let s = session();
    // workload_cluster is gone; service_cluster has the post-backup point and stays untouched.
    let ran = s.run(
        "influxdb/restore.yaml",
        &[
            "--yes",
            "--set",
            &format!("backup={OLDER_BACKUP}"),
            "--set",
            "databases=[workload_cluster]",
        ],
    );
    assert_eq!(ran.code, exit::OK, "{ran}");
    let id = ran.run_id();
    assert_eq!(s.outputs(&id, "find-backup")["name"], OLDER_BACKUP);
    assert_eq!(s.ws.events(&id, "step_skipped", "grant-sc-writer").len(), 1);
    assert_eq!(s.world.databases(), ["service_cluster", "workload_cluster"]);
    let count =
        |db: &str| s.world.influx.rows("SELECT count(value) FROM up", Some(db))[0][1].clone();
    common::wait_until(
        std::time::Duration::from_secs(30),
        "the restored shards",
        || {
            s.world
                .influx
                .try_query("SELECT count(value) FROM up", Some("workload_cluster"))
                .is_ok_and(|r| r[0].get("error").is_none())
        },
    );
    assert_eq!(
        count("workload_cluster"),
        1,
        "the older backup has one point"
    );
    assert_eq!(
        count("service_cluster"),
        3,
        "service_cluster was not touched"
    );
    assert_eq!(
        s.world.influx.rows("SHOW GRANTS FOR wcWriter", None),
        vec![vec![json!("workload_cluster"), json!("WRITE")]]
    );
    s.world.assert_restore_objects_gone(&s.k8s);

    // A backup that is not in the bucket fails before anything is dropped.
    let ran = s.run(
        "influxdb/restore.yaml",
        &["--yes", "--set", "backup=20990101000000"],
    );
    assert_eq!(ran.code, exit::STEP_FAILED, "{ran}");
    assert!(
        ran.stdout.contains("20990101000000") || ran.stderr.contains("20990101000000"),
        "{ran}"
    );
    assert_eq!(
        s.ws.events(&ran.run_id(), "step_started", "drop-databases")
            .len(),
        0
    );
    assert_eq!(s.world.databases(), ["service_cluster", "workload_cluster"]);
}

#[test]
fn a_failed_restore_shows_the_pod_logs_cleans_up_and_resumes_from_the_pod() {
    let s = session();
    // The newest folder is broken: a manifest influxd cannot read.
    let broken = "20261123000000";
    let dir = s.world.scratch.path().join("broken");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("20261123T000000Z.manifest"), "{not json").unwrap();
    std::fs::write(dir.join("20261123T000000Z.meta"), "garbage").unwrap();
    common::influxdb_world::upload_folder(&s.moto.endpoint(), BUCKET, broken, &dir).unwrap();

    let ran = s.run("influxdb/restore.yaml", &["--yes"]);
    assert_eq!(ran.code, exit::STEP_FAILED, "{ran}");
    let id = ran.run_id();
    assert_eq!(s.outputs(&id, "find-backup")["name"], broken);
    let failed = s.ws.events(&id, "step_failed", "restore-finished");
    assert_eq!(failed.len(), 1, "{ran}");
    let error = failed[0]["error"].to_string();
    assert!(
        error.contains("influxdb-restore") && error.contains("restoring database service_cluster"),
        "the failure carries the pod's logs: {error}"
    );
    assert!(
        ran.stdout.contains("restoring database service_cluster")
            || ran.stderr.contains("restoring database service_cluster"),
        "{ran}"
    );
    // The pod and the Secret with the keys are gone anyway; the writers got nothing.
    s.world.assert_restore_objects_gone(&s.k8s);
    assert_eq!(s.ws.events(&id, "step_started", "grant-sc-writer").len(), 0);
    s.assert_no_secret_key(&ran);

    // The operator puts a good backup in that folder and resumes: `restore-finished` resumes from
    // the stale-pod step, so the databases are dropped again (the failed restore may have brought
    // some back, without grants), the pod is created anew and the restore completes.
    s.moto.python(&format!(
        "for o in s3.list_objects_v2(Bucket='{BUCKET}', Prefix='{broken}/')['Contents']:\n    s3.delete_object(Bucket='{BUCKET}', Key=o['Key'])\nfor o in s3.list_objects_v2(Bucket='{BUCKET}', Prefix='{BACKUP}/')['Contents']:\n    s3.copy_object(Bucket='{BUCKET}', Key=o['Key'].replace('{BACKUP}', '{broken}', 1), CopySource={{'Bucket': '{BUCKET}', 'Key': o['Key']}})"
    ));
    let resume = s.ws.runbook(&["resume", &id, "--yes"]);
    assert_eq!(resume.code, exit::OK, "{resume}");
    assert_eq!(
        started(&s.ws, &id, "find-backup"),
        1,
        "find-backup is not run again"
    );
    assert_eq!(s.world.restore_pods.lock().unwrap().len(), 2);
    s.world.assert_restored();
    s.world.assert_restore_objects_gone(&s.k8s);
    s.assert_no_secret_key(&resume);
}

#[test]
fn backup_now_runs_the_cronjob_and_reports_the_new_folder() {
    let moto = MotoServer::start();
    let k8s = KubeEmulator::start();
    let world = InfluxWorld::start();
    world.seed(&moto.endpoint());
    world.seed_backup_cronjob(&k8s, &moto.endpoint());
    world.script_backup_job(&k8s);
    let ws = Workspace::new();
    let config = ws.ck8s_config(Some(&moto.endpoint()), None, Some(k8s.kubeconfig_path()));
    let file = shipped("influxdb/backup-now.yaml");
    let mut args = vec!["run".to_string(), file];
    args.extend(config.args());
    let ran = ws.runbook(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(ran.code, exit::OK, "{ran}");
    let id = ran.run_id();
    let made = world.backups_made.lock().unwrap().clone();
    assert_eq!(made.len(), 1, "one backup Job pod ran: {made:?}");
    let latest = ws.events(&id, "step_succeeded", "latest")[0]["outputs"].clone();
    assert_eq!(latest["name"], made[0].as_str(), "{latest}");
    assert!(latest["name"].as_str().unwrap() > BACKUP);
    let job = ws.events(&id, "step_succeeded", "backup")[0]["outputs"]["job"].clone();
    let job = k8s
        .get("batch/v1", "Job", NAMESPACE, job.as_str().unwrap())
        .expect("the Job is there");
    assert_eq!(
        job["metadata"]["ownerReferences"][0]["name"], BACKUP_CRONJOB,
        "{job}"
    );
    // The uploaded folder is a real backup: restoring it into a fresh influxd gives the data.
    let listed = moto.python(&format!(
        "print(json.dumps([o['Key'] for o in s3.list_objects_v2(Bucket='{BUCKET}', Prefix='{}/')['Contents']]))",
        made[0]
    ));
    let keys: Vec<String> = serde_json::from_str(listed.trim()).unwrap();
    assert!(keys.iter().any(|k| k.ends_with(".manifest")), "{keys:?}");
    assert!(!ran.stdout.contains(S3_SECRET_KEY) && !ws.journal_text(&id).contains(S3_SECRET_KEY));
}

#[test]
fn the_runbooks_validate_and_plan_with_the_reference_config() {
    let ws = Workspace::new();
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/ck8s-config-example"
    );
    let config = ["--config-dir", fixture, "--cluster", "sc"];
    for runbook in ["influxdb/restore.yaml", "influxdb/backup-now.yaml"] {
        let file = shipped(runbook);
        let mut args = vec!["validate", file.as_str()];
        args.extend(config);
        let ran = ws.runbook(&args);
        assert_eq!(ran.code, exit::OK, "{runbook}: {ran}");
        args[0] = "plan";
        let ran = ws.runbook(&args);
        assert_eq!(ran.code, exit::OK, "{runbook}: {ran}");
        assert!(!ran.stdout.contains("test-secret-key"), "{ran}");
    }
    let file = shipped("influxdb/restore.yaml");
    let mut args = vec!["plan", file.as_str()];
    args.extend(config);
    let plan = ws.runbook(&args);
    for destructive in [
        "remove-stale-pod",
        "drop-databases",
        "delete-restore-secret",
    ] {
        assert!(
            plan.stdout
                .lines()
                .any(|l| l.contains(destructive) && l.to_lowercase().contains("destructive")),
            "{destructive} is not marked destructive:\n{}",
            plan.stdout
        );
    }
}
