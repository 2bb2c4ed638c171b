use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use super::meta::RunMeta;
use super::record::{Event, Record};
use crate::error::StateError;
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
            // A directory with a journal but no run.json is damage, shown as such.
            .filter(|e| {
                e.path().join("run.json").exists() || e.path().join("journal.jsonl").exists()
            })
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
    /// Whether anything of the run is here (`run.json` or a journal).
    pub fn exists(&self) -> bool {
        self.meta_path().exists() || self.journal_path().exists()
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

    /// Create the directory, operator-only. `run.json` is written by [`RunDir::write_meta`] once
    /// the journal holds its first record, so a `run.json` without a journal is never a run
    /// that was merely slow to start: it is damage.
    pub fn create(&self) -> Result<(), StateError> {
        fs::create_dir_all(&self.path)
            .and_then(|_| fs::set_permissions(&self.path, fs::Permissions::from_mode(0o700)))
            .map_err(StateError::io("creating", &self.path))
    }

    pub fn write_meta(&self, meta: &RunMeta) -> Result<(), StateError> {
        let path = self.meta_path();
        let text = serde_json::to_string_pretty(meta).expect("run.json serializes");
        write_private(&path, text.as_bytes()).map_err(StateError::io("writing", &path))
    }

    pub fn read_meta(&self) -> Result<RunMeta, StateError> {
        let path = self.meta_path();
        let text = fs::read_to_string(&path).map_err(StateError::io("reading", &path))?;
        serde_json::from_str(&text).map_err(|e| StateError::Damaged {
            run_id: self.id(),
            dir: self.path.clone(),
            reason: format!("{} is not a run description: {e}", path.display()),
        })
    }

    /// Every complete record, checked. Only an unterminated last line may be torn (the process
    /// died mid-write, or the disk filled): the engine had not acted on it, since it acts only
    /// after the sync, so it is left out and reported in [`JournalRead::torn`]. Any other line
    /// that is not the next record in sequence is corruption: reading stops with its line.
    pub fn read_journal(&self) -> Result<JournalRead, StateError> {
        let path = self.journal_path();
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(StateError::io("reading", &path)(e)),
        };
        let mut records = Vec::new();
        let mut offset = 0usize;
        let mut line = 0usize;
        while offset < bytes.len() {
            line += 1;
            let Some(length) = bytes[offset..].iter().position(|b| *b == b'\n') else {
                return Ok(JournalRead {
                    records,
                    torn: Some(TornTail {
                        line,
                        offset: offset as u64,
                        bytes: (bytes.len() - offset) as u64,
                    }),
                });
            };
            let corrupt = |reason: String| StateError::Corrupt {
                path: path.clone(),
                line,
                reason,
            };
            let text = std::str::from_utf8(&bytes[offset..offset + length])
                .map_err(|e| corrupt(format!("not UTF-8 text ({e})")))?;
            let record: Record = serde_json::from_str(text)
                .map_err(|e| corrupt(format!("not a journal record ({e})")))?;
            let expected = records.len() as u64 + 1;
            if record.seq != expected {
                return Err(corrupt(format!(
                    "record out of sequence: expected seq {expected}, found {}",
                    record.seq
                )));
            }
            records.push(record);
            offset += length + 1;
        }
        Ok(JournalRead {
            records,
            torn: None,
        })
    }
}

/// A journal as read: its complete records, and the torn last line if there is one.
#[derive(Debug, Clone, Default)]
pub struct JournalRead {
    pub records: Vec<Record>,
    pub torn: Option<TornTail>,
}

/// An unterminated last line: `bytes` bytes from `offset`, line `line` of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TornTail {
    pub line: usize,
    pub offset: u64,
    pub bytes: u64,
}

impl std::fmt::Display for TornTail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "a torn last record (line {}, {} bytes) left by a crash or a full disk mid-write",
            self.line, self.bytes
        )
    }
}

/// Write a file the operator alone may read, atomically: a crash leaves the old file or the new
/// one, never a part of either.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let temporary = path.with_extension("tmp");
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    fs::rename(&temporary, path)?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Appends records, each synced before `append` returns.
pub struct JournalWriter {
    file: File,
    path: PathBuf,
    /// The length of the complete records: a failed write is cut back to it.
    length: u64,
    next_seq: u64,
    redactor: std::sync::Arc<Redactor>,
}

impl JournalWriter {
    /// Open for appending after what `read` found. A torn last line is cut off first (and the
    /// cut synced), so the next record starts on a line of its own; the caller says so.
    pub fn open(
        run: &RunDir,
        read: &JournalRead,
        redactor: std::sync::Arc<Redactor>,
    ) -> Result<Self, StateError> {
        let path = run.journal_path();
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&path)
            .map_err(StateError::io("opening", &path))?;
        if let Some(torn) = read.torn {
            file.set_len(torn.offset)
                .and_then(|_| file.sync_all())
                .map_err(StateError::io("repairing", &path))?;
        }
        let length = file
            .metadata()
            .map_err(StateError::io("reading", &path))?
            .len();
        Ok(JournalWriter {
            file,
            path,
            length,
            next_seq: read.records.len() as u64 + 1,
            redactor,
        })
    }

    /// Write one record and sync it; returns the record as written (secrets masked). The event's
    /// values are masked before it is serialized, so no secret can break the line's JSON.
    pub fn append(&mut self, event: Event) -> Result<Record, StateError> {
        let record = Record {
            seq: self.next_seq,
            at: now_rfc3339(),
            event: event.redacted(&self.redactor),
        };
        let mut line = serde_json::to_string(&record).expect("records serialize");
        line.push('\n');
        if let Err(e) = self
            .file
            .write_all(line.as_bytes())
            .and_then(|_| self.file.sync_data())
        {
            // Leave no fragment for the next record to be appended to (best effort: the next
            // open repairs it otherwise).
            let _ = self.file.set_len(self.length);
            return Err(StateError::io("writing", &self.path)(e));
        }
        self.length += line.len() as u64;
        self.next_seq += 1;
        Ok(record)
    }
}
