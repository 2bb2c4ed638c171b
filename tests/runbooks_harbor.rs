//! The shipped Harbor runbooks, run as an operator runs them (`--config-dir` with the reference
//! config, the cluster's kubeconfig in `.state/`), against the Kubernetes emulator, a real moto S3
//! server holding the backups, and a real PostgreSQL server holding Harbor's databases. The
//! restore Job's pod runs the shipped restore-harbor.sh itself, so the databases really are
//! dropped and loaded from the backup.

use runbook_engine::exit;
mod common;

use std::time::Duration;

use common::ck8s::{Ck8sConfig, shipped};
use common::harbor_world::{
    self, DB_PASSWORD, DEPLOYMENTS, HarborWorld, NAMESPACE, NEWEST_KEY, OLDER_KEY, S3_SECRET_KEY,
};
use common::{Ran, Workspace, finish, kill, wait_until};
use runbook_testsupport::kube::KubeEmulator;
use runbook_testsupport::services::moto::MotoServer;
use serde_json::{Value, json};

struct Session {
    ws: Workspace,
    config: Ck8sConfig,
    k8s: KubeEmulator,
    moto: MotoServer,
    world: HarborWorld,
}

/// Harbor seeded (data, two backups, damage since), its cluster objects, the restore Job scripted.
fn session() -> Session {
    let k8s = KubeEmulator::start();
    let moto = MotoServer::start();
    let world = HarborWorld::start();
    world.seed(&k8s, &moto);
    let ws = Workspace::new();
    let config = ws.ck8s_config(Some(&moto.endpoint()), None, Some(k8s.kubeconfig_path()));
    Session {
        ws,
        config,
        k8s,
        moto,
        world,
    }
}

impl Session {
    fn args<'a>(&'a self, command: &'a str, runbook: &'a str, extra: &'a [String]) -> Vec<String> {
        let mut args = vec![command.to_string(), shipped(runbook)];
        args.extend(self.config.args());
        args.extend(extra.iter().cloned());
        args
    }

    fn runbook(&self, command: &str, runbook: &str, extra: &[&str]) -> Ran {
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let args = self.args(command, runbook, &extra);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        self.ws.runbook(&refs)
    }

    fn harbor_url(&self) -> String {
        format!("harbor_url={}", self.world.registry_url())
    }

    fn restore(&self, extra: &[&str]) -> Ran {
        let url = self.harbor_url();
        let mut args = vec!["--yes", "--set", &url];
        args.extend(extra);
        self.runbook("run", "harbor/restore.yaml", &args)
    }

    fn resume(&self, id: &str, extra: &[&str]) -> Ran {
        let mut args = vec!["resume", id];
        let config = self.config.args();
        args.extend(config.iter().map(String::as_str));
        args.extend(extra);
        self.ws.runbook(&args)
    }

    /// Neither secret the runbook could meet (the S3 key it lists with, the database password
    /// the Job's Secret holds) was printed or journaled.
    fn assert_no_secrets(&self, ran: &Ran, id: &str) {
        let journal = self.ws.journal_text(id);
        for secret in [S3_SECRET_KEY, DB_PASSWORD] {
            assert!(!ran.stdout.contains(secret), "{secret} printed:\n{ran}");
            assert!(!ran.stderr.contains(secret), "{secret} printed:\n{ran}");
            assert!(!journal.contains(secret), "{secret} in the journal");
        }
    }

    fn outputs(&self, id: &str, step: &str) -> Value {
        let events = self.ws.events(id, "step_succeeded", step);
        assert!(!events.is_empty(), "{step} did not succeed");
        events.last().unwrap()["outputs"].clone()
    }

    fn replicas(&self) -> Vec<(String, i64)> {
        DEPLOYMENTS
            .iter()
            .map(|(name, _)| {
                let d = self
                    .k8s
                    .get("apps/v1", "Deployment", NAMESPACE, name)
                    .unwrap();
                (name.to_string(), d["spec"]["replicas"].as_i64().unwrap())
            })
            .collect()
    }
}

fn recorded_counts() -> Value {
    let map: serde_json::Map<String, Value> = DEPLOYMENTS
        .iter()
        .map(|(n, r)| (n.to_string(), json!(r)))
        .collect();
    Value::Object(map)
}

