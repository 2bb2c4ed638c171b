//! The HTTP surface: path parsing and dispatch of the REST verbs to the store.
//!
//! Paths follow the apiserver layout: `/api/v1/...` for the core group, `/apis/{group}/{version}/...`
//! otherwise, with `namespaces/{ns}/` before namespaced resources and `/{subresource}` after a name.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::discovery;
use super::exec;
use super::managed_fields::{self, Writer};
use super::meta::{name_of, namespace_of};
use super::patch::{self, PatchType};
use super::resources::{self, ResourceType};
use super::schema::{self, FieldValidation};
use super::selectors::{FieldSelector, LabelSelector};
use super::state::{Cluster, RecordedRequest, lock};
use super::status::ApiError;
use super::store::{DeleteOptions, Propagation, WriteTarget};
use super::velero_objects;
use super::watch;

/// The router serving the whole emulated API.
pub fn router(cluster: Arc<Cluster>) -> Router {
    Router::new()
        .route(
            "/api/v1/namespaces/{namespace}/pods/{name}/exec",
            get(exec::handle).post(exec::handle),
        )
        .route("/velero-objects/{*path}", get(velero_objects::handle))
        .fallback(dispatch)
        .with_state(cluster)
}

/// A JSON response with the apiserver's content type.
pub fn json_response(code: StatusCode, body: &Value) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_vec(body).unwrap_or_default(),
    )
        .into_response()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = (bytes[i] == b'%' && i + 2 < bytes.len())
            .then(|| std::str::from_utf8(&bytes[i + 1..i + 3]).ok())
            .flatten()
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], decoded) {
            (_, Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                i += 1;
            }
            (b, None) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses a query string into ordered, percent-decoded pairs (repeated keys kept, as `command=` needs).
pub fn parse_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}

/// Query parameters of one request.
pub struct Query(Vec<(String, String)>);

impl Query {
    /// Parses a raw query string.
    pub fn new(raw: &str) -> Self {
        Self(parse_query(raw))
    }

    /// The first value of a parameter.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a parameter.
    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// A boolean parameter (`true`/`1`).
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1"))
    }

    /// `dryRun=All`.
    pub fn dry_run(&self) -> bool {
        self.all("dryRun").iter().any(|v| v == "All")
    }

    /// The label selector, if given.
    pub fn label_selector(&self) -> Result<Option<LabelSelector>, ApiError> {
        self.get("labelSelector")
            .filter(|s| !s.is_empty())
            .map(LabelSelector::parse)
            .transpose()
    }

    /// The field selector, if given.
    pub fn field_selector(&self, rt: &ResourceType) -> Result<Option<FieldSelector>, ApiError> {
        self.get("fieldSelector")
            .filter(|s| !s.is_empty())
            .map(|s| FieldSelector::parse(s, rt))
            .transpose()
    }
}

/// The resource a path addresses.
struct Target {
    rt: &'static ResourceType,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
}

fn resolve(cluster: &Cluster, group: &str, version: &str, rest: &[&str]) -> Option<Target> {
    let served = |plural: &str| {
        resources::by_plural(group, version, plural).filter(|rt| cluster.store().serves(rt))
    };
    if rest.first() == Some(&"namespaces")
        && rest.len() >= 3
        && let Some(rt) = served(rest[2]).filter(|r| r.namespaced)
    {
        if rest.len() > 5 {
            return None;
        }
        return Some(Target {
            rt,
            namespace: Some(rest[1].to_string()),
            name: rest.get(3).map(|s| s.to_string()),
            subresource: rest.get(4).map(|s| s.to_string()),
        });
    }
    let rt = served(rest.first()?)?;
    if rest.len() > 3 || (rt.namespaced && rest.len() > 1) {
        return None;
    }
    Some(Target {
        rt,
        namespace: None,
        name: rest.get(1).map(|s| s.to_string()),
        subresource: rest.get(2).map(|s| s.to_string()),
    })
}

fn record(cluster: &Cluster, method: &Method, uri: &Uri, headers: &HeaderMap, body: &Bytes) {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let parsed = if body.is_empty() {
        None
    } else {
        serde_json::from_slice::<Value>(body).ok().or_else(|| {
            std::str::from_utf8(body)
                .ok()
                .and_then(|t| serde_saphyr::from_str::<Value>(t).ok())
        })
    };
    lock(&cluster.requests).push(RecordedRequest {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or_default().to_string(),
        content_type,
        body: parsed,
    });
}

