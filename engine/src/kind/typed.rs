//! The typed side of a kind: [`Kind`] on one serde struct, seen by the engine as a [`StepKind`]
//! through a blanket impl; inputs not yet rendered are parsed tolerantly (see the module header of
//! [`crate::kind`]).

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use crate::error::StepError;

use super::{StepContext, StepKind, parse_inputs, schema_of};

/// A step kind on its typed inputs: what [`StepKind`] asks, each question answered from one
/// parse of `with` into [`Kind::Input`] (see the module header for inputs not yet rendered).
#[async_trait]
pub trait Kind: Send + Sync + 'static {
    /// The inputs (`with:`); their JSON Schema is the kind's input schema.
    type Input: DeserializeOwned + JsonSchema + Send;
    /// The name runbooks write in `uses:`.
    fn name(&self) -> &'static str;
    /// One line for `runbook schema`, the README and editors.
    fn about(&self) -> &'static str;
    /// The outputs a successful run gives, by name (the README documents each).
    fn outputs(&self) -> &'static [&'static str];
    /// Checks the schema cannot express, on the inputs as written.
    fn check(&self, _input: &Self::Input) -> Vec<String> {
        Vec::new()
    }
    /// Whether running it deletes, drops or overwrites something.
    fn destructive(&self, _input: &Self::Input) -> bool {
        false
    }
    /// Whether running it twice has the effect of running it once.
    fn idempotent(&self, _input: &Self::Input) -> bool {
        false
    }
    /// Whether running it asks the operator (an approval).
    fn asks_operator(&self) -> bool {
        false
    }
    /// What the step will do, for `plan`: one line.
    fn describe(&self, input: &Self::Input) -> String;
    /// Do it, on the rendered inputs. The outputs become `steps.<id>.outputs`.
    async fn run(&self, ctx: &StepContext, input: Self::Input) -> Result<Value, StepError>;
}

#[async_trait]
impl<K: Kind> StepKind for K {
    fn name(&self) -> &'static str {
        Kind::name(self)
    }
    fn about(&self) -> &'static str {
        Kind::about(self)
    }
    fn outputs(&self) -> &'static [&'static str] {
        Kind::outputs(self)
    }
    fn input_schema(&self) -> Value {
        schema_of::<K::Input>()
    }
    fn check(&self, with: &Value) -> Vec<String> {
        unrendered::<K::Input>(with)
            .map(|input| Kind::check(self, &input))
            .unwrap_or_default()
    }
    fn destructive(&self, with: &Value) -> bool {
        unrendered::<K::Input>(with).is_none_or(|input| Kind::destructive(self, &input))
    }
    fn idempotent(&self, with: &Value) -> bool {
        unrendered::<K::Input>(with).is_some_and(|input| Kind::idempotent(self, &input))
    }
    fn asks_operator(&self) -> bool {
        Kind::asks_operator(self)
    }
    fn describe(&self, with: &Value) -> String {
        match unrendered::<K::Input>(with) {
            Some(input) => Kind::describe(self, &input),
            None => Kind::name(self).to_string(),
        }
    }
    async fn run(&self, ctx: &StepContext, with: Value) -> Result<Value, StepError> {
        let input = parse_inputs(Kind::name(self), with)?;
        Kind::run(self, ctx, input).await
    }
}

/// The typed inputs from inputs that may not be rendered yet: text where the type wants
/// something else is taken out, one place at a time, until they parse (or nothing is left to
/// take out).
pub(super) fn unrendered<T: DeserializeOwned>(with: &Value) -> Option<T> {
    // A step without `with:` has no inputs, as one with `with: {}`.
    let mut with = match with {
        Value::Null => Value::Object(serde_json::Map::new()),
        other => other.clone(),
    };
    loop {
        match serde_path_to_error::deserialize::<_, T>(&with) {
            Ok(input) => return Some(input),
            Err(e) => {
                if !take_out_text(&mut with, e.path()) {
                    return None;
                }
            }
        }
    }
}

/// Removes the string at `path` (a member of an object), if a string is what is there.
fn take_out_text(with: &mut Value, path: &serde_path_to_error::Path) -> bool {
    use serde_path_to_error::Segment;
    let segments: Vec<&Segment> = path.iter().collect();
    let Some((Segment::Map { key }, parents)) = segments.split_last() else {
        return false;
    };
    let mut node = with;
    for segment in parents {
        let next = match segment {
            Segment::Map { key } => node.get_mut(key.as_str()),
            Segment::Seq { index } => node.get_mut(*index),
            _ => None,
        };
        match next {
            Some(next) => node = next,
            None => return false,
        }
    }
    match node.as_object_mut() {
        Some(object) if object.get(key.as_str()).is_some_and(Value::is_string) => {
            object.remove(key.as_str());
            true
        }
        _ => false,
    }
}
