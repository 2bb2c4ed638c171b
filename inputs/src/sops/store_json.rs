//! The JSON store: one object, metadata under the top-level `sops` key.

use std::path::Path;

use serde_json::Value;

use super::error::SopsError;
use super::store::{NumberModel, StoreDocument, take_metadata};

pub(crate) fn parse(text: &str, origin: &Path) -> Result<StoreDocument, SopsError> {
    let mut document: Value = serde_json::from_str(text).map_err(|error| SopsError::Malformed {
        path: origin.to_path_buf(),
        format: "JSON",
        location: Some((error.line() as u64, error.column() as u64)),
        message: message_without_location(&error.to_string()),
    })?;
    let metadata = take_metadata(&mut document);
    Ok(StoreDocument {
        documents: vec![document],
        metadata,
        // Go's encoding/json decodes every number into float64.
        numbers: NumberModel::FloatsOnly,
    })
}

/// serde_json appends " at line L column C"; the location is reported separately.
fn message_without_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_string(),
        None => message.to_string(),
    }
}
