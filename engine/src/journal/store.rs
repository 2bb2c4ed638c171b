use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use super::meta::RunMeta;
use super::record::{Event, Record};
use crate::redact::Redactor;

/// RFC 3339 in UTC with exactly three fraction digits, so that timestamps sort and align as text.
pub fn now_rfc3339() -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    OffsetDateTime::now_utc()
        .format(&format)
        .expect("UTC time formats")
}

/// `20261123-154401-a3f9`: sortable, short, and valid inside Kubernetes object names.
pub fn new_run_id() -> String {
    let now = OffsetDateTime::now_utc();
    let entropy = (now.unix_timestamp_nanos() as u64) ^ (u64::from(std::process::id()) << 20);
    let mixed = entropy.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 48;
    format!(
        "{:04}{:02}{:02}-{:02}{:02}{:02}-{:04x}",
        now.year(),
        now.month() as u8,
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        mixed & 0xffff
    )
}

/// `.runbook/` (or `--state-dir`): holds `runs/<run-id>/`.
#[derive(Debug, Clone)]
pub struct StateDir {
    pub root: PathBuf,
}

impl StateDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        StateDir { root: root.into() }
    }

    pub fn runs_dir(&self) -> PathBuf {
        self.root.join("runs")
    }

    pub fn run(&self, run_id: &str) -> RunDir {
        RunDir {
            path: self.runs_dir().join(run_id),
        }
    }

    /// Every run, newest first.
    pub fn list(&self) -> Vec<RunDir> {
        let Ok(entries) = fs::read_dir(self.runs_dir()) else {
            return Vec::new();
        };
        let mut runs: Vec<RunDir> = entries
            .filter_map(Result::ok)
            .filter(|e| e.path().join("run.json").exists())
            .map(|e| RunDir { path: e.path() })
            .collect();
        runs.sort_by_key(|r| std::cmp::Reverse(r.id()));
        runs
    }
}

/// `runs/<run-id>/`: `run.json`, `journal.jsonl` and, while a process drives the run, `lock`.
#[derive(Debug, Clone)]
pub struct RunDir {
    pub path: PathBuf,
}

impl RunDir {
    pub fn id(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
    pub fn exists(&self) -> bool {
        self.path.join("run.json").exists()
    }
    pub fn meta_path(&self) -> PathBuf {
        self.path.join("run.json")
    }
    pub fn journal_path(&self) -> PathBuf {
        self.path.join("journal.jsonl")
    }
    pub fn lock_path(&self) -> PathBuf {
        self.path.join("lock")
    }

    /// Create the directory (operator-only) and write `run.json`.
    pub fn create(&self, meta: &RunMeta) -> std::io::Result<()> {
        fs::create_dir_all(&self.path)?;
        fs::set_permissions(&self.path, fs::Permissions::from_mode(0o700))?;
        write_private(
            &self.meta_path(),
            serde_json::to_string_pretty(meta)?.as_bytes(),
        )
    }

    pub fn read_meta(&self) -> std::io::Result<RunMeta> {
        let text = fs::read_to_string(self.meta_path())?;
        serde_json::from_str(&text)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }

    /// Every complete record. A torn last line (the process died mid-write) is ignored: the
    /// engine had not acted on it, since it acts only after the sync.
    pub fn read_journal(&self) -> std::io::Result<Vec<Record>> {
        let file = match File::open(self.journal_path()) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut records = Vec::new();
        for (number, line) in BufReader::new(file).lines().enumerate() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Record>(&line) {
                Ok(r) => records.push(r),
                Err(e) if e.is_eof() => break,
                Err(e) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("{}:{}: {e}", self.journal_path().display(), number + 1),
                    ));
                }
            }
        }
        Ok(records)
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Appends records, each synced before `append` returns.
pub struct JournalWriter {
    file: File,
    next_seq: u64,
    redactor: std::sync::Arc<Redactor>,
}

impl JournalWriter {
    pub fn open(
        run: &RunDir,
        next_seq: u64,
        redactor: std::sync::Arc<Redactor>,
    ) -> std::io::Result<Self> {
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(run.journal_path())?;
        Ok(JournalWriter {
            file,
            next_seq,
            redactor,
        })
    }

    /// Write one record and sync it; returns the record as written (secrets masked).
    pub fn append(&mut self, event: Event) -> std::io::Result<Record> {
        let record = Record {
            seq: self.next_seq,
            at: now_rfc3339(),
            event,
        };
        let line = self.redactor.redact(&serde_json::to_string(&record)?);
        let written: Record = serde_json::from_str(&line)?;
        self.file.write_all(format!("{line}\n").as_bytes())?;
        self.file.sync_data()?;
        self.next_seq += 1;
        Ok(written)
    }
}
