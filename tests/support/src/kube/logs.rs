//! `GET pods/{name}/log`: the text a test scripted for the pod, with the kubelet's refusals for
//! pods that have not started and for multi-container pods without `?container=`.

use axum::response::Response;
use serde_json::Value;

use super::meta::label;
use super::resources;
use super::routes::{Query, text_response};
use super::state::Cluster;
use super::status::ApiError;

/// The name a pod script is matched on: the owning Job's name, else the pod's own name.
pub fn script_owner_name(pod: &Value) -> String {
    label(pod, "batch.kubernetes.io/job-name")
        .or_else(|| label(pod, "job-name"))
        .or_else(|| pod["metadata"]["name"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// The full log of a pod, as scripted.
pub fn pod_log(cluster: &Cluster, namespace: &str, pod: &Value) -> String {
    let name = pod["metadata"]["name"].as_str().unwrap_or_default();
    let scripts = cluster.scripts();
    if let Some((_, text)) = scripts
        .pod_logs
        .iter()
        .rev()
        .find(|((ns, p), _)| ns == namespace && p == name)
    {
        return text.clone();
    }
    scripts
        .pod_script(&script_owner_name(pod), pod)
        .map(|s| s.logs)
        .unwrap_or_default()
}

/// Serves the log endpoint.
pub fn serve(
    cluster: &Cluster,
    namespace: &str,
    name: &str,
    query: &Query,
) -> Result<Response, ApiError> {
    let rt = resources::by_plural("", "v1", "pods").expect("pods are served");
    let pod = cluster.store().get_or_404(rt, namespace, name)?;
    let containers: Vec<String> = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect();
    let container = match query.get("container") {
        Some(c) if !containers.iter().any(|x| x == c) => {
            return Err(ApiError::bad_request(format!(
                "container {c} is not valid for pod {name}"
            )));
        }
        Some(c) => c.to_string(),
        None if containers.len() > 1 => {
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                containers.join(" ")
            )));
        }
        None => containers.first().cloned().unwrap_or_default(),
    };
    if pod["status"]["phase"].as_str().unwrap_or("Pending") == "Pending" {
        return Err(ApiError::bad_request(format!(
            "container {container:?} in pod {name:?} is waiting to start: ContainerCreating"
        )));
    }
    let mut text = pod_log(cluster, namespace, &pod);
    if let Some(n) = query.get("tailLines").and_then(|n| n.parse::<usize>().ok()) {
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.len().saturating_sub(n);
        text = lines[start..].iter().map(|l| format!("{l}\n")).collect();
    }
    Ok(text_response(text))
}
