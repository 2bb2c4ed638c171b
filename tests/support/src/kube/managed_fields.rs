//! Field management: `metadata.managedFields` and server-side apply's ownership rules, as
//! apimachinery's `pkg/util/managedfields/internal` stacks them over structured-merge-diff's
//! `merge.Updater`.
//!
//! - Every write records which fields its manager set. An update (create, update, a patch
//!   that is not an apply) takes the fields it added or changed, from whoever owned them, into
//!   the manager's `Update` entry; fields it removed leave every entry. An update of an object
//!   that has no managed fields yet is not tracked (`skipNonApplied`); a create always is.
//! - An apply makes the applied configuration's field set the manager's `Apply` entry, removes
//!   the fields the manager applied before and no longer applies unless some manager still owns
//!   them, and refuses (409) to change fields other managers own unless forced, which moves
//!   them over. Applying a value another manager set too shares the field.
//! - Fields no manager tracks (apiVersion, kind, name, namespace, uid, resourceVersion,
//!   generation, creationTimestamp, managedFields) are dropped from every set, and a write to
//!   the main resource does not track `status` (nor one to `/status` the spec): the strategies'
//!   reset fields.
//! - Beyond ten update entries the oldest are folded into `ancient-changes`.
//!
//! Simplified: the "empty object" a create is compared with knows the few Go value-typed
//! structs of workloads (template, strategy), not all of them, so a `".": {}` marks some
//! structs the real server leaves unmarked; no conversion of
//! `kubectl.kubernetes.io/last-applied-configuration` on a switch from client-side apply.

use serde_json::{Map, Value, json};

use super::crd;
use super::field_set::{FieldSet, Path, PathElement, path_string};
use super::field_shape::Shape;
use super::field_walk::{self, Comparison};
use super::meta::now_rfc3339;
use super::resources::ResourceType;
use super::schema;
use super::status::ApiError;

/// The manager of the emulated controllers' writes.
pub const CONTROLLER_MANAGER: &str = "kube-controller-manager";

/// The manager that takes the fields of an untracked object on its first apply.
const BEFORE_FIRST_APPLY: &str = "before-first-apply";

/// How many update entries an object keeps (`DefaultMaxUpdateManagers`); the oldest beyond
/// that are merged into one `ancient-changes` entry per API version.
const MAX_UPDATE_MANAGERS: usize = 10;
const ANCIENT_CHANGES: &str = "ancient-changes";

/// Who makes a write, for its `managedFields`.
#[derive(Debug, Clone, Copy)]
pub enum Writer<'a> {
    /// A create, update or non-apply patch by this manager.
    Update(&'a str),
    /// A server-side apply, whose object carries its managed fields already.
    Apply,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    Apply,
    Update,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Self::Apply => "Apply",
            Self::Update => "Update",
        }
    }
}

/// One `managedFields` entry.
#[derive(Debug, Clone)]
struct Entry {
    manager: String,
    operation: Operation,
    api_version: String,
    subresource: String,
    time: Option<String>,
    fields: FieldSet,
}

