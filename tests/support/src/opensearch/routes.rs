//! The HTTP side of the emulator: the routes, basic auth, the request-line limit, and the reply
//! helpers the API files share.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use base64::Engine;
use serde_json::{Value, json};

use super::errors::{self, error};
use super::state::{Cluster, Flavour};
use super::{cat, cluster_api, indices_api, restore, snapshot_api};

pub(super) type Shared = Arc<Mutex<Cluster>>;
pub(super) type Params = axum::extract::Query<HashMap<String, String>>;

pub fn router(cluster: Shared) -> Router {
    Router::new()
        .route("/", get(info))
        .route("/_snapshot", get(snapshot_api::repositories))
        .route("/_snapshot/", get(snapshot_api::repositories))
        .route("/_snapshot/_status", get(snapshot_api::status_running))
        .route(
            "/_snapshot/{repository}",
            get(snapshot_api::repository)
                .put(snapshot_api::register)
                .post(snapshot_api::register)
                .delete(snapshot_api::delete_repository),
        )
        .route(
            "/_snapshot/{repository}/_status",
            get(snapshot_api::status_running_in),
        )
        .route(
            "/_snapshot/{repository}/_verify",
            post(snapshot_api::verify)
                .put(snapshot_api::create_snapshot_named_verify)
                .get(snapshot_api::get_snapshot_named_verify),
        )
        .route(
            "/_snapshot/{repository}/{snapshot}",
            get(snapshot_api::snapshots)
                .put(snapshot_api::create_snapshot)
                .post(snapshot_api::create_snapshot)
                .delete(snapshot_api::delete_snapshots),
        )
        .route(
            "/_snapshot/{repository}/{snapshot}/_restore",
            post(restore::restore),
        )
        .route(
            "/_snapshot/{repository}/{snapshot}/_status",
            get(snapshot_api::status),
        )
        .route("/_cat/indices", get(cat::indices))
        .route("/_cat/indices/{index}", get(cat::indices_of))
        .route("/_cat/snapshots", get(cat::snapshots))
        .route("/_cat/snapshots/{repository}", get(cat::snapshots_of))
        .route("/_cat/repositories", get(cat::repositories))
        .route("/_cat/recovery", get(cat::recovery))
        .route("/_cat/recovery/{index}", get(cat::recovery_of))
        .route("/_cluster/health", get(cluster_api::health))
        .route("/_cluster/health/{index}", get(cluster_api::health_of))
        .route("/_recovery", get(indices_api::all_recovery))
        .route("/_aliases", post(indices_api::update_aliases))
        .route("/_alias/{name}", get(indices_api::get_alias))
        .route(
            "/{index}",
            put(indices_api::create_index)
                .delete(indices_api::delete_index)
                .get(indices_api::get_index),
        )
        .route("/{index}/_recovery", get(indices_api::recovery))
        .route("/{index}/_close", post(indices_api::close_index))
        .route("/{index}/_open", post(indices_api::open_index))
        .route("/{index}/_count", get(indices_api::count))
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
            StatusCode::BAD_REQUEST,
            "too_long_frame_exception",
            "An HTTP line is larger than 4096 bytes.",
            json!({}),
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

/// A JSON reply with another status than 200.
pub(super) fn json_status(status: StatusCode, value: Value) -> Response {
    let mut reply = json_reply(value);
    *reply.status_mut() = status;
    reply
}

/// A JSON request body; an empty one reads as `{}`.
pub(super) fn parse_body(body: &[u8]) -> Result<Value, Box<Response>> {
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
            json!({"name": "emulator", "cluster_name": "opensearch-cluster", "cluster_uuid": "emulator-cluster-uuid", "version": {"distribution": "opensearch", "number": number, "build_type": "emulator", "lucene_version": "9.7.0", "minimum_wire_compatibility_version": "7.10.0", "minimum_index_compatibility_version": "7.0.0"}, "tagline": "The OpenSearch Project: https://opensearch.org/"})
        }
    })
}
