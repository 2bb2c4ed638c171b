//! Indices: create, read, delete, close, open, count, aliases, and their shards' recovery.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::errors::{self, error};
use super::names;
use super::routes::{Params, Shared, json_reply, parse_body};
use super::state::{Cluster, Index, Resolve, flag, name_list, rfc3339};

/// One shard's recovery, with every field the specification's `ShardRecovery` requires.
pub fn shard_recovery(name: &str, index: &Index, version: &str, human: bool) -> Value {
    let done = index.recovery_polls_left == 0;
    let total = index.docs * 1000;
    let files_total: u64 = if total == 0 { 0 } else { 3 };
    let part = |n: u64| {
        if index.recovery_polls_total == 0 {
            n
        } else {
            n * u64::from(index.recovery_polls_total - index.recovery_polls_left)
                / u64::from(index.recovery_polls_total)
        }
    };
    let percent = |of: u64, all: u64| {
        format!(
            "{:.1}%",
            if all == 0 {
                100.0
            } else {
                of as f64 * 100.0 / all as f64
            }
        )
    };
    let (kind, source) = match &index.restored_from {
        Some(from) => {
            let (repository, snapshot) = from.split_once('/').unwrap_or((from, ""));
            (
                "SNAPSHOT",
                json!({"repository": repository, "snapshot": snapshot, "version": version, "index": name, "restoreUUID": format!("restore-{name}")}),
            )
        }
        None => ("EMPTY_STORE", json!({})),
    };
    let elapsed = if done { 50 } else { 0 };
    let mut shard = json!({
        "id": 0, "type": kind, "stage": if done { "DONE" } else { "INDEX" }, "primary": true,
        "start_time_in_millis": index.created_millis,
        "total_time_in_millis": elapsed,
        "source": source,
        "target": {"id": "emulator-node", "host": "127.0.0.1", "transport_address": "127.0.0.1:9300", "ip": "127.0.0.1", "name": "emulator"},
        "index": {
            "size": {"total_in_bytes": total, "reused_in_bytes": 0, "recovered_in_bytes": part(total), "percent": percent(part(total), total)},
            "files": {"total": files_total, "reused": 0, "recovered": part(files_total), "percent": percent(part(files_total), files_total)},
            "total_time_in_millis": elapsed, "source_throttle_time_in_millis": 0, "target_throttle_time_in_millis": 0,
        },
        "translog": {"recovered": 0, "total": 0, "percent": "100.0%", "total_on_start": 0, "total_time_in_millis": 0},
        "verify_index": {"check_index_time_in_millis": 0, "total_time_in_millis": 0},
    });
    if done {
        shard["stop_time_in_millis"] = json!(index.created_millis + elapsed);
    }
    if human {
        shard["start_time"] = json!(rfc3339(index.created_millis));
        shard["total_time"] = json!(format!("{elapsed}ms"));
        if done {
            shard["stop_time"] = json!(rfc3339(index.created_millis + elapsed));
        }
    }
    shard
}

/// Each read of an index's recovery moves a restore one step on.
pub fn advance(index: &mut Index) {
    index.recovery_polls_left = index.recovery_polls_left.saturating_sub(1);
}

fn recovery_of(c: &mut Cluster, names: &[String], human: bool) -> Value {
    let version = c.flavour.version().0;
    let mut out = serde_json::Map::new();
    for name in names {
        if let Some(index) = c.indices.get_mut(name) {
            out.insert(
                name.clone(),
                json!({"shards": [shard_recovery(name, index, version, human)]}),
            );
            advance(index);
        }
    }
    Value::Object(out)
}

pub async fn recovery(
    State(cluster): State<Shared>,
    Path(expression): Path<String>,
    Query(params): Params,
) -> Response {
    let mut c = cluster.lock().unwrap();
    let names = match c.resolve(&expression, Resolve::from_query(&params, false)) {
        Ok(names) => names,
        Err(missing) => return errors::index_not_found(&missing),
    };
    json_reply(recovery_of(&mut c, &names, flag(&params, "human")))
}

pub async fn all_recovery(State(cluster): State<Shared>, Query(params): Params) -> Response {
    let mut c = cluster.lock().unwrap();
    let names: Vec<String> = c.indices.keys().cloned().collect();
    json_reply(recovery_of(&mut c, &names, flag(&params, "human")))
}

pub async fn create_index(State(cluster): State<Shared>, Path(name): Path<String>) -> Response {
    if let Some(problem) = names::index_name_problem(&name) {
        return errors::invalid_index_name(&name, &problem);
    }
    let mut c = cluster.lock().unwrap();
    if c.indices.contains_key(&name) {
        return error(
            StatusCode::BAD_REQUEST,
            "resource_already_exists_exception",
            &format!("index [{name}/uuid-{name}] already exists"),
            json!({"index": name}),
        );
    }
    if c.alias_map().contains_key(&name) {
        return errors::invalid_index_name(&name, "already exists as alias");
    }
    c.add_index(&name, 0);
    json_reply(json!({"acknowledged": true, "shards_acknowledged": true, "index": name}))
}

pub async fn get_index(
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
            let index = &c.indices[name];
            (
                name.clone(),
                json!({"aliases": aliases_json(index), "mappings": {}, "settings": {"index": {"number_of_shards": "1", "number_of_replicas": "0", "provided_name": name, "uuid": format!("uuid-{name}")}}}),
            )
        })
        .collect();
    json_reply(Value::Object(out))
}

