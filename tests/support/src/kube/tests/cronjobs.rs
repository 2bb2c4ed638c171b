//! CronJobs start Jobs on their schedule: missed runs, names, owners and annotations as the
//! real controller makes them, suspend, concurrency policies, `status.active`, history limits.
//!
//! Time is real: a CronJob seeded with an old `creationTimestamp` has a run due at once, and a
//! later run is made due by changing the schedule (as a user may), never by waiting for a minute.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::runtime::wait::await_condition;
use serde_json::{Value, json};

use super::{SETTLE, client, run};
use crate::kube::{ActionOutcome, JobScript, KubeEmulator};

const NS: &str = "default";
/// A schedule whose most recent time is this year's 1 January, 00:00 UTC: long past, so that
/// switching to `* * * * *` afterwards always makes a newer run due.
const NEW_YEAR: &str = "0 0 1 1 *";
/// How long "nothing more happens" is watched for: many controller passes.
const QUIET: Duration = Duration::from_millis(600);

/// Seeds a CronJob created `age` ago (as a cluster that has been running for a while has it).
fn seed_cronjob(k8s: &KubeEmulator, name: &str, spec: Value, age: SignedDuration) -> Value {
    let mut spec = spec;
    if spec["jobTemplate"].is_null() {
        spec["jobTemplate"] = json!({"spec": {"backoffLimit": 0, "template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "sync", "image": "elastisys/rclone-sync:1.3.0", "args": ["sync"]}]}}}});
    }
    let created = (Timestamp::now() - age).round(jiff::Unit::Second).unwrap();
    k8s.apply(json!({"apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": name, "namespace": NS, "creationTimestamp": created.to_string()},
        "spec": spec}))
}

fn hours(n: i64) -> SignedDuration {
    SignedDuration::from_hours(n)
}

/// The start of the minute, hour, ... a time falls in (whole `unit_secs` since the epoch).
fn floor(t: Timestamp, unit_secs: i64) -> Timestamp {
    Timestamp::from_second(t.as_second().div_euclid(unit_secs) * unit_secs).unwrap()
}

/// 00:00 UTC on the first day of the month, or of the year, `t` falls in.
fn month_start(t: Timestamp) -> Timestamp {
    let date = t.to_zoned(TimeZone::UTC).date().first_of_month();
    date.to_zoned(TimeZone::UTC).unwrap().timestamp()
}

fn year_start(t: Timestamp) -> Timestamp {
    let date = t.to_zoned(TimeZone::UTC).date().first_of_year();
    date.to_zoned(TimeZone::UTC).unwrap().timestamp()
}

fn days(n: i64) -> SignedDuration {
    SignedDuration::from_hours(24 * n)
}

/// The Job name the controller gives the run of `scheduled`: minutes since the epoch.
fn job_name(cronjob: &str, scheduled: Timestamp) -> String {
    format!("{cronjob}-{}", scheduled.as_second() / 60)
}

/// A pod script that keeps the pod running until the returned flag is set (or a minute passed,
/// so that a failed test leaves no thread behind), then succeeds.
fn held_until_released() -> (Arc<AtomicBool>, JobScript) {
    let released = Arc::new(AtomicBool::new(false));
    let flag = released.clone();
    let script = JobScript::run(move |_| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !flag.load(Ordering::SeqCst) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        ActionOutcome {
            exit_code: 0,
            logs: "synced\n".into(),
        }
    });
    (released, script)
}

fn active_names(c: &CronJob) -> Vec<String> {
    c.status
        .as_ref()
        .and_then(|s| s.active.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|r| r.name.clone())
        .collect()
}

fn last_schedule(c: &CronJob) -> Option<Timestamp> {
    c.status.as_ref()?.last_schedule_time.as_ref().map(|t| t.0)
}

/// Waits until the CronJob satisfies `check`.
async fn wait_cronjob(
    api: &Api<CronJob>,
    name: &str,
    what: &str,
    check: impl Fn(&CronJob) -> bool,
) -> CronJob {
    tokio::time::timeout(
        SETTLE,
        await_condition(api.clone(), name, move |c: Option<&CronJob>| {
            c.is_some_and(&check)
        }),
    )
    .await
    .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
    .unwrap()
    .unwrap()
}

async fn job_names(jobs: &Api<Job>) -> Vec<String> {
    let mut names: Vec<String> = jobs
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|j| j.metadata.name)
        .collect();
    names.sort();
    names
}

