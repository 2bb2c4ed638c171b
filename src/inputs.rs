//! Turning the input flags into what the engine reads: params, vars, config and secrets.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use runbook_engine::scope::{Inputs, parse_set};
use runbook_engine::validate::KnownInputs;
use serde_json::{Map, Value};

use crate::args::InputArgs;

/// The inputs, what validation may check references against, and where each came from (for `run.json`).
pub struct LoadedInputs {
    pub inputs: Inputs,
    pub known: KnownInputs,
    pub paths: BTreeMap<String, String>,
}

pub fn load(
    args: &InputArgs,
    saved_params: Option<&Map<String, Value>>,
) -> Result<LoadedInputs, String> {
    let mut inputs = Inputs::default();
    inputs.env = std::env::vars().collect();
    let mut known = KnownInputs::default();
    let mut paths = BTreeMap::new();
    if let Some(saved) = saved_params {
        inputs.params = saved.clone();
    }
    if let Some(file) = &args.params {
        inputs.params.extend(read_mapping(file, "params")?);
        paths.insert("params".into(), absolute(file));
    }
    for assignment in &args.set {
        let (key, value) = parse_set(assignment).map_err(|e| e.to_string())?;
        inputs.params.insert(key, value);
    }
    if let Some(file) = &args.vars {
        inputs.vars = read_mapping(file, "vars")?;
        paths.insert("vars".into(), absolute(file));
    }
    if let Some(dir) = &args.config_dir {
        crate::config::load_config_dir(
            dir,
            args.cluster.as_deref(),
            &mut inputs,
            &mut known,
            &mut paths,
        )?;
    } else if args.cluster.is_some() {
        return Err("--cluster needs --config-dir (or CK8S_CONFIG_PATH)".into());
    }
    if let Some(file) = &args.secrets {
        let secrets = crate::config::load_secrets_file(file)?;
        known.secrets_source = Some(file.display().to_string());
        known.secrets = Some(secrets.clone());
        inputs.secrets = Some(secrets);
        paths.insert("secrets".into(), absolute(file));
    }
    Ok(LoadedInputs {
        inputs,
        known,
        paths,
    })
}

/// The inputs a run was started with, from its `run.json`, with any flags given to `resume` on top.
pub fn for_resume(
    saved: &BTreeMap<String, String>,
    params: &Map<String, Value>,
    overrides: &InputArgs,
) -> Result<LoadedInputs, String> {
    let mut args = overrides.clone();
    let path = |key: &str| saved.get(key).map(PathBuf::from);
    if args.config_dir.is_none() {
        args.config_dir = path("config_dir");
    }
    if args.cluster.is_none() {
        args.cluster = saved.get("cluster").cloned();
    }
    if args.secrets.is_none() {
        args.secrets = path("secrets");
    }
    if args.vars.is_none() {
        args.vars = path("vars");
    }
    // Params were saved resolved; a params file is not read again.
    args.params = None;
    load(&args, Some(params))
}

pub fn read_mapping(file: &Path, what: &str) -> Result<Map<String, Value>, String> {
    let text =
        runbook_engine::input_file::read_text(file).map_err(|e| format!("the {what} file: {e}"))?;
    match serde_saphyr::from_str::<Value>(&text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(Value::Null) => Ok(Map::new()),
        Ok(_) => Err(format!(
            "{}: the {what} file must be a YAML mapping of names to values",
            file.display()
        )),
        Err(e) => {
            let at = e
                .location()
                .map(|l| format!(":{}:{}", l.line(), l.column()))
                .unwrap_or_default();
            Err(format!(
                "{}{at}: invalid YAML in the {what} file: {}",
                file.display(),
                e.to_string().lines().next().unwrap_or_default()
            ))
        }
    }
}

pub fn absolute(path: &Path) -> String {
    std::fs::canonicalize(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}
