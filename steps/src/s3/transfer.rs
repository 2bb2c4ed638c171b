//! The copy engine behind `s3.copy`, `s3.sync` and large `s3.put`s: objects stream from source
//! to destination in parts, several at a time, with memory bounded by a byte budget whatever the
//! object sizes; objects over one part go up as multipart uploads whose parts upload in parallel.
//! When both sides are one store reached with one identity the server copies the bytes itself.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, MetadataDirective,
};
use bytes::{Bytes, BytesMut};
use futures_util::{StreamExt, TryStreamExt};
use runbook_engine::kind::StepError;
use runbook_engine::progress::ProgressSink;
use tokio::io::AsyncReadExt;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::client::S3;
use super::counted::counted;
use super::error::{s3_error, write_error};
use super::list::{ObjectInfo, list_all};

/// Parts are at least this big (S3's minimum is 5 MiB; bigger parts mean fewer requests).
pub const MIN_PART_SIZE: u64 = 8 << 20;
/// S3 allows at most this many parts per upload.
const MAX_PARTS: u64 = 10_000;
/// The largest object one CopyObject request may copy.
const MAX_SINGLE_COPY: u64 = 5 << 30;
/// Bytes held in part buffers at once, across every object in flight.
pub const MEMORY_BUDGET: u64 = 64 << 20;
/// User metadata recording the source's ETag, so a later sync recognises a copy whose own ETag
/// differs (multipart uploads have ETags of their parts, not of the content).
pub const SOURCE_ETAG: &str = "runbook-source-etag";

pub fn part_size(size: u64) -> u64 {
    let needed = size.div_ceil(MAX_PARTS).div_ceil(1 << 20) << 20;
    needed.max(MIN_PART_SIZE)
}

/// Bytes of part buffers that may exist at once; acquired in KiB before a buffer is filled.
#[derive(Clone)]
pub struct Budget(Arc<Semaphore>, u32);

impl Budget {
    pub fn new(bytes: u64) -> Budget {
        let kib = u32::try_from(bytes >> 10).unwrap_or(u32::MAX);
        Budget(Arc::new(Semaphore::new(kib as usize)), kib)
    }
    async fn reserve(&self, bytes: u64) -> tokio::sync::OwnedSemaphorePermit {
        let kib = u32::try_from(bytes.div_ceil(1024))
            .unwrap_or(u32::MAX)
            .clamp(1, self.1);
        self.0
            .clone()
            .acquire_many_owned(kib)
            .await
            .expect("budget semaphore is never closed")
    }
}

/// Bytes and objects done, reported as the step's progress.
pub struct Progress {
    sink: ProgressSink,
    bytes: AtomicU64,
    objects: AtomicU64,
    total_bytes: u64,
    total_objects: u64,
}

impl Progress {
    pub fn new(sink: ProgressSink, total_objects: u64, total_bytes: u64) -> Arc<Progress> {
        Arc::new(Progress {
            sink,
            bytes: AtomicU64::new(0),
            objects: AtomicU64::new(0),
            total_bytes,
            total_objects,
        })
    }
    pub(super) fn add_bytes(&self, n: u64) {
        let before = self.bytes.fetch_add(n, Ordering::Relaxed);
        // A streamed body adds a few KiB at a time: report once per MiB crossed.
        if (before + n) >> 20 != before >> 20 || n >= 1 << 20 {
            self.report();
        }
    }
    fn add_object(&self) {
        self.objects.fetch_add(1, Ordering::Relaxed);
        self.report();
    }
    fn report(&self) {
        let bytes = self.bytes.load(Ordering::Relaxed);
        let objects = self.objects.load(Ordering::Relaxed);
        self.sink.position(
            format!(
                "{objects}/{} objects, {} of {}",
                self.total_objects,
                human(bytes),
                human(self.total_bytes)
            ),
            bytes,
            Some(self.total_bytes),
        );
    }
}

pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A file read part by part for an upload.
pub struct Source(pub tokio::fs::File);

