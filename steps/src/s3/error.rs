//! S3 errors as the operator should read them: the server's code and message, whether retrying
//! can help, and what to do when object lock refused a write.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use runbook_engine::kind::StepError;

use super::client::S3;

/// Codes that mean "try again later"; every other answer from the server is final.
const TRANSIENT: &[&str] = &[
    "SlowDown",
    "InternalError",
    "ServiceUnavailable",
    "RequestTimeout",
    "Throttling",
    "ThrottlingException",
];

pub fn s3_error<E>(what: &str, err: SdkError<E, HttpResponse>) -> StepError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &err {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = err.code().unwrap_or("");
            let message = err.message().unwrap_or("");
            let text = match (code.is_empty(), message.is_empty()) {
                (true, true) => {
                    let detail = DisplayErrorContext(&err).to_string();
                    format!(
                        "{what}: HTTP {status}: {}",
                        detail.chars().take(400).collect::<String>()
                    )
                }
                (false, true) => format!("{what}: {code} (HTTP {status})"),
                _ => format!("{what}: {code}: {message} (HTTP {status})"),
            };
            if status >= 500 || TRANSIENT.contains(&code) {
                StepError::new(text)
            } else {
                StepError::permanent(hint(code, text))
            }
        }
        SdkError::ConstructionFailure(_) => {
            StepError::permanent(format!("{what}: {}", DisplayErrorContext(&err)))
        }
        _ => {
            let detail = DisplayErrorContext(&err).to_string();
            match crate::tls_hint::tls_hint(&detail) {
                // The SDK's debug rendering of the chain adds nothing the operator can use.
                Some(hint) => StepError::permanent(format!(
                    "{what}: TLS handshake failed: {}\n{hint}",
                    detail
                        .split("invalid peer certificate: ")
                        .nth(1)
                        .and_then(|rest| rest.split([' ', ')']).next())
                        .map(|reason| format!("invalid peer certificate: {reason}"))
                        .unwrap_or_else(|| "the certificate was refused".into())
                )),
                None => StepError::new(format!("{what}: {detail}")),
            }
        }
    }
}

fn hint(code: &str, text: String) -> String {
    match code {
        "NoSuchBucket" => format!(
            "{text}; check the bucket name and that the connection points at the right endpoint and region"
        ),
        "InvalidAccessKeyId" | "SignatureDoesNotMatch" => {
            format!("{text}; check the connection's access_key and secret_key")
        }
        _ => text,
    }
}

/// A refused write, explained: when the bucket has object lock enabled, say that this is why.
pub async fn write_error<E>(
    s3: &S3,
    bucket: &str,
    key: &str,
    err: SdkError<E, HttpResponse>,
) -> StepError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let code = err.code().unwrap_or("").to_string();
    let message = err.message().unwrap_or("").to_lowercase();
    let mut error = s3_error(&format!("writing s3://{bucket}/{key}"), err);
    let refusal = matches!(
        code.as_str(),
        "AccessDenied" | "InvalidRequest" | "ObjectLocked" | "InvalidBucketState"
    ) || code.to_lowercase().contains("lock")
        || message.contains("object lock");
    if refusal && let Some(lock) = object_lock(s3, bucket).await {
        let hint = if code.starts_with("MissingUpload") || message.contains("content-md5") {
            if s3.checksums {
                "this bucket takes only uploads with `Content-MD5` or a checksum the store accepts"
                    .to_string()
            } else {
                format!(
                    "this bucket takes only uploads with `Content-MD5` or a checksum: remove `checksums: false` from connection `{}`",
                    s3.connection
                )
            }
        } else {
            "a locked version cannot be deleted, nor its retention shortened, until the retention ends: write to another bucket or key, or wait".to_string()
        };
        error = StepError::permanent(format!(
            "refused by object lock on bucket `{bucket}` ({lock}): {}; {hint}",
            error.message
        ));
    }
    error
}

/// The bucket's object lock setting, if it has one.
pub async fn object_lock(s3: &S3, bucket: &str) -> Option<String> {
    let out = s3
        .client
        .get_object_lock_configuration()
        .bucket(bucket)
        .send()
        .await
        .ok()?;
    let config = out.object_lock_configuration()?;
    config.object_lock_enabled()?;
    let rule = config.rule().and_then(|r| r.default_retention());
    Some(match rule {
        Some(r) => format!(
            "default retention {} {}",
            r.mode().map(|m| m.as_str()).unwrap_or("?"),
            r.days()
                .map(|d| format!("{d} days"))
                .or(r.years().map(|y| format!("{y} years")))
                .unwrap_or_default()
        ),
        None => "enabled".into(),
    })
}
