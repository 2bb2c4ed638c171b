//! Config directories and sops secrets through the CLI: the merged view, missing keys found before
//! running, secrets decrypted in memory and masked, and clear errors for wrong keys and tampering.

use runbook_engine::exit;
mod common;

use std::path::{Path, PathBuf};

use common::Workspace;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A config directory: the ck8s example (with defaults/) and, as `secrets.yaml`, a sops file.
fn config_dir(ws: &Workspace, secrets: &str) -> String {
    let dir = ws.path("config");
    copy_dir(&fixtures().join("ck8s-config"), &dir);
    std::fs::copy(
        fixtures().join("sops/generated").join(secrets),
        dir.join("secrets.yaml"),
    )
    .unwrap();
    dir.to_str().unwrap().to_string()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn key(name: &str) -> String {
    fixtures()
        .join("sops/generated/age-keys")
        .join(name)
        .to_str()
        .unwrap()
        .to_string()
}

/// Run `runbook` with an age identity for sops; returns (exit code, stdout, stderr).
fn with_key(ws: &Workspace, args: &[&str], key_file: &str) -> (Option<i32>, String, String) {
    let out = ws
        .command(args)
        .env("SOPS_AGE_KEY_FILE", key(key_file))
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const RUNBOOK: &str = r#"apiVersion: runbook/v1
kind: Runbook
name: cfg
vars:
  bucket: "{{ config.objectStorage.buckets.audit }}"
steps:
  - id: use
    uses: command
    with:
      shell: 'echo "bucket={{ vars.bucket }} key={{ secrets.objectStorage.s3.accessKey }}"; printf %s "{{ secrets.objectStorage.s3.accessKey }}" > key.txt'
"#;

#[test]
fn a_run_reads_the_merged_config_and_decrypted_secrets_and_masks_them() {
    let ws = Workspace::new();
    let dir = config_dir(&ws, "age_secrets.enc.yaml");
    let file = ws.write("cfg.yaml", RUNBOOK);
    let (code, stdout, stderr) = with_key(
        &ws,
        &[
            "run",
            file.to_str().unwrap(),
            "--config-dir",
            &dir,
            "--cluster",
            "sc",
        ],
        "key1.txt",
    );
    assert_eq!(code, Some(exit::OK), "{stdout}{stderr}");
    // Decrypted for the command, masked for everyone else.
    assert_eq!(ws.read("key.txt"), "AKIAEXAMPLE0000TEST");
    let id = ws.runs().pop().unwrap();
    let journal = ws.journal_text(&id);
    assert!(journal.contains("key=••••"), "{journal}");
    assert!(!journal.contains("AKIAEXAMPLE0000TEST") && !stdout.contains("AKIAEXAMPLE0000TEST"));
    // The bucket is set only in defaults/: the merged view finds it where `yq read sc-config.yaml` finds null.
    assert!(
        journal.contains("bucket=ck8s-default-audit key="),
        "{journal}"
    );
}

#[test]
fn a_missing_config_key_is_reported_with_the_files_looked_in() {
    let ws = Workspace::new();
    let dir = config_dir(&ws, "age_secrets.enc.yaml");
    let file = ws.write(
        "cfg.yaml",
        &RUNBOOK.replace("buckets.audit", "buckets.influxdb"),
    );
    let (code, _, stderr) = with_key(
        &ws,
        &[
            "validate",
            file.to_str().unwrap(),
            "--config-dir",
            &dir,
            "--cluster",
            "sc",
        ],
        "key1.txt",
    );
    assert_eq!(code, Some(exit::INVALID), "{stderr}");
    assert!(
        stderr.contains("config key objectStorage.buckets.influxdb is not set (looked in: defaults/common-config.yaml, defaults/sc-config.yaml, common-config.yaml, sc-config.yaml)"),
        "{stderr}"
    );
    assert!(stderr.contains("cfg.yaml:5:11"), "{stderr}");
}

#[test]
fn the_wrong_age_key_is_a_clear_error_and_nothing_runs() {
    let ws = Workspace::new();
    let dir = config_dir(&ws, "age_key2_only.enc.yaml");
    let file = ws.write("cfg.yaml", RUNBOOK);
    let (code, _, stderr) = with_key(
        &ws,
        &[
            "run",
            file.to_str().unwrap(),
            "--config-dir",
            &dir,
            "--cluster",
            "sc",
            "--yes",
        ],
        "key1.txt",
    );
    assert_eq!(code, Some(exit::INVALID), "{stderr}");
    assert!(stderr.contains("no key could decrypt"), "{stderr}");
    assert!(
        stderr.contains("age1afnrdrkyvy0sl5e08t9ffs4c7g5e5npc8luf7hjc77syewg5gajsls4r90"),
        "the file's recipient is named: {stderr}"
    );
    assert!(
        !stderr.contains("AGE-SECRET-KEY"),
        "key material leaked: {stderr}"
    );
    assert!(!ws.exists("key.txt") && ws.runs().is_empty());
}

#[test]
fn a_tampered_secrets_file_is_refused() {
    let ws = Workspace::new();
    let dir = config_dir(&ws, "age_tampered_unencrypted_value.enc.yaml");
    let file = ws.write("cfg.yaml", RUNBOOK);
    let (code, _, stderr) = with_key(
        &ws,
        &[
            "plan",
            file.to_str().unwrap(),
            "--config-dir",
            &dir,
            "--cluster",
            "sc",
        ],
        "key1.txt",
    );
    assert_eq!(code, Some(exit::INVALID), "{stderr}");
    assert!(stderr.contains("MAC mismatch"), "{stderr}");
}

#[test]
fn config_show_lists_values_with_their_files_and_masks_secrets() {
    let ws = Workspace::new();
    let dir = config_dir(&ws, "age_secrets.enc.yaml");
    let (code, stdout, _) = with_key(
        &ws,
        &["config", "show", "--config-dir", &dir, "--cluster", "sc"],
        "key1.txt",
    );
    assert_eq!(code, Some(exit::OK), "{stdout}");
    let line = |key: &str| {
        stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{key} ")))
            .unwrap_or_else(|| panic!("{key} is not listed:\n{stdout}"))
            .to_string()
    };
    assert!(
        line("objectStorage.buckets.audit").ends_with("# defaults/sc-config.yaml"),
        "{stdout}"
    );
    assert!(
        line("objectStorage.buckets.influxDB").contains("ck8s-test-influxdb"),
        "{stdout}"
    );
    assert!(
        line("objectStorage.buckets.influxDB").ends_with("# sc-config.yaml"),
        "{stdout}"
    );
    assert!(
        stdout.contains("objectStorage.s3.accessKey = ••••"),
        "{stdout}"
    );
    assert!(!stdout.contains("AKIAEXAMPLE0000TEST"), "{stdout}");
}

#[test]
fn connections_are_checked_and_insecure_ones_shown_in_the_plan() {
    let ws = Workspace::new();
    let file = ws.write(
        "conn.yaml",
        r#"apiVersion: runbook/v1
kind: Runbook
name: conn
connections:
  search: {kind: http, url: https://opensearch.example:9200, insecure: true}
  store: {kind: s4, endpoint: x}
steps:
  - id: x
    uses: command
    with: {argv: [echo, "{{ params.x }}"]}
params:
  x: {default: 1}
"#,
    );
    let invalid = ws.runbook(&["validate", file.to_str().unwrap()]);
    assert_eq!(invalid.code, exit::INVALID, "{invalid}");
    assert!(
        invalid.stderr.contains("unknown connection kind `s4`")
            && invalid.stderr.contains("did you mean `s3`?"),
        "{invalid}"
    );
    let fixed = ws.write(
        "conn.yaml",
        &ws.read("conn.yaml").replace("kind: s4", "kind: s3"),
    );
    let plan = ws.runbook(&["plan", fixed.to_str().unwrap()]);
    assert_eq!(plan.code, exit::OK, "{plan}");
    assert!(
        plan.stdout
            .contains("https://opensearch.example:9200  TLS NOT VERIFIED (insecure: true)"),
        "{plan}"
    );
}

#[test]
fn a_step_naming_an_undeclared_connection_is_an_error_at_its_line() {
    let ws = Workspace::new();
    let file = ws.write(
        "conn.yaml",
        r#"apiVersion: runbook/v1
kind: Runbook
name: conn
connections:
  influx: {kind: http, url: http://127.0.0.1:8086}
steps:
  - id: q
    uses: influxdb.query
    with:
      connection: influxx
      query: SHOW DATABASES
"#,
    );
    let invalid = ws.runbook(&["validate", file.to_str().unwrap()]);
    assert_eq!(invalid.code, exit::INVALID, "{invalid}");
    assert!(
        invalid
            .stderr
            .contains("step `q` uses connection `influxx`, which is not declared"),
        "{invalid}"
    );
    assert!(
        invalid.stderr.contains("conn.yaml:10:19")
            && invalid.stderr.contains("did you mean `influx`?"),
        "{invalid}"
    );
}
