//! Velero's server, as far as its API objects show it (field names and phases from
//! `pkg/apis/velero/v1`):
//!
//! - BackupStorageLocations are validated (`status.phase` Available, or Unavailable with a
//!   message when the test scripted it) and synced: every backup in the location's bucket that
//!   has no Backup object gets one, and Completed Backup objects of the location whose backup is
//!   no longer in the bucket are removed (so deleted Backup objects come back while their
//!   location exists, as with the real sync controller). `spec.accessMode` is left as written.
//! - Backups go New -> InProgress -> Completed, snapshotting the selected objects into the
//!   location's bucket; a ReadOnly or missing location fails validation.
//! - Restores are validated (`FailedValidation` with `validationErrors`), resolve
//!   `spec.scheduleName` to the newest Completed backup labelled `velero.io/schedule-name`
//!   (writing `spec.backupName`), then go InProgress with `progress.totalItems`/`itemsRestored`
//!   moving, recreate the backed-up objects in Velero's priority order honouring the namespace,
//!   resource and label filters and `existingResourcePolicy`, and end Completed, PartiallyFailed
//!   or Failed as scripted. The detailed warnings and errors are stored as the restore's results
//!   file and served through DownloadRequests (target kind `RestoreResults`), as
//!   `velero restore describe` reads them.
//! - DeleteBackupRequests remove the backup from the bucket and its Backup object.
//!
//! Simplified: the bucket is per location *name*; objects with ownerReferences are not backed up
//! (their controllers recreate them); restored objects keep only name, namespace, labels and
//! annotations of their metadata (as Velero's resetMetadata) and lose their status; no volume
//! data, hooks, plugins or item operations.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::rt;
use crate::kube::meta::{
    is_terminating, label, name_of, namespace_of, now_rfc3339, rfc3339_in, uid_of,
};
use crate::kube::resources::ResourceType;
use crate::kube::script::{RestoreOutcome, RestoreScript, StoredBackup};
use crate::kube::selectors::LabelSelector;
use crate::kube::state::Cluster;
use crate::kube::store::{DeleteOptions, Store};
use crate::kube::velero_objects;

/// The manager of what Velero's server writes (its User-Agent starts `velero-server/`).
const VELERO_MANAGER: &str = "velero-server";

/// How often locations are synced (Velero's default `backupSyncPeriod` is a minute; tests can't wait that long).
const SYNC_PERIOD: Duration = Duration::from_millis(200);
/// How long a backup stays InProgress.
const BACKUP_DURATION: Duration = Duration::from_millis(100);

/// Velero's default restore order for the resources the emulator serves (pkg/cmd/server/config).
const RESTORE_PRIORITIES: &[&str] = &[
    "namespaces",
    "persistentvolumes",
    "persistentvolumeclaims",
    "clusterroles",
    "roles",
    "serviceaccounts",
    "clusterrolebindings",
    "rolebindings",
    "secrets",
    "configmaps",
    "pods",
    "replicasets.apps",
    "services",
];

