//! The emulated cluster: what exists, and how a restore progresses.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::blobstore::{ObjectStore, StoreError};
use super::repository_data::{self, Container};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    pub name: String,
    /// SUCCESS, IN_PROGRESS, PARTIAL, FAILED or INCOMPATIBLE.
    pub state: String,
    /// Index name and its document count.
    pub indices: BTreeMap<String, u64>,
    pub start_millis: i64,
    pub end_millis: i64,
    /// The aliases each index had when the snapshot was taken (restored with `include_aliases`),
    /// each with whether the index was its write index.
    pub aliases: BTreeMap<String, BTreeMap<String, bool>>,
    /// Indices whose shard failed: a PARTIAL snapshot's (its first index unless set).
    #[serde(default)]
    pub failed: BTreeSet<String>,
}

impl Snapshot {
    pub fn uuid(&self) -> String {
        format!("uuid-{}", self.name)
    }
}

#[derive(Debug, Clone)]
pub struct Index {
    pub open: bool,
    pub docs: u64,
    pub shards: u32,
    /// Where its data came from, if a restore created it.
    pub restored_from: Option<String>,
    /// `_recovery` polls left before its shards report DONE.
    pub recovery_polls_left: u32,
    pub recovery_polls_total: u32,
    /// Aliases that point at this index (`.kibana` -> `.kibana_1`).
    pub aliases: BTreeSet<String>,
    /// The aliases among `aliases` this index is the write index of.
    pub write_aliases: BTreeSet<String>,
    /// Created at (epoch millis): the start of its recovery.
    pub created_millis: i64,
}

impl Index {
    pub fn new(docs: u64) -> Index {
        Index {
            open: true,
            docs,
            shards: 1,
            restored_from: None,
            recovery_polls_left: 0,
            recovery_polls_total: 0,
            aliases: BTreeSet::new(),
            write_aliases: BTreeSet::new(),
            created_millis: now_millis(),
        }
    }
}

pub fn now_millis() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// Which server the emulator answers as: the replies that differ between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    OpenSearch2,
    OpenSearch1,
    /// Elasticsearch 7 before 7.16 lists snapshots per repository under `responses`.
    Elasticsearch7,
}

impl Flavour {
    /// `version.number` of `GET /` and a snapshot's `version` / `version_id`.
    pub fn version(self) -> (&'static str, u64) {
        match self {
            Flavour::OpenSearch2 => ("2.11.0", 136317827),
            Flavour::OpenSearch1 => ("1.3.13", 135248227),
            Flavour::Elasticsearch7 => ("7.10.2", 7100299),
        }
    }
}

pub struct Cluster {
    pub flavour: Flavour,
    pub username: String,
    pub password: String,
    /// Registered repositories as `GET _snapshot` shows them (settings as strings).
    pub repositories: BTreeMap<String, Value>,
    /// What each registered repository holds, read from its bucket or location at registration
    /// and written back on every change.
    pub snapshots: BTreeMap<String, Vec<Snapshot>>,
    pub indices: BTreeMap<String, Index>,
    /// How many `_recovery` polls a restored shard takes to reach DONE.
    pub recovery_polls: u32,
    /// Bodies of the restore requests, in order.
    pub restores: Vec<Value>,
    /// Other users (name, password), e.g. `snapshotter`, besides the admin.
    pub users: BTreeMap<String, String>,
    /// The object store the `default` S3 client reaches: s3 repositories' buckets.
    pub object_store: ObjectStore,
    /// The node's filesystem as `fs` repositories see it (in memory).
    pub filesystem: ObjectStore,
    /// `path.repo`: where `fs` repositories may live.
    pub path_repo: Vec<String>,
    /// Bodies of the snapshot-creation requests, in order (with `repository` and `snapshot`).
    pub snapshot_requests: Vec<Value>,
}

impl Cluster {
    pub fn new(username: &str, password: &str) -> Cluster {
        Cluster {
            flavour: Flavour::OpenSearch2,
            username: username.into(),
            password: password.into(),
            repositories: BTreeMap::new(),
            snapshots: BTreeMap::new(),
            indices: BTreeMap::new(),
            recovery_polls: 3,
            restores: Vec::new(),
            users: BTreeMap::new(),
            object_store: ObjectStore::memory(),
            filesystem: ObjectStore::memory(),
            // What the API specification's own test cluster sets.
            path_repo: vec!["/tmp/opensearch/repo".into()],
            snapshot_requests: Vec::new(),
        }
    }

