//! The runbook format at work: params, vars, for_each, when, outputs between steps, continue_on_error,
//! always, includes, plan, graph and schema.

mod common;

use common::Workspace;
use serde_json::Value;

const HEAD: &str = "apiVersion: runbook/v1\nkind: Runbook\nname: features\n";

#[test]
fn outputs_flow_between_steps_and_for_each_collects_them() {
    let ws = Workspace::new();
    let file = ws.write(
        "flow.yaml",
        &format!("{HEAD}params:\n  databases: {{default: [metrics, logs]}}\n  restore_dashboards: {{default: false}}\nsteps:\n  - id: list\n    uses: command\n    with: {{argv: [echo, '{{\"name\": \"backup-7\"}}']}}\n  - id: drop\n    needs: [list]\n    uses: command\n    for_each: params.databases\n    with: {{argv: [echo, \"DROP {{{{ item }}}} ({{{{ index }}}}) from {{{{ steps.list.outputs.json.name }}}}\"]}}\n  - id: dashboards\n    when: params.restore_dashboards\n    uses: command\n    with: {{shell: echo x >> dashboards.txt}}\n  - id: summary\n    needs: [drop, dashboards]\n    uses: command\n    with: {{argv: [sh, -c, 'echo \"$0\" > summary.txt', \"{{{{ steps.drop.outputs | map(attribute='stdout') | map('trim') | join(',') }}}}\"]}}\n"),
    );
    let ran = ws.runbook(&[
        "run",
        file.to_str().unwrap(),
        "--set",
        "databases=[a, b, c]",
    ]);
    assert_eq!(ran.code, 0, "{ran}");
    assert_eq!(
        ws.read("summary.txt").trim(),
        "DROP a (0) from backup-7,DROP b (1) from backup-7,DROP c (2) from backup-7"
    );
    assert!(!ws.exists("dashboards.txt"));
    let id = ran.run_id();
    assert_eq!(
        ws.events(&id, "step_skipped", "dashboards")[0]["reason"],
        "`when: params.restore_dashboards` is false"
    );
    assert_eq!(ws.events(&id, "step_expanded", "drop")[0]["items"], 3);
}

#[test]
fn undefined_output_fails_the_step_naming_what_exists() {
    let ws = Workspace::new();
    let file = ws.write(
        "typo.yaml",
        &format!("{HEAD}steps:\n  - id: list\n    uses: command\n    with: {{argv: [echo, hi]}}\n  - id: use\n    needs: [list]\n    uses: command\n    with: {{argv: [echo, \"{{{{ steps.list.outputs.stdot }}}}\"]}}\n"),
    );
    let ran = ws.runbook(&["run", file.to_str().unwrap()]);
    assert_eq!(ran.code, 1, "{ran}");
    assert!(ran.stdout.contains("`steps.list.outputs.stdot` is undefined (`steps.list.outputs` has: stdout, stderr, exit_code)"), "{ran}");
}

#[test]
fn always_steps_clean_up_after_a_failure_and_continue_on_error_carries_on() {
    let ws = Workspace::new();
    let file = ws.write(
        "cleanup.yaml",
        &format!("{HEAD}steps:\n  - id: suspend\n    uses: command\n    with: {{shell: echo suspended >> events.txt}}\n  - id: optional\n    needs: [suspend]\n    continue_on_error: true\n    uses: command\n    with: {{shell: 'exit 1'}}\n  - id: copy\n    needs: [optional]\n    uses: command\n    with: {{shell: 'echo copy >> events.txt; exit 1'}}\n  - id: after-copy\n    needs: [copy]\n    uses: command\n    with: {{shell: echo never >> events.txt}}\n  - id: resume-cronjobs\n    needs: [after-copy]\n    always: true\n    uses: command\n    with: {{shell: echo resumed >> events.txt}}\n"),
    );
    let ran = ws.runbook(&["run", file.to_str().unwrap()]);
    assert_eq!(ran.code, 1, "{ran}");
    assert_eq!(ws.read("events.txt"), "suspended\ncopy\nresumed\n");
    // On resume the failed copy runs again, and the clean-up runs again after it.
    let resumed = ws.runbook(&["resume", &ran.run_id()]);
    assert_eq!(resumed.code, 1, "{resumed}");
    assert_eq!(
        ws.read("events.txt"),
        "suspended\ncopy\nresumed\ncopy\nresumed\n"
    );
}

