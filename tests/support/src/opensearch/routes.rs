//! The HTTP side of the emulator.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use base64::Engine;
use serde_json::{Value, json};

use super::errors::{self, error};
use super::state::{Cluster, Flavour, Index, Resolve, wildcard};

type Shared = Arc<Mutex<Cluster>>;
type Params = Query<HashMap<String, String>>;

pub fn router(cluster: Shared) -> Router {
    Router::new()
        .route("/", get(info))
        .route("/_snapshot", get(repositories))
        .route("/_snapshot/", get(repositories))
        .route("/_snapshot/{repository}", get(repository).put(register))
        .route(
            "/_snapshot/{repository}/{snapshot}",
            get(snapshots).put(create_snapshot).post(create_snapshot),
        )
        .route("/_snapshot/{repository}/{snapshot}/_restore", post(restore))
        .route("/_cat/indices", get(cat_indices))
        .route("/_cat/indices/{index}", get(cat_indices_of))
        .route("/_cat/snapshots/{repository}", get(cat_snapshots))
        .route("/_cat/recovery", get(cat_recovery))
        .route("/_recovery", get(all_recovery))
        .route(
            "/{index}",
            put(create_index).delete(delete_index).get(get_index),
        )
        .route("/{index}/_recovery", get(recovery))
        .route("/{index}/_close", post(close_index))
        .route("/{index}/_open", post(open_index))
        .route("/{index}/_count", get(count))
        .layer(middleware::from_fn_with_state(cluster.clone(), basic_auth))
        .layer(middleware::from_fn(line_limit))
        .with_state(cluster)
}

/// OpenSearch (Netty) refuses a request line longer than `http.max_initial_line_length`, 4 KB by
/// default, before it looks at anything else.
async fn line_limit(request: Request, next: Next) -> Response {
    let target = request
        .uri()
        .path_and_query()
        .map_or(0, |p| p.as_str().len());
    let line = request.method().as_str().len() + 1 + target + " HTTP/1.1".len();
    if line > 4096 {
        return errors::error(
            axum::http::StatusCode::BAD_REQUEST,
            "too_long_frame_exception",
            "An HTTP line is larger than 4096 bytes.",
            serde_json::json!({}),
        );
    }
    next.run(request).await
}

async fn basic_auth(State(cluster): State<Shared>, request: Request, next: Next) -> Response {
    let expected: Vec<String> = {
        let c = cluster.lock().unwrap();
        std::iter::once((&c.username, &c.password))
            .chain(c.users.iter())
            .map(|(u, p)| {
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
                )
            })
            .collect()
    };
    let given = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !expected.iter().any(|e| e == given) {
        return errors::unauthorized();
    }
    next.run(request).await
}

pub(super) fn json_reply(value: Value) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/json; charset=UTF-8",
        )],
        value.to_string(),
    )
        .into_response()
}

/// A JSON request body; an empty one reads as `{}`.
fn parse_body(body: &[u8]) -> Result<Value, Box<Response>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|e| {
        Box::new(error(
            StatusCode::BAD_REQUEST,
            "parse_exception",
            &format!("request body is not JSON: {e}"),
            json!({}),
        ))
    })
}

async fn info(State(cluster): State<Shared>) -> Response {
    let flavour = cluster.lock().unwrap().flavour;
    let (number, _) = flavour.version();
    json_reply(match flavour {
        Flavour::Elasticsearch7 => {
            json!({"name": "emulator", "cluster_name": "elasticsearch", "version": {"number": number, "build_flavor": "oss", "lucene_version": "8.7.0"}, "tagline": "You Know, for Search"})
        }
        _ => {
            json!({"name": "emulator", "cluster_name": "opensearch-cluster", "version": {"distribution": "opensearch", "number": number}, "tagline": "The OpenSearch Project: https://opensearch.org/"})
        }
    })
}

async fn repositories(State(cluster): State<Shared>) -> Response {
    let c = cluster.lock().unwrap();
    json_reply(Value::Object(
        c.repositories
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    ))
}

async fn repository(State(cluster): State<Shared>, Path(name): Path<String>) -> Response {
    let c = cluster.lock().unwrap();
    match c.repositories.get(&name) {
        Some(repo) => json_reply(json!({ name: repo })),
        None => errors::repository_missing(&name),
    }
}

