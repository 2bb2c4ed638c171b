//! The YAML store: a YAML stream, one tree per document, metadata under the top-level `sops` key.
//!
//! sops reads YAML with Go's yaml.v3 into `interface{}`; the parser options below reproduce
//! how that resolves plain scalars, because unencrypted values are hashed into the MAC by their
//! resolved type (`yes` is the string "yes", `0755` is the integer 493).

use std::path::Path;

use serde_json::Value;
use serde_saphyr::{MergeKeyPolicy, NonFiniteFloatPolicy, Options};

use super::error::SopsError;
use super::store::{NumberModel, StoreDocument, take_metadata};

pub(crate) fn parse(text: &str, origin: &Path) -> Result<StoreDocument, SopsError> {
    let mut documents: Vec<Value> =
        serde_saphyr::from_multiple_with_options(text, yaml_v3_options())
            .map_err(|error| malformed(origin, &error))?;
    // sops writes its metadata into every document of a stream and reads it from the first.
    let mut metadata = None;
    for document in &mut documents {
        let found = take_metadata(document);
        if metadata.is_none() {
            metadata = found;
        }
    }
    Ok(StoreDocument {
        documents,
        metadata,
        numbers: NumberModel::IntegersAndFloats,
    })
}

/// yaml.v3 decoding into `interface{}`: only `true`/`false` (any case form) are booleans,
/// `0755` is octal, `<<` is an ordinary key (sops walks the node tree, where merge keys are
/// not expanded), and duplicate keys are an error.
fn yaml_v3_options() -> Options {
    let mut options = Options::default();
    options.strict_booleans = true;
    options.legacy_octal_numbers = true;
    options.merge_keys = MergeKeyPolicy::AsOrdinary;
    options.non_finite_float_policy = NonFiniteFloatPolicy::AsString;
    // A snippet of the file could show plaintext values of an unencrypted file.
    options.with_snippet = false;
    options
}

fn malformed(origin: &Path, error: &serde_saphyr::Error) -> SopsError {
    let location = error.location().map(|at| (at.line(), at.column()));
    SopsError::Malformed {
        path: origin.to_path_buf(),
        format: "YAML",
        location,
        message: message_without_location(&error.to_string()),
    }
}

/// serde-saphyr appends " at line L, column C"; the location is reported separately.
fn message_without_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_string(),
        None => message.to_string(),
    }
}