    /// s3 repositories use this S3 server (e.g. moto's endpoint) instead of the in-memory store.
    pub fn use_s3(&mut self, endpoint: &str) {
        self.object_store = ObjectStore::S3 {
            endpoint: endpoint.trim_end_matches('/').into(),
        };
    }

    /// Another user that may call the API (e.g. the `snapshotter` the backup CronJob uses).
    pub fn add_user(&mut self, username: &str, password: &str) {
        self.users.insert(username.into(), password.into());
    }

    /// Creates a bucket in the object store (as the platform's object storage has it).
    pub fn create_bucket(&mut self, bucket: &str) {
        self.object_store
            .create_bucket(bucket)
            .unwrap_or_else(|e| panic!("create bucket {bucket}: {e:?}"));
    }

    /// Snapshots already in a bucket (written by another cluster, or copied back from off-site),
    /// laid out as OpenSearch writes them: a repository registered on the bucket lists them.
    pub fn add_bucket_snapshot(
        &mut self,
        bucket: &str,
        name: &str,
        state: &str,
        indices: &[(&str, u64)],
        start_millis: i64,
    ) {
        self.create_bucket(bucket);
        let at = Container {
            bucket,
            base_path: "",
        };
        let mut list = repository_data::load(&self.object_store, &at).expect("read the bucket");
        list.push(new_snapshot(name, state, indices, start_millis));
        repository_data::save(&mut self.object_store, &at, &list).expect("write the bucket");
    }

    /// Records the aliases an index had in a snapshot (e.g. `.kibana` on `.kibana_1`), in a
    /// repository or in a bucket no repository reads yet.
    pub fn set_snapshot_aliases(
        &mut self,
        repository_or_bucket: &str,
        snapshot: &str,
        index: &str,
        aliases: &[&str],
    ) {
        let set: BTreeMap<String, bool> = aliases.iter().map(|a| (a.to_string(), false)).collect();
        let update = |list: &mut Vec<Snapshot>| {
            for s in list.iter_mut().filter(|s| s.name == snapshot) {
                s.aliases.insert(index.into(), set.clone());
            }
        };
        if let Some(list) = self.snapshots.get_mut(repository_or_bucket) {
            update(list);
            self.persist(repository_or_bucket)
                .expect("write the repository");
        } else {
            let at = Container {
                bucket: repository_or_bucket,
                base_path: "",
            };
            let mut list = repository_data::load(&self.object_store, &at).expect("read the bucket");
            update(&mut list);
            repository_data::save(&mut self.object_store, &at, &list).expect("write the bucket");
        }
    }

    /// Points `alias` at `index`.
    pub fn add_alias(&mut self, index: &str, alias: &str) {
        if let Some(i) = self.indices.get_mut(index) {
            i.aliases.insert(alias.into());
        }
    }

    /// Points `alias` at `index` and makes `index` its write index.
    pub fn add_write_alias(&mut self, index: &str, alias: &str) {
        if let Some(i) = self.indices.get_mut(index) {
            i.aliases.insert(alias.into());
            i.write_aliases.insert(alias.into());
        }
    }