struct RestoreRun {
    items: Vec<(&'static ResourceType, Value)>,
    next: usize,
    last_step: Instant,
    script: RestoreScript,
    backup: String,
    warnings: Vec<(String, String)>,
    errors: Vec<(String, String)>,
}

struct BackupRun {
    started: Instant,
    location: String,
    objects: Vec<Value>,
}

/// Controller state across passes.
#[derive(Default)]
pub struct Velero {
    restores: HashMap<String, RestoreRun>,
    backups: HashMap<String, BackupRun>,
    last_sync: HashMap<String, Instant>,
}

fn qualified(rt: &ResourceType) -> String {
    rt.qualified()
}

/// Whether a resource filter entry (`deployments`, `deployments.apps`, `Deployment`, `*`) names this type.
fn names_resource(entry: &str, rt: &ResourceType) -> bool {
    let e = entry.to_ascii_lowercase();
    e == "*"
        || e == rt.plural
        || e == qualified(rt)
        || e == rt.kind.to_ascii_lowercase()
        || e == rt.singular
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

/// The namespace/resource/label filters shared by Backup and Restore specs.
struct Selection {
    included_namespaces: Vec<String>,
    excluded_namespaces: Vec<String>,
    included_resources: Vec<String>,
    excluded_resources: Vec<String>,
    labels: Option<LabelSelector>,
    or_labels: Vec<LabelSelector>,
    include_cluster_resources: Option<bool>,
}

impl Selection {
    fn from_spec(spec: &Value) -> Self {
        Self {
            included_namespaces: strings(&spec["includedNamespaces"]),
            excluded_namespaces: strings(&spec["excludedNamespaces"]),
            included_resources: strings(&spec["includedResources"]),
            excluded_resources: strings(&spec["excludedResources"]),
            labels: spec
                .get("labelSelector")
                .filter(|s| s.is_object())
                .map(LabelSelector::from_structured),
            or_labels: spec["orLabelSelectors"]
                .as_array()
                .into_iter()
                .flatten()
                .map(LabelSelector::from_structured)
                .collect(),
            include_cluster_resources: spec["includeClusterResources"].as_bool(),
        }
    }

    fn all_namespaces(&self) -> bool {
        self.included_namespaces.is_empty() || self.included_namespaces.iter().any(|n| n == "*")
    }

    fn namespace_selected(&self, ns: &str) -> bool {
        (self.all_namespaces() || self.included_namespaces.iter().any(|n| n == ns))
            && !self.excluded_namespaces.iter().any(|n| n == ns)
    }

    fn selects(&self, rt: &ResourceType, obj: &Value) -> bool {
        if !self.included_resources.is_empty()
            && !self
                .included_resources
                .iter()
                .any(|e| names_resource(e, rt))
        {
            return false;
        }
        if self
            .excluded_resources
            .iter()
            .any(|e| names_resource(e, rt))
        {
            return false;
        }
        let scope_ok = if rt.kind == "Namespace" {
            self.namespace_selected(name_of(obj))
        } else if rt.namespaced {
            self.namespace_selected(namespace_of(obj))
        } else {
            self.include_cluster_resources
                .unwrap_or(self.all_namespaces())
        };
        if !scope_ok {
            return false;
        }
        if rt.kind == "Namespace" {
            return true;
        }
        let label_ok = self.labels.as_ref().is_none_or(|s| s.matches(obj));
        let or_ok = self.or_labels.is_empty() || self.or_labels.iter().any(|s| s.matches(obj));
        label_ok && or_ok
    }
}

fn type_of(obj: &Value) -> Option<&'static ResourceType> {
    crate::kube::resources::by_kind(obj["apiVersion"].as_str()?, obj["kind"].as_str()?)
}

/// Velero's resetMetadata + resetStatus, plus the restore labels.
fn prepare_for_restore(
    obj: &Value,
    rt: &ResourceType,
    backup: &str,
    restore: &str,
    ns: &str,
) -> Value {
    let mut out = obj.clone();
    let mut metadata = Map::new();
    for k in ["name", "labels", "annotations"] {
        if let Some(v) = obj["metadata"].get(k) {
            metadata.insert(k.into(), v.clone());
        }
    }
    if rt.namespaced {
        metadata.insert("namespace".into(), json!(ns));
    }
    let labels = metadata.entry("labels").or_insert_with(|| json!({}));
    labels["velero.io/backup-name"] = json!(backup);
    labels["velero.io/restore-name"] = json!(restore);
    out["metadata"] = Value::Object(metadata);
    if let Some(o) = out.as_object_mut() {
        o.remove("status");
    }
    match rt.kind {
        "PersistentVolumeClaim" => {
            out["spec"].as_object_mut().map(|s| s.remove("volumeName"));
        }
        "Service" => {
            if let Some(s) = out["spec"].as_object_mut() {
                s.remove("clusterIP");
                s.remove("clusterIPs");
            }
        }
        _ => {}
    }
    out
}

/// Compares what Velero compares before warning about an existing object: everything but the
/// server-populated metadata and status.
fn same_content(existing: &Value, restored: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(o) = v.as_object_mut() {
            o.remove("status");
            o.remove("metadata");
        }
        v
    };
    strip(existing) == strip(restored)
}

