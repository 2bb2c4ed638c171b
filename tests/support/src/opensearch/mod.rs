//! An emulated OpenSearch cluster for the snapshot and restore kinds: repositories, snapshots,
//! restores that recover over a few polls, indices (create, delete, close, count) and the `_cat`
//! and `_recovery` views, with basic auth and the status codes and error bodies of the real one.
//! Test support only; never linked into the binary.

mod blobstore;
mod cat;
mod cluster_api;
mod errors;
mod indices_api;
mod names;
mod repository_data;
mod restore;
mod routes;
mod snapshot_api;
pub mod spec_schema;
pub mod spec_stories;
mod state;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

pub use blobstore::ObjectStore;
pub use state::{Cluster, Flavour, Index, Resolve, Snapshot};

/// A running emulator. Dropping it stops the server.
pub struct OpenSearchEmulator {
    cluster: Arc<Mutex<Cluster>>,
    url: String,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl OpenSearchEmulator {
    /// Starts on a free port of 127.0.0.1, accepting basic auth with `username`/`password`.
    pub fn start(username: &str, password: &str) -> Self {
        Self::start_on(0, username, password)
    }

    /// Starts on `port` of 127.0.0.1 (0: a free one); panics when it cannot bind it.
    pub fn start_on(port: u16, username: &str, password: &str) -> Self {
        let cluster = Arc::new(Mutex::new(Cluster::new(username, password)));
        let (addr_tx, addr_rx) = std::sync::mpsc::channel::<std::io::Result<SocketAddr>>();
        let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
        let served = cluster.clone();
        let thread = std::thread::Builder::new()
            .name("opensearch-emulator".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("opensearch emulator runtime");
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
                        Ok(listener) => listener,
                        Err(e) => {
                            let _ = addr_tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = addr_tx.send(listener.local_addr());
                    let app = routes::router(served);
                    let _ = axum::serve(listener, app)
                        .with_graceful_shutdown(async move {
                            let _ = shutdown_rx.await;
                        })
                        .await;
                });
            })
            .expect("spawn the opensearch emulator thread");
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the opensearch emulator started")
            .unwrap_or_else(|e| panic!("bind the opensearch emulator to 127.0.0.1:{port}: {e}"));
        OpenSearchEmulator {
            cluster,
            url: format!("http://{addr}"),
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Read or change the cluster's state.
    pub fn with<T>(&self, f: impl FnOnce(&mut Cluster) -> T) -> T {
        f(&mut self.cluster.lock().expect("cluster lock"))
    }
}

/// One blocking HTTP/1.1 request with basic auth (what a test's stand-in for a `curl` container
/// sends): `url` is the emulator's base URL, `path` starts with `/`. Returns the status and body.
pub fn http_request(
    url: &str,
    method: &str,
    path: &str,
    credentials: (&str, &str),
    body: Option<&serde_json::Value>,
) -> std::io::Result<(u16, String)> {
    use base64::Engine;
    use std::io::{Read, Write};
    let host = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let mut stream = std::net::TcpStream::connect(&host)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    let auth = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", credentials.0, credentials.1));
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Basic {auth}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
        payload.len()
    );
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok((status, body.to_string()))
}

impl Drop for OpenSearchEmulator {
    fn drop(&mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