fn finished(j: &Job, kind: &str) -> bool {
    j.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == kind && c.status == "True"))
}

fn merge(value: Value) -> Patch<Value> {
    Patch::Merge(value)
}

#[test]
fn a_missed_run_starts_at_once_as_a_job_named_owned_and_annotated_as_upstream() {
    let k8s = KubeEmulator::start();
    k8s.script_job(
        "nightly-sync",
        JobScript::succeed("ok").running_for(Duration::from_secs(30)),
    );
    let before = Timestamp::now();
    let cronjob = seed_cronjob(
        &k8s,
        "nightly-sync",
        json!({"schedule": "@monthly", "jobTemplate": {
            "metadata": {"labels": {"app": "sync"}, "annotations": {"team": "storage"}},
            "spec": {"template": {"spec": {"restartPolicy": "Never",
                "containers": [{"name": "sync", "image": "busybox"}]}}}}}),
        days(100),
    );
    run(async {
        let c = client(&k8s).await;
        let cronjobs: Api<CronJob> = Api::namespaced(c.clone(), NS);
        let jobs: Api<Job> = Api::namespaced(c.clone(), NS);
        let cj = wait_cronjob(&cronjobs, "nightly-sync", "a run", |c| {
            !active_names(c).is_empty()
        })
        .await;
        let after = Timestamp::now();

        // Of the three missed months only the most recent one runs.
        let scheduled = last_schedule(&cj).expect("lastScheduleTime");
        assert!(
            [month_start(before), month_start(after)].contains(&scheduled),
            "{scheduled} is this month's first"
        );
        let name = job_name("nightly-sync", scheduled);
        assert_eq!(job_names(&jobs).await, std::slice::from_ref(&name));
        let job = jobs.get(&name).await.unwrap();

        let reference = &cj.status.unwrap().active.unwrap()[0];
        assert_eq!(reference.kind.as_deref(), Some("Job"));
        assert_eq!(reference.api_version.as_deref(), Some("batch/v1"));
        assert_eq!(reference.namespace.as_deref(), Some(NS));
        assert_eq!(reference.uid, job.metadata.uid);
        assert!(reference.resource_version.is_some());

        let labels = job.metadata.labels.clone().unwrap();
        assert_eq!(labels.get("app").map(String::as_str), Some("sync"));
        let annotations = job.metadata.annotations.clone().unwrap();
        assert_eq!(annotations.get("team").map(String::as_str), Some("storage"));
        assert_eq!(
            annotations
                .get("batch.kubernetes.io/cronjob-scheduled-timestamp")
                .cloned(),
            Some(scheduled.to_string()),
            "RFC 3339 in UTC"
        );
        let owner = &job.metadata.owner_references.clone().unwrap()[0];
        assert_eq!(
            (
                owner.api_version.as_str(),
                owner.kind.as_str(),
                owner.name.as_str()
            ),
            ("batch/v1", "CronJob", "nightly-sync")
        );
        assert_eq!(owner.uid, cronjob["metadata"]["uid"].as_str().unwrap());
        assert_eq!(owner.controller, Some(true));
        assert_eq!(owner.block_owner_deletion, Some(true));

        // Made through the create path: the apiserver's defaults and its own creation time.
        let spec = job.spec.clone().unwrap();
        assert_eq!(spec.backoff_limit, Some(6));
        let selector = spec.selector.unwrap().match_labels.unwrap();
        assert_eq!(
            selector.get("batch.kubernetes.io/controller-uid"),
            job.metadata.uid.as_ref()
        );
        let created = job.metadata.creation_timestamp.clone().unwrap().0;
        assert!(
            created >= floor(before, 1),
            "created now, not at {scheduled}"
        );
        // And run by the Job controller.
        let pods: Api<Pod> = Api::namespaced(c, NS);
        let deadline = Instant::now() + SETTLE;
        while pods
            .list(&ListParams::default().labels(&format!("job-name={name}")))
            .await
            .unwrap()
            .items
            .is_empty()
        {
            assert!(Instant::now() < deadline, "the Job's pod starts");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
}

#[test]
fn time_zones_move_the_schedule_and_unusable_schedules_start_nothing() {
    let k8s = KubeEmulator::start();
    k8s.script_job(
        "",
        JobScript::succeed("ok").running_for(Duration::from_secs(30)),
    );
    let daily = |extra: Value| {
        let mut spec = json!({"schedule": "0 0 * * *"});
        for (k, v) in extra.as_object().unwrap() {
            spec[k] = v.clone();
        }
        spec
    };
    // India is 5:30 ahead of UTC all year, Nepal 5:45: their midnights are 18:30 and 18:15 UTC.
    seed_cronjob(
        &k8s,
        "india",
        daily(json!({"timeZone": "Asia/Kolkata"})),
        days(3),
    );
    seed_cronjob(
        &k8s,
        "nepal",
        json!({"schedule": "CRON_TZ=Asia/Kathmandu 0 0 * * *"}),
        days(3),
    );
    seed_cronjob(
        &k8s,
        "nowhere",
        daily(json!({"timeZone": "Mars/Olympus_Mons"})),
        days(3),
    );
    seed_cronjob(&k8s, "garbled", json!({"schedule": "61 0 * * *"}), days(3));
    // Quartz's "last day of the month": croner knows it, robfig (and so Kubernetes) does not.
    seed_cronjob(&k8s, "quartz", json!({"schedule": "0 0 L * *"}), days(40));
    run(async {
        let c = client(&k8s).await;
        let cronjobs: Api<CronJob> = Api::namespaced(c.clone(), NS);
        let jobs: Api<Job> = Api::namespaced(c, NS);
        for (name, offset_minutes, suffix) in [("india", 330, "+05:30"), ("nepal", 345, "Z")] {
            let cj = wait_cronjob(&cronjobs, name, name, |c| !active_names(c).is_empty()).await;
            let scheduled = last_schedule(&cj).unwrap();
            let local = scheduled + SignedDuration::from_mins(offset_minutes);
            assert_eq!(local.as_second() % 86400, 0, "{name}: midnight there");
            assert!(
                Timestamp::now().duration_since(scheduled) < days(1),
                "{name}: the latest"
            );
            let job = jobs.get(&job_name(name, scheduled)).await.unwrap();
            let stamp = job.metadata.annotations.unwrap()
                ["batch.kubernetes.io/cronjob-scheduled-timestamp"]
                .clone();
            // In spec.timeZone's zone; a CRON_TZ= prefix leaves the annotation in UTC.
            assert!(stamp.ends_with(suffix), "{name}: {stamp}");
            assert_eq!(stamp.parse::<Timestamp>().unwrap(), scheduled, "{stamp}");
        }
        tokio::time::sleep(QUIET).await;
        let names = job_names(&jobs).await;
        assert_eq!(
            names.len(),
            2,
            "unknown zone, bad minute, Quartz's L: no Job ({names:?})"
        );
        for name in ["nowhere", "garbled", "quartz"] {
            assert!(active_names(&cronjobs.get(name).await.unwrap()).is_empty());
        }
    });
}

#[test]
fn suspend_stops_new_jobs_and_leaves_the_running_one_running() {
    let k8s = KubeEmulator::start();
    let (released, script) = held_until_released();
    k8s.script_job("sync", script);
    seed_cronjob(&k8s, "sync", json!({"schedule": NEW_YEAR}), days(800));
    run(async {
        let c = client(&k8s).await;
        let cronjobs: Api<CronJob> = Api::namespaced(c.clone(), NS);
        let jobs: Api<Job> = Api::namespaced(c, NS);
        let cj = wait_cronjob(&cronjobs, "sync", "the new-year run", |c| {
            !active_names(c).is_empty()
        })
        .await;
        let first = active_names(&cj);
        let params = PatchParams::default();
        cronjobs
            .patch("sync", &params, &merge(json!({"spec": {"suspend": true}})))
            .await
            .unwrap();
        // A run every minute is now due, but the CronJob is suspended.
        cronjobs
            .patch(
                "sync",
                &params,
                &merge(json!({"spec": {"schedule": "* * * * *"}})),
            )
            .await
            .unwrap();
        tokio::time::sleep(QUIET).await;
        assert_eq!(job_names(&jobs).await, first, "no new Job while suspended");
        let running = jobs.get(&first[0]).await.unwrap();
        assert_eq!(
            running.status.unwrap().active,
            Some(1),
            "the running one runs on"
        );
        assert_eq!(active_names(&cronjobs.get("sync").await.unwrap()), first);

        // Resumed, the missed minute runs at once (Allow: beside the one still running).
        cronjobs
            .patch("sync", &params, &merge(json!({"spec": {"suspend": false}})))
            .await
            .unwrap();
        let cj = wait_cronjob(&cronjobs, "sync", "the resumed run", |c| {
            active_names(c).len() == 2
        })
        .await;
        let now = Timestamp::now();
        let scheduled = last_schedule(&cj).unwrap();
        assert!(
            now.duration_since(scheduled) < SignedDuration::from_mins(1),
            "this minute's run"
        );
        assert_eq!(active_names(&cj)[1], job_name("sync", scheduled));
        released.store(true, Ordering::SeqCst);
    });
}

#[test]
fn forbid_skips_runs_while_a_job_is_active() {
    let k8s = KubeEmulator::start();
    let (released, script) = held_until_released();
    k8s.script_job("sync", script);
    seed_cronjob(
        &k8s,
        "sync",
        json!({"schedule": NEW_YEAR, "concurrencyPolicy": "Forbid"}),
        days(800),
    );
    run(async {
        let c = client(&k8s).await;
        let cronjobs: Api<CronJob> = Api::namespaced(c.clone(), NS);
        let jobs: Api<Job> = Api::namespaced(c, NS);
        let cj = wait_cronjob(&cronjobs, "sync", "the first run", |c| {
            !active_names(c).is_empty()
        })
        .await;
        let first = active_names(&cj)[0].clone();
        let first_time = last_schedule(&cj).unwrap();
        cronjobs
            .patch(
                "sync",
                &PatchParams::default(),
                &merge(json!({"spec": {"schedule": "* * * * *"}})),
            )
            .await
            .unwrap();
        tokio::time::sleep(QUIET).await;
        assert_eq!(
            job_names(&jobs).await,
            std::slice::from_ref(&first),
            "skipped while active"
        );
        let cj = cronjobs.get("sync").await.unwrap();
        assert_eq!(
            last_schedule(&cj),
            Some(first_time),
            "a skipped run is not recorded"
        );

        // Once it finished, the due run starts.
        released.store(true, Ordering::SeqCst);
        let cj = wait_cronjob(&cronjobs, "sync", "the next run", |c| {
            active_names(c).iter().any(|n| *n != first)
        })
        .await;
        assert_eq!(active_names(&cj).len(), 1);
        assert!(finished(&jobs.get(&first).await.unwrap(), "Complete"));
    });
}

#[test]
fn replace_deletes_the_active_job_and_starts_the_new_one() {
    let k8s = KubeEmulator::start();
    let (released, script) = held_until_released();
    k8s.script_job("sync", script);
    seed_cronjob(
        &k8s,
        "sync",
        json!({"schedule": NEW_YEAR, "concurrencyPolicy": "Replace"}),
        days(800),
    );
    run(async {
        let c = client(&k8s).await;
        let cronjobs: Api<CronJob> = Api::namespaced(c.clone(), NS);
        let jobs: Api<Job> = Api::namespaced(c.clone(), NS);
        let pods: Api<Pod> = Api::namespaced(c, NS);
        let cj = wait_cronjob(&cronjobs, "sync", "the first run", |c| {
            !active_names(c).is_empty()
        })
        .await;
        let first = active_names(&cj)[0].clone();
        let with_pods = format!("job-name={first}");
        let deadline = Instant::now() + SETTLE;
        while pods
            .list(&ListParams::default().labels(&with_pods))
            .await
            .unwrap()
            .items
            .is_empty()
        {
            assert!(Instant::now() < deadline, "the first Job's pod starts");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        cronjobs
            .patch(
                "sync",
                &PatchParams::default(),
                &merge(json!({"spec": {"schedule": "* * * * *"}})),
            )
            .await
            .unwrap();
        let cj = wait_cronjob(&cronjobs, "sync", "the replacing run", |c| {
            active_names(c).iter().any(|n| *n != first)
        })
        .await;
        let second = active_names(&cj);
        assert_eq!(second.len(), 1, "only the new one is active: {second:?}");
        assert_eq!(second[0], job_name("sync", last_schedule(&cj).unwrap()));
        // The replaced Job went, and its pods with it (propagation Background).
        let deadline = Instant::now() + SETTLE;
        loop {
            let left = pods
                .list(&ListParams::default().labels(&with_pods))
                .await
                .unwrap()
                .items;
            if !job_names(&jobs).await.contains(&first) && left.is_empty() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the replaced Job and its pods go"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        released.store(true, Ordering::SeqCst);
    });
}

#[test]
fn finished_and_deleted_jobs_leave_active_and_success_is_recorded() {
    let k8s = KubeEmulator::start();
    k8s.script_job("passes", JobScript::succeed("ok"));
    k8s.script_job("fails", JobScript::fail("boom"));
    k8s.script_job(
        "vanishes",
        JobScript::succeed("ok").running_for(Duration::from_secs(30)),
    );
    for name in ["passes", "fails", "vanishes"] {
        seed_cronjob(&k8s, name, json!({"schedule": NEW_YEAR}), days(800));
    }
    run(async {
        let c = client(&k8s).await;
        let cronjobs: Api<CronJob> = Api::namespaced(c.clone(), NS);
        let jobs: Api<Job> = Api::namespaced(c, NS);
        let mut ran = std::collections::BTreeMap::new();
        for name in ["passes", "fails", "vanishes"] {
            let cj = wait_cronjob(&cronjobs, name, name, |c| last_schedule(c).is_some()).await;
            ran.insert(name, job_name(name, last_schedule(&cj).unwrap()));
        }

        let passed = wait_cronjob(&cronjobs, "passes", "the success", |c| {
            active_names(c).is_empty() && c.status.as_ref().unwrap().last_successful_time.is_some()
        })
        .await;
        let job = jobs.get(&ran["passes"]).await.unwrap();
        assert!(finished(&job, "Complete"));
        assert_eq!(
            passed.status.unwrap().last_successful_time,
            job.status.unwrap().completion_time,
            "lastSuccessfulTime is the Job's completionTime"
        );

        wait_cronjob(&cronjobs, "fails", "the failure", |c| {
            active_names(c).is_empty()
        })
        .await;
        assert!(finished(&jobs.get(&ran["fails"]).await.unwrap(), "Failed"));

        jobs.delete(&ran["vanishes"], &DeleteParams::background())
            .await
            .unwrap();
        wait_cronjob(&cronjobs, "vanishes", "the deleted Job to leave", |c| {
            active_names(c).is_empty()
        })
        .await;

        tokio::time::sleep(QUIET).await;
        let failed = cronjobs.get("fails").await.unwrap();
        assert_eq!(failed.status.unwrap().last_successful_time, None);
        let names = job_names(&jobs).await;
        assert_eq!(
            names,
            [ran["fails"].clone(), ran["passes"].clone()],
            "that run is done: no new Job for the deleted one"
        );
        // `active` is omitted once empty, as the runbooks' `absent: true` waits expect.
        let raw = k8s.get("batch/v1", "CronJob", NS, "passes").unwrap();
        assert!(raw["status"].get("active").is_none(), "{raw}");
    });
}

/// A finished Job owned by the CronJob, from its run at `started`.
fn finished_job(cronjob: &Value, started: Timestamp, condition: &str) -> Value {
    let name = cronjob["metadata"]["name"].as_str().unwrap();
    let ended = (started + SignedDuration::from_mins(5)).to_string();
    json!({"apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": job_name(name, started), "namespace": NS,
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": name,
                "uid": cronjob["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true}]},
        "spec": {"template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "sync", "image": "busybox"}]}}},
        "status": {"startTime": started.to_string(), "completionTime": ended,
            "conditions": [{"type": condition, "status": "True", "lastTransitionTime": ended}]}})
}

#[test]
fn history_limits_keep_the_newest_finished_jobs() {
    let k8s = KubeEmulator::start();
    k8s.script_job("backup", JobScript::succeed("ok"));
    let cronjob = seed_cronjob(
        &k8s,
        "backup",
        json!({"schedule": NEW_YEAR, "successfulJobsHistoryLimit": 2, "failedJobsHistoryLimit": 1}),
        days(2000),
    );
    // Four earlier new years: two succeeded, then two failed.
    let new_year = year_start(Timestamp::now());
    let history: Vec<Value> = [
        (4, "Complete"),
        (3, "Complete"),
        (2, "Failed"),
        (1, "Failed"),
    ]
    .into_iter()
    .map(|(years, condition)| {
        let started = year_start(new_year - days(365 * years - 1));
        k8s.apply(finished_job(&cronjob, started, condition))
    })
    .collect();
    let name = |v: &Value| v["metadata"]["name"].as_str().unwrap().to_string();
    // What a CronJob that made those has in its status.
    k8s.modify("batch/v1", "CronJob", NS, "backup", |c| {
        c["status"] = json!({"lastScheduleTime": history[3]["status"]["startTime"]});
    });
    run(async {
        let c = client(&k8s).await;
        let cronjobs: Api<CronJob> = Api::namespaced(c.clone(), NS);
        let jobs: Api<Job> = Api::namespaced(c, NS);
        // This year's run succeeds: three successes, two failures.
        let cj = wait_cronjob(&cronjobs, "backup", "this year's run to succeed", |c| {
            let succeeded = c
                .status
                .as_ref()
                .and_then(|s| s.last_successful_time.as_ref());
            last_schedule(c) == Some(new_year)
                && active_names(c).is_empty()
                && succeeded.is_some_and(|t| t.0 > new_year)
        })
        .await;
        let latest = job_name("backup", new_year);
        let done = jobs
            .get(&latest)
            .await
            .unwrap()
            .status
            .unwrap()
            .completion_time;
        assert_eq!(
            cj.status.unwrap().last_successful_time,
            done,
            "the newest success counts"
        );
        let deadline = Instant::now() + SETTLE;
        let mut expected = vec![name(&history[1]), name(&history[3]), latest];
        expected.sort();
        loop {
            let names = job_names(&jobs).await;
            if names == expected {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the oldest success and the oldest failure go: {names:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(QUIET).await;
        assert_eq!(job_names(&jobs).await, expected, "and no more");
    });
}

/// The runbook pattern: suspend the CronJob, then wait until `status.active` is empty before
/// touching what its Jobs write. The wait must last until the running Job has finished.
#[test]
fn waiting_for_a_suspended_cronjob_to_go_idle_lasts_until_its_running_job_finished() {
    let k8s = KubeEmulator::start();
    let (released, script) = held_until_released();
    k8s.script_job("rclone-sync", script);
    // Last night's 05:00 sync has not run yet on this cluster: it starts at once.
    seed_cronjob(
        &k8s,
        "rclone-sync",
        json!({"schedule": "0 5 * * *", "concurrencyPolicy": "Forbid"}),
        hours(48),
    );
    run(async {
        let c = client(&k8s).await;
        let cronjobs: Api<CronJob> = Api::namespaced(c.clone(), NS);
        let jobs: Api<Job> = Api::namespaced(c, NS);
        let cj = wait_cronjob(&cronjobs, "rclone-sync", "the sync to run", |c| {
            !active_names(c).is_empty()
        })
        .await;
        let sync = active_names(&cj)[0].clone();
        cronjobs
            .patch(
                "rclone-sync",
                &PatchParams::default(),
                &merge(json!({"spec": {"suspend": true}})),
            )
            .await
            .unwrap();
        let released_at = Arc::new(std::sync::Mutex::new(None));
        let mark = released_at.clone();
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(1));
            *mark.lock().unwrap() = Some(Instant::now());
            released.store(true, Ordering::SeqCst);
        });
        let idle = wait_cronjob(&cronjobs, "rclone-sync", "no active Job", |c| {
            active_names(c).is_empty()
        })
        .await;
        let idle_at = Instant::now();
        releaser.join().unwrap();
        let released_at = released_at.lock().unwrap().expect("released");
        assert!(idle_at >= released_at, "idle only after the sync finished");
        assert!(finished(&jobs.get(&sync).await.unwrap(), "Complete"));
        assert_eq!(idle.spec.suspend, Some(true));
        assert_eq!(job_names(&jobs).await, [sync], "no Job started meanwhile");
    });
}
