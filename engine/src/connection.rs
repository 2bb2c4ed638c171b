//! Named endpoints (`connections:`), templated once when a run starts and shared by the steps.

use serde_json::{Map, Value};

#[derive(Debug, Clone)]
pub struct Connection {
    pub name: String,
    /// `http`, `s3` or `kubernetes`.
    pub kind: String,
    /// The rendered fields (url, credentials, `insecure`, `ca_file`, ...).
    pub fields: Map<String, Value>,
}

impl Connection {
    pub fn str(&self, field: &str) -> Option<&str> {
        self.fields.get(field).and_then(Value::as_str)
    }
    pub fn bool(&self, field: &str) -> bool {
        self.fields
            .get(field)
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
    /// TLS verification is on unless the runbook opts out per connection.
    pub fn insecure(&self) -> bool {
        self.bool("insecure")
    }
}

#[derive(Debug, Clone, Default)]
pub struct Connections(pub Vec<Connection>);

impl Connections {
    pub fn get(&self, name: &str) -> Option<&Connection> {
        self.0.iter().find(|c| c.name == name)
    }
    pub fn names(&self) -> Vec<&str> {
        self.0.iter().map(|c| c.name.as_str()).collect()
    }
}

/// The connection kinds a runbook may declare, with the fields each accepts.
pub const CONNECTION_KINDS: &[(&str, &[&str])] = &[
    (
        "http",
        &[
            "url", "username", "password", "token", "headers", "ca_file", "insecure", "timeout",
        ],
    ),
    (
        "s3",
        &[
            "endpoint",
            "region",
            "access_key",
            "secret_key",
            "session_token",
            "path_style",
            "checksums",
            "ca_file",
            "insecure",
        ],
    ),
    (
        "kubernetes",
        &["kubeconfig", "context", "namespace", "insecure"],
    ),
];
