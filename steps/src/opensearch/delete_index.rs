//! `opensearch.delete-index`: delete indices (e.g. `.opensearch_dashboards_1` before restoring
//! it). A missing index is success: the goal is that it is gone.

use async_trait::async_trait;
use reqwest::Method;
use runbook_engine::kind::{StepContext, StepError, StepKind, parse_inputs, schema_of};
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
impl StepKind for DeleteIndex {
    fn name(&self) -> &'static str {
        "opensearch.delete-index"
    }
    fn about(&self) -> &'static str {
        "Delete one or more indices; one that does not exist counts as deleted. Outputs deleted and missing."
    }
    fn input_schema(&self) -> Value {
        schema_of::<DeleteIndexInput>()
    }
    fn check(&self, with: &Value) -> Vec<String> {
        let wild = |s: &str| s.contains('*') || s == "_all";
        let names: Vec<String> = match with.get("index") {
            Some(Value::String(s)) => s.split(',').map(str::to_string).collect(),
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            _ => Vec::new(),
        };
        names
            .iter()
            .filter(|n| wild(n))
            .map(|n| format!("`index: {n}` is a wildcard; name the indices to delete explicitly"))
            .collect()
    }
    fn destructive(&self, _with: &Value) -> bool {
        true
    }
    fn idempotent(&self, _with: &Value) -> bool {
        true
    }
    fn describe(&self, with: &Value) -> String {
        let index = match with.get("index") {
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| v.as_str().unwrap_or("?"))
                .collect::<Vec<_>>()
                .join(", "),
            Some(v) => v.as_str().unwrap_or("?").to_string(),
            None => "?".into(),
        };
        format!("delete index {index} ({})", super::text(with, "connection"))
    }
    async fn run(&self, ctx: &StepContext, with: Value) -> Result<Value, StepError> {
        let input: DeleteIndexInput = parse_inputs(self.name(), with)?;
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
