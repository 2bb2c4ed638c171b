//! InfluxDB as the shipped InfluxDB runbooks meet it, for their tests and for the platform's
//! restore-all test: a real influxd whose admin is the one the reference config names
//! (`influxDB.users.admin`, `secrets.influxDB.users.adminPassword`), seeded as ck8s runs it (the
//! two databases with their retention policies, the writer users with their grants, points),
//! real `influxd backup -portable` folders uploaded to the config's InfluxDB bucket on moto under
//! 14-digit names, and the data then damaged. The procedure's pods are scripted in the
//! Kubernetes emulator to do for real what their containers would: the restore pod downloads the
//! folder with the keys it was given and runs `influxd restore -portable` per database; a Job of
//! the backup CronJob runs `influxd backup -portable` and uploads a fresh folder.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use runbook_testsupport::kube::{ActionOutcome, JobScript, KubeEmulator, PodMatcher, PodRun};
use runbook_testsupport::services::influxdb::InfluxDb;
use serde_json::{Value, json};

/// What the reference config (tests/fixtures/ck8s-config-example) holds.
pub const BUCKET: &str = "ck8s-test-influxdb";
pub const ADMIN: &str = "admin";
pub const ADMIN_PASSWORD: &str = "test-influx-admin-password";
pub const S3_ACCESS_KEY: &str = "test-access-key";
pub const S3_SECRET_KEY: &str = "test-secret-key";
pub const S3_REGION: &str = "test-region-1";

/// The runbooks' defaults (where ck8s runs InfluxDB).
pub const NAMESPACE: &str = "influxdb-prometheus";
pub const RPC_ADDRESS: &str = "influxdb.influxdb-prometheus.svc:8088";
pub const RESTORE_POD: &str = "influxdb-restore";
pub const RESTORE_SECRET: &str = "influx-restore-credentials";
pub const BACKUP_CRONJOB: &str = "influxdb-backup";

/// Last night's backup (two points per database) and the night before's (one point each).
pub const BACKUP: &str = "20261122000000";
pub const OLDER_BACKUP: &str = "20261121000000";

/// One ck8s database: name, retention policy, its duration as InfluxDB shows it, the writer
/// (`influxDB.users.*Writer`) and the writer's password (`secrets.influxDB.users.*Password`).
pub struct Database {
    pub name: &'static str,
    pub policy: &'static str,
    pub duration: &'static str,
    pub writer: &'static str,
    pub writer_password: &'static str,
}

pub const DATABASES: [Database; 2] = [
    Database {
        name: "service_cluster",
        policy: "service_cluster_rp",
        duration: "72h0m0s",
        writer: "scWriter",
        writer_password: "test-sc-writer-password",
    },
    Database {
        name: "workload_cluster",
        policy: "workload_cluster_rp",
        duration: "48h0m0s",
        writer: "wcWriter",
        writer_password: "test-wc-writer-password",
    },
];

pub struct InfluxWorld {
    pub influx: InfluxDb,
    /// Where backups are taken and restore pods download to.
    pub scratch: tempfile::TempDir,
    /// Every restore pod the emulator ran, as its containers saw it.
    pub restore_pods: Arc<Mutex<Vec<PodRun>>>,
    /// The folders that backup Jobs uploaded.
    pub backups_made: Arc<Mutex<Vec<String>>>,
}

