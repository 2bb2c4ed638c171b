//! Where repositories keep their data: the object store an `s3` repository's bucket lives in
//! (a real S3 server such as moto, or an in-memory one when a test starts none) and the
//! filesystem an `fs` repository's `location` names (in memory: nothing is written to disk).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::Duration;

/// Blobs by container (bucket or fs location) and key.
#[derive(Debug)]
pub enum ObjectStore {
    Memory(BTreeMap<String, BTreeMap<String, Vec<u8>>>),
    /// An S3 server on loopback, path-style, e.g. `http://127.0.0.1:5000`. Requests name the
    /// access key in their `Authorization` header but are not signed: moto does not check
    /// signatures, and refuses anonymous reads of objects.
    S3 {
        endpoint: String,
    },
}

/// What an S3 server said when a call failed: its status and error code, as the repository
/// plugin reports them.
#[derive(Debug, Clone)]
pub struct StoreError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl StoreError {
    fn no_such_bucket() -> StoreError {
        StoreError {
            status: 404,
            code: "NoSuchBucket".into(),
            message: "The specified bucket does not exist".into(),
        }
    }
    fn io(e: impl std::fmt::Display) -> StoreError {
        StoreError {
            status: 0,
            code: "IOException".into(),
            message: e.to_string(),
        }
    }
}

impl ObjectStore {
    pub fn memory() -> ObjectStore {
        ObjectStore::Memory(BTreeMap::new())
    }

    pub fn bucket_exists(&self, bucket: &str) -> Result<bool, StoreError> {
        match self {
            ObjectStore::Memory(m) => Ok(m.contains_key(bucket)),
            ObjectStore::S3 { endpoint } => {
                let (status, _) = s3_call(endpoint, "HEAD", &format!("/{bucket}"), &[])?;
                match status {
                    200 => Ok(true),
                    404 => Ok(false),
                    other => Err(StoreError {
                        status: other,
                        code: "Unexpected".into(),
                        message: format!("HEAD bucket answered {other}"),
                    }),
                }
            }
        }
    }

    pub fn create_bucket(&mut self, bucket: &str) -> Result<(), StoreError> {
        match self {
            ObjectStore::Memory(m) => {
                m.entry(bucket.into()).or_default();
                Ok(())
            }
            ObjectStore::S3 { endpoint } => {
                let (status, body) = s3_call(endpoint, "PUT", &format!("/{bucket}"), &[])?;
                match status {
                    200 | 409 => Ok(()),
                    other => Err(error_of(other, &body)),
                }
            }
        }
    }

    /// A blob, or `None` when the key does not exist; a missing bucket is an error.
    pub fn get(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match self {
            ObjectStore::Memory(m) => m
                .get(bucket)
                .map(|b| b.get(key).cloned())
                .ok_or_else(StoreError::no_such_bucket),
            ObjectStore::S3 { endpoint } => {
                let (status, body) = s3_call(endpoint, "GET", &format!("/{bucket}/{key}"), &[])?;
                match status {
                    200 => Ok(Some(body)),
                    404 if String::from_utf8_lossy(&body).contains("NoSuchKey") => Ok(None),
                    other => Err(error_of(other, &body)),
                }
            }
        }
    }

    pub fn put(&mut self, bucket: &str, key: &str, data: &[u8]) -> Result<(), StoreError> {
        match self {
            ObjectStore::Memory(m) => {
                m.get_mut(bucket)
                    .ok_or_else(StoreError::no_such_bucket)?
                    .insert(key.into(), data.to_vec());
                Ok(())
            }
            ObjectStore::S3 { endpoint } => {
                let (status, body) = s3_call(endpoint, "PUT", &format!("/{bucket}/{key}"), data)?;
                match status {
                    200 => Ok(()),
                    other => Err(error_of(other, &body)),
                }
            }
        }
    }
}

fn error_of(status: u16, body: &[u8]) -> StoreError {
    let text = String::from_utf8_lossy(body);
    let tag = |name: &str| {
        text.split(&format!("<{name}>"))
            .nth(1)
            .and_then(|rest| rest.split(&format!("</{name}>")).next())
            .unwrap_or("")
            .to_string()
    };
    StoreError {
        status,
        code: tag("Code"),
        message: tag("Message"),
    }
}

/// One unsigned HTTP/1.0 request (so the reply is never chunked) to the S3 server.
fn s3_call(
    endpoint: &str,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<(u16, Vec<u8>), StoreError> {
    let host = endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let mut stream = std::net::TcpStream::connect(&host).map_err(StoreError::io)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(StoreError::io)?;
    let date = time::OffsetDateTime::now_utc();
    let day = format!(
        "{:04}{:02}{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    );
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential={}/{day}/{}/s3/aws4_request, SignedHeaders=host, Signature={}",
        crate::services::moto::ACCESS_KEY,
        crate::services::moto::REGION,
        "0".repeat(64)
    );
    let head = format!(
        "{method} {path} HTTP/1.0\r\nHost: {host}\r\nAuthorization: {auth}\r\nx-amz-content-sha256: UNSIGNED-PAYLOAD\r\nx-amz-date: {day}T000000Z\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).map_err(StoreError::io)?;
    stream.write_all(body).map_err(StoreError::io)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(StoreError::io)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| StoreError::io("no HTTP reply from the S3 server"))?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| StoreError::io(format!("bad status line: {head}")))?;
    Ok((status, raw[split + 4..].to_vec()))
}
