//! Jobs run scripted pods; conditions, logs, and cascading deletion.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, LogParams, PostParams, PropagationPolicy};
use kube::runtime::wait::{await_condition, conditions};
use serde_json::json;

use super::{SETTLE, client, run};
use crate::kube::{JobScript, KubeEmulator, PodMatcher};

fn job(name: &str, image: &str, backoff_limit: i32) -> Job {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"backoffLimit": backoff_limit, "template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "restore", "image": image, "args": ["restore", "--all"]}]
        }}}
    }))
    .unwrap()
}

#[test]
fn a_scripted_job_completes_with_logs() {
    let k8s = KubeEmulator::start();
    k8s.script_job(
        "restore-harbor",
        JobScript::succeed("downloading backup\nrestored 4 databases\n"),
    );
    run(async {
        let c = client(&k8s).await;
        let jobs: Api<Job> = Api::namespaced(c.clone(), "default");
        jobs.create(
            &PostParams::default(),
            &job("restore-harbor-job", "elastisys/backup-postgres:1.1.0", 0),
        )
        .await
        .unwrap();
        let done = tokio::time::timeout(
            SETTLE,
            await_condition(
                jobs.clone(),
                "restore-harbor-job",
                conditions::is_job_completed(),
            ),
        )
        .await
        .expect("job completes")
        .unwrap()
        .unwrap();
        let status = done.status.unwrap();
        assert_eq!(status.succeeded, Some(1));
        assert!(status.start_time.is_some() && status.completion_time.is_some());
        let types: Vec<_> = status
            .conditions
            .unwrap()
            .into_iter()
            .map(|c| (c.type_, c.reason.unwrap_or_default()))
            .collect();
        assert_eq!(
            types,
            [
                ("SuccessCriteriaMet".into(), "CompletionsReached".into()),
                ("Complete".into(), "CompletionsReached".into())
            ]
        );

        let pods: Api<Pod> = Api::namespaced(c.clone(), "default");
        let owned = pods
            .list(&ListParams::default().labels("job-name=restore-harbor-job"))
            .await
            .unwrap()
            .items;
        assert_eq!(owned.len(), 1);
        let pod = &owned[0];
        let labels = pod.metadata.labels.as_ref().unwrap();
        assert_eq!(
            labels
                .get("batch.kubernetes.io/job-name")
                .map(String::as_str),
            Some("restore-harbor-job")
        );
        assert_eq!(
            pod.metadata.owner_references.as_ref().unwrap()[0].kind,
            "Job"
        );
        assert_eq!(
            pod.status.as_ref().unwrap().phase.as_deref(),
            Some("Succeeded")
        );
        let name = pod.metadata.name.clone().unwrap();
        assert_eq!(
            pods.logs(&name, &LogParams::default()).await.unwrap(),
            "downloading backup\nrestored 4 databases\n"
        );
        let tail = LogParams {
            tail_lines: Some(1),
            ..LogParams::default()
        };
        assert_eq!(
            pods.logs(&name, &tail).await.unwrap(),
            "restored 4 databases\n"
        );
    });
}

