//! The object store: every object keyed by group/resource/namespace/name, one global
//! resourceVersion counter, and a bounded history of change events that watches replay from.
//!
//! All writes, from HTTP handlers and from the emulated controllers alike, go through here, so
//! every change bumps the resourceVersion, is recorded in the history and is broadcast to the
//! open watches in order.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::defaults;
use super::managed_fields::{self, CONTROLLER_MANAGER, Writer};
use super::meta::{self, finalizers, is_terminating, name_of, namespace_of, now_rfc3339};
use super::resources::{self, RESOURCES, ResourceType};
use super::selectors::{FieldSelector, LabelSelector};
use super::status::ApiError;
use super::validation;

/// group, plural, namespace ("" when cluster-scoped), name.
pub type ObjectKey = (&'static str, &'static str, String, String);

/// The kind of change a watch event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// The object was created.
    Added,
    /// The object changed.
    Modified,
    /// The object was removed.
    Deleted,
}

/// One change, as kept in the history and sent to watches.
#[derive(Debug)]
pub struct StoredEvent {
    /// The resourceVersion the change produced.
    pub revision: u64,
    /// What happened.
    pub event_type: EventType,
    /// The resource type of the object.
    pub resource: &'static ResourceType,
    /// The object after the change (for deletions: its last state, with the deletion's resourceVersion).
    pub object: Value,
    /// The object before the change (`None` for creations), so that a watch with a selector can
    /// turn "stopped matching" into DELETED and "started matching" into ADDED.
    pub previous: Option<Value>,
}

/// Which part of an object a write replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteTarget {
    /// The object; `.status` is kept as stored when the resource has a status subresource.
    Main,
    /// The `/status` subresource: only `.status` changes.
    Status,
}

/// How dependents are treated when their owner is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    /// The owner goes at once; the garbage collector deletes dependents afterwards.
    Background,
    /// The owner stays (finalizer `foregroundDeletion`) until its dependents are gone.
    Foreground,
    /// Dependents lose their ownerReference (finalizer `orphan`), then the owner goes.
    Orphan,
}

/// The parts of `DeleteOptions` the emulator honours.
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    /// `propagationPolicy`; `None` means the resource's default.
    pub propagation: Option<Propagation>,
    /// `preconditions.uid`.
    pub precondition_uid: Option<String>,
    /// `preconditions.resourceVersion`.
    pub precondition_resource_version: Option<String>,
    /// `dryRun: [All]`.
    pub dry_run: bool,
}

/// The outcome of a delete request.
#[derive(Debug)]
pub struct Deletion {
    /// The object: gone (last state) or still there with a deletionTimestamp.
    pub object: Value,
    /// Warnings the apiserver attaches to the response (`Warning:` headers).
    pub warnings: Vec<String>,
}

/// Where a watch starts: the kept events to replay, and a receiver for the live ones.
pub type WatchStart = (Vec<Arc<StoredEvent>>, broadcast::Receiver<Arc<StoredEvent>>);

/// How many change events are kept for watches to replay.
pub const DEFAULT_HISTORY: usize = 10_000;

/// The store. Held behind a mutex that is never held across an await.
pub struct Store {
    objects: BTreeMap<ObjectKey, Value>,
    revision: u64,
    history: VecDeque<Arc<StoredEvent>>,
    history_limit: usize,
    /// Watches that start below this revision get 410 Expired: their events are no longer kept.
    oldest_watchable: u64,
    events: broadcast::Sender<Arc<StoredEvent>>,
    /// The custom types the CRDs created in this store define.
    custom: Vec<&'static ResourceType>,
}

fn key_of(rt: &'static ResourceType, ns: &str, name: &str) -> ObjectKey {
    let ns = if rt.namespaced { ns } else { "" };
    (rt.group, rt.plural, ns.to_string(), name.to_string())
}

fn resource_type() -> &'static ResourceType {
    resources::by_plural("", "v1", "namespaces").expect("namespaces are in the table")
}

impl Store {
    /// An empty cluster holding the namespaces every cluster starts with.
    pub fn new() -> Self {
        let (events, _) = broadcast::channel(16_384);
        let mut store = Self {
            objects: BTreeMap::new(),
            revision: 1000,
            history: VecDeque::new(),
            history_limit: DEFAULT_HISTORY,
            oldest_watchable: 0,
            events,
            custom: Vec::new(),
        };
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            store
                .seed(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
                .expect("namespace seeds are valid");
        }
        store
    }

