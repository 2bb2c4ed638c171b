//! `http.request`: any call to an `http` connection (or a plain URL), for what the dedicated kinds
//! do not cover.

use async_trait::async_trait;
use reqwest::Method;
use runbook_engine::connection::Connection;
use runbook_engine::kind::{Kind, StepContext, StepError};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{connect, from_connection};

pub struct Request;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestInput {
    /// The `http` connection: its URL is the base of `path`, and its credentials are used.
    pub connection: Option<String>,
    /// A path under the connection's URL, e.g. `_cluster/health`.
    pub path: Option<String>,
    /// A full URL, without a connection (or overriding its base).
    pub url: Option<String>,
    /// GET (default), POST, PUT, DELETE, HEAD or PATCH.
    #[serde(default = "get")]
    pub method: String,
    /// A JSON body (any value; sent as `application/json`).
    pub body: Option<Value>,
    /// Query parameters.
    #[serde(default)]
    pub query: Map<String, Value>,
    /// Statuses that count as success (default: any 2xx).
    pub expect_status: Option<Vec<u16>>,
}

fn get() -> String {
    "GET".into()
}

#[async_trait]
impl Kind for Request {
    type Input = RequestInput;
    fn name(&self) -> &'static str {
        "http.request"
    }
    fn about(&self) -> &'static str {
        "Send one HTTP request (method, path or url, JSON body) through an `http` connection; an unexpected status fails the step. Outputs status, json, body."
    }
    fn outputs(&self) -> &'static [&'static str] {
        &["status", "json", "body"]
    }
    fn check(&self, input: &RequestInput) -> Vec<String> {
        let mut problems = Vec::new();
        match (&input.path, &input.url) {
            (Some(_), Some(_)) => problems.push("`http.request` takes either `path` (with a connection) or `url`, not both".into()),
            (None, None) => problems.push("`http.request` needs `path` (under the connection's URL) or `url`".into()),
            (Some(_), None) if input.connection.is_none() => problems.push("`path` is relative to a connection's URL; add `connection: NAME` or give a full `url`".into()),
            _ => {}
        }
        let m = &input.method;
        if !m.contains("{{") && Method::from_bytes(m.to_uppercase().as_bytes()).is_err() {
            problems.push(format!("`method: {m}` is not an HTTP method"));
        }
        problems
    }
    fn destructive(&self, input: &RequestInput) -> bool {
        input.method.eq_ignore_ascii_case("DELETE")
    }
    fn idempotent(&self, input: &RequestInput) -> bool {
        // POST and PATCH may create or change something each time; the others are idempotent by HTTP's rules.
        !matches!(input.method.to_uppercase().as_str(), "POST" | "PATCH")
    }
    fn describe(&self, input: &RequestInput) -> String {
        let method = input.method.to_uppercase();
        let target = input
            .url
            .as_deref()
            .or(input.path.as_deref())
            .unwrap_or("?");
        match &input.connection {
            Some(c) => format!("{method} {target} ({c})"),
            None => format!("{method} {target}"),
        }
    }
    async fn run(&self, ctx: &StepContext, input: RequestInput) -> Result<Value, StepError> {
        let method = Method::from_bytes(input.method.to_uppercase().as_bytes()).map_err(|_| {
            StepError::permanent(format!("`method: {}` is not an HTTP method", input.method))
        })?;
        let endpoint = match &input.connection {
            Some(name) => connect(ctx, name)?,
            None => {
                let url = input.url.clone().unwrap_or_default();
                let plain = Connection {
                    name: "(url)".into(),
                    kind: "http".into(),
                    fields: Map::from_iter([("url".to_string(), Value::String(url))]),
                };
                from_connection(&plain, ctx)?
            }
        };
        let target = input.url.as_deref().or(input.path.as_deref()).unwrap_or("");
        let mut request = endpoint.request(method.clone(), target);
        if !input.query.is_empty() {
            let pairs: Vec<(String, String)> = input
                .query
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string()),
                    )
                })
                .collect();
            request = request.query(&pairs);
        }
        if let Some(body) = &input.body {
            request = request.json(body);
        }
        let what = format!("{method} {target}");
        let reply = endpoint.send(request, &what).await?;
        let expected = match &input.expect_status {
            Some(list) => list.contains(&reply.status.as_u16()),
            None => reply.status.is_success(),
        };
        if !expected {
            return Err(reply.fail(&what));
        }
        Ok(json!({"status": reply.status.as_u16(), "json": reply.json, "body": reply.text}))
    }
}
