//! InfluxDB 1.x (Debian's `influxdb` package) as a plain process on loopback, with its own
//! directories, HTTP auth on and an admin user; plus the `influx` CLI and `influxd backup` /
//! `restore -portable` against it.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::{free_port, http_status, log_file, stop, wait_for};

pub struct InfluxDb {
    child: Child,
    _dir: tempfile::TempDir,
    pub http_port: u16,
    /// The RPC port `influxd backup`/`restore` talk to.
    pub rpc_port: u16,
    /// The admin user [`query`](Self::query) runs as.
    pub admin: String,
    admin_password: String,
}

pub const ADMIN: &str = "admin";
pub const ADMIN_PASSWORD: &str = "influx-Adm1n-pw";

impl InfluxDb {
    pub fn start() -> InfluxDb {
        Self::start_with_admin(ADMIN, ADMIN_PASSWORD)
    }

    /// Like [`start`](Self::start), with this admin user and password (e.g. the ones a ck8s
    /// config's secrets name).
    pub fn start_with_admin(admin: &str, admin_password: &str) -> InfluxDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let (http_port, rpc_port) = (free_port(), free_port());
        let d = dir.path().display();
        let config = format!(
            "reporting-disabled = true\nbind-address = \"127.0.0.1:{rpc_port}\"\n[meta]\n  dir = \"{d}/meta\"\n[data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n  query-log-enabled = false\n[http]\n  enabled = true\n  bind-address = \"127.0.0.1:{http_port}\"\n  auth-enabled = true\n  log-enabled = false\n[monitor]\n  store-enabled = false\n[continuous_queries]\n  enabled = false\n[subscriber]\n  enabled = false\n"
        );
        let config_path = dir.path().join("influxdb.conf");
        std::fs::write(&config_path, config).expect("write influxdb.conf");
        let (log, stderr) = log_file(dir.path(), "influxd.log");
        let mut child = Command::new("influxd")
            .arg("-config")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start influxd (apt-get install influxdb influxdb-client)");
        wait_for(Duration::from_secs(60), "influxd", &mut child, &log, || {
            http_status(http_port, "/ping") == Some(204)
        });
        let server = InfluxDb {
            child,
            _dir: dir,
            http_port,
            rpc_port,
            admin: admin.to_string(),
            admin_password: admin_password.to_string(),
        };
        // With no users yet the first admin needs no credentials.
        let created = server.influx(
            &[
                "-execute",
                &format!(
                    "CREATE USER {admin} WITH PASSWORD '{admin_password}' WITH ALL PRIVILEGES"
                ),
            ],
            false,
        );
        assert!(
            created.status.success(),
            "creating the admin: {}",
            String::from_utf8_lossy(&created.stderr)
        );
        server
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    fn influx(&self, args: &[&str], auth: bool) -> Output {
        let mut command = Command::new("influx");
        command.args(["-host", "127.0.0.1", "-port", &self.http_port.to_string()]);
        if auth {
            command.args(["-username", &self.admin, "-password", &self.admin_password]);
        }
        command
            .args(args)
            .env("HOME", self._dir.path())
            .output()
            .expect("run influx (apt-get install influxdb-client)")
    }

    /// Runs InfluxQL as the admin and returns the `results` array (empty when nothing was printed).
    pub fn query(&self, query: &str, database: Option<&str>) -> Value {
        self.try_query(query, database)
            .unwrap_or_else(|e| panic!("influx `{query}` failed: {e}"))
    }

    /// Like [`query`](Self::query), with the failure as an error (restored shards are briefly
    /// "disabled" while they load).
    pub fn try_query(&self, query: &str, database: Option<&str>) -> Result<Value, String> {
        let mut args = vec!["-format", "json", "-execute", query];
        if let Some(db) = database {
            args.extend(["-database", db]);
        }
        let out = self.influx(&args, true);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            return Err(format!("{}{text}", String::from_utf8_lossy(&out.stderr)));
        }
        // Statements without results (CREATE, INSERT, GRANT) print nothing.
        if text.trim().is_empty() {
            return Ok(Value::Array(Vec::new()));
        }
        let json: Value = serde_json::from_str(text.trim())
            .map_err(|e| format!("influx printed no JSON ({e}): {text}"))?;
        Ok(json["results"].clone())
    }

    /// Rows of the first series of a one-statement query.
    pub fn rows(&self, query: &str, database: Option<&str>) -> Vec<Vec<Value>> {
        let results = self.query(query, database);
        let values = &results[0]["series"][0]["values"];
        values
            .as_array()
            .map(|rows| {
                rows.iter()
                    .map(|r| r.as_array().cloned().unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `influxd backup -portable` of every database into `dir`.
    pub fn backup(&self, dir: &Path) -> Output {
        self.influxd(
            &[
                "backup",
                "-portable",
                "-host",
                &format!("127.0.0.1:{}", self.rpc_port),
            ],
            dir,
        )
    }

    /// `influxd restore -portable` of everything in `dir`.
    pub fn restore(&self, dir: &Path) -> Output {
        self.influxd(
            &[
                "restore",
                "-portable",
                "-host",
                &format!("127.0.0.1:{}", self.rpc_port),
            ],
            dir,
        )
    }

    fn influxd(&self, args: &[&str], dir: &Path) -> Output {
        Command::new("influxd")
            .args(args)
            .arg(dir)
            .output()
            .expect("run influxd")
    }
}

impl Drop for InfluxDb {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}
