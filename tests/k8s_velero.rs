//! The Kubernetes and Velero step kinds end to end: the `runbook` CLI against the emulated API
//! server, checking what it printed and what changed in the cluster.

use runbook_engine::exit;
mod common;

use std::time::Duration;

use common::{Ran, Workspace, finish, kill, path_str, wait_until};
use runbook_testsupport::kube::{
    ExecResult, JobScript, KubeEmulator, PodMatcher, RestoreScript, StoredBackup,
};
use serde_json::{Value, json};

/// A runbook head with a `kubernetes` connection to the emulator.
fn head(k8s: &KubeEmulator) -> String {
    format!(
        r#"apiVersion: runbook/v1
kind: Runbook
name: test
connections:
  cluster: {{kind: kubernetes, kubeconfig: {:?}}}
"#,
        path_str(k8s.kubeconfig_path())
    )
}

fn run(ws: &Workspace, file: &str) -> Ran {
    ws.runbook(&["run", file, "--yes"])
}

/// Both the CLI's streams, for assertions about what the operator saw.
fn printed(ran: &Ran) -> String {
    format!("{}{}", ran.stdout, ran.stderr)
}

fn grafana_objects() -> Vec<Value> {
    vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "monitoring"}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "user-grafana", "namespace": "monitoring", "labels": {"velero": "backup"}},
               "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "grafana"}},
                        "template": {"metadata": {"labels": {"app": "grafana"}}, "spec": {"containers": [{"name": "grafana", "image": "grafana/grafana:8"}]}}}}),
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
               "metadata": {"name": "user-grafana", "namespace": "monitoring", "labels": {"velero": "backup"}},
               "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}),
    ]
}

/// A cluster with user Grafana running and last night's scheduled backup of it.
fn cluster_with_grafana() -> KubeEmulator {
    let k8s = KubeEmulator::start();
    k8s.apply(json!({
        "apiVersion": "velero.io/v1", "kind": "BackupStorageLocation",
        "metadata": {"name": "default", "namespace": "velero"},
        "spec": {"provider": "aws", "default": true, "objectStorage": {"bucket": "ck8s-velero", "prefix": "service-cluster"}}
    }));
    for mut object in grafana_objects() {
        if object["kind"] == "PersistentVolumeClaim" {
            // As the API server creates claims: Pending, so the volume controller binds it.
            object["status"] = json!({"phase": "Pending"});
        }
        k8s.apply(object);
    }
    k8s.wait_for("the claim to be bound", Duration::from_secs(10), |k| {
        k.get("v1", "PersistentVolumeClaim", "monitoring", "user-grafana")
            .and_then(|c| c["spec"]["volumeName"].as_str().map(str::to_string))
    });
    k8s.seed_stored_backup(
        "default",
        StoredBackup::new("velero-daily-backup-20261120000000", vec![])
            .from_schedule("velero-daily-backup")
            .at("2026-11-20T00:00:00Z"),
    );
    k8s.seed_stored_backup(
        "default",
        StoredBackup::new("velero-daily-backup-20261122000000", grafana_objects())
            .from_schedule("velero-daily-backup")
            .at("2026-11-22T00:00:00Z"),
    );
    k8s
}

fn restores(k8s: &KubeEmulator) -> Vec<String> {
    k8s.names("velero.io/v1", "Restore", Some("velero"))
}