/// The `Result` type of Velero's results files: messages for Velero itself, cluster-scoped
/// resources, and per namespace.
fn results_json(messages: &[(String, String)]) -> Value {
    let mut namespaces: Map<String, Value> = Map::new();
    let mut cluster = Vec::new();
    for (ns, msg) in messages {
        if ns.is_empty() {
            cluster.push(json!(msg));
        } else {
            namespaces
                .entry(ns.clone())
                .or_insert_with(|| json!([]))
                .as_array_mut()
                .expect("made an array")
                .push(json!(msg));
        }
    }
    let mut r = json!({});
    if !cluster.is_empty() {
        r["cluster"] = json!(cluster);
    }
    if !namespaces.is_empty() {
        r["namespaces"] = Value::Object(namespaces);
    }
    r
}

fn backup_object(namespace: &str, location: &str, b: &StoredBackup) -> Value {
    let when = b.timestamp.clone().unwrap_or_else(now_rfc3339);
    let mut labels = json!({"velero.io/storage-location": location});
    if let Some(s) = &b.schedule {
        labels["velero.io/schedule-name"] = json!(s);
    }
    let n = b.objects.len();
    json!({
        "apiVersion": "velero.io/v1",
        "kind": "Backup",
        "metadata": {"name": b.name, "namespace": namespace, "labels": labels},
        "spec": {"storageLocation": location, "includedNamespaces": ["*"], "ttl": "720h0m0s", "defaultVolumesToFsBackup": false},
        "status": {
            "phase": b.phase, "version": 1, "formatVersion": "1.1.0",
            "startTimestamp": when, "completionTimestamp": when, "expiration": rfc3339_in(720 * 3600),
            "progress": {"totalItems": n, "itemsBackedUp": n},
        },
    })
}

impl Velero {
    /// The reconcile function for the controller loop.
    pub fn into_reconcile(mut self) -> impl FnMut(&Cluster) + Send {
        move |cluster| self.reconcile(cluster)
    }

    fn reconcile(&mut self, cluster: &Cluster) {
        // Velero's server does not start before its CRDs are installed.
        let installed = [
            "backups",
            "restores",
            "schedules",
            "backupstoragelocations",
            "downloadrequests",
            "deletebackuprequests",
        ]
        .iter()
        .all(|p| {
            crate::kube::resources::by_plural("velero.io", "v1", p)
                .is_some_and(|rt| cluster.store().serves(rt))
        });
        if !installed {
            return;
        }
        self.locations(cluster);
        self.schedules(cluster);
        self.backups(cluster);
        self.restores(cluster);
        self.download_requests(cluster);
        self.delete_requests(cluster);
    }