    /// A registered repository's setting (settings are strings once registered).
    pub fn repository_setting(&self, repository: &str, setting: &str) -> Option<String> {
        self.repositories
            .get(repository)
            .and_then(|r| r.get("settings"))
            .and_then(|s| s.get(setting))
            .and_then(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Null => None,
                other => Some(other.to_string()),
            })
    }

    /// The bucket a repository is registered on.
    pub fn repository_bucket(&self, repository: &str) -> Option<String> {
        self.repository_setting(repository, "bucket")
    }

    /// Whether a repository was registered read-only (`readonly`, or `read_only` as the
    /// specification's schema names it).
    pub fn repository_readonly(&self, repository: &str) -> bool {
        ["readonly", "read_only"]
            .iter()
            .any(|s| self.repository_setting(repository, s).as_deref() == Some("true"))
    }

    /// Where a registered repository's data lives: (is it s3, container, base path).
    fn container_of(&self, repository: &str) -> Option<(bool, String, String)> {
        let repo = self.repositories.get(repository)?;
        let s3 = repo["type"] == "s3";
        let (container, base) = if s3 {
            (
                self.repository_bucket(repository)?,
                self.repository_setting(repository, "base_path")
                    .unwrap_or_default(),
            )
        } else {
            (
                self.repository_setting(repository, "location")?,
                String::new(),
            )
        };
        Some((s3, container, base))
    }

    /// Reads what a repository holds from its bucket or location (as registration does).
    pub fn load_repository(&mut self, repository: &str) -> Result<(), StoreError> {
        let Some((s3, container, base)) = self.container_of(repository) else {
            self.snapshots.entry(repository.into()).or_default();
            return Ok(());
        };
        let store = if s3 {
            &self.object_store
        } else {
            &self.filesystem
        };
        if !store.bucket_exists(&container)? {
            return Err(StoreError {
                status: 404,
                code: "NoSuchBucket".into(),
                message: "The specified bucket does not exist".into(),
            });
        }
        let at = Container {
            bucket: &container,
            base_path: &base,
        };
        let list = repository_data::load(store, &at)?;
        self.snapshots.insert(repository.into(), list);
        Ok(())
    }

    /// Writes a repository's snapshots back to its bucket or location.
    pub fn persist(&mut self, repository: &str) -> Result<(), StoreError> {
        let Some((s3, container, base)) = self.container_of(repository) else {
            return Ok(());
        };
        let list = self.snapshots.get(repository).cloned().unwrap_or_default();
        let store = if s3 {
            &mut self.object_store
        } else {
            &mut self.filesystem
        };
        let at = Container {
            bucket: &container,
            base_path: &base,
        };
        repository_data::save(store, &at, &list)
    }

    /// The aliases of every index, alias name to index names.
    pub fn alias_map(&self) -> BTreeMap<String, Vec<String>> {
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, index) in &self.indices {
            for alias in &index.aliases {
                map.entry(alias.clone()).or_default().push(name.clone());
            }
        }
        map
    }

    /// Register an s3 repository on `bucket` (created in the object store if missing), as the
    /// configurer does, and read what the bucket holds.
    pub fn add_repository(&mut self, name: &str, bucket: &str) {
        self.create_bucket(bucket);
        self.repositories.insert(
            name.into(),
            json!({"type": "s3", "settings": {"bucket": bucket, "client": "default"}}),
        );
        self.load_repository(name).expect("read the bucket");
    }

    /// A snapshot in a registered repository (written to its bucket too).
    pub fn add_snapshot(
        &mut self,
        repository: &str,
        name: &str,
        state: &str,
        indices: &[(&str, u64)],
        start_millis: i64,
    ) {
        let snapshot = new_snapshot(name, state, indices, start_millis);
        self.snapshots
            .entry(repository.into())
            .or_default()
            .push(snapshot);
        self.persist(repository).expect("write the repository");
    }

    pub fn add_index(&mut self, name: &str, docs: u64) {
        self.indices.insert(name.into(), Index::new(docs));
    }

    pub fn snapshot_json(&self, repository: &str, s: &Snapshot) -> Value {
        let shards = s.indices.len() as u64;
        let failed = s.failed.len() as u64;
        let (version, version_id) = self.flavour.version();
        json!({
            "snapshot": s.name,
            "uuid": s.uuid(),
            "version_id": version_id,
            "version": version,
            "indices": s.indices.keys().collect::<Vec<_>>(),
            "data_streams": [],
            "include_global_state": false,
            "state": s.state,
            "start_time": rfc3339(s.start_millis),
            "start_time_in_millis": s.start_millis,
            "end_time": rfc3339(s.end_millis),
            "end_time_in_millis": s.end_millis,
            "duration_in_millis": s.end_millis - s.start_millis,
            "failures": s.failed.iter().map(|index| json!({"index": index, "index_uuid": format!("id-{index}"), "shard_id": 0, "reason": "IndexShardSnapshotFailedException[shard failed]", "node_id": "emulator-node", "status": "INTERNAL_SERVER_ERROR"})).collect::<Vec<_>>(),
            "shards": {"total": shards, "failed": failed, "successful": shards - failed},
            "repository": repository,
        })
    }
}

/// How an index expression is resolved (the `ignore_unavailable` and `expand_wildcards` options).
#[derive(Debug, Clone, Copy)]
pub struct Resolve {
    pub ignore_unavailable: bool,
    pub open: bool,
    pub closed: bool,
}

/// A query flag: present without a value, or `true`.
pub fn flag(query: &std::collections::HashMap<String, String>, name: &str) -> bool {
    query.get(name).is_some_and(|v| v == "true" || v.is_empty())
}

impl Resolve {
    /// From the request's query, with the API's own default for `expand_wildcards`.
    pub fn from_query(
        query: &std::collections::HashMap<String, String>,
        default_closed: bool,
    ) -> Resolve {
        let ignore_unavailable = flag(query, "ignore_unavailable");
        let (open, closed) = match query.get("expand_wildcards").map(String::as_str) {
            None => (true, default_closed),
            Some(list) => {
                let has = |w: &str| list.split(',').any(|x| x == w || x == "all");
                (has("open"), has("closed"))
            }
        };
        Resolve {
            ignore_unavailable,
            open,
            closed,
        }
    }
}

