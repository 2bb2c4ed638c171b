//! `_snapshot`: repositories (register, read, verify, delete) and snapshots (create, read,
//! status, delete).

use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde_json::{Value, json};

use super::errors;
use super::names;
use super::routes::{Params, Shared, json_reply, parse_body};
use super::state::{Cluster, Flavour, Resolve, Snapshot, flag, name_list, now_millis, select};

/// Repository types a stock OpenSearch 2 distribution with the repository-s3 plugin knows.
const REPOSITORY_TYPES: &[&str] = &["fs", "url", "s3"];

pub async fn repositories(State(cluster): State<Shared>) -> Response {
    let c = cluster.lock().unwrap();
    json_reply(Value::Object(
        c.repositories
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    ))
}

/// `GET _snapshot/<names>`: a comma list, with wildcards and `_all`.
pub async fn repository(State(cluster): State<Shared>, Path(names): Path<String>) -> Response {
    let c = cluster.lock().unwrap();
    let patterns = name_list(Some(&json!(names)), "_all");
    match select(c.repositories.keys(), &patterns, false) {
        Ok(chosen) => json_reply(Value::Object(
            chosen
                .into_iter()
                .map(|n| {
                    let repo = c.repositories[&n].clone();
                    (n, repo)
                })
                .collect(),
        )),
        Err(missing) => errors::repository_missing(&missing),
    }
}

/// Settings as OpenSearch keeps them: every value a string.
fn stringified(settings: Option<&Value>) -> Value {
    Value::Object(
        settings
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(k, v)| {
                let text = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), Value::String(text))
            })
            .collect(),
    )
}

/// `PUT|POST _snapshot/<name>`: checks the name, the type and the type's settings, then reads
/// the storage (as `verify` does at registration, read-only or not) before keeping it.
pub async fn register(
    State(cluster): State<Shared>,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(reply) => return *reply,
    };
    let Some(kind) = body.get("type").and_then(Value::as_str) else {
        return errors::validation_failed(&["type is missing"]);
    };
    if let Some(problem) = names::repository_name_problem(&name) {
        return errors::repository_exception(&name, problem.as_str());
    }
    if !REPOSITORY_TYPES.contains(&kind) {
        return errors::repository_exception(
            &name,
            &format!("repository type [{kind}] does not exist"),
        );
    }
    let settings = stringified(body.get("settings"));
    let mut c = cluster.lock().unwrap();
    if let Some(problem) = settings_problem(&c, &name, kind, &settings) {
        return problem;
    }
    let previous = c
        .repositories
        .insert(name.clone(), json!({"type": kind, "settings": settings}));
    ensure_location(&mut c, &name);
    if let Err(cause) = c.load_repository(&name) {
        match previous {
            Some(p) => c.repositories.insert(name.clone(), p),
            None => c.repositories.remove(&name),
        };
        let base = c_setting(&settings, "base_path");
        return errors::repository_not_accessible(&name, &base, &cause);
    }
    json_reply(json!({"acknowledged": true}))
}

