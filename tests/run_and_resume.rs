//! Running and resuming: parallelism, checkpoints, interruption (SIGKILL, Ctrl-C), the lock, and
//! the operator's resume choices. Side effects are counted in files the runbooks append to.

use runbook_engine::exit;
mod common;

use std::time::{Duration, Instant};

use common::{Workspace, finish, kill, millis, wait_until};
use serde_json::Value;

const HEAD: &str = r#"apiVersion: runbook/v1
kind: Runbook
name: test
"#;

#[test]
fn independent_steps_overlap_in_time() {
    let ws = Workspace::new();
    let file = ws.write(
        "parallel.yaml",
        &format!(
            r#"{HEAD}steps:
  - id: left
    uses: sleep
    with: {{duration: 600ms}}
  - id: right
    uses: sleep
    with: {{duration: 600ms}}
  - id: after
    needs: [left, right]
    uses: sleep
    with: {{duration: 10ms}}
"#
        ),
    );
    let ran = ws.runbook(&["run", file.to_str().unwrap()]);
    assert_eq!(ran.code, exit::OK, "{ran}");
    let id = ran.run_id();
    let span = |step: &str| {
        let start = millis(&ws.events(&id, "step_started", step)[0]["at"]);
        let end = millis(&ws.events(&id, "step_succeeded", step)[0]["at"]);
        (start, end)
    };
    let (left, right, after) = (span("left"), span("right"), span("after"));
    assert!(
        left.0 < right.1 && right.0 < left.1,
        "left {left:?} and right {right:?} did not overlap"
    );
    assert!(
        after.0 >= left.1.max(right.1),
        "`after` started before what it needs finished"
    );
}

#[test]
fn parallel_limit_serializes_steps() {
    let ws = Workspace::new();
    let file = ws.write(
        "parallel.yaml",
        &format!(
            r#"{HEAD}steps:
  - id: left
    uses: sleep
    with: {{duration: 300ms}}
  - id: right
    uses: sleep
    with: {{duration: 300ms}}
"#
        ),
    );
    let ran = ws.runbook(&["run", file.to_str().unwrap(), "--parallel", "1"]);
    assert_eq!(ran.code, exit::OK, "{ran}");
    let id = ran.run_id();
    let ends: Vec<i128> = ["left", "right"]
        .iter()
        .map(|s| millis(&ws.events(&id, "step_succeeded", s)[0]["at"]))
        .collect();
    let starts: Vec<i128> = ["left", "right"]
        .iter()
        .map(|s| millis(&ws.events(&id, "step_started", s)[0]["at"]))
        .collect();
    assert!(
        starts[1] >= ends[0] || starts[0] >= ends[1],
        "with --parallel 1 the steps overlapped"
    );
}

/// step `first` counts in first.txt; `slow` (a plain command: not idempotent) counts in slow.txt
/// and then waits to be killed; `last` counts in last.txt.
fn killable(ws: &Workspace) -> String {
    ws.write(
        "killable.yaml",
        &format!(
            r#"{HEAD}steps:
  - id: first
    uses: command
    with: {{shell: echo x >> first.txt}}
  - id: slow
    needs: [first]
    uses: command
    with: {{shell: 'echo x >> slow.txt; [ -e release ] || sleep 30'}}
  - id: last
    needs: [slow]
    uses: command
    with: {{shell: echo x >> last.txt}}
"#
        ),
    )
    .to_str()
    .unwrap()
    .to_string()
}

fn kill_during_slow(ws: &Workspace, file: &str) -> String {
    let child = ws.spawn(&["run", file]);
    wait_until(Duration::from_secs(20), "the slow step to start", || {
        ws.count_lines("slow.txt") == 1
    });
    kill(&child, libc::SIGKILL);
    let ran = finish(child);
    assert_eq!(ran.code, -1, "killed by a signal: {ran}");
    ws.runs().pop().expect("the run was recorded")
}

