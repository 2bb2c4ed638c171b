//! Harbor as the shipped Harbor runbooks find it, for their tests and for the platform restore:
//! a real PostgreSQL server holding Harbor's databases, backups of them in the Harbor bucket of a
//! moto S3 server packed exactly as `harbor-backup-cronjob` packs them (a gzipped tar of
//! `backups/<db>.back`, one plain `pg_dump` each, uploaded as `backups/<epoch>.sql.gz`), the
//! `harbor` namespace in the Kubernetes emulator with Deployments at different replica counts and
//! the backup Secret, and a stand-in for Harbor's health API.
//!
//! The restore Job's pod is test code that runs the mounted `restore-harbor.sh` itself (with the
//! pod's environment, the database host mapped to the test server): so the very script the
//! runbook ships is what restores the databases here.
//!
//! ```ignore
//! let world = HarborWorld::start();
//! world.seed(&k8s, &moto);          // data, two backups, then damage done after the backup
//! world.script_restore_job(&k8s);
//! // ... run runbooks/harbor/restore.yaml with --set harbor_url=world.registry_url()
//! world.assert_restored(&k8s);
//! ```

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use runbook_testsupport::kube::{ActionOutcome, JobScript, KubeEmulator, PodRun};
use runbook_testsupport::services::moto::MotoServer;
use runbook_testsupport::services::postgres::Postgres;
use serde_json::{Value, json};

use super::ck8s::shipped;

pub const NAMESPACE: &str = "harbor";
/// `objectStorage.buckets.harbor` in the reference config.
pub const BUCKET: &str = "ck8s-test-harbor";
/// `secrets.harbor.databasePassword` in the reference config: the database's `postgres`
/// password, also in the cluster's `harbor-backup-secret` (so the runbook masks it).
pub const DB_PASSWORD: &str = "test-harbor-db-password";
/// `secrets.objectStorage.s3.*` in the reference config (moto takes any keys).
pub const S3_ACCESS_KEY: &str = "test-access-key";
pub const S3_SECRET_KEY: &str = "test-secret-key";

/// The databases harbor-backup-cronjob dumps (and the runbook restores by default).
pub const DATABASES: &[&str] = &["registry", "postgres", "notarysigner", "notaryserver"];

/// Harbor's Deployments and their replica counts before the restore (one at zero: it must stay
/// at zero, not come back as 1).
pub const DEPLOYMENTS: &[(&str, u32)] = &[
    ("harbor-core", 2),
    ("harbor-registry", 3),
    ("harbor-portal", 1),
    ("harbor-jobservice", 1),
    ("harbor-notary-signer", 0),
];

/// The newest backup (restored by default) and an older one with less in it.
pub const NEWEST_KEY: &str = "backups/1763942400.sql.gz";
pub const OLDER_KEY: &str = "backups/1763856000.sql.gz";

/// Repositories in `registry` when the newest backup was made.
pub const REPOSITORIES_AT_BACKUP: &[(&str, i64)] = &[
    ("library/nginx", 42),
    ("platform/api", 7),
    ("platform/worker", 3),
];

/// A stand-in for Harbor's API: answers `GET /api/v2.0/health` with `{"status": "healthy"}`.
pub struct RegistryStub {
    pub port: u16,
    pub health_checks: Arc<AtomicUsize>,
}