async fn register(
    State(cluster): State<Shared>,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(reply) => return *reply,
    };
    let Some(kind) = body.get("type").and_then(Value::as_str) else {
        return error(
            StatusCode::BAD_REQUEST,
            "repository_exception",
            &format!("[{name}] repository type is missing"),
            json!({}),
        );
    };
    let mut c = cluster.lock().unwrap();
    c.repositories.insert(
        name.clone(),
        json!({"type": kind, "settings": body.get("settings").cloned().unwrap_or(json!({}))}),
    );
    c.snapshots.entry(name.clone()).or_default();
    c.attach_bucket(&name);
    json_reply(json!({"acknowledged": true}))
}

async fn snapshots(
    State(cluster): State<Shared>,
    Path((repository, snapshot)): Path<(String, String)>,
) -> Response {
    let c = cluster.lock().unwrap();
    let Some(list) = c.snapshots.get(&repository) else {
        return errors::repository_missing(&repository);
    };
    let chosen: Vec<Value> = list
        .iter()
        .filter(|s| snapshot == "_all" || snapshot == "*" || s.name == snapshot)
        .map(|s| c.snapshot_json(&repository, s))
        .collect();
    if chosen.is_empty() && snapshot != "_all" && snapshot != "*" {
        return errors::snapshot_missing(&repository, &snapshot);
    }
    if c.flavour == Flavour::Elasticsearch7 {
        return json_reply(json!({"responses": [{"repository": repository, "snapshots": chosen}]}));
    }
    json_reply(json!({"snapshots": chosen}))
}

async fn restore(
    State(cluster): State<Shared>,
    Path((repository, snapshot)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(reply) => return *reply,
    };
    let mut c = cluster.lock().unwrap();
    let Some(list) = c.snapshots.get(&repository) else {
        return errors::repository_missing(&repository);
    };
    let Some(snap) = list.iter().find(|s| s.name == snapshot).cloned() else {
        return errors::snapshot_missing(&repository, &snapshot);
    };
    if snap.state != "SUCCESS" && snap.state != "PARTIAL" {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "snapshot_restore_exception",
            &format!(
                "[{repository}:{snapshot}/uuid-{snapshot}] unsupported snapshot state [{}]",
                snap.state
            ),
            json!({}),
        );
    }
    let patterns: Vec<String> = match body.get("indices") {
        Some(Value::String(s)) => s.split(',').map(|p| p.trim().to_string()).collect(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => vec!["*".into()],
    };
    let ignore_unavailable = body
        .get("ignore_unavailable")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut chosen = Vec::new();
    for name in snap.indices.keys() {
        let mut selected = false;
        for p in &patterns {
            match p.strip_prefix('-') {
                Some(x) if wildcard(x, name) => selected = false,
                None if wildcard(p, name) => selected = true,
                _ => {}
            }
        }
        if selected {
            chosen.push(name.clone());
        }
    }
    for p in patterns
        .iter()
        .filter(|p| !p.contains('*') && !p.starts_with('-'))
    {
        if !ignore_unavailable && !snap.indices.contains_key(p) {
            return error(
                StatusCode::NOT_FOUND,
                "index_not_found_exception",
                &format!("no such index [{p}]"),
                json!({"index": p}),
            );
        }
    }
    let rename = match (
        body.get("rename_pattern").and_then(Value::as_str),
        body.get("rename_replacement").and_then(Value::as_str),
    ) {
        (Some(p), Some(r)) => Some((
            regex::Regex::new(p).expect("a valid rename pattern"),
            regex::Regex::new(r"\$(\d+)")
                .unwrap()
                .replace_all(r, "$${$1}")
                .into_owned(),
        )),
        _ => None,
    };
    let targets: Vec<(String, String)> = chosen
        .into_iter()
        .map(|source| {
            let target = match &rename {
                Some((re, rep)) => re.replace_all(&source, rep.as_str()).into_owned(),
                None => source.clone(),
            };
            (source, target)
        })
        .collect();
    for (_, target) in &targets {
        if c.indices.get(target).is_some_and(|i| i.open) {
            return errors::open_index_conflict(&repository, &snapshot, target);
        }
    }
    let include_aliases = body
        .get("include_aliases")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let polls = c.recovery_polls;
    for (source, target) in &targets {
        let docs = snap.indices[source];
        let aliases = if include_aliases {
            snap.aliases.get(source).cloned().unwrap_or_default()
        } else {
            Default::default()
        };
        c.indices.insert(
            target.clone(),
            Index {
                open: true,
                docs,
                shards: 1,
                restored_from: Some(format!("{repository}/{snapshot}")),
                recovery_polls_left: polls,
                recovery_polls_total: polls,
                aliases,
            },
        );
    }
    c.restores.push(body);
    json_reply(json!({"accepted": true}))
}