#[test]
fn killed_run_resumes_without_repeating_work() {
    let ws = Workspace::new();
    let file = killable(&ws);
    let id = kill_during_slow(&ws, &file);
    // Status reads the journal: the run never ended, the slow step was cut off.
    let status = ws.runbook(&["status", &id]);
    assert!(
        status.stdout.contains(&format!("Run {id} of test"))
            && status.stdout.contains(": interrupted"),
        "{status}"
    );
    assert!(
        status
            .stdout
            .lines()
            .any(|l| l.starts_with("first") && l.contains("succeeded")),
        "{status}"
    );
    assert!(
        status
            .stdout
            .lines()
            .any(|l| l.starts_with("slow") && l.contains("interrupted")),
        "{status}"
    );

    // Without a choice, the non-idempotent interrupted step is not run again.
    let refused = ws.runbook(&["resume", &id]);
    assert_eq!(refused.code, exit::REFUSED, "{refused}");
    assert!(
        refused.stderr.contains("not idempotent") && refused.stderr.contains("  - slow"),
        "{refused}"
    );
    assert!(
        refused
            .stderr
            .contains(&format!("runbook resume {id} --rerun-interrupted")),
        "{refused}"
    );
    assert!(
        refused
            .stderr
            .contains(&format!("runbook resume {id} --skip slow")),
        "{refused}"
    );
    assert_eq!(ws.count_lines("slow.txt"), 1);

    // The operator finished it by hand.
    let resumed = ws.runbook(&["resume", &id, "--skip", "slow"]);
    assert_eq!(resumed.code, exit::OK, "{resumed}");
    assert_eq!(ws.count_lines("first.txt"), 1, "a succeeded step ran again");
    assert_eq!(ws.count_lines("slow.txt"), 1, "the skipped step ran again");
    assert_eq!(ws.count_lines("last.txt"), 1);

    let report = ws.runbook(&["report", &id, "--format", "json"]);
    assert_eq!(report.code, exit::OK, "{report}");
    let report: serde_json::Value = serde_json::from_str(&report.stdout).unwrap();
    let steps = report["steps"].as_array().unwrap();
    let ids: Vec<&str> = steps.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["first", "slow", "last"], "every step exactly once");
    let attempts: Vec<u64> = steps
        .iter()
        .map(|s| s["attempts"].as_u64().unwrap())
        .collect();
    assert_eq!(attempts, [1, 1, 1]);
    assert_eq!(steps[1]["state"], "done-by-hand");
}

#[test]
fn rerun_interrupted_runs_the_cut_off_step_again() {
    let ws = Workspace::new();
    let file = killable(&ws);
    let id = kill_during_slow(&ws, &file);
    ws.write("release", "");
    let resumed = ws.runbook(&["resume", &id, "--rerun-interrupted"]);
    assert_eq!(resumed.code, exit::OK, "{resumed}");
    assert_eq!(
        (
            ws.count_lines("first.txt"),
            ws.count_lines("slow.txt"),
            ws.count_lines("last.txt")
        ),
        (1, 2, 1)
    );
    let report: serde_json::Value =
        serde_json::from_str(&ws.runbook(&["report", &id, "--format", "json"]).stdout).unwrap();
    let attempts: Vec<u64> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["attempts"].as_u64().unwrap())
        .collect();
    assert_eq!(attempts, [1, 2, 1]);
}

