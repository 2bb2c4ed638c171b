//! A repository's contents as OpenSearch lays them out in its bucket or location:
//! `index.latest` (the newest generation, 8 bytes big-endian), `index-<N>` (the repository
//! data: snapshots with their uuid and state code, and the indices each holds) and one
//! `snap-<uuid>.dat` per snapshot. OpenSearch writes `snap-*.dat` in its own binary format; the
//! emulator writes its own JSON there (what it needs to restore: documents and aliases).

use serde_json::{Value, json};

use super::blobstore::{ObjectStore, StoreError};
use super::state::Snapshot;

/// Where in a store a repository lives.
pub struct Container<'a> {
    pub bucket: &'a str,
    pub base_path: &'a str,
}

impl Container<'_> {
    fn key(&self, name: &str) -> String {
        let base = self.base_path.trim_matches('/');
        if base.is_empty() {
            name.to_string()
        } else {
            format!("{base}/{name}")
        }
    }
}

/// `SnapshotState`'s byte codes in the repository data.
fn state_code(state: &str) -> u8 {
    match state {
        "IN_PROGRESS" => 0,
        "SUCCESS" => 1,
        "FAILED" => 2,
        "PARTIAL" => 3,
        _ => 4,
    }
}

fn generation(store: &ObjectStore, at: &Container) -> Result<Option<i64>, StoreError> {
    Ok(store
        .get(at.bucket, &at.key("index.latest"))?
        .and_then(|b| {
            let bytes: [u8; 8] = b.get(..8)?.try_into().ok()?;
            Some(i64::from_be_bytes(bytes))
        }))
}

/// The snapshots a repository holds; an empty bucket is an empty repository.
pub fn load(store: &ObjectStore, at: &Container) -> Result<Vec<Snapshot>, StoreError> {
    let Some(generation) = generation(store, at)? else {
        return Ok(Vec::new());
    };
    let Some(data) = store.get(at.bucket, &at.key(&format!("index-{generation}")))? else {
        return Ok(Vec::new());
    };
    let data: Value = serde_json::from_slice(&data).unwrap_or(Value::Null);
    let mut snapshots = Vec::new();
    for entry in data["snapshots"].as_array().into_iter().flatten() {
        let uuid = entry["uuid"].as_str().unwrap_or_default();
        if let Some(blob) = store.get(at.bucket, &at.key(&format!("snap-{uuid}.dat")))?
            && let Ok(snapshot) = serde_json::from_slice::<Snapshot>(&blob)
        {
            snapshots.push(snapshot);
        }
    }
    Ok(snapshots)
}

/// Writes the repository's new generation holding exactly `snapshots`.
pub fn save(
    store: &mut ObjectStore,
    at: &Container,
    snapshots: &[Snapshot],
) -> Result<(), StoreError> {
    let next = generation(store, at)?.map_or(0, |g| g + 1);
    let mut indices = serde_json::Map::new();
    for s in snapshots {
        let blob = serde_json::to_vec(s).expect("a snapshot serializes");
        store.put(at.bucket, &at.key(&format!("snap-{}.dat", s.uuid())), &blob)?;
        for index in s.indices.keys() {
            let entry = indices
                .entry(index.clone())
                .or_insert_with(|| json!({"id": format!("id-{index}"), "snapshots": []}));
            if let Some(list) = entry["snapshots"].as_array_mut() {
                list.push(json!(s.uuid()));
            }
        }
    }
    let data = json!({
        "min_version": "2.11.0",
        "snapshots": snapshots.iter().map(|s| json!({"name": s.name, "uuid": s.uuid(), "state": state_code(&s.state), "version": "2.11.0"})).collect::<Vec<_>>(),
        "indices": indices,
    });
    store.put(
        at.bucket,
        &at.key(&format!("index-{next}")),
        data.to_string().as_bytes(),
    )?;
    store.put(at.bucket, &at.key("index.latest"), &next.to_be_bytes())
}
