//! Authoring: every class of bad runbook is reported at its file, line and column, with what was
//! expected and how to fix it, and nothing runs.

use runbook_engine::exit;
mod common;

use common::Workspace;

/// Write a runbook whose first step would leave a marker if anything ran, validate it, and
/// check that `run` refuses it too without running or recording anything.
fn rejected(ws: &Workspace, text: &str, extra: &[&str]) -> String {
    let path = ws.write("bad.yaml", text);
    let file = path.to_str().unwrap();
    let mut args = vec!["validate", file];
    args.extend_from_slice(extra);
    let validated = ws.runbook(&args);
    assert_eq!(validated.code, exit::INVALID, "{validated}");
    let mut args = vec!["run", file, "--yes"];
    args.extend_from_slice(extra);
    let ran = ws.runbook(&args);
    assert_eq!(ran.code, exit::INVALID, "{ran}");
    assert!(!ws.exists("marker"), "a step ran despite the error");
    assert!(ws.runs().is_empty(), "a run was recorded despite the error");
    validated.stderr
}

const HEAD: &str = r#"apiVersion: runbook/v1
kind: Runbook
name: bad
"#;

#[test]
fn malformed_yaml_points_at_the_line() {
    let ws = Workspace::new();
    let err = rejected(
        &ws,
        &format!(
            r#"{HEAD}steps:
  - id: touch
    uses: command
    with: {{shell: touch marker
  - id: x
"#
        ),
        &[],
    );
    assert!(err.contains("invalid YAML"), "{err}");
    assert!(err.contains("bad.yaml:8:"), "{err}");
}

#[test]
fn unknown_keys_are_named_with_a_suggestion() {
    let ws = Workspace::new();
    let err = rejected(
        &ws,
        &format!(
            r#"{HEAD}stepz: []
steps:
  - id: touch
    uses: command
    with: {{shell: touch marker}}
    nedes: [x]
"#
        ),
        &[],
    );
    assert!(err.contains("bad.yaml:4:1"), "{err}");
    assert!(err.contains("unknown key `stepz` in a runbook"), "{err}");
    assert!(err.contains("did you mean `steps`?"), "{err}");
    assert!(err.contains("bad.yaml:9:5"), "{err}");
    assert!(err.contains("unknown key `nedes` in a step"), "{err}");
    assert!(err.contains("did you mean `needs`?"), "{err}");
    assert!(err.contains("2 problems found"), "{err}");
}

#[test]
fn unknown_step_kind_and_input_suggest_the_right_one() {
    let ws = Workspace::new();
    let err = rejected(
        &ws,
        &format!(
            r#"{HEAD}steps:
  - id: touch
    uses: comand
    with: {{shell: touch marker}}
  - id: nap
    uses: sleep
    with: {{duraton: 1s}}
"#
        ),
        &[],
    );
    assert!(err.contains("bad.yaml:6:11"), "{err}");
    assert!(err.contains("unknown step kind `comand`"), "{err}");
    assert!(err.contains("did you mean `command`?"), "{err}");
    assert!(err.contains("bad.yaml:10:12"), "{err}");
    assert!(err.contains("unknown input `duraton` for `sleep`"), "{err}");
    assert!(err.contains("did you mean `duration`?"), "{err}");
    assert!(err.contains("`sleep` needs the input `duration`"), "{err}");
}

#[test]
fn a_cycle_is_named_in_full() {
    let ws = Workspace::new();
    let err = rejected(
        &ws,
        &format!(
            r#"{HEAD}steps:
  - id: touch
    uses: command
    with: {{shell: touch marker}}
  - id: a
    needs: [c]
    uses: sleep
    with: {{duration: 1s}}
  - id: b
    needs: [a]
    uses: sleep
    with: {{duration: 1s}}
  - id: c
    needs: [b]
    uses: sleep
    with: {{duration: 1s}}
"#
        ),
        &[],
    );
    assert!(
        err.contains("the steps form a cycle: a -> c -> b -> a"),
        "{err}"
    );
    assert!(err.contains("bad.yaml:9:13"), "{err}");
}

#[test]
fn templates_reading_what_does_not_exist_are_errors() {
    let ws = Workspace::new();
    let err = rejected(
        &ws,
        &format!(
            r#"{HEAD}params:
  database: {{default: metrics}}
vars:
  bucket: "{{{{ vars.region }}}}-backups"
steps:
  - id: touch
    uses: command
    with: {{shell: touch marker}}
  - id: drop
    uses: command
    with:
      argv: [echo, "{{{{ params.databse }}}}", "{{{{ steps.later.outputs.stdout }}}}"]
  - id: later
    uses: command
    with: {{argv: ["true"]}}
"#
        ),
        &[],
    );
    assert!(err.contains("bad.yaml:7:11"), "{err}");
    assert!(err.contains("`vars.region` is not a declared var"), "{err}");
    assert!(err.contains("bad.yaml:15:20"), "{err}");
    assert!(
        err.contains("declare it under `vars:` (declared before it: none)"),
        "{err}"
    );
    assert!(err.contains("bad.yaml:15:44"), "{err}");
    assert!(
        err.contains("`params.databse` is not a declared param"),
        "{err}"
    );
    assert!(err.contains("did you mean `database`?"), "{err}");
    assert!(
        err.contains("step `drop` reads `steps.later` but does not run after it"),
        "{err}"
    );
    assert!(
        err.contains("add `later` to the `needs` of `drop`"),
        "{err}"
    );
}

#[test]
fn missing_secrets_are_found_before_running() {
    let ws = Workspace::new();
    let secrets = ws.write(
        "secrets.yaml",
        "influxDB:\n  users:\n    adminPassword: hunter22\n",
    );
    let err = rejected(
        &ws,
        &format!(
            r#"{HEAD}steps:
  - id: touch
    uses: command
    with:
      argv: [touch, marker, "{{{{ secrets.influxDB.users.adminPasword }}}}"]
"#
        ),
        &["--secrets", secrets.to_str().unwrap()],
    );
    assert!(
        err.contains("secret influxDB.users.adminPasword is not set in"),
        "{err}"
    );
    assert!(err.contains("bad.yaml:8:"), "{err}");
    assert!(!err.contains("hunter22"), "{err}");
}

#[test]
fn wrong_types_and_step_ids_explain_the_fix() {
    let ws = Workspace::new();
    let err = rejected(
        &ws,
        &format!(
            r#"{HEAD}steps:
  - id: Touch_It
    uses: command
    timeout: soon
    with: {{shell: touch marker}}
    retry: {{attempts: 0}}
"#
        ),
        &[],
    );
    assert!(
        err.contains("step id `Touch_It` has characters outside [a-z0-9-]"),
        "{err}"
    );
    assert!(err.contains("rename it, for example `touch-it`"), "{err}");
    assert!(err.contains("bad.yaml:7:14"), "{err}");
    assert!(err.contains("timeout: `soon` is not a duration"), "{err}");
    assert!(
        err.contains("retry.attempts must be a whole number of at least 1"),
        "{err}"
    );
}

#[test]
fn every_file_is_checked_and_valid_ones_say_so() {
    let ws = Workspace::new();
    let good = ws.write(
        "good.yaml",
        &format!(
            r#"{HEAD}steps:
  - id: nap
    uses: sleep
    with: {{duration: 1s}}
"#
        ),
    );
    let bad = ws.write(
        "bad.yaml",
        &format!(
            r#"{HEAD}steps:
  - id: nap
    uses: slep
"#
        ),
    );
    let ran = ws.runbook(&["validate", good.to_str().unwrap(), bad.to_str().unwrap()]);
    assert_eq!(ran.code, exit::INVALID, "{ran}");
    assert!(
        ran.stdout.contains("ok: ") && ran.stdout.contains("good.yaml (1 steps)"),
        "{ran}"
    );
    assert!(ran.stderr.contains("did you mean `sleep`?"), "{ran}");
    let json = ws.runbook(&["validate", bad.to_str().unwrap(), "--output", "json"]);
    let problem: serde_json::Value =
        serde_json::from_str(json.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(problem["line"], 6);
    assert_eq!(problem["column"], 11);
    assert_eq!(problem["help"], "did you mean `sleep`?");
}

#[test]
fn resume_from_must_name_a_step_that_runs_before() {
    let ws = Workspace::new();
    let err = rejected(
        &ws,
        &format!(
            r#"{HEAD}steps:
  - id: make-pod
    uses: command
    with: {{shell: touch marker}}
  - id: check
    needs: [make-pod]
    resume_from: make-pdo
    uses: command
    with: {{shell: 'true'}}
  - id: other
    resume_from: check
    uses: command
    with: {{shell: 'true'}}
"#
        ),
        &[],
    );
    assert!(err.contains("bad.yaml:10:18"), "{err}");
    assert!(
        err.contains("step `check` resumes from `make-pdo`, which is not a step of this runbook"),
        "{err}"
    );
    assert!(err.contains("did you mean `make-pod`?"), "{err}");
    assert!(err.contains("bad.yaml:14:18"), "{err}");
    assert!(
        err.contains("step `other` resumes from `check`, which does not run before it"),
        "{err}"
    );
    assert!(err.contains("add `check` to its `needs`"), "{err}");
}

#[test]
fn zero_sizes_of_a_copy_are_refused_before_anything_runs() {
    let ws = Workspace::new();
    let err = rejected(
        &ws,
        &format!(
            r#"{HEAD}connections:
  store: {{kind: s3, endpoint: 'http://127.0.0.1:9', access_key: a, secret_key: b}}
steps:
  - id: touch
    uses: command
    with: {{shell: touch marker}}
  - id: sync
    needs: [touch]
    uses: s3.sync
    with:
      source: {{connection: store, bucket: a}}
      destination: {{connection: store, bucket: b}}
      concurrency: 0
      multipart_threshold_mib: 0
"#
        ),
        &[],
    );
    assert!(err.contains("bad.yaml:13:5"), "{err}");
    assert!(err.contains("`concurrency` must be at least 1"), "{err}");
    assert!(
        err.contains("`multipart_threshold_mib` must be at least 1"),
        "{err}"
    );
}

#[test]
fn durations_out_of_range_are_errors_at_their_line_not_panics() {
    let ws = Workspace::new();
    for (field, text) in [
        (
            "timeout",
            r#"  - id: touch
    uses: command
    timeout: 99999999999999999999h
    with: {shell: touch marker}
"#,
        ),
        (
            "retry.delay",
            r#"  - id: touch
    uses: command
    retry: {attempts: 3, delay: 400d}
    with: {shell: touch marker}
"#,
        ),
        (
            "sleep",
            r#"  - id: touch
    uses: command
    with: {shell: touch marker}
  - id: nap
    uses: sleep
    with: {duration: 9999999999999999h}
"#,
        ),
    ] {
        let err = rejected(&ws, &format!("{HEAD}steps:\n{text}"), &[]);
        assert!(
            err.contains("longest duration allowed, 366d"),
            "{field}: {err}"
        );
        assert!(err.contains("bad.yaml:"), "{field}: {err}");
        let plan = ws.runbook(&["plan", ws.path("bad.yaml").to_str().unwrap()]);
        assert_eq!(plan.code, exit::INVALID, "{field}: {plan}");
    }
}

#[test]
fn a_kind_duration_input_is_checked_at_validate_time_at_its_line() {
    let ws = Workspace::new();
    // No cluster is contacted: validation alone finds it.
    let err = rejected(
        &ws,
        &format!(
            r#"{HEAD}steps:
  - id: touch
    uses: command
    with: {{shell: touch marker}}
  - id: wait
    uses: k8s.wait
    with:
      kind: Job
      namespace: velero
      name: restore
      condition: Complete
      timeout: 10 minutes
"#
        ),
        &[],
    );
    assert!(err.contains("bad.yaml:15:16"), "{err}");
    assert!(err.contains("`timeout` of `k8s.wait`"), "{err}");
    assert!(
        err.contains("30s"),
        "says what a duration looks like: {err}"
    );
}

#[test]
fn an_empty_step_id_is_an_error_not_a_dropped_step() {
    let ws = Workspace::new();
    let err = rejected(
        &ws,
        &format!(
            r#"{HEAD}steps:
  - id: touch
    uses: command
    with: {{shell: touch marker}}
  - id: ""
    uses: command
    destructive: true
    with: {{shell: rm -rf data}}
"#
        ),
        &[],
    );
    assert!(err.contains("bad.yaml:8:9"), "{err}");
    assert!(err.contains("a step id is empty"), "{err}");
}

#[test]
fn endless_input_files_are_refused_with_the_limit() {
    let ws = Workspace::new();
    let file = ws.write(
        "ok.yaml",
        &format!(
            r#"{HEAD}steps:
  - id: touch
    uses: command
    with: {{shell: touch marker}}
"#
        ),
    );
    let file = file.to_str().unwrap();
    let endless = ws.path("endless.yaml");
    std::os::unix::fs::symlink("/dev/zero", &endless).unwrap();
    let endless = endless.to_str().unwrap();
    for args in [
        vec!["validate", "/dev/zero"],
        vec!["validate", endless],
        vec!["plan", file, "--params", "/dev/zero"],
        vec!["plan", file, "--vars", "/dev/zero"],
        vec!["run", file, "--secrets", endless],
    ] {
        let started = std::time::Instant::now();
        let ran = ws.runbook(&args);
        assert_eq!(ran.code, exit::INVALID, "{args:?}: {ran}");
        assert!(ran.stderr.contains("larger than 16 MiB"), "{args:?}: {ran}");
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }
    assert!(!ws.exists("marker"));
}

#[test]
fn a_runbook_that_is_not_utf8_is_refused_at_the_first_bad_byte() {
    let ws = Workspace::new();
    let path = ws.path("latin1.yaml");
    let mut text = format!("{HEAD}description: Caf").into_bytes();
    text.push(0xe9); // é in Latin-1
    text.extend_from_slice(
        br#"
steps:
  - id: touch
    uses: command
    with: {shell: touch marker}
"#,
    );
    std::fs::write(&path, text).unwrap();
    let ran = ws.runbook(&["validate", path.to_str().unwrap()]);
    assert_eq!(ran.code, exit::INVALID, "{ran}");
    assert!(ran.stderr.contains("latin1.yaml:4:17"), "{ran}");
    assert!(ran.stderr.contains("byte 0xe9"), "{ran}");
}