/// Index-name wildcards: `*` for any run of characters.
pub fn wildcard(pattern: &str, name: &str) -> bool {
    let regex = format!("^{}$", regex::escape(pattern).replace(r"\*", ".*"));
    regex::Regex::new(&regex).is_ok_and(|r| r.is_match(name))
}

/// Names chosen from `names` by a comma list of names and wildcards with `-exclusions`, as the
/// snapshot APIs read it; `Err` is a plain name that is not there (unless `ignore_unavailable`).
pub fn select<'a>(
    names: impl Iterator<Item = &'a String> + Clone,
    patterns: &[String],
    ignore_unavailable: bool,
) -> Result<Vec<String>, String> {
    let mut chosen: BTreeSet<String> = BTreeSet::new();
    for (i, part) in patterns.iter().enumerate() {
        let part = part.trim();
        match part.strip_prefix('-') {
            Some(excluded) if i > 0 => chosen.retain(|n| !wildcard(excluded, n)),
            _ if part == "_all" || part.contains('*') => {
                let pattern = if part == "_all" { "*" } else { part };
                chosen.extend(names.clone().filter(|n| wildcard(pattern, n)).cloned());
            }
            _ => {
                if names.clone().any(|n| n == part) {
                    chosen.insert(part.to_string());
                } else if !ignore_unavailable {
                    return Err(part.to_string());
                }
            }
        }
    }
    Ok(chosen.into_iter().collect())
}

/// A comma list or JSON array of names, as request bodies give them.
pub fn name_list(value: Option<&Value>, default: &str) -> Vec<String> {
    match value {
        Some(Value::String(s)) => s.split(',').map(|p| p.trim().to_string()).collect(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => vec![default.to_string()],
    }
}

impl Cluster {
    /// The concrete indices an expression names: a comma list of names, aliases, wildcards
    /// (over index and alias names) and `-exclusions`, as the multi-index APIs read it. `Err` is
    /// a name that exists neither as an index nor as an alias.
    pub fn resolve(&self, expression: &str, options: Resolve) -> Result<Vec<String>, String> {
        let aliases = self.alias_map();
        let mut chosen: BTreeSet<String> = BTreeSet::new();
        let mut seen_wildcard = false;
        for part in expression
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let (exclude, pattern) = match part.strip_prefix('-') {
                Some(rest) if seen_wildcard || !chosen.is_empty() => (true, rest),
                _ => (false, part),
            };
            let mut matched: BTreeSet<String> = BTreeSet::new();
            if pattern == "_all" || pattern.contains('*') {
                seen_wildcard = true;
                let pattern = if pattern == "_all" { "*" } else { pattern };
                for (name, index) in &self.indices {
                    let state_ok = (index.open && options.open) || (!index.open && options.closed);
                    if state_ok && wildcard(pattern, name) {
                        matched.insert(name.clone());
                    }
                }
                for (alias, names) in &aliases {
                    if wildcard(pattern, alias) {
                        matched.extend(names.iter().cloned());
                    }
                }
            } else if self.indices.contains_key(pattern) {
                matched.insert(pattern.to_string());
            } else if let Some(names) = aliases.get(pattern) {
                matched.extend(names.iter().cloned());
            } else if !exclude && !options.ignore_unavailable {
                return Err(pattern.to_string());
            }
            if exclude {
                chosen.retain(|n| !matched.contains(n));
            } else {
                chosen.extend(matched);
            }
        }
        Ok(chosen.into_iter().collect())
    }
}

fn new_snapshot(name: &str, state: &str, indices: &[(&str, u64)], start_millis: i64) -> Snapshot {
    let indices: BTreeMap<String, u64> = indices.iter().map(|(n, d)| (n.to_string(), *d)).collect();
    // A PARTIAL snapshot has at least one failed shard; seeded ones fail their first index.
    let failed = if state == "PARTIAL" {
        indices.keys().take(1).cloned().collect()
    } else {
        BTreeSet::new()
    };
    Snapshot {
        name: name.into(),
        state: state.into(),
        indices,
        start_millis,
        end_millis: start_millis + 60_000,
        aliases: BTreeMap::new(),
        failed,
    }
}

pub fn rfc3339(millis: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .expect("valid time");
    t.format(&time::format_description::well_known::Rfc3339)
        .expect("formats")
}