async fn dispatch(
    State(cluster): State<Arc<Cluster>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&cluster, &method, &uri, &headers, &body);
    let query = Query::new(uri.query().unwrap_or_default());
    let segments: Vec<&str> = uri.path().trim_matches('/').split('/').collect();
    let result = match segments.as_slice() {
        ["version"] => Ok(json_response(StatusCode::OK, &discovery::version())),
        ["healthz" | "livez" | "readyz"] => Ok((StatusCode::OK, "ok").into_response()),
        ["api"] => Ok(discovery::core_versions(&cluster, &headers)),
        ["api", version] => discovery::resource_list(&cluster, "", version),
        ["apis"] => Ok(discovery::groups(&cluster, &headers)),
        ["apis", group] => discovery::group(&cluster, group),
        ["apis", group, version] => discovery::resource_list(&cluster, group, version),
        ["api", "v1", rest @ ..] => {
            serve_resource(&cluster, "", "v1", rest, &method, &headers, &query, body)
        }
        ["apis", group, version, rest @ ..] => serve_resource(
            &cluster, group, version, rest, &method, &headers, &query, body,
        ),
        _ => Err(ApiError::path_not_found()),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

/// A write's body, decoded as the apiserver decodes it: wrong types refused, unknown fields
/// pruned with warnings (or refused under `fieldValidation=Strict`). Protobuf and CBOR bodies
/// are refused with 415, on which client-go falls back to JSON, as it does with servers that
/// do not serve those encodings.
fn decode_body(
    rt: &ResourceType,
    headers: &HeaderMap,
    body: &Bytes,
    query: &Query,
) -> Result<(Value, Vec<String>), ApiError> {
    let ct = content_type(headers);
    let essence = ct.split(';').next().unwrap_or_default().trim();
    let mut obj = match essence {
        "" | "application/json" => parse_json(body)?,
        "application/yaml" => std::str::from_utf8(body)
            .ok()
            .and_then(|t| serde_saphyr::from_str::<Value>(t).ok())
            .ok_or_else(|| {
                ApiError::bad_request("the body of the request was in an unknown format")
            })?,
        _ => {
            return Err(ApiError {
                code: 415,
                reason: "UnsupportedMediaType",
                message: format!(
                    "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (got {ct:?})"
                ),
                details: None,
            });
        }
    };
    let warnings = decode_object(rt, &mut obj, query)?;
    Ok((obj, warnings))
}

fn decode_object(
    rt: &ResourceType,
    obj: &mut Value,
    query: &Query,
) -> Result<Vec<String>, ApiError> {
    let mode = FieldValidation::parse(query.get("fieldValidation"))?;
    schema::decode(rt, obj, mode)
}

fn parse_json(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body of the request was in an unknown format: {e}"
        ))
    })
}

