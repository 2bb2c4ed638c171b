//! The `report` step: a runbook that ends with its own recovery report.

mod common;

use common::Workspace;

#[test]
fn a_report_step_reports_the_run_so_far_and_writes_it_to_a_file() {
    let ws = Workspace::new();
    ws.write(
        "restore.yaml",
        r#"apiVersion: runbook/v1
kind: Runbook
name: restore-with-report
params:
  password: {default: hunter2-secret, secret: true}
steps:
  - id: restore-a
    uses: sleep
    with: {duration: 300ms}
  - id: restore-b
    uses: command
    with: {shell: "sleep 0.1; echo {{ params.password }}"}
  - id: verify
    needs: [restore-a, restore-b]
    uses: assert
    with: {that: true}
  - id: recovery-report
    needs: [verify]
    uses: report
    with: {to: reports/recovery.md}
"#,
    );
    let ran = ws.runbook(&["run", "restore.yaml"]);
    assert_eq!(ran.code, 0, "{ran}");
    let id = ran.run_id();
    let outputs = &ws.events(&id, "step_succeeded", "recovery-report")[0]["outputs"];
    let steps: Vec<&str> = outputs["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["restore-a", "restore-b", "verify"], "{outputs}");
    assert!(
        outputs["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["state"] == "succeeded")
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
    assert!(!markdown.contains("hunter2-secret"));
}
