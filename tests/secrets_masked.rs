//! Secrets never appear in output, logs, the journal, reports or error messages.

use runbook_engine::exit;
mod common;

use common::Workspace;

const SECRET: &str = "s3cr3t-Pa55w0rd!";
const MULTILINE_LINE: &str = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC";

fn secrets(ws: &Workspace) -> String {
    ws.write(
        "secrets.yaml",
        &format!("influxDB:\n  users:\n    adminPassword: \"{SECRET}\"\ntls:\n  key: |\n    -----BEGIN PRIVATE KEY-----\n    {MULTILINE_LINE}\n    -----END PRIVATE KEY-----\n"),
    )
    .to_str()
    .unwrap()
    .to_string()
}

#[test]
fn a_secret_printed_by_a_command_is_masked_everywhere() {
    let ws = Workspace::new();
    let secrets = secrets(&ws);
    let file = ws.write(
        "leaky.yaml",
        r#"apiVersion: runbook/v1
kind: Runbook
name: leaky
steps:
  - id: echo
    uses: command
    with:
      shell: echo "password={{ secrets.influxDB.users.adminPassword }}"; echo "$PW" | base64; echo "$PW" >&2
      env: {PW: "{{ secrets.influxDB.users.adminPassword }}"}
  - id: key
    uses: command
    with: {shell: 'printf "%s\n" "$KEY"', env: {KEY: "{{ secrets.tls.key }}"}}
  - id: fail
    needs: [echo, key]
    uses: command
    with: {shell: 'echo "cannot log in with {{ secrets.influxDB.users.adminPassword }}" >&2; exit 1'}
"#,
    );
    let file = file.to_str().unwrap();
    let plan = ws.runbook(&["plan", file, "--secrets", &secrets]);
    let plain = ws.runbook(&["run", file, "--secrets", &secrets]);
    assert_eq!(plain.code, exit::STEP_FAILED, "{plain}");
    let id = plain.run_id();
    let json = ws.runbook(&["run", file, "--secrets", &secrets, "--output", "json"]);
    assert_eq!(json.code, exit::STEP_FAILED, "{json}");
    let json_id = ws.runs().into_iter().find(|r| *r != id).unwrap();
    let status = ws.runbook(&["status", &id]);
    let report_md = ws.runbook(&["report", &id]);
    let report_json = ws.runbook(&["report", &id, "--format", "json"]);
    let report_junit = ws.runbook(&["report", &id, "--format", "junit"]);
    let journal = ws.journal_text(&id) + &ws.journal_text(&json_id);

    // The command really did print it: the masked form is there instead.
    assert!(journal.contains("password=••••"), "{journal}");
    assert!(plain.stdout.contains("cannot log in with ••••"), "{plain}");
    let b64 = "czNjcjN0LVBhNTV3MHJkIQo="; // base64 of the secret and a newline, as `base64` prints it
    for (what, text) in [
        ("plan", plan.stdout + &plan.stderr),
        ("run stdout", plain.stdout.clone()),
        ("run stderr", plain.stderr.clone()),
        ("json output", json.stdout + &json.stderr),
        ("journal", journal),
        ("status", status.stdout),
        ("report md", report_md.stdout),
        ("report json", report_json.stdout),
        ("report junit", report_junit.stdout),
    ] {
        assert!(!text.contains(SECRET), "{what} shows the secret:\n{text}");
        assert!(
            !text.contains(b64),
            "{what} shows the secret in base64:\n{text}"
        );
        assert!(
            !text.contains(MULTILINE_LINE),
            "{what} shows a line of the multi-line secret:\n{text}"
        );
    }
    let mode = std::fs::metadata(ws.path(&format!(".runbook/runs/{id}/journal.jsonl"))).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        mode.permissions().mode() & 0o777,
        0o600,
        "the journal is readable by others"
    );
}

#[test]
fn secret_params_and_vars_are_masked_and_not_stored() {
    let ws = Workspace::new();
    let file = ws.write(
        "params.yaml",
        r#"apiVersion: runbook/v1
kind: Runbook
name: p
params:
  token: {required: true, secret: true}
vars:
  header: {value: "Bearer {{ params.token }}", secret: true}
steps:
  - id: show
    uses: command
    with: {argv: [echo, "{{ vars.header }}"]}
"#,
    );
    let ran = ws.runbook(&["run", file.to_str().unwrap(), "--set", "token=tok-12345678"]);
    assert_eq!(ran.code, exit::OK, "{ran}");
    let id = ran.run_id();
    let run_json = ws.read(&format!(".runbook/runs/{id}/run.json"));
    assert!(!run_json.contains("tok-12345678"), "{run_json}");
    let journal = ws.journal_text(&id);
    assert!(
        !journal.contains("tok-12345678") && journal.contains("••••"),
        "{journal}"
    );
}

#[test]
fn outputs_of_a_secret_step_are_masked_downstream() {
    let ws = Workspace::new();
    let file = ws.write(
        "token.yaml",
        r#"apiVersion: runbook/v1
kind: Runbook
name: t
steps:
  - id: mint
    uses: command
    secret: true
    with: {shell: 'echo tok-$((4000 + 4))-8f3a9c1e55'}
  - id: use
    needs: [mint]
    uses: command
    with: {shell: 'echo "using {{ steps.mint.outputs.stdout | trim }}"; printf %s "{{ steps.mint.outputs.stdout | trim }}" > token.txt'}
"#,
    );
    let ran = ws.runbook(&["run", file.to_str().unwrap()]);
    assert_eq!(ran.code, exit::OK, "{ran}");
    // The next step got the real value; nothing shown or stored has it.
    assert_eq!(ws.read("token.txt"), "tok-4004-8f3a9c1e55");
    let journal = ws.journal_text(&ran.run_id());
    assert!(journal.contains("using ••••"), "{journal}");
    assert!(
        !journal.contains("tok-4004") && !ran.stdout.contains("tok-4004"),
        "{ran}\n{journal}"
    );
}

