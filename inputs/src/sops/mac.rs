//! The file MAC: SHA-512 over the plaintext of the leaves in document order, written as
//! upper-case hex and stored encrypted in `sops.mac` with `sops.lastmodified` as additional data.
//!
//! Each leaf is hashed as sops' `ToBytes` renders it from the Go value it decoded: strings as
//! is, integers in decimal, floats in Go's shortest `'f'` form (`7.5`, `100`), booleans as
//! `True`/`False`; nulls and comments are skipped. With `mac_only_encrypted` the hash is seeded
//! with sha256("sops") and only encrypted leaves are added.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha512};
use zeroize::Zeroizing;

use super::cipher::{CipherError, PlainValue, ValueCipher};
use super::error::SopsError;
use super::store::NumberModel;

/// sha256("sops"): sops' `MACOnlyEncryptedInitialization`, so that the two MAC modes never
/// produce the same MAC for the same file.
const MAC_ONLY_ENCRYPTED_SEED: [u8; 32] = [
    0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b,
    0x0b, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69,
];

pub(crate) struct MacHasher {
    hash: Sha512,
    numbers: NumberModel,
}

impl MacHasher {
    pub fn new(mac_only_encrypted: bool, numbers: NumberModel) -> MacHasher {
        let mut hash = Sha512::new();
        if mac_only_encrypted {
            hash.update(MAC_ONLY_ENCRYPTED_SEED);
        }
        MacHasher { hash, numbers }
    }

    /// Adds a leaf that was stored in clear.
    pub fn add_clear_leaf(&mut self, value: &Value) {
        match value {
            Value::String(text) => self.hash.update(text.as_bytes()),
            Value::Bool(flag) => self.hash.update(go_bool(*flag)),
            Value::Number(number) => {
                let text = match (self.numbers, number.as_i64(), number.as_u64()) {
                    (NumberModel::IntegersAndFloats, Some(int), _) => int.to_string(),
                    (NumberModel::IntegersAndFloats, None, Some(uint)) => uint.to_string(),
                    _ => go_float(number.as_f64().unwrap_or(f64::NAN)),
                };
                self.hash.update(text.as_bytes());
            }
            Value::Null | Value::Array(_) | Value::Object(_) => {}
        }
    }

    /// Adds a decrypted leaf.
    pub fn add_decrypted_leaf(&mut self, value: &PlainValue) {
        match value {
            PlainValue::Str(text) => self.hash.update(text.as_bytes()),
            PlainValue::Int(int) => self.hash.update(Zeroizing::new(int.to_string()).as_bytes()),
            PlainValue::Float(float) => self
                .hash
                .update(Zeroizing::new(go_float(*float)).as_bytes()),
            PlainValue::Bool(flag) => self.hash.update(go_bool(*flag)),
            PlainValue::Bytes(bytes) => self.hash.update(bytes),
            PlainValue::Comment => {}
        }
    }

    /// The MAC as sops writes it before encrypting it: upper-case hex.
    pub fn finish(self) -> String {
        let digest = self.hash.finalize();
        let mut hex = String::with_capacity(digest.len() * 2);
        for byte in digest {
            let _ = write!(hex, "{byte:02X}");
        }
        hex
    }
}

/// Compares the computed MAC with the one stored in the file.
pub(crate) fn verify(
    computed: &str,
    stored_encrypted: &str,
    last_modified: &str,
    cipher: &ValueCipher,
    origin: &Path,
) -> Result<(), SopsError> {
    if stored_encrypted.is_empty() {
        return Err(SopsError::MacMissing {
            path: origin.to_path_buf(),
        });
    }
    let stored = match cipher.decrypt(stored_encrypted, last_modified) {
        Ok(PlainValue::Str(stored)) => stored,
        Ok(_) | Err(CipherError::Malformed(_)) => {
            return Err(SopsError::MacMismatch {
                path: origin.to_path_buf(),
                detail: "sops.mac is not a valid encrypted MAC",
            });
        }
        Err(CipherError::Authentication) => {
            return Err(SopsError::MacMismatch {
                path: origin.to_path_buf(),
                detail: "sops.mac does not authenticate: sops.mac or sops.lastmodified was changed",
            });
        }
    };
    if stored != computed {
        return Err(SopsError::MacMismatch {
            path: origin.to_path_buf(),
            detail: "a value, a key or their order changed without re-encrypting",
        });
    }
    Ok(())
}

fn go_bool(flag: bool) -> &'static [u8] {
    if flag { b"True" } else { b"False" }
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`: the shortest digits that round-trip, never an
/// exponent. Rust's `Display` for `f64` is the same except for the non-finite values.
pub(crate) fn go_float(float: f64) -> String {
    if float.is_nan() {
        "NaN".to_string()
    } else if float.is_infinite() {
        if float > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        format!("{float}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_hash_like_go_format_float() {
        assert_eq!(go_float(7.5), "7.5");
        assert_eq!(go_float(100.0), "100");
        assert_eq!(go_float(1e21), "1000000000000000000000");
        assert_eq!(go_float(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(go_float(1e-7), "0.0000001");
        assert_eq!(go_float(f64::INFINITY), "+Inf");
    }

    #[test]
    fn json_numbers_hash_as_floats_and_yaml_integers_as_integers() {
        let big = serde_json::json!(9007199254740993_u64);
        let mut json = MacHasher::new(false, NumberModel::FloatsOnly);
        json.add_clear_leaf(&big);
        let mut as_go_float = MacHasher::new(false, NumberModel::FloatsOnly);
        as_go_float.add_clear_leaf(&serde_json::json!("9007199254740992"));
        assert_eq!(json.finish(), as_go_float.finish());

        let mut yaml = MacHasher::new(false, NumberModel::IntegersAndFloats);
        yaml.add_clear_leaf(&big);
        let mut as_text = MacHasher::new(false, NumberModel::IntegersAndFloats);
        as_text.add_clear_leaf(&serde_json::json!("9007199254740993"));
        assert_eq!(yaml.finish(), as_text.finish());
    }

    #[test]
    fn mac_only_encrypted_seed_is_sha256_of_sops() {
        use sha2::Sha256;
        assert_eq!(Sha256::digest(b"sops").as_slice(), &MAC_ONLY_ENCRYPTED_SEED);
    }
}
