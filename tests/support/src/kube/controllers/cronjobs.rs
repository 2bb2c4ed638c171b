//! The CronJob controller, after `pkg/controller/cronjob` (ControllerV2) of Kubernetes v1.3x.
//!
//! Each pass, for every CronJob and the Jobs it controls (controller ownerReference to a CronJob
//! of its name):
//! - history: finished Jobs beyond `successfulJobsHistoryLimit` / `failedJobsHistoryLimit` go,
//!   oldest `status.startTime` first, deleted with propagation Background;
//! - `status.active`: a finished Job (condition `Complete` or `Failed`) leaves it, a Job that is
//!   gone leaves it; a succeeded Job's `completionTime` raises `status.lastSuccessfulTime`;
//! - then, unless the CronJob is being deleted, its `timeZone` is unknown, it is suspended or its
//!   schedule does not parse: the most recent schedule time since `status.lastScheduleTime` (or
//!   `metadata.creationTimestamp`), bounded by `startingDeadlineSeconds`. When one is due, not
//!   too late, not already started and `concurrencyPolicy` allows (Forbid: nothing active;
//!   Replace: the active Jobs are deleted first), the Job `<cronjob>-<minutes since epoch>` is
//!   created from `spec.jobTemplate` through the store's create path (defaults and validation as
//!   for any client), and goes into `status.active` with `status.lastScheduleTime`.
//!
//! Time is the real clock: a CronJob seeded with an old `creationTimestamp` (or
//! `lastScheduleTime`) gets its missed run at once, as after a controller restart. A CronJob the
//! apiserver stores always has the defaults (`suspend: false`, `concurrencyPolicy: Allow`,
//! history limits 3 and 1); a seeded one without them is read with them.
//!
//! Not emulated: events (`SuccessfulCreate`, `UnparseableSchedule`, `MissSchedule`, ... are
//! what the real controller records; here a schedule it cannot use simply starts nothing), the
//! `UnexpectedJob` adoption warning, and the requeue timing (passes run on every change and tick).

use jiff::Timestamp;
use serde_json::{Value, json};

use super::cron_schedule::{self, Schedule};
use super::rt;
use crate::kube::meta::{is_terminating, name_of, namespace_of, uid_of};
use crate::kube::state::Cluster;
use crate::kube::store::{DeleteOptions, Propagation, Store};

/// The annotation the controller puts on each Job it creates (feature CronJobsScheduledAnnotation).
const SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";

/// One pass.
pub fn reconcile(cluster: &Cluster) {
    let mut store = cluster.store();
    let now = Timestamp::now();
    for cronjob in store.list(rt("batch", "cronjobs"), None, None, None) {
        sync(&mut store, &cronjob, now);
    }
}

fn background() -> DeleteOptions {
    DeleteOptions {
        propagation: Some(Propagation::Background),
        ..DeleteOptions::default()
    }
}

fn timestamp(value: &Value) -> Option<Timestamp> {
    value.as_str()?.parse().ok()
}