impl Entry {
    /// Whether this entry is the one of a manager, operation and subresource (and API version,
    /// for updates), as `BuildManagerIdentifier` tells entries apart.
    fn is(
        &self,
        manager: &str,
        operation: Operation,
        api_version: &str,
        subresource: &str,
    ) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource == subresource
            && (operation == Operation::Apply || self.api_version == api_version)
    }

    /// The manager identifier (the JSON the apiserver keys managers by, and sorts conflicts by).
    fn identifier(&self) -> String {
        let mut m = Map::new();
        m.insert("manager".into(), json!(self.manager));
        m.insert("operation".into(), json!(self.operation.as_str()));
        if self.operation == Operation::Update {
            m.insert("apiVersion".into(), json!(self.api_version));
        }
        if !self.subresource.is_empty() {
            m.insert("subresource".into(), json!(self.subresource));
        }
        Value::Object(m).to_string()
    }

    /// The manager as conflict messages name it (`printManager`).
    fn printed(&self) -> String {
        let mut s = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            s = format!("{s} with subresource {:?}", self.subresource);
        }
        match self.operation {
            Operation::Update => format!("{s} using {}", self.api_version),
            Operation::Apply => s,
        }
    }

    fn encode(&self) -> Value {
        let mut m = Map::new();
        m.insert("manager".into(), json!(self.manager));
        m.insert("operation".into(), json!(self.operation.as_str()));
        m.insert("apiVersion".into(), json!(self.api_version));
        if let Some(t) = &self.time {
            m.insert("time".into(), json!(t));
        }
        m.insert("fieldsType".into(), json!("FieldsV1"));
        m.insert("fieldsV1".into(), self.fields.to_fields_v1());
        if !self.subresource.is_empty() {
            m.insert("subresource".into(), json!(self.subresource));
        }
        Value::Object(m)
    }

    fn decode(i: usize, v: &Value) -> Result<Entry, String> {
        let operation = match v["operation"].as_str() {
            Some("Apply") => Operation::Apply,
            Some("Update") => Operation::Update,
            _ => return Err("operation must be `Apply` or `Update`".into()),
        };
        let api_version = v["apiVersion"].as_str().unwrap_or_default();
        if api_version.is_empty() {
            return Err("apiVersion must not be empty".into());
        }
        match v["fieldsType"].as_str().unwrap_or_default() {
            "FieldsV1" => {}
            "" => return Err(format!("missing fieldsType in managed fields entry {i}")),
            other => {
                return Err(format!(
                    "invalid fieldsType {other:?} in managed fields entry {i}"
                ));
            }
        }
        let fields = match v.get("fieldsV1") {
            None | Some(Value::Null) => FieldSet::new(),
            Some(f) => FieldSet::from_fields_v1(f)?,
        };
        Ok(Entry {
            manager: v["manager"].as_str().unwrap_or_default().to_string(),
            operation,
            api_version: api_version.to_string(),
            subresource: v["subresource"].as_str().unwrap_or_default().to_string(),
            time: v["time"].as_str().map(str::to_string),
            fields,
        })
    }
}

type Managed = Vec<Entry>;

fn decode_list(list: &Value) -> Result<Managed, String> {
    list.as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, e)| Entry::decode(i, e))
        .collect()
}

fn decode_object(obj: &Value) -> Result<Managed, String> {
    match obj["metadata"].get("managedFields") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(list) => decode_list(list),
    }
}

/// Writes the entries into the object, in the apiserver's order (Apply before Update, then by
/// time, manager, API version, subresource); no entries, no field.
fn encode_into(obj: &mut Value, mut managed: Managed) {
    managed.retain(|e| !e.fields.is_empty());
    managed.sort_by(|p, q| {
        let seconds = |e: &Entry| e.time.clone().unwrap_or_default();
        (
            p.operation.as_str(),
            seconds(p),
            &p.manager,
            &p.api_version,
            &p.subresource,
        )
            .cmp(&(
                q.operation.as_str(),
                seconds(q),
                &q.manager,
                &q.api_version,
                &q.subresource,
            ))
    });
    let Some(meta) = obj["metadata"].as_object_mut() else {
        return;
    };
    if managed.is_empty() {
        meta.remove("managedFields");
    } else {
        meta.insert(
            "managedFields".into(),
            Value::Array(managed.iter().map(Entry::encode).collect()),
        );
    }
}

fn without_managed_fields(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o["metadata"].as_object_mut() {
        m.remove("managedFields");
    }
    o
}

/// `[]` or `[{}]`: a request that clears the managed fields (`isResetManagedFields`).
fn is_reset(list: &Value) -> bool {
    match list.as_array().map(Vec::as_slice) {
        Some([]) => true,
        Some([only]) => only.as_object().is_some_and(Map::is_empty),
        _ => false,
    }
}

fn field(name: &str) -> PathElement {
    PathElement::Field(name.to_string())
}

/// The fields no manager owns (`stripMetaManager`).
fn strip_meta(set: &FieldSet) -> FieldSet {
    let mut strip = FieldSet::new();
    strip.insert(&[field("apiVersion")]);
    strip.insert(&[field("kind")]);
    strip.insert(&[field("metadata")]);
    for name in [
        "name",
        "namespace",
        "creationTimestamp",
        "selfLink",
        "uid",
        "clusterName",
        "generation",
        "managedFields",
        "resourceVersion",
    ] {
        strip.insert(&[field("metadata"), field(name)]);
    }
    set.difference(&strip)
}