#[test]
fn deleted_deployment_and_pvc_come_back_from_the_daily_backup() {
    let k8s = cluster_with_grafana();
    let ws = Workspace::new();
    let file = ws.write(
        "grafana.yaml",
        &format!(
            r#"{}steps:
  - id: delete-deployment
    uses: k8s.delete
    with: {{kind: Deployment, namespace: monitoring, name: user-grafana}}
  - id: delete-pvc
    needs: [delete-deployment]
    uses: k8s.delete
    with: {{kind: PersistentVolumeClaim, namespace: monitoring, name: user-grafana, delete_volumes: true}}
  - id: restore
    needs: [delete-pvc]
    uses: velero.restore
    with: {{schedule: velero-daily-backup, included_namespaces: [monitoring], timeout: 1m}}
"#,
            head(&k8s)
        ),
    );
    let plan = ws.runbook(&["plan", path_str(&file)]);
    assert_eq!(plan.code, exit::OK, "{plan}");
    assert!(
        printed(&plan).contains("delete Deployment monitoring/user-grafana"),
        "{plan}"
    );
    assert!(
        printed(&plan).contains("latest completed backup of schedule velero-daily-backup"),
        "{plan}"
    );

    let ran = run(&ws, path_str(&file));
    assert_eq!(ran.code, exit::OK, "{ran}");
    let id = ran.run_id();
    let restore = &ws.events(&id, "step_succeeded", "restore")[0]["outputs"];
    assert_eq!(restore["phase"], "Completed", "{restore}");
    assert_eq!(
        restore["backup"], "velero-daily-backup-20261122000000",
        "the newest completed backup: {restore}"
    );
    assert_eq!(restore["restore"], format!("{id}-restore"));
    let deleted = &ws.events(&id, "step_succeeded", "delete-pvc")[0]["outputs"];
    assert_eq!(
        deleted["volumes"].as_array().map(Vec::len),
        Some(1),
        "the PVC's PV was deleted too: {deleted}"
    );

    let old_volume = deleted["volumes"][0].as_str().unwrap();
    assert!(
        k8s.get("v1", "PersistentVolume", "", old_volume).is_none(),
        "PV {old_volume} is gone"
    );

    let deployment = k8s
        .get("apps/v1", "Deployment", "monitoring", "user-grafana")
        .expect("the Deployment is back");
    assert_eq!(
        deployment["metadata"]["labels"]["velero.io/restore-name"],
        format!("{id}-restore")
    );
    let pvc = k8s
        .get("v1", "PersistentVolumeClaim", "monitoring", "user-grafana")
        .expect("the PVC is back");
    assert_eq!(
        pvc["metadata"]["labels"]["velero.io/restore-name"],
        format!("{id}-restore")
    );
    assert_eq!(restores(&k8s), vec![format!("velero/{id}-restore")]);
}

#[test]
fn partially_failed_restore_fails_listing_its_warnings_and_errors() {
    let k8s = cluster_with_grafana();
    k8s.script_restore(RestoreScript::partially_failed(
        vec![(
            "monitoring",
            "could not restore, ConfigMap \"extra\" already exists",
        )],
        vec![(
            "monitoring",
            "error restoring pods/monitoring/grafana-0: admission webhook denied",
        )],
    ));
    let ws = Workspace::new();
    let file = ws.write(
        "restore.yaml",
        &format!(
            r#"{}steps:
  - id: restore
    uses: velero.restore
    with: {{backup: velero-daily-backup-20261122000000, timeout: 1m}}
"#,
            head(&k8s)
        ),
    );
    let ran = run(&ws, path_str(&file));
    assert_eq!(ran.code, exit::STEP_FAILED, "{ran}");
    let out = printed(&ran);
    assert!(out.contains("PartiallyFailed"), "{ran}");
    assert!(
        out.contains(
            "monitoring: error restoring pods/monitoring/grafana-0: admission webhook denied"
        ),
        "{ran}"
    );
    assert!(
        out.contains("ConfigMap \\\"extra\\\" already exists")
            || out.contains("ConfigMap \"extra\" already exists"),
        "{ran}"
    );
    assert!(
        out.contains("allow_partially_failed"),
        "the error says how to accept it: {ran}"
    );
}