fn c_setting(settings: &Value, key: &str) -> String {
    settings
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// What the repository type refuses in its settings (`FsRepository`, `S3Repository`).
fn settings_problem(c: &Cluster, name: &str, kind: &str, settings: &Value) -> Option<Response> {
    match kind {
        "fs" => {
            let location = c_setting(settings, "location");
            if location.is_empty() {
                return Some(errors::repository_exception(name, "missing location"));
            }
            if c.path_repo.is_empty() {
                return Some(errors::repository_exception(
                    name,
                    &format!(
                        "location [{location}] doesn't match any of the locations specified by path.repo because this setting is empty"
                    ),
                ));
            }
            if !c.path_repo.iter().any(|root| {
                location == *root
                    || location.starts_with(&format!("{}/", root.trim_end_matches('/')))
            }) {
                return Some(errors::repository_exception(
                    name,
                    &format!(
                        "location [{location}] doesn't match any of the locations specified by path.repo"
                    ),
                ));
            }
            None
        }
        "s3" if c_setting(settings, "bucket").is_empty() => Some(errors::repository_exception(
            name,
            "No bucket defined for s3 repository",
        )),
        "url" if c_setting(settings, "url").is_empty() => {
            Some(errors::repository_exception(name, "missing url"))
        }
        _ => None,
    }
}

/// The node's filesystem has every `fs` location the moment it is registered (OpenSearch
/// creates the directory).
fn ensure_location(c: &mut Cluster, repository: &str) {
    if c.repositories
        .get(repository)
        .is_some_and(|r| r["type"] == "fs")
        && let Some(location) = c.repository_setting(repository, "location")
    {
        let _ = c.filesystem.create_bucket(&location);
    }
}

pub async fn delete_repository(
    State(cluster): State<Shared>,
    Path(names): Path<String>,
) -> Response {
    let mut c = cluster.lock().unwrap();
    let patterns = name_list(Some(&json!(names)), "_all");
    match select(c.repositories.keys(), &patterns, false) {
        Ok(chosen) if !chosen.is_empty() => {
            for n in chosen {
                c.repositories.remove(&n);
                c.snapshots.remove(&n);
            }
            json_reply(json!({"acknowledged": true}))
        }
        Ok(_) => errors::repository_missing(&names),
        Err(missing) => errors::repository_missing(&missing),
    }
}

/// `POST _snapshot/<name>/_verify`: the nodes that could reach the storage.
pub async fn verify(State(cluster): State<Shared>, Path(name): Path<String>) -> Response {
    let mut c = cluster.lock().unwrap();
    if !c.repositories.contains_key(&name) {
        return errors::repository_missing(&name);
    }
    if let Err(cause) = c.load_repository(&name) {
        let base = c.repository_setting(&name, "base_path").unwrap_or_default();
        return errors::repository_not_accessible(&name, &base, &cause);
    }
    json_reply(json!({"nodes": {"emulator-node": {"name": "emulator"}}}))
}

/// `PUT _snapshot/<repo>/_verify` is a snapshot named `_verify`, which the name rules refuse.
pub async fn create_snapshot_named_verify(
    state: State<Shared>,
    Path(repository): Path<String>,
    params: Params,
    body: axum::body::Bytes,
) -> Response {
    create_snapshot(state, Path((repository, "_verify".into())), params, body).await
}

/// `GET _snapshot/<repo>/_verify` reads a snapshot named `_verify`.
pub async fn get_snapshot_named_verify(
    state: State<Shared>,
    Path(repository): Path<String>,
    params: Params,
) -> Response {
    snapshots(state, Path((repository, "_verify".into())), params).await
}

/// The snapshots a `<names>` path segment chooses in a repository.
fn chosen_snapshots<'a>(
    c: &'a Cluster,
    repository: &str,
    names: &str,
    ignore_unavailable: bool,
) -> Result<Vec<&'a Snapshot>, Box<Response>> {
    let Some(list) = c.snapshots.get(repository) else {
        return Err(Box::new(errors::repository_missing(repository)));
    };
    let patterns = name_list(Some(&json!(names)), "_all");
    let all_names: Vec<String> = list.iter().map(|s| s.name.clone()).collect();
    let chosen = select(all_names.iter(), &patterns, ignore_unavailable)
        .map_err(|missing| Box::new(errors::snapshot_missing(repository, &missing)))?;
    let mut out: Vec<&Snapshot> = list.iter().filter(|s| chosen.contains(&s.name)).collect();
    out.sort_by_key(|s| (s.start_millis, s.name.clone()));
    Ok(out)
}

/// `GET _snapshot/<repo>/<names>`: comma lists, wildcards, `_all`, `ignore_unavailable`.
pub async fn snapshots(
    State(cluster): State<Shared>,
    Path((repository, names)): Path<(String, String)>,
    Query(params): Params,
) -> Response {
    let c = cluster.lock().unwrap();
    let chosen =
        match chosen_snapshots(&c, &repository, &names, flag(&params, "ignore_unavailable")) {
            Ok(chosen) => chosen,
            Err(reply) => return *reply,
        };
    let human = flag(&params, "human");
    let listed: Vec<Value> = chosen
        .into_iter()
        .map(|s| {
            let mut j = c.snapshot_json(&repository, s);
            if human {
                j["duration"] = json!(format!("{}s", (s.end_millis - s.start_millis) / 1000));
            }
            j
        })
        .collect();
    if c.flavour == Flavour::Elasticsearch7 {
        return json_reply(json!({"responses": [{"repository": repository, "snapshots": listed}]}));
    }
    json_reply(json!({"snapshots": listed}))
}

/// `DELETE _snapshot/<repo>/<names>`.
pub async fn delete_snapshots(
    State(cluster): State<Shared>,
    Path((repository, names)): Path<(String, String)>,
) -> Response {
    let mut c = cluster.lock().unwrap();
    let chosen: Vec<String> = match chosen_snapshots(&c, &repository, &names, false) {
        Ok(chosen) => chosen.into_iter().map(|s| s.name.clone()).collect(),
        Err(reply) => return *reply,
    };
    if chosen.is_empty() && !names.contains('*') && names != "_all" {
        return errors::snapshot_missing(&repository, &names);
    }
    if c.repository_readonly(&repository) {
        return errors::repository_exception(
            &repository,
            "cannot delete snapshot from a readonly repository",
        );
    }
    if let Some(list) = c.snapshots.get_mut(&repository) {
        list.retain(|s| !chosen.contains(&s.name));
    }
    if let Err(cause) = c.persist(&repository) {
        return errors::repository_not_accessible(&repository, "", &cause);
    }
    json_reply(json!({"acknowledged": true}))
}

/// `GET _snapshot/_status`: the snapshots running now. The emulator's complete at once.
pub async fn status_running() -> Response {
    json_reply(json!({"snapshots": []}))
}

pub async fn status_running_in(
    State(cluster): State<Shared>,
    Path(repository): Path<String>,
) -> Response {
    if !cluster
        .lock()
        .unwrap()
        .repositories
        .contains_key(&repository)
    {
        return errors::repository_missing(&repository);
    }
    json_reply(json!({"snapshots": []}))
}