/// Runs Python with `s3` bound to a boto3 client of the S3 server at `endpoint` (path-style), with
/// these keys (moto takes any); returns what it printed, or its error output.
fn s3_python(
    endpoint: &str,
    access_key: &str,
    secret_key: &str,
    code: &str,
) -> Result<String, String> {
    let script = format!(
        "import boto3, json, os, sys\nfrom botocore.config import Config\ns3 = boto3.client('s3', endpoint_url={}, aws_access_key_id={}, aws_secret_access_key={}, region_name={}, config=Config(s3={{'addressing_style': 'path'}}))\n{code}\n",
        json!(endpoint),
        json!(access_key),
        json!(secret_key),
        json!(S3_REGION)
    );
    let output = Command::new("python3")
        .arg("-c")
        .arg(&script)
        .env_remove("AWS_CA_BUNDLE")
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        Ok(stdout)
    } else {
        Err(format!(
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// Uploads every file of `dir` to `bucket` under `folder/`.
pub fn upload_folder(
    endpoint: &str,
    bucket: &str,
    folder: &str,
    dir: &Path,
) -> Result<String, String> {
    s3_python(
        endpoint,
        S3_ACCESS_KEY,
        S3_SECRET_KEY,
        &format!(
            "d = {}\nfor f in sorted(os.listdir(d)):\n    s3.upload_file(os.path.join(d, f), {}, {} + '/' + f)\n    print('upload: ' + f + ' to s3://' + {} + '/' + {} + '/' + f)",
            json!(dir.display().to_string()),
            json!(bucket),
            json!(folder),
            json!(bucket),
            json!(folder)
        ),
    )
}

/// `YYYYmmddHHMMSS` in UTC now, as the backup CronJob names its folders.
fn folder_now() -> String {
    let t = time::OffsetDateTime::now_utc();
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn output_text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

fn container<'a>(pod: &'a Value, list: &str, name: &str) -> Option<&'a Value> {
    pod["spec"][list]
        .as_array()?
        .iter()
        .find(|c| c["name"] == name)
}

impl InfluxWorld {
    /// A fresh influxd with the config's admin; nothing in it yet.
    pub fn start() -> InfluxWorld {
        InfluxWorld {
            influx: InfluxDb::start_with_admin(ADMIN, ADMIN_PASSWORD),
            scratch: tempfile::tempdir().expect("temp dir"),
            restore_pods: Arc::default(),
            backups_made: Arc::default(),
        }
    }

    /// `--set` arguments pointing the runbooks' HTTP API at this server (the RPC address stays
    /// the in-cluster default: the scripted restore pod maps it to this server).
    pub fn set_args(&self) -> Vec<String> {
        vec![
            "--set".into(),
            format!("influxdb_url={}", self.influx.url()),
        ]
    }

    /// The databases as ck8s creates them, the writers with their grants, one point per
    /// database backed up as [`OLDER_BACKUP`], a second point backed up as [`BACKUP`], both
    /// uploaded to the config's bucket on the S3 server at `s3_endpoint` (created if missing);
    /// then the damage a restore repairs: `workload_cluster` dropped, a point written into
    /// `service_cluster` after the backup.
    pub fn seed(&self, s3_endpoint: &str) {
        s3_python(
            s3_endpoint,
            S3_ACCESS_KEY,
            S3_SECRET_KEY,
            &format!(
                "try:\n    s3.create_bucket(Bucket={}, CreateBucketConfiguration={{'LocationConstraint': {}}})\nexcept (s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):\n    pass",
                json!(BUCKET),
                json!(S3_REGION)
            ),
        )
        .expect("create the InfluxDB bucket");
        for db in &DATABASES {
            self.influx.query(
                &format!(
                    "CREATE DATABASE {} WITH DURATION {} NAME {}; CREATE USER {} WITH PASSWORD '{}'; GRANT WRITE ON {} TO {}",
                    db.name, db.duration, db.policy, db.writer, db.writer_password, db.name, db.writer
                ),
                None,
            );
            self.influx
                .query("INSERT up,job=prometheus value=1", Some(db.name));
        }
        self.backup_to(s3_endpoint, OLDER_BACKUP);
        for db in &DATABASES {
            self.influx
                .query("INSERT up,job=alertmanager value=2", Some(db.name));
        }
        self.backup_to(s3_endpoint, BACKUP);
        self.damage();
    }

    /// A real `influxd backup -portable` of every database, uploaded as `folder`.
    pub fn backup_to(&self, s3_endpoint: &str, folder: &str) {
        let dir = self.scratch.path().join("seed").join(folder);
        std::fs::create_dir_all(&dir).unwrap();
        let out = self.influx.backup(&dir);
        assert!(
            out.status.success(),
            "influxd backup: {}",
            output_text(&out)
        );
        upload_folder(s3_endpoint, BUCKET, folder, &dir).expect("upload the backup");
    }

    /// What went wrong since the backup: one database lost, the other with a point the backup
    /// does not have.
    pub fn damage(&self) {
        self.influx.query("DROP DATABASE workload_cluster", None);
        self.influx.query(
            "INSERT up,job=after-backup value=3",
            Some("service_cluster"),
        );
        assert_eq!(self.databases(), ["service_cluster"]);
    }

    /// The databases, `_internal` left out.
    pub fn databases(&self) -> Vec<String> {
        self.influx
            .rows("SHOW DATABASES", None)
            .into_iter()
            .map(|r| r[0].as_str().unwrap().to_string())
            .filter(|d| d != "_internal")
            .collect()
    }

    /// Creates InfluxDB's namespace in the emulator and makes its `influxdb-restore` pods do what the procedure's containers do: the
    /// init container's `aws s3 sync` (from the S3 server at `s3_endpoint`, with the keys the pod
    /// got from its Secret), then the container's `influxd restore -portable -db` per database
    /// against this server (the in-cluster RPC address mapped to it). Each pod is recorded in
    /// [`restore_pods`](Self::restore_pods).
    pub fn script_restore_pod(&self, k8s: &KubeEmulator, s3_endpoint: &str) {
        let seen = self.restore_pods.clone();
        let rpc = format!("127.0.0.1:{}", self.influx.rpc_port);
        let scratch = self.scratch.path().to_path_buf();
        let s3_endpoint = s3_endpoint.to_string();
        k8s.apply(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}),
        );
        k8s.script_job(
            RESTORE_POD,
            JobScript::run(move |run| {
                seen.lock().unwrap().push(run.clone());
                let n = seen.lock().unwrap().len();
                let root = scratch.join(format!("restore-pod-{n}"));
                match restore_pod(run, &s3_endpoint, &rpc, &root) {
                    Ok(logs) => ActionOutcome { exit_code: 0, logs },
                    Err((exit_code, logs)) => ActionOutcome { exit_code, logs },
                }
            }),
        );
    }

    /// Every restore pod was given the config's object-storage keys, endpoint and region.
    pub fn assert_restore_pods_used_the_config(&self, s3_endpoint: &str) {
        let pods = self.restore_pods.lock().unwrap();
        assert!(!pods.is_empty(), "no restore pod ran");
        for run in pods.iter() {
            assert_eq!(run.var("AWS_ACCESS_KEY_ID"), Some(S3_ACCESS_KEY));
            assert_eq!(run.var("AWS_SECRET_ACCESS_KEY"), Some(S3_SECRET_KEY));
            assert_eq!(run.var("AWS_DEFAULT_REGION"), Some(S3_REGION));
            let init =
                container(&run.pod, "initContainers", "aws-cli-util").expect("init container");
            let args = strings(&init["args"]);
            assert_eq!(
                args[..2],
                ["--endpoint-url".to_string(), s3_endpoint.to_string()]
            );
            let main = container(&run.pod, "containers", "influxdb-restore").expect("container");
            assert_eq!(strings(&main["args"])[0], RPC_ADDRESS);
            let pod_text = run.pod.to_string();
            assert!(
                !pod_text.contains(S3_SECRET_KEY) && !pod_text.contains("printenv"),
                "the pod spec itself holds the key or prints the environment: {pod_text}"
            );
        }
    }

    /// The databases of [`BACKUP`] are back with their retention policies and points (and not
    /// the point written after the backup), and the writers hold their grants again.
    pub fn assert_restored(&self) {
        self.assert_restored_from(2);
    }

    /// Like [`assert_restored`](Self::assert_restored), for a backup with `points` per database
    /// ([`OLDER_BACKUP`] has 1).
    pub fn assert_restored_from(&self, points: u64) {
        assert_eq!(self.databases(), ["service_cluster", "workload_cluster"]);
        for db in &DATABASES {
            // Restored shards are briefly disabled while they load.
            super::wait_until(Duration::from_secs(30), "the restored shards", || {
                self.influx
                    .try_query("SELECT count(value) FROM up", Some(db.name))
                    .is_ok_and(|r| r[0].get("error").is_none())
            });
            assert_eq!(
                self.influx
                    .rows("SELECT count(value) FROM up", Some(db.name))[0][1],
                json!(points),
                "points in {}",
                db.name
            );
            assert!(
                self.influx
                    .rows(
                        "SELECT value FROM up WHERE job = 'after-backup'",
                        Some(db.name)
                    )
                    .is_empty(),
                "{} still has the point written after the backup",
                db.name
            );
            let policies = self
                .influx
                .rows(&format!("SHOW RETENTION POLICIES ON {}", db.name), None);
            assert!(
                policies
                    .iter()
                    .any(|p| p[0] == db.policy && p[1] == db.duration),
                "{}: {policies:?}",
                db.name
            );
            assert_eq!(
                self.influx
                    .rows(&format!("SHOW GRANTS FOR {}", db.writer), None),
                vec![vec![json!(db.name), json!("WRITE")]],
                "{}'s grants",
                db.writer
            );
        }
    }

    /// The restore pod and its Secret (the S3 keys) are gone.
    pub fn assert_restore_objects_gone(&self, k8s: &KubeEmulator) {
        assert!(
            k8s.get("v1", "Pod", NAMESPACE, RESTORE_POD).is_none(),
            "the restore pod is still there"
        );
        assert!(
            k8s.get("v1", "Secret", NAMESPACE, RESTORE_SECRET).is_none(),
            "the Secret with the S3 keys is still there"
        );
    }

    /// The `influxdb-backup` CronJob as ck8s v0.19 installs it (an init container backs up to a
    /// volume, a container uploads it with the AWS CLI), with its credentials Secret.
    pub fn seed_backup_cronjob(&self, k8s: &KubeEmulator, s3_endpoint: &str) {
        k8s.apply(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}),
        );
        k8s.apply(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "influxdb-backup-secret", "namespace": NAMESPACE},
            "stringData": {"credentials": format!(
                "[default]\naws_access_key_id = {S3_ACCESS_KEY}\naws_secret_access_key = {S3_SECRET_KEY}\nregion = {S3_REGION}\n")}
        }));
        k8s.apply(json!({
            "apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": BACKUP_CRONJOB, "namespace": NAMESPACE},
            "spec": {"schedule": "0 0 * * *", "startingDeadlineSeconds": 200, "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "OnFailure",
                "volumes": [{"name": "backup", "persistentVolumeClaim": {"claimName": "influxdb-backup"}},
                            {"name": "aws-config", "secret": {"secretName": "influxdb-backup-secret"}}],
                "initContainers": [{
                    "name": "influxdb-backup", "image": "influxdb:1.8.0-alpine",
                    "command": ["/bin/sh", "-c",
                        format!("rm -rf /backup/*; influxd backup -portable -host {RPC_ADDRESS} /backup/$(date +%Y%m%d%H%M%S)")],
                    "volumeMounts": [{"name": "backup", "mountPath": "/backup"}]
                }],
                "containers": [{
                    "name": "aws-cli", "image": "amazon/aws-cli",
                    "args": ["s3", "cp", "--recursive", "/backup", format!("s3://{BUCKET}"), "--endpoint-url", s3_endpoint],
                    "env": [{"name": "AWS_CONFIG_FILE", "value": "/aws/credentials"}],
                    "volumeMounts": [{"name": "backup", "mountPath": "/backup"}, {"name": "aws-config", "mountPath": "/aws"}]
                }]
            }}}}}
        }));
    }

    /// Makes the backup CronJob's pods do what its containers do: a real `influxd backup
    /// -portable` of this server into a folder named for now, uploaded under that name to the
    /// bucket and endpoint the upload container names. The folders are recorded in
    /// [`backups_made`](Self::backups_made).
    pub fn script_backup_job(&self, k8s: &KubeEmulator) {
        let made = self.backups_made.clone();
        let rpc = format!("127.0.0.1:{}", self.influx.rpc_port);
        let scratch = self.scratch.path().to_path_buf();
        k8s.script_pods(
            PodMatcher::Argument("influxd backup -portable".into()),
            JobScript::run(move |run| match backup_pod(run, &rpc, &scratch) {
                Ok((folder, logs)) => {
                    made.lock().unwrap().push(folder);
                    ActionOutcome { exit_code: 0, logs }
                }
                Err(logs) => ActionOutcome { exit_code: 1, logs },
            }),
        );
    }
}

