//! `_cluster/health[/<indices>]`: red while a restored primary is still recovering, green
//! otherwise (one node, no replicas). `wait_for_status` that is not reached is a 408 with
//! `timed_out`, as OpenSearch answers when its timeout runs out.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::indices_api::advance;
use super::routes::{Params, Shared, json_reply, json_status};
use super::state::Resolve;

pub async fn health(state: State<Shared>, params: Params) -> Response {
    health_reply(state, None, params)
}

pub async fn health_of(
    state: State<Shared>,
    Path(index): Path<String>,
    params: Params,
) -> Response {
    health_reply(state, Some(index), params)
}

fn rank(status: &str) -> u8 {
    match status {
        "green" => 2,
        "yellow" => 1,
        _ => 0,
    }
}

fn health_reply(
    State(cluster): State<Shared>,
    expression: Option<String>,
    Query(params): Params,
) -> Response {
    let mut c = cluster.lock().unwrap();
    let options = Resolve::from_query(&params, false);
    let (names, missing) = match &expression {
        None => (c.indices.keys().cloned().collect(), false),
        Some(e) => match c.resolve(e, options) {
            Ok(names) => (names, false),
            Err(_) => (Vec::new(), true),
        },
    };
    let recovering = |n: &String| c.indices.get(n).is_some_and(|i| i.recovery_polls_left > 0);
    let initializing = names.iter().filter(|n| recovering(n)).count();
    let active = names.len() - initializing;
    let status = if missing || initializing > 0 {
        "red"
    } else {
        "green"
    };
    let wanted = params.get("wait_for_status").map(String::as_str);
    let timed_out = missing || wanted.is_some_and(|w| rank(status) < rank(w));
    let mut body = json!({
        "cluster_name": "opensearch-cluster", "status": status, "timed_out": timed_out,
        "number_of_nodes": 1, "number_of_data_nodes": 1,
        "discovered_master": true, "discovered_cluster_manager": true,
        "active_primary_shards": active, "active_shards": active, "relocating_shards": 0,
        "initializing_shards": initializing, "unassigned_shards": 0, "delayed_unassigned_shards": 0,
        "number_of_pending_tasks": 0, "number_of_in_flight_fetch": 0, "task_max_waiting_in_queue_millis": 0,
        "active_shards_percent_as_number": if names.is_empty() { 100.0 } else { active as f64 * 100.0 / names.len() as f64 },
    });
    match params.get("level").map(String::as_str) {
        Some("indices") | Some("shards") => {
            let indices: serde_json::Map<String, Value> = names
                .iter()
                .map(|n| {
                    let r = recovering(n);
                    (n.clone(), json!({"status": if r { "red" } else { "green" }, "number_of_shards": 1, "number_of_replicas": 0, "active_primary_shards": u8::from(!r), "active_shards": u8::from(!r), "relocating_shards": 0, "initializing_shards": u8::from(r), "unassigned_shards": 0}))
                })
                .collect();
            body["indices"] = Value::Object(indices);
        }
        Some("awareness_attributes") => body["awareness_attributes"] = json!({}),
        _ => {}
    }
    // Time passes while OpenSearch waits: a waiting health call moves recoveries on.
    if wanted.is_some() {
        for n in &names {
            if let Some(i) = c.indices.get_mut(n) {
                advance(i);
            }
        }
    }
    if timed_out {
        json_status(StatusCode::REQUEST_TIMEOUT, body)
    } else {
        json_reply(body)
    }
}