/// The fields a write through `subresource` resets, so never owns (the strategies'
/// `GetResetFields`: the main resource does not write status, `/status` not the spec).
fn reset_prefixes(rt: &ResourceType, subresource: &str) -> Vec<Path> {
    match subresource {
        "" if rt.has_status_subresource() => vec![vec![field("status")]],
        "status" => vec![vec![field("spec")]],
        _ => Vec::new(),
    }
}

fn filter_set(rt: &ResourceType, subresource: &str, set: FieldSet) -> FieldSet {
    reset_prefixes(rt, subresource)
        .iter()
        .fold(set, |s, p| s.without_prefix(p))
}

fn filter_comparison(rt: &ResourceType, subresource: &str, c: Comparison) -> Comparison {
    reset_prefixes(rt, subresource)
        .iter()
        .fold(c, |c, p| c.without_prefix(p))
}

/// The schema a type's objects are walked with: the published definition of a built-in kind,
/// the CRD's structural schema of a custom one.
fn with_shape<T>(rt: &ResourceType, f: impl FnOnce(Shape) -> T) -> T {
    if rt.custom {
        let structural = crd::structural_schema(rt);
        f(Shape::root(structural.as_deref()))
    } else {
        f(Shape::root(schema::root_definition(rt)))
    }
}

/// The object a create is compared with: the type's empty value, with the structs Go
/// serializes even when empty (custom objects are empty maps).
fn empty_object(rt: &ResourceType) -> Value {
    if rt.custom {
        return json!({});
    }
    let template = json!({"metadata": {}, "spec": {}});
    let mut spec = json!({});
    match rt.kind {
        "Deployment" => spec = json!({"strategy": {}, "template": template}),
        "StatefulSet" | "DaemonSet" => spec = json!({"updateStrategy": {}, "template": template}),
        "ReplicaSet" | "Job" | "ReplicationController" => spec = json!({"template": template}),
        "CronJob" => {
            spec = json!({"jobTemplate": {"metadata": {}, "spec": {"template": template}}})
        }
        _ => {}
    }
    let mut obj = json!({"metadata": {}});
    if let Some(props) = schema::root_definition(rt).and_then(|d| d["properties"].as_object()) {
        if props.contains_key("spec") {
            obj["spec"] = spec;
        }
        if props.contains_key("status") {
            obj["status"] = json!({});
        }
    }
    obj
}

/// Records an update from `old` to `new` by `manager` into the entries (the
/// `managedFieldsUpdater` over `merge.Updater.Update` with a temporary "current-operation"
/// manager): the changed fields leave every entry, as do the removed ones, and are added to
/// the manager's own entry, whose time is set when it gained anything.
fn record_update(
    rt: &ResourceType,
    managed: &mut Managed,
    old: &Value,
    new: &Value,
    manager: &str,
    subresource: &str,
) {
    let c = with_shape(rt, |shape| field_walk::compare(old, new, shape));
    let c = filter_comparison(rt, subresource, c);
    let changed = c.changed();
    for e in managed.iter_mut() {
        e.fields = e.fields.difference(&changed).difference(&c.removed);
    }
    let own = strip_meta(&changed);
    if !own.is_empty() {
        let api_version = rt.api_version();
        let time = Some(now_rfc3339());
        match managed
            .iter_mut()
            .find(|e| e.is(manager, Operation::Update, &api_version, subresource))
        {
            Some(e) => {
                e.fields = own.union(&e.fields);
                e.time = time;
            }
            None => managed.push(Entry {
                manager: manager.to_string(),
                operation: Operation::Update,
                api_version,
                subresource: subresource.to_string(),
                time,
                fields: own,
            }),
        }
    }
    managed.retain(|e| !e.fields.is_empty());
    cap_update_managers(managed);
}