/// The restore pod's containers: download, then restore each database. `Err((exit, logs))`.
fn restore_pod(
    run: &PodRun,
    s3_endpoint_expected: &str,
    rpc: &str,
    root: &Path,
) -> Result<String, (i32, String)> {
    let mut logs = String::new();
    let init = container(&run.pod, "initContainers", "aws-cli-util")
        .ok_or((1, "no aws-cli-util init container".to_string()))?;
    // aws --endpoint-url EP s3 sync s3://bucket/folder /backups/folder
    let args = strings(&init["args"]);
    let (endpoint, source, target) = match args.as_slice() {
        [flag, ep, s3, sync, src, dst]
            if flag == "--endpoint-url" && s3 == "s3" && sync == "sync" =>
        {
            (ep.clone(), src.clone(), dst.clone())
        }
        other => return Err((2, format!("aws: unexpected arguments {other:?}"))),
    };
    if endpoint != s3_endpoint_expected {
        return Err((
            255,
            format!("Could not connect to the endpoint URL: \"{endpoint}\""),
        ));
    }
    let (Some(access), Some(secret)) = (
        run.var("AWS_ACCESS_KEY_ID"),
        run.var("AWS_SECRET_ACCESS_KEY"),
    ) else {
        return Err((255, "Unable to locate credentials".into()));
    };
    let Some((bucket, prefix)) = source.trim_start_matches("s3://").split_once('/') else {
        return Err((2, format!("aws: bad source {source}")));
    };
    let local = |path: &str| -> PathBuf { root.join(path.trim_start_matches('/')) };
    let target_dir = local(&target);
    std::fs::create_dir_all(&target_dir).unwrap();
    let downloaded = s3_python(
        &endpoint,
        access,
        secret,
        &format!(
            "b, p, d = {}, {}, {}\nfor page in s3.get_paginator('list_objects_v2').paginate(Bucket=b, Prefix=p + '/'):\n    for o in page.get('Contents', []):\n        name = o['Key'][len(p) + 1:]\n        s3.download_file(b, o['Key'], os.path.join(d, name))\n        print('download: s3://' + b + '/' + o['Key'] + ' to ' + {} + '/' + name)",
            json!(bucket),
            json!(prefix),
            json!(target_dir.display().to_string()),
            json!(target)
        ),
    )
    .map_err(|e| (1, format!("{logs}{e}")))?;
    logs.push_str(&downloaded);

    let main = container(&run.pod, "containers", "influxdb-restore")
        .ok_or((1, format!("{logs}no influxdb-restore container")))?;
    let args = strings(&main["args"]);
    let [host, dir, databases @ ..] = args.as_slice() else {
        return Err((
            2,
            format!("{logs}influxdb-restore: too few arguments {args:?}"),
        ));
    };
    // The in-cluster service is this test's server.
    let host = if host == RPC_ADDRESS {
        rpc
    } else {
        host.as_str()
    };
    for db in databases {
        logs.push_str(&format!("restoring database {db} from {dir}\n"));
        let out = Command::new("influxd")
            .args(["restore", "-portable", "-host", host, "-db", db])
            .arg(local(dir))
            .output()
            .expect("run influxd restore");
        logs.push_str(&output_text(&out));
        if !out.status.success() {
            return Err((out.status.code().unwrap_or(1), logs));
        }
    }
    Ok(logs)
}

