//! `offsite/import-bucket`, as an operator runs it after losing the main object store: two real S3
//! servers (moto) as the main and the off-site store, the Kubernetes emulator with the
//! rclone-sync CronJobs, and for encrypted buckets the real `rclone` standing in for the
//! in-cluster rclone Job's container.

use runbook_engine::exit;
mod common;

use std::process::Command;
use std::time::Duration;

use common::ck8s::{Ck8sConfig, shipped};
use common::{Ran, Workspace};
use runbook_testsupport::kube::{ActionOutcome, JobScript, KubeEmulator};
use runbook_testsupport::services::moto::MotoServer;
use serde_json::{Value, json};

const OFFSITE_BUCKET: &str = "ck8s-test-harbor-offsite";
/// Where the sync copies ck8s-test-harbor-offsite from (sc-config.yaml `objectStorage.sync.buckets`).
const MAIN_BUCKET: &str = "ck8s-test-harbor";

struct World {
    k8s: KubeEmulator,
    main: MotoServer,
    offsite: MotoServer,
    ws: Workspace,
    config: Ck8sConfig,
}

/// The sync CronJobs the config implies, one of them already suspended by the operator, none of
/// them due before tomorrow's 05:00.
fn world() -> World {
    world_where(None)
}

/// The same, with the harbor bucket's CronJob created `age` ago: so tonight's 05:00 sync is due
/// and the CronJob controller starts it at once.
fn world_where(harbor_sync_age: Option<Duration>) -> World {
    let k8s = KubeEmulator::start();
    let main = MotoServer::start();
    let offsite = MotoServer::start();
    let ws = Workspace::new();
    let config = ws.ck8s_config(
        Some(&main.endpoint()),
        Some(&offsite.endpoint()),
        Some(k8s.kubeconfig_path()),
    );
    for (source, suspended) in [
        ("ck8s-test-harbor", false),
        ("ck8s-test-velero", false),
        ("ck8s-test-thanos", true),
    ] {
        let created = match harbor_sync_age {
            Some(age) if source == MAIN_BUCKET => time::OffsetDateTime::now_utc() - age,
            _ => time::OffsetDateTime::now_utc(),
        };
        let created = created
            .replace_nanosecond(0)
            .unwrap()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        k8s.apply(json!({"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": format!("rclone-sync-{source}"), "namespace": "kube-system",
                         "creationTimestamp": created},
            "spec": {"schedule": "0 5 * * *", "suspend": suspended, "concurrencyPolicy": "Forbid",
                     "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Never",
                        "containers": [{"name": "rclone", "image": "elastisys/rclone-sync:1.3.0",
                                        "args": ["sync", format!("default:{source}"), format!("backup:{source}")]}]}}}}}}));
    }
    World {
        k8s,
        main,
        offsite,
        ws,
        config,
    }
}

impl World {
    fn import(&self, extra: &[&str]) -> Ran {
        let file = shipped("offsite/import-bucket.yaml");
        let mut args = vec!["run", file.as_str(), "--yes", "--set"];
        let bucket = format!("bucket={OFFSITE_BUCKET}");
        args.push(&bucket);
        let config_args = self.config.args();
        args.extend(config_args.iter().map(String::as_str));
        args.extend(extra);
        self.ws.runbook(&args)
    }

    fn suspended(&self) -> Vec<(String, Value)> {
        self.k8s
            .list("batch/v1", "CronJob", Some("kube-system"))
            .into_iter()
            .map(|c| {
                (
                    c["metadata"]["name"].as_str().unwrap().to_string(),
                    c["spec"]["suspend"].clone(),
                )
            })
            .collect()
    }

    fn assert_cronjobs_as_before(&self) {
        assert_eq!(
            self.suspended(),
            vec![
                ("rclone-sync-ck8s-test-harbor".to_string(), json!(false)),
                ("rclone-sync-ck8s-test-thanos".to_string(), json!(true)),
                ("rclone-sync-ck8s-test-velero".to_string(), json!(false)),
            ],
            "every CronJob back as it was (the one suspended before stays suspended)"
        );
        // Suspended during the run (the already suspended one is patched back to true at the end).
        let suspended_during_run: Vec<String> = self
            .k8s
            .requests()
            .iter()
            .filter(|r| {
                r.method == "PATCH"
                    && r.body
                        .as_ref()
                        .is_some_and(|b| b["spec"]["suspend"] == true)
            })
            .map(|r| r.path.rsplit('/').next().unwrap().to_string())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(
            suspended_during_run,
            vec![
                "rclone-sync-ck8s-test-harbor",
                "rclone-sync-ck8s-test-thanos",
                "rclone-sync-ck8s-test-velero"
            ]
        );
    }
}

