//! `_cat`: text tables by default (`v` for the header, `h` for columns, `s` to sort) and JSON
//! arrays of strings with `format=json`.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::errors;
use super::indices_api::{advance, shard_recovery};
use super::routes::{Params, Shared, json_reply};
use super::state::{Resolve, flag};

/// One table row: its columns in the order `_cat` prints them.
type Row = Vec<(&'static str, String)>;

fn table(rows: Vec<Row>, params: &HashMap<String, String>) -> Response {
    let all: Vec<&str> = rows
        .first()
        .map(|r| r.iter().map(|(k, _)| *k).collect())
        .unwrap_or_default();
    let columns: Vec<String> = match params.get("h") {
        Some(h) if h.split(',').any(|c| c == "*") => all.iter().map(|c| c.to_string()).collect(),
        Some(h) => h.split(',').map(str::to_string).collect(),
        None => all.iter().map(|c| c.to_string()).collect(),
    };
    let mut rows = rows;
    if let Some(sort) = params.get("s") {
        for key in sort.split(',').rev() {
            let (key, descending) = match key.split_once(':') {
                Some((k, order)) => (k, order == "desc"),
                None => (key, false),
            };
            let value = |r: &Row| r.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone());
            rows.sort_by(|a, b| {
                let order = value(a).cmp(&value(b));
                if descending { order.reverse() } else { order }
            });
        }
    }
    let pick = |r: &Row, column: &str| r.iter().find(|(k, _)| *k == column).map(|(_, v)| v.clone());
    if params.get("format").map(String::as_str) == Some("json") {
        return json_reply(Value::Array(
            rows.iter()
                .map(|r| {
                    Value::Object(
                        columns
                            .iter()
                            .map(|c| {
                                // A blank cell (a closed index's document count) is null.
                                let v = pick(r, c).filter(|v| !v.is_empty());
                                (c.clone(), v.map_or(Value::Null, Value::String))
                            })
                            .collect(),
                    )
                })
                .collect(),
        ));
    }
    let mut lines: Vec<Vec<String>> = Vec::new();
    if flag(params, "v") {
        lines.push(columns.clone());
    }
    for r in &rows {
        lines.push(
            columns
                .iter()
                .map(|c| pick(r, c).unwrap_or_default())
                .collect(),
        );
    }
    let widths: Vec<usize> = (0..columns.len())
        .map(|i| lines.iter().map(|l| l[i].len()).max().unwrap_or(0))
        .collect();
    let mut text = String::new();
    for line in lines {
        let cells: Vec<String> = line
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        text.push_str(cells.join(" ").trim_end());
        text.push('\n');
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=UTF-8",
        )],
        text,
    )
        .into_response()
}

pub async fn indices(State(cluster): State<Shared>, Query(params): Params) -> Response {
    indices_reply(&cluster, "*", &params)
}

pub async fn indices_of(
    State(cluster): State<Shared>,
    Path(index): Path<String>,
    Query(params): Params,
) -> Response {
    indices_reply(&cluster, &index, &params)
}

/// `_cat/indices[/<expression>]`: open and closed indices by default.
fn indices_reply(cluster: &Shared, expression: &str, params: &HashMap<String, String>) -> Response {
    let c = cluster.lock().unwrap();
    let names = match c.resolve(expression, Resolve::from_query(params, true)) {
        Ok(names) => names,
        Err(missing) => return errors::index_not_found(&missing),
    };
    let rows = names
        .iter()
        .map(|name| {
            let i = &c.indices[name];
            let health = if !i.open {
                ""
            } else if i.recovery_polls_left > 0 {
                "red"
            } else {
                "green"
            };
            let docs = if i.open {
                i.docs.to_string()
            } else {
                String::new()
            };
            vec![
                ("health", health.to_string()),
                ("status", if i.open { "open" } else { "close" }.to_string()),
                ("index", name.clone()),
                ("uuid", format!("uuid-{name}")),
                ("pri", "1".to_string()),
                ("rep", "0".to_string()),
                ("docs.count", docs),
                (
                    "docs.deleted",
                    if i.open { "0".into() } else { String::new() },
                ),
                ("store.size", format!("{}b", i.docs * 1000)),
                ("pri.store.size", format!("{}b", i.docs * 1000)),
            ]
        })
        .collect();
    table(rows, params)
}

pub async fn snapshots(State(cluster): State<Shared>, Query(params): Params) -> Response {
    let repository = params.get("repository").cloned();
    snapshots_reply(&cluster, repository, &params)
}

pub async fn snapshots_of(
    State(cluster): State<Shared>,
    Path(repository): Path<String>,
    Query(params): Params,
) -> Response {
    snapshots_reply(&cluster, Some(repository), &params)
}

