//! An S3 server: moto's (`pip install 'moto[server]'`), one process per instance, on its own port.
//! Two instances are two independent object stores, for copies between endpoints.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{free_port, http_status, log_file, stop, wait_for};

pub struct MotoServer {
    child: Child,
    _logs: tempfile::TempDir,
    pub port: u16,
    /// Serving HTTPS (with the certificate given to [`MotoServer::start_tls`]).
    tls: bool,
}

/// Any key works with moto; these are what the test runbooks' connections use.
pub const ACCESS_KEY: &str = "AKIAEXAMPLETESTKEY";
pub const SECRET_KEY: &str = "s3cr3t-moto-Secret-Key-1234";
pub const REGION: &str = "us-east-1";

impl MotoServer {
    pub fn start() -> MotoServer {
        let port = free_port();
        let logs = tempfile::tempdir().expect("temp dir");
        let (log, stderr) = log_file(logs.path(), "moto.log");
        let mut child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start moto_server (pip install 'moto[server]')");
        wait_for(
            Duration::from_secs(60),
            "moto_server",
            &mut child,
            &log,
            || http_status(port, "/").is_some(),
        );
        MotoServer {
            child,
            _logs: logs,
            port,
            tls: false,
        }
    }

    /// An S3 server on HTTPS with this certificate and key (PEM files).
    pub fn start_tls(cert: &std::path::Path, key: &std::path::Path) -> MotoServer {
        let port = free_port();
        let logs = tempfile::tempdir().expect("temp dir");
        let (log, stderr) = log_file(logs.path(), "moto.log");
        let mut child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string(), "-c"])
            .arg(cert)
            .arg("-k")
            .arg(key)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start moto_server (pip install 'moto[server]')");
        // Readiness: something accepts TCP connections and the log says it serves HTTPS.
        wait_for(
            Duration::from_secs(60),
            "moto_server (TLS)",
            &mut child,
            &log,
            || {
                std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
                    && std::fs::read_to_string(&log).is_ok_and(|l| l.contains("https://"))
            },
        );
        MotoServer {
            child,
            _logs: logs,
            port,
            tls: true,
        }
    }

    pub fn endpoint(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// Runs Python with `s3` bound to a boto3 client of this server (path-style), for setting up
    /// buckets and objects and reading them back; returns what it prints.
    pub fn python(&self, code: &str) -> String {
        let script = format!(
            "import boto3, json, sys\nfrom botocore.config import Config\ns3 = boto3.client('s3', endpoint_url='{}', aws_access_key_id='{ACCESS_KEY}', aws_secret_access_key='{SECRET_KEY}', region_name='{REGION}', config=Config(s3={{'addressing_style': 'path'}}))\n{code}\n",
            self.endpoint()
        );
        let output = Command::new("python3")
            .arg("-c")
            .arg(&script)
            .env_remove("AWS_CA_BUNDLE")
            .output()
            .expect("run python3");
        assert!(
            output.status.success(),
            "python against moto failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stderr),
            script
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// The `connections:` entry (YAML flow mapping) for this server.
    pub fn connection(&self) -> String {
        format!(
            "{{kind: s3, endpoint: \"{}\", region: {REGION}, access_key: {ACCESS_KEY}, secret_key: \"{{{{ params.s3_secret }}}}\", path_style: true}}",
            self.endpoint()
        )
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}
