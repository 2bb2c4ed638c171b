//! The runbook format at work: params, vars, for_each, when, outputs between steps, continue_on_error,
//! always, includes, plan, graph and schema.

use runbook_engine::exit;
mod common;

use common::Workspace;
use serde_json::Value;

const HEAD: &str = r#"apiVersion: runbook/v1
kind: Runbook
name: features
"#;

#[test]
fn outputs_flow_between_steps_and_for_each_collects_them() {
    let ws = Workspace::new();
    let file = ws.write(
        "flow.yaml",
        &format!(r#"{HEAD}params:
  databases: {{default: [metrics, logs]}}
  restore_dashboards: {{default: false}}
steps:
  - id: list
    uses: command
    with: {{argv: [echo, '{{"name": "backup-7"}}']}}
  - id: drop
    needs: [list]
    uses: command
    for_each: params.databases
    with: {{argv: [echo, "DROP {{{{ item }}}} ({{{{ index }}}}) from {{{{ steps.list.outputs.json.name }}}}"]}}
  - id: dashboards
    when: params.restore_dashboards
    uses: command
    with: {{shell: echo x >> dashboards.txt}}
  - id: summary
    needs: [drop, dashboards]
    uses: command
    with: {{argv: [sh, -c, 'echo "$0" > summary.txt', "{{{{ steps.drop.outputs | map(attribute='stdout') | map('trim') | join(',') }}}}"]}}
"#),
    );
    let ran = ws.runbook(&[
        "run",
        file.to_str().unwrap(),
        "--set",
        "databases=[a, b, c]",
    ]);
    assert_eq!(ran.code, exit::OK, "{ran}");
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
        &format!(
            r#"{HEAD}steps:
  - id: list
    uses: command
    with: {{argv: [echo, hi]}}
  - id: use
    needs: [list]
    uses: command
    with: {{argv: [echo, "{{{{ steps.list.outputs.stdot }}}}"]}}
"#
        ),
    );
    let ran = ws.runbook(&["run", file.to_str().unwrap()]);
    assert_eq!(ran.code, exit::STEP_FAILED, "{ran}");
    assert!(ran.stdout.contains("`steps.list.outputs.stdot` is undefined (`steps.list.outputs` has: stdout, stderr, exit_code)"), "{ran}");
}

#[test]
fn always_steps_clean_up_after_a_failure_and_continue_on_error_carries_on() {
    let ws = Workspace::new();
    let file = ws.write(
        "cleanup.yaml",
        &format!(
            r#"{HEAD}steps:
  - id: suspend
    uses: command
    with: {{shell: echo suspended >> events.txt}}
  - id: optional
    needs: [suspend]
    continue_on_error: true
    uses: command
    with: {{shell: 'exit 1'}}
  - id: copy
    needs: [optional]
    uses: command
    with: {{shell: 'echo copy >> events.txt; exit 1'}}
  - id: after-copy
    needs: [copy]
    uses: command
    with: {{shell: echo never >> events.txt}}
  - id: resume-cronjobs
    needs: [after-copy]
    always: true
    uses: command
    with: {{shell: echo resumed >> events.txt}}
"#
        ),
    );
    let ran = ws.runbook(&["run", file.to_str().unwrap()]);
    assert_eq!(ran.code, exit::STEP_FAILED, "{ran}");
    assert_eq!(ws.read("events.txt"), "suspended\ncopy\nresumed\n");
    // On resume the failed copy runs again, and the clean-up runs again after it.
    let resumed = ws.runbook(&["resume", &ran.run_id()]);
    assert_eq!(resumed.code, exit::STEP_FAILED, "{resumed}");
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
        r#"apiVersion: runbook/v1
kind: Runbook
name: child
params:
  service: {required: true}
steps:
  - id: restore
    uses: command
    with: {shell: 'echo {{ params.service }} >> restored.txt; echo {{ params.service }}'}
"#,
    );
    let file = ws.write(
        "all.yaml",
        &format!(r#"{HEAD}steps:
  - id: grafana
    uses: runbook
    with: {{file: child/restore.yaml, params: {{service: grafana}}}}
  - id: harbor
    uses: runbook
    with: {{file: child/restore.yaml, params: {{service: harbor}}}}
  - id: report
    needs: [grafana, harbor]
    uses: command
    with: {{argv: [sh, -c, 'echo "$0" > report.txt', "{{{{ steps.grafana.outputs.restore.stdout | trim }}}}+{{{{ steps.harbor.outputs.restore.stdout | trim }}}}"]}}
"#),
    );
    let ran = ws.runbook(&["run", file.to_str().unwrap()]);
    assert_eq!(ran.code, exit::OK, "{ran}");
    assert_eq!(ws.read("report.txt").trim(), "grafana+harbor");
    let mut restored: Vec<String> = ws.read("restored.txt").lines().map(String::from).collect();
    restored.sort();
    assert_eq!(restored, ["grafana", "harbor"]);
    assert_eq!(
        ws.events(&ran.run_id(), "step_succeeded", "grafana.restore")
            .len(),
        1
    );

    let missing = ws.write(
        "missing.yaml",
        &format!(
            r#"{HEAD}steps:
  - id: grafana
    uses: runbook
    with: {{file: child/restore.yaml, params: {{servce: x}}}}
"#
        ),
    );
    let invalid = ws.runbook(&["validate", missing.to_str().unwrap()]);
    assert_eq!(invalid.code, exit::INVALID, "{invalid}");
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
        &format!(
            r#"{HEAD}params:
  databases: {{default: [metrics, logs]}}
steps:
  - id: find
    uses: command
    with: {{argv: [echo, backup-1]}}
  - id: other
    uses: sleep
    with: {{duration: 1s}}
  - id: drop
    needs: [find]
    uses: command
    for_each: params.databases
    with: {{argv: [echo, "DROP DATABASE {{{{ item }}}} from {{{{ steps.find.outputs.stdout }}}}"]}}
"#
        ),
    );
    let plan = ws.runbook(&["plan", file.to_str().unwrap()]);
    assert_eq!(plan.code, exit::OK, "{plan}");
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
        &format!(
            r#"{HEAD}steps:
  - id: count
    uses: command
    with: {{shell: echo 2}}
  - id: verify
    needs: [count]
    uses: assert
    with:
      that: "{{{{ steps.count.outputs.stdout | trim | int == 2 }}}}"
  - id: same
    needs: [count]
    uses: assert
    with:
      that: "{{{{ steps.count.outputs.exit_code == 0 }}}}"
"#
        ),
    );
    let plan = ws.runbook(&["plan", file.to_str().unwrap()]);
    assert_eq!(plan.code, exit::OK, "{plan}");
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
        &format!(
            r#"{HEAD}steps:
  - id: verify
    uses: assert
    with:
      that: "{{{{ 'two' | int + undefined_thing.x }}}}"
"#
        ),
    );
    let plan = ws.runbook(&["plan", broken.to_str().unwrap()]);
    assert_eq!(plan.code, exit::INVALID, "{plan}");
    assert!(plan.stderr.contains("broken.yaml:"), "{plan}");
}