fn aliases_json(index: &Index) -> Value {
    Value::Object(
        index
            .aliases
            .iter()
            .map(|a| {
                let props = if index.write_aliases.contains(a) {
                    json!({"is_write_index": true})
                } else {
                    json!({})
                };
                (a.clone(), props)
            })
            .collect(),
    )
}

pub async fn delete_index(
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
        return errors::illegal_argument(&format!(
            "The provided expression [{alias}] matches an alias, specify the corresponding concrete indices instead."
        ));
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

pub async fn close_index(
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

pub async fn open_index(State(cluster): State<Shared>, Path(name): Path<String>) -> Response {
    let mut c = cluster.lock().unwrap();
    let Some(index) = c.indices.get_mut(&name) else {
        return errors::index_not_found(&name);
    };
    index.open = true;
    json_reply(json!({"acknowledged": true, "shards_acknowledged": true}))
}

pub async fn count(State(cluster): State<Shared>, Path(name): Path<String>) -> Response {
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

/// `POST _aliases`: `add` (with `is_write_index`), `remove` and `remove_index` actions, applied
/// together or not at all.
pub async fn update_aliases(State(cluster): State<Shared>, body: axum::body::Bytes) -> Response {
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(reply) => return *reply,
    };
    let Some(actions) = body.get("actions").and_then(Value::as_array) else {
        return errors::validation_failed(&["no actions specified"]);
    };
    let mut c = cluster.lock().unwrap();
    let mut next = c.indices.clone();
    for action in actions {
        let Some((verb, spec)) = action.as_object().and_then(|o| o.iter().next()) else {
            return errors::validation_failed(&["no actions specified"]);
        };
        let mut indices = name_list(spec.get("indices"), "");
        indices.extend(name_list(spec.get("index"), ""));
        indices.retain(|i| !i.is_empty());
        let mut aliases = name_list(spec.get("aliases"), "");
        aliases.extend(name_list(spec.get("alias"), ""));
        aliases.retain(|a| !a.is_empty());
        let mut concrete = Vec::new();
        for pattern in &indices {
            match c.resolve(
                pattern,
                Resolve {
                    ignore_unavailable: false,
                    open: true,
                    closed: true,
                },
            ) {
                Ok(names) => concrete.extend(names),
                Err(missing) => return errors::index_not_found(&missing),
            }
        }
        match verb.as_str() {
            "add" => {
                if aliases.is_empty() {
                    return errors::validation_failed(&["[aliases] can't be empty"]);
                }
                let write = spec.get("is_write_index").and_then(Value::as_bool);
                for name in &concrete {
                    let index = next.get_mut(name).expect("resolved");
                    for alias in &aliases {
                        if next_has_index(&c, alias) {
                            return errors::invalid_index_name(
                                alias,
                                "an index or data stream exists with the same name as the alias",
                            );
                        }
                        index.aliases.insert(alias.clone());
                        match write {
                            Some(true) => {
                                index.write_aliases.insert(alias.clone());
                            }
                            _ => {
                                index.write_aliases.remove(alias);
                            }
                        }
                    }
                }
            }
            "remove" => {
                for name in &concrete {
                    let index = next.get_mut(name).expect("resolved");
                    for alias in &aliases {
                        if !index.aliases.remove(alias) {
                            return error(
                                StatusCode::NOT_FOUND,
                                "aliases_not_found_exception",
                                &format!("aliases [{alias}] missing"),
                                json!({"resource.type": "aliases", "resource.id": alias}),
                            );
                        }
                        index.write_aliases.remove(alias);
                    }
                }
            }
            "remove_index" => {
                for name in &concrete {
                    next.remove(name);
                }
            }
            other => {
                return errors::illegal_argument(&format!("[aliases] unknown field [{other}]"));
            }
        }
    }
    let mut writers: std::collections::BTreeMap<&String, Vec<&String>> = Default::default();
    for (name, index) in &next {
        for alias in &index.write_aliases {
            writers.entry(alias).or_default().push(name);
        }
    }
    if let Some((alias, names)) = writers.iter().find(|(_, n)| n.len() > 1) {
        let joined: Vec<&str> = names.iter().map(|n| n.as_str()).collect();
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "illegal_state_exception",
            &format!(
                "alias [{alias}] has more than one write index [{}]",
                joined.join(",")
            ),
            json!({}),
        );
    }
    c.indices = next;
    json_reply(json!({"acknowledged": true}))
}

fn next_has_index(c: &Cluster, alias: &str) -> bool {
    c.indices.contains_key(alias)
}

/// `GET _alias/<names>`: the indices behind matching aliases.
pub async fn get_alias(State(cluster): State<Shared>, Path(names): Path<String>) -> Response {
    let c = cluster.lock().unwrap();
    let patterns = name_list(Some(&json!(names)), "*");
    let mut out = serde_json::Map::new();
    let mut found = std::collections::BTreeSet::new();
    for (name, index) in &c.indices {
        let matching: serde_json::Map<String, Value> = aliases_json(index)
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(a, _)| patterns.iter().any(|p| super::state::wildcard(p, a)))
            .map(|(a, v)| {
                found.insert(a.clone());
                (a.clone(), v.clone())
            })
            .collect();
        if !matching.is_empty() {
            out.insert(name.clone(), json!({"aliases": matching}));
        }
    }
    let missing: Vec<&String> = patterns
        .iter()
        .filter(|p| !p.contains('*') && !found.contains(*p))
        .collect();
    if let Some(first) = missing.first() {
        let mut body = Value::Object(out);
        body["error"] = json!(format!("alias [{first}] missing"));
        body["status"] = json!(404);
        return super::routes::json_status(StatusCode::NOT_FOUND, body);
    }
    json_reply(Value::Object(out))
}
