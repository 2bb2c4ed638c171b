//! Messages that say the truth at 3 a.m.: the exact resume line, the cause of a failure, plain
//! HTTP called out in `plan`, input mistakes refused with how to fix them, and an approval that
//! cannot be given refused before anything runs.

use runbook_engine::exit;
mod common;

use common::Workspace;

#[test]
fn the_resume_line_says_where_the_state_is_and_which_secrets_to_give_again() {
    let ws = Workspace::new();
    let file = ws.write(
        "fails.yaml",
        r#"apiVersion: runbook/v1
kind: Runbook
name: fails
params:
  token: {secret: true}
steps:
  - id: login
    uses: command
    with: {shell: 'echo "login as admin: token rejected by the server" >&2; exit 7'}
"#,
    );
    let state = ws.path("elsewhere");
    let ran = ws.runbook(&[
        "run",
        file.to_str().unwrap(),
        "--set",
        "token=T0ken-abcdef",
        "--state-dir",
        state.to_str().unwrap(),
    ]);
    assert_eq!(ran.code, exit::STEP_FAILED, "{ran}");
    let id = ran.run_id();
    let line = format!(
        "runbook resume {id} --state-dir {} --set token=…",
        state.display()
    );
    assert!(ran.stdout.contains(&line), "{ran}");
    // The cause, not only `... exited with code 7:`.
    assert!(ran.stdout.contains("exited with code 7"), "{ran}");
    assert!(ran.stdout.contains("token rejected by the server"), "{ran}");
    assert!(!ran.stdout.contains("T0ken-abcdef"), "{ran}");
    // The line works from another directory.
    let elsewhere = Workspace::new();
    let mut command = elsewhere.command(&[]);
    command.args(line.trim_start_matches("runbook ").split(' ').map(|a| {
        if a == "token=…" {
            "token=T0ken-abcdef"
        } else {
            a
        }
    }));
    let resumed = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&resumed.stdout);
    assert_eq!(resumed.status.code(), Some(exit::STEP_FAILED), "{stdout}");
    assert!(stdout.contains(&format!("Resuming run {id}")), "{stdout}");
}

#[test]
fn plan_calls_out_plain_http_connections() {
    let ws = Workspace::new();
    let file = ws.write(
        "http.yaml",
        r#"apiVersion: runbook/v1
kind: Runbook
name: http
connections:
  influx: {kind: http, url: "http://influxdb.monitoring:8086", username: admin, password: pw-123456}
  search: {kind: http, url: "https://opensearch.example:9200"}
steps:
  - id: ping
    uses: http.request
    with: {connection: influx, path: /ping}
"#,
    );
    let plan = ws.runbook(&["plan", file.to_str().unwrap()]);
    assert_eq!(plan.code, exit::OK, "{plan}");
    let influx = plan.stdout.lines().find(|l| l.contains("influx ")).unwrap();
    assert!(influx.contains("PLAIN HTTP, NOT ENCRYPTED"), "{plan}");
    assert!(!influx.contains("TLS verified"), "{plan}");
    let search = plan.stdout.lines().find(|l| l.contains("search ")).unwrap();
    assert!(search.contains("TLS verified"), "{plan}");
}

