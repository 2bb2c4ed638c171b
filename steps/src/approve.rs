//! `approve`: a person confirms before the run goes on; with `--yes` it passes and says so.

use async_trait::async_trait;
use runbook_engine::kind::{Kind, StepContext, StepError};
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
impl Kind for Approve {
    type Input = ApproveInput;
    fn name(&self) -> &'static str {
        "approve"
    }
    fn about(&self) -> &'static str {
        "Ask the operator to confirm before going on (`--yes` approves, and the journal records that it did)."
    }
    fn outputs(&self) -> &'static [&'static str] {
        &["approved", "approved_by"]
    }
    fn asks_operator(&self) -> bool {
        true
    }
    fn idempotent(&self, _input: &ApproveInput) -> bool {
        true
    }
    fn describe(&self, input: &ApproveInput) -> String {
        format!("ask: {}", input.message)
    }
    async fn run(&self, ctx: &StepContext, input: ApproveInput) -> Result<Value, StepError> {
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
