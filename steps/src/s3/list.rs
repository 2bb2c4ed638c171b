//! `s3.list`: the objects (and, with a delimiter, the common prefixes) under a prefix.

use async_trait::async_trait;
use aws_sdk_s3::primitives::DateTimeFormat;
use runbook_engine::kind::{Kind, StepContext, StepError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::client::{S3, connect};
use super::error::s3_error;

pub struct List;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListInput {
    /// The `s3` connection to use.
    pub connection: String,
    pub bucket: String,
    /// Only keys that start with this.
    #[serde(default)]
    pub prefix: String,
    /// Group keys by this separator (usually `/`): keys below the next one are reported once, as a
    /// common prefix, instead of one by one.
    pub delimiter: Option<String>,
}

/// One object as the kinds report it.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    /// RFC 3339, UTC.
    pub last_modified: String,
    #[serde(skip)]
    pub modified_millis: i64,
    pub etag: String,
}

/// Every object under `prefix` (following continuation tokens), and the common prefixes when a
/// delimiter is given.
pub async fn list_all(
    s3: &S3,
    bucket: &str,
    prefix: &str,
    delimiter: Option<&str>,
) -> Result<(Vec<ObjectInfo>, Vec<String>), StepError> {
    let mut objects = Vec::new();
    let mut prefixes = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = s3
            .client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_delimiter(delimiter.map(str::to_string))
            .set_continuation_token(token.take())
            .send()
            .await
            .map_err(|e| s3_error(&format!("listing s3://{bucket}/{prefix}"), e))?;
        for object in page.contents() {
            let modified = object.last_modified();
            objects.push(ObjectInfo {
                key: object.key().unwrap_or_default().to_string(),
                size: object.size().unwrap_or(0).max(0) as u64,
                last_modified: modified
                    .and_then(|t| t.fmt(DateTimeFormat::DateTime).ok())
                    .unwrap_or_default(),
                modified_millis: modified.and_then(|t| t.to_millis().ok()).unwrap_or(0),
                etag: object.e_tag().unwrap_or_default().to_string(),
            });
        }
        prefixes.extend(
            page.common_prefixes()
                .iter()
                .filter_map(|p| p.prefix().map(str::to_string)),
        );
        match page.next_continuation_token() {
            Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_string()),
            _ => break,
        }
    }
    Ok((objects, prefixes))
}

#[async_trait]
impl Kind for List {
    type Input = ListInput;
    fn name(&self) -> &'static str {
        "s3.list"
    }
    fn about(&self) -> &'static str {
        "List the objects under a prefix of a bucket (with `delimiter`, also the common prefixes). Outputs objects [{key, size, last_modified, etag}] and prefixes."
    }
    fn outputs(&self) -> &'static [&'static str] {
        &["objects", "prefixes", "count"]
    }
    fn idempotent(&self, _input: &ListInput) -> bool {
        true
    }
    fn describe(&self, input: &ListInput) -> String {
        format!(
            "list {}",
            super::describe_place(&input.connection, &input.bucket, None, &input.prefix)
        )
    }
    async fn run(&self, ctx: &StepContext, input: ListInput) -> Result<Value, StepError> {
        let s3 = connect(ctx, &input.connection)?;
        let (objects, prefixes) = list_all(
            &s3,
            &input.bucket,
            &input.prefix,
            input.delimiter.as_deref(),
        )
        .await?;
        Ok(json!({"objects": objects, "prefixes": prefixes, "count": objects.len()}))
    }
}