fn shard_recovery(name: &str, index: &Index) -> Value {
    let done = index.recovery_polls_left == 0;
    let total = index.docs * 1000;
    let recovered = if index.recovery_polls_total == 0 {
        total
    } else {
        total * u64::from(index.recovery_polls_total - index.recovery_polls_left)
            / u64::from(index.recovery_polls_total)
    };
    let (kind, source) = match &index.restored_from {
        Some(from) => {
            let (repository, snapshot) = from.split_once('/').unwrap_or((from, ""));
            (
                "SNAPSHOT",
                json!({"repository": repository, "snapshot": snapshot, "version": "2.11.0", "index": name}),
            )
        }
        None => ("EMPTY_STORE", json!({})),
    };
    json!({
        "id": 0, "type": kind, "stage": if done { "DONE" } else { "INDEX" }, "primary": true, "source": source,
        "index": {"size": {"total_in_bytes": total, "recovered_in_bytes": recovered, "percent": format!("{:.1}%", if total == 0 { 100.0 } else { recovered as f64 * 100.0 / total as f64 })}},
    })
}

/// Each read of an index's recovery moves a restore one step on.
fn advance(index: &mut Index) {
    index.recovery_polls_left = index.recovery_polls_left.saturating_sub(1);
}

async fn recovery(State(cluster): State<Shared>, Path(names): Path<String>) -> Response {
    let mut c = cluster.lock().unwrap();
    let mut out = serde_json::Map::new();
    for name in names.split(',') {
        let Some(index) = c.indices.get_mut(name) else {
            return errors::index_not_found(name);
        };
        out.insert(
            name.to_string(),
            json!({"shards": [shard_recovery(name, index)]}),
        );
        advance(index);
    }
    json_reply(Value::Object(out))
}

async fn all_recovery(State(cluster): State<Shared>) -> Response {
    let mut c = cluster.lock().unwrap();
    let mut out = serde_json::Map::new();
    for (name, index) in c.indices.iter_mut() {
        out.insert(
            name.clone(),
            json!({"shards": [shard_recovery(name, index)]}),
        );
        advance(index);
    }
    json_reply(Value::Object(out))
}

async fn cat_recovery(State(cluster): State<Shared>, Query(params): Params) -> Response {
    let active_only = params
        .get("active_only")
        .is_some_and(|v| v == "true" || v.is_empty());
    let mut c = cluster.lock().unwrap();
    let mut rows = Vec::new();
    for (name, index) in c.indices.iter_mut() {
        let r = shard_recovery(name, index);
        advance(index);
        if active_only && r["stage"] == "DONE" {
            continue;
        }
        rows.push(json!({
            "index": name, "shard": "0", "type": r["type"].as_str().unwrap_or("").to_lowercase(), "stage": r["stage"].as_str().unwrap_or("").to_lowercase(),
            "repository": r["source"]["repository"], "snapshot": r["source"]["snapshot"], "bytes_percent": r["index"]["size"]["percent"],
        }));
    }
    json_reply(Value::Array(rows))
}

async fn cat_indices(State(cluster): State<Shared>, Query(params): Params) -> Response {
    cat_indices_reply(&cluster, "*", &params)
}

async fn cat_indices_of(
    State(cluster): State<Shared>,
    Path(index): Path<String>,
    Query(params): Params,
) -> Response {
    cat_indices_reply(&cluster, &index, &params)
}