/// Folds the oldest update entries (by time, then identifier) into `ancient-changes` until at
/// most ten are left (`capManagersManager`): the first old entry of a version becomes the
/// bucket, the next ones join it.
fn cap_update_managers(managed: &mut Managed) {
    let mut updaters: Vec<usize> = (0..managed.len())
        .filter(|&i| managed[i].operation == Operation::Update)
        .collect();
    if updaters.len() <= MAX_UPDATE_MANAGERS {
        return;
    }
    updaters.sort_by_key(|&i| {
        let e = &managed[i];
        (e.time.clone().unwrap_or_default(), e.identifier())
    });
    let mut first_of_version: Vec<(String, usize)> = Vec::new();
    let mut folded: Vec<usize> = Vec::new();
    let mut length = updaters.len();
    for &i in &updaters {
        if length <= MAX_UPDATE_MANAGERS {
            break;
        }
        let version = managed[i].api_version.clone();
        let is_bucket = |e: &Entry| e.is(ANCIENT_CHANGES, Operation::Update, &version, "");
        let Some(&(_, first)) = first_of_version.iter().find(|(v, _)| *v == version) else {
            first_of_version.push((version.clone(), i));
            continue;
        };
        let bucket = match managed.iter().position(is_bucket) {
            Some(b) => b,
            None => {
                // The first old entry of this version becomes the bucket.
                managed[first].manager = ANCIENT_CHANGES.to_string();
                managed[first].subresource = String::new();
                first
            }
        };
        let fields = managed[i].fields.union(&managed[bucket].fields);
        managed[bucket].fields = fields;
        managed[bucket].time = managed[i].time.clone();
        folded.push(i);
        length -= 1;
    }
    let mut index = 0;
    managed.retain(|_| {
        let keep = !folded.contains(&index);
        index += 1;
        keep
    });
}

/// Tracks a non-apply write: `new` (the object as it will be stored, `live` the stored one,
/// `None` for a create) gets its `managedFields`. The entries come from the request when it
/// sets valid ones (an empty list resets them), else from the live object; writes to a
/// subresource always keep the live ones.
pub fn track_update(
    rt: &ResourceType,
    live: Option<&Value>,
    new: &mut Value,
    manager: &str,
    subresource: &str,
) {
    let live_managed = || {
        live.map(|l| decode_object(l).unwrap_or_default())
            .unwrap_or_default()
    };
    let requested = new["metadata"].get("managedFields").cloned();
    let mut managed = match &requested {
        _ if !subresource.is_empty() => live_managed(),
        Some(list) if is_reset(list) => Vec::new(),
        Some(list) => match decode_list(list) {
            Ok(m) if !m.is_empty() => m,
            _ => live_managed(),
        },
        None => live_managed(),
    };
    if let Some(m) = new["metadata"].as_object_mut() {
        m.remove("managedFields");
    }
    if managed.is_empty() && live.is_some() {
        // An object nobody tracks stays untracked until its first apply.
        return;
    }
    let old = live
        .map(without_managed_fields)
        .unwrap_or_else(|| empty_object(rt));
    record_update(rt, &mut managed, &old, new, manager, subresource);
    encode_into(new, managed);
}