#[test]
fn resumed_run_waits_for_the_restore_it_started() {
    let k8s = cluster_with_grafana();
    k8s.delete("apps/v1", "Deployment", "monitoring", "user-grafana");
    // Slow enough (an item every 700 ms) to be killed while waiting.
    k8s.script_restore(RestoreScript {
        step: Duration::from_millis(700),
        ..RestoreScript::completed()
    });
    let ws = Workspace::new();
    let file = ws.write(
        "restore.yaml",
        &format!(
            r#"{}steps:
  - id: restore
    uses: velero.restore
    with: {{schedule: velero-daily-backup, timeout: 2m}}
"#,
            head(&k8s)
        ),
    );
    let child = ws.spawn(&["run", path_str(&file), "--yes"]);
    wait_until(Duration::from_secs(30), "the Restore to be created", || {
        !restores(&k8s).is_empty()
    });
    kill(&child, libc::SIGKILL);
    let killed = finish(child);
    assert_eq!(killed.code, -1, "killed by a signal: {killed}");
    let id = ws.runs().pop().expect("the run was recorded");
    let first = k8s
        .get(
            "velero.io/v1",
            "Restore",
            "velero",
            &format!("{id}-restore"),
        )
        .expect("named after run and step");
    assert_ne!(
        first["status"]["phase"], "Completed",
        "the kill came while the restore was running"
    );

    // velero.restore is idempotent: resume re-runs it without --rerun-interrupted.
    let resumed = ws.runbook(&["resume", &id, "--yes"]);
    assert_eq!(resumed.code, exit::OK, "{resumed}");
    assert_eq!(
        restores(&k8s),
        vec![format!("velero/{id}-restore")],
        "exactly one Restore"
    );
    let outputs = &ws.events(&id, "step_succeeded", "restore")[0]["outputs"];
    assert_eq!(outputs["phase"], "Completed");
    let after = k8s
        .get(
            "velero.io/v1",
            "Restore",
            "velero",
            &format!("{id}-restore"),
        )
        .unwrap();
    assert_eq!(
        after["metadata"]["uid"], first["metadata"]["uid"],
        "the same Restore, not a new one"
    );
    assert!(
        k8s.get("apps/v1", "Deployment", "monitoring", "user-grafana")
            .is_some()
    );
}

#[test]
fn failed_job_from_cronjob_reports_reason_and_logs_and_cronjob_is_resumed() {
    let k8s = KubeEmulator::start();
    k8s.apply(json!({
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "harbor-backup-cronjob", "namespace": "harbor"},
        "spec": {"schedule": "0 0 * * *", "suspend": false, "jobTemplate": {
            "metadata": {"labels": {"app": "harbor-backup"}},
            "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never",
                "containers": [{"name": "backup", "image": "elastisys/backup-postgres:1.1.0", "args": ["/backup.sh"]}]}}}}}
    }));
    k8s.script_pods(
        PodMatcher::Image("backup-postgres".into()),
        JobScript::fail(
            "waiting for harbor-harbor-database\npg_isready: no response\nbackup failed\n",
        ),
    );
    let ws = Workspace::new();
    let file = ws.write(
        "harbor.yaml",
        &format!(
            r#"{}steps:
  - id: suspend
    uses: k8s.patch
    with: {{kind: CronJob, namespace: harbor, name: harbor-backup-cronjob, patch: {{spec: {{suspend: true}}}}}}
  - id: backup
    needs: [suspend]
    uses: k8s.job-from-cronjob
    with: {{namespace: harbor, cronjob: harbor-backup-cronjob, timeout: 1m}}
  - id: unsuspend
    needs: [backup]
    always: true
    uses: k8s.patch
    with: {{kind: CronJob, namespace: harbor, name: harbor-backup-cronjob, patch: {{spec: {{suspend: false}}}}}}
"#,
            head(&k8s)
        ),
    );
    let ran = run(&ws, path_str(&file));
    assert_eq!(ran.code, exit::STEP_FAILED, "{ran}");
    let id = ran.run_id();
    let out = printed(&ran);
    assert!(
        out.contains("BackoffLimitExceeded"),
        "the Job's reason: {ran}"
    );
    assert!(
        out.contains("pg_isready: no response"),
        "the pod's last log lines: {ran}"
    );

    let job = k8s
        .get("batch/v1", "Job", "harbor", &format!("{id}-backup"))
        .expect("named after run and step");
    assert_eq!(
        job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"],
        "manual"
    );
    let owner = &job["metadata"]["ownerReferences"][0];
    assert_eq!(
        (owner["kind"].as_str(), owner["name"].as_str()),
        (Some("CronJob"), Some("harbor-backup-cronjob"))
    );
    assert_eq!(owner["controller"], true);

    let suspended = &ws.events(&id, "step_succeeded", "suspend")[0]["outputs"]["object"];
    assert_eq!(
        suspended["spec"]["suspend"], true,
        "suspended while the Job ran"
    );
    let cronjob = k8s
        .get("batch/v1", "CronJob", "harbor", "harbor-backup-cronjob")
        .unwrap();
    assert_eq!(
        cronjob["spec"]["suspend"], false,
        "resumed afterwards although the Job failed"
    );
}