/// `_cat/indices[/<expression>]`: open and closed indices by default; `h` picks the columns.
fn cat_indices_reply(
    cluster: &Shared,
    expression: &str,
    params: &HashMap<String, String>,
) -> Response {
    let c = cluster.lock().unwrap();
    let names = match c.resolve(expression, Resolve::from_query(params, true)) {
        Ok(names) => names,
        Err(missing) => return errors::index_not_found(&missing),
    };
    let columns: Option<Vec<&str>> = params.get("h").map(|h| h.split(',').collect());
    let rows: Vec<Value> = names
        .iter()
        .map(|name| {
            let i = &c.indices[name];
            let row = json!({"health": if i.recovery_polls_left > 0 { "red" } else { "green" }, "status": if i.open { "open" } else { "close" }, "index": name, "uuid": format!("uuid-{name}"), "pri": "1", "rep": "0", "docs.count": if i.open { json!(i.docs.to_string()) } else { Value::Null }});
            match &columns {
                Some(columns) => Value::Object(
                    columns
                        .iter()
                        .map(|k| (k.to_string(), row.get(*k).cloned().unwrap_or(Value::Null)))
                        .collect(),
                ),
                None => row,
            }
        })
        .collect();
    json_reply(Value::Array(rows))
}

async fn cat_snapshots(State(cluster): State<Shared>, Path(repository): Path<String>) -> Response {
    let c = cluster.lock().unwrap();
    let Some(list) = c.snapshots.get(&repository) else {
        return errors::repository_missing(&repository);
    };
    let rows: Vec<Value> = list
        .iter()
        .map(|s| {
            let j = c.snapshot_json(&repository, s);
            json!({
                "id": s.name, "status": s.state, "start_epoch": (s.start_millis / 1000).to_string(), "end_epoch": (s.end_millis / 1000).to_string(),
                "duration": "1m", "indices": s.indices.len().to_string(), "successful_shards": j["shards"]["successful"].to_string(),
                "failed_shards": j["shards"]["failed"].to_string(), "total_shards": j["shards"]["total"].to_string(),
            })
        })
        .collect();
    json_reply(Value::Array(rows))
}

async fn create_index(State(cluster): State<Shared>, Path(name): Path<String>) -> Response {
    let mut c = cluster.lock().unwrap();
    if c.indices.contains_key(&name) {
        return error(
            StatusCode::BAD_REQUEST,
            "resource_already_exists_exception",
            &format!("index [{name}/uuid-{name}] already exists"),
            json!({"index": name}),
        );
    }
    c.add_index(&name, 0);
    json_reply(json!({"acknowledged": true, "shards_acknowledged": true, "index": name}))
}

async fn get_index(
    State(cluster): State<Shared>,
    Path(expression): Path<String>,
    Query(params): Params,
) -> Response {
    let c = cluster.lock().unwrap();
    let names = match c.resolve(&expression, Resolve::from_query(&params, false)) {
        Ok(names) => names,
        Err(missing) => return errors::index_not_found(&missing),
    };
    let out: serde_json::Map<String, Value> = names
        .iter()
        .map(|name| {
            let aliases: serde_json::Map<String, Value> = c.indices[name]
                .aliases
                .iter()
                .map(|a| (a.clone(), json!({})))
                .collect();
            (
                name.clone(),
                json!({"aliases": aliases, "mappings": {}, "settings": {"index": {"number_of_shards": "1", "provided_name": name}}}),
            )
        })
        .collect();
    json_reply(Value::Object(out))
}

async fn delete_index(
    State(cluster): State<Shared>,
    Path(expression): Path<String>,
    Query(params): Params,
) -> Response {
    let mut c = cluster.lock().unwrap();
    let aliases = c.alias_map();
    if let Some(alias) = expression
        .split(',')
        .find(|n| aliases.contains_key(*n) && !c.indices.contains_key(*n))
    {
        return error(
            StatusCode::BAD_REQUEST,
            "illegal_argument_exception",
            &format!(
                "The provided expression [{alias}] matches an alias, specify the corresponding concrete indices instead."
            ),
            json!({}),
        );
    }
    let names = match c.resolve(&expression, Resolve::from_query(&params, true)) {
        Ok(names) => names,
        Err(missing) => return errors::index_not_found(&missing),
    };
    for n in names {
        c.indices.remove(&n);
    }
    json_reply(json!({"acknowledged": true}))
}

