//! `sleep`: wait, e.g. for a controller to notice a change.

use async_trait::async_trait;
use runbook_engine::duration::{DurationInput, format_duration};
use runbook_engine::kind::{Kind, StepContext, StepError};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

pub struct Sleep;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SleepInput {
    /// How long, e.g. `30s`, `5m`.
    pub duration: DurationInput,
}

#[async_trait]
impl Kind for Sleep {
    type Input = SleepInput;
    fn name(&self) -> &'static str {
        "sleep"
    }
    fn about(&self) -> &'static str {
        "Wait for a duration such as `30s` or `5m`."
    }
    fn outputs(&self) -> &'static [&'static str] {
        &["slept"]
    }
    fn idempotent(&self, _input: &SleepInput) -> bool {
        true
    }
    fn describe(&self, input: &SleepInput) -> String {
        format!("wait {}", input.duration.text())
    }
    async fn run(&self, _ctx: &StepContext, input: SleepInput) -> Result<Value, StepError> {
        let duration = input.duration.duration("duration")?;
        tokio::time::sleep(duration).await;
        Ok(json!({"slept": format_duration(duration)}))
    }
}
