//! `assert`: fail the run unless a condition holds (e.g. a restore brought back what it should).

use async_trait::async_trait;
use runbook_engine::kind::{Kind, StepContext, StepError};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

pub struct Assert;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AssertInput {
    /// The condition, usually one `{{ expression }}`, e.g. `"{{ steps.count.outputs.json.count > 0 }}"`.
    pub that: Condition,
    /// What failed, in the operator's words.
    pub message: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Condition {
    Bool(bool),
    Text(String),
}

#[async_trait]
impl Kind for Assert {
    type Input = AssertInput;
    fn name(&self) -> &'static str {
        "assert"
    }
    fn about(&self) -> &'static str {
        "Fail unless a condition holds: `that: \"{{ expression }}\"`, with an optional `message`."
    }
    fn outputs(&self) -> &'static [&'static str] {
        &["held"]
    }
    fn idempotent(&self, _input: &AssertInput) -> bool {
        true
    }
    fn describe(&self, input: &AssertInput) -> String {
        let that = match &input.that {
            Condition::Bool(b) => b.to_string(),
            Condition::Text(t) => t.clone(),
        };
        format!("check that {that}")
    }
    async fn run(&self, _ctx: &StepContext, input: AssertInput) -> Result<Value, StepError> {
        let holds = match &input.that {
            Condition::Bool(b) => *b,
            Condition::Text(t) => match t.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" => true,
                "false" | "no" | "0" | "" => false,
                other => {
                    return Err(StepError::permanent(format!(
                        "`that` must be true or false, got `{other}`"
                    )));
                }
            },
        };
        if holds {
            Ok(json!({"held": true}))
        } else {
            Err(StepError::permanent(
                input
                    .message
                    .unwrap_or_else(|| "the assertion does not hold".into()),
            ))
        }
    }
}
