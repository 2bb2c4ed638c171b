use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::store::{RunDir, now_rfc3339};

/// Who drives a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockHolder {
    pub user: String,
    pub host: String,
    pub pid: u32,
    pub since: String,
    pub command: String,
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
        }
    }

    /// A lock from a process that no longer exists on this host. Locks from other hosts are
    /// never judged stale: their process cannot be checked from here.
    pub fn is_stale(&self) -> bool {
        self.host == hostname() && !process_alive(self.pid)
    }
}

/// Held while a process drives a run; released on drop.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
}

pub enum LockError {
    Held(LockHolder),
    Io(std::io::Error),
}

impl RunLock {
    /// Take the lock, breaking a stale one. `Err(Held)` names the live holder.
    pub fn acquire(
        run: &RunDir,
        command: &str,
    ) -> Result<(RunLock, Option<LockHolder>), LockError> {
        let path = run.lock_path();
        let me = LockHolder::current(command);
        let mut broken = None;
        for _ in 0..3 {
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
            {
                Ok(mut file) => {
                    let body = serde_json::to_vec_pretty(&me).expect("holder serializes");
                    file.write_all(&body)
                        .and_then(|_| file.sync_all())
                        .map_err(LockError::Io)?;
                    return Ok((RunLock { path }, broken));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = read_holder(&path);
                    match holder {
                        Some(h) if !h.is_stale() => return Err(LockError::Held(h)),
                        // Stale, or unreadable (a process died between create and write).
                        other => {
                            broken = other;
                            let _ = fs::remove_file(&path);
                        }
                    }
                }
                Err(e) => return Err(LockError::Io(e)),
            }
        }
        Err(LockError::Io(std::io::Error::other(
            "could not take the run lock after breaking a stale one",
        )))
    }

    /// The current holder, if any process holds the lock and is alive.
    pub fn holder(run: &RunDir) -> Option<LockHolder> {
        read_holder(&run.lock_path()).filter(|h| !h.is_stale())
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

fn read_holder(path: &std::path::Path) -> Option<LockHolder> {
    serde_json::from_str(&fs::read_to_string(path).ok()?).ok()
}

fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // Signal 0 checks existence; EPERM means it exists under another user.
    let result = unsafe { libc::kill(pid, 0) };
    result == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
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