#[allow(clippy::too_many_arguments)]
fn serve_resource(
    cluster: &Arc<Cluster>,
    group: &str,
    version: &str,
    rest: &[&str],
    method: &Method,
    headers: &HeaderMap,
    query: &Query,
    body: Bytes,
) -> Result<Response, ApiError> {
    let target = resolve(cluster, group, version, rest).ok_or_else(ApiError::path_not_found)?;
    let rt = target.rt;
    let ns = target.namespace.clone().unwrap_or_default();
    let manager = manager(query, headers);
    match (target.name.as_deref(), target.subresource.as_deref()) {
        (None, None) => match *method {
            Method::GET if query.flag("watch") => {
                watch::serve(cluster.clone(), rt, target.namespace.clone(), query)
            }
            Method::GET => list(cluster, rt, target.namespace.as_deref(), query),
            Method::POST => {
                if rt.namespaced && target.namespace.is_none() {
                    return Err(ApiError::method_not_supported(rt, "create"));
                }
                let (obj, warnings) = decode_body(rt, headers, &body, query)?;
                let created = cluster.store().create(
                    rt,
                    &ns,
                    obj,
                    query.dry_run(),
                    Writer::Update(&manager),
                )?;
                Ok(with_warnings(
                    json_response(StatusCode::CREATED, &created),
                    &warnings,
                ))
            }
            Method::DELETE => {
                delete_collection(cluster, rt, target.namespace.as_deref(), query, &body)
            }
            _ => Err(ApiError::method_not_supported(
                rt,
                &method.to_string().to_lowercase(),
            )),
        },
        (Some(name), None) => match *method {
            Method::GET => Ok(json_response(
                StatusCode::OK,
                &cluster.store().get_or_404(rt, &ns, name)?,
            )),
            Method::PUT => {
                let (obj, warnings) = decode_body(rt, headers, &body, query)?;
                let updated = cluster.store().replace(
                    rt,
                    &ns,
                    name,
                    obj,
                    WriteTarget::Main,
                    query.dry_run(),
                    Writer::Update(&manager),
                )?;
                Ok(with_warnings(
                    json_response(StatusCode::OK, &updated),
                    &warnings,
                ))
            }
            Method::PATCH => patch_object(
                cluster,
                rt,
                &ns,
                name,
                WriteTarget::Main,
                headers,
                query,
                &body,
            ),
            Method::DELETE => delete_one(cluster, rt, &ns, name, query, &body),
            _ => Err(ApiError::method_not_supported(
                rt,
                &method.to_string().to_lowercase(),
            )),
        },
        (Some(name), Some("status")) if rt.has_status_subresource() => match *method {
            Method::GET => Ok(json_response(
                StatusCode::OK,
                &cluster.store().get_or_404(rt, &ns, name)?,
            )),
            Method::PUT => {
                let obj = parse_json(&body)?;
                let updated = cluster.store().replace(
                    rt,
                    &ns,
                    name,
                    obj,
                    WriteTarget::Status,
                    query.dry_run(),
                    Writer::Update(&manager),
                )?;
                Ok(json_response(StatusCode::OK, &updated))
            }
            Method::PATCH => patch_object(
                cluster,
                rt,
                &ns,
                name,
                WriteTarget::Status,
                headers,
                query,
                &body,
            ),
            _ => Err(ApiError::method_not_supported(
                rt,
                &method.to_string().to_lowercase(),
            )),
        },
        (Some(name), Some("scale")) if rt.has_scale_subresource() => {
            serve_scale(cluster, rt, &ns, name, method, headers, query, &body)
        }
        (Some(name), Some("log")) if rt.kind == "Pod" && *method == Method::GET => {
            super::logs::serve(cluster, &ns, name, query)
        }
        (Some(name), Some("finalize")) if rt.kind == "Namespace" && *method == Method::PUT => {
            let obj = parse_json(&body)?;
            let finalizers = obj["spec"]["finalizers"].clone();
            let updated = cluster
                .store()
                .modify_as(rt, "", name, &manager, "finalize", |o| {
                    o["spec"]["finalizers"] = finalizers
                })
                .ok_or_else(|| ApiError::not_found(rt, name))?;
            Ok(json_response(StatusCode::OK, &updated))
        }
        _ => Err(ApiError::path_not_found()),
    }
}

fn list(
    cluster: &Cluster,
    rt: &'static ResourceType,
    ns: Option<&str>,
    query: &Query,
) -> Result<Response, ApiError> {
    let labels = query.label_selector()?;
    let fields = query.field_selector(rt)?;
    let store = cluster.store();
    let mut items = store.list(rt, ns, labels.as_ref(), fields.as_ref());
    let revision = store.revision().to_string();
    drop(store);
    // Pagination: the continue token is the namespace/name after which the next page starts.
    if let Some(token) = query.get("continue").filter(|t| !t.is_empty()) {
        let (tns, tname) = token.split_once('/').unwrap_or(("", token));
        items.retain(|o| (namespace_of(o), name_of(o)) > (tns, tname));
    }
    let mut metadata = json!({"resourceVersion": revision});
    if let Some(limit) = query
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0)
        && items.len() > limit
    {
        let remaining = items.len() - limit;
        items.truncate(limit);
        let last = items.last().expect("limit > 0");
        metadata["continue"] = json!(format!("{}/{}", namespace_of(last), name_of(last)));
        metadata["remainingItemCount"] = json!(remaining);
    }
    if !rt.group.contains('.') || rt.group.ends_with(".k8s.io") {
        // Built-in types are listed without per-item apiVersion/kind, as the apiserver encodes them.
        for item in &mut items {
            if let Some(o) = item.as_object_mut() {
                o.remove("apiVersion");
                o.remove("kind");
            }
        }
    }
    let body = json!({
        "kind": format!("{}List", rt.kind),
        "apiVersion": rt.api_version(),
        "metadata": metadata,
        "items": items,
    });
    Ok(json_response(StatusCode::OK, &body))
}

fn parse_propagation(s: &str) -> Result<Propagation, ApiError> {
    match s {
        "Background" => Ok(Propagation::Background),
        "Foreground" => Ok(Propagation::Foreground),
        "Orphan" => Ok(Propagation::Orphan),
        other => Err(ApiError::bad_request(format!(
            "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: {other:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""
        ))),
    }
}

