//! Every shipped runbook validates and plans against the reference Compliant Kubernetes config
//! (`shared/reference/ck8s-config-example`, copied into tests/fixtures), follows the conventions
//! in runbooks/README.md, and has a README in its folder.

use runbook_engine::exit;
mod common;

use std::path::{Path, PathBuf};

use common::Workspace;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The runbooks under runbooks/ (the manifests they apply live in each folder's `manifests/`).
fn shipped() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in std::fs::read_dir(root().join("runbooks"))
        .unwrap()
        .flatten()
    {
        if !dir.path().is_dir() {
            continue;
        }
        for file in std::fs::read_dir(dir.path()).unwrap().flatten() {
            let path = file.path();
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            if path.extension().is_some_and(|e| e == "yaml") && text.contains("\nkind: Runbook") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Params a runbook needs on the command line (the rest have defaults).
fn required(path: &Path) -> Vec<&'static str> {
    match path.file_name().and_then(|n| n.to_str()) {
        Some("import-bucket.yaml") => vec!["--set", "bucket=ck8s-test-harbor-offsite"],
        _ => vec![],
    }
}

fn config() -> String {
    root()
        .join("tests/fixtures/ck8s-config-example")
        .display()
        .to_string()
}

#[test]
fn the_whole_set_is_shipped_each_with_a_readme() {
    let names: Vec<String> = shipped()
        .iter()
        .map(|p| {
            p.strip_prefix(root().join("runbooks"))
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    for expected in [
        "opensearch/backup-now.yaml",
        "opensearch/restore.yaml",
        "opensearch/restore-offsite.yaml",
        "harbor/backup-now.yaml",
        "harbor/restore.yaml",
        "influxdb/backup-now.yaml",
        "influxdb/restore.yaml",
        "velero/backup-now.yaml",
        "velero/restore.yaml",
        "velero/restore-offsite.yaml",
        "grafana/restore.yaml",
        "offsite/import-bucket.yaml",
        "platform/restore-all.yaml",
    ] {
        assert!(
            names.contains(&expected.to_string()),
            "{expected} missing: {names:?}"
        );
    }
    for path in shipped() {
        let readme = path.parent().unwrap().join("README.md");
        assert!(readme.exists(), "{} has no README.md", path.display());
    }
}

#[test]
fn every_shipped_runbook_validates_and_plans_against_the_reference_config() {
    let ws = Workspace::new();
    let config = config();
    for path in shipped() {
        let file = path.display().to_string();
        let mut args = vec![
            "validate",
            file.as_str(),
            "--config-dir",
            &config,
            "--cluster",
            "sc",
        ];
        args.extend(required(&path));
        let validated = ws.runbook(&args);
        assert_eq!(validated.code, exit::OK, "{file}:\n{validated}");
        args[0] = "plan";
        let plan = ws.runbook(&args);
        assert_eq!(plan.code, exit::OK, "{file}:\n{plan}");
        // Nothing the config or the secrets hold is hard-coded, and no secret is printed.
        for secret in [
            "test-secret-key",
            "test-opensearch-admin-password",
            "test-influx-admin-password",
            "test-harbor-db-password",
            "test-offsite-secret-key",
        ] {
            assert!(
                !plan.stdout.contains(secret),
                "{file} plan shows a secret:\n{plan}"
            );
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for bucket in ["ck8s-test-", "example.invalid"] {
            assert!(
                !text.contains(bucket),
                "{file} hard-codes `{bucket}…`, which the config defines"
            );
        }
        assert!(
            !plan.stdout.contains("insecure"),
            "{file}: TLS verification is never switched off by a shipped runbook:\n{plan}"
        );
    }
    assert!(
        !ws.runs().iter().any(|_| true),
        "validate and plan record no run"
    );
}

#[test]
fn destructive_steps_are_marked_in_the_runbook_itself() {
    // The kinds know what destroys; the runbooks say so too, so they read as what they do.
    let ws = Workspace::new();
    let config = config();
    for path in shipped() {
        let file = path.display().to_string();
        let mut args = vec![
            "plan",
            file.as_str(),
            "--config-dir",
            &config,
            "--cluster",
            "sc",
            "--output",
            "json",
        ];
        args.extend(required(&path));
        let plan = ws.runbook(&args);
        assert_eq!(plan.code, exit::OK, "{file}:\n{plan}");
        let plan: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        for step in plan["waves"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|w| w.as_array().unwrap())
        {
            if step["destructive"] != true || step["id"].as_str().unwrap().contains('.') {
                continue;
            }
            let id = step["id"].as_str().unwrap();
            let at = text
                .find(&format!("- id: {id}\n"))
                .unwrap_or_else(|| panic!("{file}: step {id}"));
            let block = &text[at..];
            let end = block[1..].find("\n  - id: ").map_or(block.len(), |e| e + 1);
            assert!(
                block[..end].contains("destructive: true"),
                "{file}: step {id} is destructive but not marked `destructive: true`"
            );
        }
    }
}

/// `runbook validate runbooks/*/*.yaml` checks every runbook and nothing else: the manifests the
/// runbooks apply live in `manifests/` below each folder.
#[test]
fn every_yaml_file_beside_the_runbooks_is_a_runbook_that_validates() {
    let mut files = Vec::new();
    for dir in std::fs::read_dir(root().join("runbooks"))
        .unwrap()
        .flatten()
    {
        for file in std::fs::read_dir(dir.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            if file.path().extension().is_some_and(|e| e == "yaml") {
                files.push(file.path().to_str().unwrap().to_string());
            }
        }
    }
    assert!(files.len() >= 14, "{files:?}");
    let mut args = vec!["validate".to_string()];
    args.extend(files);
    let ws = Workspace::new();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let ran = ws.runbook(&args);
    assert_eq!(ran.code, exit::OK, "{ran}");
}
