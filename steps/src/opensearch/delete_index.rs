//! `opensearch.delete-index`: delete indices (e.g. `.opensearch_dashboards_1` before restoring
//! it). A missing index is success: the goal is that it is gone.

use async_trait::async_trait;
use reqwest::Method;
use runbook_engine::kind::{Kind, StepContext, StepError};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Indices;
use crate::http::connect;

pub struct DeleteIndex;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteIndexInput {
    /// The `http` connection of the cluster.
    pub connection: String,
    /// The index, or a list of them.
    pub index: Indices,
}

#[async_trait]
impl Kind for DeleteIndex {
    type Input = DeleteIndexInput;
    fn name(&self) -> &'static str {
        "opensearch.delete-index"
    }
    fn about(&self) -> &'static str {
        "Delete one or more indices; one that does not exist counts as deleted. Outputs deleted and missing."
    }
    fn outputs(&self) -> &'static [&'static str] {
        &["deleted", "missing"]
    }
    fn check(&self, input: &DeleteIndexInput) -> Vec<String> {
        let wild = |s: &str| s.contains('*') || s == "_all";
        let names: Vec<&str> = match &input.index {
            Indices::Text(s) => s.split(',').collect(),
            Indices::List(a) => a.iter().map(String::as_str).collect(),
        };
        names
            .iter()
            .filter(|n| wild(n))
            .map(|n| format!("`index: {n}` is a wildcard; name the indices to delete explicitly"))
            .collect()
    }
    fn destructive(&self, _input: &DeleteIndexInput) -> bool {
        true
    }
    fn idempotent(&self, _input: &DeleteIndexInput) -> bool {
        true
    }
    fn describe(&self, input: &DeleteIndexInput) -> String {
        let index = match &input.index {
            Indices::List(a) => a.join(", "),
            Indices::Text(s) => s.clone(),
        };
        format!("delete index {index} ({})", input.connection)
    }
    async fn run(&self, ctx: &StepContext, input: DeleteIndexInput) -> Result<Value, StepError> {
        let endpoint = connect(ctx, &input.connection)?;
        let (mut deleted, mut missing) = (Vec::new(), Vec::new());
        for index in input.index.patterns() {
            let what = format!("deleting index `{index}`");
            let reply = endpoint
                .send(endpoint.request(Method::DELETE, &index), &what)
                .await?;
            let error_type = reply
                .json
                .as_ref()
                .and_then(|j| j.pointer("/error/type"))
                .and_then(Value::as_str);
            if reply.status.as_u16() == 404 && error_type == Some("index_not_found_exception") {
                missing.push(index);
            } else if reply.status.is_success() {
                deleted.push(index);
            } else {
                return Err(reply.fail(&what));
            }
        }
        Ok(json!({"deleted": deleted, "missing": missing}))
    }
}
