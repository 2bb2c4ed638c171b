//! `platform/restore-all`: the whole service cluster restored by one run, against every piece of
//! test support at once (the Kubernetes emulator with Velero, a real S3 server, a real InfluxDB,
//! a real PostgreSQL, the OpenSearch emulator), with all four services damaged and their backups
//! in place. Once uninterrupted, and once killed (SIGKILL) while a random step runs and resumed: both end
//! in the same restored state.

use runbook_engine::exit;
mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::ck8s::{Ck8sConfig, shipped};
use common::harbor_world::HarborWorld;
use common::influxdb_world::InfluxWorld;
use common::opensearch_world::OpenSearchWorld;
use common::{Ran, Workspace, finish, kill, wait_until};
use runbook_testsupport::kube::KubeEmulator;
use runbook_testsupport::services::moto::MotoServer;
use serde_json::Value;

struct Platform {
    k8s: KubeEmulator,
    moto: MotoServer,
    influx: InfluxWorld,
    harbor: HarborWorld,
    opensearch: OpenSearchWorld,
    ws: Workspace,
    config: Ck8sConfig,
}

/// Every service damaged, every backup in place.
fn platform() -> Platform {
    let k8s = KubeEmulator::start();
    let moto = MotoServer::start();
    let ws = Workspace::new();
    let config = ws.ck8s_config(Some(&moto.endpoint()), None, Some(k8s.kubeconfig_path()));

    common::velero_world::seed(&k8s);
    let influx = InfluxWorld::start();
    influx.seed(&moto.endpoint());
    influx.script_restore_pod(&k8s, &moto.endpoint());
    let harbor = HarborWorld::start();
    harbor.seed(&k8s, &moto);
    harbor.script_restore_job(&k8s);
    let opensearch = OpenSearchWorld::start();
    opensearch.seed();
    Platform {
        k8s,
        moto,
        influx,
        harbor,
        opensearch,
        ws,
        config,
    }
}

impl Platform {
    fn args(&self, command: &str) -> Vec<String> {
        let mut args = vec![command.to_string()];
        if command != "resume" {
            args.push(shipped("platform/restore-all.yaml"));
        }
        args.extend(self.config.args());
        args.extend([
            "--set".into(),
            self.opensearch.url_param(),
            "--set".into(),
            format!("harbor_url={}", self.harbor.registry_url()),
        ]);
        args.extend(self.influx.set_args());
        args
    }

    fn assert_restored(&self) {
        self.influx.assert_restored();
        self.influx.assert_restore_objects_gone(&self.k8s);
        self.harbor.assert_databases_restored();
        self.harbor.assert_scaled_back(&self.k8s);
        self.harbor.assert_cleaned_up(&self.k8s);
        self.opensearch.assert_restored();
        let grafana = self
            .k8s
            .get("apps/v1", "Deployment", "monitoring", "user-grafana")
            .expect("Grafana is back");
        assert!(
            grafana["metadata"]["labels"]["velero.io/restore-name"].is_string(),
            "restored by Velero: {grafana}"
        );
        let pvc = self
            .k8s
            .get("v1", "PersistentVolumeClaim", "monitoring", "user-grafana")
            .expect("Grafana's PVC is back");
        assert_eq!(pvc["status"]["phase"], "Bound");
        let _ = &self.moto;
    }

    fn assert_report(&self, run_id: &str) {
        let report = &self.ws.events(run_id, "step_succeeded", "recovery-report")[0]["outputs"];
        let steps = report["steps"].as_array().unwrap();
        assert!(
            steps
                .iter()
                .filter(|s| s["id"].as_str().unwrap().contains('.'))
                .all(|s| s["state"] == "succeeded" || s["state"] == "skipped"),
            "{report}"
        );
        assert!(report["recovery_ms"].as_u64().unwrap() > 0, "{report}");
        assert!(!report["critical_path"].as_array().unwrap().is_empty());
        let markdown = self.ws.read("recovery-report.md");
        for part in ["opensearch.", "harbor.", "influxdb.", "grafana."] {
            assert!(markdown.contains(part), "{part} in the report:\n{markdown}");
        }
        for secret in [
            "test-secret-key",
            "test-harbor-db-password",
            "test-influx-admin-password",
            "test-opensearch-admin-password",
        ] {
            assert!(!markdown.contains(secret));
            assert!(
                !self.ws.journal_text(run_id).contains(secret),
                "{secret} in the journal"
            );
        }
    }
}

fn ran_ok(ran: &Ran) {
    assert_eq!(ran.code, exit::OK, "{ran}");
}

/// When each part started its first step and finished its last, from the journal.
fn spans(ws: &Workspace, run_id: &str) -> Vec<(String, i128, i128)> {
    let journal = ws.journal(run_id);
    ["opensearch", "harbor", "influxdb", "grafana"]
        .iter()
        .map(|part| {
            let prefix = format!("{part}.");
            let at: Vec<(String, i128)> = journal
                .iter()
                .filter(|r| r["step"].as_str().is_some_and(|s| s.starts_with(&prefix)))
                .map(|r| {
                    (
                        r["event"].as_str().unwrap().to_string(),
                        common::millis(&r["at"]),
                    )
                })
                .collect();
            let start = at
                .iter()
                .filter(|(e, _)| e == "step_started")
                .map(|(_, t)| *t)
                .min()
                .unwrap();
            let end = at
                .iter()
                .filter(|(e, _)| e == "step_succeeded")
                .map(|(_, t)| *t)
                .max()
                .unwrap();
            (part.to_string(), start, end)
        })
        .collect()
}