#[test]
fn offsite_location_is_swapped_in_read_only_and_back() {
    let k8s = cluster_with_grafana();
    k8s.delete("apps/v1", "Deployment", "monitoring", "user-grafana");
    k8s.location_holds_backups(
        "backup",
        vec![
            StoredBackup::new("velero-daily-backup-20261121000000", grafana_objects())
                .from_schedule("velero-daily-backup")
                .at("2026-11-21T00:00:00Z"),
        ],
    );
    let ws = Workspace::new();
    let file = ws.write(
        "offsite.yaml",
        &format!(
            r#"{}steps:
  - id: drop-default
    uses: velero.backup-location
    with: {{action: delete, name: default}}
  - id: drop-records
    needs: [drop-default]
    uses: velero.backups
    with: {{action: delete-records}}
  - id: offsite
    needs: [drop-records]
    uses: velero.backup-location
    with: {{action: create, name: backup, provider: aws, bucket: offsite-velero, prefix: service-cluster,
           region: north, s3_url: 'https://s3.offsite.example', path_style: true,
           credential: {{secret: velero-backup, key: cloud}}, access_mode: ReadOnly}}
  - id: synced
    needs: [offsite]
    uses: velero.backups
    retry: {{attempts: 20, delay: 300ms}}
    with: {{location: backup, require_completed: true}}
  - id: restore
    needs: [synced]
    uses: velero.restore
    with: {{backup: '{{{{ steps.synced.outputs.latest }}}}', included_namespaces: [monitoring], timeout: 1m}}
  - id: drop-offsite
    needs: [restore]
    uses: velero.backup-location
    with: {{action: delete, name: backup}}
  - id: drop-offsite-records
    needs: [drop-offsite]
    uses: velero.backups
    with: {{action: delete-records}}
  - id: default-again
    needs: [drop-offsite-records]
    uses: velero.backup-location
    with: {{action: create, name: default, provider: aws, bucket: ck8s-velero, prefix: service-cluster, default: true, access_mode: ReadWrite}}
"#,
            head(&k8s)
        ),
    );
    let ran = run(&ws, path_str(&file));
    assert_eq!(ran.code, exit::OK, "{ran}");
    let id = ran.run_id();
    let offsite = &ws.events(&id, "step_succeeded", "offsite")[0]["outputs"];
    assert_eq!(offsite["access_mode"], "ReadOnly", "{offsite}");
    assert_eq!(
        ws.events(&id, "step_succeeded", "synced")[0]["outputs"]["latest"],
        "velero-daily-backup-20261121000000"
    );
    let restored = &ws.events(&id, "step_succeeded", "restore")[0]["outputs"];
    assert_eq!(restored["backup"], "velero-daily-backup-20261121000000");
    assert!(
        k8s.get("apps/v1", "Deployment", "monitoring", "user-grafana")
            .is_some(),
        "restored from off-site"
    );

    assert_eq!(
        k8s.names("velero.io/v1", "BackupStorageLocation", Some("velero")),
        vec!["velero/default".to_string()]
    );
    let default = k8s
        .get("velero.io/v1", "BackupStorageLocation", "velero", "default")
        .unwrap();
    assert_eq!(default["spec"]["accessMode"], "ReadWrite");
    assert_eq!(default["status"]["phase"], "Available");
    assert_eq!(
        k8s.backups_in_location("backup"),
        vec!["velero-daily-backup-20261121000000".to_string()],
        "the off-site bucket is untouched"
    );
}

#[test]
fn unknown_input_of_a_velero_kind_gets_a_suggestion_at_its_position() {
    let ws = Workspace::new();
    let file = ws.write(
        "bad.yaml",
        r#"apiVersion: runbook/v1
kind: Runbook
name: test
steps:
  - id: restore
    uses: velero.restore
    with:
      schedule: velero-daily-backup
      included_namespace: [monitoring]
"#,
    );
    let ran = ws.runbook(&["validate", path_str(&file)]);
    assert_eq!(ran.code, exit::INVALID, "{ran}");
    let out = printed(&ran);
    assert!(out.contains("included_namespace"), "{ran}");
    assert!(out.contains("included_namespaces"), "did you mean: {ran}");
    assert!(
        out.contains("bad.yaml:9:7"),
        "line:column of the key: {ran}"
    );
}