async fn close_index(
    State(cluster): State<Shared>,
    Path(expression): Path<String>,
    Query(params): Params,
) -> Response {
    let mut c = cluster.lock().unwrap();
    let names = match c.resolve(&expression, Resolve::from_query(&params, false)) {
        Ok(names) => names,
        Err(missing) => return errors::index_not_found(&missing),
    };
    let mut closed = serde_json::Map::new();
    for name in names {
        if let Some(index) = c.indices.get_mut(&name) {
            index.open = false;
        }
        closed.insert(name, json!({"closed": true}));
    }
    json_reply(json!({"acknowledged": true, "shards_acknowledged": true, "indices": closed}))
}

async fn open_index(State(cluster): State<Shared>, Path(name): Path<String>) -> Response {
    let mut c = cluster.lock().unwrap();
    let Some(index) = c.indices.get_mut(&name) else {
        return errors::index_not_found(&name);
    };
    index.open = true;
    json_reply(json!({"acknowledged": true, "shards_acknowledged": true}))
}

async fn count(State(cluster): State<Shared>, Path(name): Path<String>) -> Response {
    let c = cluster.lock().unwrap();
    let Some(index) = c.indices.get(&name) else {
        return errors::index_not_found(&name);
    };
    if !index.open {
        return error(
            StatusCode::BAD_REQUEST,
            "index_closed_exception",
            "closed",
            json!({"index": name}),
        );
    }
    if index.recovery_polls_left > 0 {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "search_phase_execution_exception",
            "all shards failed",
            json!({"phase": "query"}),
        );
    }
    json_reply(
        json!({"count": index.docs, "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0}}),
    )
}

/// `PUT|POST _snapshot/<repository>/<snapshot>`: a snapshot of the selected indices as they are
/// now. It completes at once; `wait_for_completion=true` replies with the snapshot, otherwise
/// `{"accepted": true}`.
async fn create_snapshot(
    State(cluster): State<Shared>,
    Path((repository, snapshot)): Path<(String, String)>,
    Query(params): Params,
    body: axum::body::Bytes,
) -> Response {
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(reply) => return *reply,
    };
    let mut c = cluster.lock().unwrap();
    if !c.repositories.contains_key(&repository) {
        return errors::repository_missing(&repository);
    }
    if c.repository_readonly(&repository) {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "repository_exception",
            &format!("[{repository}] cannot create snapshot in a readonly repository"),
            json!({}),
        );
    }
    if c.snapshots
        .get(&repository)
        .is_some_and(|list| list.iter().any(|s| s.name == snapshot))
    {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_snapshot_name_exception",
            &format!(
                "[{repository}:{snapshot}] Invalid snapshot name [{snapshot}], snapshot with the same name already exists"
            ),
            json!({}),
        );
    }
    let expression = match body.get("indices") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(","),
        _ => "*".into(),
    };
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
    let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    let made = super::state::Snapshot {
        name: snapshot.clone(),
        state: "SUCCESS".into(),
        indices: names
            .iter()
            .map(|n| (n.clone(), c.indices[n].docs))
            .collect(),
        start_millis: now as i64,
        end_millis: now as i64 + 1_000,
        aliases: names
            .iter()
            .filter(|n| !c.indices[*n].aliases.is_empty())
            .map(|n| (n.clone(), c.indices[n].aliases.clone()))
            .collect(),
    };
    let mut request = body.clone();
    if let Value::Object(map) = &mut request {
        map.insert("repository".into(), json!(repository));
        map.insert("snapshot".into(), json!(snapshot));
    }
    c.snapshot_requests.push(request);
    if let Some(bucket) = c.repository_bucket(&repository) {
        c.buckets.entry(bucket).or_default().push(made.clone());
    }
    let reply = c.snapshot_json(&repository, &made);
    c.snapshots.entry(repository).or_default().push(made);
    if params
        .get("wait_for_completion")
        .is_some_and(|v| v == "true" || v.is_empty())
    {
        json_reply(json!({ "snapshot": reply }))
    } else {
        json_reply(json!({"accepted": true}))
    }
}