impl RegistryStub {
    pub fn start() -> RegistryStub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the registry stub");
        let port = listener.local_addr().unwrap().port();
        let health_checks = Arc::new(AtomicUsize::new(0));
        let counter = health_checks.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut request_line = String::new();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                // Read the headers up to the blank line.
                loop {
                    let mut line = String::new();
                    match reader.read_line(&mut line) {
                        Ok(0) | Err(_) => break,
                        Ok(_) if line == "\r\n" || line == "\n" => break,
                        Ok(_) => {}
                    }
                }
                let (status, body) = if request_line.starts_with("GET /api/v2.0/health ") {
                    counter.fetch_add(1, Ordering::SeqCst);
                    (
                        "200 OK",
                        r#"{"status":"healthy","components":[{"name":"core","status":"healthy"},{"name":"database","status":"healthy"},{"name":"registry","status":"healthy"}]}"#,
                    )
                } else {
                    ("404 Not Found", r#"{"errors":[{"code":"NOT_FOUND"}]}"#)
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        RegistryStub {
            port,
            health_checks,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn checks(&self) -> usize {
        self.health_checks.load(Ordering::SeqCst)
    }
}

/// What one restore Job pod saw and did.
#[derive(Debug, Clone)]
pub struct JobRun {
    pub env: BTreeMap<String, String>,
    /// The mounted script, by path.
    pub files: BTreeMap<String, String>,
    pub exit_code: i32,
    pub logs: String,
}

pub struct HarborWorld {
    pub pg: Postgres,
    pub registry: RegistryStub,
    /// Every restore Job pod, in order.
    pub job_runs: Arc<Mutex<Vec<JobRun>>>,
    work: tempfile::TempDir,
}

/// Runs a shell command line, panicking with its output when it fails.
fn sh(what: &str, command: &mut Command) {
    let out = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `pg_dump` of each database into `dir/backups/<db>.back`, packed as `tar czf` does in the
/// backup CronJob; returns the archive.
pub fn pack_backup(pg: &Postgres, dir: &Path) -> std::path::PathBuf {
    let backups = dir.join("backups");
    let _ = std::fs::remove_dir_all(&backups);
    std::fs::create_dir_all(&backups).unwrap();
    for db in DATABASES {
        pg.dump(db, &backups.join(format!("{db}.back")));
    }
    let archive = dir.join("harbor.tgz");
    sh(
        "tar czf",
        Command::new("tar")
            .arg("czf")
            .arg(&archive)
            .arg("-C")
            .arg(dir)
            .arg("backups"),
    );
    archive
}

impl HarborWorld {
    /// Starts PostgreSQL (with the reference config's database password) and the registry stub.
    pub fn start() -> HarborWorld {
        HarborWorld {
            pg: Postgres::start(DB_PASSWORD),
            registry: RegistryStub::start(),
            job_runs: Arc::new(Mutex::new(Vec::new())),
            work: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn registry_url(&self) -> String {
        self.registry.url()
    }

    /// Harbor's namespace, Deployments and backup Secret in the cluster; its databases with
    /// data; an older and the newest backup in the bucket; then the damage done since the newest
    /// backup (rows deleted, a row added, a table dropped).
    pub fn seed(&self, k8s: &KubeEmulator, moto: &MotoServer) {
        self.seed_cluster(k8s);
        self.seed_databases();
        moto.python(&format!("s3.create_bucket(Bucket='{BUCKET}')"));

        // The older backup: one repository fewer, and other pull counts.
        self.pg.sql(
            "registry",
            "DELETE FROM repository WHERE name = 'platform/worker'; UPDATE repository SET pull_count = 1",
        );
        self.upload_backup(moto, OLDER_KEY);
        self.pg.sql("registry", "DELETE FROM repository");
        self.insert_repositories();
        self.upload_backup(moto, NEWEST_KEY);

        // What went wrong after the backup.
        self.pg.sql(
            "registry",
            "DELETE FROM repository WHERE name <> 'library/nginx'; INSERT INTO repository VALUES ('pushed/after-backup', 0)",
        );
        self.pg.sql("notaryserver", "DROP TABLE tuf_files");
        assert_ne!(self.repositories(), expected_repositories());
    }

    /// The `harbor` namespace as ck8s installs it: the Deployments at [`DEPLOYMENTS`]' counts and
    /// `harbor-backup-secret`.
    pub fn seed_cluster(&self, k8s: &KubeEmulator) {
        k8s.apply(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}),
        );
        for (name, replicas) in DEPLOYMENTS {
            k8s.apply(json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app": "harbor"}},
                "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "harbor", "component": name}},
                         "template": {"metadata": {"labels": {"app": "harbor", "component": name}},
                                      "spec": {"containers": [{"name": "main", "image": format!("goharbor/{name}:v2.5.0")}]}}}
            }));
        }
        k8s.apply(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "harbor-backup-secret", "namespace": NAMESPACE},
            "type": "Opaque",
            "stringData": {
                "aws-access-key-id": S3_ACCESS_KEY,
                "aws-secret-access-key": S3_SECRET_KEY,
                "db-password": DB_PASSWORD,
            }
        }));
        for (name, replicas) in DEPLOYMENTS {
            let wanted = *replicas as i64;
            k8s.wait_for(
                &format!("{name} to have {replicas} ready replicas"),
                std::time::Duration::from_secs(20),
                |k| {
                    let d = k.get("apps/v1", "Deployment", NAMESPACE, name)?;
                    (d["status"]["readyReplicas"].as_i64().unwrap_or(0) == wanted).then_some(())
                },
            );
        }
    }

    /// Harbor's four databases; `registry` and `notaryserver` with tables and rows.
    pub fn seed_databases(&self) {
        for db in ["registry", "notarysigner", "notaryserver"] {
            self.pg.sql("postgres", &format!("CREATE DATABASE {db}"));
        }
        self.pg.sql(
            "registry",
            "CREATE TABLE repository (name text PRIMARY KEY, pull_count integer NOT NULL)",
        );
        self.insert_repositories();
        self.pg.sql(
            "notaryserver",
            "CREATE TABLE tuf_files (gun text, role text, version integer); INSERT INTO tuf_files VALUES ('library/nginx', 'root', 1), ('library/nginx', 'targets', 4)",
        );
        self.pg.sql(
            "notarysigner",
            "CREATE TABLE private_keys (id text PRIMARY KEY); INSERT INTO private_keys VALUES ('k1')",
        );
    }

    fn insert_repositories(&self) {
        let values: Vec<String> = REPOSITORIES_AT_BACKUP
            .iter()
            .map(|(name, count)| format!("('{name}', {count})"))
            .collect();
        self.pg.sql(
            "registry",
            &format!("INSERT INTO repository VALUES {}", values.join(", ")),
        );
    }

    /// Dumps the databases now and uploads them to `key` as the backup CronJob does.
    pub fn upload_backup(&self, moto: &MotoServer, key: &str) {
        let archive = pack_backup(&self.pg, self.work.path());
        moto.python(&format!(
            "s3.upload_file({:?}, '{BUCKET}', '{key}')",
            archive.display().to_string()
        ));
    }

    /// `registry`'s repositories, sorted.
    pub fn repositories(&self) -> Vec<(String, i64)> {
        self.pg
            .sql(
                "registry",
                "SELECT name, pull_count FROM repository ORDER BY name",
            )
            .lines()
            .map(|l| {
                let (name, count) = l.split_once('|').expect("name|count");
                (name.to_string(), count.parse().expect("a count"))
            })
            .collect()
    }

    /// Makes the pods of Job `restore-harbor-job` run the mounted `restore-harbor.sh` locally,
    /// with the pod's environment, the database host and port mapped to the test server.
    pub fn script_restore_job(&self, k8s: &KubeEmulator) {
        self.script_restore_job_with(k8s, |_| {});
    }

    /// Like [`script_restore_job`](Self::script_restore_job), letting the test change the
    /// environment first (to make the Job fail, say).
    pub fn script_restore_job_with(
        &self,
        k8s: &KubeEmulator,
        adjust: impl Fn(&mut BTreeMap<String, String>) + Send + Sync + 'static,
    ) {
        k8s.script_job("restore-harbor-job", self.restore_job_script(adjust));
    }

    /// The script for the restore Job's pods (to slow it down with `pending_for`, say).
    pub fn restore_job_script(
        &self,
        adjust: impl Fn(&mut BTreeMap<String, String>) + Send + Sync + 'static,
    ) -> JobScript {
        let port = self.pg.port;
        let runs = self.job_runs.clone();
        JobScript::run(move |run: &PodRun| {
            let mut env = run.env.clone();
            // The Service `harbor-harbor-database` is the test's server.
            if env.get("PGHOST").map(String::as_str) == Some("harbor-harbor-database") {
                env.insert("PGHOST".into(), "127.0.0.1".into());
                env.insert("PGPORT".into(), port.to_string());
            }
            adjust(&mut env);
            let outcome = run_script(run, &env);
            runs.lock().unwrap().push(JobRun {
                env: run.env.clone(),
                files: run.files.clone(),
                exit_code: outcome.exit_code,
                logs: outcome.logs.clone(),
            });
            outcome
        })
    }

    /// The restore Job pods that ran.
    pub fn job_runs(&self) -> Vec<JobRun> {
        self.job_runs.lock().unwrap().clone()
    }

    /// The databases hold what the newest backup holds: the damage is gone.
    pub fn assert_databases_restored(&self) {
        assert_eq!(self.repositories(), expected_repositories());
        assert_eq!(
            self.pg.sql(
                "notaryserver",
                "SELECT gun, role, version FROM tuf_files ORDER BY role"
            ),
            "library/nginx|root|1\nlibrary/nginx|targets|4\n"
        );
        assert_eq!(
            self.pg.sql("notarysigner", "SELECT id FROM private_keys"),
            "k1\n"
        );
        let databases = self.pg.databases();
        for db in DATABASES {
            assert!(databases.iter().any(|d| d == db), "{db} in {databases:?}");
        }
    }

    /// Every Deployment is back at its count from before the restore, with its replicas ready.
    pub fn assert_scaled_back(&self, k8s: &KubeEmulator) {
        for (name, replicas) in DEPLOYMENTS {
            let d = k8s
                .get("apps/v1", "Deployment", NAMESPACE, name)
                .unwrap_or_else(|| panic!("Deployment {name} is gone"));
            assert_eq!(d["spec"]["replicas"], json!(replicas), "{name}: {d}");
        }
    }

    /// The restore Job and its ConfigMap are gone.
    pub fn assert_cleaned_up(&self, k8s: &KubeEmulator) {
        assert!(
            k8s.get("batch/v1", "Job", NAMESPACE, "restore-harbor-job")
                .is_none(),
            "the restore Job is still there"
        );
        assert!(
            k8s.get("v1", "ConfigMap", NAMESPACE, "restore-harbor")
                .is_none(),
            "ConfigMap restore-harbor is still there"
        );
        let pods: Vec<Value> = k8s
            .list("v1", "Pod", Some(NAMESPACE))
            .into_iter()
            .filter(|p| {
                p["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("restore-harbor-job"))
            })
            .collect();
        assert!(pods.is_empty(), "restore Job pods left: {pods:?}");
    }

    /// Everything a successful restore leaves: databases, replicas, clean-up, health check.
    pub fn assert_restored(&self, k8s: &KubeEmulator) {
        self.assert_databases_restored();
        self.assert_scaled_back(k8s);
        self.assert_cleaned_up(k8s);
        assert!(
            self.registry.checks() >= 1,
            "the registry's health was not checked"
        );
        let runs = self.job_runs();
        assert_eq!(runs.len(), 1, "restore Job pods: {runs:?}");
        assert_eq!(
            runs[0].env.get("SPECIFIC_BACKUP").map(String::as_str),
            Some(NEWEST_KEY)
        );
    }
}

