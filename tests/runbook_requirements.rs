//! A runbook says which releases it applies to (`requires:` with the version tests), and is
//! refused with its own message, before anything runs, where it does not: tried against the
//! config directories `ck8s init` writes at v0.19.3 and v0.50.1.

mod common;

use common::{Ran, Workspace};
use runbook_engine::exit;

const RUNBOOK: &str = r#"apiVersion: runbook/v1
kind: Runbook
name: influx-era
requires:
  - that: config.global.ck8sVersion is version_below("v0.20")
    message: "InfluxDB was removed in v0.20 (this config is {{ config.global.ck8sVersion }}); restore metrics from Thanos instead"
vars:
  bucket: "{{ config.objectStorage.buckets.influxDB }}"
  layout: "{{ 'kube-system' if config.global.ck8sVersion is version_below('v0.20') else 'none' }}"
steps:
  - id: mark
    uses: command
    with: {argv: [touch, "ran-{{ vars.bucket }}"]}
"#;

fn upstream(version: &str) -> (String, String) {
    let root = format!(
        "{}/tests/fixtures/upstream-configs/{version}",
        env!("CARGO_MANIFEST_DIR")
    );
    (format!("{root}/cfg"), format!("{root}/key.txt"))
}

fn with_config(ws: &Workspace, version: &str, args: &[&str]) -> Ran {
    let (dir, key) = upstream(version);
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--config-dir", &dir, "--cluster", "sc"]);
    let output = ws
        .command(&all)
        .env("SOPS_AGE_KEY_FILE", key)
        .output()
        .expect("runbook runs");
    Ran {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn a_release_the_runbook_supports_plans_and_shows_the_variant_and_the_requirement() {
    let ws = Workspace::new();
    let file = ws.write("influx.yaml", RUNBOOK);
    let plan = with_config(&ws, "v0.19.3", &["plan", file.to_str().unwrap()]);
    assert_eq!(plan.code, exit::OK, "{plan}");
    assert!(
        plan.stdout.contains("layout = kube-system"),
        "the var that picks the variant is shown:\n{plan}"
    );
    assert!(
        plan.stdout
            .contains(r#"Requires: config.global.ck8sVersion is version_below("v0.20")  (holds)"#),
        "{plan}"
    );
}

#[test]
fn a_release_it_does_not_support_is_refused_with_its_message_and_nothing_runs() {
    let ws = Workspace::new();
    let file = ws.write("influx.yaml", RUNBOOK);
    let file = file.to_str().unwrap();
    for args in [vec!["plan", file], vec!["run", file, "--yes"]] {
        let command = args[0];
        let ran = with_config(&ws, "v0.50.1", &args);
        assert_eq!(ran.code, exit::INVALID, "{command}: {ran}");
        assert!(
            ran.stderr.contains(
                "`influx-era` does not apply here: InfluxDB was removed in v0.20 (this config is v0.50.1); restore metrics from Thanos instead"
            ),
            "{command}: {ran}"
        );
        assert!(
            ran.stderr.contains("influx.yaml:5:"),
            "at the requirement's line: {ran}"
        );
        // The v0.50.1 config has no InfluxDB bucket: the refusal explains that, so the missing key
        // is not reported on its own.
        assert!(!ran.stderr.contains("buckets.influxDB"), "{command}: {ran}");
    }
    assert!(ws.runs().is_empty(), "no run was recorded");
    assert!(!ws.exists("ran-"), "nothing ran");
}

#[test]
fn a_config_that_does_not_say_its_version_is_an_error_not_the_other_branch() {
    let ws = Workspace::new();
    let file = ws.write(
        "v.yaml",
        r#"apiVersion: runbook/v1
kind: Runbook
name: needs-version
params:
  version: {default: set-me}
requires:
  - that: params.version is version_at_least("v0.36")
    message: needs v0.36 or later
steps:
  - {id: a, uses: sleep, with: {duration: 0s}}
"#,
    );
    let ran = ws.runbook(&["plan", file.to_str().unwrap()]);
    assert_eq!(ran.code, exit::INVALID, "{ran}");
    assert!(
        ran.stderr.contains("`set-me` is not a version"),
        "the value is named: {ran}"
    );
    let ran = ws.runbook(&["plan", file.to_str().unwrap(), "--set", "version=v0.38.1"]);
    assert_eq!(ran.code, exit::OK, "{ran}");
    let ran = ws.runbook(&["plan", file.to_str().unwrap(), "--set", "version=v0.35.2"]);
    assert_eq!(ran.code, exit::INVALID, "{ran}");
    assert!(ran.stderr.contains("needs v0.36 or later"), "{ran}");
}

#[test]
fn requirements_are_checked_before_vars_and_must_say_why() {
    let ws = Workspace::new();
    let file = ws.write(
        "bad.yaml",
        r#"apiVersion: runbook/v1
kind: Runbook
name: bad
requires:
  - that: true
  - {that: true, message: m, because: typo}
steps:
  - {id: a, uses: sleep, with: {duration: 0s}}
"#,
    );
    let ran = ws.runbook(&["validate", file.to_str().unwrap()]);
    assert_eq!(ran.code, exit::INVALID, "{ran}");
    assert!(ran.stderr.contains("bad.yaml:5:5"), "{ran}");
    assert!(
        ran.stderr.contains("the requirement has no `message`"),
        "{ran}"
    );
    assert!(ran.stderr.contains("bad.yaml:6:30"), "{ran}");
    assert!(
        ran.stderr
            .contains("unknown key `because` in a requirement"),
        "{ran}"
    );

    let file = ws.write(
        "var.yaml",
        r#"apiVersion: runbook/v1
kind: Runbook
name: reads-a-var
vars:
  x: 1
requires:
  - that: vars.x == 1
    message: reads a var
steps:
  - {id: a, uses: sleep, with: {duration: 0s}}
"#,
    );
    let ran = ws.runbook(&["validate", file.to_str().unwrap()]);
    assert_eq!(ran.code, exit::INVALID, "{ran}");
    assert!(
        ran.stderr.contains(
            "`vars.x` cannot be read in `requires`: requirements are checked before vars are computed"
        ),
        "{ran}"
    );
    assert!(ran.stderr.contains("var.yaml:7:"), "{ran}");
}

#[test]
fn an_included_runbook_that_does_not_apply_refuses_the_whole_run() {
    let ws = Workspace::new();
    ws.write("influx.yaml", RUNBOOK);
    let file = ws.write(
        "all.yaml",
        r#"apiVersion: runbook/v1
kind: Runbook
name: all
steps:
  - {id: first, uses: command, with: {argv: [touch, first-ran]}}
  - {id: influx, uses: runbook, needs: [first], with: {file: influx.yaml}}
"#,
    );
    let ran = with_config(&ws, "v0.50.1", &["run", file.to_str().unwrap(), "--yes"]);
    assert_eq!(ran.code, exit::INVALID, "{ran}");
    assert!(
        ran.stderr.contains("`influx-era` does not apply here"),
        "{ran}"
    );
    assert!(ran.stderr.contains("influx.yaml:5:"), "{ran}");
    assert!(
        !ws.exists("first-ran"),
        "nothing ran, not even the steps before it"
    );
    let ran = with_config(&ws, "v0.19.3", &["plan", file.to_str().unwrap()]);
    assert_eq!(ran.code, exit::OK, "{ran}");
}