/// A server-side apply of `config` by `manager` to `live` (`None`: the object is created):
/// the merged object, pruned of what the manager stopped applying, with its `managedFields`;
/// or the 409 of the fields other managers own that the apply would change, unless `force`.
pub fn apply(
    rt: &ResourceType,
    live: Option<&Value>,
    config: &Value,
    manager: &str,
    force: bool,
    subresource: &str,
) -> Result<Value, ApiError> {
    if config["metadata"]["managedFields"].is_array() {
        return Err(ApiError::bad_request("metadata.managedFields must be nil"));
    }
    let mut managed = match live {
        Some(l) => decode_object(l).map_err(|e| ApiError {
            code: 500,
            reason: "InternalError",
            message: format!("failed to decode managed fields: {e}"),
            details: None,
        })?,
        None => Vec::new(),
    };
    let empty = empty_object(rt);
    let live_obj = live.map(without_managed_fields);
    let old = live_obj.clone().unwrap_or_else(|| empty.clone());
    if managed.is_empty()
        && let Some(existing) = &live_obj
    {
        // The fields set before the first apply belong to someone: `before-first-apply`.
        record_update(
            rt,
            &mut managed,
            &empty,
            existing,
            BEFORE_FIRST_APPLY,
            subresource,
        );
    }
    let base = live_obj.clone().unwrap_or_else(|| json!({}));
    let api_version = config["apiVersion"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let applied = with_shape(rt, |shape| field_walk::field_set(config, shape));
    let applied = filter_set(rt, subresource, applied);
    let position = managed
        .iter()
        .position(|e| e.is(manager, Operation::Apply, &api_version, subresource));
    let last = position.map(|i| std::mem::replace(&mut managed[i].fields, applied.clone()));
    let own = match position {
        Some(i) => {
            managed[i].api_version = api_version;
            i
        }
        None => {
            managed.push(Entry {
                manager: manager.to_string(),
                operation: Operation::Apply,
                api_version,
                subresource: subresource.to_string(),
                time: None,
                fields: applied,
            });
            managed.len() - 1
        }
    };
    let result = with_shape(rt, |shape| {
        let merged = field_walk::merge(&base, config, shape);
        match last.filter(|l| !l.is_empty()) {
            Some(last) => prune(merged, &managed, &last, shape),
            None => merged,
        }
    });
    let c = with_shape(rt, |shape| field_walk::compare(&old, &result, shape));
    let c = filter_comparison(rt, subresource, c);
    let changed = c.changed();
    let mut conflicts: Vec<(String, String, Path)> = Vec::new();
    for (i, e) in managed.iter().enumerate() {
        if i == own {
            continue;
        }
        for path in e.fields.intersection(&changed).paths() {
            conflicts.push((e.identifier(), e.printed(), path));
        }
    }
    if !force && !conflicts.is_empty() {
        conflicts.sort();
        return Err(conflict_error(&conflicts));
    }
    for (i, e) in managed.iter_mut().enumerate() {
        if i != own {
            e.fields = e.fields.difference(&changed).difference(&c.removed);
        }
    }
    managed[own].fields = strip_meta(&managed[own].fields);
    if live_obj.as_ref() != Some(&result) {
        managed[own].time = Some(now_rfc3339());
    }
    let mut out = result;
    if !out["metadata"].is_object() {
        out["metadata"] = json!({});
    }
    encode_into(&mut out, managed);
    Ok(out)
}

/// Removes from `merged` the fields the manager applied last time (`last`) that no manager
/// owns now (`merge.Updater.prune`; struct fields with owned fields below them stay).
fn prune(merged: Value, managed: &Managed, last: &FieldSet, shape: Shape) -> Value {
    let owned = managed
        .iter()
        .fold(FieldSet::new(), |acc, e| acc.union(&e.fields));
    let owned = field_walk::with_named_fields(&owned, shape);
    let last = field_walk::with_named_fields(last, shape);
    let orphaned = last.difference(&owned);
    let mut out = merged;
    field_walk::remove_items(&mut out, &orphaned, shape);
    out
}

/// The 409 of an apply that would change fields others own (`NewConflictError`).
fn conflict_error(conflicts: &[(String, String, Path)]) -> ApiError {
    let causes: Vec<Value> = conflicts
        .iter()
        .map(|(_, printed, path)| {
            json!({
                "reason": "FieldManagerConflict",
                "message": format!("conflict with {printed}"),
                "field": path_string(path),
            })
        })
        .collect();
    let message = match conflicts {
        [(_, printed, path)] => format!(
            "Apply failed with 1 conflict: conflict with {printed}: {}",
            path_string(path)
        ),
        _ => {
            let mut lines = Vec::new();
            let mut current: Option<&str> = None;
            for (id, printed, path) in conflicts {
                if current != Some(id.as_str()) {
                    lines.push(format!("conflicts with {printed}:"));
                    current = Some(id);
                }
                lines.push(format!("- {}", path_string(path)));
            }
            format!(
                "Apply failed with {} conflicts: {}",
                conflicts.len(),
                lines.join("\n")
            )
        }
    };
    ApiError {
        code: 409,
        reason: "Conflict",
        message,
        details: Some(json!({"causes": causes})),
    }
}

/// The manager of a write: `fieldManager`, else what the User-Agent starts with up to its first
/// `/` (printable characters, at most 128 bytes), else "unknown" (`managerOrUserAgent`,
/// `buildManagerInfo`).
pub fn manager_of(field_manager: Option<&str>, user_agent: Option<&str>) -> String {
    if let Some(m) = field_manager.filter(|m| !m.is_empty()) {
        return m.to_string();
    }
    let mut prefix = String::new();
    let first = user_agent.unwrap_or_default().split('/').next();
    for c in first
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
    {
        // FieldManagerMaxLength: 128 bytes.
        if prefix.len() + c.len_utf8() > 128 {
            break;
        }
        prefix.push(c);
    }
    if prefix.is_empty() {
        "unknown".to_string()
    } else {
        prefix
    }
}
