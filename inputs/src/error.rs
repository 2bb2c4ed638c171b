//! Every way reading a config directory or a secrets file can fail (decryption itself fails
//! with [`crate::sops::SopsError`]). Messages name files and keys, never values.

use std::path::PathBuf;

use runbook_engine::input_file::InputFileError;

use crate::sops::SopsError;

/// Why a cluster's config (or the secrets file next to it) could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigDirError {
    #[error("unknown cluster {given:?}: use sc (service cluster) or wc (workload cluster)")]
    UnknownCluster { given: String },

    #[error(
        "config directory {} does not exist: pass --config-dir or set CK8S_CONFIG_PATH",
        dir.display()
    )]
    DirNotFound { dir: PathBuf },

    #[error(transparent)]
    Input(#[from] InputFileError),

    #[error("{}{}: malformed YAML: {message}", path.display(), location_suffix(*location))]
    Yaml {
        path: PathBuf,
        /// 1-based line and column.
        location: Option<(u64, u64)>,
        message: String,
    },

    #[error("{}: the top level must be a mapping of config keys", path.display())]
    NotAMapping { path: PathBuf },

    /// Its text is exactly [`crate::ClusterConfig::missing_key_message`].
    #[error("{message}")]
    MissingKey { key: String, message: String },

    /// The directory's `secrets.yaml`.
    #[error(transparent)]
    Secrets(#[from] SecretsError),
}

/// Why a secrets file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error(transparent)]
    Sops(#[from] SopsError),

    #[error("{}: the secrets file must be a mapping of names to values", path.display())]
    NotAMapping { path: PathBuf },
}

/// `:line:column` after a file name, or nothing when the parser gave no position.
pub(crate) fn location_suffix(location: Option<(u64, u64)>) -> String {
    location.map_or_else(String::new, |(line, column)| format!(":{line}:{column}"))
}