impl Source {
    /// Up to `size` bytes, or `None` at the end.
    async fn next_part(&mut self, size: usize) -> Result<Option<Bytes>, StepError> {
        let mut buffer = BytesMut::with_capacity(size);
        while buffer.len() < size {
            let mut chunk = vec![0u8; (size - buffer.len()).min(1 << 20)];
            let n = self
                .0
                .read(&mut chunk)
                .await
                .map_err(|e| StepError::new(format!("reading the file: {e}")))?;
            if n == 0 {
                break;
            }
            buffer.extend_from_slice(&chunk[..n]);
        }
        Ok((!buffer.is_empty()).then(|| buffer.freeze()))
    }
}

/// What the written object carries besides its bytes.
#[derive(Debug, Clone, Default)]
pub struct Meta {
    pub content_type: Option<String>,
    pub metadata: HashMap<String, String>,
}

/// Writes `size` bytes from `source` to `bucket/key`: one PutObject up to a part, a multipart
/// upload with parallel parts above.
#[allow(clippy::too_many_arguments)]
pub async fn upload(
    dest: &S3,
    bucket: &str,
    key: &str,
    mut source: Source,
    size: u64,
    meta: Meta,
    budget: &Budget,
    progress: &Arc<Progress>,
) -> Result<(), StepError> {
    let part = part_size(size);
    if size <= part {
        let _permit = budget.reserve(size).await;
        let body = source.next_part(size as usize).await?.unwrap_or_default();
        let length = body.len() as u64;
        let sent = dest
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .set_checksum_algorithm(crc32(dest))
            .body(ByteStream::from(body))
            .set_content_type(meta.content_type)
            .set_metadata(Some(meta.metadata))
            .send()
            .await;
        return match sent {
            Ok(_) => {
                progress.add_bytes(length);
                Ok(())
            }
            Err(e) => Err(write_error(dest, bucket, key, e).await),
        };
    }
    let created = dest
        .client
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .set_content_type(meta.content_type)
        .set_metadata(Some(meta.metadata))
        .send()
        .await;
    let created = match created {
        Ok(c) => c,
        Err(e) => return Err(write_error(dest, bucket, key, e).await),
    };
    let upload_id = created.upload_id().unwrap_or_default().to_string();
    let result = upload_parts(
        dest,
        bucket,
        key,
        &upload_id,
        &mut source,
        part,
        budget,
        progress,
    )
    .await;
    match result {
        Ok(parts) => complete(dest, bucket, key, &upload_id, parts).await,
        Err(e) => {
            abort(dest, bucket, key, &upload_id).await;
            Err(e)
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn upload_parts(
    dest: &S3,
    bucket: &str,
    key: &str,
    upload_id: &str,
    source: &mut Source,
    part: u64,
    budget: &Budget,
    progress: &Arc<Progress>,
) -> Result<Vec<CompletedPart>, StepError> {
    let mut tasks: JoinSet<Result<CompletedPart, StepError>> = JoinSet::new();
    let mut parts = Vec::new();
    let mut number = 0;
    loop {
        // Reserve before reading: the budget bounds buffers being filled as well as those in flight.
        let permit = budget.reserve(part).await;
        let Some(body) = source.next_part(part as usize).await? else {
            break;
        };
        number += 1;
        let (dest, bucket, key, upload_id, progress) = (
            dest.clone(),
            bucket.to_string(),
            key.to_string(),
            upload_id.to_string(),
            progress.clone(),
        );
        tasks.spawn(async move {
            let _permit = permit;
            let length = body.len() as u64;
            let sent = dest
                .client
                .upload_part()
                .bucket(&bucket)
                .key(&key)
                .upload_id(&upload_id)
                .part_number(number)
                .set_checksum_algorithm(crc32(&dest))
                .body(ByteStream::from(body))
                .send()
                .await;
            let out = match sent {
                Ok(out) => out,
                Err(e) => return Err(write_error(&dest, &bucket, &key, e).await),
            };
            progress.add_bytes(length);
            Ok(CompletedPart::builder()
                .part_number(number)
                .set_e_tag(out.e_tag().map(str::to_string))
                .build())
        });
        // Collect finished parts as we go, so a failure stops reading early.
        while let Some(done) = tasks.try_join_next() {
            parts.push(done.map_err(|e| StepError::new(format!("part upload task: {e}")))??);
        }
    }
    while let Some(done) = tasks.join_next().await {
        parts.push(done.map_err(|e| StepError::new(format!("part upload task: {e}")))??);
    }
    parts.sort_by_key(|p| p.part_number());
    Ok(parts)
}

/// Some S3-compatible servers (moto among them) answer a completed multipart upload with a
/// `CompleteMultipartUploadResponse` root the SDK cannot parse. A 200 without an `<Error>` body is
/// a completed upload all the same.
fn completed_anyway<E>(
    err: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> bool {
    match err {
        aws_sdk_s3::error::SdkError::ServiceError(service) => {
            let raw = service.raw();
            let body = raw
                .body()
                .bytes()
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            raw.status().as_u16() == 200
                && body.contains("<CompleteMultipartUpload")
                && !body.contains("<Error>")
        }
        _ => false,
    }
}

async fn abort(dest: &S3, bucket: &str, key: &str, upload_id: &str) {
    // Best effort: an incomplete upload costs storage until a lifecycle rule removes it.
    let _ = dest
        .client
        .abort_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .send()
        .await;
}

/// One side of a copy.
pub struct Side {
    pub s3: S3,
    pub bucket: String,
    pub prefix: String,
}

pub struct Options {
    /// Objects in flight at once.
    pub concurrency: usize,
    /// Larger objects go as multipart uploads.
    pub multipart_threshold: u64,
    /// Leave destination objects that have the source's size and checksum (sync).
    pub skip_same: bool,
    /// Replace destination objects that differ; without it they fail the step.
    pub overwrite: bool,
}

#[derive(Debug, Default, serde::Serialize)]
pub struct Summary {
    pub objects_copied: u64,
    pub objects_skipped: u64,
    pub bytes_copied: u64,
    pub objects_total: u64,
    pub bytes_total: u64,
    pub server_side: bool,
}

/// A source object and where it goes.
struct Job {
    object: ObjectInfo,
    dest_key: String,
}

/// Copy `objects` (already listed from the source) into the destination.
pub async fn transfer(
    source: &Side,
    dest: &Side,
    objects: Vec<(ObjectInfo, String)>,
    options: &Options,
    sink: ProgressSink,
) -> Result<Summary, StepError> {
    let existing: HashMap<String, ObjectInfo> = if options.skip_same || !options.overwrite {
        let (listed, _) = list_all(&dest.s3, &dest.bucket, &dest.prefix, None).await?;
        listed.into_iter().map(|o| (o.key.clone(), o)).collect()
    } else {
        HashMap::new()
    };
    let mut jobs = Vec::new();
    let mut summary = Summary {
        server_side: source.s3.identity == dest.s3.identity,
        ..Summary::default()
    };
    let mut conflicts = Vec::new();
    for (object, dest_key) in objects {
        summary.objects_total += 1;
        summary.bytes_total += object.size;
        if let Some(there) = existing.get(&dest_key) {
            if options.skip_same && same_content(dest, &object, there).await? {
                summary.objects_skipped += 1;
                continue;
            }
            if !options.overwrite {
                conflicts.push(dest_key);
                continue;
            }
        }
        jobs.push(Job { object, dest_key });
    }
    if !conflicts.is_empty() {
        let shown: Vec<&str> = conflicts.iter().take(10).map(String::as_str).collect();
        return Err(StepError::permanent(format!(
            "{} object(s) exist in s3://{}/ with other content and `overwrite: false`: {}{}; set `overwrite: true` to replace them",
            conflicts.len(),
            dest.bucket,
            shown.join(", "),
            if conflicts.len() > shown.len() {
                ", ..."
            } else {
                ""
            }
        )));
    }
    let to_copy: u64 = jobs.iter().map(|j| j.object.size).sum();
    let progress = Progress::new(sink, jobs.len() as u64, to_copy);
    let server_side = summary.server_side;
    let multipart_threshold = options.multipart_threshold;
    let results: Vec<Result<u64, StepError>> = futures_util::stream::iter(jobs)
        .map(|job| {
            let progress = progress.clone();
            async move {
                let copied = if server_side {
                    copy_in_place(source, dest, &job, multipart_threshold, &progress).await
                } else {
                    copy_streaming(source, dest, &job, multipart_threshold, &progress).await
                };
                copied.map(|()| {
                    progress.add_object();
                    job.object.size
                })
            }
        })
        .buffer_unordered(options.concurrency.max(1))
        .collect()
        .await;
    let mut failures = Vec::new();
    for result in results {
        match result {
            Ok(bytes) => {
                summary.objects_copied += 1;
                summary.bytes_copied += bytes;
            }
            Err(e) => failures.push(e),
        }
    }
    if let Some(first) = failures.first() {
        // What was copied stays: a retry or resume skips it (sync) and continues with the rest.
        return Err(StepError {
            message: format!(
                "{} of {} object(s) failed ({} copied); first error: {}",
                failures.len(),
                summary.objects_total - summary.objects_skipped,
                summary.objects_copied,
                first.message
            ),
            retryable: failures.iter().all(|f| f.retryable),
        });
    }
    Ok(summary)
}

/// Same size and the same checksum: the ETag itself, or the source ETag recorded on the copy.
async fn same_content(
    dest: &Side,
    source: &ObjectInfo,
    there: &ObjectInfo,
) -> Result<bool, StepError> {
    if source.size != there.size {
        return Ok(false);
    }
    if source.etag == there.etag {
        return Ok(true);
    }
    let head = dest
        .s3
        .client
        .head_object()
        .bucket(&dest.bucket)
        .key(&there.key)
        .send()
        .await;
    let head =
        head.map_err(|e| s3_error(&format!("reading s3://{}/{}", dest.bucket, there.key), e))?;
    Ok(head
        .metadata()
        .and_then(|m| m.get(SOURCE_ETAG))
        .is_some_and(|e| *e == source.etag))
}

/// Up to this size (by default) an object goes from its GET straight into one PUT (rclone's
/// `upload_cutoff` is 200 MiB): one request each way and nothing buffered.
pub const STREAMED_PUT_MAX: u64 = 256 << 20;
/// Above it, parts of one object copied at once, each a ranged GET streamed into an UploadPart.
const PARTS_PER_OBJECT: usize = 4;

/// Copies one object between endpoints without holding it: the GET body is the PUT body. Memory
/// is the HTTP buffers of the requests in flight, whatever the object size.
async fn copy_streaming(
    source: &Side,
    dest: &Side,
    job: &Job,
    multipart_threshold: u64,
    progress: &Arc<Progress>,
) -> Result<(), StepError> {
    if job.object.size <= multipart_threshold {
        return match put_streamed(source, dest, job, true, progress).await {
            // The source's ETag was not the MD5 of its bytes (say, encrypted with SSE-KMS).
            Err(e) if e.message.contains("BadDigest") => {
                put_streamed(source, dest, job, false, progress).await
            }
            done => done,
        };
    }
    let object = head_source(source, job).await?;
    let upload_id = start_multipart(dest, job, &object).await?;
    let (key, client, bucket, dest_key) = (
        &job.object.key,
        &dest.s3.client,
        &dest.bucket,
        &job.dest_key,
    );
    let target = Target {
        s3: &dest.s3,
        bucket,
        key: dest_key,
        upload_id: &upload_id,
    };
    let size = object.size;
    upload_ranges(&target, size, part_size(size), |number, start, end| {
        let (etag, upload_id) = (&object.etag, &upload_id);
        async move {
            // `If-Match`: every part comes from the same version of the object.
            let got = source
                .s3
                .client
                .get_object()
                .bucket(&source.bucket)
                .key(key)
                .range(format!("bytes={start}-{}", end - 1))
                .if_match(etag)
                .send()
                .await
                .map_err(|e| s3_error(&reading(source, key), e))?;
            let sent = client
                .upload_part()
                .bucket(bucket)
                .key(dest_key)
                .upload_id(upload_id)
                .part_number(number)
                .content_length((end - start) as i64)
                .set_checksum_algorithm(crc32(&dest.s3))
                .body(counted(got.body, progress))
                .send()
                .await;
            match sent {
                Ok(out) => Ok(out.e_tag().map(str::to_string)),
                Err(e) => Err(write_error(&dest.s3, bucket, dest_key, e).await),
            }
        }
    })
    .await
}

/// What a copy carries over from a source object: its ETag (every part is read `If-Match` it),
/// size, content type and metadata, with the ETag recorded under `SOURCE_ETAG` (what a later sync
/// compares to skip it).
struct SourceObject {
    etag: String,
    size: u64,
    content_type: Option<String>,
    metadata: HashMap<String, String>,
}

fn reading(source: &Side, key: &str) -> String {
    format!("reading s3://{}/{key}", source.bucket)
}

/// The source object's metadata and its ETag as `SOURCE_ETAG`.
fn carried(metadata: Option<&HashMap<String, String>>, etag: &str) -> HashMap<String, String> {
    let mut metadata = metadata.cloned().unwrap_or_default();
    metadata.insert(SOURCE_ETAG.into(), etag.to_string());
    metadata
}

async fn head_source(source: &Side, job: &Job) -> Result<SourceObject, StepError> {
    let key = &job.object.key;
    let head = source
        .s3
        .client
        .head_object()
        .bucket(&source.bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| s3_error(&reading(source, key), e))?;
    let etag = head.e_tag().unwrap_or(&job.object.etag).to_string();
    Ok(SourceObject {
        size: head
            .content_length()
            .map_or(job.object.size, |l| l.max(0) as u64),
        content_type: head.content_type().map(str::to_string),
        metadata: carried(head.metadata(), &etag),
        etag,
    })
}

/// Starts the multipart upload of `object` at the destination; returns its upload id.
async fn start_multipart(
    dest: &Side,
    job: &Job,
    object: &SourceObject,
) -> Result<String, StepError> {
    let created = dest
        .s3
        .client
        .create_multipart_upload()
        .bucket(&dest.bucket)
        .key(&job.dest_key)
        .set_content_type(object.content_type.clone())
        .set_metadata(Some(object.metadata.clone()))
        .send()
        .await;
    match created {
        Ok(c) => Ok(c.upload_id().unwrap_or_default().to_string()),
        Err(e) => Err(write_error(&dest.s3, &dest.bucket, &job.dest_key, e).await),
    }
}

/// One GET streamed into one PUT. The destination checks the bytes against `Content-MD5`, taken
/// from the source's ETag when that is an MD5 (`with_md5`), which costs nothing; otherwise the SDK
/// sends a CRC32 of the stream in a trailer. Either also satisfies object-lock buckets, which
/// refuse uploads without one.
async fn put_streamed(
    source: &Side,
    dest: &Side,
    job: &Job,
    with_md5: bool,
    progress: &Arc<Progress>,
) -> Result<(), StepError> {
    let key = &job.object.key;
    let got = source
        .s3
        .client
        .get_object()
        .bucket(&source.bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| s3_error(&reading(source, key), e))?;
    let etag = got.e_tag().unwrap_or(&job.object.etag).to_string();
    let metadata = carried(got.metadata(), &etag);
    let size = got.content_length().unwrap_or(job.object.size as i64);
    let md5 = (with_md5 && dest.s3.checksums)
        .then(|| content_md5(&etag))
        .flatten();
    let checksum = md5.is_none().then(|| crc32(&dest.s3)).flatten();
    let (bucket, dest_key) = (&dest.bucket, &job.dest_key);
    let sent = dest
        .s3
        .client
        .put_object()
        .bucket(bucket)
        .key(dest_key)
        .content_length(size)
        .set_content_md5(md5)
        .set_checksum_algorithm(checksum)
        .set_content_type(got.content_type().map(str::to_string))
        .set_metadata(Some(metadata))
        .body(counted(got.body, progress))
        .send()
        .await;
    if let Err(e) = sent {
        return Err(write_error(&dest.s3, bucket, dest_key, e).await);
    }
    Ok(())
}

/// A CRC32 of the body (a header for a body in memory, a trailer for a stream), unless the
/// connection turned checksums off.
fn crc32(s3: &S3) -> Option<ChecksumAlgorithm> {
    s3.checksums.then_some(ChecksumAlgorithm::Crc32)
}

/// `Content-MD5` (base64 of the digest) from an ETag that is a plain MD5: 32 hex digits, not the
/// `<md5>-<parts>` of a multipart upload.
fn content_md5(etag: &str) -> Option<String> {
    let hex = etag.trim_matches('"');
    if hex.len() != 32 {
        return None;
    }
    let digest: Option<Vec<u8>> = (0..16)
        .map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect();
    Some(aws_smithy_types::base64::encode(digest?))
}

/// The server copies the bytes: CopyObject up to `multipart_threshold`, parallel UploadPartCopy
/// ranges above (parts of at least the threshold, at most 5 GiB, the most a CopyObject takes).
async fn copy_in_place(
    source: &Side,
    dest: &Side,
    job: &Job,
    multipart_threshold: u64,
    progress: &Arc<Progress>,
) -> Result<(), StepError> {
    let object = head_source(source, job).await?;
    let copy_source = format!("{}/{}", source.bucket, encode_key(&job.object.key));
    let size = object.size;
    let (client, bucket, dest_key) = (&dest.s3.client, &dest.bucket, &job.dest_key);
    if size <= multipart_threshold.min(MAX_SINGLE_COPY) {
        let copied = client
            .copy_object()
            .bucket(bucket)
            .key(dest_key)
            .copy_source(&copy_source)
            .metadata_directive(MetadataDirective::Replace)
            .set_content_type(object.content_type.clone())
            .set_metadata(Some(object.metadata.clone()))
            .send()
            .await;
        if let Err(e) = copied {
            return Err(write_error(&dest.s3, bucket, dest_key, e).await);
        }
        progress.add_bytes(size);
        return Ok(());
    }
    let upload_id = start_multipart(dest, job, &object).await?;
    let part = part_size(size)
        .max(multipart_threshold)
        .min(MAX_SINGLE_COPY);
    let target = Target {
        s3: &dest.s3,
        bucket,
        key: dest_key,
        upload_id: &upload_id,
    };
    upload_ranges(&target, size, part, |number, start, end| {
        let (copy_source, upload_id, etag) = (&copy_source, &upload_id, &object.etag);
        async move {
            let copied = client
                .upload_part_copy()
                .bucket(bucket)
                .key(dest_key)
                .upload_id(upload_id)
                .part_number(number)
                .copy_source(copy_source)
                .copy_source_range(format!("bytes={start}-{}", end - 1))
                .copy_source_if_match(etag)
                .send()
                .await;
            if copied.is_ok() {
                progress.add_bytes(end - start);
            }
            match copied {
                Ok(out) => Ok(out
                    .copy_part_result()
                    .and_then(|r| r.e_tag())
                    .map(str::to_string)),
                Err(e) => Err(write_error(&dest.s3, bucket, dest_key, e).await),
            }
        }
    })
    .await
}

/// A multipart upload in progress.
struct Target<'a> {
    s3: &'a S3,
    bucket: &'a str,
    key: &'a str,
    upload_id: &'a str,
}

/// Sends every `part`-sized range of `size` bytes with `send_part(number, start, end)` (which
/// returns the part's ETag), `PARTS_PER_OBJECT` at once, then completes the upload; the first
/// failure aborts it.
async fn upload_ranges<F, Fut>(
    target: &Target<'_>,
    size: u64,
    part: u64,
    send_part: F,
) -> Result<(), StepError>
where
    F: Fn(i32, u64, u64) -> Fut,
    Fut: std::future::Future<Output = Result<Option<String>, StepError>>,
{
    let ranges =
        (0..size.div_ceil(part)).map(|i| (i as i32 + 1, i * part, ((i + 1) * part).min(size)));
    let sent: Result<Vec<CompletedPart>, StepError> = futures_util::stream::iter(ranges)
        .map(|(number, start, end)| {
            let sending = send_part(number, start, end);
            async move {
                let etag = sending.await?;
                Ok(CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(etag)
                    .build())
            }
        })
        .buffer_unordered(PARTS_PER_OBJECT)
        .try_collect()
        .await;
    let (s3, bucket, key, upload_id) = (target.s3, target.bucket, target.key, target.upload_id);
    match sent {
        Ok(mut parts) => {
            parts.sort_by_key(|p| p.part_number());
            complete(s3, bucket, key, upload_id, parts).await
        }
        Err(e) => {
            abort(s3, bucket, key, upload_id).await;
            Err(e)
        }
    }
}

/// Completes a multipart upload, or aborts it (so it costs no storage) and fails.
async fn complete(
    dest: &S3,
    bucket: &str,
    key: &str,
    upload_id: &str,
    parts: Vec<CompletedPart>,
) -> Result<(), StepError> {
    let done = dest
        .client
        .complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await;
    if let Err(e) = done
        && !completed_anyway(&e)
    {
        abort(dest, bucket, key, upload_id).await;
        return Err(write_error(dest, bucket, key, e).await);
    }
    Ok(())
}

/// A key as `x-amz-copy-source` wants it: percent-encoded except `/` and unreserved characters.
fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for byte in key.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~/".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Create the destination bucket if it is missing, as rclone does.
pub async fn ensure_bucket(side: &Side) -> Result<(), StepError> {
    let region = Some(side.s3.region.as_str());
    let head = side
        .s3
        .client
        .head_bucket()
        .bucket(&side.bucket)
        .send()
        .await;
    match head {
        Ok(_) => Ok(()),
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => {
            let mut create = side.s3.client.create_bucket().bucket(&side.bucket);
            if let Some(region) = region.filter(|r| *r != "us-east-1") {
                use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
                create = create.create_bucket_configuration(
                    CreateBucketConfiguration::builder()
                        .location_constraint(BucketLocationConstraint::from(region))
                        .build(),
                );
            }
            create
                .send()
                .await
                .map(|_| ())
                .map_err(|e| s3_error(&format!("creating bucket {}", side.bucket), e))
        }
        Err(e) => Err(s3_error(&format!("checking bucket {}", side.bucket), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_md5_comes_only_from_an_etag_that_is_an_md5() {
        // MD5("hello") = 5d41402abc4b2a76b9719d911017c592.
        assert_eq!(
            content_md5("\"5d41402abc4b2a76b9719d911017c592\"").as_deref(),
            Some("XUFAKrxLKna5cZ2REBfFkg==")
        );
        assert_eq!(content_md5("\"5d41402abc4b2a76b9719d911017c592-2\""), None);
        assert_eq!(content_md5("\"zz41402abc4b2a76b9719d911017c592\""), None);
        assert_eq!(content_md5(""), None);
    }

    #[test]
    fn parts_stay_under_the_part_limit() {
        assert_eq!(part_size(1), MIN_PART_SIZE);
        let huge = 5u64 << 40;
        assert!(huge.div_ceil(part_size(huge)) <= MAX_PARTS);
    }

    #[test]
    fn copy_sources_are_encoded() {
        assert_eq!(encode_key("a b/c+d.txt"), "a%20b/c%2Bd.txt");
    }
}
