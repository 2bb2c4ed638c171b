//! `s3.put`: a file (streamed, multipart when large) or inline text into one object.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use runbook_engine::kind::{Kind, StepContext, StepError};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::client::connect;
use super::error::write_error;
use aws_sdk_s3::types::ChecksumAlgorithm;

use super::transfer::{Budget, MEMORY_BUDGET, Meta, Progress, Source, upload};

pub struct Put;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PutInput {
    /// The `s3` connection to use.
    pub connection: String,
    pub bucket: String,
    pub key: String,
    /// A file to upload (relative to the runbook).
    pub from: Option<String>,
    /// Text to store as the object.
    pub content: Option<String>,
    pub content_type: Option<String>,
    /// Replace an existing object (default true). With false an existing key fails the step, and
    /// the step is not destructive.
    pub overwrite: Option<bool>,
}

#[async_trait]
impl Kind for Put {
    type Input = PutInput;
    fn name(&self) -> &'static str {
        "s3.put"
    }
    fn about(&self) -> &'static str {
        "Upload a file (`from`, multipart when large) or text (`content`) as one object. Outputs key, size."
    }
    fn outputs(&self) -> &'static [&'static str] {
        &["key", "size"]
    }
    fn check(&self, input: &PutInput) -> Vec<String> {
        match (&input.from, &input.content) {
            (Some(_), Some(_)) => {
                vec!["`s3.put` takes either `from` (a file) or `content` (text), not both".into()]
            }
            (None, None) => vec!["`s3.put` needs `from: FILE` or `content: TEXT`".into()],
            _ => Vec::new(),
        }
    }
    fn destructive(&self, input: &PutInput) -> bool {
        input.overwrite != Some(false)
    }
    fn idempotent(&self, _input: &PutInput) -> bool {
        true
    }
    fn describe(&self, input: &PutInput) -> String {
        let what = input.from.as_deref().unwrap_or("text");
        format!("upload {what} to s3://{}/{}", input.bucket, input.key)
    }
    async fn run(&self, ctx: &StepContext, input: PutInput) -> Result<Value, StepError> {
        let s3 = connect(ctx, &input.connection)?;
        if input.overwrite == Some(false)
            && s3
                .client
                .head_object()
                .bucket(&input.bucket)
                .key(&input.key)
                .send()
                .await
                .is_ok()
        {
            return Err(StepError::permanent(format!(
                "s3://{}/{} exists and `overwrite: false`; remove it or set `overwrite: true`",
                input.bucket, input.key
            )));
        }
        let meta = Meta {
            content_type: input.content_type.clone(),
            ..Meta::default()
        };
        let (source, size) = match (&input.from, &input.content) {
            (Some(from), None) => {
                let path = ctx.path(from);
                let file = tokio::fs::File::open(&path).await.map_err(|e| {
                    StepError::permanent(format!("cannot open {}: {e}", path.display()))
                })?;
                let size = file
                    .metadata()
                    .await
                    .map_err(|e| {
                        StepError::permanent(format!("cannot read {}: {e}", path.display()))
                    })?
                    .len();
                (Source(file), size)
            }
            (None, Some(content)) => {
                let bytes = Bytes::from(content.clone().into_bytes());
                let size = bytes.len() as u64;
                let put = s3
                    .client
                    .put_object()
                    .bucket(&input.bucket)
                    .key(&input.key)
                    .set_content_type(meta.content_type)
                    .set_checksum_algorithm(s3.checksums.then_some(ChecksumAlgorithm::Crc32))
                    .body(bytes.into())
                    .send()
                    .await;
                if let Err(e) = put {
                    return Err(write_error(&s3, &input.bucket, &input.key, e).await);
                }
                return Ok(json!({"key": input.key, "size": size}));
            }
            _ => {
                return Err(StepError::permanent(
                    "`s3.put` needs exactly one of `from` or `content`",
                ));
            }
        };
        let progress: Arc<Progress> = Progress::new(ctx.progress.clone(), 1, size);
        upload(
            &s3,
            &input.bucket,
            &input.key,
            source,
            size,
            meta,
            &Budget::new(MEMORY_BUDGET),
            &progress,
        )
        .await?;
        Ok(json!({"key": input.key, "size": size}))
    }
}