pub fn expected_repositories() -> Vec<(String, i64)> {
    let mut rows: Vec<(String, i64)> = REPOSITORIES_AT_BACKUP
        .iter()
        .map(|(n, c)| (n.to_string(), *c))
        .collect();
    rows.sort();
    rows
}

/// Runs the pod's mounted `restore-harbor.sh` with `env` (and nothing else from the test's own
/// environment but PATH); its exit code and output become the pod's.
fn run_script(run: &PodRun, env: &BTreeMap<String, String>) -> ActionOutcome {
    let Some(script) = run.files.get("/scripts/restore-harbor.sh") else {
        return ActionOutcome {
            exit_code: 127,
            logs: format!(
                "/scripts/restore-harbor.sh is not mounted (files: {:?})",
                run.files.keys()
            ),
        };
    };
    let shipped_script =
        std::fs::read_to_string(shipped("harbor/manifests/restore-harbor.sh")).unwrap();
    if *script != shipped_script {
        return ActionOutcome {
            exit_code: 2,
            logs: "the ConfigMap's restore-harbor.sh differs from runbooks/harbor/manifests/restore-harbor.sh: regenerate restore-harbor-configmap.yaml".into(),
        };
    }
    let home = tempfile::tempdir().expect("temp dir");
    let path = home.path().join("restore-harbor.sh");
    std::fs::write(&path, script).unwrap();
    let work = home.path().join("work");
    let output = Command::new("sh")
        .arg(&path)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("AWS_CONFIG_FILE", home.path().join("aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            home.path().join("aws-credentials"),
        )
        .envs(env)
        .env("WORKDIR", &work)
        .output();
    match output {
        Ok(out) => ActionOutcome {
            exit_code: out.status.code().unwrap_or(1),
            logs: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        },
        Err(e) => ActionOutcome {
            exit_code: 127,
            logs: format!("cannot run sh: {e}"),
        },
    }
}

/// The backup CronJob as the harbor-backup chart installs it (what `backup-now` copies).
pub fn backup_cronjob() -> Value {
    let secret_env = |name: &str, key: &str| json!({"name": name, "valueFrom": {"secretKeyRef": {"name": "harbor-backup-secret", "key": key}}});
    json!({
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "harbor-backup-cronjob", "namespace": NAMESPACE},
        "spec": {"schedule": "0 0 * * *", "jobTemplate": {"spec": {"template": {"spec": {
            "restartPolicy": "Never",
            "securityContext": {"runAsUser": 1000, "fsGroup": 1000},
            "containers": [{
                "name": "backup", "image": "elastisys/backup-postgres:1.1.0",
                "env": [
                    secret_env("AWS_ACCESS_KEY_ID", "aws-access-key-id"),
                    secret_env("AWS_SECRET_ACCESS_KEY", "aws-secret-access-key"),
                    secret_env("PGPASSWORD", "db-password"),
                    {"name": "S3_BUCKET", "value": BUCKET},
                    {"name": "PG_HOSTNAME", "value": "harbor-harbor-database"},
                ]
            }]
        }}}}}
    })
}

