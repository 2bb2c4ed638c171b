//! The state shared by the HTTP handlers, the controllers and the test-facing handle.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, OnceLock};

use serde_json::Value;

use super::script::{Scripts, StoredBackup};
use super::store::Store;

/// One request the emulator served, for tests to assert what the CLI did.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// HTTP method (`GET`, `POST`, ...).
    pub method: String,
    /// Path without the query string.
    pub path: String,
    /// Raw query string ("" when none).
    pub query: String,
    /// `Content-Type` of the request body, if any.
    pub content_type: Option<String>,
    /// The body parsed as JSON (or YAML for apply), when there was one.
    pub body: Option<Value>,
}

impl RecordedRequest {
    /// The value of a query parameter, percent-decoded.
    pub fn query_param(&self, key: &str) -> Option<String> {
        super::routes::parse_query(&self.query)
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }
}

/// What Velero's object storage holds, per location name.
#[derive(Default)]
pub struct VeleroBuckets {
    /// Backups in each location's bucket (metadata and contents).
    pub backups: HashMap<String, Vec<StoredBackup>>,
    /// Restore results (`restore-<name>-results.gz` content), by restore name.
    pub restore_results: HashMap<String, Value>,
    /// Restore logs, by restore name.
    pub restore_logs: HashMap<String, String>,
}

impl VeleroBuckets {
    /// The stored backup with this name, in any location.
    pub fn find(&self, name: &str) -> Option<(&str, &StoredBackup)> {
        self.backups.iter().find_map(|(loc, list)| {
            list.iter()
                .find(|b| b.name == name)
                .map(|b| (loc.as_str(), b))
        })
    }
}

/// The emulated cluster.
pub struct Cluster {
    /// Objects, resourceVersions and watch history.
    pub store: Mutex<Store>,
    /// What the test scripted.
    pub scripts: Mutex<Scripts>,
    /// Requests served so far.
    pub requests: Mutex<Vec<RecordedRequest>>,
    /// Velero's object storage.
    pub buckets: Mutex<VeleroBuckets>,
    /// Changing this ends every open watch (as an apiserver restart or timeout would).
    pub watch_generation: tokio::sync::watch::Sender<u64>,
    /// `http://127.0.0.1:PORT`, known once the listener is bound.
    pub base_url: OnceLock<String>,
}

/// Locks a mutex, recovering from a panic in another holder (a failed test must not wedge the server).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Cluster {
    /// A fresh cluster with the default namespaces.
    pub fn new() -> Self {
        let (watch_generation, _) = tokio::sync::watch::channel(0);
        Self {
            store: Mutex::new(Store::new()),
            scripts: Mutex::new(Scripts {
                rollout_delay: std::time::Duration::from_millis(100),
                ..Scripts::default()
            }),
            requests: Mutex::new(Vec::new()),
            buckets: Mutex::new(VeleroBuckets::default()),
            watch_generation,
            base_url: OnceLock::new(),
        }
    }

    /// The store, locked.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    /// The scripts, locked.
    pub fn scripts(&self) -> MutexGuard<'_, Scripts> {
        lock(&self.scripts)
    }

    /// The buckets, locked.
    pub fn buckets(&self) -> MutexGuard<'_, VeleroBuckets> {
        lock(&self.buckets)
    }
}

impl Default for Cluster {
    fn default() -> Self {
        Self::new()
    }
}
