//! The emulated cluster: what exists, and how a restore progresses.

use std::collections::BTreeMap;

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
        }
    }
}

pub struct Cluster {
    pub username: String,
    pub password: String,
    pub repositories: BTreeMap<String, Value>,
    pub snapshots: BTreeMap<String, Vec<Snapshot>>,
    pub indices: BTreeMap<String, Index>,
    /// How many `_recovery` polls a restored shard takes to reach DONE.
    pub recovery_polls: u32,
    /// Bodies of the restore requests, in order.
    pub restores: Vec<Value>,
}

impl Cluster {
    pub fn new(username: &str, password: &str) -> Cluster {
        Cluster {
            username: username.into(),
            password: password.into(),
            repositories: BTreeMap::new(),
            snapshots: BTreeMap::new(),
            indices: BTreeMap::new(),
            recovery_polls: 3,
            restores: Vec::new(),
        }
    }

    /// Register an s3 repository on `bucket`.
    pub fn add_repository(&mut self, name: &str, bucket: &str) {
        self.repositories.insert(
            name.into(),
            json!({"type": "s3", "settings": {"bucket": bucket, "client": "default"}}),
        );
        self.snapshots.entry(name.into()).or_default();
    }

    pub fn add_snapshot(
        &mut self,
        repository: &str,
        name: &str,
        state: &str,
        indices: &[(&str, u64)],
        start_millis: i64,
    ) {
        let snapshot = Snapshot {
            name: name.into(),
            state: state.into(),
            indices: indices.iter().map(|(n, d)| (n.to_string(), *d)).collect(),
            start_millis,
            end_millis: start_millis + 60_000,
        };
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
        json!({
            "snapshot": s.name,
            "uuid": format!("uuid-{}", s.name),
            "version_id": 136317827,
            "version": "2.11.0",
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

pub fn rfc3339(millis: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .expect("valid time");
    t.format(&time::format_description::well_known::Rfc3339)
        .expect("formats")
}
