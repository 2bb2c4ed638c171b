//! `s3.get`: one object into a file (streamed), or its text as an output.

use async_trait::async_trait;
use runbook_engine::kind::{Kind, StepContext, StepError};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use super::client::connect;
use super::error::s3_error;

pub struct Get;

/// Objects read into the `content` output are capped: outputs live in the journal.
const MAX_CONTENT: u64 = 1 << 20;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetInput {
    /// The `s3` connection to use.
    pub connection: String,
    pub bucket: String,
    pub key: String,
    /// Write the object to this file (relative to the runbook). Without it the object's text
    /// (at most 1 MiB) is the `content` output.
    pub to: Option<String>,
}

#[async_trait]
impl Kind for Get {
    type Input = GetInput;
    fn name(&self) -> &'static str {
        "s3.get"
    }
    fn about(&self) -> &'static str {
        "Download one object to a file (`to`), or read it (up to 1 MiB of text) into the `content` output. Outputs size, etag, and path or content."
    }
    fn outputs(&self) -> &'static [&'static str] {
        &["path", "size", "etag", "content"]
    }
    fn idempotent(&self, _input: &GetInput) -> bool {
        true
    }
    fn describe(&self, input: &GetInput) -> String {
        let (bucket, key) = (&input.bucket, &input.key);
        match &input.to {
            Some(to) => format!("download s3://{bucket}/{key} to {to}"),
            None => format!("read s3://{bucket}/{key}"),
        }
    }
    async fn run(&self, ctx: &StepContext, input: GetInput) -> Result<Value, StepError> {
        let s3 = connect(ctx, &input.connection)?;
        let url = format!("s3://{}/{}", input.bucket, input.key);
        let got = s3
            .client
            .get_object()
            .bucket(&input.bucket)
            .key(&input.key)
            .send()
            .await
            .map_err(|e| s3_error(&format!("reading {url}"), e))?;
        let size = got.content_length().unwrap_or(0).max(0) as u64;
        let etag = got.e_tag().unwrap_or_default().to_string();
        let mut body = got.body;
        let Some(to) = &input.to else {
            if size > MAX_CONTENT {
                return Err(StepError::permanent(format!(
                    "{url} is {size} bytes; read objects over 1 MiB into a file with `to:`"
                )));
            }
            let bytes = body
                .collect()
                .await
                .map_err(|e| StepError::new(format!("reading {url}: {e}")))?
                .into_bytes();
            let content = String::from_utf8(bytes.to_vec()).map_err(|_| {
                StepError::permanent(format!("{url} is not text; download it with `to:`"))
            })?;
            return Ok(json!({"content": content, "size": size, "etag": etag}));
        };
        let path = ctx.path(to);
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| StepError::permanent(format!("creating {}: {e}", parent.display())))?;
        }
        // Written next to the target and renamed, so a failed download never leaves half a file.
        let partial = path.with_extension("part");
        let mut file = tokio::fs::File::create(&partial)
            .await
            .map_err(|e| StepError::permanent(format!("creating {}: {e}", partial.display())))?;
        let mut done = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| StepError::new(format!("reading {url}: {e}")))?;
            file.write_all(&chunk)
                .await
                .map_err(|e| StepError::new(format!("writing {}: {e}", partial.display())))?;
            done += chunk.len() as u64;
            ctx.progress.position(
                format!(
                    "{} of {}",
                    super::transfer::human(done),
                    super::transfer::human(size)
                ),
                done,
                Some(size),
            );
        }
        file.flush()
            .await
            .map_err(|e| StepError::new(format!("writing {}: {e}", partial.display())))?;
        drop(file);
        tokio::fs::rename(&partial, &path)
            .await
            .map_err(|e| StepError::new(format!("renaming to {}: {e}", path.display())))?;
        Ok(json!({"path": path.display().to_string(), "size": done, "etag": etag}))
    }
}