    /// Whether this store serves a type: every built-in one, and the custom types of its CRDs.
    pub fn serves(&self, rt: &ResourceType) -> bool {
        !rt.custom
            || self
                .custom
                .iter()
                .any(|c| c.group == rt.group && c.version == rt.version && c.plural == rt.plural)
    }

    /// Every type served, built-in first.
    pub fn types(&self) -> Vec<&'static ResourceType> {
        RESOURCES
            .iter()
            .chain(self.custom.iter().copied())
            .collect()
    }

    /// The served type of an apiVersion and kind.
    pub fn type_of_kind(&self, api_version: &str, kind: &str) -> Option<&'static ResourceType> {
        resources::by_kind(api_version, kind).filter(|rt| self.serves(rt))
    }

    /// Keeps the served custom types in step with a CRD change; a deleted CRD takes its objects.
    fn crd_changed(&mut self, event_type: EventType, crd: &Value) {
        let group = crd["spec"]["group"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let plural = crd["spec"]["names"]["plural"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        self.custom
            .retain(|c| !(c.group == group && c.plural == plural));
        if event_type != EventType::Deleted {
            self.custom.extend(super::crd::register(crd));
            return;
        }
        let doomed: Vec<ObjectKey> = self
            .objects
            .keys()
            .filter(|(g, p, _, _)| *g == group && *p == plural)
            .cloned()
            .collect();
        for key in doomed {
            if let Some(obj) = self.objects.get(&key).cloned()
                && let Some(rt) = resources::by_kind(
                    obj["apiVersion"].as_str().unwrap_or_default(),
                    obj["kind"].as_str().unwrap_or_default(),
                )
            {
                self.commit(rt, EventType::Deleted, obj);
            }
        }
    }

    /// The current resourceVersion.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Receives every change from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<StoredEvent>> {
        self.events.subscribe()
    }

    /// Forgets the event history, as etcd compaction does: watches from any earlier
    /// resourceVersion now get 410 Expired.
    pub fn compact(&mut self) {
        self.history.clear();
        self.oldest_watchable = self.revision;
    }

    /// Sets how many events are kept for watch replay.
    pub fn set_history_limit(&mut self, limit: usize) {
        self.history_limit = limit.max(1);
        self.trim_history();
    }

    fn trim_history(&mut self) {
        while self.history.len() > self.history_limit {
            if let Some(e) = self.history.pop_front() {
                self.oldest_watchable = e.revision;
            }
        }
    }

    /// The events after `from` for a watch, and a receiver for what follows; 410 when
    /// they are no longer kept.
    pub fn watch_from(&self, from: u64) -> Result<WatchStart, ApiError> {
        if from < self.oldest_watchable {
            return Err(ApiError::expired(format!(
                "too old resource version: {from} ({})",
                self.oldest_watchable + 1
            )));
        }
        let replay = self
            .history
            .iter()
            .filter(|e| e.revision > from)
            .cloned()
            .collect();
        Ok((replay, self.events.subscribe()))
    }

    fn commit(
        &mut self,
        rt: &'static ResourceType,
        event_type: EventType,
        mut obj: Value,
    ) -> Value {
        self.revision += 1;
        obj["metadata"]["resourceVersion"] = json!(self.revision.to_string());
        let key = key_of(rt, namespace_of(&obj), name_of(&obj));
        let previous = match event_type {
            EventType::Deleted => self.objects.remove(&key),
            _ => self.objects.insert(key, obj.clone()),
        };
        let event = Arc::new(StoredEvent {
            revision: self.revision,
            event_type,
            resource: rt,
            object: obj.clone(),
            previous,
        });
        self.history.push_back(event.clone());
        self.trim_history();
        // No receiver is fine: nobody watches.
        let _ = self.events.send(event);
        if rt.kind == "CustomResourceDefinition" && rt.group == "apiextensions.k8s.io" {
            self.crd_changed(event_type, &obj);
        }
        obj
    }

    /// One object.
    pub fn get(&self, rt: &'static ResourceType, ns: &str, name: &str) -> Option<&Value> {
        self.objects.get(&key_of(rt, ns, name))
    }

    /// The object, or the 404 the apiserver returns.
    pub fn get_or_404(
        &self,
        rt: &'static ResourceType,
        ns: &str,
        name: &str,
    ) -> Result<Value, ApiError> {
        self.get(rt, ns, name)
            .cloned()
            .ok_or_else(|| ApiError::not_found(rt, name))
    }

    /// Objects of a type, in one namespace or all, filtered by selectors, sorted by namespace and name.
    pub fn list(
        &self,
        rt: &'static ResourceType,
        ns: Option<&str>,
        labels: Option<&LabelSelector>,
        fields: Option<&FieldSelector>,
    ) -> Vec<Value> {
        self.objects
            .iter()
            .filter(|((g, p, n, _), _)| {
                *g == rt.group
                    && *p == rt.plural
                    && ns.is_none_or(|want| !rt.namespaced || n == want)
            })
            .map(|(_, v)| v)
            .filter(|v| labels.is_none_or(|s| s.matches(v)) && fields.is_none_or(|s| s.matches(v)))
            .cloned()
            .collect()
    }

    /// Every uid in the store (the garbage collector's view of which owners exist).
    pub fn all_uids(&self) -> HashSet<String> {
        self.objects
            .values()
            .map(|v| meta::uid_of(v).to_string())
            .collect()
    }

    /// Every object with its type.
    pub fn all_objects(&self) -> Vec<(&'static ResourceType, Value)> {
        self.objects
            .iter()
            .filter_map(|((g, p, _, _), v)| {
                self.types()
                    .into_iter()
                    .find(|r| r.group == *g && r.plural == *p)
                    .map(|rt| (rt, v.clone()))
            })
            .collect()
    }

    fn check_namespace_for_create(
        &self,
        rt: &'static ResourceType,
        ns: &str,
        name: &str,
    ) -> Result<(), ApiError> {
        if !rt.namespaced {
            return Ok(());
        }
        match self.get(resource_type(), "", ns) {
            None => Err(ApiError::not_found(resource_type(), ns)),
            Some(n) if is_terminating(n) => Err(ApiError::forbidden(
                rt,
                name,
                &format!(
                    "unable to create new content in namespace {ns} because it is being terminated"
                ),
            )),
            Some(_) => Ok(()),
        }
    }

    /// POST: creates an object in `ns` (ignored for cluster-scoped types), its fields managed
    /// by `writer`.
    pub fn create(
        &mut self,
        rt: &'static ResourceType,
        ns: &str,
        mut obj: Value,
        dry_run: bool,
        writer: Writer,
    ) -> Result<Value, ApiError> {
        if !obj.is_object() {
            return Err(ApiError::bad_request(
                "the body of the request was in an unknown format",
            ));
        }
        let api_version = rt.api_version();
        if let Some(v) = obj["apiVersion"].as_str()
            && v != api_version
        {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({api_version})"
            )));
        }
        if let Some(k) = obj["kind"].as_str()
            && k != rt.kind
        {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                rt.kind
            )));
        }
        if !obj["metadata"].is_object() {
            obj["metadata"] = json!({});
        }
        if rt.namespaced {
            match obj["metadata"]["namespace"].as_str() {
                Some(n) if !n.is_empty() && n != ns => {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ));
                }
                _ => obj["metadata"]["namespace"] = json!(ns),
            }
        } else if let Some(m) = obj["metadata"].as_object_mut() {
            m.remove("namespace");
        }
        let mut name = name_of(&obj).to_string();
        if name.is_empty() {
            match obj["metadata"]["generateName"].as_str() {
                Some(prefix) if !prefix.is_empty() => {
                    name = format!("{prefix}{}", meta::random_suffix(5));
                    obj["metadata"]["name"] = json!(name);
                }
                _ => {
                    return Err(ApiError::invalid(
                        rt,
                        "",
                        "metadata.name",
                        "Required value: name or generateName is required",
                    ));
                }
            }
        }
        validation::check_name(rt, &name)?;
        self.check_namespace_for_create(rt, ns, &name)?;
        if self.get(rt, ns, &name).is_some() {
            return Err(ApiError::already_exists(rt, &name));
        }
        obj["apiVersion"] = json!(api_version);
        obj["kind"] = json!(rt.kind);
        let m = obj["metadata"]
            .as_object_mut()
            .expect("metadata is an object");
        m.insert("uid".into(), json!(meta::new_uid()));
        m.insert("creationTimestamp".into(), json!(now_rfc3339()));
        for k in [
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "resourceVersion",
        ] {
            m.remove(k);
        }
        if obj.get("spec").is_some() {
            obj["metadata"]["generation"] = json!(1);
        }
        if rt.has_status_subresource() {
            // Status is owned by controllers: what a client sends on create is dropped.
            if let Some(o) = obj.as_object_mut() {
                o.remove("status");
            }
        }
        fold_string_data(rt, &mut obj);
        defaults::apply(rt, &mut obj);
        defaults::on_create(rt, &mut obj);
        if let Writer::Update(manager) = writer {
            managed_fields::track_update(rt, None, &mut obj, manager, "");
        }
        let causes = validation::causes(rt, &obj);
        if !causes.is_empty() {
            return Err(ApiError::invalid_causes(rt, &name, &causes));
        }
        if rt.kind == "CustomResourceDefinition" {
            obj["status"] = super::crd::accepted_status(&obj, &now_rfc3339());
        }
        if dry_run {
            return Ok(obj);
        }
        Ok(self.commit(rt, EventType::Added, obj))
    }

    /// Inserts or overwrites an object as given (status included), for seeding a test cluster.
    /// Missing namespaces are created.
    pub fn seed(&mut self, mut obj: Value) -> Result<Value, ApiError> {
        let api_version = obj["apiVersion"].as_str().unwrap_or_default().to_string();
        let kind = obj["kind"].as_str().unwrap_or_default().to_string();
        let rt = self.type_of_kind(&api_version, &kind).ok_or_else(|| {
            ApiError::bad_request(format!("no resource served for {api_version} {kind}"))
        })?;
        let ns = if rt.namespaced {
            let ns = namespace_of(&obj);
            if ns.is_empty() { "default" } else { ns }.to_string()
        } else {
            String::new()
        };
        if rt.namespaced {
            obj["metadata"]["namespace"] = json!(ns);
            if self.get(resource_type(), "", &ns).is_none() {
                self.seed(
                    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
                )?;
            }
        }
        fold_string_data(rt, &mut obj);
        let name = name_of(&obj).to_string();
        validation::check_name(rt, &name)?;
        let existing = self.get(rt, &ns, &name).cloned();
        let m = obj["metadata"]
            .as_object_mut()
            .ok_or_else(|| ApiError::bad_request("metadata must be an object"))?;
        m.remove("resourceVersion");
        match &existing {
            Some(old) => {
                m.insert("uid".into(), old["metadata"]["uid"].clone());
                m.insert(
                    "creationTimestamp".into(),
                    old["metadata"]["creationTimestamp"].clone(),
                );
            }
            None => {
                m.entry("uid").or_insert_with(|| json!(meta::new_uid()));
                m.entry("creationTimestamp")
                    .or_insert_with(|| json!(now_rfc3339()));
            }
        }
        if obj.get("spec").is_some() && obj["metadata"]["generation"].is_null() {
            obj["metadata"]["generation"] = json!(1);
        }
        // Seeded volumes carry the protection finalizers the admission plugins add on create.
        if obj["metadata"]["finalizers"].is_null() {
            match rt.kind {
                "PersistentVolumeClaim" => {
                    meta::add_finalizer(&mut obj, "kubernetes.io/pvc-protection")
                }
                "PersistentVolume" => meta::add_finalizer(&mut obj, "kubernetes.io/pv-protection"),
                _ => {}
            }
        }
        if rt.kind == "Namespace" && obj["status"]["phase"].is_null() {
            obj["status"] = json!({"phase": "Active"});
        }
        if rt.kind == "Namespace" && obj["spec"]["finalizers"].is_null() {
            obj["spec"] = json!({"finalizers": ["kubernetes"]});
        }
        let event = if existing.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        Ok(self.commit(rt, event, obj))
    }

    /// PUT: replaces an object, or its status. A stale `metadata.resourceVersion` is a 409.
    #[allow(clippy::too_many_arguments)]
    pub fn replace(
        &mut self,
        rt: &'static ResourceType,
        ns: &str,
        name: &str,
        mut body: Value,
        target: WriteTarget,
        dry_run: bool,
        writer: Writer,
    ) -> Result<Value, ApiError> {
        if !body.is_object() || !body["metadata"].is_object() {
            return Err(ApiError::bad_request(
                "the body of the request was in an unknown format",
            ));
        }
        if name_of(&body) != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                name_of(&body)
            )));
        }
        if rt.namespaced && !namespace_of(&body).is_empty() && namespace_of(&body) != ns {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        let current = self.get_or_404(rt, ns, name)?;
        // Custom objects have no unconditional update.
        if rt.custom
            && body["metadata"]["resourceVersion"]
                .as_str()
                .is_none_or(str::is_empty)
        {
            return Err(ApiError::invalid(
                rt,
                name,
                "metadata.resourceVersion",
                "Invalid value: 0x0: must be specified for an update",
            ));
        }
        if let Some(rv) = body["metadata"]["resourceVersion"].as_str()
            && !rv.is_empty()
            && current["metadata"]["resourceVersion"].as_str() != Some(rv)
        {
            return Err(ApiError::stale(rt, name));
        }
        let new = match target {
            WriteTarget::Status => {
                let mut n = current.clone();
                n["status"] = body.get("status").cloned().unwrap_or(Value::Null);
                if n["status"].is_null() {
                    n.as_object_mut().map(|o| o.remove("status"));
                }
                if let Writer::Apply = writer {
                    // An apply to /status computed the whole object's managed fields.
                    match body["metadata"].get("managedFields") {
                        Some(m) => n["metadata"]["managedFields"] = m.clone(),
                        None => {
                            n["metadata"]
                                .as_object_mut()
                                .map(|m| m.remove("managedFields"));
                        }
                    }
                }
                n
            }
            WriteTarget::Main => {
                if rt.has_status_subresource() {
                    match current.get("status") {
                        Some(s) => body["status"] = s.clone(),
                        None => {
                            body.as_object_mut().map(|o| o.remove("status"));
                        }
                    }
                }
                fold_string_data(rt, &mut body);
                defaults::apply(rt, &mut body);
                defaults::on_update(rt, &current, &mut body);
                let mut causes = validation::causes(rt, &body);
                causes.extend(validation::update_causes(rt, &current, &body));
                if !causes.is_empty() {
                    return Err(ApiError::invalid_causes(rt, name, &causes));
                }
                body
            }
        };
        let subresource = match target {
            WriteTarget::Main => "",
            WriteTarget::Status => "status",
        };
        self.write(rt, &current, new, dry_run, writer, subresource)
    }

    /// Applies a change made by an emulated controller (no preconditions; status writable),
    /// managed by `kube-controller-manager` (through `/status` when only the status changes).
    /// Returns the stored object, or `None` when it does not exist.
    pub fn modify(
        &mut self,
        rt: &'static ResourceType,
        ns: &str,
        name: &str,
        change: impl FnOnce(&mut Value),
    ) -> Option<Value> {
        let current = self.get(rt, ns, name)?.clone();
        let mut new = current.clone();
        change(&mut new);
        let status_only = rt.has_status_subresource() && {
            let strip = |o: &Value| {
                let mut o = o.clone();
                o.as_object_mut().map(|m| m.remove("status"));
                o
            };
            strip(&current) == strip(&new)
        };
        let subresource = if status_only { "status" } else { "" };
        self.modify_as(rt, ns, name, CONTROLLER_MANAGER, subresource, |o| *o = new)
    }

    /// A change through a subresource handler (`/scale`, `/finalize`) by a client's manager.
    pub fn modify_as(
        &mut self,
        rt: &'static ResourceType,
        ns: &str,
        name: &str,
        manager: &str,
        subresource: &str,
        change: impl FnOnce(&mut Value),
    ) -> Option<Value> {
        let current = self.get(rt, ns, name)?.clone();
        let mut new = current.clone();
        change(&mut new);
        self.write(
            rt,
            &current,
            new,
            false,
            Writer::Update(manager),
            subresource,
        )
        .ok()
    }

    /// The common tail of every update: keeps what clients cannot change, bumps `generation`
    /// on spec changes, skips no-op writes (no new resourceVersion, as the real server does) and
    /// completes a pending deletion once the last finalizer is gone.
    fn write(
        &mut self,
        rt: &'static ResourceType,
        current: &Value,
        mut new: Value,
        dry_run: bool,
        writer: Writer,
        subresource: &str,
    ) -> Result<Value, ApiError> {
        new["apiVersion"] = json!(rt.api_version());
        new["kind"] = json!(rt.kind);
        fold_string_data(rt, &mut new);
        for k in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "namespace",
            "name",
            "generation",
        ] {
            match current["metadata"].get(k) {
                Some(v) => new["metadata"][k] = v.clone(),
                None => {
                    new["metadata"].as_object_mut().map(|m| m.remove(k));
                }
            }
        }
        new["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"].clone();
        if new.get("spec") != current.get("spec") && current["metadata"]["generation"].is_number() {
            let g = current["metadata"]["generation"].as_i64().unwrap_or(1);
            new["metadata"]["generation"] = json!(g + 1);
        }
        if let Writer::Update(manager) = writer {
            managed_fields::track_update(rt, Some(current), &mut new, manager, subresource);
        }
        if new == *current {
            return Ok(new);
        }
        if dry_run {
            return Ok(new);
        }
        if is_terminating(&new) && finalizers(&new).is_empty() {
            return Ok(self.commit(rt, EventType::Deleted, new));
        }
        Ok(self.commit(rt, EventType::Modified, new))
    }

    /// DELETE, with finalizers, preconditions and propagation as the registry handles them.
    pub fn delete(
        &mut self,
        rt: &'static ResourceType,
        ns: &str,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Deletion, ApiError> {
        let current = self.get_or_404(rt, ns, name)?;
        if let Some(uid) = &opts.precondition_uid
            && meta::uid_of(&current) != uid
        {
            return Err(ApiError::conflict(
                rt,
                name,
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    meta::uid_of(&current)
                ),
            ));
        }
        if let Some(rv) = &opts.precondition_resource_version
            && current["metadata"]["resourceVersion"].as_str() != Some(rv.as_str())
        {
            return Err(ApiError::conflict(
                rt,
                name,
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                    current["metadata"]["resourceVersion"]
                        .as_str()
                        .unwrap_or_default()
                ),
            ));
        }
        let mut warnings = Vec::new();
        let propagation = match opts.propagation {
            Some(p) => p,
            // batch/v1 Jobs keep their pods unless told otherwise (the Job REST storage's
            // DefaultGarbageCollectionPolicy), and the apiserver says so in a warning.
            None if rt.group == "batch" && rt.plural == "jobs" => {
                warnings.push(
                    "child pods are preserved by default when jobs are deleted; set propagationPolicy=Background to remove them or set propagationPolicy=Orphan to suppress this warning"
                        .to_string(),
                );
                Propagation::Orphan
            }
            None => Propagation::Background,
        };
        let mut new = current.clone();
        if rt.kind == "Namespace" {
            // The namespace controller empties it, then drops the `kubernetes` finalizer.
            new["status"]["phase"] = json!("Terminating");
        }
        match propagation {
            Propagation::Orphan => meta::add_finalizer(&mut new, "orphan"),
            Propagation::Foreground => meta::add_finalizer(&mut new, "foregroundDeletion"),
            Propagation::Background => {}
        }
        let pending = !finalizers(&new).is_empty()
            || (rt.kind == "Namespace"
                && new["spec"]["finalizers"]
                    .as_array()
                    .is_some_and(|f| !f.is_empty()));
        if is_terminating(&current) {
            // A repeated delete only records a stronger propagation.
            let object = if new != current && !opts.dry_run {
                self.commit(rt, EventType::Modified, new)
            } else {
                current
            };
            return Ok(Deletion { object, warnings });
        }
        if opts.dry_run {
            return Ok(Deletion {
                object: current,
                warnings,
            });
        }
        if pending {
            new["metadata"]["deletionTimestamp"] = json!(now_rfc3339());
            new["metadata"]["deletionGracePeriodSeconds"] = json!(0);
            let object = self.commit(rt, EventType::Modified, new);
            return Ok(Deletion { object, warnings });
        }
        let object = self.commit(rt, EventType::Deleted, current);
        Ok(Deletion { object, warnings })
    }

    /// Removes an object outright (a namespace whose content is gone).
    pub fn remove(&mut self, rt: &'static ResourceType, ns: &str, name: &str) -> Option<Value> {
        let current = self.get(rt, ns, name)?.clone();
        Some(self.commit(rt, EventType::Deleted, current))
    }
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

/// A Secret's `stringData` is write-only: the apiserver merges it into `data`, base64-encoded,
/// and never stores it.
fn fold_string_data(rt: &ResourceType, obj: &mut Value) {
    use base64::Engine as _;
    if (rt.group, rt.kind) != ("", "Secret") {
        return;
    }
    let Some(Value::Object(string_data)) = obj.as_object_mut().and_then(|o| o.remove("stringData"))
    else {
        return;
    };
    if !obj["data"].is_object() {
        obj["data"] = json!({});
    }
    for (k, v) in string_data {
        let text = v
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string());
        obj["data"][k] = json!(base64::engine::general_purpose::STANDARD.encode(text));
    }
}