#[test]
fn a_failing_job_exhausts_its_backoff_limit() {
    let k8s = KubeEmulator::start();
    k8s.script_pods(
        PodMatcher::Image("backup-postgres".into()),
        JobScript::fail("pg_isready: no response\n").exit_code(2),
    );
    run(async {
        let c = client(&k8s).await;
        let jobs: Api<Job> = Api::namespaced(c.clone(), "default");
        jobs.create(
            &PostParams::default(),
            &job("restore", "elastisys/backup-postgres:1.1.0", 1),
        )
        .await
        .unwrap();
        let failed = |j: Option<&Job>| {
            j.and_then(|j| j.status.as_ref()?.conditions.as_ref())
                .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Failed" && c.status == "True"))
        };
        let done = tokio::time::timeout(SETTLE, await_condition(jobs.clone(), "restore", failed))
            .await
            .expect("job fails")
            .unwrap()
            .unwrap();
        let status = done.status.unwrap();
        assert_eq!(status.failed, Some(2), "backoffLimit 1 allows two attempts");
        assert!(status.completion_time.is_none());
        let failed_cond = status
            .conditions
            .unwrap()
            .into_iter()
            .find(|c| c.type_ == "Failed")
            .unwrap();
        assert_eq!(failed_cond.reason.as_deref(), Some("BackoffLimitExceeded"));
        assert_eq!(
            failed_cond.message.as_deref(),
            Some("Job has reached the specified backoff limit")
        );
        let pods: Api<Pod> = Api::namespaced(c, "default");
        let list = pods
            .list(&ListParams::default().labels("job-name=restore"))
            .await
            .unwrap()
            .items;
        let exit_codes: Vec<i32> = list
            .iter()
            .map(|p| {
                p.status
                    .as_ref()
                    .unwrap()
                    .container_statuses
                    .as_ref()
                    .unwrap()[0]
                    .state
                    .as_ref()
                    .unwrap()
                    .terminated
                    .as_ref()
                    .unwrap()
                    .exit_code
            })
            .collect();
        assert_eq!(exit_codes, [2, 2]);
    });
}

#[test]
fn deleting_a_job_cascades_only_when_asked() {
    let k8s = KubeEmulator::start();
    k8s.script_job("", JobScript::succeed("ok"));
    run(async {
        let c = client(&k8s).await;
        let jobs: Api<Job> = Api::namespaced(c.clone(), "default");
        let pods: Api<Pod> = Api::namespaced(c.clone(), "default");
        for name in ["kept", "cascaded"] {
            jobs.create(&PostParams::default(), &job(name, "busybox", 0))
                .await
                .unwrap();
            tokio::time::timeout(
                SETTLE,
                await_condition(jobs.clone(), name, conditions::is_job_completed()),
            )
            .await
            .unwrap()
            .unwrap();
        }
        // batch/v1 orphans pods by default, and says so.
        jobs.delete("kept", &DeleteParams::default()).await.unwrap();
        let bg = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            ..DeleteParams::default()
        };
        jobs.delete("cascaded", &bg).await.unwrap();
        let deadline = std::time::Instant::now() + SETTLE;
        loop {
            let kept = pods
                .list(&ListParams::default().labels("job-name=kept"))
                .await
                .unwrap()
                .items;
            let cascaded = pods
                .list(&ListParams::default().labels("job-name=cascaded"))
                .await
                .unwrap()
                .items;
            let jobs_left = jobs.list(&ListParams::default()).await.unwrap().items.len();
            if cascaded.is_empty() && jobs_left == 0 {
                assert_eq!(kept.len(), 1, "orphaned pod stays");
                assert!(
                    kept[0]
                        .metadata
                        .owner_references
                        .as_ref()
                        .is_none_or(|r| r.is_empty()),
                    "and loses its owner"
                );
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "cascade: {} pods, {jobs_left} jobs",
                cascaded.len()
            );
            tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        }
    });
    // The apiserver's warning when a Job's pods are orphaned by default.
    k8s.apply(json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "warned", "namespace": "default"},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}));
    let (code, head, _) = super::http(
        "DELETE",
        &format!("{}/apis/batch/v1/namespaces/default/jobs/warned", k8s.url()),
    );
    assert_eq!(code, 200);
    assert!(
        head.contains("warning: 299 - \"child pods are preserved by default when jobs are deleted; set propagationPolicy=Background to remove them or set propagationPolicy=Orphan to suppress this warning\""),
        "{head}"
    );
}