/// `_cat/snapshots/<repository>` or `_cat/snapshots?repository=`; every repository without one.
fn snapshots_reply(
    cluster: &Shared,
    repository: Option<String>,
    params: &HashMap<String, String>,
) -> Response {
    let c = cluster.lock().unwrap();
    let repositories: Vec<String> = match &repository {
        Some(list) => list.split(',').map(str::to_string).collect(),
        None => c.repositories.keys().cloned().collect(),
    };
    let mut rows = Vec::new();
    for repository in repositories {
        let Some(list) = c.snapshots.get(&repository) else {
            return errors::repository_missing(&repository);
        };
        let mut list: Vec<_> = list.iter().collect();
        list.sort_by_key(|s| (s.start_millis, s.name.clone()));
        for s in list {
            let j = c.snapshot_json(&repository, s);
            let clock = |millis: i64| {
                let t = time::OffsetDateTime::from_unix_timestamp(millis / 1000).expect("time");
                format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
            };
            let seconds = (s.end_millis - s.start_millis) / 1000;
            rows.push(vec![
                ("id", s.name.clone()),
                ("repository", repository.clone()),
                ("status", s.state.clone()),
                ("start_epoch", (s.start_millis / 1000).to_string()),
                ("start_time", clock(s.start_millis)),
                ("end_epoch", (s.end_millis / 1000).to_string()),
                ("end_time", clock(s.end_millis)),
                (
                    "duration",
                    if seconds >= 60 {
                        format!("{}m", seconds / 60)
                    } else {
                        format!("{seconds}s")
                    },
                ),
                ("indices", s.indices.len().to_string()),
                ("successful_shards", j["shards"]["successful"].to_string()),
                ("failed_shards", j["shards"]["failed"].to_string()),
                ("total_shards", j["shards"]["total"].to_string()),
            ]);
        }
    }
    let mut params = params.clone();
    // `repository` is a column only on request: the default columns are OpenSearch's.
    if !params.contains_key("h") {
        params.insert("h".into(), "id,status,start_epoch,start_time,end_epoch,end_time,duration,indices,successful_shards,failed_shards,total_shards".into());
    }
    table(rows, &params)
}

pub async fn repositories(State(cluster): State<Shared>, Query(params): Params) -> Response {
    let c = cluster.lock().unwrap();
    let rows = c
        .repositories
        .iter()
        .map(|(name, repo)| {
            vec![
                ("id", name.clone()),
                ("type", repo["type"].as_str().unwrap_or("").to_string()),
            ]
        })
        .collect();
    table(rows, &params)
}

pub async fn recovery(State(cluster): State<Shared>, Query(params): Params) -> Response {
    recovery_reply(&cluster, "*", &params)
}

pub async fn recovery_of(
    State(cluster): State<Shared>,
    Path(index): Path<String>,
    Query(params): Params,
) -> Response {
    recovery_reply(&cluster, &index, &params)
}

fn recovery_reply(
    cluster: &Shared,
    expression: &str,
    params: &HashMap<String, String>,
) -> Response {
    let active_only = flag(params, "active_only");
    let mut c = cluster.lock().unwrap();
    let names = match c.resolve(expression, Resolve::from_query(params, false)) {
        Ok(names) => names,
        Err(missing) => return errors::index_not_found(&missing),
    };
    let version = c.flavour.version().0;
    let mut rows = Vec::new();
    for name in names {
        let Some(index) = c.indices.get_mut(&name) else {
            continue;
        };
        let r = shard_recovery(&name, index, version, false);
        advance(index);
        if active_only && r["stage"] == "DONE" {
            continue;
        }
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            Value::Null => "n/a".to_string(),
            other => other.to_string(),
        };
        rows.push(vec![
            ("index", name.clone()),
            ("shard", "0".to_string()),
            ("start_time", super::state::rfc3339(index.created_millis)),
            ("start_time_millis", index.created_millis.to_string()),
            (
                "stop_time",
                r.get("stop_time_in_millis")
                    .and_then(Value::as_i64)
                    .map_or("-".into(), super::state::rfc3339),
            ),
            (
                "stop_time_millis",
                r.get("stop_time_in_millis").map_or("0".into(), text),
            ),
            ("time", format!("{}ms", r["total_time_in_millis"])),
            ("type", r["type"].as_str().unwrap_or("").to_lowercase()),
            ("stage", r["stage"].as_str().unwrap_or("").to_lowercase()),
            ("source_host", "n/a".to_string()),
            ("source_node", "n/a".to_string()),
            ("target_host", "127.0.0.1".to_string()),
            ("target_node", "emulator".to_string()),
            ("repository", text(&r["source"]["repository"])),
            ("snapshot", text(&r["source"]["snapshot"])),
            ("files", text(&r["index"]["files"]["total"])),
            ("files_recovered", text(&r["index"]["files"]["recovered"])),
            ("files_percent", text(&r["index"]["files"]["percent"])),
            ("files_total", text(&r["index"]["files"]["total"])),
            ("bytes", text(&r["index"]["size"]["total_in_bytes"])),
            (
                "bytes_recovered",
                text(&r["index"]["size"]["recovered_in_bytes"]),
            ),
            ("bytes_percent", text(&r["index"]["size"]["percent"])),
            ("bytes_total", text(&r["index"]["size"]["total_in_bytes"])),
            ("translog_ops", "0".to_string()),
            ("translog_ops_recovered", "0".to_string()),
            ("translog_ops_percent", "100.0%".to_string()),
        ]);
    }
    let mut params = params.clone();
    if !params.contains_key("h") {
        params.insert("h".into(), "index,shard,time,type,stage,source_host,source_node,target_host,target_node,repository,snapshot,files,files_recovered,files_percent,files_total,bytes,bytes_recovered,bytes_percent,bytes_total,translog_ops,translog_ops_recovered,translog_ops_percent".into());
    }
    table(rows, &params)
}