#[test]
fn apply_scale_wait_logs_exec_and_get() {
    let k8s = KubeEmulator::start();
    k8s.apply(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "web"}}));
    k8s.script_job("probe", JobScript::succeed("starting\nhello from probe\n"));
    k8s.on_exec(|call| ExecResult::ok(format!("ran {} in {}\n", call.command.join(" "), call.pod)));
    let ws = Workspace::new();
    ws.write(
        "manifests/config.yaml",
        r#"apiVersion: v1
kind: ConfigMap
metadata: {name: greeting, namespace: web}
data:
  greeting: "{{ values.greeting }}"
"#,
    );
    let file = ws.write(
        "web.yaml",
        &format!(
            r#"{}steps:
  - id: config
    uses: k8s.apply
    with: {{manifest: manifests/config.yaml, values: {{greeting: hej}}}}
  - id: apply
    uses: k8s.apply
    with:
      namespace: web
      manifests:
        - {{apiVersion: apps/v1, kind: Deployment, metadata: {{name: web}}, spec: {{replicas: 2, selector: {{matchLabels: {{app: web}}}}, template: {{metadata: {{labels: {{app: web}}}}, spec: {{containers: [{{name: web, image: nginx}}]}}}}}}}}
        - {{apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {{name: allow-web}}, spec: {{podSelector: {{matchLabels: {{app: web}}}}}}}}
        - {{apiVersion: v1, kind: Pod, metadata: {{name: probe}}, spec: {{restartPolicy: Never, containers: [{{name: probe, image: busybox}}]}}}}
        - {{apiVersion: v1, kind: Pod, metadata: {{name: shell}}, spec: {{containers: [{{name: sh, image: busybox}}]}}}}
  - id: stop
    needs: [apply]
    uses: k8s.scale
    with: {{namespace: web, name: web, replicas: 0}}
  - id: probe-done
    needs: [apply]
    uses: k8s.wait
    with: {{kind: Pod, namespace: web, name: probe, condition: Succeeded, timeout: 30s}}
  - id: probe-logs
    needs: [probe-done]
    uses: k8s.logs
    with: {{namespace: web, pod: probe, tail: 1}}
  - id: exec
    needs: [apply]
    uses: k8s.exec
    with: {{namespace: web, pod: shell, command: [cat, /etc/hostname]}}
  - id: read
    needs: [config]
    uses: k8s.get
    with: {{kind: ConfigMap, namespace: web, name: greeting}}
"#,
            head(&k8s)
        ),
    );
    let ran = run(&ws, path_str(&file));
    assert_eq!(ran.code, exit::OK, "{ran}");
    let id = ran.run_id();
    let outputs = |step: &str| ws.events(&id, "step_succeeded", step)[0]["outputs"].clone();

    let applied = outputs("apply");
    let kinds: Vec<&str> = applied["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["NetworkPolicy", "Deployment", "Pod", "Pod"],
        "policies before workloads"
    );
    assert!(
        applied["objects"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["uid"].as_str().is_some_and(|u| !u.is_empty()))
    );

    assert_eq!(outputs("stop")["previous"], json!({"web": 2}));
    let deployment = k8s.get("apps/v1", "Deployment", "web", "web").unwrap();
    assert_eq!(deployment["spec"]["replicas"], 0);

    assert_eq!(
        outputs("probe-logs")["logs"].as_str().map(str::trim),
        Some("hello from probe")
    );
    assert_eq!(
        outputs("exec")["stdout"],
        "ran cat /etc/hostname in shell\n"
    );
    assert_eq!(
        outputs("read")["object"]["data"]["greeting"],
        "hej",
        "the manifest file was rendered"
    );
}

/// The POSTs that created Restores, by name, in the order the API server served them.
fn restores_created(k8s: &KubeEmulator) -> Vec<(String, Value)> {
    k8s.requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/namespaces/velero/restores"))
        .filter_map(|r| {
            let body = r.body?;
            Some((body["metadata"]["name"].as_str()?.to_string(), body))
        })
        .collect()
}