/// `DeleteOptions` from the body and the query (either may carry them).
fn delete_options(query: &Query, body: &Bytes) -> Result<DeleteOptions, ApiError> {
    let mut opts = DeleteOptions {
        dry_run: query.dry_run(),
        ..DeleteOptions::default()
    };
    if let Some(p) = query.get("propagationPolicy") {
        opts.propagation = Some(parse_propagation(p)?);
    }
    if query.get("orphanDependents") == Some("true") {
        opts.propagation = Some(Propagation::Orphan);
    }
    if !body.is_empty() {
        let b = parse_json(body)?;
        if let Some(p) = b["propagationPolicy"].as_str() {
            opts.propagation = Some(parse_propagation(p)?);
        }
        if b["orphanDependents"] == json!(true) {
            opts.propagation = Some(Propagation::Orphan);
        }
        opts.precondition_uid = b["preconditions"]["uid"].as_str().map(str::to_string);
        opts.precondition_resource_version = b["preconditions"]["resourceVersion"]
            .as_str()
            .map(str::to_string);
        if b["dryRun"]
            .as_array()
            .is_some_and(|d| d.iter().any(|x| x == "All"))
        {
            opts.dry_run = true;
        }
    }
    Ok(opts)
}

fn with_warnings(mut response: Response, warnings: &[String]) -> Response {
    for w in warnings {
        if let Ok(v) = format!("299 - {w:?}").parse() {
            response.headers_mut().append(header::WARNING, v);
        }
    }
    response
}

fn delete_one(
    cluster: &Cluster,
    rt: &'static ResourceType,
    ns: &str,
    name: &str,
    query: &Query,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let opts = delete_options(query, body)?;
    let deletion = cluster.store().delete(rt, ns, name, &opts)?;
    Ok(with_warnings(
        json_response(StatusCode::OK, &deletion.object),
        &deletion.warnings,
    ))
}

fn delete_collection(
    cluster: &Cluster,
    rt: &'static ResourceType,
    ns: Option<&str>,
    query: &Query,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let opts = delete_options(query, body)?;
    let labels = query.label_selector()?;
    let fields = query.field_selector(rt)?;
    let mut store = cluster.store();
    let victims = store.list(rt, ns, labels.as_ref(), fields.as_ref());
    let mut deleted = Vec::new();
    let mut warnings = Vec::new();
    for v in victims {
        if let Ok(d) = store.delete(rt, namespace_of(&v), name_of(&v), &opts) {
            deleted.push(d.object);
            for w in d.warnings {
                if !warnings.contains(&w) {
                    warnings.push(w);
                }
            }
        }
    }
    let revision = store.revision().to_string();
    drop(store);
    let body = json!({
        "kind": format!("{}List", rt.kind),
        "apiVersion": rt.api_version(),
        "metadata": {"resourceVersion": revision},
        "items": deleted,
    });
    Ok(with_warnings(
        json_response(StatusCode::OK, &body),
        &warnings,
    ))
}

/// The field manager of a write: `fieldManager`, else from the User-Agent.
fn manager(query: &Query, headers: &HeaderMap) -> String {
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    managed_fields::manager_of(query.get("fieldManager"), user_agent)
}

fn content_type(headers: &HeaderMap) -> &str {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

fn unsupported_media_type(ct: &str) -> ApiError {
    ApiError {
        code: 415,
        reason: "UnsupportedMediaType",
        message: format!(
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {ct:?})"
        ),
        details: None,
    }
}

/// Checks the patch options and parses the body.
fn prepare_patch(
    headers: &HeaderMap,
    query: &Query,
    body: &Bytes,
) -> Result<(PatchType, Value), ApiError> {
    let ct = content_type(headers);
    let patch_type = PatchType::from_content_type(ct).ok_or_else(|| unsupported_media_type(ct))?;
    if patch_type == PatchType::Apply {
        if query.get("fieldManager").is_none_or(str::is_empty) {
            return Err(patch::field_manager_required());
        }
    } else if query.get("force").is_some() {
        return Err(patch::force_not_allowed());
    }
    let parsed = patch::parse_body(patch_type, body)?;
    Ok((patch_type, parsed))
}

