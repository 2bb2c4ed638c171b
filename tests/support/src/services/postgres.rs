//! PostgreSQL (Debian's `postgresql-15`) as a plain process on loopback: a cluster made by
//! `initdb` in a temp dir, password authentication (scram-sha-256) for the `postgres` superuser,
//! started on a free port and killed when dropped; plus `psql`, `pg_dump` and the environment a
//! client needs to reach it.
//!
//! PostgreSQL refuses to run as root. When the tests run as root (as in CI containers), `initdb`
//! and `postgres` run as the `postgres` system user through `setpriv`, and the temp dir is handed
//! to that user.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use super::{free_port, log_file, stop, wait_for};

/// Where Debian installs the server binaries (they are not on PATH).
const BIN_DIRS: &[&str] = &["/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin"];

pub struct Postgres {
    child: Child,
    dir: tempfile::TempDir,
    pub port: u16,
    password: String,
}

/// The superuser the server is initialised with.
pub const SUPERUSER: &str = "postgres";

fn bin(name: &str) -> PathBuf {
    BIN_DIRS
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from(name))
}

fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { geteuid() == 0 }
}

unsafe extern "C" {
    fn geteuid() -> u32;
    fn kill(pid: i32, signal: i32) -> i32;
}

/// A command for a server binary, as the `postgres` user when we are root.
fn server_command(program: &Path) -> Command {
    if running_as_root() {
        // `setpriv` execs the program (unlike `runuser`, which forks and waits), so the child
        // we hold is the server itself and signals reach it.
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            "--",
        ])
        .arg(program);
        c
    } else {
        Command::new(program)
    }
}

impl Postgres {
    /// Initialises a cluster whose `postgres` user has `password`, and starts it.
    pub fn start(password: &str) -> Postgres {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        let socket = dir.path().join("socket");
        std::fs::create_dir_all(&socket).expect("socket dir");
        let pwfile = dir.path().join("pwfile");
        std::fs::write(&pwfile, format!("{password}\n")).expect("write the password file");
        if running_as_root() {
            // The server user must own its directories (and read the password file).
            let chown = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("run chown");
            assert!(chown.success(), "chown of the PostgreSQL temp dir failed");
        }
        let init = server_command(&bin("initdb"))
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                SUPERUSER,
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .expect("run initdb (apt-get install postgresql-15)");
        assert!(
            init.status.success(),
            "initdb failed:\n{}{}",
            String::from_utf8_lossy(&init.stdout),
            String::from_utf8_lossy(&init.stderr)
        );
        let _ = std::fs::remove_file(&pwfile);
        let port = free_port();
        let (log, stderr) = log_file(dir.path(), "postgres.log");
        let mut child = server_command(&bin("postgres"))
            .arg("-D")
            .arg(&data)
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .arg("-k")
            .arg(&socket)
            .args(["-c", "fsync=off", "-c", "full_page_writes=off"])
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start postgres");
        wait_for(
            Duration::from_secs(60),
            "postgres",
            &mut child,
            &log,
            || {
                Command::new(bin("pg_isready"))
                    .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q"])
                    .status()
                    .is_ok_and(|s| s.success())
            },
        );
        Postgres {
            child,
            dir,
            port,
            password: password.to_string(),
        }
    }

    /// The superuser's password.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The libpq environment that reaches this server as the superuser (`PGHOST`, `PGPORT`,
    /// `PGUSER`, `PGPASSWORD`).
    pub fn client_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("PGHOST", "127.0.0.1".to_string()),
            ("PGPORT", self.port.to_string()),
            ("PGUSER", SUPERUSER.to_string()),
            ("PGPASSWORD", self.password.clone()),
        ]
    }

    /// A client program (`psql`, `pg_dump`, ...) with [`client_env`](Self::client_env) set.
    pub fn client(&self, program: &str) -> Command {
        let mut c = Command::new(bin(program));
        c.envs(self.client_env()).env("PGCONNECT_TIMEOUT", "10");
        c
    }

    /// Runs SQL with `psql -v ON_ERROR_STOP=1` in `database`; panics on failure. Returns the
    /// output unaligned, tuples only, fields separated by `|`.
    pub fn sql(&self, database: &str, sql: &str) -> String {
        let out = self.try_sql(database, sql);
        assert!(
            out.status.success(),
            "psql in {database} failed: {}\n{sql}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Like [`sql`](Self::sql), returning the output whatever happened.
    pub fn try_sql(&self, database: &str, sql: &str) -> Output {
        self.client("psql")
            .args([
                "-X",
                "-q",
                "-A",
                "-t",
                "-F",
                "|",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                database,
            ])
            .args(["-c", sql])
            .output()
            .expect("run psql (apt-get install postgresql-client)")
    }

    /// The names of the databases on the server (templates left out).
    pub fn databases(&self) -> Vec<String> {
        self.sql(
            "postgres",
            "SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY datname",
        )
        .lines()
        .map(str::to_string)
        .collect()
    }

    /// `pg_dump` of one database (plain SQL) into `to`.
    pub fn dump(&self, database: &str, to: &Path) {
        let out = self
            .client("pg_dump")
            .args(["-d", database, "-f"])
            .arg(to)
            .output()
            .expect("run pg_dump");
        assert!(
            out.status.success(),
            "pg_dump {database} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The server's own log (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // A fast shutdown (SIGINT) ends the backends too; SIGKILL only if it does not stop.
        // SAFETY: signalling our own child process.
        unsafe { kill(self.child.id() as i32, 2) };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        stop(&mut self.child);
    }
}
