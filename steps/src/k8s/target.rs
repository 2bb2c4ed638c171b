//! The inputs that name Kubernetes objects, shared by several kinds: a label selector written as
//! `app=x,tier!=db` or as a map, and finding the objects a step acts on.

use std::collections::BTreeMap;

use kube::api::{DynamicObject, ListParams};
use runbook_engine::kind::StepError;
use schemars::JsonSchema;
use serde::Deserialize;

use super::client::Cluster;
use super::resources::Resource;

/// A label selector: `app=grafana,tier!=db` or `{app: grafana}`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Selector {
    Text(String),
    Labels(BTreeMap<String, String>),
}

impl Selector {
    /// The selector as the API's `labelSelector` query parameter.
    pub fn to_query(&self) -> String {
        match self {
            Selector::Text(t) => t.trim().to_string(),
            Selector::Labels(m) => m
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(","),
        }
    }

    /// The selector as a `metav1.LabelSelector` (`matchLabels` plus `matchExpressions` for `!=`).
    pub fn to_label_selector(&self) -> Result<serde_json::Value, StepError> {
        let mut match_labels = serde_json::Map::new();
        let mut expressions = Vec::new();
        for term in self
            .to_query()
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            if let Some((k, v)) = term.split_once("!=") {
                expressions.push(
                    serde_json::json!({"key": k.trim(), "operator": "NotIn", "values": [v.trim()]}),
                );
            } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
                match_labels.insert(k.trim().to_string(), v.trim().into());
            } else if let Some(k) = term.strip_prefix('!') {
                expressions.push(serde_json::json!({"key": k.trim(), "operator": "DoesNotExist"}));
            } else if term.contains(' ') {
                return Err(StepError::permanent(format!(
                    "label selector term {term:?}: only `k=v`, `k!=v`, `k` and `!k` are supported here"
                )));
            } else {
                expressions.push(serde_json::json!({"key": term, "operator": "Exists"}));
            }
        }
        let mut selector = serde_json::json!({});
        if !match_labels.is_empty() {
            selector["matchLabels"] = match_labels.into();
        }
        if !expressions.is_empty() {
            selector["matchExpressions"] = expressions.into();
        }
        Ok(selector)
    }
}

/// The objects a step acts on: the one named (missing: empty), or those the selector matches.
pub async fn find(
    cluster: &Cluster,
    resource: &Resource,
    namespace: &str,
    name: Option<&str>,
    selector: Option<&Selector>,
) -> Result<Vec<DynamicObject>, StepError> {
    let api = resource.api(&cluster.client, namespace);
    match (name, selector) {
        (Some(name), None) => match api.get_opt(name).await {
            Ok(found) => Ok(found.into_iter().collect()),
            Err(e) => Err(super::api_error(
                &format!("reading {} {name}", resource.api.kind),
                e,
            )),
        },
        (None, Some(selector)) => {
            let params = ListParams::default().labels(&selector.to_query());
            let list = api.list(&params).await.map_err(|e| {
                super::api_error(
                    &format!("listing {} by {}", resource.api.plural, selector.to_query()),
                    e,
                )
            })?;
            Ok(list.items)
        }
        _ => Err(StepError::permanent(
            "give exactly one of `name` or `selector`",
        )),
    }
}

/// `check` for kinds that take `name` xor `selector`.
pub fn name_xor_selector(name: Option<&str>, selector: Option<&Selector>) -> Vec<String> {
    match (name, selector) {
        (Some(_), Some(_)) => vec!["give `name` or `selector`, not both".into()],
        (None, None) => {
            vec!["give `name` (one object) or `selector` (every object whose labels match)".into()]
        }
        _ => Vec::new(),
    }
}

/// How a selector or name reads in `plan`.
pub fn describe_target(name: Option<&str>, selector: Option<&Selector>) -> String {
    match (name, selector) {
        (Some(name), _) => name.to_string(),
        (None, Some(Selector::Text(s))) => format!("every object with labels {s}"),
        (None, Some(selector)) => format!("every object with labels {}", selector.to_query()),
        (None, None) => "?".into(),
    }
}
