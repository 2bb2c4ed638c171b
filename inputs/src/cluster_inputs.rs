//! What a config directory gives a run on one cluster: the merged config, the kubeconfig
//! ck8s keeps for the cluster, and `secrets.yaml` decrypted.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::config_dir::{Cluster, ClusterConfig, kubeconfig_path, secrets_path};
use crate::error::ConfigDirError;
use crate::secrets::load_secrets_file;

/// One cluster's inputs from its config directory.
#[derive(Debug)]
pub struct ClusterInputs {
    pub config: ClusterConfig,
    /// The cluster's kubeconfig, when the directory has one: the default for Kubernetes steps.
    pub kubeconfig: Option<PathBuf>,
    /// The directory's secrets file, when it has one.
    pub secrets: Option<SecretsFile>,
}

/// A secrets file and its decrypted mapping.
#[derive(Debug)]
pub struct SecretsFile {
    pub path: PathBuf,
    pub value: Value,
}

impl ClusterInputs {
    /// Merges the config of `cluster` in `dir` and decrypts the directory's secrets.
    pub fn load(dir: &Path, cluster: Cluster) -> Result<ClusterInputs, ConfigDirError> {
        let config = ClusterConfig::load(dir, cluster)?;
        let kubeconfig = Some(kubeconfig_path(dir, cluster)).filter(|path| path.exists());
        let path = secrets_path(dir);
        let secrets = if path.exists() {
            let value = load_secrets_file(&path)?;
            Some(SecretsFile { path, value })
        } else {
            None
        };
        Ok(ClusterInputs {
            config,
            kubeconfig,
            secrets,
        })
    }
}
