//! A user's session for the end-to-end tests: a scratch directory to work in, runbooks written into
//! it, the `runbook` binary run there, and its journal, state and files read back.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod ck8s;
pub mod harbor_world;
pub mod influxdb_world;
pub mod opensearch_world;
pub mod pty;
pub mod velero_world;

pub struct Workspace {
    pub dir: tempfile::TempDir,
}

pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    fn from(output: Output) -> Ran {
        Ran {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// The run id printed by `run`.
    pub fn run_id(&self) -> String {
        let line = self
            .stdout
            .lines()
            .find(|l| l.starts_with("Run "))
            .unwrap_or_else(|| panic!("no run id in:\n{self}"));
        line.trim_start_matches("Run ")
            .split(':')
            .next()
            .unwrap()
            .trim()
            .to_string()
    }
}

impl std::fmt::Display for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Workspace {
    pub fn new() -> Workspace {
        Workspace {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub fn write(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.path(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path(relative)).unwrap_or_default()
    }

    pub fn exists(&self, relative: &str) -> bool {
        self.path(relative).exists()
    }

    /// Lines in a file (the side-effect counters the runbooks append to).
    pub fn count_lines(&self, relative: &str) -> usize {
        self.read(relative).lines().count()
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_runbook"));
        command
            .args(args)
            .current_dir(self.dir.path())
            .env("RUNBOOK_STATE_DIR", self.path(".runbook"))
            .env("NO_COLOR", "1")
            .env_remove("CK8S_CONFIG_PATH")
            .stdin(Stdio::null());
        command
    }

    pub fn runbook(&self, args: &[&str]) -> Ran {
        Ran::from(self.command(args).output().expect("runbook runs"))
    }

    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("runbook starts")
    }

    pub fn runs(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.path(".runbook/runs")) else {
            return Vec::new();
        };
        let mut ids: Vec<String> = entries
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        ids.sort();
        ids
    }

    pub fn journal_text(&self, run_id: &str) -> String {
        self.read(&format!(".runbook/runs/{run_id}/journal.jsonl"))
    }

    pub fn journal(&self, run_id: &str) -> Vec<Value> {
        self.journal_text(run_id)
            .lines()
            .map(|l| serde_json::from_str(l).expect("journal lines are JSON"))
            .collect()
    }

    /// The outputs of a step's latest success.
    pub fn outputs(&self, run_id: &str, step: &str) -> Value {
        let events = self.events(run_id, "step_succeeded", step);
        assert!(!events.is_empty(), "step {step} did not succeed");
        events.last().unwrap()["outputs"].clone()
    }

    /// Journal records of one event type for one step.
    pub fn events(&self, run_id: &str, event: &str, step: &str) -> Vec<Value> {
        self.journal(run_id)
            .into_iter()
            .filter(|r| r["event"] == event && r["step"] == step)
            .collect()
    }
}

/// Poll until `check` holds, or panic after `limit`.
pub fn wait_until(limit: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn kill(child: &Child, signal: i32) {
    unsafe { libc::kill(child.id() as i32, signal) };
}

pub fn finish(child: Child) -> Ran {
    Ran::from(child.wait_with_output().expect("runbook exits"))
}

/// A journal timestamp in milliseconds since the epoch.
pub fn millis(at: &Value) -> i128 {
    let text = at.as_str().expect("timestamp");
    let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .expect("RFC 3339");
    t.unix_timestamp_nanos() / 1_000_000
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}