#[test]
fn policies_first_restores_network_policies_before_the_workloads() {
    let k8s = cluster_with_grafana();
    let shop = vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "shop", "namespace": "shop"},
               "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "shop"}},
                        "template": {"metadata": {"labels": {"app": "shop"}}, "spec": {"containers": [{"name": "shop", "image": "nginx"}]}}}}),
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "allow-shop", "namespace": "shop"},
               "spec": {"podSelector": {"matchLabels": {"app": "shop"}}}}),
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "shop", "namespace": "shop"}}),
    ];
    k8s.seed_velero_backup("shop-20261122", None, shop, "Completed");
    k8s.clear_requests();
    let ws = Workspace::new();
    let file = ws.write(
        "shop.yaml",
        &format!(
            r#"{}steps:
  - id: restore
    uses: velero.restore
    with: {{backup: shop-20261122, included_namespaces: [shop], policies_first: true, timeout: 1m}}
"#,
            head(&k8s)
        ),
    );
    let ran = run(&ws, path_str(&file));
    assert_eq!(ran.code, exit::OK, "{ran}");
    let id = ran.run_id();
    let (policies, rest) = (format!("{id}-restore-policies"), format!("{id}-restore"));
    let outputs = &ws.events(&id, "step_succeeded", "restore")[0]["outputs"];
    assert_eq!(outputs["restores"], json!([policies, rest]), "{outputs}");
    assert_eq!(outputs["phase"], "Completed", "{outputs}");

    let created = restores_created(&k8s);
    let names: Vec<&str> = created.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, [policies.as_str(), rest.as_str()], "policies first");
    let included = &created[0].1["spec"]["includedResources"];
    assert!(
        included.as_array().is_some_and(|a| a
            .contains(&json!("networkpolicies.networking.k8s.io"))
            && !a
                .iter()
                .any(|r| r.as_str().unwrap().starts_with("deployments"))),
        "{included}"
    );
    let first = k8s
        .get("velero.io/v1", "Restore", "velero", &policies)
        .unwrap();
    assert_eq!(first["status"]["phase"], "Completed");

    let policy = k8s
        .get(
            "networking.k8s.io/v1",
            "NetworkPolicy",
            "shop",
            "allow-shop",
        )
        .expect("the NetworkPolicy is restored");
    assert_eq!(
        policy["metadata"]["labels"]["velero.io/restore-name"], policies,
        "by the first Restore"
    );
    let deployment = k8s
        .get("apps/v1", "Deployment", "shop", "shop")
        .expect("the Deployment is restored");
    assert_eq!(
        deployment["metadata"]["labels"]["velero.io/restore-name"],
        rest
    );
}

#[test]
fn failed_restore_exits_1_with_the_reason_and_the_run_can_be_resumed() {
    let k8s = cluster_with_grafana();
    k8s.script_restore(RestoreScript::failed(
        "error executing restore: the node-agent daemonset is not ready",
    ));
    let ws = Workspace::new();
    let file = ws.write(
        "restore.yaml",
        &format!(
            r#"{}steps:
  - id: restore
    uses: velero.restore
    with: {{backup: velero-daily-backup-20261122000000, timeout: 1m}}
"#,
            head(&k8s)
        ),
    );
    assert_restore_failed(
        &k8s,
        &ws,
        &file,
        &["the node-agent daemonset is not ready"],
        "Failed",
    );
}

#[test]
fn restore_of_a_missing_backup_fails_validation_and_the_run_can_be_resumed() {
    let k8s = cluster_with_grafana();
    let ws = Workspace::new();
    let file = ws.write(
        "restore.yaml",
        &format!(
            r#"{}steps:
  - id: restore
    uses: velero.restore
    with: {{backup: no-such-backup, timeout: 1m}}
"#,
            head(&k8s)
        ),
    );
    assert_restore_failed(
        &k8s,
        &ws,
        &file,
        &["failed validation", "no-such-backup"],
        "FailedValidation",
    );
}

/// Run a runbook whose `restore` step must fail: exit 1, each of `expected` printed, the resume
/// line printed, and the Restore left in `phase`.
fn assert_restore_failed(
    k8s: &KubeEmulator,
    ws: &Workspace,
    file: &std::path::Path,
    expected: &[&str],
    phase: &str,
) {
    let ran = run(ws, path_str(file));
    assert_eq!(ran.code, exit::STEP_FAILED, "{ran}");
    let id = ran.run_id();
    let out = printed(&ran);
    for text in expected {
        assert!(out.contains(text), "`{text}` not printed: {ran}");
    }
    assert!(out.contains(&format!("runbook resume {id}")), "{ran}");
    let restore = k8s
        .get(
            "velero.io/v1",
            "Restore",
            "velero",
            &format!("{id}-restore"),
        )
        .unwrap();
    assert_eq!(restore["status"]["phase"], phase);
}