impl HarborWorld {
    /// Makes the pods of Jobs named `job_prefix` do what the backup CronJob's container does:
    /// `pg_dump` each database, `tar czf`, upload to `backups/<epoch>.sql.gz` (with `aws`, the
    /// pod's credentials and bucket, `endpoint` standing in for the cluster's S3).
    pub fn script_backup_job(&self, k8s: &KubeEmulator, job_prefix: &str, endpoint: &str) {
        let port = self.pg.port;
        let endpoint = endpoint.to_string();
        k8s.script_job(
            job_prefix,
            JobScript::run(move |run: &PodRun| {
                let dir = tempfile::tempdir().expect("temp dir");
                let d = dir.path().display();
                let dumps: Vec<String> = DATABASES
                    .iter()
                    .map(|db| format!("pg_dump -h 127.0.0.1 -p {port} -U postgres -d {db} -f {d}/backups/{db}.back"))
                    .collect();
                let script = format!(
                    "set -e\nmkdir -p {d}/backups\n{}\ntar czf {d}/harbor.tgz -C {d} backups\nkey=backups/$(date +%s).sql.gz\naws --endpoint-url {endpoint} s3 cp --only-show-errors {d}/harbor.tgz s3://$S3_BUCKET/$key\necho uploaded $key\n",
                    dumps.join("\n")
                );
                let out = Command::new("sh")
                    .arg("-c")
                    .arg(&script)
                    .env_clear()
                    .env("PATH", std::env::var("PATH").unwrap_or_default())
                    .env("HOME", dir.path())
                    .env("AWS_CONFIG_FILE", dir.path().join("aws-config"))
                    .env("AWS_SHARED_CREDENTIALS_FILE", dir.path().join("aws-credentials"))
                    .env("AWS_DEFAULT_REGION", "test-region-1")
                    .envs(&run.env)
                    .output()
                    .expect("run sh");
                ActionOutcome {
                    exit_code: out.status.code().unwrap_or(1),
                    logs: format!(
                        "{}{}",
                        String::from_utf8_lossy(&out.stdout),
                        String::from_utf8_lossy(&out.stderr)
                    ),
                }
            }),
        );
    }
}