#[test]
fn both_runbooks_validate_and_plan_with_the_reference_config() {
    let ws = Workspace::new();
    let reference = format!(
        "{}/tests/fixtures/ck8s-config-example",
        env!("CARGO_MANIFEST_DIR")
    );
    for runbook in ["harbor/restore.yaml", "harbor/backup-now.yaml"] {
        let file = shipped(runbook);
        let args = ["--config-dir", reference.as_str(), "--cluster", "sc"];
        let validate = ws.runbook(&[&["validate", file.as_str()][..], &args].concat());
        assert_eq!(validate.code, exit::OK, "{runbook}: {validate}");
        let plan = ws.runbook(&[&["plan", file.as_str()][..], &args].concat());
        assert_eq!(plan.code, exit::OK, "{runbook}: {plan}");
        assert!(
            !plan.stdout.contains("test-secret-key"),
            "{runbook}: {plan}"
        );
    }
    let plan = ws.runbook(&[
        "plan",
        &shipped("harbor/restore.yaml"),
        "--config-dir",
        &reference,
        "--cluster",
        "sc",
    ]);
    let text = format!("{}{}", plan.stdout, plan.stderr);
    // The bucket from the merged config, the health check at harbor.<baseDomain>.
    assert!(text.contains("ck8s-test-harbor"), "{text}");
    assert!(
        text.contains("https://harbor.ck8s-test.example.invalid"),
        "{text}"
    );
    for destructive in ["scale-down", "create-job"] {
        let line = text
            .lines()
            .find(|l| l.contains(destructive))
            .unwrap_or_else(|| panic!("{destructive} not in the plan:\n{text}"));
        assert!(
            line.to_lowercase().contains("destructive"),
            "{destructive} is not marked destructive: {line}\n{text}"
        );
    }
}

#[test]
fn restore_brings_back_the_newest_backup_and_every_replica_count() {
    let s = session();
    s.world.script_restore_job(&s.k8s);

    let ran = s.restore(&[]);
    assert_eq!(ran.code, exit::OK, "{ran}");
    let id = ran.run_id();

    s.world.assert_restored(&s.k8s);
    // The script the Job ran is the shipped one (restore-harbor-configmap.yaml holds it verbatim).
    let run = &s.world.job_runs()[0];
    assert_eq!(
        run.files.get("/scripts/restore-harbor.sh"),
        Some(&std::fs::read_to_string(shipped("harbor/manifests/restore-harbor.sh")).unwrap())
    );
    assert_eq!(run.env["S3_BUCKET"], harbor_world::BUCKET);
    assert_eq!(run.env["S3_REGION_ENDPOINT"], s.moto.endpoint());
    assert_eq!(
        run.env["DATABASES"],
        "registry postgres notarysigner notaryserver"
    );
    assert!(run.logs.contains("restored 4 databases"), "{}", run.logs);

    // The counts recorded before the scale-down are the ones restored.
    assert_eq!(s.outputs(&id, "scale-down")["previous"], recorded_counts());
    let scale_down = &s.ws.events(&id, "step_succeeded", "scale-down")[0];
    let job_started = &s.ws.events(&id, "step_started", "create-job")[0];
    assert!(common::millis(&scale_down["at"]) <= common::millis(&job_started["at"]));
    let restored = &s.outputs(&id, "restored")["json"];
    assert_eq!(restored["backup"], NEWEST_KEY, "{restored}");
    assert_eq!(restored["replicas"], recorded_counts(), "{restored}");
    assert_eq!(restored["registry_status"], "healthy", "{restored}");

    s.assert_no_secrets(&ran, &id);
}

#[test]
fn a_named_backup_is_restored_instead_of_the_newest() {
    let s = session();
    s.world.script_restore_job(&s.k8s);

    let ran = s.restore(&["--set", &format!("backup={OLDER_KEY}")]);
    assert_eq!(ran.code, exit::OK, "{ran}");
    assert_eq!(
        s.world.repositories(),
        vec![
            ("library/nginx".to_string(), 1),
            ("platform/api".to_string(), 1)
        ]
    );
    assert_eq!(
        s.world.job_runs()[0].env["SPECIFIC_BACKUP"],
        OLDER_KEY.to_string()
    );
    s.world.assert_scaled_back(&s.k8s);
    s.world.assert_cleaned_up(&s.k8s);

    // A backup that is not there stops the run before anything is scaled down.
    let ran = s.restore(&["--set", "backup=backups/1600000000.sql.gz"]);
    assert_eq!(ran.code, exit::STEP_FAILED, "{ran}");
    let id = ran.run_id();
    assert!(
        format!("{}{}", ran.stdout, ran.stderr).contains("backups/1600000000.sql.gz"),
        "{ran}"
    );
    assert!(s.ws.events(&id, "step_started", "scale-down").is_empty());
    assert_eq!(s.world.job_runs().len(), 1);
}

#[test]
fn a_run_killed_after_the_scale_down_resumes_to_the_original_counts() {
    let s = session();
    // The Job's pod stays Pending long enough to kill the run while it waits.
    s.k8s.script_job(
        "restore-harbor-job",
        s.world
            .restore_job_script(|_| {})
            .pending_for(Duration::from_secs(3)),
    );
    let url = s.harbor_url();
    let extra = vec!["--yes".to_string(), "--set".to_string(), url];
    let args = s.args("run", "harbor/restore.yaml", &extra);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let child = s.ws.spawn(&refs);
    wait_until(Duration::from_secs(30), "the Job to be created", || {
        s.ws.runs()
            .first()
            .is_some_and(|id| !s.ws.events(id, "step_succeeded", "create-job").is_empty())
    });
    kill(&child, libc::SIGKILL);
    let killed = finish(child);
    let id = s.ws.runs()[0].clone();
    // Harbor is down and the run does not know how it ends.
    assert!(s.replicas().iter().all(|(_, r)| *r == 0), "{killed}");
    assert!(s.ws.events(&id, "step_succeeded", "wait-job").is_empty());

    let resumed = s.resume(&id, &["--yes"]);
    assert_eq!(resumed.code, exit::OK, "{resumed}");
    // Back to the counts recorded before the crash, not to the zeros it left.
    s.world.assert_restored(&s.k8s);
    // The scale-down and the Job were not repeated.
    assert_eq!(s.ws.events(&id, "step_started", "scale-down").len(), 1);
    assert_eq!(s.ws.events(&id, "step_started", "create-job").len(), 1);
    s.assert_no_secrets(&resumed, &id);
}

