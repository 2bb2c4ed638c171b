use indexmap::IndexMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::program::Program;

/// `run.json`: what a run was started with, so `resume` can rebuild it and notice edits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunMeta {
    pub run_id: String,
    pub runbook: String,
    /// Absolute path of the root runbook.
    pub runbook_path: String,
    pub started_at: String,
    pub host: String,
    pub user: String,
    pub engine_version: String,
    /// Params as given (secret params are left out: they must be given again on resume).
    pub params: Map<String, Value>,
    /// Where the other inputs came from, re-read on resume (secrets are never stored).
    pub inputs: RunInputs,
    pub parallel: usize,
    /// Step id -> fingerprint of its definition, in the runbook's order.
    pub steps: IndexMap<String, String>,
}

/// Where a run's inputs came from, as `run.json` keeps them: absolute paths (and the cluster), so
/// `resume` from any directory reads the same files again.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunInputs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_dir: Option<String>,
    /// `sc` or `wc`, with `config_dir`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// A secrets file given with `--secrets` (its path only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vars: Option<String>,
    /// A `--params` file: recorded for people; its values are saved resolved in `params`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<String>,
}

/// The suffix of the fingerprint keys that stand for a runbook's params, vars and connections
/// rather than for a step. Only [`FingerprintKey`] writes and reads it.
const HEADER_SUFFIX: &str = "(params, vars, connections)";

/// What a key of run.json's `steps` stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FingerprintKey<'k> {
    /// A step, by its full key.
    Step(&'k str),
    /// A runbook's params, vars and connections: the root's, or those of the runbook an include
    /// step includes.
    Header { include: Option<&'k str> },
}

impl<'k> FingerprintKey<'k> {
    pub fn parse(key: &'k str) -> FingerprintKey<'k> {
        match key.strip_suffix(HEADER_SUFFIX) {
            None => FingerprintKey::Step(key),
            Some("") => FingerprintKey::Header { include: None },
            Some(prefix) => FingerprintKey::Header {
                include: Some(prefix.trim_end_matches('.')),
            },
        }
    }

    /// The key of a frame's header, from the frame's step prefix (`""` or `"restore-influx."`).
    fn header(prefix: &str) -> String {
        format!("{prefix}{HEADER_SUFFIX}")
    }
}

impl std::fmt::Display for FingerprintKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FingerprintKey::Step(key) => write!(f, "step `{key}`"),
            FingerprintKey::Header { include: None } => f.write_str("the runbook"),
            FingerprintKey::Header {
                include: Some(include),
            } => write!(f, "the runbook included by `{include}`"),
        }
    }
}

impl RunMeta {
    /// The run's steps, in the runbook's order.
    pub fn step_keys(&self) -> impl Iterator<Item = &str> {
        self.steps
            .keys()
            .map(String::as_str)
            .filter(|k| matches!(FingerprintKey::parse(k), FingerprintKey::Step(_)))
    }
}

pub fn fingerprint(value: &Value) -> String {
    let digest = Sha256::digest(
        serde_json::to_string(value)
            .expect("value serializes")
            .as_bytes(),
    );
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Each step's definition, plus each runbook's params, vars and connections under `<prefix>(header)`,
/// since an edit there changes what the steps do.
pub fn step_fingerprints(program: &Program) -> IndexMap<String, String> {
    let mut out = IndexMap::new();
    for step in &program.steps {
        out.insert(step.key.clone(), fingerprint(&step.def.definition));
    }
    for frame in &program.frames {
        let runbook = &program.runbooks[frame.runbook];
        let header = serde_json::json!({
            "params": runbook.params.iter().map(|p| (p.name.clone(), serde_json::json!({"default": p.default, "required": p.required}))).collect::<Map<_, _>>(),
            "vars": runbook.vars.iter().map(|v| (v.name.clone(), v.value.to_json())).collect::<Map<_, _>>(),
            "connections": runbook.connections.iter().map(|c| (c.name.clone(), serde_json::json!({"kind": c.kind, "fields": c.fields.to_json()}))).collect::<Map<_, _>>(),
            "include_params": frame.params.as_ref().map(|p| p.to_json()),
        });
        out.insert(FingerprintKey::header(&frame.prefix), fingerprint(&header));
    }
    out
}
