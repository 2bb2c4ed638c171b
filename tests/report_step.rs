//! The `report` step: a runbook that ends with its own recovery report.

use runbook_engine::exit;
mod common;

use common::Workspace;

const SECRET: &str = "hunter2-secret";

#[test]
fn a_report_step_reports_the_run_so_far_and_writes_it_to_a_file() {
    let ws = Workspace::new();
    // The secret reaches the report in the error of `login`, which quotes it.
    ws.write(
        "restore.yaml",
        r#"apiVersion: runbook/v1
kind: Runbook
name: restore-with-report
params:
  password: {required: true, secret: true}
steps:
  - id: restore-a
    uses: sleep
    with: {duration: 300ms}
  - id: restore-b
    uses: command
    with: {shell: "sleep 0.1; printf %s '{{ params.password }}' > password-used.txt; echo {{ params.password }}"}
  - id: login
    continue_on_error: true
    uses: command
    with: {shell: "echo 'cannot log in with {{ params.password }}' >&2; exit 1"}
  - id: verify
    needs: [restore-a, restore-b]
    uses: assert
    with: {that: true}
  - id: recovery-report
    needs: [verify, login]
    always: true
    uses: report
    with: {to: reports/recovery.md}
"#,
    );
    let set = format!("password={SECRET}");
    let ran = ws.runbook(&["run", "restore.yaml", "--set", &set]);
    assert_eq!(ran.code, exit::OK, "{ran}");
    // The steps got the real value.
    assert_eq!(ws.read("password-used.txt"), SECRET);
    let id = ran.run_id();
    let outputs = &ws.events(&id, "step_succeeded", "recovery-report")[0]["outputs"];
    let steps: Vec<(&str, &str)> = outputs["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_str().unwrap(), s["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        steps,
        [
            ("restore-a", "succeeded"),
            ("restore-b", "succeeded"),
            ("login", "failed"),
            ("verify", "succeeded")
        ],
        "{outputs}"
    );
    let recovery_ms = outputs["recovery_ms"].as_u64().unwrap();
    assert!((300..5000).contains(&recovery_ms), "{outputs}");
    assert_eq!(
        outputs["critical_path"][0]
            .as_str()
            .unwrap()
            .split(' ')
            .next(),
        Some("restore-a"),
        "the sleep is the longer branch: {outputs}"
    );
    let markdown = ws.read("reports/recovery.md");
    assert!(markdown.contains("restore-with-report"), "{markdown}");
    assert!(markdown.contains("restore-b"), "{markdown}");
    // Where the secret was, the report shows the mask: the text around it made it in.
    assert!(
        markdown.contains("cannot log in with ••••"),
        "the error of `login` is in the report, masked:\n{markdown}"
    );
    assert!(
        !markdown.contains(SECRET),
        "the report shows the secret:\n{markdown}"
    );
}