#[test]
fn graph_and_schema_describe_the_runbook() {
    let ws = Workspace::new();
    let file = ws.write(
        "graph.yaml",
        &format!(
            r#"{HEAD}steps:
  - id: a
    uses: sleep
    with: {{duration: 1s}}
  - id: b
    needs: [a]
    destructive: true
    uses: command
    with: {{argv: [rm, x]}}
"#
        ),
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
    assert_eq!(
        schema["properties"]["steps"]["items"]["$ref"], "#/definitions/step",
        "{schema:#}"
    );
    let step = &schema["definitions"]["step"];
    let kinds: Vec<&str> = step["properties"]["uses"]["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("`uses` lists the step kinds: {step:#}"))
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    for kind in ["command", "approve", "sleep", "assert", "runbook"] {
        assert!(kinds.contains(&kind), "`uses` lacks {kind}: {kinds:?}");
    }
    // Each kind's `with` applies when `uses` names it.
    let with_of = |kind: &str| -> &Value {
        step["allOf"]
            .as_array()
            .and_then(|conditions| {
                conditions
                    .iter()
                    .find(|c| c["if"]["properties"]["uses"]["const"] == kind)
            })
            .map(|c| &c["then"]["properties"]["with"])
            .unwrap_or_else(|| panic!("no `with` schema for `uses: {kind}`: {step:#}"))
    };
    for kind in &kinds {
        assert!(with_of(kind).is_object(), "`with` of {kind}");
    }
    for (kind, required) in [
        ("sleep", "duration"),
        ("assert", "that"),
        ("approve", "message"),
        ("runbook", "file"),
    ] {
        let with = with_of(kind);
        assert!(
            with["required"]
                .as_array()
                .is_some_and(|r| r.iter().any(|k| k == required)),
            "`{required}` is required in the `with` of {kind}: {with:#}"
        );
        assert!(
            with["properties"][required].is_object(),
            "the `with` of {kind} describes `{required}`: {with:#}"
        );
    }
    let command = with_of("command");
    for input in ["argv", "shell", "env"] {
        assert!(
            command["properties"][input].is_object(),
            "the `with` of command describes `{input}`: {command:#}"
        );
    }
}

#[test]
fn approve_passes_with_yes_and_is_recorded() {
    let ws = Workspace::new();
    let file = ws.write(
        "approve.yaml",
        &format!(
            r#"{HEAD}steps:
  - id: ok
    uses: approve
    with: {{message: Delete the PVC?}}
"#
        ),
    );
    // Without a terminal no one can approve: refused before the run starts (exit 4).
    let refused = ws.runbook(&["run", file.to_str().unwrap()]);
    assert_eq!(refused.code, exit::REFUSED, "{refused}");
    assert!(
        refused.stderr.contains("asks the operator") && refused.stderr.contains("pass --yes"),
        "{refused}"
    );
    assert!(ws.runs().is_empty(), "{refused}");
    let ran = ws.runbook(&["run", file.to_str().unwrap(), "--yes"]);
    assert_eq!(ran.code, exit::OK, "{ran}");
    let id = ran.run_id();
    assert_eq!(
        ws.events(&id, "step_succeeded", "ok")[0]["outputs"]["approved_by"],
        "--yes"
    );
}