/// `GET _snapshot/<repo>/<names>/_status`: per snapshot, index and shard.
pub async fn status(
    State(cluster): State<Shared>,
    Path((repository, names)): Path<(String, String)>,
    Query(params): Params,
) -> Response {
    let c = cluster.lock().unwrap();
    let chosen =
        match chosen_snapshots(&c, &repository, &names, flag(&params, "ignore_unavailable")) {
            Ok(chosen) => chosen,
            Err(reply) => return *reply,
        };
    let listed: Vec<Value> = chosen
        .into_iter()
        .map(|s| {
            let stats = |docs: u64, start: i64| {
                let files = json!({"file_count": if docs > 0 { 3 } else { 1 }, "size_in_bytes": docs * 1000});
                json!({"incremental": files, "processed": files, "total": files, "start_time_in_millis": start, "time_in_millis": s.end_millis - s.start_millis})
            };
            let shard_counts = |total: usize, failed: usize| json!({"initializing": 0, "started": 0, "finalizing": 0, "done": total - failed, "failed": failed, "total": total});
            let indices: serde_json::Map<String, Value> = s
                .indices
                .iter()
                .map(|(name, docs)| {
                    let failed = s.failed.contains(name);
                    let stage = if failed { "FAILURE" } else { "DONE" };
                    (name.clone(), json!({
                        "shards_stats": shard_counts(1, usize::from(failed)),
                        "stats": stats(*docs, s.start_millis),
                        "shards": {"0": {"stage": stage, "stats": stats(*docs, s.start_millis)}},
                    }))
                })
                .collect();
            let total_docs: u64 = s.indices.values().sum();
            json!({
                "snapshot": s.name, "repository": repository, "uuid": s.uuid(), "state": s.state,
                "include_global_state": false,
                "shards_stats": shard_counts(s.indices.len(), s.failed.len()),
                "stats": stats(total_docs, s.start_millis),
                "indices": indices,
            })
        })
        .collect();
    json_reply(json!({"snapshots": listed}))
}

/// `PUT|POST _snapshot/<repository>/<snapshot>`: a snapshot of the selected indices as they are
/// now. It completes at once; `wait_for_completion=true` replies with the snapshot, otherwise
/// `{"accepted": true}`.
pub async fn create_snapshot(
    State(cluster): State<Shared>,
    Path((repository, snapshot)): Path<(String, String)>,
    Query(params): Params,
    body: axum::body::Bytes,
) -> Response {
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(reply) => return *reply,
    };
    if let Some(problem) = names::snapshot_name_problem(&snapshot) {
        return errors::invalid_snapshot_name(&repository, &snapshot, &problem);
    }
    let mut c = cluster.lock().unwrap();
    if !c.repositories.contains_key(&repository) {
        return errors::repository_missing(&repository);
    }
    if c.repository_readonly(&repository) {
        return errors::repository_exception(
            &repository,
            "cannot create snapshot in a readonly repository",
        );
    }
    if c.snapshots
        .get(&repository)
        .is_some_and(|list| list.iter().any(|s| s.name == snapshot))
    {
        return errors::invalid_snapshot_name(
            &repository,
            &snapshot,
            "snapshot with the same name already exists",
        );
    }
    let expression = name_list(body.get("indices"), "*").join(",");
    let options = Resolve {
        ignore_unavailable: body
            .get("ignore_unavailable")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        open: true,
        closed: false,
    };
    let names = match c.resolve(&expression, options) {
        Ok(names) => names,
        Err(missing) => return errors::index_not_found(&missing),
    };
    let now = now_millis();
    let made = Snapshot {
        name: snapshot.clone(),
        state: "SUCCESS".into(),
        indices: names
            .iter()
            .map(|n| (n.clone(), c.indices[n].docs))
            .collect(),
        start_millis: now,
        end_millis: now + 1_000,
        aliases: names
            .iter()
            .filter(|n| !c.indices[*n].aliases.is_empty())
            .map(|n| {
                let index = &c.indices[n];
                let aliases = index
                    .aliases
                    .iter()
                    .map(|a| (a.clone(), index.write_aliases.contains(a)))
                    .collect();
                (n.clone(), aliases)
            })
            .collect(),
        failed: Default::default(),
    };
    let mut request = body.clone();
    if let Value::Object(map) = &mut request {
        map.insert("repository".into(), json!(repository));
        map.insert("snapshot".into(), json!(snapshot));
    }
    c.snapshot_requests.push(request);
    ensure_location(&mut c, &repository);
    let reply = c.snapshot_json(&repository, &made);
    c.snapshots
        .entry(repository.clone())
        .or_default()
        .push(made);
    if let Err(cause) = c.persist(&repository) {
        if let Some(list) = c.snapshots.get_mut(&repository) {
            list.pop();
        }
        return errors::repository_not_accessible(&repository, "", &cause);
    }
    if flag(&params, "wait_for_completion") {
        json_reply(json!({ "snapshot": reply }))
    } else {
        json_reply(json!({"accepted": true}))
    }
}