#[test]
fn on_demand_backup_waits_until_completed() {
    let k8s = cluster_with_grafana();
    let ws = Workspace::new();
    let file = ws.write(
        "backup.yaml",
        &format!(
            r#"{}steps:
  - id: backup
    uses: velero.backup
    with: {{included_namespaces: [monitoring], wait: true, timeout: 1m}}
"#,
            head(&k8s)
        ),
    );
    let ran = run(&ws, path_str(&file));
    assert_eq!(ran.code, exit::OK, "{ran}");
    let id = ran.run_id();
    let outputs = &ws.events(&id, "step_succeeded", "backup")[0]["outputs"];
    let name = format!("{id}-backup");
    assert_eq!(outputs["backup"], name, "{outputs}");
    assert_eq!(outputs["phase"], "Completed", "{outputs}");
    let backup = k8s.get("velero.io/v1", "Backup", "velero", &name).unwrap();
    assert_eq!(backup["status"]["phase"], "Completed");
    assert_eq!(backup["spec"]["includedNamespaces"], json!(["monitoring"]));
    assert!(
        k8s.backups_in_location("default").contains(&name),
        "stored in the default location's bucket"
    );
}

#[test]
fn delete_by_selector_removes_only_the_matching_objects() {
    let k8s = KubeEmulator::start();
    for (name, app) in [("a-1", "a"), ("a-2", "a"), ("b-1", "b")] {
        k8s.apply(json!({"apiVersion": "v1", "kind": "ConfigMap",
                         "metadata": {"name": name, "namespace": "web", "labels": {"app": app}}}));
    }
    let ws = Workspace::new();
    let file = ws.write(
        "delete.yaml",
        &format!(
            r#"{}steps:
  - id: delete
    uses: k8s.delete
    with: {{kind: ConfigMap, namespace: web, selector: app=a, wait: true, timeout: 30s}}
"#,
            head(&k8s)
        ),
    );
    let ran = run(&ws, path_str(&file));
    assert_eq!(ran.code, exit::OK, "{ran}");
    let id = ran.run_id();
    let deleted = &ws.events(&id, "step_succeeded", "delete")[0]["outputs"]["deleted"];
    let mut names: Vec<&str> = deleted
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["a-1", "a-2"], "{deleted}");
    assert_eq!(
        k8s.names("v1", "ConfigMap", Some("web")),
        vec!["web/b-1".to_string()]
    );
}

#[test]
fn scaling_down_again_in_the_same_run_reports_the_counts_from_before_the_first_attempt() {
    // A resume that repeats a scale-down cut off part-way must not record the zeros it set.
    let k8s = KubeEmulator::start();
    k8s.apply(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "web"}}));
    for (name, replicas) in [("front", 2), ("back", 3)] {
        k8s.apply(json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "web", "labels": {"app": "web"}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}));
    }
    let ws = Workspace::new();
    let file = ws.write(
        "stop.yaml",
        &format!(
            r#"{}steps:
  - id: stop
    uses: k8s.scale
    with: {{namespace: web, selector: {{app: web}}, replicas: 0}}
"#,
            head(&k8s)
        ),
    );
    let file = path_str(&file);
    let first = run(&ws, file);
    assert_eq!(first.code, exit::OK, "{first}");
    let id = first.run_id();
    let counts = json!({"front": 2, "back": 3});
    assert_eq!(ws.outputs(&id, "stop")["previous"], counts);

    let again = ws.runbook(&["resume", &id, "--from", "stop", "--yes"]);
    assert_eq!(again.code, exit::OK, "{again}");
    assert_eq!(ws.events(&id, "step_succeeded", "stop").len(), 2);
    assert_eq!(ws.outputs(&id, "stop")["previous"], counts, "{again}");

    // Another run finds them at 0: the note of the first run is not its own.
    let other = run(&ws, file);
    assert_eq!(
        ws.outputs(&other.run_id(), "stop")["previous"],
        json!({"front": 0, "back": 0})
    );
    let front = k8s.get("apps/v1", "Deployment", "web", "front").unwrap();
    assert_eq!(front["spec"]["replicas"], 0);
}
