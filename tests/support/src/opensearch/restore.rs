//! `POST _snapshot/<repository>/<snapshot>/_restore`, with the checks OpenSearch makes before it
//! creates anything: the snapshot's state, the indices asked for, the rename, partial snapshots,
//! open indices in the way, target names, and write aliases.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::errors::{self, error};
use super::names;
use super::routes::{Params, Shared, json_reply, parse_body};
use super::state::{Index, flag, name_list, now_millis, select};

/// A Java `replaceAll` replacement (`$1`, `${name}`) in the regex crate's syntax, where `$1_x`
/// would otherwise read as a group named `1_x`.
fn replacement(java: &str) -> String {
    regex::Regex::new(r"\$(\d+)")
        .expect("a fixed pattern")
        .replace_all(java, "$${$1}")
        .into_owned()
}

pub async fn restore(
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
    let Some(list) = c.snapshots.get(&repository) else {
        return errors::repository_missing(&repository);
    };
    let Some(snap) = list.iter().find(|s| s.name == snapshot).cloned() else {
        return errors::snapshot_missing(&repository, &snapshot);
    };
    if snap.state != "SUCCESS" && snap.state != "PARTIAL" {
        return errors::restore_refused(
            &repository,
            &snapshot,
            &format!("unsupported snapshot state [{}]", snap.state),
        );
    }
    let patterns = name_list(body.get("indices"), "*");
    let ignore_unavailable = body
        .get("ignore_unavailable")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let chosen = match select(snap.indices.keys(), &patterns, ignore_unavailable) {
        Ok(chosen) => chosen,
        Err(missing) => {
            return error(
                StatusCode::NOT_FOUND,
                "index_not_found_exception",
                &format!("no such index [{missing}]"),
                json!({"index": missing, "resource.type": "index_or_alias", "resource.id": missing, "index_uuid": "_na_"}),
            );
        }
    };
    let rename = match (
        body.get("rename_pattern").and_then(Value::as_str),
        body.get("rename_replacement").and_then(Value::as_str),
    ) {
        (Some(p), Some(r)) => match regex::Regex::new(p) {
            Ok(re) => Some((re, replacement(r))),
            // Java's PatternSyntaxException is an IllegalArgumentException: 400.
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "pattern_syntax_exception",
                    &e.to_string(),
                    json!({}),
                );
            }
        },
        _ => None,
    };
    let partial = body
        .get("partial")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut targets: Vec<(String, String)> = Vec::new();
    let mut by_target: BTreeMap<String, String> = BTreeMap::new();
    for source in chosen {
        if !partial && snap.failed.contains(&source) {
            return errors::restore_refused(
                &repository,
                &snapshot,
                &format!("index [{source}] wasn't fully snapshotted - cannot restore"),
            );
        }
        let target = match &rename {
            Some((re, rep)) => re.replace_all(&source, rep.as_str()).into_owned(),
            None => source.clone(),
        };
        if let Some(other) = by_target.insert(target.clone(), source.clone()) {
            return errors::restore_refused(
                &repository,
                &snapshot,
                &format!(
                    "indices [{other}] and [{source}] are renamed into the same index [{target}]"
                ),
            );
        }
        targets.push((source, target));
    }
    for (_, target) in &targets {
        match c.indices.get(target) {
            Some(existing) if existing.open => {
                return errors::open_index_conflict(&repository, &snapshot, target);
            }
            Some(_) => {}
            None => {
                if let Some(problem) = names::index_name_problem(target) {
                    return errors::invalid_index_name(target, &problem);
                }
            }
        }
    }
    let include_aliases = body
        .get("include_aliases")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    // An alias may have one write index: a restored write index meets the one the cluster has.
    if include_aliases {
        let replaced: BTreeSet<&String> = targets.iter().map(|(_, t)| t).collect();
        for (source, target) in &targets {
            for (alias, is_write) in snap.aliases.get(source).into_iter().flatten() {
                if !is_write {
                    continue;
                }
                let mut writers: Vec<String> = c
                    .indices
                    .iter()
                    .filter(|(n, i)| !replaced.contains(n) && i.write_aliases.contains(alias))
                    .map(|(n, _)| n.clone())
                    .collect();
                if !writers.is_empty() {
                    writers.push(target.clone());
                    writers.sort();
                    return error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "illegal_state_exception",
                        &format!(
                            "alias [{alias}] has more than one write index [{}]",
                            writers.join(",")
                        ),
                        json!({}),
                    );
                }
            }
        }
    }
    let wait = flag(&params, "wait_for_completion");
    let polls = if wait { 0 } else { c.recovery_polls };
    for (source, target) in &targets {
        // A partial restore brings a failed shard back empty.
        let docs = if snap.failed.contains(source) {
            0
        } else {
            snap.indices[source]
        };
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
                aliases: aliases.keys().cloned().collect(),
                write_aliases: aliases
                    .iter()
                    .filter(|(_, w)| **w)
                    .map(|(a, _)| a.clone())
                    .collect(),
                created_millis: now_millis(),
            },
        );
    }
    c.restores.push(body);
    if wait {
        let total = targets.len();
        json_reply(json!({"snapshot": {
            "snapshot": snapshot,
            "indices": targets.iter().map(|(_, t)| t).collect::<Vec<_>>(),
            "shards": {"total": total, "failed": 0, "successful": total},
        }}))
    } else {
        json_reply(json!({"accepted": true}))
    }
}
