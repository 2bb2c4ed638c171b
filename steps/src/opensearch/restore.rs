//! `opensearch.restore`: restore indices from a snapshot and wait until every restored shard has
//! recovered, reporting bytes and shards as progress.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use regex::Regex;
use reqwest::Method;
use runbook_engine::duration::DurationInput;
use runbook_engine::kind::{Kind, StepContext, StepError};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Indices, select};
use crate::http::{Endpoint, connect};

pub struct Restore;

/// How often recovery is polled.
const POLL: Duration = Duration::from_millis(500);

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreInput {
    /// The `http` connection of the cluster.
    pub connection: String,
    pub repository: String,
    pub snapshot: String,
    /// Index patterns to restore (wildcards, `-pattern` excludes); default all in the snapshot.
    pub indices: Option<Indices>,
    /// Skip patterns that match nothing in the snapshot instead of failing.
    #[serde(default)]
    pub ignore_unavailable: bool,
    /// Also restore the cluster state (templates, persistent settings); default false.
    #[serde(default)]
    pub include_global_state: bool,
    pub include_aliases: Option<bool>,
    /// Restore under other names: a regular expression on the index name ...
    pub rename_pattern: Option<String>,
    /// ... and its replacement (`$1` for the first group), e.g. `restored-$1`.
    pub rename_replacement: Option<String>,
    /// Settings to set on the restored indices, e.g. `{index.number_of_replicas: 0}`.
    pub index_settings: Option<Map<String, Value>>,
    /// Restore what is available of partial snapshots.
    pub partial: Option<bool>,
    /// Wait until every restored shard has recovered (default true).
    #[serde(default = "yes")]
    pub wait: bool,
    /// How long to wait for recovery (default 30m).
    pub timeout: Option<DurationInput>,
}

fn yes() -> bool {
    true
}

#[async_trait]
impl Kind for Restore {
    type Input = RestoreInput;
    fn name(&self) -> &'static str {
        "opensearch.restore"
    }
    fn about(&self) -> &'static str {
        "Restore indices from a snapshot (patterns, rename, global state) and wait until every restored shard has recovered. Outputs indices and shards."
    }
    fn outputs(&self) -> &'static [&'static str] {
        &["indices", "shards", "bytes_recovered", "snapshot"]
    }
    fn check(&self, input: &RestoreInput) -> Vec<String> {
        let mut problems = Vec::new();
        if input.rename_pattern.is_some() != input.rename_replacement.is_some() {
            problems.push("`rename_pattern` and `rename_replacement` go together".into());
        }
        problems
    }
    fn destructive(&self, _input: &RestoreInput) -> bool {
        // A closed index of the same name is replaced by the snapshot's copy.
        true
    }
    /// Run again after an interruption, it finds a restore the server already took (the indices
    /// recovering or recovered from this snapshot) and waits for it instead of asking again.
    fn idempotent(&self, _input: &RestoreInput) -> bool {
        true
    }
    fn describe(&self, input: &RestoreInput) -> String {
        let indices = match &input.indices {
            Some(Indices::List(a)) => a.join(","),
            Some(Indices::Text(s)) => s.clone(),
            None => "all indices".into(),
        };
        format!(
            "restore {indices} from snapshot {}/{} ({})",
            input.repository, input.snapshot, input.connection
        )
    }
    async fn run(&self, ctx: &StepContext, input: RestoreInput) -> Result<Value, StepError> {
        let timeout =
            DurationInput::timeout_or(input.timeout.as_ref(), Duration::from_secs(30 * 60))?;
        let endpoint = connect(ctx, &input.connection)?;
        let patterns = input
            .indices
            .as_ref()
            .map(Indices::patterns)
            .unwrap_or_default();
        let targets = restored_names(&endpoint, &input, &patterns).await?;

        let mut body = json!({"ignore_unavailable": input.ignore_unavailable, "include_global_state": input.include_global_state});
        if !patterns.is_empty() {
            body["indices"] = json!(patterns.join(","));
        }
        for (key, value) in [
            ("rename_pattern", &input.rename_pattern),
            ("rename_replacement", &input.rename_replacement),
        ] {
            if let Some(v) = value {
                body[key] = json!(v);
            }
        }
        if let Some(v) = input.include_aliases {
            body["include_aliases"] = json!(v);
        }
        if let Some(v) = input.partial {
            body["partial"] = json!(v);
        }
        if let Some(v) = &input.index_settings {
            body["index_settings"] = json!(v);
        }
        let what = format!(
            "restoring snapshot `{}` from repository `{}`",
            input.snapshot, input.repository
        );
        let path = format!("_snapshot/{}/{}/_restore", input.repository, input.snapshot);
        // A later attempt of this step (a resume after an interruption, a retry after a lost
        // reply) may find its request already taken: asking again would fail on the open indices.
        if ctx.attempt > 1 && taken_earlier(&endpoint, &targets, &input).await? {
            ctx.progress.message(format!(
                "the restore of `{}` was already taken by the server: waiting for it",
                input.snapshot
            ));
        } else {
            let reply = endpoint
                .send(endpoint.request(Method::POST, &path).json(&body), &what)
                .await?;
            restore_refused(&reply, &what)?;
        }
        if !input.wait {
            return Ok(
                json!({"indices": targets, "shards": {"total": Value::Null, "done": Value::Null}, "snapshot": input.snapshot}),
            );
        }
        let (shards, bytes) = wait_recovered(ctx, &endpoint, &targets, timeout).await?;
        Ok(
            json!({"indices": targets, "shards": {"total": shards, "done": shards}, "bytes_recovered": bytes, "snapshot": input.snapshot}),
        )
    }
}

