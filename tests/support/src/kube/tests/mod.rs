//! Tests of the emulator with the real `kube` client (kube 5, k8s-openapi 0.29), through the
//! kubeconfig it writes.

mod api;
mod crds;
mod cronjobs;
mod discovery;
mod exec;
mod jobs;
mod kubectl;
mod server_side_apply;
mod validation;
mod velero;
mod volumes;
mod watch;

use std::future::Future;
use std::time::Duration;

use kube::Client;
use kube::config::{Config, KubeConfigOptions, Kubeconfig};

use super::KubeEmulator;

/// Runs an async test body on a fresh runtime (the emulator has its own).
fn run<F: Future>(body: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("test runtime")
        .block_on(body)
}

/// A kube client configured from the emulator's kubeconfig file, as the CLI would be.
async fn client(k8s: &KubeEmulator) -> Client {
    let kubeconfig = Kubeconfig::read_from(k8s.kubeconfig_path()).expect("kubeconfig parses");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("kube accepts the kubeconfig");
    Client::try_from(config).expect("client")
}

/// One plain HTTP/1.0 request (for checks below the client: raw bodies, headers, download URLs).
/// Returns the status code, the header block and the body.
fn http(method: &str, url: &str) -> (u16, String, Vec<u8>) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest.split_once('/').expect("URL with a path");
    let mut s = std::net::TcpStream::connect(host).expect("connect");
    write!(s, "{method} /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n").expect("write request");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read response");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let code = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status code");
    (code, head, raw[split + 4..].to_vec())
}

/// Generous bound for controller-driven transitions.
const SETTLE: Duration = Duration::from_secs(15);
