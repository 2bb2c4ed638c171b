//! The inputs a runbook reads besides its params: the merged config of a Compliant Kubernetes
//! config directory and secrets files, plain or sops-encrypted, decrypted in memory.
//!
//! [`ClusterInputs::load`] is what a run reads from a config directory; [`load_secrets_file`]
//! reads a secrets file named on its own; [`sops`] decrypts any sops file (a kubeconfig, say).

mod cluster_inputs;
mod config_dir;
mod error;
mod secrets;
pub mod sops;

pub use cluster_inputs::{ClusterInputs, SecretsFile};
pub use config_dir::{Cluster, ClusterConfig, kubeconfig_path, secrets_path};
pub use error::{ConfigDirError, SecretsError};
pub use secrets::load_secrets_file;
