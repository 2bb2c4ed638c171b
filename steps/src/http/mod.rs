//! HTTP endpoints from `http` connections, shared by `http.request`, the OpenSearch kinds and
//! `influxdb.query`: base URL, basic auth or bearer token, extra headers, a CA file, opt-in
//! `insecure`, and a timeout. TLS is rustls with ring.

pub mod request;

use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode};
use runbook_engine::connection::Connection;
use runbook_engine::duration::parse_duration;
use runbook_engine::kind::{StepContext, StepError};
use serde_json::Value;

/// Requests without a `timeout:` on their connection give up after this.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone, Debug)]
pub struct Endpoint {
    client: reqwest::Client,
    base: String,
    username: Option<String>,
    password: Option<String>,
    token: Option<String>,
    pub connection: String,
}

/// A reply: status and body, with the body parsed when it is JSON.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub text: String,
    pub json: Option<Value>,
}

pub fn connect(ctx: &StepContext, name: &str) -> Result<Endpoint, StepError> {
    let conn = ctx.connection(name)?;
    if conn.kind != "http" {
        return Err(StepError::permanent(format!(
            "connection `{name}` is of kind `{}`; this step needs a connection of kind `http`",
            conn.kind
        )));
    }
    from_connection(conn, ctx)
}

pub fn from_connection(conn: &Connection, ctx: &StepContext) -> Result<Endpoint, StepError> {
    let field = |f: &str| conn.str(f).filter(|s| !s.is_empty()).map(str::to_string);
    let bad = |what: String| StepError::permanent(format!("connection `{}`: {what}", conn.name));
    let base = field("url").ok_or_else(|| bad("needs a `url`".into()))?;
    let timeout = match conn.fields.get("timeout") {
        Some(Value::String(t)) => parse_duration(t).map_err(|e| bad(format!("timeout: {e}")))?,
        Some(Value::Number(n)) => Duration::from_secs(n.as_u64().unwrap_or(60)),
        _ => DEFAULT_TIMEOUT,
    };
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(15));
    if let Some(ca_file) = field("ca_file") {
        let path = ctx.path(&ca_file);
        let pem = std::fs::read(&path)
            .map_err(|e| bad(format!("cannot read ca_file {}: {e}", path.display())))?;
        for cert in reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| bad(format!("ca_file {}: {e}", path.display())))?
        {
            builder = builder.add_root_certificate(cert);
        }
    }
    if conn.insecure() {
        builder = builder.danger_accept_invalid_certs(true);
    }
    if let Some(Value::Object(headers)) = conn.fields.get("headers") {
        let mut map = reqwest::header::HeaderMap::new();
        for (name, value) in headers {
            let value = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| bad(format!("header `{name}`: {e}")))?;
            let value = reqwest::header::HeaderValue::from_str(&value)
                .map_err(|e| bad(format!("header `{name}`: {e}")))?;
            map.insert(name, value);
        }
        builder = builder.default_headers(map);
    }
    let client = builder
        .build()
        .map_err(|e| bad(format!("HTTP client: {e}")))?;
    Ok(Endpoint {
        client,
        base: base.trim_end_matches('/').to_string(),
        username: field("username"),
        password: field("password"),
        token: field("token"),
        connection: conn.name.clone(),
    })
}

impl Endpoint {
    /// A request to `path` (relative to the connection's URL) or to a full `http(s)://` URL.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let url = if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}/{}", self.base, path.trim_start_matches('/'))
        };
        let request = self.client.request(method, url);
        match (&self.username, &self.token) {
            (Some(user), _) => request.basic_auth(user, self.password.as_ref()),
            (None, Some(token)) => request.bearer_auth(token),
            (None, None) => request,
        }
    }

    /// Send and read the whole reply; only failing to get a reply is an error here.
    pub async fn send(&self, request: RequestBuilder, what: &str) -> Result<Reply, StepError> {
        let response = request.send().await.map_err(|e| {
            let detail = describe_error(&e);
            match crate::tls_hint::tls_hint(&detail) {
                Some(hint) => {
                    StepError::permanent(format!("{what}: {detail} ({})\n{hint}", self.base))
                }
                None => StepError::new(format!("{what}: {detail} ({})", self.base)),
            }
        })?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| StepError::new(format!("{what}: reading the reply: {e}")))?;
        let json = serde_json::from_str(&text).ok();
        Ok(Reply { status, text, json })
    }
}

/// reqwest's top-level message hides the cause (refused, TLS, timeout); walk the chain.
fn describe_error(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    if e.is_timeout() {
        text.push_str("; raise the connection's `timeout` if the server is just slow");
    }
    text
}

impl Reply {
    /// The server's own account of an error: Elasticsearch/OpenSearch `error.reason`, InfluxDB
    /// `error`, or the body.
    pub fn error_text(&self) -> String {
        if let Some(json) = &self.json {
            if let Some(reason) = json.pointer("/error/reason").and_then(Value::as_str) {
                let kind = json
                    .pointer("/error/type")
                    .and_then(Value::as_str)
                    .unwrap_or("error");
                return format!("{kind}: {reason}");
            }
            if let Some(error) = json.get("error").and_then(Value::as_str) {
                return error.to_string();
            }
        }
        let body = self.text.trim();
        if body.len() > 2000 {
            format!("{}...", &body[..body.floor_char_boundary(2000)])
        } else {
            body.to_string()
        }
    }

    /// An error for this reply: 5xx and 429 may pass, other refusals will not.
    pub fn fail(&self, what: &str) -> StepError {
        let message = format!(
            "{what}: HTTP {}: {}",
            self.status.as_u16(),
            self.error_text()
        );
        let message = match self.status.as_u16() {
            401 => format!("{message}; check the connection's username and password (or token)"),
            403 => format!("{message}; the user lacks a permission this step needs"),
            _ => message,
        };
        if self.status.is_server_error() || self.status == StatusCode::TOO_MANY_REQUESTS {
            StepError::new(message)
        } else {
            StepError::permanent(message)
        }
    }
}
