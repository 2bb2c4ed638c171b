//! The command line's own errors: input flags that do not fit together or name unusable
//! files, a bad `--parallel`, and a prompt that got no answer.

use std::num::ParseIntError;
use std::path::PathBuf;

use runbook_engine::input_file::InputFileError;
use runbook_inputs::{ConfigDirError, SecretsError};

/// Why the inputs of a command could not be loaded (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("--cluster needs --config-dir (or CK8S_CONFIG_PATH)")]
    ClusterWithoutConfigDir,

    #[error("--config-dir {} needs --cluster sc or --cluster wc", dir.display())]
    ConfigDirWithoutCluster { dir: PathBuf },

    /// `--cluster` names no cluster.
    #[error("--cluster: {0}")]
    Cluster(ConfigDirError),

    #[error(transparent)]
    ConfigDir(#[from] ConfigDirError),

    #[error(transparent)]
    Secrets(#[from] SecretsError),

    /// A `--set` that does not parse.
    #[error(transparent)]
    Set(#[from] runbook_engine::error::SetError),

    #[error("the {what} file: {source}")]
    Read {
        what: &'static str,
        source: InputFileError,
    },

    #[error("{}: the {what} file must be a YAML mapping of names to values", file.display())]
    NotAMapping { file: PathBuf, what: &'static str },

    #[error("{}{}: invalid YAML in the {what} file: {message}", file.display(), location_suffix(*location))]
    Yaml {
        file: PathBuf,
        what: &'static str,
        /// 1-based line and column.
        location: Option<(u64, u64)>,
        message: String,
    },
}

fn location_suffix(location: Option<(u64, u64)>) -> String {
    location.map_or_else(String::new, |(line, column)| format!(":{line}:{column}"))
}

/// A `--parallel` that is not a count of steps.
#[derive(Debug, thiserror::Error)]
pub enum ParallelError {
    #[error("must be at least 1 (1 runs one step at a time)")]
    Zero,
    #[error(transparent)]
    NotANumber(#[from] ParseIntError),
}

/// Why a confirmation prompt gave no approval.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    #[error("the operator answered no")]
    Declined,
    #[error("could not read the answer: {0}")]
    Read(std::io::Error),
    #[error("could not read the answer")]
    Closed,
    #[error("interrupted at the prompt (Ctrl-C): no answer was taken")]
    Interrupted,
}