#[test]
fn included_runbooks_run_as_one_step_with_their_params() {
    let ws = Workspace::new();
    ws.write(
        "child/restore.yaml",
        "apiVersion: runbook/v1\nkind: Runbook\nname: child\nparams:\n  service: {required: true}\nsteps:\n  - id: restore\n    uses: command\n    with: {shell: 'echo {{ params.service }} >> restored.txt; echo {{ params.service }}'}\n",
    );
    let file = ws.write(
        "all.yaml",
        &format!("{HEAD}steps:\n  - id: grafana\n    uses: runbook\n    with: {{file: child/restore.yaml, params: {{service: grafana}}}}\n  - id: harbor\n    uses: runbook\n    with: {{file: child/restore.yaml, params: {{service: harbor}}}}\n  - id: report\n    needs: [grafana, harbor]\n    uses: command\n    with: {{argv: [sh, -c, 'echo \"$0\" > report.txt', \"{{{{ steps.grafana.outputs.restore.stdout | trim }}}}+{{{{ steps.harbor.outputs.restore.stdout | trim }}}}\"]}}\n"),
    );
    let ran = ws.runbook(&["run", file.to_str().unwrap()]);
    assert_eq!(ran.code, 0, "{ran}");
    assert_eq!(ws.read("report.txt").trim(), "grafana+harbor");
    let mut restored: Vec<String> = ws.read("restored.txt").lines().map(String::from).collect();
    restored.sort();
    assert_eq!(restored, ["grafana", "harbor"]);
    assert_eq!(
        ws.events(&ran.run_id(), "step_succeeded", "grafana.restore")
            .len(),
        1
    );

    let missing = ws.write("missing.yaml", &format!("{HEAD}steps:\n  - id: grafana\n    uses: runbook\n    with: {{file: child/restore.yaml, params: {{servce: x}}}}\n"));
    let invalid = ws.runbook(&["validate", missing.to_str().unwrap()]);
    assert_eq!(invalid.code, 2, "{invalid}");
    assert!(
        invalid.stderr.contains("has no param `servce`")
            && invalid.stderr.contains("did you mean `service`?"),
        "{invalid}"
    );
    assert!(
        invalid
            .stderr
            .contains("does not pass the required param `service`"),
        "{invalid}"
    );
}

#[test]
fn plan_shows_waves_rendered_inputs_and_runtime_placeholders() {
    let ws = Workspace::new();
    let file = ws.write(
        "plan.yaml",
        &format!("{HEAD}params:\n  databases: {{default: [metrics, logs]}}\nsteps:\n  - id: find\n    uses: command\n    with: {{argv: [echo, backup-1]}}\n  - id: other\n    uses: sleep\n    with: {{duration: 1s}}\n  - id: drop\n    needs: [find]\n    uses: command\n    for_each: params.databases\n    with: {{argv: [echo, \"DROP DATABASE {{{{ item }}}} from {{{{ steps.find.outputs.stdout }}}}\"]}}\n"),
    );
    let plan = ws.runbook(&["plan", file.to_str().unwrap()]);
    assert_eq!(plan.code, 0, "{plan}");
    assert!(
        plan.stdout.contains("Wave 1 (2 steps in parallel)"),
        "{plan}"
    );
    assert!(plan.stdout.contains("for each of 2 items"), "{plan}");
    assert!(
        plan.stdout
            .contains("-> echo 'DROP DATABASE metrics from ⟨steps.find.outputs.stdout⟩'"),
        "{plan}"
    );
    assert!(
        plan.stdout
            .contains("-> echo 'DROP DATABASE logs from ⟨steps.find.outputs.stdout⟩'"),
        "{plan}"
    );
    let json = ws.runbook(&["plan", file.to_str().unwrap(), "--output", "json"]);
    let plan: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(plan["waves"].as_array().unwrap().len(), 2);
    assert!(ws.runs().is_empty(), "plan recorded a run");
}

