//! One driver per run. The lock is an OS file lock (`flock`) on `runs/<id>/lock`: the kernel
//! grants it to one process at a time and releases it when that process dies, however it dies, so
//! taking and breaking a stale lock is one atomic step and a reused pid can never keep a run
//! locked. The file's text only names the holder for people (`status`, "driven by ...").

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::store::{RunDir, now_rfc3339};
use crate::error::LockError;

/// Who drives a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockHolder {
    pub user: String,
    pub host: String,
    pub pid: u32,
    pub since: String,
    pub command: String,
    /// When the process started (Linux: clock ticks after boot, with the boot's id), so a pid
    /// that now belongs to another process is not taken for the holder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process_start: Option<String>,
}

impl std::fmt::Display for LockHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}@{} (pid {}, `{}`, since {})",
            self.user, self.host, self.pid, self.command, self.since
        )
    }
}

impl LockHolder {
    pub fn current(command: &str) -> Self {
        LockHolder {
            user: current_user(),
            host: hostname(),
            pid: std::process::id(),
            since: now_rfc3339(),
            command: command.into(),
            process_start: process_start(std::process::id()),
        }
    }

    /// Whether the named process still runs: on this host, the pid exists and (where the start
    /// time is known) is the same process. A holder on another host cannot be checked from here
    /// and counts as alive.
    pub fn is_alive(&self) -> bool {
        if self.host != hostname() {
            return true;
        }
        if !process_alive(self.pid) {
            return false;
        }
        match (&self.process_start, process_start(self.pid)) {
            (Some(recorded), Some(now)) => *recorded == now,
            _ => true,
        }
    }
}

/// Held while a process drives a run; released on drop (and by the kernel if the process dies).
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
    // Holding the open file holds the lock.
    _file: File,
}

impl RunLock {
    /// Take the lock. `Ok((lock, Some(previous)))` when a dead process had left its name in the
    /// lock file (a stale lock, now taken over); `Err(Held)` when a live process holds it.
    pub fn acquire(
        run: &RunDir,
        command: &str,
    ) -> Result<(RunLock, Option<LockHolder>), LockError> {
        let path = run.lock_path();
        let me = LockHolder::current(command);
        loop {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(&path)
                .map_err(LockError::Io)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(fs::TryLockError::WouldBlock) => {
                    return Err(LockError::Held(holder_of(&path).map(Box::new)));
                }
                Err(fs::TryLockError::Error(e)) => return Err(LockError::Io(e)),
            }
            // The previous holder unlinks the file before it lets go of the lock: if the path no
            // longer names the file this process locked, that lock guards nothing; start again.
            if !same_file(&file, &path).map_err(LockError::Io)? {
                continue;
            }
            let previous = read_holder_from(&mut file);
            let body = serde_json::to_vec_pretty(&me).expect("holder serializes");
            file.set_len(0)
                .and_then(|_| file.rewind())
                .and_then(|_| file.write_all(&body))
                .map_err(LockError::Io)?;
            return Ok((RunLock { path, _file: file }, previous));
        }
    }

    /// The live process that drives the run, if any.
    pub fn holder(run: &RunDir) -> Option<LockHolder> {
        read_holder(&run.lock_path()).filter(LockHolder::is_alive)
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Unlink while still holding the lock (see `acquire`); the lock goes with the file.
        let _ = fs::remove_file(&self.path);
    }
}

/// The holder named in a lock that is held. It may not have written its name yet (it took the
/// lock an instant ago), or the text may still be a dead predecessor's: wait briefly for a live
/// name rather than name the wrong process.
fn holder_of(path: &Path) -> Option<LockHolder> {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let holder = read_holder(path);
        if holder.as_ref().is_some_and(LockHolder::is_alive) || Instant::now() > deadline {
            return holder.filter(LockHolder::is_alive);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn same_file(file: &File, path: &Path) -> std::io::Result<bool> {
    let held = file.metadata()?;
    match fs::metadata(path) {
        Ok(now) => Ok(now.dev() == held.dev() && now.ino() == held.ino()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

fn read_holder(path: &Path) -> Option<LockHolder> {
    serde_json::from_str(&fs::read_to_string(path).ok()?).ok()
}

fn read_holder_from(file: &mut File) -> Option<LockHolder> {
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // Signal 0 checks existence; EPERM means it exists under another user.
    let result = unsafe { libc::kill(pid, 0) };
    result == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// `<boot id>/<start ticks>` from procfs, where there is one.
fn process_start(pid: u32) -> Option<String> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after its end.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let start_ticks = after_name.split_whitespace().nth(19)?;
    let boot = fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    Some(format!("{}/{start_ticks}", boot.trim()))
}

pub fn hostname() -> String {
    let mut buffer = [0u8; 256];
    let result = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) };
    let end = buffer.iter().position(|b| *b == 0).unwrap_or(buffer.len());
    match result {
        0 if end > 0 => String::from_utf8_lossy(&buffer[..end]).into_owned(),
        _ => "localhost".into(),
    }
}

pub fn current_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| format!("uid {}", unsafe { libc::getuid() }))
}