#[test]
fn failed_step_runs_again_on_resume_and_others_do_not() {
    let ws = Workspace::new();
    let file = ws.write(
        "fails.yaml",
        &format!(
            r#"{HEAD}steps:
  - id: first
    uses: command
    with: {{shell: echo x >> first.txt}}
  - id: check
    needs: [first]
    uses: command
    with: {{shell: 'echo x >> check.txt; [ -e fixed ] || {{ echo "bucket not found" >&2; exit 3; }}'}}
  - id: other
    needs: [first]
    uses: sleep
    with: {{duration: 300ms}}
  - id: never
    needs: [check, other]
    uses: command
    with: {{shell: echo x >> never.txt}}
"#
        ),
    );
    let ran = ws.runbook(&["run", file.to_str().unwrap()]);
    assert_eq!(ran.code, exit::STEP_FAILED, "{ran}");
    assert!(
        ran.stdout.contains("check: `sh -c") && ran.stdout.contains("exited with code 3"),
        "{ran}"
    );
    let id = ran.run_id();
    assert!(
        ran.stdout.contains(&format!("runbook resume {id}")),
        "{ran}"
    );
    assert!(!ws.exists("never.txt"));
    // Fail fast: `other` was running and was allowed to finish.
    assert_eq!(ws.events(&id, "step_succeeded", "other").len(), 1);

    ws.write("fixed", "");
    let resumed = ws.runbook(&["resume", &id]);
    assert_eq!(resumed.code, exit::OK, "{resumed}");
    assert_eq!(
        (
            ws.count_lines("first.txt"),
            ws.count_lines("check.txt"),
            ws.count_lines("never.txt")
        ),
        (1, 2, 1)
    );
    assert_eq!(
        ws.events(&id, "step_started", "other").len(),
        1,
        "a succeeded step started again"
    );
}

#[test]
fn retries_back_off_and_are_counted() {
    let ws = Workspace::new();
    let file = ws.write(
        "flaky.yaml",
        &format!(
            r#"{HEAD}steps:
  - id: flaky
    uses: command
    retry: {{attempts: 3, delay: 100ms, backoff: 2}}
    with: {{shell: 'echo x >> tries.txt; [ $(wc -l < tries.txt) -ge 3 ]'}}
"#
        ),
    );
    let ran = ws.runbook(&["run", file.to_str().unwrap()]);
    assert_eq!(ran.code, exit::OK, "{ran}");
    let id = ran.run_id();
    let failures = ws.events(&id, "step_failed", "flaky");
    let delays: Vec<u64> = failures
        .iter()
        .map(|f| f["retry_in_ms"].as_u64().unwrap())
        .collect();
    assert_eq!(delays, [100, 200]);
    let started = ws.events(&id, "step_started", "flaky");
    assert!(millis(&started[2]["at"]) - millis(&started[1]["at"]) >= 200);
    assert_eq!(ws.events(&id, "step_succeeded", "flaky")[0]["attempt"], 3);
}

#[test]
fn a_step_over_its_timeout_fails() {
    let ws = Workspace::new();
    let file = ws.write(
        "slow.yaml",
        &format!(
            r#"{HEAD}steps:
  - id: slow
    uses: sleep
    timeout: 200ms
    with: {{duration: 20s}}
"#
        ),
    );
    let ran = ws.runbook(&["run", file.to_str().unwrap()]);
    assert_eq!(ran.code, exit::STEP_FAILED, "{ran}");
    assert!(ran.stdout.contains("slow: timed out after 200ms"), "{ran}");
}

#[test]
fn second_resume_is_refused_while_the_first_holds_the_lock() {
    let ws = Workspace::new();
    let file = ws.write(
        "locked.yaml",
        &format!(
            r#"{HEAD}steps:
  - id: wait
    uses: command
    with: {{shell: '[ -e go ] && sleep 2'}}
"#
        ),
    );
    let ran = ws.runbook(&["run", file.to_str().unwrap()]);
    assert_eq!(ran.code, exit::STEP_FAILED, "{ran}");
    let id = ran.run_id();
    ws.write("go", "");
    let first = ws.spawn(&["resume", &id]);
    let lock = ws.path(&format!(".runbook/runs/{id}/lock"));
    wait_until(
        Duration::from_secs(10),
        "the first resume to take the lock",
        || lock.exists(),
    );
    let second = ws.runbook(&["resume", &id]);
    assert_eq!(second.code, exit::REFUSED, "{second}");
    assert!(
        second.stderr.contains(&format!("run {id} is driven by")),
        "{second}"
    );
    assert!(
        second.stderr.contains(&format!("(pid {}", first.id())),
        "{second}"
    );
    let first = finish(first);
    assert_eq!(first.code, exit::OK, "{first}");
    assert!(!lock.exists(), "the lock outlived its holder");
}

