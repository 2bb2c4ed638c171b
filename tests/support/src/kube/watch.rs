//! `?watch=true`: a chunked stream of newline-delimited `{"type": ..., "object": ...}` events.
//!
//! As the apiserver's watch cache does: without a resourceVersion (or with "0") the stream starts
//! with synthetic ADDED events for what exists; with one, it replays the kept history after it;
//! with one older than the history, it sends a single ERROR event carrying a 410 Expired Status.
//! BOOKMARKs are sent every second when `allowWatchBookmarks=true`, and `sendInitialEvents=true`
//! ends the initial ADDED events with a bookmark annotated `k8s.io/initial-events-end`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use super::resources::ResourceType;
use super::routes::Query;
use super::selectors::{FieldSelector, LabelSelector};
use super::state::Cluster;
use super::status::ApiError;
use super::store::{EventType, StoredEvent};

/// How often bookmarks are sent.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(1);

struct Filter {
    rt: &'static ResourceType,
    namespace: Option<String>,
    labels: Option<LabelSelector>,
    fields: Option<FieldSelector>,
}

impl Filter {
    fn matches(&self, obj: &Value) -> bool {
        let ns_ok = self.namespace.as_deref().is_none_or(|ns| {
            !self.rt.namespaced || obj["metadata"]["namespace"].as_str() == Some(ns)
        });
        ns_ok
            && self.labels.as_ref().is_none_or(|s| s.matches(obj))
            && self.fields.as_ref().is_none_or(|s| s.matches(obj))
    }

    /// The event this watch reports for a change, if any.
    fn translate(&self, e: &StoredEvent) -> Option<(&'static str, Value)> {
        if !std::ptr::eq(e.resource, self.rt) {
            return None;
        }
        let now = self.matches(&e.object);
        let before = e.previous.as_ref().is_some_and(|p| self.matches(p));
        let kind = match (e.event_type, before, now) {
            (EventType::Deleted, _, true) => "DELETED",
            (EventType::Deleted, _, false) => return None,
            (_, false, true) => "ADDED",
            (_, true, true) => "MODIFIED",
            (_, true, false) => "DELETED",
            (_, false, false) => return None,
        };
        Some((kind, e.object.clone()))
    }
}

fn line(event_type: &str, object: &Value) -> Bytes {
    let mut v =
        serde_json::to_vec(&json!({"type": event_type, "object": object})).unwrap_or_default();
    v.push(b'\n');
    Bytes::from(v)
}

fn bookmark(rt: &ResourceType, revision: u64, initial_end: bool) -> Bytes {
    let mut metadata = json!({"resourceVersion": revision.to_string()});
    if initial_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    line(
        "BOOKMARK",
        &json!({"kind": rt.kind, "apiVersion": rt.api_version(), "metadata": metadata}),
    )
}

/// Serves a watch request.
pub fn serve(
    cluster: Arc<Cluster>,
    rt: &'static ResourceType,
    namespace: Option<String>,
    query: &Query,
) -> Result<Response, ApiError> {
    let filter = Filter {
        rt,
        namespace,
        labels: query.label_selector()?,
        fields: query.field_selector(rt)?,
    };
    let bookmarks = query.flag("allowWatchBookmarks");
    let send_initial = query.flag("sendInitialEvents");
    let timeout = query
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(1800));
    let rv = query.get("resourceVersion").filter(|v| !v.is_empty());
    let from_now = rv.is_none() || rv == Some("0") || send_initial;
    let from = match rv {
        Some(v) if !from_now => v
            .parse::<u64>()
            .map_err(|_| ApiError::bad_request(format!("invalid resource version: {v}")))?,
        _ => 0,
    };

    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let mut initial = Vec::new();
    let subscription = {
        let store = cluster.store();
        let start = if from_now { store.revision() } else { from };
        if from_now {
            initial = store.list(
                rt,
                filter.namespace.as_deref(),
                filter.labels.as_ref(),
                filter.fields.as_ref(),
            );
        }
        store
            .watch_from(start)
            .map(|(replay, live)| (replay, live, store.revision()))
    };
    let mut generation = cluster.watch_generation.subscribe();
    tokio::spawn(async move {
        let (replay, mut live, mut last_revision) = match subscription {
            Ok(s) => s,
            Err(expired) => {
                let _ = tx.send(line("ERROR", &expired.to_status())).await;
                return;
            }
        };
        for obj in initial {
            if tx.send(line("ADDED", &obj)).await.is_err() {
                return;
            }
        }
        if send_initial && tx.send(bookmark(rt, last_revision, true)).await.is_err() {
            return;
        }
        let mut replayed_up_to = 0;
        for e in replay {
            replayed_up_to = e.revision;
            if let Some((kind, obj)) = filter.translate(&e)
                && tx.send(line(kind, &obj)).await.is_err()
            {
                return;
            }
        }
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut ticker = tokio::time::interval(BOOKMARK_INTERVAL);
        ticker.tick().await;
        loop {
            // A closed connection delivers nothing after it was closed: the close is checked
            // before any event that came in meanwhile.
            tokio::select! {
                biased;
                _ = generation.changed() => return,
                _ = tx.closed() => return,
                _ = &mut deadline => return,
                received = live.recv() => match received {
                    Ok(e) => {
                        if e.revision <= replayed_up_to {
                            continue;
                        }
                        last_revision = e.revision;
                        if let Some((kind, obj)) = filter.translate(&e)
                            && tx.send(line(kind, &obj)).await.is_err() {
                                return;
                            }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let gone = ApiError::expired("too old resource version: watch fell behind");
                        let _ = tx.send(line("ERROR", &gone.to_status())).await;
                        return;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = ticker.tick(), if bookmarks => {
                    if tx.send(bookmark(rt, last_revision, false)).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    });
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(stream),
    )
        .into_response())
}
