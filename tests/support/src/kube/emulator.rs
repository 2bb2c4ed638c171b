//! `KubeEmulator`: the test-facing handle. It runs the API server and the controllers on their own
//! thread and tokio runtime, so tests stay plain synchronous `#[test]`s that spawn the CLI.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::controllers;
use super::kubeconfig;
use super::managed_fields::Writer;
use super::meta::{name_of, namespace_of};
use super::resources::ResourceType;
use super::routes;
use super::script::{ExecCall, ExecResult, JobScript, PodMatcher, RestoreScript, StoredBackup};
use super::state::{Cluster, RecordedRequest, lock};
use super::status::ApiError;
use super::store::{DeleteOptions, Propagation};

/// A running emulated Kubernetes API server. Dropping it stops the server.
pub struct KubeEmulator {
    cluster: Arc<Cluster>,
    url: String,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The real Velero 1.16.1 CRDs (as the Helm chart ships them), relative to this crate.
const VELERO_CRDS: &str = "../fixtures/velero-crds";

/// The CRD objects of Velero, read from the reference files.
pub fn velero_crds() -> Vec<Value> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(VELERO_CRDS);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| {
            let text =
                std::fs::read_to_string(f).unwrap_or_else(|e| panic!("read {}: {e}", f.display()));
            serde_saphyr::from_str::<Value>(&text)
                .unwrap_or_else(|e| panic!("{} is one YAML document: {e}", f.display()))
        })
        .collect()
}

impl KubeEmulator {
    /// Starts the server on a free port of 127.0.0.1 with Velero installed (its real CRDs
    /// created through the API, its controller running) and writes a kubeconfig for it.
    pub fn start() -> Self {
        let k8s = Self::start_bare();
        for crd in velero_crds() {
            k8s.create(crd)
                .unwrap_or_else(|e| panic!("the Velero CRDs install: {e}"));
        }
        k8s
    }