#[test]
fn a_stale_lock_from_a_dead_process_is_broken_and_a_live_one_is_not() {
    let ws = Workspace::new();
    // `slow` holds until `release` exists, however long that takes.
    let file = ws.write(
        "held.yaml",
        &format!(
            r#"{HEAD}steps:
  - id: slow
    uses: command
    with: {{shell: 'echo x >> slow.txt; until [ -e release ]; do sleep 0.05; done'}}
  - id: last
    needs: [slow]
    uses: command
    with: {{shell: echo x >> last.txt}}
"#
        ),
    );
    let id = kill_during_slow(&ws, file.to_str().unwrap());
    // SIGKILL left the lock behind, naming a process that no longer exists.
    let lock = ws.path(&format!(".runbook/runs/{id}/lock"));
    let dead: Value = serde_json::from_str(&ws.read(&format!(".runbook/runs/{id}/lock")))
        .expect("the lock names its holder");
    let dead_pid = dead["pid"].as_u64().expect("a pid");
    // The slow step blocks again (no `release` yet), so this resume holds the lock it took over.
    let taker = ws.spawn(&["resume", &id, "--rerun-interrupted"]);
    wait_until(
        Duration::from_secs(20),
        "the resume to take the lock over",
        || {
            serde_json::from_str::<Value>(&std::fs::read_to_string(&lock).unwrap_or_default())
                .is_ok_and(|holder| holder["pid"] == taker.id())
        },
    );
    // Were the live lock ignored, this resume would drive too and hold at `slow` with the first.
    let mut second = ws.spawn(&["resume", &id, "--rerun-interrupted"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while second.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let drove = second.try_wait().unwrap().is_none();
    if drove {
        kill(&second, libc::SIGKILL);
    }
    let refused = finish(second);
    assert!(
        !drove,
        "a second resume drove a run whose lock is held: {refused}"
    );
    assert_eq!(
        refused.code,
        exit::REFUSED,
        "a live lock is respected: {refused}"
    );
    assert!(
        refused.stderr.contains(&format!("run {id} is driven by"))
            && refused.stderr.contains(&format!("(pid {}", taker.id())),
        "{refused}"
    );
    ws.write("release", "");
    let resumed = finish(taker);
    assert_eq!(resumed.code, exit::OK, "{resumed}");
    assert!(
        format!("{resumed}").contains(&format!(
            "Took over the run lock left by {}",
            dead["user"].as_str().unwrap()
        )) && format!("{resumed}").contains(&format!("(pid {dead_pid},")),
        "the stale lock was recognised as such: {resumed}"
    );
    assert_eq!(
        ws.count_lines("slow.txt"),
        2,
        "killed once, run again by the one resume that drove"
    );
    assert_eq!(ws.count_lines("last.txt"), 1);
}

#[test]
fn ctrl_c_drains_and_leaves_a_resumable_run() {
    let ws = Workspace::new();
    let file = ws.write(
        "drain.yaml",
        &format!(
            r#"{HEAD}steps:
  - id: working
    uses: command
    with: {{shell: 'echo started > started.txt; sleep 1; echo x >> working.txt'}}
  - id: next
    needs: [working]
    uses: command
    with: {{shell: echo x >> next.txt}}
"#
        ),
    );
    let child = ws.spawn(&["run", file.to_str().unwrap()]);
    wait_until(Duration::from_secs(10), "the step to start", || {
        ws.exists("started.txt")
    });
    kill(&child, libc::SIGINT);
    let ran = finish(child);
    assert_eq!(ran.code, exit::INTERRUPTED, "{ran}");
    assert_eq!(
        ws.count_lines("working.txt"),
        1,
        "the running step did not finish"
    );
    assert!(!ws.exists("next.txt"), "a new step started after Ctrl-C");
    let id = ws.runs().pop().unwrap();
    assert!(
        ran.stdout.contains(&format!("runbook resume {id}")),
        "{ran}"
    );
    let resumed = ws.runbook(&["resume", &id]);
    assert_eq!(resumed.code, exit::OK, "{resumed}");
    assert_eq!(
        (ws.count_lines("working.txt"), ws.count_lines("next.txt")),
        (1, 1)
    );
}

#[test]
fn second_ctrl_c_aborts_the_running_step() {
    let ws = Workspace::new();
    let file = ws.write(
        "abort.yaml",
        &format!(
            r#"{HEAD}steps:
  - id: stuck
    uses: command
    idempotent: true
    with: {{shell: 'echo x >> stuck.txt; [ -e release ] || sleep 60'}}
"#
        ),
    );
    let child = ws.spawn(&["run", file.to_str().unwrap()]);
    wait_until(Duration::from_secs(10), "the step to start", || {
        ws.exists("stuck.txt")
    });
    kill(&child, libc::SIGINT);
    std::thread::sleep(Duration::from_millis(200));
    kill(&child, libc::SIGINT);
    let ran = finish(child);
    assert_eq!(ran.code, exit::INTERRUPTED, "{ran}");
    let id = ws.runs().pop().unwrap();
    assert_eq!(ws.events(&id, "step_interrupted", "stuck").len(), 1);
    // Idempotent: resume runs it again without asking.
    ws.write("release", "");
    let resumed = ws.runbook(&["resume", &id]);
    assert_eq!(resumed.code, exit::OK, "{resumed}");
    assert_eq!(ws.count_lines("stuck.txt"), 2);
}

#[test]
fn resume_refuses_an_edited_runbook_naming_the_step() {
    let ws = Workspace::new();
    let text = format!(
        r#"{HEAD}steps:
  - id: one
    uses: command
    with: {{shell: 'exit 1'}}
  - id: two
    needs: [one]
    uses: sleep
    with: {{duration: 1ms}}
"#
    );
    let file = ws.write("edit.yaml", &text);
    let ran = ws.runbook(&["run", file.to_str().unwrap()]);
    assert_eq!(ran.code, exit::STEP_FAILED, "{ran}");
    ws.write("edit.yaml", &text.replace("1ms", "2ms"));
    let refused = ws.runbook(&["resume", &ran.run_id()]);
    assert_eq!(refused.code, exit::REFUSED, "{refused}");
    assert!(refused.stderr.contains("step `two` changed"), "{refused}");
    assert!(!refused.stderr.contains("step `one` changed"), "{refused}");
}

#[test]
fn from_reruns_a_step_and_everything_after_it() {
    let ws = Workspace::new();
    let file = ws.write(
        "from.yaml",
        &format!(
            r#"{HEAD}steps:
  - id: a
    uses: command
    with: {{shell: echo x >> a.txt}}
  - id: b
    needs: [a]
    uses: command
    with: {{shell: echo x >> b.txt}}
  - id: c
    needs: [b]
    uses: command
    with: {{shell: 'echo x >> c.txt; [ -e ok ]'}}
"#
        ),
    );
    let ran = ws.runbook(&["run", file.to_str().unwrap()]);
    assert_eq!(ran.code, exit::STEP_FAILED, "{ran}");
    ws.write("ok", "");
    let resumed = ws.runbook(&["resume", &ran.run_id(), "--from", "b"]);
    assert_eq!(resumed.code, exit::OK, "{resumed}");
    assert_eq!(
        (
            ws.count_lines("a.txt"),
            ws.count_lines("b.txt"),
            ws.count_lines("c.txt")
        ),
        (1, 2, 2)
    );
    let unknown = ws.runbook(&["resume", &ran.run_id(), "--from", "bb"]);
    assert_eq!(unknown.code, exit::REFUSED, "{unknown}");
    assert!(
        unknown
            .stderr
            .contains("`bb` is not a step of this run. did you mean `b`?"),
        "{unknown}"
    );
}

#[test]
fn destructive_steps_need_confirmation() {
    let ws = Workspace::new();
    let file = ws.write(
        "destroy.yaml",
        &format!(
            r#"{HEAD}steps:
  - id: safe
    uses: command
    with: {{shell: echo x >> safe.txt}}
  - id: wipe
    uses: command
    destructive: true
    with: {{shell: echo x >> wiped.txt}}
"#
        ),
    );
    let refused = ws.runbook(&["run", file.to_str().unwrap()]);
    assert_eq!(refused.code, exit::REFUSED, "{refused}");
    assert!(
        refused.stderr.contains("pass --yes") && refused.stderr.contains("Destructive steps: wipe"),
        "{refused}"
    );
    assert!(
        !ws.exists("safe.txt") && !ws.exists("wiped.txt"),
        "something ran without confirmation"
    );
    let plan = ws.runbook(&["plan", file.to_str().unwrap()]);
    assert!(
        plan.stdout.contains("wipe (command)  [DESTRUCTIVE]"),
        "{plan}"
    );
    let confirmed = ws.runbook(&["run", file.to_str().unwrap(), "--yes"]);
    assert_eq!(confirmed.code, exit::OK, "{confirmed}");
    assert!(ws.exists("wiped.txt"));
}

/// `make` creates what `check` waits on and the `always` clean-up removes it, as a restore pod is
/// created, waited for and deleted. When `check` fails, resuming `check` alone would wait for
/// nothing; `resume_from: make` runs the pair again.
fn made_and_cleaned(ws: &Workspace, resume_from: &str) -> String {
    ws.write(
        "pod.yaml",
        &format!(
            r#"{HEAD}steps:
  - id: make
    uses: command
    with: {{shell: 'echo x >> made.txt; touch pod'}}
  - id: check
    needs: [make]
    uses: command
{resume_from}    with: {{shell: '[ -e pod ] && [ -e healthy ]'}}
  - id: cleanup
    needs: [check]
    always: true
    uses: command
    with: {{shell: rm -f pod}}
"#
        ),
    )
    .to_str()
    .unwrap()
    .to_string()
}

#[test]
fn a_failed_step_with_resume_from_runs_again_from_that_step() {
    let ws = Workspace::new();
    let file = made_and_cleaned(&ws, "    resume_from: make\n");
    let plan = ws.runbook(&["plan", &file]);
    assert!(
        plan.stdout.contains("if it fails, resume from make"),
        "{plan}"
    );

    let ran = ws.runbook(&["run", &file]);
    assert_eq!(ran.code, exit::STEP_FAILED, "{ran}");
    let id = ran.run_id();
    assert!(!ws.exists("pod"), "the clean-up ran after the failure");

    ws.write("healthy", "");
    let resumed = ws.runbook(&["resume", &id]);
    assert_eq!(resumed.code, exit::OK, "{resumed}");
    assert_eq!(ws.count_lines("made.txt"), 2, "`make` ran again");
    assert_eq!(ws.events(&id, "step_succeeded", "cleanup").len(), 2);
    assert!(!ws.exists("pod"));
}

#[test]
fn without_resume_from_a_failed_step_runs_again_alone() {
    let ws = Workspace::new();
    let file = made_and_cleaned(&ws, "");
    let ran = ws.runbook(&["run", &file]);
    let id = ran.run_id();
    ws.write("healthy", "");
    let resumed = ws.runbook(&["resume", &id]);
    assert_eq!(
        resumed.code,
        exit::STEP_FAILED,
        "`check` alone finds no pod: {resumed}"
    );
    assert_eq!(ws.count_lines("made.txt"), 1);
}

#[test]
fn an_interrupted_step_with_resume_from_resumes_where_it_stopped() {
    // Interrupted, the clean-up has not run: what the step waits on is still there.
    let ws = Workspace::new();
    let file = ws.write(
        "pod.yaml",
        &format!(
            r#"{HEAD}steps:
  - id: make
    uses: command
    with: {{shell: 'echo x >> made.txt; touch pod'}}
  - id: check
    needs: [make]
    resume_from: make
    idempotent: true
    uses: command
    with: {{shell: 'echo x >> check.txt; [ -e pod ] && while [ ! -e healthy ]; do sleep 0.1; done'}}
"#
        ),
    );
    let child = ws.spawn(&["run", file.to_str().unwrap()]);
    wait_until(Duration::from_secs(20), "`check` to start", || {
        ws.count_lines("check.txt") == 1
    });
    kill(&child, libc::SIGKILL);
    let _ = finish(child);
    let id = ws.runs()[0].clone();
    ws.write("healthy", "");
    let resumed = ws.runbook(&["resume", &id]);
    assert_eq!(resumed.code, exit::OK, "{resumed}");
    assert_eq!(ws.count_lines("made.txt"), 1, "`make` did not run again");
    assert_eq!(ws.count_lines("check.txt"), 2);
}

#[test]
fn large_multibyte_and_invalid_utf8_output_is_captured_byte_safely() {
    let ws = Workspace::new();
    let file = ws.write(
        "noisy.yaml",
        r#"apiVersion: runbook/v1
kind: Runbook
name: noisy
steps:
  - id: big
    uses: command
    with: {argv: [python3, -c, 'import sys; sys.stdout.write("é" * 1_500_000 + "end\n")']}
  - id: bytes
    uses: command
    with: {shell: 'printf "\377\376ok\n"'}
"#,
    );
    let ran = ws.runbook(&["run", file.to_str().unwrap()]);
    assert_eq!(ran.code, exit::OK, "{ran}");
    let id = ran.run_id();
    let big = ws.outputs(&id, "big")["stdout"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        big.starts_with("[... output cut to the last "),
        "{}",
        &big[..80]
    );
    assert!(big.ends_with("éé\u{e9}end\n"), "the tail is kept");
    assert!(big.len() <= (1 << 20) + 100, "{}", big.len());
    let bytes = ws.outputs(&id, "bytes")["stdout"].clone();
    assert_eq!(bytes, "\u{fffd}\u{fffd}ok\n");
}

#[test]
fn a_step_resumed_later_counts_only_its_own_time_not_the_gap() {
    let ws = Workspace::new();
    let file = ws.write(
        "gap.yaml",
        r#"apiVersion: runbook/v1
kind: Runbook
name: gap
steps:
  - id: slow
    uses: command
    idempotent: true
    with: {shell: 'echo x >> started.txt; sleep 1'}
"#,
    );
    let child = ws.spawn(&["run", file.to_str().unwrap()]);
    wait_until(Duration::from_secs(10), "the step to start", || {
        ws.exists("started.txt")
    });
    kill(&child, libc::SIGKILL);
    finish(child);
    let id = ws.runs().pop().unwrap();
    // The operator comes back three seconds later.
    std::thread::sleep(Duration::from_secs(3));
    let resumed = ws.runbook(&["resume", &id]);
    assert_eq!(resumed.code, exit::OK, "{resumed}");
    let report: serde_json::Value =
        serde_json::from_str(&ws.runbook(&["report", &id, "--format", "json"]).stdout).unwrap();
    let step = &report["steps"][0];
    let ms = step["duration_ms"].as_u64().unwrap();
    assert!((1000..2500).contains(&ms), "{step}");
    let path = report["critical_path"]["total_ms"].as_u64().unwrap();
    assert!(path < 2500, "{}", report["critical_path"]);
}
