//! Discovery: `/version`, `/api`, `/apis`, `/apis/{group}`, and the per-version
//! `APIResourceList`s, plus the aggregated `APIGroupDiscoveryList` (apidiscovery.k8s.io/v2) that
//! clients ask for with `Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList`.

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::resources::{self, ResourceType};
use super::routes::json_response;
use super::state::Cluster;
use super::status::ApiError;

const AGGREGATED_V2: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// `/version`, reporting a recent release.
pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "34",
        "emulationMajor": "1",
        "emulationMinor": "34",
        "gitVersion": "v1.34.0",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-08-27T00:00:00Z",
        "goVersion": "go1.24.6",
        "compiler": "gc",
        "platform": "linux/amd64"
    })
}

/// Whether the client asked for aggregated discovery (v2; v2beta1 is answered as v2 too).
fn wants_aggregated(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("as=APIGroupDiscoveryList") && v.contains("g=apidiscovery.k8s.io"))
}

fn aggregated_response(items: Vec<Value>) -> Response {
    let body = json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, AGGREGATED_V2)],
        serde_json::to_vec(&body).unwrap_or_default(),
    )
        .into_response()
}

fn subresource_entries(rt: &ResourceType) -> Vec<(String, Value, Vec<&'static str>)> {
    // (name, responseKind as {group, version, kind}, verbs)
    let own = json!({"group": rt.group, "version": rt.version, "kind": rt.kind});
    rt.subresources
        .iter()
        .map(|sub| match *sub {
            "scale" => (
                "scale".to_string(),
                json!({"group": "autoscaling", "version": "v1", "kind": "Scale"}),
                vec!["get", "patch", "update"],
            ),
            "log" => ("log".to_string(), own.clone(), vec!["get"]),
            "exec" => (
                "exec".to_string(),
                json!({"group": "", "version": "v1", "kind": "PodExecOptions"}),
                vec!["create", "get"],
            ),
            "finalize" => ("finalize".to_string(), own.clone(), vec!["update"]),
            other => (
                other.to_string(),
                own.clone(),
                vec!["get", "patch", "update"],
            ),
        })
        .collect()
}

/// The categories discovery lists (`kubectl get all` expands `all` through them).
fn categories(rt: &ResourceType) -> &'static [&'static str] {
    match (rt.group, rt.kind) {
        ("", "Pod" | "Service" | "ReplicationController")
        | ("apps", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet")
        | ("batch", "Job" | "CronJob") => &["all"],
        _ => &[],
    }
}

fn aggregated_resource(rt: &ResourceType) -> Value {
    let subresources: Vec<Value> = subresource_entries(rt)
        .into_iter()
        .map(|(name, kind, verbs)| json!({"subresource": name, "responseKind": kind, "verbs": verbs}))
        .collect();
    let mut r = json!({
        "resource": rt.plural,
        "responseKind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
        "scope": if rt.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": rt.singular,
        "verbs": rt.verbs(),
    });
    if !rt.short_names.is_empty() {
        r["shortNames"] = json!(rt.short_names);
    }
    if !categories(rt).is_empty() {
        r["categories"] = json!(categories(rt));
    }
    if !subresources.is_empty() {
        r["subresources"] = json!(subresources);
    }
    r
}

fn aggregated_group(types: &[&'static ResourceType], group: &str) -> Value {
    let versions: Vec<Value> = resources::group_versions(types)
        .into_iter()
        .filter(|(g, _)| *g == group)
        .map(|(g, v)| {
            let resources: Vec<Value> = types
                .iter()
                .copied()
                .filter(|r| r.group == g && r.version == v)
                .map(aggregated_resource)
                .collect();
            json!({"version": v, "resources": resources, "freshness": "Current"})
        })
        .collect();
    let metadata = if group.is_empty() {
        json!({"creationTimestamp": null})
    } else {
        json!({"name": group, "creationTimestamp": null})
    };
    json!({"metadata": metadata, "versions": versions})
}

/// `GET /api`.
pub fn core_versions(cluster: &Cluster, headers: &HeaderMap) -> Response {
    if wants_aggregated(headers) {
        let types = cluster.store().types();
        return aggregated_response(vec![aggregated_group(&types, "")]);
    }
    let address = cluster
        .base_url
        .get()
        .map(|u| u.trim_start_matches("http://").to_string())
        .unwrap_or_default();
    json_response(
        StatusCode::OK,
        &json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}],
        }),
    )
}

fn group_entry(types: &[&'static ResourceType], group: &str) -> Value {
    let versions: Vec<Value> = resources::group_versions(types)
        .into_iter()
        .filter(|(g, _)| *g == group)
        .map(|(g, v)| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
        .collect();
    json!({"name": group, "versions": versions, "preferredVersion": versions[0]})
}

fn named_groups(types: &[&'static ResourceType]) -> Vec<&'static str> {
    let mut groups: Vec<&str> = Vec::new();
    for (g, _) in resources::group_versions(types) {
        if !g.is_empty() && !groups.contains(&g) {
            groups.push(g);
        }
    }
    groups
}

/// `GET /apis`.
pub fn groups(cluster: &Cluster, headers: &HeaderMap) -> Response {
    let types = cluster.store().types();
    if wants_aggregated(headers) {
        return aggregated_response(
            named_groups(&types)
                .into_iter()
                .map(|g| aggregated_group(&types, g))
                .collect(),
        );
    }
    let groups: Vec<Value> = named_groups(&types)
        .into_iter()
        .map(|g| group_entry(&types, g))
        .collect();
    json_response(
        StatusCode::OK,
        &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}),
    )
}

/// `GET /apis/{group}`.
pub fn group(cluster: &Cluster, group: &str) -> Result<Response, ApiError> {
    let types = cluster.store().types();
    if !named_groups(&types).contains(&group) {
        return Err(ApiError::path_not_found());
    }
    let mut g = group_entry(&types, group);
    g["kind"] = json!("APIGroup");
    g["apiVersion"] = json!("v1");
    Ok(json_response(StatusCode::OK, &g))
}

/// `GET /api/v1` and `GET /apis/{group}/{version}`: the `APIResourceList`.
pub fn resource_list(cluster: &Cluster, group: &str, version: &str) -> Result<Response, ApiError> {
    let types = cluster.store().types();
    let served: Vec<&ResourceType> = types
        .iter()
        .copied()
        .filter(|r| r.group == group && r.version == version)
        .collect();
    if served.is_empty() {
        return Err(ApiError::path_not_found());
    }
    let mut resources = Vec::new();
    for rt in served {
        let mut r = json!({
            "name": rt.plural,
            "singularName": rt.singular,
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": rt.verbs(),
        });
        if !rt.short_names.is_empty() {
            r["shortNames"] = json!(rt.short_names);
        }
        if !categories(rt).is_empty() {
            r["categories"] = json!(categories(rt));
        }
        resources.push(r);
        for (sub, kind, verbs) in subresource_entries(rt) {
            let mut s = json!({
                "name": format!("{}/{}", rt.plural, sub),
                "singularName": "",
                "namespaced": rt.namespaced,
                "kind": kind["kind"],
                "verbs": verbs,
            });
            // A subresource of another group/version (Scale) names it.
            if kind["group"] != json!(rt.group) || kind["version"] != json!(rt.version) {
                s["group"] = kind["group"].clone();
                s["version"] = kind["version"].clone();
            }
            resources.push(s);
        }
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Ok(json_response(
        StatusCode::OK,
        &json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}),
    ))
}
