//! What every store hands to the decryptor: the documents as JSON trees in document order,
//! and the `sops` metadata (still unparsed) if the file has it.

use std::path::Path;

use serde_json::Value;

use super::error::SopsError;
use super::format::Format;
use super::{store_ini, store_json, store_yaml};

/// How a store's plaintext numbers turn into the bytes sops hashes into the MAC. sops reads
/// JSON numbers as Go `float64` (so `8086` hashes as `8086`, `1e2` as `100`), YAML integers as
/// Go `int`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumberModel {
    /// YAML: integers stay integers, everything else is a float.
    IntegersAndFloats,
    /// JSON: every number is a float.
    FloatsOnly,
}

/// A parsed sops file.
#[derive(Debug)]
pub(crate) struct StoreDocument {
    /// One tree per document (only YAML has more than one). The `sops` key is removed.
    pub documents: Vec<Value>,
    /// The `sops` metadata of the first document, as a JSON tree.
    pub metadata: Option<Value>,
    pub numbers: NumberModel,
}

impl StoreDocument {
    /// The plaintext result: the single document, or an array of documents for a YAML
    /// stream with several.
    pub fn into_output(mut self) -> Value {
        if self.documents.len() == 1 {
            self.documents.pop().unwrap_or(Value::Null)
        } else {
            Value::Array(self.documents)
        }
    }
}

pub(crate) fn parse(text: &str, format: Format, origin: &Path) -> Result<StoreDocument, SopsError> {
    match format {
        Format::Yaml => store_yaml::parse(text, origin),
        Format::Json => store_json::parse(text, origin),
        Format::Ini => store_ini::parse(text, origin),
    }
}

/// Removes the top-level `sops` key of a document and returns it.
pub(crate) fn take_metadata(document: &mut Value) -> Option<Value> {
    match document {
        Value::Object(map) => map.shift_remove("sops"),
        _ => None,
    }
}