/// A refused restore, with what to do when an open index is in the way.
fn restore_refused(reply: &crate::http::Reply, what: &str) -> Result<(), StepError> {
    if reply.status.is_success() {
        return Ok(());
    }
    let error = reply.fail(what);
    if reply.error_text().contains("open index with same name") {
        // The server's own words say what; this says what to do about it.
        return Err(StepError::permanent(format!(
            "{}; delete the index first (`opensearch.delete-index`) or close it, or restore under another name with `rename_pattern`/`rename_replacement`",
            error.message
        )));
    }
    Err(error)
}

/// Whether any of the restore's indices is recovering, or has recovered, from this very
/// snapshot: the server took the restore request of an earlier attempt.
async fn taken_earlier(
    endpoint: &Endpoint,
    targets: &[String],
    input: &RestoreInput,
) -> Result<bool, StepError> {
    let names: Vec<&str> = targets.iter().map(String::as_str).collect();
    let from_this_snapshot = |shard: &Value| {
        shard.get("type").and_then(Value::as_str) == Some("SNAPSHOT")
            && shard.pointer("/source/repository").and_then(Value::as_str)
                == Some(input.repository.as_str())
            && shard.pointer("/source/snapshot").and_then(Value::as_str)
                == Some(input.snapshot.as_str())
    };
    let answered =
        read_recovery(endpoint, &names, "reading the restored indices' recovery").await?;
    Ok(answered.iter().any(|(group, recovery)| {
        group
            .iter()
            .any(|index| shards(recovery, index).any(from_this_snapshot))
    }))
}

