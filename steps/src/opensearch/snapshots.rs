//! `opensearch.snapshots`: the snapshots of a repository with their state, times and indices, and
//! the latest one in a wanted state that contains every wanted index pattern.

use async_trait::async_trait;
use reqwest::Method;
use runbook_engine::kind::{Kind, StepContext, StepError};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Indices, wildcard};
use crate::http::connect;

pub struct Snapshots;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SnapshotsInput {
    /// The `http` connection of the cluster.
    pub connection: String,
    pub repository: String,
    /// `latest` must contain at least one index matching each of these patterns.
    pub indices: Option<Indices>,
    /// The state `latest` must be in (default SUCCESS).
    #[serde(default = "success")]
    pub state: String,
    /// Fail when no snapshot qualifies as `latest` (default true); with false `latest` is null.
    #[serde(default = "yes")]
    pub required: bool,
}

fn success() -> String {
    "SUCCESS".into()
}
fn yes() -> bool {
    true
}

#[async_trait]
impl Kind for Snapshots {
    type Input = SnapshotsInput;
    fn name(&self) -> &'static str {
        "opensearch.snapshots"
    }
    fn about(&self) -> &'static str {
        "List a repository's snapshots (state, start/end, indices, shards) and pick the latest in `state` (SUCCESS) that contains every given index pattern. Outputs snapshots and latest."
    }
    fn outputs(&self) -> &'static [&'static str] {
        &["snapshots", "latest", "count"]
    }
    fn idempotent(&self, _input: &SnapshotsInput) -> bool {
        true
    }
    fn describe(&self, input: &SnapshotsInput) -> String {
        format!(
            "list snapshots in repository {} ({})",
            input.repository, input.connection
        )
    }
    async fn run(&self, ctx: &StepContext, input: SnapshotsInput) -> Result<Value, StepError> {
        let endpoint = connect(ctx, &input.connection)?;
        let what = format!("listing snapshots in repository `{}`", input.repository);
        let reply = endpoint
            .send(
                endpoint.request(Method::GET, &format!("_snapshot/{}/_all", input.repository)),
                &what,
            )
            .await?;
        if !reply.status.is_success() {
            let mut error = reply.fail(&what);
            if reply.status.as_u16() == 404 {
                error.message.push_str(
                    "; list the repositories with `opensearch.repository`, or register it",
                );
            }
            return Err(error);
        }
        let mut snapshots: Vec<Value> = reply
            .json
            .as_ref()
            .map(listed)
            .unwrap_or_default()
            .into_iter()
            .map(normalize)
            .collect();
        // By start time, then name (names are `snapshot-YYYYmmdd_HHMMSSz`, in time order too).
        snapshots.sort_by(|a, b| {
            let key = |s: &Value| {
                (
                    s["start_time_in_millis"].as_i64().unwrap_or(0),
                    s["snapshot"].as_str().unwrap_or("").to_string(),
                )
            };
            key(a).cmp(&key(b))
        });
        let patterns = input
            .indices
            .as_ref()
            .map(Indices::patterns)
            .unwrap_or_default();
        let latest = snapshots
            .iter()
            .rev()
            .find(|s| {
                s["state"].as_str() == Some(input.state.as_str()) && {
                    let names: Vec<&str> = s["indices"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .collect();
                    patterns
                        .iter()
                        .filter(|p| !p.starts_with('-'))
                        .all(|p| names.iter().any(|n| wildcard(p, n)))
                }
            })
            .cloned();
        if latest.is_none() && input.required {
            let seen: Vec<String> = snapshots
                .iter()
                .rev()
                .take(5)
                .map(|s| {
                    format!(
                        "{} ({})",
                        s["snapshot"].as_str().unwrap_or("?"),
                        s["state"].as_str().unwrap_or("?")
                    )
                })
                .collect();
            return Err(StepError::permanent(format!(
                "no {} snapshot in repository `{}` contains {}; {} snapshot(s) there{}",
                input.state,
                input.repository,
                if patterns.is_empty() {
                    "anything".to_string()
                } else {
                    patterns.join(", ")
                },
                snapshots.len(),
                if seen.is_empty() {
                    String::new()
                } else {
                    format!(", newest: {}", seen.join(", "))
                }
            )));
        }
        Ok(json!({"snapshots": snapshots, "latest": latest, "count": snapshots.len()}))
    }
}

/// The snapshots of a `GET _snapshot/<repository>/_all` reply: `{"snapshots": [...]}` from
/// OpenSearch 1 and 2 and Elasticsearch 7.16 on, `{"responses": [{"repository", "snapshots"}]}`
/// from earlier Elasticsearch 7 releases.
pub(crate) fn listed(reply: &Value) -> Vec<&Value> {
    fn list(v: &Value) -> impl Iterator<Item = &Value> {
        v.get("snapshots")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
    }
    match reply.get("responses").and_then(Value::as_array) {
        Some(responses) => responses.iter().flat_map(list).collect(),
        None => list(reply).collect(),
    }
}

/// The fields runbooks use, the same for Elasticsearch 7 and OpenSearch 1 and 2.
fn normalize(s: &Value) -> Value {
    json!({
        "snapshot": s.get("snapshot"),
        "uuid": s.get("uuid"),
        "state": s.get("state"),
        "indices": s.get("indices").cloned().unwrap_or(json!([])),
        "start_time": s.get("start_time"),
        "end_time": s.get("end_time"),
        "start_time_in_millis": s.get("start_time_in_millis"),
        "end_time_in_millis": s.get("end_time_in_millis"),
        "shards": s.get("shards"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_reply_shapes_list_the_same_snapshots() {
        let snapshot = json!({"snapshot": "snapshot-1", "state": "SUCCESS", "indices": ["a"], "start_time_in_millis": 1});
        let opensearch = json!({"snapshots": [snapshot.clone()], "total": 1, "remaining": 0});
        let elasticsearch_7 =
            json!({"responses": [{"repository": "backups", "snapshots": [snapshot.clone()]}]});
        for reply in [&opensearch, &elasticsearch_7] {
            let listed: Vec<Value> = listed(reply).into_iter().map(normalize).collect();
            assert_eq!(listed.len(), 1, "{reply}");
            assert_eq!(listed[0]["snapshot"], "snapshot-1");
            assert_eq!(listed[0]["indices"], json!(["a"]));
        }
        assert!(listed(&json!({})).is_empty());
    }
}
