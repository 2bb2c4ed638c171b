//! `s3.copy` and `s3.sync`: objects from one connection's bucket to another's (another provider,
//! another region, or the same store). `s3.sync` leaves objects already there with the same size
//! and checksum, so an interrupted sync resumes where it stopped.

use async_trait::async_trait;
use runbook_engine::kind::{Kind, StepContext, StepError, Templated};
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
    pub source: Templated<Location>,
    /// Where they go: `{connection, bucket, prefix?}` (or `key`); the source prefix is replaced by
    /// this one. A missing bucket is created.
    pub destination: Templated<Location>,
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
impl Kind for Copy {
    type Input = CopyInput;
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
    fn outputs(&self) -> &'static [&'static str] {
        &[
            "objects_copied",
            "objects_skipped",
            "bytes_copied",
            "objects_total",
            "bytes_total",
            "server_side",
        ]
    }
    fn check(&self, input: &CopyInput) -> Vec<String> {
        let mut problems = Vec::new();
        if self.sync && input.source.value().is_some_and(|s| s.key.is_some()) {
            problems.push("`s3.sync` works on prefixes; use `s3.copy` for one `key`".into());
        }
        for (field, value) in [
            ("concurrency", input.concurrency.map(|c| c as u64)),
            ("multipart_threshold_mib", input.multipart_threshold_mib),
        ] {
            if value == Some(0) {
                problems.push(format!("`{field}` must be at least 1"));
            }
        }
        problems
    }
    fn destructive(&self, input: &CopyInput) -> bool {
        input.overwrite != Some(false)
    }
    fn idempotent(&self, _input: &CopyInput) -> bool {
        true
    }
    fn describe(&self, input: &CopyInput) -> String {
        format!(
            "{} {} -> {}",
            if self.sync { "sync" } else { "copy" },
            input.source.show(Location::describe),
            input.destination.show(Location::describe)
        )
    }
    async fn run(&self, ctx: &StepContext, input: CopyInput) -> Result<Value, StepError> {
        let (from, to) = (
            input.source.rendered("source")?,
            input.destination.rendered("destination")?,
        );
        let source = Side {
            s3: connect(ctx, &from.connection)?,
            bucket: from.bucket.clone(),
            prefix: from.prefix.clone(),
        };
        let dest = Side {
            s3: connect(ctx, &to.connection)?,
            bucket: to.bucket.clone(),
            prefix: to.prefix.clone(),
        };
        let objects = match &from.key {
            Some(key) => {
                let head = source
                    .s3
                    .client
                    .head_object()
                    .bucket(&source.bucket)
                    .key(key)
                    .send()
                    .await;
                let head = head.map_err(|e| s3_error(&format!("reading {}", from.url()), e))?;
                let object = ObjectInfo {
                    key: key.clone(),
                    size: head.content_length().unwrap_or(0).max(0) as u64,
                    last_modified: String::new(),
                    modified_millis: 0,
                    etag: head.e_tag().unwrap_or_default().to_string(),
                };
                let dest_key = to.key.clone().unwrap_or_else(|| {
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
