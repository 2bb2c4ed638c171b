//! A finished Restore's warnings and errors, as `velero restore describe` shows them: Velero keeps
//! them in object storage, reachable through a DownloadRequest whose `downloadURL` (a pre-signed
//! URL) serves the gzip-compressed results file.

use std::io::Read;
use std::time::Duration;

use kube::Client;
use kube::api::{DeleteParams, PostParams};
use serde_json::{Value, json};

use crate::k8s::waiting::{Verdict, watch_until};

/// Messages of one results file, each `namespace: message` (or just the message).
pub async fn restore_messages(
    client: &Client,
    namespace: &str,
    restore: &str,
) -> Result<(Vec<String>, Vec<String>), String> {
    let api = super::api(client, namespace, "DownloadRequest")
        .await
        .map_err(|e| e.message)?;
    let name = runbook_engine::kind::object_name(&format!("{restore}-results"));
    let request = json!({
        "apiVersion": "velero.io/v1",
        "kind": "DownloadRequest",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"target": {"kind": "RestoreResults", "name": restore}},
    });
    let request: kube::api::DynamicObject =
        serde_json::from_value(request).map_err(|e| e.to_string())?;
    match api.create(&PostParams::default(), &request).await {
        Ok(_) => {}
        Err(e) if crate::k8s::is_conflict(&e) => {}
        Err(e) => return Err(format!("creating DownloadRequest: {e}")),
    }
    let url = watch_until(
        api.clone(),
        &name,
        Duration::from_secs(30),
        "Velero to process the DownloadRequest",
        |o| match o.and_then(|o| o.data["status"]["downloadURL"].as_str()) {
            Some(url) if !url.is_empty() => Verdict::Done(url.to_string()),
            _ => Verdict::Pending,
        },
    )
    .await
    .map_err(|e| e.message);
    let _ = api.delete(&name, &DeleteParams::default()).await;
    let body = fetch(&url?).await?;
    let mut text = String::new();
    flate2::read::GzDecoder::new(body.as_slice())
        .read_to_string(&mut text)
        .map_err(|e| format!("the results file is not gzip: {e}"))?;
    let results: Value =
        serde_json::from_str(&text).map_err(|e| format!("the results file is not JSON: {e}"))?;
    Ok((messages(&results["warnings"]), messages(&results["errors"])))
}

async fn fetch(url: &str) -> Result<Vec<u8>, String> {
    let response = reqwest::get(url)
        .await
        .map_err(|e| format!("downloading the results: {e}"))?;
    if !response.status().is_success() {
        return Err(format!(
            "downloading the results: HTTP {}",
            response.status()
        ));
    }
    response
        .bytes()
        .await
        .map(|b| b.to_vec())
        .map_err(|e| format!("downloading the results: {e}"))
}

/// Flattens Velero's `Result` (`velero`, `cluster`, `namespaces: {ns: [..]}`) into lines.
pub fn messages(result: &Value) -> Vec<String> {
    let mut lines = Vec::new();
    for scope in ["velero", "cluster"] {
        for m in result[scope]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            lines.push(format!("{scope}: {m}"));
        }
    }
    if let Some(namespaces) = result["namespaces"].as_object() {
        for (ns, list) in namespaces {
            for m in list
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                lines.push(format!("{ns}: {m}"));
            }
        }
    }
    lines
}