#[test]
fn a_set_value_that_is_not_yaml_and_parallel_zero_are_refused() {
    let ws = Workspace::new();
    let file = ws.write(
        "dbs.yaml",
        r#"apiVersion: runbook/v1
kind: Runbook
name: dbs
params:
  dbs: {default: [a]}
steps:
  - id: each
    uses: command
    for_each: params.dbs
    with: {shell: 'echo {{ item }} >> marker'}
"#,
    );
    let file = file.to_str().unwrap();
    let ran = ws.runbook(&["run", file, "--set", "dbs=[a, b"]);
    assert_eq!(ran.code, exit::INVALID, "{ran}");
    assert!(ran.stderr.contains("not valid YAML"), "{ran}");
    assert!(ran.stderr.contains(r#"--set 'dbs="[a, b"'"#), "{ran}");
    let ran = ws.runbook(&["run", file, "--parallel", "0"]);
    assert_eq!(ran.code, exit::INVALID, "{ran}");
    assert!(ran.stderr.contains("at least 1"), "{ran}");
    assert!(!ws.exists("marker") && ws.runs().is_empty());
}

#[test]
fn an_approval_without_a_terminal_or_yes_is_refused_before_anything_runs() {
    let ws = Workspace::new();
    let file = ws.write(
        "approve.yaml",
        r#"apiVersion: runbook/v1
kind: Runbook
name: approve
steps:
  - id: first
    uses: command
    with: {shell: 'echo x >> marker'}
  - id: go-ahead
    needs: [first]
    uses: approve
    with: {message: Restore over production?}
"#,
    );
    let ran = ws.runbook(&["run", file.to_str().unwrap()]);
    assert_eq!(ran.code, exit::REFUSED, "{ran}");
    assert!(ran.stderr.contains("`go-ahead` asks the operator"), "{ran}");
    assert!(ran.stderr.contains("--yes"), "{ran}");
    assert!(!ws.exists("marker"), "a step ran");
    assert!(ws.runs().is_empty(), "a run was recorded");
    let ran = ws.runbook(&["run", file.to_str().unwrap(), "--yes"]);
    assert_eq!(ran.code, exit::OK, "{ran}");
}

fn on_a_terminal(ws: &Workspace, args: &[&str]) -> common::pty::Terminal {
    let mut command = ws.command(args);
    command.env("TERM", "xterm");
    common::pty::Terminal::spawn(command)
}

#[test]
fn ctrl_c_at_the_destructive_steps_prompt_aborts_at_once() {
    let ws = Workspace::new();
    let file = ws.write(
        "drop.yaml",
        r#"apiVersion: runbook/v1
kind: Runbook
name: drop
steps:
  - id: drop
    uses: command
    destructive: true
    with: {shell: 'echo x >> marker'}
"#,
    );
    let mut terminal = on_a_terminal(&ws, &["run", file.to_str().unwrap()]);
    terminal.wait_for("[y/N]", std::time::Duration::from_secs(20));
    terminal.type_keys("\x03");
    let code = terminal.exit_code(std::time::Duration::from_secs(5));
    assert_eq!(code, Some(exit::REFUSED), "{}", terminal.screen());
    assert!(
        terminal.screen().contains("interrupted at the prompt"),
        "{}",
        terminal.screen()
    );
    assert!(!ws.exists("marker"), "the step ran");
    assert!(ws.runs().is_empty(), "a run was recorded");
}

#[test]
fn ctrl_c_at_an_approve_prompt_interrupts_the_run_and_resume_asks_again() {
    let ws = Workspace::new();
    let file = ws.write(
        "gate.yaml",
        r#"apiVersion: runbook/v1
kind: Runbook
name: gate
steps:
  - id: before
    uses: command
    with: {shell: 'echo x >> before.txt'}
  - id: go-ahead
    needs: [before]
    uses: approve
    with: {message: Restore over production?}
  - id: after
    needs: [go-ahead]
    uses: command
    with: {shell: 'echo x >> after.txt'}
"#,
    );
    let mut terminal = on_a_terminal(&ws, &["run", file.to_str().unwrap()]);
    terminal.wait_for(
        "Restore over production? [y/N]",
        std::time::Duration::from_secs(20),
    );
    terminal.type_keys("\x03");
    let code = terminal.exit_code(std::time::Duration::from_secs(5));
    assert_eq!(code, Some(exit::INTERRUPTED), "{}", terminal.screen());
    assert!(
        terminal.screen().contains("runbook resume"),
        "{}",
        terminal.screen()
    );
    assert!(!ws.exists("after.txt"));
    let id = ws.runs().pop().unwrap();
    let resumed = ws.runbook(&["resume", &id, "--yes"]);
    assert_eq!(resumed.code, exit::OK, "{resumed}");
    assert_eq!(
        (ws.count_lines("before.txt"), ws.count_lines("after.txt")),
        (1, 1)
    );
}

#[test]
fn planning_a_runbook_that_reads_config_without_a_config_dir_is_one_clear_error() {
    let ws = Workspace::new();
    let file = ws.write(
        "cfg.yaml",
        r#"apiVersion: runbook/v1
kind: Runbook
name: cfg
steps:
  - id: a
    uses: command
    with: {shell: 'echo {{ config.objectStorage.buckets.velero }} {{ config.objectStorage.s3.region }}'}
  - id: b
    uses: command
    with: {shell: 'echo {{ config.global.ck8sVersion }}'}
"#,
    );
    let plan = ws.runbook(&["plan", file.to_str().unwrap()]);
    assert_eq!(plan.code, exit::INVALID, "{plan}");
    assert_eq!(plan.stderr.matches("error:").count(), 1, "{plan}");
    assert!(
        plan.stderr.contains("no config directory was given"),
        "{plan}"
    );
    assert!(plan.stderr.contains("--config-dir DIR"), "{plan}");
    // Validation alone does not need the config.
    assert_eq!(
        ws.runbook(&["validate", file.to_str().unwrap()]).code,
        exit::OK
    );
}

#[test]
fn an_unknown_key_in_a_params_file_is_reported_at_its_line_in_that_file() {
    let ws = Workspace::new();
    let file = ws.write(
        "dbs.yaml",
        r#"apiVersion: runbook/v1
kind: Runbook
name: dbs
params:
  databases: {default: [a]}
steps:
  - id: each
    uses: command
    with: {shell: 'echo {{ params.databases }} >> marker'}
"#,
    );
    let params = ws.write("params.yaml", "databases: [x]\n# the typo:\ndatabse: [y]\n");
    for command in ["plan", "run"] {
        let ran = ws.runbook(&[
            command,
            file.to_str().unwrap(),
            "--params",
            params.to_str().unwrap(),
        ]);
        assert_eq!(ran.code, exit::INVALID, "{ran}");
        assert!(
            ran.stderr.contains(&format!("{}:3:1", params.display())),
            "{ran}"
        );
        assert!(ran.stderr.contains("did you mean `databases`"), "{ran}");
        assert_eq!(ran.stderr.matches("error:").count(), 1, "{ran}");
    }
    assert!(!ws.exists("marker"));
}

/// The screen as the operator sees it at the end: the pty's bytes through a terminal emulator.
fn final_screen(terminal: &common::pty::Terminal) -> String {
    let size = |n| std::num::NonZeroU16::new(n).expect("not zero");
    let mut parser = vt100::Parser::new(size(common::pty::ROWS), size(common::pty::COLUMNS), 0);
    parser.process(terminal.screen().as_bytes());
    parser
        .screen()
        .rows(0, common::pty::COLUMNS)
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn no_spinner_is_left_on_the_screen_after_an_interruption() {
    let ws = Workspace::new();
    let file = ws.write(
        "flaky.yaml",
        r#"apiVersion: runbook/v1
kind: Runbook
name: flaky
steps:
  - id: flaky
    uses: command
    with: {shell: 'echo try >> tries.txt; exit 1'}
    retry: {attempts: 3, delay: 1h}
  - id: slow
    uses: command
    with: {argv: [sleep, "1"]}
"#,
    );
    let mut terminal = on_a_terminal(&ws, &["run", file.to_str().unwrap(), "--yes"]);
    // The flaky step is waiting out its retry delay, with its line on the screen.
    terminal.wait_for("retry", std::time::Duration::from_secs(20));
    terminal.type_keys("\x03");
    let code = terminal.exit_code(std::time::Duration::from_secs(20));
    assert_eq!(code, Some(exit::INTERRUPTED), "{}", final_screen(&terminal));
    let screen = final_screen(&terminal);
    assert!(screen.contains("Interrupted"), "{screen}");
    let spinners = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
    let frozen: Vec<&str> = screen
        .lines()
        .filter(|line| line.trim_start().starts_with(spinners))
        .collect();
    assert!(
        frozen.is_empty(),
        "spinner lines left behind: {frozen:?}\n{screen}"
    );
    assert!(
        terminal.echoes_control_characters(),
        "the terminal's settings were put back"
    );
}