#[allow(clippy::too_many_arguments)]
fn patch_object(
    cluster: &Cluster,
    rt: &'static ResourceType,
    ns: &str,
    name: &str,
    target: WriteTarget,
    headers: &HeaderMap,
    query: &Query,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let (patch_type, patch_body) = prepare_patch(headers, query, body)?;
    let manager = manager(query, headers);
    let subresource = match target {
        WriteTarget::Main => "",
        WriteTarget::Status => "status",
    };
    let mut store = cluster.store();
    let Some(current) = store.get(rt, ns, name).cloned() else {
        if patch_type == PatchType::Apply && target == WriteTarget::Main {
            // Server-side apply creates what does not exist yet.
            if name_of(&patch_body) != name {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({}) does not match the name on the URL ({name})",
                    name_of(&patch_body)
                )));
            }
            let mut patch_body = patch_body;
            let warnings = decode_object(rt, &mut patch_body, query)?;
            let applied = managed_fields::apply(
                rt,
                None,
                &patch_body,
                &manager,
                query.flag("force"),
                subresource,
            )?;
            let created = store.create(rt, ns, applied, query.dry_run(), Writer::Apply)?;
            return Ok(with_warnings(
                json_response(StatusCode::CREATED, &created),
                &warnings,
            ));
        }
        return Err(ApiError::not_found(rt, name));
    };
    if patch_type == PatchType::Apply {
        let (g, _) =
            resources::split_api_version(patch_body["apiVersion"].as_str().unwrap_or_default());
        if patch_body["kind"].as_str() != Some(rt.kind) || g != rt.group {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({}) does not match the expected API version ({})",
                patch_body["apiVersion"].as_str().unwrap_or_default(),
                rt.api_version()
            )));
        }
    }
    let (patched, warnings, writer) = if patch_type == PatchType::Apply {
        let mut config = patch_body;
        let warnings = decode_object(rt, &mut config, query)?;
        let applied = managed_fields::apply(
            rt,
            Some(&current),
            &config,
            &manager,
            query.flag("force"),
            subresource,
        )?;
        (applied, warnings, Writer::Apply)
    } else {
        let mut patched = patch::apply(patch_type, &current, &patch_body)?;
        let warnings = decode_object(rt, &mut patched, query)?;
        (patched, warnings, Writer::Update(&manager))
    };
    if name_of(&patched) != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({}) does not match the name on the URL ({name})",
            name_of(&patched)
        )));
    }
    // A resourceVersion the patch sets is a precondition; a patch that leaves it keeps the current one.
    let updated = store.replace(rt, ns, name, patched, target, query.dry_run(), writer)?;
    Ok(with_warnings(
        json_response(StatusCode::OK, &updated),
        &warnings,
    ))
}

/// The autoscaling/v1 Scale view of a workload.
fn scale_of(obj: &Value) -> Value {
    let selector = LabelSelector::from_structured(&obj["spec"]["selector"]).to_query();
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": obj["metadata"]["name"],
            "namespace": obj["metadata"]["namespace"],
            "uid": obj["metadata"]["uid"],
            "resourceVersion": obj["metadata"]["resourceVersion"],
            "creationTimestamp": obj["metadata"]["creationTimestamp"],
        },
        "spec": {"replicas": obj["spec"]["replicas"].as_i64().unwrap_or(0)},
        "status": {"replicas": obj["status"]["replicas"].as_i64().unwrap_or(0), "selector": selector},
    })
}

#[allow(clippy::too_many_arguments)]
fn serve_scale(
    cluster: &Cluster,
    rt: &'static ResourceType,
    ns: &str,
    name: &str,
    method: &Method,
    headers: &HeaderMap,
    query: &Query,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let mut store = cluster.store();
    let current = store.get_or_404(rt, ns, name)?;
    let scale = scale_of(&current);
    let new_scale = match *method {
        Method::GET => return Ok(json_response(StatusCode::OK, &scale)),
        Method::PUT => parse_json(body)?,
        Method::PATCH => {
            drop(store);
            let (patch_type, patch_body) = prepare_patch(headers, query, body)?;
            store = cluster.store();
            patch::apply(patch_type, &scale, &patch_body)?
        }
        _ => {
            return Err(ApiError::method_not_supported(
                rt,
                &method.to_string().to_lowercase(),
            ));
        }
    };
    if let Some(rv) = new_scale["metadata"]["resourceVersion"].as_str()
        && !rv.is_empty()
        && current["metadata"]["resourceVersion"].as_str() != Some(rv)
    {
        return Err(ApiError::stale(rt, name));
    }
    let Some(replicas) = new_scale["spec"]["replicas"].as_i64().filter(|r| *r >= 0) else {
        return Err(ApiError::invalid(
            rt,
            name,
            "spec.replicas",
            "Invalid value: must be greater than or equal to 0",
        ));
    };
    if query.dry_run() {
        let mut s = scale;
        s["spec"]["replicas"] = json!(replicas);
        return Ok(json_response(StatusCode::OK, &s));
    }
    let updated = store
        .modify_as(rt, ns, name, &manager(query, headers), "scale", |o| {
            o["spec"]["replicas"] = json!(replicas)
        })
        .ok_or_else(|| ApiError::not_found(rt, name))?;
    Ok(json_response(StatusCode::OK, &scale_of(&updated)))
}

/// A plain-text response (pod logs).
pub fn text_response(text: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain")],
        Body::from(text),
    )
        .into_response()
}
