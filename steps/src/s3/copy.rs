//! `s3.copy` and `s3.sync`: objects from one connection's bucket to another's (another provider,
//! another region, or the same store). `s3.sync` leaves objects already there with the same size
//! and checksum, so an interrupted sync resumes where it stopped.

use async_trait::async_trait;
use runbook_engine::kind::{StepContext, StepError, StepKind, parse_inputs, schema_of};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Location;
use super::client::connect;
use super::error::s3_error;
use super::list::{ObjectInfo, list_all};
use super::transfer::{Options, STREAMED_PUT_MAX, Side, ensure_bucket, transfer};

/// `sync: false` is `s3.copy`, `sync: true` is `s3.sync`.
pub struct Copy {
    pub sync: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CopyInput {
    /// Where objects come from: `{connection, bucket, prefix?}` (or `key` for one object).
    pub source: Location,
    /// Where they go: `{connection, bucket, prefix?}` (or `key`); the source prefix is replaced by
    /// this one. A missing bucket is created.
    pub destination: Location,
    /// Objects copied at once (default 16). Memory stays bounded whatever this is.
    pub concurrency: Option<usize>,
    /// Objects up to this size (MiB, default 256) are streamed from one GET into one PUT (or
    /// copied by one CopyObject on one endpoint); larger ones go as a multipart upload, four parts
    /// at once, each a ranged GET streamed into a part (or an UploadPartCopy range).
    pub multipart_threshold_mib: Option<u64>,
    /// Replace destination objects with other content (default true). With false they fail the
    /// step instead, and the step is not destructive.
    pub overwrite: Option<bool>,
}

#[async_trait]
impl StepKind for Copy {
    fn name(&self) -> &'static str {
        if self.sync { "s3.sync" } else { "s3.copy" }
    }
    fn about(&self) -> &'static str {
        if self.sync {
            "Make a destination prefix hold the source's objects: copies what is missing or different (streaming, multipart, parallel, bounded memory; server-side on one endpoint), skips what has the same size and checksum. Outputs objects_copied, objects_skipped, bytes_copied."
        } else {
            "Copy objects (everything under `source.prefix`, or `source.key`) to another bucket or connection, streaming, multipart and in parallel. Outputs objects_copied, objects_skipped, bytes_copied."
        }
    }
    fn input_schema(&self) -> Value {
        schema_of::<CopyInput>()
    }
    fn check(&self, with: &Value) -> Vec<String> {
        let mut problems = Vec::new();
        if self.sync && with.pointer("/source/key").is_some() {
            problems.push("`s3.sync` works on prefixes; use `s3.copy` for one `key`".into());
        }
        for field in ["concurrency", "multipart_threshold_mib"] {
            if with.get(field).and_then(Value::as_u64) == Some(0) {
                problems.push(format!("`{field}` must be at least 1"));
            }
        }
        problems
    }
    fn destructive(&self, with: &Value) -> bool {
        with.get("overwrite").and_then(Value::as_bool) != Some(false)
    }
    fn idempotent(&self, _with: &Value) -> bool {
        true
    }
    fn describe(&self, with: &Value) -> String {
        format!(
            "{} {} -> {}",
            if self.sync { "sync" } else { "copy" },
            super::describe_location(with.get("source")),
            super::describe_location(with.get("destination"))
        )
    }
    async fn run(&self, ctx: &StepContext, with: Value) -> Result<Value, StepError> {
        let input: CopyInput = parse_inputs(self.name(), with)?;
        let source = Side {
            s3: connect(ctx, &input.source.connection)?,
            bucket: input.source.bucket.clone(),
            prefix: input.source.prefix.clone(),
        };
        let dest = Side {
            s3: connect(ctx, &input.destination.connection)?,
            bucket: input.destination.bucket.clone(),
            prefix: input.destination.prefix.clone(),
        };
        let objects = match &input.source.key {
            Some(key) => {
                let head = source
                    .s3
                    .client
                    .head_object()
                    .bucket(&source.bucket)
                    .key(key)
                    .send()
                    .await;
                let head =
                    head.map_err(|e| s3_error(&format!("reading {}", input.source.url()), e))?;
                let object = ObjectInfo {
                    key: key.clone(),
                    size: head.content_length().unwrap_or(0).max(0) as u64,
                    last_modified: String::new(),
                    modified_millis: 0,
                    etag: head.e_tag().unwrap_or_default().to_string(),
                };
                let dest_key = input.destination.key.clone().unwrap_or_else(|| {
                    format!("{}{}", dest.prefix, key.rsplit('/').next().unwrap_or(key))
                });
                vec![(object, dest_key)]
            }
            None => {
                let (listed, _) =
                    list_all(&source.s3, &source.bucket, &source.prefix, None).await?;
                listed
                    .into_iter()
                    // Folder markers (`dir/`) carry nothing; stores that have no folders refuse them.
                    .filter(|o| !(o.key.ends_with('/') && o.size == 0))
                    .map(|o| {
                        let dest_key = format!("{}{}", dest.prefix, &o.key[source.prefix.len()..]);
                        (o, dest_key)
                    })
                    .collect()
            }
        };
        ensure_bucket(&dest).await?;
        let options = Options {
            concurrency: input.concurrency.unwrap_or(16),
            multipart_threshold: input
                .multipart_threshold_mib
                .map_or(STREAMED_PUT_MAX, |mib| mib << 20),
            skip_same: self.sync,
            overwrite: input.overwrite.unwrap_or(true),
        };
        let summary = transfer(&source, &dest, objects, &options, ctx.progress.clone()).await?;
        Ok(json!(summary))
    }
}