#[test]
fn foreground_deletion_waits_for_dependents() {
    let k8s = KubeEmulator::start();
    k8s.script_job(
        "",
        JobScript::succeed("ok").running_for(std::time::Duration::from_secs(30)),
    );
    run(async {
        let c = client(&k8s).await;
        let jobs: Api<Job> = Api::namespaced(c.clone(), "default");
        let pods: Api<Pod> = Api::namespaced(c.clone(), "default");
        jobs.create(&PostParams::default(), &job("long", "busybox", 0))
            .await
            .unwrap();
        let deadline = std::time::Instant::now() + SETTLE;
        while pods
            .list(&ListParams::default().labels("job-name=long"))
            .await
            .unwrap()
            .items
            .is_empty()
        {
            assert!(std::time::Instant::now() < deadline);
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let response = jobs
            .delete("long", &DeleteParams::foreground())
            .await
            .unwrap();
        let pending = response
            .left()
            .expect("the job is returned while its dependents go");
        assert!(pending.metadata.deletion_timestamp.is_some());
        assert!(
            pending
                .metadata
                .finalizers
                .unwrap()
                .contains(&"foregroundDeletion".to_string())
        );
        while jobs.get_opt("long").await.unwrap().is_some() {
            assert!(
                std::time::Instant::now() < deadline,
                "job goes after its pods"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(
            pods.list(&ListParams::default().labels("job-name=long"))
                .await
                .unwrap()
                .items
                .is_empty()
        );
    });
}

#[test]
fn a_pod_action_sees_secret_env_and_mounted_scripts_and_ends_the_pod() {
    let k8s = KubeEmulator::start();
    k8s.apply(json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "creds", "namespace": "default"},
        "stringData": {"AWS_ACCESS_KEY_ID": "AKIA-test"}}));
    k8s.apply(json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "scripts", "namespace": "default"},
        "data": {"restore.sh": "echo restoring"}}));
    let secret = k8s.get("v1", "Secret", "default", "creds").unwrap();
    assert!(
        secret.get("stringData").is_none(),
        "stringData is folded into data"
    );
    assert_eq!(secret["data"]["AWS_ACCESS_KEY_ID"], "QUtJQS10ZXN0");
    k8s.script_job(
        "restore-",
        JobScript::run(|run| {
            let key = run
                .var("AWS_ACCESS_KEY_ID")
                .unwrap_or("missing")
                .to_string();
            let script = run
                .files
                .get("/scripts/restore.sh")
                .cloned()
                .unwrap_or_default();
            crate::kube::ActionOutcome {
                exit_code: if key == "AKIA-test" { 3 } else { 0 },
                logs: format!(
                    "{script} with {key} as {}\n",
                    run.var("MODE").unwrap_or("?")
                ),
            }
        }),
    );
    let mut spec = job("restore-db", "busybox", 0);
    let value = json!({
        "restartPolicy": "Never",
        "volumes": [{"name": "s", "configMap": {"name": "scripts", "defaultMode": 493}}],
        "containers": [{"name": "restore", "image": "busybox",
            "env": [{"name": "MODE", "value": "full"}],
            "envFrom": [{"secretRef": {"name": "creds"}}],
            "volumeMounts": [{"name": "s", "mountPath": "/scripts"}]}]
    });
    spec.spec.as_mut().unwrap().template.spec = Some(serde_json::from_value(value).unwrap());
    run(async {
        let c = client(&k8s).await;
        let jobs: Api<Job> = Api::namespaced(c.clone(), "default");
        jobs.create(&PostParams::default(), &spec).await.unwrap();
        let done = tokio::time::timeout(
            SETTLE,
            await_condition(jobs.clone(), "restore-db", |j: Option<&Job>| {
                j.and_then(|j| j.status.as_ref()).and_then(|s| s.failed) == Some(1)
            }),
        )
        .await
        .expect("the job fails: the action exited 3")
        .unwrap()
        .unwrap();
        assert_eq!(done.status.unwrap().failed, Some(1));
        let pods: Api<Pod> = Api::namespaced(c.clone(), "default");
        let pod = pods
            .list(&ListParams::default().labels("job-name=restore-db"))
            .await
            .unwrap()
            .items
            .remove(0);
        let name = pod.metadata.name.clone().unwrap();
        let state = pod.status.unwrap().container_statuses.unwrap()[0].clone();
        assert_eq!(state.state.unwrap().terminated.unwrap().exit_code, 3);
        let logs = pods.logs(&name, &LogParams::default()).await.unwrap();
        assert_eq!(logs, "echo restoring with AKIA-test as full\n");
    });
}
