//! Shell completions and the manual page come from the command line's own definition, so they
//! list every command; checked with the real bash and groff.

use runbook_engine::exit;
mod common;

use std::process::{Command, Stdio};

use common::Workspace;

#[test]
fn bash_completes_commands_and_options_from_the_generated_script() {
    let ws = Workspace::new();
    let script = ws.runbook(&["completions", "bash"]);
    assert_eq!(script.code, exit::OK, "{script}");
    let path = ws.write("runbook.bash", &script.stdout);
    // Load the script into bash and ask it what `runbook re<TAB>` and `runbook resume --re<TAB>` offer.
    let complete = |words: &str, current: usize| -> String {
        let probe = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD={current}; COMP_LINE='{words}'; COMP_POINT=${{#COMP_LINE}}; _runbook runbook; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            path.display()
        );
        let out = Command::new("bash")
            .args(["--norc", "-c", &probe])
            .stdin(Stdio::null())
            .output()
            .expect("bash runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let commands = complete("runbook re", 1);
    for expected in ["resume", "report"] {
        assert!(commands.lines().any(|l| l == expected), "{commands}");
    }
    let options = complete("runbook resume --re", 2);
    assert!(
        options.lines().any(|l| l == "--rerun-interrupted"),
        "{options}"
    );
    for shell in ["zsh", "fish"] {
        let script = ws.runbook(&["completions", shell]);
        assert_eq!(script.code, exit::OK, "{script}");
        assert!(script.stdout.contains("rerun-interrupted"), "{shell}");
    }
}

#[test]
fn the_manual_page_renders_with_groff_and_names_every_command() {
    let ws = Workspace::new();
    let page = ws.runbook(&["man"]);
    assert_eq!(page.code, exit::OK, "{page}");
    let mut groff = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("groff runs");
    use std::io::Write;
    groff
        .stdin
        .take()
        .unwrap()
        .write_all(page.stdout.as_bytes())
        .unwrap();
    let out = groff.wait_with_output().unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.trim().is_empty(), "groff warned: {stderr}");
    let text = String::from_utf8_lossy(&out.stdout);
    for command in [
        "validate", "plan", "run", "resume", "status", "report", "graph", "schema",
    ] {
        assert!(text.contains(command), "{command} missing:\n{text}");
    }
}

#[test]
fn every_command_explains_its_arguments_with_examples_and_exit_codes() {
    let ws = Workspace::new();
    let top = ws.runbook(&["--help"]);
    let commands: Vec<String> = top
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|c| c != "help")
        .collect();
    assert!(commands.len() >= 10, "{top}");
    for command in commands {
        let mut args = vec![command.as_str()];
        if command == "config" {
            args.push("show");
        }
        args.push("--help");
        let help = ws.runbook(&args);
        assert_eq!(help.code, exit::OK, "{help}");
        let text = help.stdout;
        assert!(text.contains("Examples:\n  runbook "), "{command}:\n{text}");
        assert!(text.contains("Exit codes: 0 "), "{command}:\n{text}");
        // Every positional argument and option has a description after its name.
        for line in text
            .lines()
            .skip_while(|l| !l.starts_with("Arguments:") && !l.starts_with("Options:"))
            .filter(|l| {
                let indent = l.len() - l.trim_start().len();
                (2..=6).contains(&indent) && l.trim_start().starts_with(['<', '-', '['])
            })
        {
            let described = line
                .trim_start()
                .split_once("  ")
                .is_some_and(|(_, d)| !d.trim().is_empty())
                || text
                    .lines()
                    .skip_while(|l| *l != line)
                    .nth(1)
                    .is_some_and(|next| next.starts_with("          "));
            assert!(
                described,
                "{command}: `{}` has no description:\n{text}",
                line.trim()
            );
        }
    }
}

#[test]
fn output_json_gives_machine_forms_of_report_and_graph() {
    let ws = Workspace::new();
    let file = ws.write(
        "two.yaml",
        r#"apiVersion: runbook/v1
kind: Runbook
name: two
steps:
  - id: a
    uses: command
    with: {shell: 'true'}
  - id: b
    needs: [a]
    uses: command
    with: {shell: 'true'}
"#,
    );
    let file = file.to_str().unwrap();
    let graph = ws.runbook(&["graph", file, "--output", "json"]);
    let graph: serde_json::Value = serde_json::from_str(&graph.stdout).expect("graph is JSON");
    assert_eq!(graph["steps"][1]["id"], "b");
    assert_eq!(graph["steps"][1]["needs"], serde_json::json!(["a"]));
    let ran = ws.runbook(&["run", file]);
    let report = ws.runbook(&["report", &ran.run_id(), "--output", "json"]);
    let report: serde_json::Value = serde_json::from_str(&report.stdout).expect("report is JSON");
    assert_eq!(report["status"], "succeeded");
    let missing = ws.runbook(&["report", "no-such-run", "--output", "json"]);
    assert_eq!(missing.code, exit::INVALID);
    let problem: serde_json::Value = serde_json::from_str(missing.stdout.trim()).unwrap();
    assert_eq!(problem["event"], "problem");
}

/// Options that would do nothing are not offered: `--state-dir` only where runs are read or
/// written, `--output` only where there are two forms to choose from.
#[test]
fn options_that_do_nothing_are_not_accepted() {
    let ws = Workspace::new();
    for args in [
        &["schema", "--state-dir", "x"][..],
        &["schema", "--output", "json"],
        &["completions", "bash", "--state-dir", "x"],
        &["man", "--output", "json"],
        &["validate", "x.yaml", "--state-dir", "x"],
        &["plan", "x.yaml", "--state-dir", "x"],
        &["graph", "x.yaml", "--state-dir", "x"],
    ] {
        let ran = ws.runbook(args);
        assert_eq!(ran.code, exit::INVALID, "{args:?}: {ran}");
        assert!(
            ran.stderr.contains("unexpected argument"),
            "{args:?}: {ran}"
        );
    }
    let help = ws.runbook(&["schema", "--help"]);
    assert!(!help.stdout.contains("--state-dir"), "{help}");
    // Where they do something they still work.
    let status = ws.runbook(&["status", "--state-dir", "elsewhere", "--output", "json"]);
    assert_eq!(status.code, exit::OK, "{status}");
}
