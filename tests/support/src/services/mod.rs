//! Real servers started as child processes on 127.0.0.1 for the end-to-end tests: an S3 server
//! (moto) and InfluxDB 1.x. Each takes free ports, so tests may run in parallel, and is killed
//! when dropped.

pub mod influxdb;
pub mod moto;
pub mod postgres;
pub mod tls;

use std::io::{Read, Write};

use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind a free port")
        .local_addr()
        .expect("bound address")
        .port()
}

/// The status code of a plain `GET path` to 127.0.0.1:port, if anything answers.
pub fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut stream =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(500))
            .ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 32];
    let n = stream.read(&mut head).ok()?;
    let line = String::from_utf8_lossy(&head[..n]).into_owned();
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Polls until `ready` holds; panics with `what` and the process's log after `limit`.
pub fn wait_for(
    limit: Duration,
    what: &str,
    child: &mut std::process::Child,
    log: &std::path::Path,
    mut ready: impl FnMut() -> bool,
) {
    let start = Instant::now();
    while !ready() {
        if let Ok(Some(status)) = child.try_wait() {
            let err = std::fs::read_to_string(log).unwrap_or_default();
            panic!("{what} exited with {status} before it was ready:\n{err}");
        }
        assert!(
            start.elapsed() < limit,
            "{what} was not ready after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A log file for a server's output: a pipe nobody reads would block or kill it once full or closed.
pub(crate) fn log_file(
    dir: &std::path::Path,
    name: &str,
) -> (std::path::PathBuf, std::process::Stdio) {
    let path = dir.join(name);
    let file = std::fs::File::create(&path).expect("create a server log");
    (path, file.into())
}

/// Kills a child process and reaps it.
pub(crate) fn stop(child: &mut std::process::Child) {
    let _ = child.kill();
    let _ = child.wait();
}