#[test]
fn restore_all_restores_every_service_in_parallel_and_reports_the_recovery() {
    let p = platform();
    let args = p.args("plan");
    let plan =
        p.ws.runbook(&args.iter().map(String::as_str).collect::<Vec<_>>());
    ran_ok(&plan);
    assert!(plan.stdout.contains("destructive"), "{plan}");

    let mut args = p.args("run");
    args.push("--yes".into());
    let ran =
        p.ws.runbook(&args.iter().map(String::as_str).collect::<Vec<_>>());
    ran_ok(&ran);
    let id = ran.run_id();
    p.assert_restored();
    p.assert_report(&id);
    // Independent parts overlapped: each started before every other one had finished.
    let spans = spans(&p.ws, &id);
    for (a, start, _) in &spans {
        for (b, _, end) in &spans {
            assert!(
                start < end,
                "{a} started only after {b} had finished: {spans:?}"
            );
        }
    }
}

/// A small xorshift, so the step to kill at follows from a printed seed.
fn pick(seed: u64, n: usize) -> usize {
    let mut x = seed | 1;
    for _ in 0..8 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    (x % n as u64) as usize
}

/// The units (`step`, `index`) whose last record is `step_started`: running at that point of the
/// journal. A line torn by a stopped or killed writer is not a record yet.
fn in_flight(journal: &str) -> Vec<(String, Value)> {
    let mut running: Vec<(String, Value)> = Vec::new();
    for record in journal
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
    {
        let Some(step) = record["step"].as_str() else {
            continue;
        };
        let unit = (step.to_string(), record["index"].clone());
        running.retain(|u| *u != unit);
        if record["event"] == "step_started" {
            running.push(unit);
        }
    }
    running
}

#[test]
fn restore_all_killed_at_a_random_step_and_resumed_ends_restored() {
    let p = platform();
    let seed: u64 = std::env::var("RUNBOOK_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    let mut args = p.args("plan");
    args.extend(["--output".into(), "json".into()]);
    let plan =
        p.ws.runbook(&args.iter().map(String::as_str).collect::<Vec<_>>());
    ran_ok(&plan);
    let plan: Value = serde_json::from_str(&plan.stdout).unwrap();
    let steps: Vec<String> = plan["waves"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|w| w.as_array().unwrap())
        .map(|s| s["id"].as_str().unwrap().to_string())
        .filter(|id| id.contains('.'))
        .collect();
    let victim = steps[pick(seed, steps.len())].clone();
    eprintln!(
        "kill seed {seed} (RUNBOOK_KILL_SEED={seed} to repeat): SIGKILL once `{victim}` is reached, while steps run"
    );

    let mut args = p.args("run");
    args.push("--yes".into());
    let child =
        p.ws.spawn(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let runs = p.ws.path(".runbook/runs");
    let journal = || {
        std::fs::read_dir(&runs)
            .ok()
            .and_then(|mut d| d.next())
            .and_then(Result::ok)
            .map(|id| p.ws.journal_text(&id.file_name().to_string_lossy()))
            .unwrap_or_default()
    };
    let victim_reached = format!("\"step\":\"{victim}\"");
    wait_until(
        Duration::from_secs(120),
        &format!("step {victim} to start"),
        || journal().lines().any(|l| l.contains(&victim_reached)),
    );
    // Frozen, the run cannot record a step's end: what the journal shows running now is still
    // running when the kill lands. The victim may have been skipped or have ended already; then
    // the kill waits for the next step to start.
    let running = loop {
        kill(&child, libc::SIGSTOP);
        let now = journal();
        assert!(
            !now.contains("\"session_ended\""),
            "the run ended before the kill:\n{now}"
        );
        let running = in_flight(&now);
        if !running.is_empty() {
            break running;
        }
        kill(&child, libc::SIGCONT);
        let started = now.matches("\"step_started\"").count();
        wait_until(Duration::from_secs(120), "another step to start", || {
            journal().matches("\"step_started\"").count() > started
        });
    };
    kill(&child, libc::SIGKILL);
    let killed = finish(child);
    assert_eq!(killed.code, -1, "killed by a signal: {killed}");
    let id = killed.run_id();
    eprintln!("killed run {id} while {running:?} ran");
    let journal = p.ws.journal_text(&id);
    assert!(
        !journal.contains("\"session_ended\""),
        "the killed run recorded an end:\n{journal}"
    );
    assert_eq!(
        in_flight(&journal),
        running,
        "the kill landed mid-step: what ran then is still running in the journal"
    );
    let status = p.ws.runbook(&["status", &id]);
    assert!(status.stdout.contains(": interrupted"), "{status}");

    let mut args = p.args("resume");
    args.insert(1, id.clone());
    args.push("--yes".into());
    // Every step is safe to run again after an interruption, so a plain resume finishes.
    let resumed =
        p.ws.runbook(&args.iter().map(String::as_str).collect::<Vec<_>>());
    ran_ok(&resumed);
    // What the kill cut off ran again, to its end, in the resumed session.
    let after_resume: Vec<Value> =
        p.ws.journal_text(&id)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .skip_while(|r| r["event"] != "session_started" || r["session"] != 2)
            .collect();
    for (step, index) in &running {
        assert!(
            after_resume.iter().any(|r| r["event"] == "step_succeeded"
                && r["step"] == *step
                && r["index"] == *index),
            "{step} (index {index}) did not run again to its end on resume"
        );
    }
    p.assert_restored();
    p.assert_report(&id);
}
