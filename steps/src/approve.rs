//! `approve`: a person confirms before the run goes on; with `--yes` it passes and says so.

use async_trait::async_trait;
use runbook_engine::kind::{StepContext, StepError, StepKind, parse_inputs, schema_of};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

pub struct Approve;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveInput {
    /// The question put to the operator.
    pub message: String,
}

#[async_trait]
impl StepKind for Approve {
    fn name(&self) -> &'static str {
        "approve"
    }
    fn about(&self) -> &'static str {
        "Ask the operator to confirm before going on (`--yes` approves, and the journal records that it did)."
    }
    fn input_schema(&self) -> Value {
        schema_of::<ApproveInput>()
    }
    fn asks_operator(&self) -> bool {
        true
    }
    fn idempotent(&self, _with: &Value) -> bool {
        true
    }
    fn describe(&self, with: &Value) -> String {
        format!(
            "ask: {}",
            with.get("message")
                .and_then(Value::as_str)
                .unwrap_or("continue?")
        )
    }
    async fn run(&self, ctx: &StepContext, with: Value) -> Result<Value, StepError> {
        let input: ApproveInput = parse_inputs(self.name(), with)?;
        let interaction = ctx.interaction.clone();
        let answer = tokio::task::spawn_blocking(move || interaction.confirm(&input.message))
            .await
            .map_err(|e| StepError::permanent(format!("the prompt failed: {e}")))?;
        match answer {
            Ok(approval) => Ok(json!({"approved": true, "approved_by": approval.as_str()})),
            Err(why) => Err(StepError::permanent(format!("not approved: {why}"))),
        }
    }
}