/// The backup Job's containers: `influxd backup -portable` into a folder named for now, then
/// `aws s3 cp --recursive` of it. `Ok((folder, logs))`.
fn backup_pod(run: &PodRun, rpc: &str, scratch: &Path) -> Result<(String, String), String> {
    let init = container(&run.pod, "initContainers", "influxdb-backup")
        .ok_or("no influxdb-backup init container")?;
    let script = strings(&init["command"]).join(" ");
    if !script.contains(&format!("-host {RPC_ADDRESS}")) {
        return Err(format!("influxd backup: cannot reach the host in {script}"));
    }
    let upload = container(&run.pod, "containers", "aws-cli").ok_or("no aws-cli container")?;
    let args = strings(&upload["args"]);
    let bucket = args
        .iter()
        .find_map(|a| a.strip_prefix("s3://"))
        .ok_or("no s3:// target")?
        .trim_end_matches('/')
        .to_string();
    let endpoint = args
        .iter()
        .skip_while(|a| *a != "--endpoint-url")
        .nth(1)
        .ok_or("no --endpoint-url")?
        .clone();
    let folder = folder_now();
    let dir = scratch.join("backup-jobs").join(&folder);
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new("influxd")
        .args(["backup", "-portable", "-host", rpc])
        .arg(&dir)
        .output()
        .expect("run influxd backup");
    let mut logs = output_text(&out);
    if !out.status.success() {
        return Err(logs);
    }
    logs.push_str(&upload_folder(&endpoint, &bucket, &folder, &dir)?);
    Ok((folder, logs))
}