    /// Starts the server with no CustomResourceDefinitions: custom kinds are served once a
    /// test creates their CRD.
    pub fn start_bare() -> Self {
        let cluster = Arc::new(Cluster::new());
        let (addr_tx, addr_rx) = std::sync::mpsc::channel::<SocketAddr>();
        let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
        let server_cluster = cluster.clone();
        let thread = std::thread::Builder::new()
            .name("kube-emulator".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("kube emulator runtime");
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                        .await
                        .expect("bind the kube emulator");
                    let addr = listener.local_addr().expect("bound address");
                    let _ = server_cluster.base_url.set(format!("http://{addr}"));
                    controllers::spawn_all(&server_cluster);
                    let app = routes::router(server_cluster.clone());
                    let _ = addr_tx.send(addr);
                    let (grace_tx, grace_rx) = oneshot::channel::<()>();
                    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
                        let _ = grace_rx.await;
                    });
                    let stop = async move {
                        let _ = shutdown_rx.await;
                        // Open watches would hold a graceful shutdown forever: end them, then
                        // give in-flight requests a moment before the runtime is dropped.
                        server_cluster.watch_generation.send_modify(|g| *g += 1);
                        let _ = grace_tx.send(());
                        tokio::time::sleep(Duration::from_secs(2)).await;
                    };
                    tokio::select! {
                        _ = server => {}
                        _ = stop => {}
                    }
                });
                runtime.shutdown_timeout(Duration::from_millis(200));
            })
            .expect("spawn the kube emulator thread");
        let addr = addr_rx.recv().expect("the kube emulator started");
        let url = format!("http://{addr}");
        let dir = tempfile::tempdir().expect("temp dir for the kubeconfig");
        let kubeconfig = kubeconfig::write(dir.path(), &url).expect("write the kubeconfig");
        Self {
            cluster,
            url,
            dir,
            kubeconfig,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        }
    }

    fn resource(&self, api_version: &str, kind: &str) -> &'static ResourceType {
        self.cluster
            .store()
            .type_of_kind(api_version, kind)
            .unwrap_or_else(|| panic!("the kube emulator serves no {api_version} {kind}"))
    }

    /// The server URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The kubeconfig file pointing at the server (context `runbook-emulator`).
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// A temp directory that lives as long as the emulator (for test files next to the kubeconfig).
    pub fn temp_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Creates or overwrites any served object as given, status included (namespaced objects
    /// default to `default`; missing namespaces are created). Returns the stored object.
    pub fn apply(&self, object: Value) -> Value {
        self.cluster
            .store()
            .seed(object)
            .unwrap_or_else(|e| panic!("kube emulator apply: {}", e.message))
    }

    /// One object (`namespace` is ignored for cluster-scoped kinds).
    pub fn get(&self, api_version: &str, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        let rt = self.resource(api_version, kind);
        self.cluster.store().get(rt, namespace, name).cloned()
    }

    /// Objects of a kind, in one namespace or all.
    pub fn list(&self, api_version: &str, kind: &str, namespace: Option<&str>) -> Vec<Value> {
        let rt = self.resource(api_version, kind);
        self.cluster.store().list(rt, namespace, None, None)
    }

    /// Deletes an object as a client would (background propagation, finalizers honoured);
    /// returns whether it existed.
    pub fn delete(&self, api_version: &str, kind: &str, namespace: &str, name: &str) -> bool {
        let opts = DeleteOptions {
            propagation: Some(Propagation::Background),
            ..DeleteOptions::default()
        };
        let rt = self.resource(api_version, kind);
        self.cluster
            .store()
            .delete(rt, namespace, name, &opts)
            .is_ok()
    }

    /// Changes a stored object in place (as a controller would: status included, no precondition).
    pub fn modify(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
        change: impl FnOnce(&mut Value),
    ) -> Option<Value> {
        let rt = self.resource(api_version, kind);
        self.cluster.store().modify(rt, namespace, name, change)
    }

    /// Polls until `check` returns `Some`, or panics after `timeout` naming `what`.
    pub fn wait_for<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut(&Self) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = check(self) {
                return v;
            }
            if Instant::now() >= deadline {
                panic!("kube emulator: timed out after {timeout:?} waiting for {what}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Scripts the pods of Jobs whose name starts with `job_name_prefix` (and bare
    /// run-to-completion pods whose name does).
    pub fn script_job(&self, job_name_prefix: &str, script: JobScript) {
        self.script_pods(PodMatcher::NamePrefix(job_name_prefix.to_string()), script);
    }

    /// Scripts the run-to-completion pods a matcher selects (by name prefix, image or argument).
    pub fn script_pods(&self, matcher: PodMatcher, script: JobScript) {
        self.cluster.scripts().pods.push((matcher, script));
    }

    /// Sets the log text of one pod (overrides the script's logs).
    pub fn set_pod_logs(&self, namespace: &str, pod: &str, logs: &str) {
        self.cluster
            .scripts()
            .pod_logs
            .push(((namespace.to_string(), pod.to_string()), logs.to_string()));
    }

    /// Answers every `exec` (in any pod) with this handler; later scripts take precedence.
    pub fn on_exec(&self, handler: impl Fn(&ExecCall) -> ExecResult + Send + Sync + 'static) {
        self.cluster.scripts().exec.push((None, Arc::new(handler)));
    }

    /// Answers `exec` in one pod with this handler.
    pub fn on_exec_in(
        &self,
        pod: &str,
        handler: impl Fn(&ExecCall) -> ExecResult + Send + Sync + 'static,
    ) {
        self.cluster
            .scripts()
            .exec
            .push((Some(pod.to_string()), Arc::new(handler)));
    }

    /// How long workload pods take to become Running/Ready (default 100 ms).
    pub fn set_rollout_delay(&self, delay: Duration) {
        self.cluster.scripts().rollout_delay = delay;
    }

    /// Scripts how every Velero Restore ends (Completed unless scripted).
    pub fn script_restore(&self, script: RestoreScript) {
        self.script_restore_named("", script);
    }

    /// Scripts how Restores whose name starts with `prefix` end.
    pub fn script_restore_named(&self, prefix: &str, script: RestoreScript) {
        self.cluster
            .scripts()
            .restores
            .push((prefix.to_string(), script));
    }

    /// Makes the BackupStorageLocation `name` report `Unavailable` with `message`.
    pub fn script_location_unavailable(&self, name: &str, message: &str) {
        self.cluster
            .scripts()
            .unavailable_locations
            .push((name.to_string(), message.to_string()));
    }

    /// Puts a backup into location `default`'s bucket and creates its Backup object in `velero`
    /// (labelled `velero.io/schedule-name` when `schedule` is given), as a past scheduled backup.
    pub fn seed_velero_backup(
        &self,
        name: &str,
        schedule: Option<&str>,
        objects: Vec<Value>,
        phase: &str,
    ) -> Value {
        let mut stored = StoredBackup::new(name, objects).phase(phase);
        if let Some(s) = schedule {
            stored = stored.from_schedule(s);
        }
        self.seed_stored_backup("default", stored)
    }

    /// Puts a backup into a location's bucket and creates its Backup object in `velero`.
    pub fn seed_stored_backup(&self, location: &str, backup: StoredBackup) -> Value {
        let mut labels = json!({"velero.io/storage-location": location});
        if let Some(s) = &backup.schedule {
            labels["velero.io/schedule-name"] = json!(s);
        }
        let when = backup
            .timestamp
            .clone()
            .unwrap_or_else(super::meta::now_rfc3339);
        let n = backup.objects.len();
        let object = json!({
            "apiVersion": "velero.io/v1", "kind": "Backup",
            "metadata": {"name": backup.name, "namespace": "velero", "labels": labels},
            "spec": {"storageLocation": location, "includedNamespaces": ["*"], "ttl": "720h0m0s"},
            "status": {"phase": backup.phase, "version": 1, "formatVersion": "1.1.0",
                       "startTimestamp": when, "completionTimestamp": when,
                       "expiration": super::meta::rfc3339_in(720 * 3600),
                       "progress": {"totalItems": n, "itemsBackedUp": n}},
        });
        let mut buckets = self.cluster.buckets();
        let list = buckets.backups.entry(location.to_string()).or_default();
        list.retain(|b| b.name != backup.name);
        list.push(backup);
        drop(buckets);
        self.apply(object)
    }

    /// Says what the bucket behind BackupStorageLocation `location` holds: once the location
    /// exists and is Available, Velero's backup sync creates a Backup object for each.
    pub fn location_holds_backups(&self, location: &str, backups: Vec<StoredBackup>) {
        let mut buckets = self.cluster.buckets();
        let list = buckets.backups.entry(location.to_string()).or_default();
        for b in backups {
            list.retain(|x| x.name != b.name);
            list.push(b);
        }
    }

    /// The names of the backups in a location's bucket.
    pub fn backups_in_location(&self, location: &str) -> Vec<String> {
        self.cluster
            .buckets()
            .backups
            .get(location)
            .map(|l| l.iter().map(|b| b.name.clone()).collect())
            .unwrap_or_default()
    }

    /// The objects stored in a backup, if it is in any location's bucket.
    pub fn backup_contents(&self, backup: &str) -> Option<Vec<Value>> {
        self.cluster
            .buckets()
            .find(backup)
            .map(|(_, b)| b.objects.clone())
    }

    /// The detailed results of a finished restore (`{"warnings": {...}, "errors": {...}}`).
    pub fn restore_results(&self, restore: &str) -> Option<Value> {
        self.cluster.buckets().restore_results.get(restore).cloned()
    }

    /// Every request served so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.cluster.requests).clone()
    }

    /// Forgets the requests recorded so far.
    pub fn clear_requests(&self) {
        lock(&self.cluster.requests).clear();
    }

    /// Drops the watch event history (as etcd compaction does): watches resuming from an
    /// earlier resourceVersion get a 410 Expired ERROR event and must relist.
    pub fn compact_history(&self) {
        self.cluster.store().compact();
    }

    /// Keeps only the last `events` changes for watch replay (default 10,000); older
    /// resourceVersions get 410 Expired.
    pub fn set_watch_history(&self, events: usize) {
        self.cluster.store().set_history_limit(events);
    }

    /// Ends every open watch stream (as an apiserver restart would); clients re-watch.
    pub fn close_watches(&self) {
        self.cluster.watch_generation.send_modify(|g| *g += 1);
    }

    /// The current resourceVersion of the store.
    pub fn resource_version(&self) -> u64 {
        self.cluster.store().revision()
    }

    /// Creates an object through the API path semantics (generateName, defaults, status
    /// dropped) rather than seeding it; returns the created object or the Status error.
    pub fn create(&self, object: Value) -> Result<Value, Value> {
        let rt = self.resource(
            object["apiVersion"].as_str().unwrap_or_default(),
            object["kind"].as_str().unwrap_or_default(),
        );
        let ns = namespace_of(&object).to_string();
        self.cluster
            .store()
            .create(
                rt,
                if ns.is_empty() { "default" } else { &ns },
                object,
                false,
                // As `kubectl create -f` records its writes.
                Writer::Update("kubectl-create"),
            )
            .map_err(|e: ApiError| e.to_status())
    }

    /// `namespace/name` of every object of a kind, for compact assertions.
    pub fn names(&self, api_version: &str, kind: &str, namespace: Option<&str>) -> Vec<String> {
        self.list(api_version, kind, namespace)
            .iter()
            .map(|o| {
                if namespace_of(o).is_empty() {
                    name_of(o).to_string()
                } else {
                    format!("{}/{}", namespace_of(o), name_of(o))
                }
            })
            .collect()
    }
}

impl Drop for KubeEmulator {
    fn drop(&mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