/// `{key: content}` of every object in a bucket.
fn objects(s3: &MotoServer, bucket: &str) -> Value {
    let out = s3.python(&format!(
        "out = {{}}\nfor page in s3.get_paginator('list_objects_v2').paginate(Bucket='{bucket}'):\n    for o in page.get('Contents', []):\n        out[o['Key']] = s3.get_object(Bucket='{bucket}', Key=o['Key'])['Body'].read().decode('latin-1')\nprint(json.dumps(out))"
    ));
    serde_json::from_str(out.trim()).unwrap()
}

fn harbor_backups() -> Vec<(String, String)> {
    (0..3)
        .map(|i| {
            (
                format!("backups/17000000{i}0.sql.gz"),
                format!("pg_dump of night {i}\n").repeat(200),
            )
        })
        .collect()
}

const HARBOR_SYNC: &str = "rclone-sync-ck8s-test-harbor";

#[test]
fn unencrypted_bucket_is_copied_back_with_the_sync_suspended_meanwhile() {
    // Tonight's sync of the harbor bucket is still running when the import starts: its pod runs
    // until released, which the test does 1.5 s after the runbook suspended the CronJob.
    let released = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = released.clone();
    let w = world_where(Some(Duration::from_secs(48 * 3600)));
    w.k8s.script_job(
        HARBOR_SYNC,
        JobScript::run(move |_| {
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            while !flag.load(std::sync::atomic::Ordering::SeqCst)
                && std::time::Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            ActionOutcome {
                exit_code: 0,
                logs: "Transferred: 3 / 3, 100%\n".into(),
            }
        }),
    );
    let mut put = format!("s3.create_bucket(Bucket='{OFFSITE_BUCKET}')\n");
    for (key, content) in harbor_backups() {
        put +=
            &format!("s3.put_object(Bucket='{OFFSITE_BUCKET}', Key='{key}', Body={content:?})\n");
    }
    w.offsite.python(&put);

    let sync_job = w
        .k8s
        .wait_for("the sync Job to run", Duration::from_secs(15), |k| {
            let cronjob = k.get("batch/v1", "CronJob", "kube-system", HARBOR_SYNC)?;
            let job = cronjob["status"]["active"][0]["name"].as_str()?.to_string();
            let running = k.get("batch/v1", "Job", "kube-system", &job)?["status"]["active"] == 1;
            running.then_some(job)
        });
    let ran = std::thread::scope(|scope| {
        scope.spawn(|| {
            // Once the CronJobs are suspended, the running sync finishes.
            common::wait_until(Duration::from_secs(30), "the sync to be suspended", || {
                w.k8s
                    .get("batch/v1", "CronJob", "kube-system", HARBOR_SYNC)
                    .is_some_and(|c| c["spec"]["suspend"] == true)
            });
            std::thread::sleep(Duration::from_millis(1500));
            released.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        w.import(&["--set", "encrypted=false"])
    });
    assert_eq!(ran.code, exit::OK, "{ran}");
    // The sync ran to its end, and no other started while the CronJobs were suspended.
    let job = w
        .k8s
        .get("batch/v1", "Job", "kube-system", &sync_job)
        .unwrap();
    assert!(
        job["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["type"] == "Complete" && c["status"] == "True"),
        "{job}"
    );
    assert_eq!(
        w.k8s.names("batch/v1", "Job", Some("kube-system")),
        [format!("kube-system/{sync_job}")]
    );
    let cronjob = w
        .k8s
        .get("batch/v1", "CronJob", "kube-system", HARBOR_SYNC)
        .unwrap();
    assert_eq!(
        cronjob["status"]["lastSuccessfulTime"], job["status"]["completionTime"],
        "{cronjob}"
    );
    let id = ran.run_id();
    let started = common::millis(&w.ws.events(&id, "step_started", "no-sync-running")[0]["at"]);
    let copy_started = common::millis(&w.ws.events(&id, "step_started", "copy")[0]["at"]);
    assert!(
        copy_started - started >= 1000,
        "the copy waited for the running sync to finish"
    );
    let expected: serde_json::Map<String, Value> = harbor_backups()
        .into_iter()
        .map(|(k, v)| (k, json!(v)))
        .collect();
    assert_eq!(objects(&w.main, MAIN_BUCKET), Value::Object(expected));
    let copy = &w.ws.events(&id, "step_succeeded", "copy")[0]["outputs"];
    assert_eq!(copy["objects_copied"], 3, "{copy}");
    let imported = &w.ws.events(&id, "step_succeeded", "imported")[0]["outputs"];
    assert_eq!(imported["count"], 3, "{imported}");
    w.assert_cronjobs_as_before();
    for text in [&ran.stdout, &ran.stderr, &w.ws.journal_text(&id)] {
        assert!(!text.contains("test-offsite-secret-key"));
    }
}

#[test]
fn failed_copy_still_puts_the_cronjobs_back() {
    let w = world();
    // No such off-site bucket: the copy fails.
    let ran = w.import(&["--set", "encrypted=false"]);
    assert_eq!(ran.code, exit::STEP_FAILED, "{ran}");
    assert!(ran.stdout.contains("FAILED    copy"), "{ran}");
    assert!(ran.stdout.contains(OFFSITE_BUCKET), "{ran}");
    w.assert_cronjobs_as_before();
}

fn rclone(config: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new("rclone")
        .env_remove("AWS_CA_BUNDLE")
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .expect("rclone runs (apt install rclone)");
    assert!(
        out.status.success(),
        "rclone {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn obscure(secret: &str) -> String {
    let out = Command::new("rclone")
        .args(["obscure", secret])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn encrypted_bucket_is_decrypted_into_the_main_store_by_the_in_cluster_rclone_job() {
    let w = world();
    // The sync's rclone.conf, as the rclone-sync chart renders it into Secret rclone-sync-config.
    let remote = |endpoint: String| {
        format!(
            "type = s3\nprovider = Other\nenv_auth = false\naccess_key_id = test-key\nsecret_access_key = test-secret\nregion = us-east-1\nendpoint = {endpoint}\nforce_path_style = true\n"
        )
    };
    let rclone_conf = format!(
        "[default]\n{}\n[backup]\n{}\n[encrypt-{OFFSITE_BUCKET}]\ntype = crypt\nremote = backup:{OFFSITE_BUCKET}\nfilename_encryption = off\ndirectory_name_encryption = false\npassword = {}\npassword2 = {}\n",
        remote(w.main.endpoint()),
        remote(w.offsite.endpoint()),
        obscure("test-encrypt-password"),
        obscure("test-encrypt-salt"),
    );
    let conf = w.ws.write("rclone.conf", &rclone_conf);
    w.k8s.apply(json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "rclone-sync-config", "namespace": "kube-system"},
        "stringData": {"rclone.conf": rclone_conf}}));
    // Last night's sync, encrypted on its way off-site.
    for (key, content) in harbor_backups() {
        w.ws.write(&format!("night/{key}"), &content);
    }
    rclone(&conf, &["mkdir", &format!("backup:{OFFSITE_BUCKET}")]);
    rclone(
        &conf,
        &[
            "copy",
            w.ws.path("night").to_str().unwrap(),
            &format!("encrypt-{OFFSITE_BUCKET}:"),
        ],
    );
    let stored = objects(&w.offsite, OFFSITE_BUCKET);
    assert!(
        stored
            .as_object()
            .unwrap()
            .values()
            .all(|v| !v.as_str().unwrap().contains("pg_dump")),
        "the off-site copy is encrypted"
    );

    // The rclone Job's container: rclone with the mounted config and the Job's arguments.
    let dir = w.ws.path("job");
    w.k8s.script_job(
        "rclone-restore",
        JobScript::run(move |run| {
            let conf = dir.join("rclone.conf");
            std::fs::create_dir_all(&dir).unwrap();
            let Some(mounted) = run.files.get("/home/rclone/.config/rclone/rclone.conf") else {
                return ActionOutcome {
                    exit_code: 1,
                    logs: "rclone.conf not mounted\n".into(),
                };
            };
            std::fs::write(&conf, mounted).unwrap();
            let container = &run.pod["spec"]["containers"][0];
            let args: Vec<String> = container["args"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_string())
                .collect();
            let out = Command::new("rclone")
                .env_remove("AWS_CA_BUNDLE")
                .arg("--config")
                .arg(&conf)
                .args(&args)
                .output()
                .unwrap();
            ActionOutcome {
                exit_code: out.status.code().unwrap_or(1),
                logs: String::from_utf8_lossy(&out.stderr).into_owned(),
            }
        }),
    );

    let ran = w.import(&[]);
    assert_eq!(ran.code, exit::OK, "{ran}");
    let id = ran.run_id();
    let expected: serde_json::Map<String, Value> = harbor_backups()
        .into_iter()
        .map(|(k, v)| (k, json!(v)))
        .collect();
    assert_eq!(
        objects(&w.main, MAIN_BUCKET),
        Value::Object(expected),
        "decrypted into the bucket the sync copies from"
    );
    assert!(
        w.ws.events(&id, "step_skipped", "copy").len() == 1,
        "encrypted: no direct copy"
    );
    assert!(
        w.k8s
            .list("batch/v1", "Job", Some("kube-system"))
            .is_empty(),
        "the rclone Job is deleted"
    );
    let job = w
        .k8s
        .requests()
        .into_iter()
        .filter_map(|r| r.body)
        .find(|b| b["kind"] == "Job")
        .expect("a Job was applied");
    assert_eq!(
        job["spec"]["template"]["spec"]["containers"][0]["args"],
        json!([
            "sync",
            format!("encrypt-{OFFSITE_BUCKET}:"),
            format!("default:{MAIN_BUCKET}"),
            "--log-level",
            "INFO"
        ])
    );
    w.assert_cronjobs_as_before();
}
