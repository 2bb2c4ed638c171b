//! The emulated cluster: what exists, and how a restore progresses.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub struct Snapshot {
    pub name: String,
    /// SUCCESS, IN_PROGRESS, PARTIAL, FAILED or INCOMPATIBLE.
    pub state: String,
    /// Index name and its document count.
    pub indices: BTreeMap<String, u64>,
    pub start_millis: i64,
    pub end_millis: i64,
    /// The aliases each index had when the snapshot was taken (restored with `include_aliases`).
    pub aliases: BTreeMap<String, BTreeSet<String>>,
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
        }
    }
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
    pub repositories: BTreeMap<String, Value>,
    pub snapshots: BTreeMap<String, Vec<Snapshot>>,
    pub indices: BTreeMap<String, Index>,
    /// How many `_recovery` polls a restored shard takes to reach DONE.
    pub recovery_polls: u32,
    /// Bodies of the restore requests, in order.
    pub restores: Vec<Value>,
    /// Other users (name, password), e.g. `snapshotter`, besides the admin.
    pub users: BTreeMap<String, String>,
    /// What object storage holds: the snapshots written into each bucket (by any cluster). A
    /// repository registered on a bucket sees them.
    pub buckets: BTreeMap<String, Vec<Snapshot>>,
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
            buckets: BTreeMap::new(),
            snapshot_requests: Vec::new(),
        }
    }

    /// Another user that may call the API (e.g. the `snapshotter` the backup CronJob uses).
    pub fn add_user(&mut self, username: &str, password: &str) {
        self.users.insert(username.into(), password.into());
    }

    /// Snapshots already in a bucket (written by another cluster, or copied back from off-site):
    /// a repository registered on the bucket lists them.
    pub fn add_bucket_snapshot(
        &mut self,
        bucket: &str,
        name: &str,
        state: &str,
        indices: &[(&str, u64)],
        start_millis: i64,
    ) {
        let snapshot = new_snapshot(name, state, indices, start_millis);
        self.buckets
            .entry(bucket.into())
            .or_default()
            .push(snapshot);
    }

    /// Records the aliases an index had in a snapshot (e.g. `.kibana` on `.kibana_1`).
    pub fn set_snapshot_aliases(
        &mut self,
        repository_or_bucket: &str,
        snapshot: &str,
        index: &str,
        aliases: &[&str],
    ) {
        let set: BTreeSet<String> = aliases.iter().map(|a| a.to_string()).collect();
        for list in [
            self.snapshots.get_mut(repository_or_bucket),
            self.buckets.get_mut(repository_or_bucket),
        ]
        .into_iter()
        .flatten()
        {
            for s in list.iter_mut().filter(|s| s.name == snapshot) {
                s.aliases.insert(index.into(), set.clone());
            }
        }
    }

    /// Points `alias` at `index`.
    pub fn add_alias(&mut self, index: &str, alias: &str) {
        if let Some(i) = self.indices.get_mut(index) {
            i.aliases.insert(alias.into());
        }
    }

    /// The bucket a repository is registered on.
    pub fn repository_bucket(&self, repository: &str) -> Option<String> {
        self.repositories
            .get(repository)
            .and_then(|r| r.pointer("/settings/bucket"))
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    /// Whether a repository was registered read-only.
    pub fn repository_readonly(&self, repository: &str) -> bool {
        matches!(
            self.repositories
                .get(repository)
                .and_then(|r| r.pointer("/settings/readonly")),
            Some(Value::Bool(true))
        ) || self
            .repositories
            .get(repository)
            .and_then(|r| r.pointer("/settings/readonly"))
            .and_then(Value::as_str)
            == Some("true")
    }

    /// The repository now lists what its bucket holds (as a real repository reads its bucket).
    pub fn attach_bucket(&mut self, repository: &str) {
        let from_bucket = self
            .repository_bucket(repository)
            .and_then(|b| self.buckets.get(&b).cloned())
            .unwrap_or_default();
        let list = self.snapshots.entry(repository.into()).or_default();
        for s in from_bucket {
            if !list.iter().any(|x| x.name == s.name) {
                list.push(s);
            }
        }
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

    /// Register an s3 repository on `bucket`.
    pub fn add_repository(&mut self, name: &str, bucket: &str) {
        self.repositories.insert(
            name.into(),
            json!({"type": "s3", "settings": {"bucket": bucket, "client": "default"}}),
        );
        self.snapshots.entry(name.into()).or_default();
        self.attach_bucket(name);
    }

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
    }

    pub fn add_index(&mut self, name: &str, docs: u64) {
        self.indices.insert(name.into(), Index::new(docs));
    }

    pub fn snapshot_json(&self, repository: &str, s: &Snapshot) -> Value {
        let shards = s.indices.len() as u64;
        let (version, version_id) = self.flavour.version();
        json!({
            "snapshot": s.name,
            "uuid": format!("uuid-{}", s.name),
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
            "failures": [],
            "shards": {"total": shards, "failed": if s.state == "SUCCESS" { 0 } else { shards.min(1) }, "successful": if s.state == "SUCCESS" { shards } else { shards.saturating_sub(1) }},
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

impl Resolve {
    /// From the request's query, with the API's own default for `expand_wildcards`.
    pub fn from_query(
        query: &std::collections::HashMap<String, String>,
        default_closed: bool,
    ) -> Resolve {
        let ignore_unavailable = query
            .get("ignore_unavailable")
            .is_some_and(|v| v == "true" || v.is_empty());
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
    Snapshot {
        name: name.into(),
        state: state.into(),
        indices: indices.iter().map(|(n, d)| (n.to_string(), *d)).collect(),
        start_millis,
        end_millis: start_millis + 60_000,
        aliases: BTreeMap::new(),
    }
}

pub fn rfc3339(millis: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .expect("valid time");
    t.format(&time::format_description::well_known::Rfc3339)
        .expect("formats")
}