/// The names the restore will create: the snapshot's indices the patterns select, renamed.
async fn restored_names(
    endpoint: &Endpoint,
    input: &RestoreInput,
    patterns: &[String],
) -> Result<Vec<String>, StepError> {
    let what = format!(
        "reading snapshot `{}` in repository `{}`",
        input.snapshot, input.repository
    );
    let reply = endpoint
        .send(
            endpoint.request(
                Method::GET,
                &format!("_snapshot/{}/{}", input.repository, input.snapshot),
            ),
            &what,
        )
        .await?;
    if !reply.status.is_success() {
        let mut error = reply.fail(&what);
        if reply.status.as_u16() == 404 {
            error
                .message
                .push_str("; list the snapshots with `opensearch.snapshots`");
        }
        return Err(error);
    }
    let snapshot = reply
        .json
        .as_ref()
        .and_then(|j| super::snapshots::listed(j).first().copied())
        .cloned()
        .unwrap_or(Value::Null);
    let names: Vec<&str> = snapshot
        .get("indices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let all = vec!["*".to_string()];
    let chosen = select(
        if patterns.is_empty() { &all } else { patterns },
        names.iter().copied(),
    );
    if chosen.is_empty() {
        return Err(StepError::permanent(format!(
            "snapshot `{}` has no index matching {}; it has: {}",
            input.snapshot,
            patterns.join(", "),
            names.join(", ")
        )));
    }
    let rename = match (&input.rename_pattern, &input.rename_replacement) {
        (Some(p), Some(r)) => {
            let regex = Regex::new(p)
                .map_err(|e| StepError::permanent(format!("`rename_pattern`: {e}")))?;
            // Java's `$1` is `${1}` in Rust's syntax (so `$1_x` is not read as a group named `1_x`).
            let replacement = Regex::new(r"\$(\d+)")
                .expect("valid")
                .replace_all(r, "$${$1}")
                .into_owned();
            Some((regex, replacement))
        }
        _ => None,
    };
    Ok(chosen
        .into_iter()
        .map(|name| match &rename {
            Some((regex, replacement)) if regex.is_match(&name) => {
                regex.replace_all(&name, replacement.as_str()).into_owned()
            }
            _ => name,
        })
        .collect())
}

/// Index names per `_recovery` request are limited so the request line stays under OpenSearch's
/// `http.max_initial_line_length` (4 KB): a restore of a few hundred daily indices is longer.
const MAX_RECOVERY_PATH: usize = 3000;

/// The targets in groups whose `a,b,c/_recovery` path fits in `MAX_RECOVERY_PATH`.
fn recovery_paths<'a>(targets: &[&'a str]) -> Vec<(String, Vec<&'a str>)> {
    let mut paths: Vec<(String, Vec<&str>)> = Vec::new();
    for &target in targets {
        match paths.last_mut() {
            Some((path, group)) if path.len() + 1 + target.len() <= MAX_RECOVERY_PATH => {
                path.push(',');
                path.push_str(target);
                group.push(target);
            }
            _ => paths.push((target.to_string(), vec![target])),
        }
    }
    for (path, _) in &mut paths {
        path.push_str("/_recovery");
    }
    paths
}

/// Shards recovered from the snapshot, shards in all, bytes recovered and bytes in all.
#[derive(Default, Clone, Copy)]
struct Recovered {
    done: u64,
    total: u64,
    bytes_done: u64,
    bytes_total: u64,
}

impl Recovered {
    fn finished(&self) -> bool {
        self.total > 0 && self.done == self.total
    }
}

/// `_recovery` of `names`, in batches under the request-line limit: each answered batch with its
/// reply. A batch naming an index that does not exist (yet) answers 404 and is left out.
async fn read_recovery<'a>(
    endpoint: &Endpoint,
    names: &[&'a str],
    what: &str,
) -> Result<Vec<(Vec<&'a str>, Value)>, StepError> {
    let mut answered = Vec::new();
    for (path, group) in recovery_paths(names) {
        let reply = endpoint
            .send(endpoint.request(Method::GET, &path), what)
            .await?;
        if reply.status.is_success() {
            answered.push((group, reply.json.unwrap_or(Value::Null)));
        } else if reply.status.as_u16() != 404 {
            return Err(reply.fail(what));
        }
    }
    Ok(answered)
}