#[test]
fn plan_shows_values_computed_from_step_outputs_as_their_expression() {
    // `int` of a value only known at run time cannot be computed while planning; the plan says
    // what will be computed instead of failing. A filter that fails on known values still fails.
    let ws = Workspace::new();
    let file = ws.write(
        "computed.yaml",
        &format!("{HEAD}steps:\n  - id: count\n    uses: command\n    with: {{shell: echo 2}}\n  - id: verify\n    needs: [count]\n    uses: assert\n    with:\n      that: \"{{{{ steps.count.outputs.stdout | trim | int == 2 }}}}\"\n  - id: same\n    needs: [count]\n    uses: assert\n    with:\n      that: \"{{{{ steps.count.outputs.exit_code == 0 }}}}\"\n"),
    );
    let plan = ws.runbook(&["plan", file.to_str().unwrap()]);
    assert_eq!(plan.code, 0, "{plan}");
    // A comparison with a placeholder would print a made-up `false`.
    assert!(
        plan.stdout
            .contains("check that ⟨steps.count.outputs.exit_code == 0⟩"),
        "{plan}"
    );
    assert!(!plan.stdout.contains("check that false"), "{plan}");
    assert!(
        plan.stdout
            .contains("⟨steps.count.outputs.stdout | trim | int == 2⟩"),
        "{plan}"
    );
    let broken = ws.write(
        "broken.yaml",
        &format!("{HEAD}steps:\n  - id: verify\n    uses: assert\n    with:\n      that: \"{{{{ 'two' | int + undefined_thing.x }}}}\"\n"),
    );
    let plan = ws.runbook(&["plan", broken.to_str().unwrap()]);
    assert_eq!(plan.code, 2, "{plan}");
    assert!(plan.stderr.contains("broken.yaml:"), "{plan}");
}

#[test]
fn graph_and_schema_describe_the_runbook() {
    let ws = Workspace::new();
    let file = ws.write(
        "graph.yaml",
        &format!("{HEAD}steps:\n  - id: a\n    uses: sleep\n    with: {{duration: 1s}}\n  - id: b\n    needs: [a]\n    destructive: true\n    uses: command\n    with: {{argv: [rm, x]}}\n"),
    );
    let dot = ws.runbook(&["graph", file.to_str().unwrap()]);
    assert!(dot.stdout.starts_with("digraph"), "{dot}");
    assert!(dot.stdout.contains("\"a\" -> \"b\""), "{dot}");
    let mermaid = ws.runbook(&["graph", file.to_str().unwrap(), "--format", "mermaid"]);
    assert!(
        mermaid.stdout.contains("flowchart") && mermaid.stdout.contains(":::destructive"),
        "{mermaid}"
    );
    let schema: Value = serde_json::from_str(&ws.runbook(&["schema"]).stdout).unwrap();
    let text = schema.to_string();
    for kind in ["command", "approve", "sleep", "assert", "runbook"] {
        assert!(text.contains(&format!("\"{kind}\"")), "schema lacks {kind}");
    }
}

#[test]
fn approve_passes_with_yes_and_is_recorded() {
    let ws = Workspace::new();
    let file = ws.write(
        "approve.yaml",
        &format!(
            "{HEAD}steps:\n  - id: ok\n    uses: approve\n    with: {{message: Delete the PVC?}}\n"
        ),
    );
    // Without a terminal no one can approve: refused before the run starts (exit 4).
    let refused = ws.runbook(&["run", file.to_str().unwrap()]);
    assert_eq!(refused.code, 4, "{refused}");
    assert!(
        refused.stderr.contains("asks the operator") && refused.stderr.contains("pass --yes"),
        "{refused}"
    );
    assert!(ws.runs().is_empty(), "{refused}");
    let ran = ws.runbook(&["run", file.to_str().unwrap(), "--yes"]);
    assert_eq!(ran.code, 0, "{ran}");
    let id = ran.run_id();
    assert_eq!(
        ws.events(&id, "step_succeeded", "ok")[0]["outputs"]["approved_by"],
        "--yes"
    );
}