#[test]
fn a_failed_restore_job_fails_with_its_logs_and_leaves_harbor_running() {
    let s = session();
    s.world.script_restore_job(&s.k8s);
    // The backup Secret holds a stale database password: the Job cannot log in.
    let stale = "stale-db-password-0000";
    let set_password = |password: &str| {
        s.k8s.apply(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "harbor-backup-secret", "namespace": NAMESPACE},
            "type": "Opaque",
            "stringData": {"aws-access-key-id": harbor_world::S3_ACCESS_KEY,
                           "aws-secret-access-key": S3_SECRET_KEY, "db-password": password}
        }));
    };
    set_password(stale);
    let damaged = s.world.repositories();

    let ran = s.restore(&[]);
    assert_eq!(ran.code, exit::STEP_FAILED, "{ran}");
    let id = ran.run_id();
    let printed = format!("{}{}", ran.stdout, ran.stderr);
    // The Job's reason and its log lines.
    assert!(
        printed.contains("password authentication failed"),
        "{printed}"
    );
    assert!(
        printed
            .lines()
            .any(|l| l.trim_start().starts_with(&format!("runbook resume {id}")))
            && !printed.contains("--from"),
        "{printed}"
    );
    // Nothing was dropped; Harbor is back at its counts, the Job and ConfigMap are gone, and the
    // registry was not declared healthy.
    assert_eq!(s.world.repositories(), damaged);
    s.world.assert_scaled_back(&s.k8s);
    s.world.assert_cleaned_up(&s.k8s);
    assert_eq!(s.world.registry.checks(), 0);
    assert!(
        s.ws.events(&id, "step_succeeded", "delete-job").len() == 1
            && s.ws.events(&id, "step_succeeded", "delete-configmap").len() == 1
    );
    s.assert_no_secrets(&ran, &id);

    // With the Secret fixed, a plain resume restores: `wait-job` resumes from the scale-down.
    set_password(DB_PASSWORD);
    let fixed = s.resume(&id, &["--yes"]);
    assert_eq!(fixed.code, exit::OK, "{fixed}");
    s.world.assert_databases_restored();
    s.world.assert_scaled_back(&s.k8s);
    s.world.assert_cleaned_up(&s.k8s);
    assert!(s.world.registry.checks() >= 1);
    assert_eq!(s.world.job_runs().len(), 2);
    assert_eq!(s.outputs(&id, "scale-down")["previous"], recorded_counts());
    s.assert_no_secrets(&fixed, &id);
}

#[test]
fn backup_now_makes_a_backup_that_restore_brings_back() {
    let s = session();
    s.k8s.apply(harbor_world::backup_cronjob());
    s.world
        .script_backup_job(&s.k8s, "harbor-backup-now-", &s.moto.endpoint());
    // The state to back up now: what is in the databases after the damage.
    let at_backup = s.world.repositories();

    let ran = s.runbook("run", "harbor/backup-now.yaml", &["--yes"]);
    assert_eq!(ran.code, exit::OK, "{ran}");
    let id = ran.run_id();
    let job = s.outputs(&id, "backup")["job"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(job.starts_with("harbor-backup-now-"), "{job}");
    let key = s.outputs(&id, "newest")["key"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        key.starts_with("backups/") && key.ends_with(".sql.gz"),
        "{key}"
    );
    assert!(key != NEWEST_KEY && key != OLDER_KEY, "{key}");
    // The object is there, a tgz of the four dumps.
    let listing = s.moto.python(&format!(
        "import tarfile, io\nbody = s3.get_object(Bucket='{}', Key='{key}')['Body'].read()\nprint(sorted(tarfile.open(fileobj=io.BytesIO(body)).getnames()))",
        harbor_world::BUCKET
    ));
    for db in harbor_world::DATABASES {
        assert!(listing.contains(&format!("backups/{db}.back")), "{listing}");
    }
    s.assert_no_secrets(&ran, &id);

    // More damage, then a restore of the newest backup: the one just made.
    s.world.pg.sql("registry", "DELETE FROM repository");
    s.world.script_restore_job(&s.k8s);
    let restored = s.restore(&[]);
    assert_eq!(restored.code, exit::OK, "{restored}");
    assert_eq!(s.world.repositories(), at_backup);
    assert_eq!(s.world.job_runs()[0].env["SPECIFIC_BACKUP"], key);
    s.world.assert_scaled_back(&s.k8s);
}