#[test]
fn a_secret_a_command_prints_json_escaped_is_masked_in_stdout_json_and_the_journal() {
    let ws = Workspace::new();
    // A quote and a backslash: JSON escapes both.
    let secret = r#"Pw"d\Qx7-zz9"#;
    let escaped = r#"Pw\"d\\Qx7-zz9"#;
    let secrets = ws.write("secrets.yaml", &format!("db:\n  password: '{secret}'\n"));
    let file = ws.write(
        "json.yaml",
        r#"apiVersion: runbook/v1
kind: Runbook
name: json
steps:
  - id: creds
    uses: command
    with:
      argv: [python3, -c, 'import json, os; print(json.dumps({"password": os.environ["PW"]}))']
      env: {PW: "{{ secrets.db.password }}"}
"#,
    );
    let file = file.to_str().unwrap();
    let secrets = secrets.to_str().unwrap();
    let plain = ws.runbook(&["run", file, "--secrets", secrets]);
    assert_eq!(plain.code, exit::OK, "{plain}");
    let id = plain.run_id();
    let json = ws.runbook(&["run", file, "--secrets", secrets, "--output", "json"]);
    assert_eq!(json.code, exit::OK, "{json}");
    let journal = ws.journal_text(&id);
    // The command printed it: the journal's stdout holds the masked JSON, still valid JSON.
    let outputs = ws.outputs(&id, "creds");
    let printed: serde_json::Value =
        serde_json::from_str(outputs["stdout"].as_str().unwrap()).unwrap();
    assert_eq!(printed["password"], "••••", "{outputs}");
    assert_eq!(outputs["json"]["password"], "••••", "{outputs}");
    for (what, text) in [
        ("run output", format!("{plain}")),
        ("json output", format!("{json}")),
        ("journal", journal),
    ] {
        assert!(!text.contains(secret), "{what} shows the secret:\n{text}");
        assert!(
            !text.contains(escaped),
            "{what} shows the JSON-escaped secret:\n{text}"
        );
        assert!(
            !text.contains(r#"Pw\\\"d"#),
            "{what} shows the secret escaped twice:\n{text}"
        );
    }
}

#[test]
fn numeric_secrets_are_masked_in_plan_output_and_journal() {
    let ws = Workspace::new();
    let secrets = ws.write("secrets.yaml", "vault:\n  pin: 27182818\n");
    let file = ws.write(
        "pins.yaml",
        r#"apiVersion: runbook/v1
kind: Runbook
name: pins
params:
  pin: {secret: true}
steps:
  - id: show
    uses: command
    with: {shell: 'echo "pin {{ params.pin }} vault {{ secrets.vault.pin }}"; echo "{\"pin\": {{ params.pin }}}"'}
"#,
    );
    let file = file.to_str().unwrap();
    let secrets = secrets.to_str().unwrap();
    let inputs = ["--set", "pin=48151623", "--secrets", secrets];
    let plan = ws.runbook(&[&["plan", file][..], &inputs].concat());
    assert_eq!(plan.code, exit::OK, "{plan}");
    let run = ws.runbook(&[&["run", file][..], &inputs].concat());
    assert_eq!(run.code, exit::OK, "{run}");
    let id = run.run_id();
    let journal = ws.journal_text(&id);
    let outputs = ws.outputs(&id, "show");
    assert!(
        outputs["stdout"]
            .as_str()
            .unwrap()
            .contains("pin •••• vault ••••"),
        "{outputs}"
    );
    assert!(plan.stdout.contains("••••"), "{plan}");
    for (what, text) in [
        ("plan", format!("{plan}")),
        ("run", format!("{run}")),
        ("journal", journal),
        ("run.json", ws.read(&format!(".runbook/runs/{id}/run.json"))),
    ] {
        for number in ["48151623", "27182818"] {
            assert!(!text.contains(number), "{what} shows {number}:\n{text}");
        }
    }
}

#[test]
fn a_secret_equal_to_a_number_the_journal_writes_keeps_the_journal_valid() {
    let ws = Workspace::new();
    let file = ws.write(
        "token.yaml",
        r#"apiVersion: runbook/v1
kind: Runbook
name: token
params:
  token: {secret: true}
steps:
  - id: flaky
    uses: command
    retry: {attempts: 2, delay: 1s}
    with: {shell: 'echo "token {{ params.token }}"; [ -e tried ] || { touch tried; exit 1; }'}
"#,
    );
    let run = ws.runbook(&["run", file.to_str().unwrap(), "--set", "token=1000"]);
    assert_eq!(run.code, exit::OK, "{run}");
    let id = run.run_id();
    // Every record parses, the engine's own 1000 is kept, the secret 1000 is masked.
    let failed = ws.events(&id, "step_failed", "flaky");
    assert_eq!(failed[0]["retry_in_ms"], 1000, "{failed:?}");
    assert!(
        ws.outputs(&id, "flaky")["stdout"]
            .as_str()
            .unwrap()
            .contains("token ••••")
    );
}