fn has_condition(job: &Value, kind: &str) -> bool {
    job["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == kind && c["status"] == "True")
}

fn is_finished(job: &Value) -> bool {
    has_condition(job, "Complete") || has_condition(job, "Failed")
}

/// The ownerReference with `controller: true`, if any.
fn controller_of(obj: &Value) -> Option<&Value> {
    obj["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["controller"] == true)
}

/// `getJobsToBeReconciled`: every Job of the namespace whose controller is this CronJob by name.
fn jobs_of(store: &Store, cronjob: &Value) -> Vec<Value> {
    store
        .list(rt("batch", "jobs"), Some(namespace_of(cronjob)), None, None)
        .into_iter()
        .filter(|j| {
            controller_of(j)
                .is_some_and(|r| r["kind"] == "CronJob" && r["name"] == name_of(cronjob))
        })
        .collect()
}

/// `getRef`: the ObjectReference `status.active` holds, fields in the order Go writes them.
fn reference(job: &Value) -> Value {
    json!({
        "kind": "Job",
        "namespace": namespace_of(job),
        "name": name_of(job),
        "uid": uid_of(job),
        "apiVersion": "batch/v1",
        "resourceVersion": job["metadata"]["resourceVersion"],
    })
}

/// The status the pass works on, written back once at the end if it changed.
struct Status {
    active: Vec<Value>,
    last_schedule: Option<Timestamp>,
    last_successful: Option<Timestamp>,
}

impl Status {
    fn of(cronjob: &Value) -> Self {
        let status = &cronjob["status"];
        Self {
            active: status["active"].as_array().cloned().unwrap_or_default(),
            last_schedule: timestamp(&status["lastScheduleTime"]),
            last_successful: timestamp(&status["lastSuccessfulTime"]),
        }
    }

    fn is_active(&self, uid: &str) -> bool {
        self.active.iter().any(|r| r["uid"] == uid)
    }

    fn remove(&mut self, uid: &str) {
        self.active.retain(|r| r["uid"] != uid);
    }

    fn write_into(&self, status: &mut Value) {
        if !status.is_object() {
            *status = json!({});
        }
        let fields = status.as_object_mut().expect("status is an object");
        // `active` is `omitempty`: an empty list is no field at all (what `kubectl wait` and
        // runbooks test for).
        if self.active.is_empty() {
            fields.remove("active");
        } else {
            fields.insert("active".into(), Value::Array(self.active.clone()));
        }
        for (key, value) in [
            ("lastScheduleTime", self.last_schedule),
            ("lastSuccessfulTime", self.last_successful),
        ] {
            match value {
                Some(t) => fields.insert(key.into(), json!(t.to_string())),
                None => fields.remove(key),
            };
        }
    }
}

fn sync(store: &mut Store, cronjob: &Value, now: Timestamp) {
    let jobs = jobs_of(store, cronjob);
    let mut status = Status::of(cronjob);
    cleanup_finished_jobs(store, cronjob, &jobs, &mut status);
    sync_active(store, &jobs, &mut status);
    if !is_terminating(cronjob) {
        schedule_next(store, cronjob, now, &mut status);
    }
    let (ns, name) = (namespace_of(cronjob), name_of(cronjob));
    store.modify(rt("batch", "cronjobs"), ns, name, |c| {
        status.write_into(&mut c["status"]);
    });
}

/// `cleanupFinishedJobs`: keeps the newest finished Jobs within the history limits.
fn cleanup_finished_jobs(store: &mut Store, cronjob: &Value, jobs: &[Value], status: &mut Status) {
    let spec = &cronjob["spec"];
    let limits = [
        (
            "Complete",
            spec["successfulJobsHistoryLimit"].as_i64().unwrap_or(3),
        ),
        (
            "Failed",
            spec["failedJobsHistoryLimit"].as_i64().unwrap_or(1),
        ),
    ];
    for (condition, limit) in limits {
        let mut finished: Vec<&Value> = jobs
            .iter()
            .filter(|j| has_condition(j, condition))
            .collect();
        let excess = finished.len() as i64 - limit.max(0);
        if excess <= 0 {
            continue;
        }
        // `byJobStartTime`: oldest start first, Jobs never started last, then by name.
        finished.sort_by(|a, b| {
            let (sa, sb) = (
                timestamp(&a["status"]["startTime"]),
                timestamp(&b["status"]["startTime"]),
            );
            match (sa, sb) {
                (Some(x), Some(y)) if x != y => x.cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                _ => name_of(a).cmp(name_of(b)),
            }
        });
        for job in finished.into_iter().take(excess as usize) {
            delete_job(store, job, status);
        }
    }
}

/// `deleteJob`: the Job (Background, so its pods go too) and its place in `status.active`.
fn delete_job(store: &mut Store, job: &Value, status: &mut Status) -> bool {
    let deleted = store
        .delete(
            rt("batch", "jobs"),
            namespace_of(job),
            name_of(job),
            &background(),
        )
        .is_ok();
    if deleted {
        status.remove(uid_of(job));
    }
    deleted
}

/// The first half of `syncCronJob`: finished and vanished Jobs leave `status.active`.
fn sync_active(store: &Store, jobs: &[Value], status: &mut Status) {
    for job in jobs.iter().filter(|j| is_finished(j)) {
        status.remove(uid_of(job));
        if has_condition(job, "Complete")
            && let Some(done) = timestamp(&job["status"]["completionTime"])
            && status.last_successful.is_none_or(|t| done > t)
        {
            status.last_successful = Some(done);
        }
    }
    // A reference to a Job that no longer exists (read from the store, not the Job list, as the
    // controller asks the apiserver rather than trust its cache).
    status.active.retain(|r| {
        jobs.iter().any(|j| r["uid"] == uid_of(j))
            || store
                .get(
                    rt("batch", "jobs"),
                    r["namespace"].as_str().unwrap_or_default(),
                    r["name"].as_str().unwrap_or_default(),
                )
                .is_some()
    });
}

/// The second half of `syncCronJob`: starts the Job of the most recent unmet schedule time.
fn schedule_next(store: &mut Store, cronjob: &Value, now: Timestamp, status: &mut Status) {
    let spec = &cronjob["spec"];
    let time_zone = spec["timeZone"].as_str();
    let Ok(zone) = cron_schedule::load_zone(time_zone.unwrap_or_default()) else {
        return; // UnknownTimeZone
    };
    if spec["suspend"] == true {
        return;
    }
    let schedule = spec["schedule"].as_str().unwrap_or_default();
    let Ok(schedule) = Schedule::parse(&cron_schedule::formatted(schedule, time_zone)) else {
        return; // UnparseableSchedule
    };
    let Some(created) = timestamp(&cronjob["metadata"]["creationTimestamp"]) else {
        return;
    };
    let deadline = spec["startingDeadlineSeconds"]
        .as_i64()
        .map(jiff::SignedDuration::from_secs);
    let mut earliest = status.last_schedule.unwrap_or(created);
    if let Some(d) = deadline
        && let Ok(window_start) = now.checked_sub(d)
        && window_start > earliest
    {
        earliest = window_start;
    }
    let Ok(Some(scheduled)) = schedule.most_recent(earliest, now) else {
        return; // no unmet time, or InvalidSchedule
    };
    if let Some(d) = deadline
        && scheduled.checked_add(d).is_ok_and(|latest| latest < now)
    {
        return; // MissSchedule
    }
    let name = format!(
        "{}-{}",
        name_of(cronjob),
        scheduled.as_second().div_euclid(60)
    );
    let ns = namespace_of(cronjob);
    if status
        .active
        .iter()
        .any(|r| r["name"] == name.as_str() && r["namespace"] == ns)
        || status.last_schedule == Some(scheduled)
    {
        return; // already processed
    }
    match spec["concurrencyPolicy"].as_str() {
        Some("Forbid") if !status.active.is_empty() => return, // JobAlreadyActive
        Some("Replace") => {
            for r in status.active.clone() {
                let Some(job) = store
                    .get(
                        rt("batch", "jobs"),
                        r["namespace"].as_str().unwrap_or_default(),
                        r["name"].as_str().unwrap_or_default(),
                    )
                    .cloned()
                else {
                    return; // FailedGet
                };
                if !delete_job(store, &job, status) {
                    return;
                }
            }
        }
        _ => {}
    }
    let job = match store.create(
        rt("batch", "jobs"),
        ns,
        job_from_template(cronjob, &name, scheduled, &zone),
        false,
        crate::kube::managed_fields::Writer::Update(crate::kube::managed_fields::CONTROLLER_MANAGER),
    ) {
        Ok(job) => job,
        Err(e) if e.reason == "AlreadyExists" => {
            // Made by an earlier pass whose status write was lost: adopt it if it is ours.
            let Some(job) = store.get(rt("batch", "jobs"), ns, &name).cloned() else {
                return;
            };
            let ours = controller_of(&job).is_some_and(|r| r["uid"] == uid_of(cronjob));
            if !ours || status.is_active(uid_of(&job)) {
                return;
            }
            job
        }
        Err(_) => return, // FailedCreate (or the namespace is terminating)
    };
    status.active.push(reference(&job));
    status.last_schedule = Some(scheduled);
}

/// `getJobFromTemplate2`: the template's labels, annotations and spec, the scheduled time as an
/// annotation (in the CronJob's zone), and the CronJob as controlling owner.
fn job_from_template(
    cronjob: &Value,
    name: &str,
    scheduled: Timestamp,
    zone: &jiff::tz::TimeZone,
) -> Value {
    let template = &cronjob["spec"]["jobTemplate"];
    let mut annotations = match &template["metadata"]["annotations"] {
        Value::Object(m) => Value::Object(m.clone()),
        _ => json!({}),
    };
    annotations[SCHEDULED_TIMESTAMP] = json!(cron_schedule::rfc3339_in(scheduled, zone));
    let mut job = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "annotations": annotations,
            "ownerReferences": [{
                "apiVersion": "batch/v1",
                "kind": "CronJob",
                "name": name_of(cronjob),
                "uid": uid_of(cronjob),
                "controller": true,
                "blockOwnerDeletion": true,
            }],
        },
        "spec": template["spec"],
    });
    // `labels` is `omitempty`: a template without labels gives a Job without them.
    if let Some(labels) = template["metadata"]["labels"].as_object()
        && !labels.is_empty()
    {
        job["metadata"]["labels"] = Value::Object(labels.clone());
    }
    job
}
