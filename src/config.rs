//! Config directories (Compliant Kubernetes layout) and secrets files (plain or sops-encrypted).

use std::collections::BTreeMap;
use std::path::Path;

use runbook_engine::config_dir::{Cluster, ClusterConfig, secrets_path};
use runbook_engine::scope::Inputs;
use runbook_engine::sops::{self, KeySources};
use runbook_engine::validate::KnownInputs;
use serde_json::Value;

/// `config` is the merged view of the directory; `secrets` its `secrets.yaml`, decrypted.
pub fn load_config_dir(
    dir: &Path,
    cluster: Option<&str>,
    inputs: &mut Inputs,
    known: &mut KnownInputs,
    paths: &mut BTreeMap<String, String>,
) -> Result<(), String> {
    let cluster: Cluster = match cluster {
        Some(c) => c.parse().map_err(|e| format!("--cluster: {e}"))?,
        None => {
            return Err(format!(
                "--config-dir {} needs --cluster sc or --cluster wc",
                dir.display()
            ));
        }
    };
    let config = ClusterConfig::load(dir, cluster).map_err(|e| e.to_string())?;
    known.config_files = config
        .files_looked_in()
        .iter()
        .map(|f| f.strip_prefix(dir).unwrap_or(f).display().to_string())
        .collect();
    known.config = Some(config.value().clone());
    inputs.config = Some(config.value().clone());
    paths.insert("config_dir".into(), crate::inputs::absolute(dir));
    paths.insert("cluster".into(), cluster.as_str().into());
    let kubeconfig = dir
        .join(".state")
        .join(format!("kube_config_{}.yaml", cluster.as_str()));
    if kubeconfig.exists() {
        inputs.default_kubeconfig = Some(kubeconfig.display().to_string());
    }
    let secrets = secrets_path(dir);
    if secrets.exists() {
        let value = load_secrets_file(&secrets)?;
        known.secrets = Some(value.clone());
        known.secrets_source = Some(secrets.display().to_string());
        inputs.secrets = Some(value);
    }
    Ok(())
}

/// A secrets file: decrypted in memory when sops-encrypted, taken as is when plain.
pub fn load_secrets_file(file: &Path) -> Result<Value, String> {
    let value = sops::decrypt_file(file, &KeySources::from_env()).map_err(|e| e.to_string())?;
    match value {
        Value::Object(_) => Ok(value),
        Value::Null => Ok(Value::Object(Default::default())),
        _ => Err(format!(
            "{}: the secrets file must be a mapping of names to values",
            file.display()
        )),
    }
}
