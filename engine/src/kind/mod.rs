//! The step-kind traits: everything the engine needs to know about a `uses:` kind. The engine knows
//! no kind itself; `runbook-steps` registers them in a [`Registry`].
//!
//! A kind is written as a [`Kind`], on its typed inputs (one serde struct, whose JSON Schema is the
//! kind's input schema). The engine sees every kind as a [`StepKind`], on the inputs as JSON: the
//! blanket impl below parses them once per question.
//!
//! Inputs before they are rendered: `validate`, `plan` and the destructive/idempotent judgement of a
//! run (made on the inputs as written) ask about inputs that may still hold template text
//! (`"{{ params.n }}"`, or the plan's `⟨steps.x.outputs.n⟩` for what only a run knows) where a
//! number, a bool, a list or a choice belongs. For those questions the parse is tolerant:
//! - a field of type [`Templated<T>`] holds the value or the text, and the kind says what text
//!   means (`k8s.scale` counts a templated `replicas` as destructive and describes it by its text);
//!   kinds use it where "not given" would be the wrong reading;
//! - text anywhere else that a string does not belong reads as not given (the field's default): the
//!   parse error's path names it, it is taken out and the parse tried again;
//! - inputs that still do not parse (invalid ones, which validation reports from the schema, or a
//!   required input of another type written as a template) describe as the kind's name, need no
//!   checks, and count as destructive and not idempotent.
//!
//! An input written as `null` reads as not given, for these questions as for `run`.
//!
//! `run` parses the rendered inputs strictly: a bad input fails the step with serde's message, and
//! a `Templated` input still text after rendering fails it when the kind reads it.

mod registry;
mod templated;
mod typed;

pub use registry::Registry;
pub use templated::Templated;
pub use typed::Kind;

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::connection::{Connection, Connections};
pub use crate::error::StepError;
use crate::interaction::Interaction;
use crate::progress::ProgressSink;
use crate::redact::Redactor;

/// A step kind as the engine calls it: on the inputs as JSON. Kinds implement [`Kind`] instead.
#[async_trait]
pub trait StepKind: Send + Sync + 'static {
    /// The name runbooks write in `uses:`.
    fn name(&self) -> &'static str;
    /// One line for `runbook schema`, the README and editors.
    fn about(&self) -> &'static str;
    /// The outputs a successful run gives, by name (the README documents each).
    fn outputs(&self) -> &'static [&'static str] {
        &[]
    }
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

/// Deserialize a kind's rendered inputs into its typed struct.
pub fn parse_inputs<T: DeserializeOwned>(kind: &str, with: Value) -> Result<T, StepError> {
    serde_json::from_value(with)
        .map_err(|e| StepError::permanent(format!("invalid inputs for `{kind}`: {e}")))
}

/// The JSON Schema of a kind's input struct.
pub fn schema_of<T: schemars::JsonSchema>() -> Value {
    serde_json::to_value(schemars::schema_for!(T)).expect("schema serializes")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::typed::unrendered;
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Input {
        name: String,
        replicas: Templated<u32>,
        #[serde(default = "yes")]
        wait: bool,
        limit: Option<u64>,
    }

    fn yes() -> bool {
        true
    }

    #[test]
    fn templated_fields_keep_their_text_and_other_text_reads_as_not_given() {
        let input: Input = unrendered(&json!({
            "name": "{{ params.name }}",
            "replicas": "{{ params.n }}",
            "wait": "{{ params.wait }}",
            "limit": "⟨steps.a.outputs.limit⟩",
        }))
        .expect("parses");
        assert_eq!(input.name, "{{ params.name }}");
        assert_eq!(input.replicas, Templated::Text("{{ params.n }}".into()));
        assert!(input.wait, "a templated bool reads as its default");
        assert_eq!(input.limit, None);
    }

    #[test]
    fn rendered_inputs_parse_as_they_are() {
        let input: Input =
            unrendered(&json!({"name": "web", "replicas": 3, "wait": false, "limit": 7}))
                .expect("parses");
        assert_eq!(input.replicas, Templated::Value(3));
        assert_eq!(input.replicas.rendered("replicas"), Ok(&3));
        assert!(!input.wait);
        assert_eq!(input.limit, Some(7));
    }

    #[test]
    fn invalid_inputs_do_not_parse_and_text_fails_a_run() {
        assert!(unrendered::<Input>(&json!({"replicas": 3})).is_none());
        assert!(unrendered::<Input>(&json!({"name": "a", "replicas": 3, "other": 1})).is_none());
        assert!(unrendered::<Input>(&json!({"name": "a", "replicas": [1]})).is_none());
        let text: Templated<u32> = Templated::Text("abc".into());
        assert!(!text.rendered("replicas").unwrap_err().retryable);
    }

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
