//! `opensearch.repository`: list the snapshot repositories, or register one (e.g. a read-only
//! repository on a bucket restored from off-site).

use async_trait::async_trait;
use reqwest::Method;
use runbook_engine::kind::{Kind, StepContext, StepError};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::http::connect;

pub struct Repository;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RepositoryInput {
    /// The `http` connection of the cluster.
    pub connection: String,
    /// `list` (default) or `register`.
    #[serde(default)]
    pub action: Action,
    /// The repository to register (or, with `list`, the only one to show).
    pub name: Option<String>,
    /// Repository type (default `s3`).
    #[serde(rename = "type")]
    pub repo_type: Option<String>,
    /// Repository settings, e.g. `{bucket: opensearch-offsite, client: default, base_path: ...}`.
    #[serde(default)]
    pub settings: Map<String, Value>,
    /// Register it read-only (`settings.readonly: true`), so this cluster never writes to it.
    #[serde(default)]
    pub readonly: bool,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    #[default]
    List,
    Register,
}

#[async_trait]
impl Kind for Repository {
    type Input = RepositoryInput;
    fn name(&self) -> &'static str {
        "opensearch.repository"
    }
    fn about(&self) -> &'static str {
        "List snapshot repositories, or register one (type, settings, optionally read-only). Outputs repositories [{name, type, settings}] or {name, acknowledged}."
    }
    fn outputs(&self) -> &'static [&'static str] {
        &["repositories", "name", "acknowledged"]
    }
    fn check(&self, input: &RepositoryInput) -> Vec<String> {
        if input.action == Action::Register && input.name.is_none() {
            return vec!["`action: register` needs the repository's `name`".into()];
        }
        Vec::new()
    }
    fn idempotent(&self, _input: &RepositoryInput) -> bool {
        true
    }
    fn describe(&self, input: &RepositoryInput) -> String {
        match input.action {
            Action::Register => format!(
                "register snapshot repository {} ({})",
                input.name.as_deref().unwrap_or("?"),
                input.connection
            ),
            Action::List => format!("list snapshot repositories ({})", input.connection),
        }
    }
    async fn run(&self, ctx: &StepContext, input: RepositoryInput) -> Result<Value, StepError> {
        let endpoint = connect(ctx, &input.connection)?;
        match input.action {
            Action::List => {
                let path = format!("_snapshot/{}", input.name.as_deref().unwrap_or(""));
                let reply = endpoint
                    .send(
                        endpoint.request(Method::GET, &path),
                        "listing snapshot repositories",
                    )
                    .await?;
                if !reply.status.is_success() {
                    return Err(reply.fail("listing snapshot repositories"));
                }
                let repositories: Vec<Value> = reply
                    .json
                    .as_ref()
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                    .map(|(name, repo)| json!({"name": name, "type": repo.get("type"), "settings": repo.get("settings")}))
                    .collect();
                Ok(json!({"repositories": repositories}))
            }
            Action::Register => {
                let name = input.name.ok_or_else(|| {
                    StepError::permanent("`action: register` needs the repository's `name`")
                })?;
                let mut settings = input.settings;
                if input.readonly {
                    settings.insert("readonly".into(), Value::Bool(true));
                }
                let body = json!({"type": input.repo_type.as_deref().unwrap_or("s3"), "settings": settings});
                let what = format!("registering snapshot repository `{name}`");
                let reply = endpoint
                    .send(
                        endpoint
                            .request(Method::PUT, &format!("_snapshot/{name}"))
                            .json(&body),
                        &what,
                    )
                    .await?;
                let acknowledged = reply
                    .json
                    .as_ref()
                    .and_then(|j| j.get("acknowledged"))
                    .and_then(Value::as_bool)
                    == Some(true);
                if !reply.status.is_success() || !acknowledged {
                    return Err(reply.fail(&what));
                }
                Ok(json!({"name": name, "acknowledged": true}))
            }
        }
    }
}
