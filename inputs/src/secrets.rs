//! A secrets file: decrypted in memory when sops-encrypted, taken as is when plain.

use std::path::Path;

use serde_json::Value;

use crate::error::SecretsError;
use crate::sops::{self, KeySources};

/// The secrets as a mapping of names to values (an empty file is an empty mapping), decrypted
/// with the operator's keys ([`KeySources::from_env`]).
pub fn load_secrets_file(file: &Path) -> Result<Value, SecretsError> {
    let value = sops::decrypt_file(file, &KeySources::from_env())?;
    match value {
        Value::Object(_) => Ok(value),
        Value::Null => Ok(Value::Object(Default::default())),
        _ => Err(SecretsError::NotAMapping {
            path: file.to_path_buf(),
        }),
    }
}
