//! An `aws_sdk_s3::Client` from an `s3` connection: endpoint, region, path style, static
//! credentials, and TLS by rustls with ring (the crypto backend shared with the kube client).

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use runbook_engine::connection::Connection;
use runbook_engine::kind::{StepContext, StepError};

/// A client and what identifies its endpoint, to tell when a server-side copy is possible.
#[derive(Clone, Debug)]
pub struct S3 {
    pub client: Client,
    /// Endpoint and access key: two connections with the same identity reach the same store with
    /// the same rights, so one can copy objects the other reads without moving the bytes.
    pub identity: String,
    pub connection: String,
    pub region: String,
    /// Uploads carry `Content-MD5` or a CRC32 (`checksums: false` on the connection turns them
    /// off, for a store that rejects them).
    pub checksums: bool,
}

pub fn connect(ctx: &StepContext, name: &str) -> Result<S3, StepError> {
    let conn = ctx.connection(name)?;
    if conn.kind != "s3" {
        return Err(StepError::permanent(format!(
            "connection `{name}` is of kind `{}`; S3 steps need a connection of kind `s3`",
            conn.kind
        )));
    }
    from_connection(conn, ctx)
}

fn from_connection(conn: &Connection, ctx: &StepContext) -> Result<S3, StepError> {
    let field = |f: &str| conn.str(f).filter(|s| !s.is_empty());
    let region = field("region").unwrap_or("us-east-1");
    let mut config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .force_path_style(conn.bool("path_style"))
        // Many S3-compatible stores send no checksums on reads. Uploads choose their own
        // (`Content-MD5` from the source's ETag, or a CRC32), which object-lock buckets require:
        // a CRC32 trailer on every streamed upload would cost more than the copy itself.
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .http_client(http_client(conn, ctx)?);
    if let Some(endpoint) = field("endpoint") {
        config = config.endpoint_url(endpoint);
    }
    match (field("access_key"), field("secret_key")) {
        (Some(access), Some(secret)) => {
            let token = field("session_token").map(str::to_string);
            config = config.credentials_provider(Credentials::new(
                access,
                secret,
                token,
                None,
                "runbook-connection",
            ));
        }
        (None, None) => {
            return Err(StepError::permanent(format!(
                "connection `{}` has no `access_key`/`secret_key`; give both (e.g. from `secrets.objectStorage.s3`)",
                conn.name
            )));
        }
        _ => {
            return Err(StepError::permanent(format!(
                "connection `{}` needs both `access_key` and `secret_key`",
                conn.name
            )));
        }
    }
    let identity = format!(
        "{}|{}|{}",
        field("endpoint").unwrap_or("aws"),
        region,
        field("access_key").unwrap_or("")
    );
    Ok(S3 {
        client: Client::from_conf(config.build()),
        identity,
        connection: conn.name.clone(),
        region: region.to_string(),
        checksums: conn.fields.get("checksums").and_then(|v| v.as_bool()) != Some(false),
    })
}

fn http_client(
    conn: &Connection,
    ctx: &StepContext,
) -> Result<aws_sdk_s3::config::SharedHttpClient, StepError> {
    if conn.insecure() {
        return super::insecure::unverified_http_client(&conn.name);
    }
    let mut trust = TrustStore::default();
    if let Some(ca_file) = conn.str("ca_file").filter(|s| !s.is_empty()) {
        let path = ctx.path(ca_file);
        let pem = std::fs::read(&path).map_err(|e| {
            StepError::permanent(format!(
                "connection `{}`: cannot read ca_file {}: {e}",
                conn.name,
                path.display()
            ))
        })?;
        trust = trust.with_pem_certificate(pem);
    }
    let context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .map_err(|e| {
            StepError::permanent(format!("connection `{}`: TLS settings: {e}", conn.name))
        })?;
    Ok(aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .tls_context(context)
        .build_https())
}
