//! Run state that never lies, tried as a careful operator would break it: two resumes racing over
//! a stale lock, a lock naming a reused pid, a closed terminal (SIGHUP), SIGTERM during a retry
//! delay, a journal torn at its end or damaged in its middle, a run killed after its last step,
//! run.json deleted, the journal emptied, the disk full. Side effects are counted in files the
//! runbooks append to.

use runbook_engine::exit;
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Ran, Workspace, finish, kill, wait_until};
use serde_json::Value;

const EXIT_STATE: i32 = 5;

/// A run whose one step, `once`, was SIGKILLed mid-way: the journal says it started, and the lock
/// file still names the dead process. `once` appends a line to `side.txt` in the working
/// directory, then sleeps (30 s while `hold` exists, 0.3 s otherwise).
fn killed_once(ws: &Workspace) -> String {
    let file = ws.write(
        "once.yaml",
        r#"apiVersion: runbook/v1
kind: Runbook
name: once
steps:
  - id: once
    uses: command
    with: {shell: 'echo x >> side.txt; if [ -e hold ]; then sleep 30; else sleep 0.3; fi'}
"#,
    );
    ws.write("hold", "");
    let child = ws.spawn(&["run", file.to_str().unwrap()]);
    wait_until(Duration::from_secs(20), "`once` to start", || {
        ws.count_lines("side.txt") == 1
    });
    kill(&child, libc::SIGKILL);
    finish(child);
    std::fs::remove_file(ws.path("hold")).unwrap();
    ws.runs().pop().expect("the run was recorded")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// `runbook` in `dir`, with its state in `dir/state`.
fn runbook_in(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_runbook"));
    command
        .args(args)
        .current_dir(dir)
        .env("RUNBOOK_STATE_DIR", dir.join("state"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

#[test]
fn two_resumes_racing_over_a_stale_lock_never_both_drive() {
    let ws = Workspace::new();
    let id = killed_once(&ws);
    assert!(
        ws.exists(&format!(".runbook/runs/{id}/lock")),
        "a stale lock"
    );
    let races = 200;
    let dirs: Vec<PathBuf> = (0..races)
        .map(|i| {
            let dir = ws.path(&format!("race-{i}"));
            copy_dir(
                &ws.path(&format!(".runbook/runs/{id}")),
                &dir.join(format!("state/runs/{id}")),
            );
            dir
        })
        .collect();
    let failures = std::sync::Mutex::new(Vec::<String>::new());
    std::thread::scope(|scope| {
        for lane in 0..4 {
            let (dirs, failures, id) = (&dirs, &failures, &id);
            scope.spawn(move || {
                for dir in dirs.iter().skip(lane).step_by(4) {
                    let args = ["resume", id.as_str(), "--rerun-interrupted"];
                    let a = runbook_in(dir, &args).spawn().unwrap();
                    let b = runbook_in(dir, &args).spawn().unwrap();
                    let (a_pid, b_pid) = (a.id(), b.id());
                    let (a, b) = (finish(a), finish(b));
                    let side = std::fs::read_to_string(dir.join("side.txt")).unwrap_or_default();
                    let verdict = match (a.code, b.code) {
                        (0, 4) if b.stderr.contains(&format!("(pid {a_pid},")) => None,
                        (4, 0) if a.stderr.contains(&format!("(pid {b_pid},")) => None,
                        _ => Some("not exactly one driver naming the other"),
                    };
                    let verdict = verdict.or((side.lines().count() != 1).then_some("the step ran more than once"));
                    if let Some(why) = verdict {
                        failures.lock().unwrap().push(format!(
                            "{}: {why}; side.txt {side:?}\nA (pid {a_pid}): {a}\nB (pid {b_pid}): {b}",
                            dir.display()
                        ));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {races} races failed; the first:\n{}",
        failures.len(),
        failures[0]
    );
}

#[test]
fn a_lock_naming_a_pid_now_used_by_another_process_is_stale() {
    let ws = Workspace::new();
    let id = killed_once(&ws);
    // The dead holder's pid now belongs to an unrelated, live process.
    let mut unrelated = Command::new("sleep").arg("30").spawn().unwrap();
    let lock = ws.path(&format!(".runbook/runs/{id}/lock"));
    let mut holder: Value = serde_json::from_str(&ws.read(&format!(".runbook/runs/{id}/lock")))
        .expect("the lock names its holder");
    assert!(holder["process_start"].is_string(), "{holder}");
    holder["pid"] = unrelated.id().into();
    std::fs::write(&lock, holder.to_string()).unwrap();

    let status = ws.runbook(&["status", &id]);
    assert!(status.stdout.contains(": interrupted"), "{status}");
    assert!(!status.stdout.contains("Driven by"), "{status}");
    let resumed = ws.runbook(&["resume", &id, "--rerun-interrupted"]);
    unrelated.kill().unwrap();
    unrelated.wait().unwrap();
    assert_eq!(resumed.code, exit::OK, "{resumed}");
    assert!(!resumed.stderr.contains("stop that process"), "{resumed}");
    assert!(
        format!("{resumed}").contains("Took over the run lock left by"),
        "{resumed}"
    );
    assert_eq!(ws.count_lines("side.txt"), 2, "killed once, resumed once");
}

/// `working` prints `started`, works a second, then counts itself; `next` needs it.
fn two_steps(ws: &Workspace) -> String {
    ws.write(
        "two.yaml",
        r#"apiVersion: runbook/v1
kind: Runbook
name: two
steps:
  - id: working
    uses: command
    with: {shell: 'echo started > started.txt; sleep 1; echo x >> working.txt'}
  - id: next
    needs: [working]
    uses: command
    with: {shell: 'echo x >> next.txt'}
"#,
    )
    .to_str()
    .unwrap()
    .to_string()
}

#[test]
fn a_closed_terminal_drains_records_the_interruption_and_releases_the_lock() {
    let ws = Workspace::new();
    let file = two_steps(&ws);
    let child = ws.spawn(&["run", &file]);
    wait_until(Duration::from_secs(10), "the step to start", || {
        ws.exists("started.txt")
    });
    kill(&child, libc::SIGHUP);
    let ran = finish(child);
    assert_eq!(ran.code, exit::INTERRUPTED, "{ran}");
    assert_eq!(
        ws.count_lines("working.txt"),
        1,
        "the running step finished"
    );
    assert_eq!(ws.count_lines("next.txt"), 0, "nothing new started");
    let id = ws.runs().pop().unwrap();
    let journal = ws.journal(&id);
    let last = journal.last().unwrap();
    assert_eq!(
        (&last["event"], &last["status"]),
        (&"session_ended".into(), &"interrupted".into()),
        "{last}"
    );
    assert!(!ws.exists(&format!(".runbook/runs/{id}/lock")), "lock left");
    let resumed = ws.runbook(&["resume", &id]);
    assert_eq!(resumed.code, exit::OK, "{resumed}");
    assert_eq!(
        (ws.count_lines("working.txt"), ws.count_lines("next.txt")),
        (1, 1)
    );
}

#[test]
fn sigterm_during_a_retry_delay_does_not_sit_it_out() {
    let ws = Workspace::new();
    let file = ws.write(
        "retry.yaml",
        r#"apiVersion: runbook/v1
kind: Runbook
name: retry
steps:
  - id: flaky
    uses: command
    retry: {attempts: 3, delay: 60s}
    with: {shell: 'echo x >> tries.txt; [ -e ok ]'}
"#,
    );
    let child = ws.spawn(&["run", file.to_str().unwrap()]);
    wait_until(Duration::from_secs(10), "the first failure", || {
        ws.runs()
            .pop()
            .is_some_and(|id| ws.journal_text(&id).contains("\"retry_in_ms\":60000"))
    });
    let signalled = Instant::now();
    kill(&child, libc::SIGTERM);
    let ran = finish(child);
    assert!(
        signalled.elapsed() < Duration::from_secs(10),
        "sat out the delay: {:?}",
        signalled.elapsed()
    );
    assert_eq!(ran.code, exit::INTERRUPTED, "{ran}");
    assert_eq!(ws.count_lines("tries.txt"), 1);
    let id = ws.runs().pop().unwrap();
    ws.write("ok", "");
    let resumed = ws.runbook(&["resume", &id]);
    assert_eq!(resumed.code, exit::OK, "{resumed}");
    assert_eq!(ws.count_lines("tries.txt"), 2);
}

#[test]
fn an_interruption_while_the_last_step_runs_ends_a_finished_run_as_succeeded() {
    let ws = Workspace::new();
    let file = ws.write(
        "last.yaml",
        r#"apiVersion: runbook/v1
kind: Runbook
name: last
steps:
  - id: only
    uses: command
    with: {shell: 'echo started > started.txt; sleep 1; echo x >> only.txt'}
"#,
    );
    let child = ws.spawn(&["run", file.to_str().unwrap()]);
    wait_until(Duration::from_secs(10), "the step to start", || {
        ws.exists("started.txt")
    });
    kill(&child, libc::SIGTERM);
    let ran = finish(child);
    assert_eq!(ran.code, exit::OK, "{ran}");
    assert!(ran.stdout.contains("succeeded"), "{ran}");
    assert!(!ran.stdout.contains("runbook resume"), "{ran}");
    let id = ran.run_id();
    let status = ws.runbook(&["status", &id]);
    assert!(status.stdout.contains(": succeeded"), "{status}");
}

/// A three-step chain; `c` fails until `ok` exists. Returns the run id of the failed run.
fn failed_chain(ws: &Workspace) -> String {
    let file = ws.write(
        "chain.yaml",
        r#"apiVersion: runbook/v1
kind: Runbook
name: chain
steps:
  - id: a
    uses: command
    with: {shell: 'echo x >> a.txt'}
  - id: b
    needs: [a]
    uses: command
    with: {shell: 'echo x >> b.txt'}
  - id: c
    needs: [b]
    uses: command
    with: {shell: 'echo x >> c.txt; [ -e ok ]'}
"#,
    );
    let ran = ws.runbook(&["run", file.to_str().unwrap()]);
    assert_eq!(ran.code, exit::STEP_FAILED, "{ran}");
    ran.run_id()
}

fn journal_path(ws: &Workspace, id: &str) -> PathBuf {
    ws.path(&format!(".runbook/runs/{id}/journal.jsonl"))
}

fn append(path: &Path, bytes: &[u8]) {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
}

#[test]
fn a_torn_last_record_is_cut_off_before_resume_appends() {
    let ws = Workspace::new();
    let id = failed_chain(&ws);
    // The process died writing its next record.
    append(
        &journal_path(&ws, &id),
        br#"{"seq":12,"at":"2026-12-01T10:0"#,
    );
    let status = ws.runbook(&["status", &id]);
    assert_eq!(status.code, exit::OK, "{status}");
    assert!(status.stdout.contains("torn last record"), "{status}");
    assert!(status.stdout.contains(": failed"), "{status}");

    ws.write("ok", "");
    let resumed = ws.runbook(&["resume", &id]);
    assert_eq!(resumed.code, exit::OK, "{resumed}");
    assert!(
        format!("{resumed}").contains("Repaired the journal"),
        "{resumed}"
    );
    // Every line is a record again, and nothing that had succeeded ran twice.
    let records = ws.journal(&id);
    for (i, record) in records.iter().enumerate() {
        assert_eq!(record["seq"], i + 1, "{record}");
    }
    assert_eq!(
        (
            ws.count_lines("a.txt"),
            ws.count_lines("b.txt"),
            ws.count_lines("c.txt")
        ),
        (1, 1, 2)
    );
    let status = ws.runbook(&["status", &id]);
    assert!(status.stdout.contains(": succeeded"), "{status}");
    let report = ws.runbook(&["report", &id, "--format", "json"]);
    assert_eq!(report.code, exit::OK, "{report}");
    let report: Value = serde_json::from_str(&report.stdout).unwrap();
    assert_eq!(report["status"], "succeeded");
}

#[test]
fn a_damaged_line_in_the_middle_of_the_journal_is_refused_by_every_reader() {
    let ws = Workspace::new();
    let id = failed_chain(&ws);
    let path = journal_path(&ws, &id);
    let mut lines: Vec<String> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    lines.insert(3, "{\"seq\": 4, \"at\": garbage".into());
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    ws.write("ok", "");
    let where_ = format!("{}:4:", path.display());
    for args in [
        vec!["status", id.as_str()],
        vec!["resume", id.as_str()],
        vec!["report", id.as_str()],
    ] {
        let ran = ws.runbook(&args);
        assert_eq!(ran.code, EXIT_STATE, "{args:?}: {ran}");
        assert!(ran.stderr.contains(&where_), "{args:?}: {ran}");
        assert!(ran.stderr.contains("jq -c ."), "{args:?}: {ran}");
    }
    let listed = ws.runbook(&["status"]);
    assert_eq!(listed.code, EXIT_STATE, "{listed}");
    assert!(listed.stdout.contains("damaged"), "{listed}");
    assert_eq!(ws.count_lines("c.txt"), 1, "resume ran nothing");
}

#[test]
fn a_record_out_of_sequence_is_damage() {
    let ws = Workspace::new();
    let id = failed_chain(&ws);
    let path = journal_path(&ws, &id);
    let text = std::fs::read_to_string(&path).unwrap();
    // A record lost from the middle: everything after it is out of sequence.
    let lines: Vec<&str> = text.lines().collect();
    let without: Vec<&str> = lines
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 2)
        .map(|(_, l)| *l)
        .collect();
    std::fs::write(&path, without.join("\n") + "\n").unwrap();
    let ran = ws.runbook(&["resume", &id]);
    assert_eq!(ran.code, EXIT_STATE, "{ran}");
    assert!(ran.stderr.contains("expected seq 3, found 4"), "{ran}");
}

#[test]
fn a_run_killed_after_its_last_step_reads_as_succeeded_and_resume_closes_it() {
    let ws = Workspace::new();
    let id = failed_chain(&ws);
    ws.write("ok", "");
    assert_eq!(ws.runbook(&["resume", &id]).code, exit::OK);
    // As if killed after the last step's record, before the session's end record.
    let path = journal_path(&ws, &id);
    let text = std::fs::read_to_string(&path).unwrap();
    let kept: Vec<&str> = text.lines().collect();
    assert!(kept.last().unwrap().contains("session_ended"));
    std::fs::write(&path, kept[..kept.len() - 1].join("\n") + "\n").unwrap();

    let status = ws.runbook(&["status", &id, "--output", "json"]);
    let status: Value = serde_json::from_str(status.stdout.trim()).unwrap();
    assert_eq!(status["state"], "succeeded");
    let report: Value =
        serde_json::from_str(&ws.runbook(&["report", &id, "--format", "json"]).stdout).unwrap();
    assert_eq!(report["status"], "succeeded");

    let closed = ws.runbook(&["resume", &id]);
    assert_eq!(closed.code, exit::OK, "{closed}");
    assert!(
        format!("{closed}").contains("now recorded as succeeded"),
        "{closed}"
    );
    let last = ws.journal(&id).pop().unwrap();
    assert_eq!(last["status"], "succeeded", "{last}");
    assert_eq!(ws.count_lines("c.txt"), 2, "closing runs no step");
    let again = ws.runbook(&["resume", &id]);
    assert_eq!(again.code, exit::REFUSED, "{again}");
    assert!(again.stderr.contains("already finished"), "{again}");
}

#[test]
fn a_deleted_run_json_or_an_emptied_journal_is_damage_not_a_fresh_start() {
    let ws = Workspace::new();
    let id = failed_chain(&ws);
    let other = failed_chain(&ws);
    ws.write("ok", "");
    std::fs::remove_file(ws.path(&format!(".runbook/runs/{id}/run.json"))).unwrap();
    for args in [vec!["status", id.as_str()], vec!["resume", id.as_str()]] {
        let ran = ws.runbook(&args);
        assert_eq!(ran.code, EXIT_STATE, "{args:?}: {ran}");
        assert!(ran.stderr.contains("run.json is missing"), "{ran}");
    }

    std::fs::write(journal_path(&ws, &other), "").unwrap();
    let ran = ws.runbook(&["resume", &other]);
    assert_eq!(ran.code, EXIT_STATE, "{ran}");
    assert!(ran.stderr.contains("is empty or missing"), "{ran}");
    assert_eq!(
        (ws.count_lines("a.txt"), ws.count_lines("c.txt")),
        (2, 2),
        "nothing ran again"
    );
}

/// A small tmpfs mounted for one test (root only), unmounted when dropped.
struct SmallDisk {
    dir: PathBuf,
}

impl SmallDisk {
    fn mount(dir: PathBuf, size: &str) -> Option<SmallDisk> {
        std::fs::create_dir_all(&dir).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        mounted.then_some(SmallDisk { dir })
    }

    /// Fill it, then free `keep` bytes.
    fn fill_leaving(&self, keep: u64) {
        use std::io::Write;
        let path = self.dir.join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let block = vec![0u8; 4096];
        while file.write_all(&block).is_ok() {}
        drop(file);
        let length = std::fs::metadata(&path).unwrap().len();
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(length.saturating_sub(keep)).unwrap();
    }

    fn remount(&self, options: &str) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(&self.dir)
            .status()
            .unwrap()
            .success();
        assert!(ok, "remount {options}");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dir).status();
    }
}

#[test]
fn a_full_disk_stops_the_run_with_the_state_exit_code_and_resume_continues_once_there_is_room() {
    let ws = Workspace::new();
    const STEPS: usize = 60;
    let Some(disk) = SmallDisk::mount(ws.path("disk"), "512k") else {
        // CI runs as root; a developer without root cannot mount.
        eprintln!("SKIPPED: mounting a tmpfs needs root");
        return;
    };
    let steps: String = (1..=STEPS)
        .map(|i| {
            let needs = if i == 1 {
                String::new()
            } else {
                format!("\n    needs: [s{}]", i - 1)
            };
            format!(
                r#"  - id: s{i}{needs}
    uses: command
    with: {{shell: 'echo s{i} >> effects.txt'}}
"#
            )
        })
        .collect();
    let file = ws.write(
        "many.yaml",
        &format!(
            r#"apiVersion: runbook/v1
kind: Runbook
name: many
steps:
{steps}"#
        ),
    );
    disk.fill_leaving(12 * 1024);
    let state = disk.dir.join("state");
    let run = |args: &[&str]| -> Ran {
        let child = ws
            .command(args)
            .env("RUNBOOK_STATE_DIR", &state)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        finish(child)
    };
    let ran = run(&["run", file.to_str().unwrap()]);
    assert_eq!(ran.code, EXIT_STATE, "{ran}");
    assert!(ran.stderr.contains("No space left on device"), "{ran}");
    let done_before = ws.count_lines("effects.txt");
    assert!(
        done_before > 0 && done_before < STEPS,
        "stopped midway: {done_before}"
    );
    let id = std::fs::read_dir(state.join("runs"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .file_name()
        .to_string_lossy()
        .into_owned();

    // Read-only state: its own exit code too, and nothing runs.
    disk.remount("ro");
    let refused = run(&["resume", &id, "--rerun-interrupted", "--yes"]);
    assert_eq!(refused.code, EXIT_STATE, "{refused}");
    assert_eq!(ws.count_lines("effects.txt"), done_before);
    disk.remount("rw");

    std::fs::remove_file(disk.dir.join("filler")).unwrap();
    let status = run(&["status", &id]);
    assert_eq!(status.code, exit::OK, "{status}");
    let resumed = resume_like_an_operator(&run, &id, &ws.path("effects.txt"));
    assert_eq!(resumed.code, exit::OK, "{resumed}");
    let effects = ws.read("effects.txt");
    for i in 1..=STEPS {
        let times = effects.lines().filter(|l| *l == format!("s{i}")).count();
        assert_eq!(times, 1, "s{i} ran {times} times:\n{effects}");
    }
    let status = run(&["status", &id]);
    assert!(status.stdout.contains(": succeeded"), "{status}");
}

/// Resume as an operator would: when resume stops at interrupted steps that are not idempotent,
/// look for each one's effect (its id as a line of `effects`) and say `--skip STEP` (it happened)
/// or `--rerun-interrupted` (it did not).
pub fn resume_like_an_operator(run: &dyn Fn(&[&str]) -> Ran, id: &str, effects: &Path) -> Ran {
    let first = run(&["resume", id]);
    if first.code != exit::REFUSED || !first.stderr.contains("are not idempotent") {
        return first;
    }
    let done = std::fs::read_to_string(effects).unwrap_or_default();
    let unsure: Vec<String> = first
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("  - "))
        .map(str::to_string)
        .collect();
    let mut args = vec!["resume".to_string(), id.to_string()];
    for step in &unsure {
        if done.lines().any(|l| l == step) {
            args.extend(["--skip".to_string(), step.clone()]);
        } else if !args.iter().any(|a| a == "--rerun-interrupted") {
            args.push("--rerun-interrupted".into());
        }
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&args)
}

/// A small deterministic generator, so a failing trial can be replayed from its printed seed.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

const DAG: &str = r#"apiVersion: runbook/v1
kind: Runbook
name: dag
steps:
  - id: a
    uses: command
    with: {shell: 'sleep 0.15; echo a >> effects.txt'}
  - id: b
    needs: [a]
    uses: command
    with: {shell: 'sleep 0.2; echo b >> effects.txt'}
  - id: c
    needs: [a]
    uses: command
    with: {shell: 'sleep 0.1; echo c >> effects.txt'}
  - id: d
    needs: [b, c]
    uses: command
    with: {shell: 'sleep 0.15; echo d >> effects.txt'}
  - id: e
    needs: [d]
    uses: command
    with: {shell: 'sleep 0.1; echo e >> effects.txt'}
  - id: f
    needs: [d]
    uses: command
    with: {shell: 'sleep 0.2; echo f >> effects.txt'}
"#;

/// Kills (SIGKILL, SIGTERM, a double Ctrl-C) at random moments, torn records after a kill, and
/// two resumes racing; resumes as an operator would, until the run succeeds. Then every step took
/// effect exactly once, and `status`, `report` and `resume` agree all along.
#[test]
fn kills_tears_and_races_in_a_loop_never_repeat_a_step() {
    let trials: u64 = std::env::var("FAULT_TRIALS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(25);
    let seed: u64 = std::env::var("FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("fault injection: FAULT_SEED={seed} FAULT_TRIALS={trials}");
    let mut rng = Lcg(seed);
    for trial in 0..trials {
        let ws = Workspace::new();
        let file = ws.write("dag.yaml", DAG);
        let context = format!("trial {trial} of FAULT_SEED={seed}");
        let first = ws.spawn(&["run", file.to_str().unwrap()]);
        fault(&ws, first, &mut rng, &context);
        let Some(id) = ws.runs().pop() else {
            continue; // killed before the run was created
        };
        let run = |args: &[&str]| ws.runbook(args);
        for round in 0.. {
            assert!(round < 20, "{context}: no end in sight");
            let status = agreed_status(&ws, &id, &context);
            if status == "succeeded" {
                break;
            }
            match rng.below(3) {
                // Two operators at once: plain resumes never repeat an unsure step.
                0 => {
                    let a = ws.spawn(&["resume", &id]);
                    let b = ws.spawn(&["resume", &id]);
                    let (a, b) = (finish(a), finish(b));
                    assert!(
                        !(a.code == exit::OK
                            && b.code == exit::OK
                            && a.stdout.contains("start")
                            && b.stdout.contains("start")),
                        "{context}: both drove\n{a}\n{b}"
                    );
                }
                // A resume that is itself lost at a random moment.
                1 => {
                    let child = ws.spawn(&["resume", &id]);
                    fault(&ws, child, &mut rng, &context);
                }
                _ => {
                    resume_like_an_operator(&run, &id, &ws.path("effects.txt"));
                }
            }
        }
        let effects = ws.read("effects.txt");
        for step in ["a", "b", "c", "d", "e", "f"] {
            let times = effects.lines().filter(|l| *l == step).count();
            assert_eq!(
                times,
                1,
                "{context}: {step} took effect {times} times:\n{effects}\n{}",
                ws.journal_text(&id)
            );
        }
        let again = ws.runbook(&["resume", &id]);
        assert_eq!(again.code, exit::REFUSED, "{context}: {again}");
        assert!(
            again.stderr.contains("already finished"),
            "{context}: {again}"
        );
    }
}

/// Interrupt `child` at a random moment in one of the ways a run is lost; wait for it, and for
/// any command it left running (a SIGKILL leaves its step's shell behind) to finish.
fn fault(ws: &Workspace, child: std::process::Child, rng: &mut Lcg, context: &str) {
    std::thread::sleep(Duration::from_millis(rng.below(900)));
    let how = rng.below(4);
    match how {
        0 | 3 => kill(&child, libc::SIGKILL),
        1 => kill(&child, libc::SIGTERM),
        _ => {
            kill(&child, libc::SIGINT);
            std::thread::sleep(Duration::from_millis(rng.below(100)));
            kill(&child, libc::SIGINT);
        }
    }
    let ran = finish(child);
    assert!(
        matches!(ran.code, -1 | 0 | 3 | 4),
        "{context}: fault {how} ended with {ran}"
    );
    std::thread::sleep(Duration::from_millis(350));
    if how == 3
        && let Some(id) = ws.runs().pop()
        && ws.exists(&format!(".runbook/runs/{id}/journal.jsonl"))
    {
        // It died writing its next record.
        append(&journal_path(ws, &id), br#"{"seq":9999,"at":"2026-12-"#);
    }
}

/// `status` and `report` read the run the same way; returns that state.
fn agreed_status(ws: &Workspace, id: &str, context: &str) -> String {
    let status = ws.runbook(&["status", id, "--output", "json"]);
    assert_eq!(status.code, exit::OK, "{context}: {status}");
    let status: Value = serde_json::from_str(status.stdout.trim()).unwrap();
    let report = ws.runbook(&["report", id, "--format", "json"]);
    assert_eq!(report.code, exit::OK, "{context}: {report}");
    let report: Value = serde_json::from_str(&report.stdout).unwrap();
    assert_eq!(status["state"], report["status"], "{context}");
    status["state"].as_str().unwrap().to_string()
}
