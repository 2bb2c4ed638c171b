//! [`Templated`]: an input that is a value once rendered, and may be template text before.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, Error as _};
use serde_json::Value;

pub use crate::error::StepError;

/// An input that is a `T` once rendered but may be text before: a template as written, or what
/// `plan` shows for a value only a run knows. Its schema is `T`'s.
#[derive(Debug, Clone, PartialEq)]
pub enum Templated<T> {
    Value(T),
    Text(String),
}

impl<T> Templated<T> {
    /// The value, unless it is still text.
    pub fn value(&self) -> Option<&T> {
        match self {
            Templated::Value(value) => Some(value),
            Templated::Text(_) => None,
        }
    }

    /// For `run`, on rendered inputs: the value of the input named `input`. Text there is what a
    /// template rendered to, and not a value of the input's type.
    pub fn rendered(&self, input: &str) -> Result<&T, StepError> {
        match self {
            Templated::Value(value) => Ok(value),
            Templated::Text(text) => Err(StepError::permanent(format!(
                "`{input}` is the text {text:?}, which is not a valid `{input}`"
            ))),
        }
    }

    /// How `describe` shows it: the value by `show`, text as it is.
    pub fn show(&self, show: impl FnOnce(&T) -> String) -> String {
        match self {
            Templated::Value(value) => show(value),
            Templated::Text(text) => text.clone(),
        }
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Templated<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        match serde_json::from_value::<T>(value.clone()) {
            Ok(parsed) => Ok(Templated::Value(parsed)),
            Err(_) if value.is_string() => Ok(Templated::Text(
                value.as_str().unwrap_or_default().to_string(),
            )),
            Err(e) => Err(D::Error::custom(e)),
        }
    }
}

impl<T: JsonSchema> JsonSchema for Templated<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}
