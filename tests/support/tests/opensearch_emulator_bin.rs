//! The standalone `opensearch-emulator` binary prints where it listens and serves there.

use std::io::BufRead;
use std::process::{Command, Stdio};

use runbook_testsupport::opensearch::http_request;

#[test]
fn the_binary_prints_its_url_and_serves_with_the_given_credentials() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_opensearch-emulator"))
        .args(["--port", "0", "--username", "ops", "--password", "Bin-pw-1"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start opensearch-emulator");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().to_string();
    let result = std::panic::catch_unwind(|| {
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        let (status, body) =
            http_request(&url, "GET", "/_cluster/health", ("ops", "Bin-pw-1"), None).unwrap();
        assert_eq!(status, 200, "{body}");
        let (status, _) = http_request(&url, "GET", "/", ("ops", "wrong"), None).unwrap();
        assert_eq!(status, 401);
    });
    let _ = child.kill();
    let _ = child.wait();
    result.unwrap();
}
