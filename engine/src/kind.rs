//! The step-kind trait: everything the engine needs to know about a `uses:` kind. The engine knows
//! no kind itself; `runbook-steps` registers them in a [`Registry`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::connection::{Connection, Connections};
use crate::interaction::Interaction;
use crate::progress::ProgressSink;
use crate::redact::Redactor;

#[async_trait]
pub trait StepKind: Send + Sync + 'static {
    /// The name runbooks write in `uses:`.
    fn name(&self) -> &'static str;
    /// One line for `runbook schema`, the README and editors.
    fn about(&self) -> &'static str;
    /// JSON Schema of `with`; checked at `validate` time, before anything is contacted.
    fn input_schema(&self) -> Value;
    /// Checks the schema cannot express (e.g. "exactly one of `argv` or `shell`"), on the literal
    /// inputs as written. Template strings may stand where any value is expected.
    fn check(&self, _with: &Value) -> Vec<String> {
        Vec::new()
    }
    /// Whether running it deletes, drops or overwrites something. A runbook may only add this.
    fn destructive(&self, _with: &Value) -> bool {
        false
    }
    /// Whether running it twice has the effect of running it once (so an interrupted attempt may be
    /// re-run on resume). Kinds that create objects make themselves idempotent by naming them after
    /// [`StepContext::idempotency_key`].
    fn idempotent(&self, _with: &Value) -> bool {
        false
    }
    /// Whether running it asks the operator (an approval): without a terminal and without
    /// `--yes` such a step cannot run, which is known, and refused, before the run starts.
    fn asks_operator(&self) -> bool {
        false
    }
    /// What the step will do, for `plan`: one line, from inputs rendered as far as possible.
    fn describe(&self, with: &Value) -> String;
    /// Do it. The outputs become `steps.<id>.outputs`.
    async fn run(&self, ctx: &StepContext, with: Value) -> Result<Value, StepError>;
}

/// What a running step gets from the engine.
pub struct StepContext {
    pub run_id: String,
    /// The step's full id (`include.child` for steps of an included runbook).
    pub step_id: String,
    /// The `for_each` item index, if any.
    pub index: Option<usize>,
    pub attempt: u32,
    /// Stable across attempts and resumes: `<run-id>-<step-id>[-<index>]`.
    pub idempotency_key: String,
    /// Files named in the step's inputs are relative to this directory.
    pub runbook_dir: PathBuf,
    pub connections: Arc<Connections>,
    pub progress: ProgressSink,
    pub interaction: Arc<dyn Interaction>,
    pub redactor: Arc<Redactor>,
    /// The run's directory (journal and run.json); `None` outside a recorded run.
    pub run_dir: Option<PathBuf>,
}

impl StepContext {
    /// The idempotency key as a Kubernetes object name: lowercase, at most 63 characters, with a
    /// hash suffix when it had to be shortened so distinct keys stay distinct.
    pub fn object_name(&self) -> String {
        object_name(&self.idempotency_key)
    }

    pub fn connection(&self, name: &str) -> Result<&Connection, StepError> {
        self.connections.get(name).ok_or_else(|| {
            StepError::permanent(format!(
                "no connection named `{name}` (declared: {})",
                self.connections.names().join(", ")
            ))
        })
    }

    /// A path from the step's inputs, relative to the runbook's directory.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.runbook_dir.join(relative)
    }
}

pub fn object_name(key: &str) -> String {
    let mut name: String = key
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if name.len() > 63 {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(key.as_bytes());
        let suffix: String = digest.iter().take(3).map(|b| format!("{b:02x}")).collect();
        name.truncate(56);
        name = format!("{}-{suffix}", name.trim_end_matches('-'));
    }
    name.trim_matches('-').to_string()
}

/// A step's failure. `retryable: false` skips the remaining attempts (bad input, a refusal).
#[derive(Debug, Clone, PartialEq)]
pub struct StepError {
    pub message: String,
    pub retryable: bool,
}

impl StepError {
    pub fn new(message: impl Into<String>) -> Self {
        StepError {
            message: message.into(),
            retryable: true,
        }
    }
    pub fn permanent(message: impl Into<String>) -> Self {
        StepError {
            message: message.into(),
            retryable: false,
        }
    }
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StepError {}

/// Deserialize a kind's rendered inputs into its typed struct.
pub fn parse_inputs<T: DeserializeOwned>(kind: &str, with: Value) -> Result<T, StepError> {
    serde_json::from_value(with)
        .map_err(|e| StepError::permanent(format!("invalid inputs for `{kind}`: {e}")))
}

/// The JSON Schema of a kind's input struct.
pub fn schema_of<T: schemars::JsonSchema>() -> Value {
    serde_json::to_value(schemars::schema_for!(T)).expect("schema serializes")
}

/// The kinds a run can use, by name.
#[derive(Clone, Default)]
pub struct Registry {
    kinds: BTreeMap<&'static str, Arc<dyn StepKind>>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn register(&mut self, kind: impl StepKind) -> &mut Self {
        self.kinds.insert(kind.name(), Arc::new(kind));
        self
    }
    pub fn get(&self, name: &str) -> Option<&Arc<dyn StepKind>> {
        self.kinds.get(name)
    }
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.kinds.keys().copied()
    }
    pub fn kinds(&self) -> impl Iterator<Item = &Arc<dyn StepKind>> {
        self.kinds.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names_are_valid_and_distinct() {
        assert_eq!(
            object_name("20261123-154401-a3f9-restore"),
            "20261123-154401-a3f9-restore"
        );
        let long_a = object_name(&format!("20261123-154401-a3f9-{}-a", "x".repeat(60)));
        let long_b = object_name(&format!("20261123-154401-a3f9-{}-b", "x".repeat(60)));
        assert!(long_a.len() <= 63 && long_b.len() <= 63);
        assert_ne!(long_a, long_b);
        assert_eq!(object_name("Run_1.step"), "run-1-step");
    }
}