/// The shards of one index in a `_recovery` reply.
fn shards<'v>(recovery: &'v Value, index: &str) -> impl Iterator<Item = &'v Value> {
    recovery
        .get(index)
        .and_then(|r| r.get("shards"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// One index's entry in a `_recovery` reply: only shards recovered from a snapshot count.
fn recovered(recovery: &Value, index: &str) -> Recovered {
    let mut out = Recovered::default();
    for shard in shards(recovery, index) {
        let kind = shard
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("SNAPSHOT");
        if !kind.eq_ignore_ascii_case("snapshot") {
            continue;
        }
        out.total += 1;
        if shard
            .get("stage")
            .and_then(Value::as_str)
            .is_some_and(|s| s.eq_ignore_ascii_case("done"))
        {
            out.done += 1;
        }
        let bytes = |p: &str| shard.pointer(p).and_then(Value::as_u64).unwrap_or(0);
        out.bytes_done += bytes("/index/size/recovered_in_bytes");
        out.bytes_total += bytes("/index/size/total_in_bytes");
    }
    out
}

/// Polls `<indices>/_recovery` until every shard recovered from the snapshot is DONE. Indices
/// that finished are not asked about again.
async fn wait_recovered(
    ctx: &StepContext,
    endpoint: &Endpoint,
    targets: &[String],
    timeout: Duration,
) -> Result<(u64, u64), StepError> {
    let start = Instant::now();
    let mut state: BTreeMap<&str, Recovered> = targets
        .iter()
        .map(|t| (t.as_str(), Recovered::default()))
        .collect();
    let mut appeared = false;
    let mut pending: Vec<&str> = targets.iter().map(String::as_str).collect();
    loop {
        // Right after the restore starts an index may not exist yet: that is "not started".
        for (group, recovery) in
            read_recovery(endpoint, &pending, "reading restore progress").await?
        {
            appeared = true;
            for index in group {
                state.insert(index, recovered(&recovery, index));
            }
        }
        let sum = |f: fn(&Recovered) -> u64| state.values().map(f).sum::<u64>();
        let (done, total) = (sum(|r| r.done), sum(|r| r.total));
        pending = state
            .iter()
            .filter(|(_, r)| !r.finished())
            .map(|(name, _)| *name)
            .collect();
        ctx.progress.position(
            format!(
                "{done}/{total} shards recovered, {} of {} indices",
                targets.len() - pending.len(),
                targets.len()
            ),
            sum(|r| r.bytes_done),
            Some(sum(|r| r.bytes_total)),
        );
        if pending.is_empty() {
            return Ok((total, sum(|r| r.bytes_done)));
        }
        if start.elapsed() >= timeout {
            if !appeared {
                return Err(StepError::new(format!(
                    "restored indices did not appear within {}",
                    runbook_engine::duration::format_duration(timeout)
                )));
            }
            return Err(StepError::new(format!(
                "restore not recovered after {}: {} index(es) still recovering ({}); watch `GET _cat/recovery?active_only=true`, then re-run this step with a longer `timeout` or check the cluster's health",
                runbook_engine::duration::format_duration(timeout),
                pending.len(),
                pending
                    .iter()
                    .take(5)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_paths_stay_under_the_request_line_limit_and_keep_every_index() {
        let names: Vec<String> = (0..500)
            .map(|i| format!("kubernetes-default-{i:05}-000001"))
            .collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let paths = recovery_paths(&refs);
        assert!(paths.len() > 1);
        for (path, group) in &paths {
            assert!(
                path.len() <= MAX_RECOVERY_PATH + "/_recovery".len(),
                "{path}"
            );
            assert_eq!(path, &format!("{}/_recovery", group.join(",")));
        }
        let all: Vec<&str> = paths.iter().flat_map(|(_, g)| g.iter().copied()).collect();
        assert_eq!(all, refs);
        assert_eq!(
            recovery_paths(&["one"]),
            vec![("one/_recovery".to_string(), vec!["one"])]
        );
    }
}
