//! S3 kinds: `s3.list`, `s3.latest`, `s3.get`, `s3.put`, `s3.copy` and `s3.sync`, each talking to
//! the endpoint of an `s3` connection through `aws-sdk-s3`.

pub mod client;
pub mod copy;
mod counted;
pub mod error;
pub mod get;
mod insecure;
pub mod latest;
pub mod list;
pub mod put;
pub mod transfer;

use schemars::JsonSchema;
use serde::Deserialize;

/// A place in an object store: a connection, a bucket and an optional key prefix.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// The `s3` connection to use.
    pub connection: String,
    pub bucket: String,
    /// Only keys that start with this (e.g. `backups/`).
    #[serde(default)]
    pub prefix: String,
    /// One object instead of everything under `prefix` (`s3.copy` only).
    pub key: Option<String>,
}

impl Location {
    pub fn url(&self) -> String {
        format!(
            "s3://{}/{}",
            self.bucket,
            self.key.as_deref().unwrap_or(&self.prefix)
        )
    }

    /// `s3://bucket/prefix (connection)`, for `plan`.
    pub fn describe(&self) -> String {
        describe_place(
            &self.connection,
            &self.bucket,
            self.key.as_deref(),
            &self.prefix,
        )
    }
}

/// `s3://bucket/key-or-prefix (connection)`, for `plan`.
pub(crate) fn describe_place(
    connection: &str,
    bucket: &str,
    key: Option<&str>,
    prefix: &str,
) -> String {
    let key = key.filter(|k| !k.is_empty()).unwrap_or(prefix);
    format!("s3://{bucket}/{key} ({connection})")
}
