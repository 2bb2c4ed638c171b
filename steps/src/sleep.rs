//! `sleep`: wait, e.g. for a controller to notice a change.

use async_trait::async_trait;
use runbook_engine::duration::{format_duration, parse_duration};
use runbook_engine::kind::{StepContext, StepError, StepKind, parse_inputs, schema_of};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

pub struct Sleep;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SleepInput {
    /// How long, e.g. `30s`, `5m`.
    #[schemars(extend("format" = "duration"))]
    pub duration: String,
}

#[async_trait]
impl StepKind for Sleep {
    fn name(&self) -> &'static str {
        "sleep"
    }
    fn about(&self) -> &'static str {
        "Wait for a duration such as `30s` or `5m`."
    }
    fn input_schema(&self) -> Value {
        schema_of::<SleepInput>()
    }
    fn idempotent(&self, _with: &Value) -> bool {
        true
    }
    fn describe(&self, with: &Value) -> String {
        format!(
            "wait {}",
            with.get("duration").and_then(Value::as_str).unwrap_or("?")
        )
    }
    async fn run(&self, _ctx: &StepContext, with: Value) -> Result<Value, StepError> {
        let input: SleepInput = parse_inputs(self.name(), with)?;
        let duration = parse_duration(&input.duration)
            .map_err(|e| StepError::permanent(format!("duration: {e}")))?;
        tokio::time::sleep(duration).await;
        Ok(json!({"slept": format_duration(duration)}))
    }
}
