//! Turning the input flags into what the engine reads: params, vars, config and secrets.

use std::path::{Path, PathBuf};

use runbook_engine::journal::RunInputs;
use runbook_engine::scope::{Inputs, parse_set};
use runbook_engine::validate::KnownInputs;
use runbook_inputs::{Cluster, ClusterInputs, kubeconfig_path, load_secrets_file};
use serde_json::{Map, Value};

use crate::args::InputArgs;
use crate::error::InputError;

/// The inputs, what validation may check references against, and where each came from (for `run.json`).
pub struct LoadedInputs {
    pub inputs: Inputs,
    pub known: KnownInputs,
    pub paths: RunInputs,
}

pub fn load(
    args: &InputArgs,
    saved_params: Option<&Map<String, Value>>,
) -> Result<LoadedInputs, InputError> {
    let mut inputs = Inputs::default();
    inputs.env = std::env::vars().collect();
    let mut known = KnownInputs::default();
    let mut paths = RunInputs::default();
    if let Some(saved) = saved_params {
        inputs.params = saved.clone();
    }
    if let Some(file) = &args.params {
        inputs.params.extend(read_mapping(file, "params")?);
        paths.params = Some(absolute(file));
    }
    for assignment in &args.set {
        let (key, value) = parse_set(assignment).map_err(InputError::Set)?;
        inputs.params.insert(key, value);
    }
    if let Some(file) = &args.vars {
        inputs.vars = read_mapping(file, "vars")?;
        paths.vars = Some(absolute(file));
    }
    if let Some(dir) = &args.config_dir {
        let cluster = parse_cluster(dir, args.cluster.as_deref())?;
        let from_dir = ClusterInputs::load(dir, cluster)?;
        known.config_files = from_dir.config.relative_files_looked_in().to_vec();
        known.config = Some(from_dir.config.value().clone());
        inputs.config = Some(from_dir.config.value().clone());
        paths.config_dir = Some(absolute(dir));
        paths.cluster = Some(cluster.as_str().into());
        inputs.default_kubeconfig = from_dir.kubeconfig.map(|path| path.display().to_string());
        if inputs.default_kubeconfig.is_none() {
            inputs.missing_default_kubeconfig =
                Some(kubeconfig_path(dir, cluster).display().to_string());
        }
        if let Some(secrets) = from_dir.secrets {
            known.secrets = Some(secrets.value.clone());
            known.secrets_source = Some(secrets.path.display().to_string());
            inputs.secrets = Some(secrets.value);
        }
    } else if args.cluster.is_some() {
        return Err(InputError::ClusterWithoutConfigDir);
    }
    if let Some(file) = &args.secrets {
        let secrets = load_secrets_file(file)?;
        known.secrets_source = Some(file.display().to_string());
        known.secrets = Some(secrets.clone());
        inputs.secrets = Some(secrets);
        paths.secrets = Some(absolute(file));
    }
    Ok(LoadedInputs {
        inputs,
        known,
        paths,
    })
}

/// `--cluster` is required with a config directory: the two clusters' configs differ.
fn parse_cluster(dir: &Path, cluster: Option<&str>) -> Result<Cluster, InputError> {
    match cluster {
        Some(cluster) => cluster.parse().map_err(InputError::Cluster),
        None => Err(InputError::ConfigDirWithoutCluster {
            dir: dir.to_path_buf(),
        }),
    }
}

/// The inputs a run was started with, from its `run.json`, with any flags given to `resume` on top.
pub fn for_resume(
    saved: &RunInputs,
    params: &Map<String, Value>,
    overrides: &InputArgs,
) -> Result<LoadedInputs, InputError> {
    let mut args = overrides.clone();
    let path = |saved: &Option<String>| saved.as_ref().map(PathBuf::from);
    args.config_dir = args.config_dir.or_else(|| path(&saved.config_dir));
    args.cluster = args.cluster.or_else(|| saved.cluster.clone());
    args.secrets = args.secrets.or_else(|| path(&saved.secrets));
    args.vars = args.vars.or_else(|| path(&saved.vars));
    // Params were saved resolved; a params file is not read again.
    args.params = None;
    load(&args, Some(params))
}

fn read_mapping(file: &Path, what: &'static str) -> Result<Map<String, Value>, InputError> {
    let text = runbook_engine::input_file::read_text(file)
        .map_err(|source| InputError::Read { what, source })?;
    match serde_saphyr::from_str::<Value>(&text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(Value::Null) => Ok(Map::new()),
        Ok(_) => Err(InputError::NotAMapping {
            file: file.to_path_buf(),
            what,
        }),
        Err(e) => Err(InputError::Yaml {
            file: file.to_path_buf(),
            what,
            location: e.location().map(|l| (l.line(), l.column())),
            message: e.to_string().lines().next().unwrap_or_default().to_string(),
        }),
    }
}

fn absolute(path: &Path) -> String {
    std::fs::canonicalize(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}