    fn locations(&mut self, cluster: &Cluster) {
        let bsl_rt = rt("velero.io", "backupstoragelocations");
        let backups_rt = rt("velero.io", "backups");
        let unavailable = cluster.scripts().unavailable_locations.clone();
        let mut store = cluster.store();
        for bsl in store.list(bsl_rt, None, None, None) {
            if is_terminating(&bsl) {
                continue;
            }
            let (ns, name) = (namespace_of(&bsl).to_string(), name_of(&bsl).to_string());
            let scripted = unavailable.iter().find(|(n, _)| *n == name);
            let now = now_rfc3339();
            let due = self
                .last_sync
                .get(&name)
                .is_none_or(|t| t.elapsed() >= SYNC_PERIOD);
            match scripted {
                Some((_, message)) => {
                    if bsl["status"]["phase"] != "Unavailable" {
                        let message = message.clone();
                        store.modify(bsl_rt, &ns, &name, |o| {
                            o["status"] = json!({"phase": "Unavailable", "lastValidationTime": now, "message": message});
                        });
                    }
                }
                None => {
                    if bsl["status"]["phase"] != "Available" || due {
                        let synced = now.clone();
                        store.modify(bsl_rt, &ns, &name, |o| {
                            let mut status = json!({"phase": "Available", "lastValidationTime": now, "lastSyncedTime": synced});
                            // Keep timestamps stable when nothing else changes, to avoid a write per sync.
                            if o["status"]["phase"] == "Available" {
                                status["lastValidationTime"] = o["status"]["lastValidationTime"].clone();
                                status["lastSyncedTime"] = o["status"]["lastSyncedTime"].clone();
                            }
                            o["status"] = status;
                        });
                    }
                    if due {
                        self.last_sync.insert(name.clone(), Instant::now());
                        let in_bucket = cluster
                            .buckets()
                            .backups
                            .get(&name)
                            .cloned()
                            .unwrap_or_default();
                        for b in &in_bucket {
                            if store.get(backups_rt, &ns, &b.name).is_none() {
                                let _ = store.seed(backup_object(&ns, &name, b));
                            }
                        }
                        for b in store.list(backups_rt, Some(&ns), None, None) {
                            let of_location =
                                label(&b, "velero.io/storage-location") == Some(name.as_str());
                            let completed = b["status"]["phase"] == "Completed";
                            if of_location
                                && completed
                                && !in_bucket.iter().any(|x| x.name == name_of(&b))
                            {
                                let _ = store.delete(
                                    backups_rt,
                                    &ns,
                                    name_of(&b),
                                    &DeleteOptions::default(),
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    fn schedules(&mut self, cluster: &Cluster) {
        let schedules_rt = rt("velero.io", "schedules");
        let mut store = cluster.store();
        for s in store.list(schedules_rt, None, None, None) {
            if s["status"]["phase"].is_null() {
                store.modify(schedules_rt, namespace_of(&s), name_of(&s), |o| {
                    o["status"]["phase"] = json!("Enabled");
                });
            }
        }
    }

    fn find_location(store: &Store, ns: &str, wanted: Option<&str>) -> Option<Value> {
        let bsl_rt = rt("velero.io", "backupstoragelocations");
        match wanted.filter(|w| !w.is_empty()) {
            Some(w) => store.get(bsl_rt, ns, w).cloned(),
            None => {
                let all = store.list(bsl_rt, Some(ns), None, None);
                all.iter()
                    .find(|b| b["spec"]["default"] == json!(true))
                    .or_else(|| all.iter().find(|b| name_of(b) == "default"))
                    .cloned()
            }
        }
    }

    fn backups(&mut self, cluster: &Cluster) {
        let backups_rt = rt("velero.io", "backups");
        let mut store = cluster.store();
        let live: Vec<Value> = store.list(backups_rt, None, None, None);
        self.backups
            .retain(|uid, _| live.iter().any(|b| uid_of(b) == uid));
        for b in live {
            let (ns, name, uid) = (
                namespace_of(&b).to_string(),
                name_of(&b).to_string(),
                uid_of(&b).to_string(),
            );
            let phase = b["status"]["phase"].as_str().unwrap_or("New").to_string();
            if phase == "New" {
                let wanted = b["spec"]["storageLocation"].as_str();
                let location = Self::find_location(&store, &ns, wanted);
                let error = match &location {
                    None => Some(match wanted {
                        Some(w) if !w.is_empty() => format!(
                            "an existing backup storage location wasn't specified at backup creation time and the server default '{w}' doesn't exist. Please address this issue (see `velero backup-location -h` for options) and create a new backup. Error: backupstoragelocations.velero.io \"{w}\" not found"
                        ),
                        _ => "an existing backup storage location wasn't specified at backup creation time and the default 'default' wasn't found. Please address this issue (see `velero backup-location -h` for options) and create a new backup. Error: backupstoragelocations.velero.io \"default\" not found".to_string(),
                    }),
                    Some(l) if l["spec"]["accessMode"] == "ReadOnly" => Some(format!(
                        "backup can't be created because backup storage location {} is currently in read-only mode",
                        name_of(l)
                    )),
                    Some(_) => None,
                };
                if let Some(e) = error {
                    store.modify(backups_rt, &ns, &name, |o| {
                        o["status"] = json!({"phase": "FailedValidation", "validationErrors": [e], "version": 1, "formatVersion": "1.1.0"});
                    });
                    continue;
                }
                let location = name_of(location.as_ref().expect("checked")).to_string();
                let selection = Selection::from_spec(&b["spec"]);
                let objects: Vec<Value> = store
                    .all_objects()
                    .into_iter()
                    .filter(|(r, o)| {
                        r.group != "velero.io"
                            && r.kind != "Event"
                            && o["metadata"]["ownerReferences"].is_null()
                            && !is_terminating(o)
                            && selection.selects(r, o)
                    })
                    .map(|(_, o)| o)
                    .collect();
                let n = objects.len();
                let now = now_rfc3339();
                store.modify(backups_rt, &ns, &name, |o| {
                    o["metadata"]["labels"]["velero.io/storage-location"] = json!(location);
                    o["spec"]["storageLocation"] = json!(location);
                    o["status"] = json!({"phase": "InProgress", "version": 1, "formatVersion": "1.1.0", "startTimestamp": now,
                                         "expiration": rfc3339_in(720 * 3600), "progress": {"totalItems": n}});
                });
                self.backups.insert(
                    uid,
                    BackupRun {
                        started: Instant::now(),
                        location,
                        objects,
                    },
                );
            } else if phase == "InProgress" {
                let Some(run) = self.backups.get(&uid) else {
                    continue;
                };
                if run.started.elapsed() < BACKUP_DURATION {
                    continue;
                }
                let n = run.objects.len();
                let stored = StoredBackup {
                    name: name.clone(),
                    schedule: label(&b, "velero.io/schedule-name").map(str::to_string),
                    objects: run.objects.clone(),
                    phase: "Completed".into(),
                    timestamp: b["status"]["startTimestamp"].as_str().map(str::to_string),
                };
                let mut buckets = cluster.buckets();
                let list = buckets.backups.entry(run.location.clone()).or_default();
                list.retain(|x| x.name != name);
                list.push(stored);
                drop(buckets);
                let now = now_rfc3339();
                store.modify(backups_rt, &ns, &name, |o| {
                    o["status"]["phase"] = json!("Completed");
                    o["status"]["completionTimestamp"] = json!(now);
                    o["status"]["progress"] = json!({"totalItems": n, "itemsBackedUp": n});
                });
                self.backups.remove(&uid);
            }
        }
    }

    /// Validates a New restore; returns the backup to restore from, or the validation errors.
    fn validate_restore(store: &Store, restore: &Value) -> Result<String, Vec<String>> {
        let backups_rt = rt("velero.io", "backups");
        let ns = namespace_of(restore);
        let spec = &restore["spec"];
        let backup_name = spec["backupName"].as_str().unwrap_or_default();
        let schedule = spec["scheduleName"].as_str().unwrap_or_default();
        let mut errors = Vec::new();
        if backup_name.is_empty() == schedule.is_empty() {
            errors.push("Either a backup or schedule must be specified as a source for the restore, but not both".to_string());
        }
        if spec["labelSelector"].is_object() && spec["orLabelSelectors"].is_array() {
            errors.push("encountered labelSelector as well as orLabelSelectors in restore spec, only one can be specified".to_string());
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        if !schedule.is_empty() {
            let selector = LabelSelector::parse(&format!("velero.io/schedule-name={schedule}"))
                .expect("valid selector");
            let of_schedule = store.list(backups_rt, Some(ns), Some(&selector), None);
            if of_schedule.is_empty() {
                return Err(vec!["No backups found for schedule".to_string()]);
            }
            let mut completed: Vec<&Value> = of_schedule
                .iter()
                .filter(|b| b["status"]["phase"] == "Completed")
                .collect();
            if completed.is_empty() {
                return Err(vec!["No completed backups found for schedule".to_string()]);
            }
            completed.sort_by(|a, b| {
                (a["status"]["startTimestamp"].as_str(), name_of(a))
                    .cmp(&(b["status"]["startTimestamp"].as_str(), name_of(b)))
            });
            return Ok(name_of(completed.last().expect("non-empty")).to_string());
        }
        match store.get(backups_rt, ns, backup_name) {
            None => Err(vec![format!(
                "Error retrieving backup: backups.velero.io {backup_name:?} not found"
            )]),
            Some(_) => Ok(backup_name.to_string()),
        }
    }

    fn restores(&mut self, cluster: &Cluster) {
        let restores_rt = rt("velero.io", "restores");
        let live = cluster.store().list(restores_rt, None, None, None);
        self.restores
            .retain(|uid, _| live.iter().any(|r| uid_of(r) == uid));
        for r in live {
            let (ns, name, uid) = (
                namespace_of(&r).to_string(),
                name_of(&r).to_string(),
                uid_of(&r).to_string(),
            );
            let phase = r["status"]["phase"].as_str().unwrap_or("New").to_string();
            if phase == "New" {
                self.start_restore(cluster, &r);
            } else if phase == "InProgress" {
                if !self.restores.contains_key(&uid) {
                    continue;
                }
                self.step_restore(cluster, &ns, &name, &uid);
            }
        }
    }

    fn start_restore(&mut self, cluster: &Cluster, restore: &Value) {
        let restores_rt = rt("velero.io", "restores");
        let (ns, name) = (
            namespace_of(restore).to_string(),
            name_of(restore).to_string(),
        );
        let mut store = cluster.store();
        let backup = match Self::validate_restore(&store, restore) {
            Ok(b) => b,
            Err(errors) => {
                store.modify(restores_rt, &ns, &name, |o| {
                    o["status"] = json!({"phase": "FailedValidation", "validationErrors": errors});
                });
                return;
            }
        };
        let script = cluster.scripts().restore_script(&name);
        let contents = cluster
            .buckets()
            .find(&backup)
            .map(|(_, b)| b.objects.clone());
        let now = now_rfc3339();
        let Some(contents) = contents else {
            store.modify(restores_rt, &ns, &name, |o| {
                o["spec"]["backupName"] = json!(backup);
                o["status"] = json!({"phase": "Failed", "startTimestamp": now, "completionTimestamp": now,
                                     "failureReason": format!("error downloading backup: backup {backup} not found in object storage")});
            });
            return;
        };
        let spec = &restore["spec"];
        let selection = Selection::from_spec(spec);
        let mapping = spec["namespaceMapping"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let mut items: Vec<(&'static ResourceType, Value)> = contents
            .iter()
            .filter_map(|o| type_of(o).map(|t| (t, o)))
            .filter(|(t, o)| selection.selects(t, o))
            .map(|(t, o)| {
                let source_ns = namespace_of(o);
                let target_ns = mapping
                    .get(source_ns)
                    .and_then(Value::as_str)
                    .unwrap_or(source_ns)
                    .to_string();
                let mut prepared = prepare_for_restore(o, t, &backup, &name, &target_ns);
                if t.kind == "Namespace"
                    && let Some(mapped) = mapping.get(name_of(o)).and_then(Value::as_str)
                {
                    prepared["metadata"]["name"] = json!(mapped);
                }
                (t, prepared)
            })
            .collect();
        let priority = |t: &ResourceType| {
            RESTORE_PRIORITIES
                .iter()
                .position(|p| *p == t.plural || *p == t.qualified())
                .unwrap_or(RESTORE_PRIORITIES.len())
        };
        items.sort_by(|(a, x), (b, y)| {
            (priority(a), a.qualified(), namespace_of(x), name_of(x)).cmp(&(
                priority(b),
                b.qualified(),
                namespace_of(y),
                name_of(y),
            ))
        });
        let total = items.len();
        store.modify(restores_rt, &ns, &name, |o| {
            o["spec"]["backupName"] = json!(backup);
            o["status"] = json!({"phase": "InProgress", "startTimestamp": now, "progress": {"totalItems": total}});
        });
        self.restores.insert(
            uid_of(restore).to_string(),
            RestoreRun {
                items,
                next: 0,
                last_step: Instant::now(),
                script,
                backup,
                warnings: Vec::new(),
                errors: Vec::new(),
            },
        );
    }

    fn step_restore(&mut self, cluster: &Cluster, ns: &str, name: &str, uid: &str) {
        let restores_rt = rt("velero.io", "restores");
        let run = self.restores.get_mut(uid).expect("checked by caller");
        if run.last_step.elapsed() < run.script.step {
            return;
        }
        run.last_step = Instant::now();
        let restore = cluster.store().get(restores_rt, ns, name).cloned();
        let policy = restore
            .as_ref()
            .and_then(|r| {
                r["spec"]["existingResourcePolicy"]
                    .as_str()
                    .map(str::to_string)
            })
            .unwrap_or_else(|| "none".into());
        let mut store = cluster.store();
        let end = (run.next + run.script.items_per_step.max(1)).min(run.items.len());
        for (t, obj) in &run.items[run.next..end] {
            let (ons, oname) = (namespace_of(obj).to_string(), name_of(obj).to_string());
            let scope = if t.namespaced {
                ons.clone()
            } else {
                String::new()
            };
            match store.get(t, &ons, &oname).cloned() {
                Some(existing) => {
                    if t.kind == "Namespace" || same_content(&existing, obj) {
                        continue;
                    }
                    if policy == "update" {
                        let mut updated = obj.clone();
                        updated["metadata"]["resourceVersion"] =
                            existing["metadata"]["resourceVersion"].clone();
                        if let Err(e) = store.replace(
                            t,
                            &ons,
                            &oname,
                            updated,
                            crate::kube::store::WriteTarget::Main,
                            false,
                            crate::kube::managed_fields::Writer::Update(VELERO_MANAGER),
                        ) {
                            run.warnings.push((
                                scope,
                                format!(
                                    "could not update {} {}: {}",
                                    t.qualified(),
                                    oname,
                                    e.message
                                ),
                            ));
                        }
                    } else {
                        run.warnings.push((
                            scope,
                            format!(
                                "could not restore, {} \"{}\" already exists. Warning: the in-cluster version is different than the backed-up version",
                                t.kind, oname
                            ),
                        ));
                    }
                }
                None => {
                    if let Err(e) = store.create(
                        t,
                        &ons,
                        obj.clone(),
                        false,
                        crate::kube::managed_fields::Writer::Update(VELERO_MANAGER),
                    ) {
                        run.errors.push((
                            scope,
                            format!(
                                "error restoring {}/{}/{}: {}",
                                t.qualified(),
                                ons,
                                oname,
                                e.message
                            ),
                        ));
                    }
                }
            }
        }
        run.next = end;
        let total = run.items.len();
        let done = run.next;
        if done < total {
            store.modify(restores_rt, ns, name, |o| {
                o["status"]["progress"] = json!({"totalItems": total, "itemsRestored": done});
            });
            return;
        }
        let (mut warnings, mut errors) = (run.warnings.clone(), run.errors.clone());
        let (phase, failure) = match &run.script.outcome {
            RestoreOutcome::Completed if errors.is_empty() => ("Completed", None),
            RestoreOutcome::Completed => ("PartiallyFailed", None),
            RestoreOutcome::PartiallyFailed {
                warnings: w,
                errors: e,
            } => {
                warnings.extend(w.iter().cloned());
                errors.extend(e.iter().cloned());
                ("PartiallyFailed", None)
            }
            RestoreOutcome::Failed(reason) => ("Failed", Some(reason.clone())),
        };
        let now = now_rfc3339();
        let backup = run.backup.clone();
        // Results and logs are in the bucket before the phase says the restore ended, as Velero
        // uploads them before it updates the Restore: a client that sees the phase can fetch them.
        let mut buckets = cluster.buckets();
        buckets.restore_results.insert(
            name.to_string(),
            json!({"warnings": results_json(&warnings), "errors": results_json(&errors)}),
        );
        let mut log = format!(
            "time=\"{now}\" level=info msg=\"starting restore\" restore={ns}/{name} backup={backup}\n"
        );
        for (n, w) in &warnings {
            log.push_str(&format!(
                "time=\"{now}\" level=warning msg=\"{w}\" namespace={n} restore={ns}/{name}\n"
            ));
        }
        for (n, e) in &errors {
            log.push_str(&format!(
                "time=\"{now}\" level=error msg=\"{e}\" namespace={n} restore={ns}/{name}\n"
            ));
        }
        log.push_str(&format!(
            "time=\"{now}\" level=info msg=\"restore completed\" restore={ns}/{name}\n"
        ));
        buckets.restore_logs.insert(name.to_string(), log);
        drop(buckets);
        store.modify(restores_rt, ns, name, |o| {
            o["status"]["phase"] = json!(phase);
            o["status"]["completionTimestamp"] = json!(now);
            o["status"]["progress"] = json!({"totalItems": total, "itemsRestored": done});
            if !warnings.is_empty() {
                o["status"]["warnings"] = json!(warnings.len());
            }
            if !errors.is_empty() {
                o["status"]["errors"] = json!(errors.len());
            }
            if let Some(f) = &failure {
                o["status"]["failureReason"] = json!(f);
            }
        });
        drop(store);
        self.restores.remove(uid);
    }

    fn download_requests(&mut self, cluster: &Cluster) {
        let dr_rt = rt("velero.io", "downloadrequests");
        let base = cluster.base_url.get().cloned().unwrap_or_default();
        let mut store = cluster.store();
        for d in store.list(dr_rt, None, None, None) {
            if d["status"]["phase"] == "Processed" {
                continue;
            }
            let kind = d["spec"]["target"]["kind"].as_str().unwrap_or_default();
            let target = d["spec"]["target"]["name"].as_str().unwrap_or_default();
            let key = velero_objects::object_key(kind, target)
                .unwrap_or_else(|| format!("unsupported/{kind}/{target}"));
            let url = format!("{base}/velero-objects/{key}");
            store.modify(dr_rt, namespace_of(&d), name_of(&d), |o| {
                o["status"] = json!({"phase": "Processed", "downloadURL": url, "expiration": rfc3339_in(600)});
            });
        }
    }

    fn delete_requests(&mut self, cluster: &Cluster) {
        let dbr_rt = rt("velero.io", "deletebackuprequests");
        let backups_rt = rt("velero.io", "backups");
        let mut store = cluster.store();
        for d in store.list(dbr_rt, None, None, None) {
            if d["status"]["phase"] == "Processed" {
                continue;
            }
            let ns = namespace_of(&d).to_string();
            let backup = d["spec"]["backupName"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let location = store
                .get(backups_rt, &ns, &backup)
                .and_then(|b| b["spec"]["storageLocation"].as_str().map(str::to_string));
            let read_only = location
                .as_deref()
                .and_then(|l| Self::find_location(&store, &ns, Some(l)))
                .is_some_and(|l| l["spec"]["accessMode"] == "ReadOnly");
            let mut errors = Vec::new();
            if read_only {
                errors.push(format!(
                    "cannot delete backup because backup storage location {} is currently in read-only mode",
                    location.unwrap_or_default()
                ));
            } else {
                for list in cluster.buckets().backups.values_mut() {
                    list.retain(|b| b.name != backup);
                }
                let _ = store.delete(backups_rt, &ns, &backup, &DeleteOptions::default());
            }
            store.modify(dbr_rt, &ns, name_of(&d), |o| {
                o["metadata"]["labels"]["velero.io/backup-name"] = json!(backup);
                o["status"]["phase"] = json!("Processed");
                if !errors.is_empty() {
                    o["status"]["errors"] = json!(errors);
                }
            });
        }
    }
}
