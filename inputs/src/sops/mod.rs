//! A native decryptor for sops 3.x files (YAML, JSON and INI stores).
//!
//! ```text
//! text --store--> documents + `sops` metadata
//!      --key groups (age identities, gpg, Shamir)--> data key        (else: the `sops` binary)
//!      --walk in order: AES-256-GCM per value, SHA-512 over the leaves--> plaintext tree
//!      --compare with the encrypted `sops.mac`--> serde_json::Value
//! ```
//!
//! A file without `sops` metadata is plain and returned as parsed. The result keeps document
//! order and has the metadata removed; INI files become `{section: {key: "value"}}`.
//!
//! The data key, identities and decrypted buffers this module owns are zeroed when dropped;
//! the returned tree belongs to the caller. Errors never contain key material or values.

mod age_keys;
mod cipher;
mod data_key;
mod error;
mod fallback;
mod format;
mod key_sources;
mod mac;
mod metadata;
mod pgp;
mod rules;
mod shamir;
mod store;
mod store_ini;
mod store_json;
mod store_yaml;
mod tree;

#[cfg(test)]
mod tests;

use std::path::Path;

use serde_json::Value;
use zeroize::Zeroizing;

pub use error::SopsError;
pub use format::Format;
pub use key_sources::KeySources;

use cipher::{DataKey, ValueCipher};
use data_key::{FailedAttempts, Recovery};
use fallback::FallbackError;
use mac::MacHasher;
use metadata::Metadata;
use tree::TreeDecryptor;

/// Decrypts a sops file, choosing the store from its extension (`.yaml`/`.yml`, `.json`,
/// `.ini`). A file without sops metadata is returned as parsed.
pub fn decrypt_file(path: &Path, keys: &KeySources) -> Result<Value, SopsError> {
    let format = Format::from_path(path).ok_or_else(|| SopsError::UnknownFormat {
        path: path.to_path_buf(),
    })?;
    decrypt_file_as(path, format, keys)
}

/// [`decrypt_file`] with an explicit store, whatever the extension.
pub fn decrypt_file_as(path: &Path, format: Format, keys: &KeySources) -> Result<Value, SopsError> {
    // A plain secrets file is itself secret.
    let text =
        Zeroizing::new(runbook_engine::input_file::read_text(path).map_err(SopsError::Input)?);
    decrypt_str(&text, format, path, keys)
}

/// Decrypts sops text in `format`. `origin` names the file in errors (and is what the `sops`
/// binary is run on when the fallback is needed and it holds this text).
pub fn decrypt_str(
    text: &str,
    format: Format,
    origin: &Path,
    keys: &KeySources,
) -> Result<Value, SopsError> {
    let mut parsed = store::parse(text, format, origin)?;
    let Some(metadata) = parsed.metadata.take() else {
        return Ok(parsed.into_output());
    };
    let metadata = Metadata::parse(&metadata, origin)?;

    let data_key = match data_key::recover(&metadata, keys) {
        Recovery::Recovered(bytes) => DataKey::new(bytes),
        Recovery::InconsistentParts(reason) => Err(reason),
        Recovery::Failed(attempts) => {
            return decrypt_without_native_key(attempts, &metadata, text, format, origin, keys);
        }
    }
    .map_err(|reason| SopsError::InvalidDataKey {
        path: origin.to_path_buf(),
        reason,
    })?;

    let cipher = ValueCipher::new(&data_key);
    let mac = MacHasher::new(metadata.mac_only_encrypted, parsed.numbers);
    let mut walker = TreeDecryptor::new(
        &cipher,
        &metadata.rules,
        mac,
        metadata.mac_only_encrypted,
        origin,
    );
    let mut documents = Vec::with_capacity(parsed.documents.len());
    for document in std::mem::take(&mut parsed.documents) {
        documents.push(walker.decrypt_document(document)?);
    }
    let computed_mac = walker.finish();
    mac::verify(
        &computed_mac,
        &metadata.mac,
        &metadata.last_modified,
        &cipher,
        origin,
    )?;
    parsed.documents = documents;
    Ok(parsed.into_output())
}

/// Whether `text` is a sops-encrypted file of this format (it parses and has `sops` metadata).
pub fn is_encrypted(text: &str, format: Format) -> bool {
    store::parse(text, format, Path::new("-")).is_ok_and(|parsed| parsed.metadata.is_some())
}

/// No native key worked: hand over to the `sops` binary when the file has key types only it
/// can use, otherwise report everything that was tried.
fn decrypt_without_native_key(
    attempts: FailedAttempts,
    metadata: &Metadata,
    text: &str,
    format: Format,
    origin: &Path,
    keys: &KeySources,
) -> Result<Value, SopsError> {
    let needed_groups = (metadata.key_groups.len() > 1).then(|| {
        let groups = metadata.key_groups.len();
        let threshold = if metadata.shamir_threshold == 0 {
            groups
        } else {
            metadata.shamir_threshold
        };
        (threshold, groups)
    });
    let no_key = |mut tried: Vec<String>, extra: Option<String>| {
        tried.extend(extra);
        SopsError::NoKeyCouldDecrypt {
            path: origin.to_path_buf(),
            needed_groups,
            recovered_groups: attempts.recovered_groups,
            recipients: metadata.all_keys().map(|key| key.describe()).collect(),
            tried,
        }
    };
    if attempts.unsupported_kinds.is_empty() {
        return Err(no_key(attempts.tried.clone(), None));
    }
    let kinds = attempts
        .unsupported_kinds
        .iter()
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    let Some(program) = &keys.sops_binary else {
        return Err(no_key(
            attempts.tried.clone(),
            Some(format!(
                "{kinds}: not tried, the sops binary is not allowed here"
            )),
        ));
    };
    let gnupg_home = keys.gpg.as_ref().and_then(|gpg| gpg.gnupg_home.as_deref());
    match fallback::decrypt_with_sops(program, text, format, origin, gnupg_home) {
        Ok(value) => Ok(value),
        Err(FallbackError::NotFound) => Err(SopsError::SopsBinaryMissing {
            path: origin.to_path_buf(),
            kinds,
        }),
        Err(FallbackError::Failed(message)) => Err(SopsError::SopsBinaryFailed {
            path: origin.to_path_buf(),
            message,
        }),
    }
}
