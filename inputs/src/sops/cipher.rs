//! sops' value cipher: AES-256-GCM with a 32-byte nonce, written as
//! `ENC[AES256_GCM,data:<b64>,iv:<b64>,tag:<b64>,type:<str|int|float|bool|bytes|comment>]`.
//! The additional data is the value's mapping-key path joined by `:` with a trailing `:`, so a
//! ciphertext moved to another key fails authentication.

use std::sync::LazyLock;

use aes_gcm::AesGcm;
// The `aes` crate directly, for its `zeroize` feature: the key schedule is wiped on drop.
use aes::Aes256;
use aes_gcm::aead::consts::U32;
use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use regex::Regex;
use zeroize::Zeroizing;

use super::error::DataKeyProblem;

/// sops' Go regex, kept as is so that the same strings parse the same way.
static ENCRYPTED_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]").expect("valid regex")
});

const ENCRYPTED_PREFIX: &str = "ENC[AES256_GCM,";
const NONCE_LEN: usize = 32;
const TAG_LEN: usize = 16;

/// Whether a string is shaped like a sops ciphertext.
pub(crate) fn looks_encrypted(text: &str) -> bool {
    text.starts_with(ENCRYPTED_PREFIX)
}

/// The 32-byte AES key that encrypts every value of one file. Zeroed on drop.
pub(crate) struct DataKey(Zeroizing<Vec<u8>>);

impl DataKey {
    pub fn new(bytes: Zeroizing<Vec<u8>>) -> Result<DataKey, DataKeyProblem> {
        if bytes.len() == 32 {
            Ok(DataKey(bytes))
        } else {
            Err(DataKeyProblem::WrongLength(bytes.len()))
        }
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

/// A decrypted leaf, typed as sops recorded it.
#[derive(PartialEq)]
pub(crate) enum PlainValue {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Bytes(Vec<u8>),
    /// An encrypted YAML comment in value position; not part of the output or the MAC.
    Comment,
}

impl std::fmt::Debug for PlainValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self {
            PlainValue::Str(_) => "Str",
            PlainValue::Int(_) => "Int",
            PlainValue::Float(_) => "Float",
            PlainValue::Bool(_) => "Bool",
            PlainValue::Bytes(_) => "Bytes",
            PlainValue::Comment => "Comment",
        };
        write!(f, "PlainValue::{kind}(..)")
    }
}

#[derive(Debug, PartialEq)]
pub(crate) enum CipherError {
    /// Not an `ENC[...]` string, bad base64, unknown type, or a plaintext that does not parse as
    /// its type. The message never contains the value.
    Malformed(String),
    /// The GCM tag did not verify.
    Authentication,
}

/// Decrypts values of one file.
pub(crate) struct ValueCipher {
    gcm: AesGcm<Aes256, U32>,
}

impl ValueCipher {
    pub fn new(key: &DataKey) -> ValueCipher {
        ValueCipher {
            gcm: AesGcm::new(GenericArray::from_slice(&key.0)),
        }
    }

    /// Decrypts one `ENC[...]` string. sops encrypts the empty string as itself, so `""`
    /// decrypts to `""`.
    pub fn decrypt(&self, text: &str, additional_data: &str) -> Result<PlainValue, CipherError> {
        if text.is_empty() {
            return Ok(PlainValue::Str(String::new()));
        }
        let captures = ENCRYPTED_VALUE.captures(text).ok_or_else(|| {
            CipherError::Malformed("it is not an ENC[AES256_GCM,...] value".to_string())
        })?;
        let decode = |index: usize, name: &str| {
            BASE64
                .decode(&captures[index])
                .map_err(|_| CipherError::Malformed(format!("its {name} is not valid base64")))
        };
        let mut buffer = Zeroizing::new(decode(1, "data")?);
        let nonce = decode(2, "iv")?;
        let tag = decode(3, "tag")?;
        let value_type = &captures[4];
        if nonce.len() != NONCE_LEN {
            return Err(CipherError::Malformed(format!(
                "its iv is {} bytes long, sops uses {NONCE_LEN}",
                nonce.len()
            )));
        }
        if tag.len() != TAG_LEN {
            return Err(CipherError::Malformed(format!(
                "its tag is {} bytes long instead of {TAG_LEN}",
                tag.len()
            )));
        }
        self.gcm
            .decrypt_in_place_detached(
                GenericArray::from_slice(&nonce),
                additional_data.as_bytes(),
                buffer.as_mut_slice(),
                GenericArray::from_slice(&tag),
            )
            .map_err(|_| CipherError::Authentication)?;
        typed(&buffer, value_type)
    }
}

/// Turns decrypted bytes into the type sops recorded, as Go's strconv would parse them.
fn typed(plaintext: &[u8], value_type: &str) -> Result<PlainValue, CipherError> {
    if value_type == "bytes" {
        return Ok(PlainValue::Bytes(plaintext.to_vec()));
    }
    if value_type == "comment" {
        return Ok(PlainValue::Comment);
    }
    let text = std::str::from_utf8(plaintext)
        .map_err(|_| CipherError::Malformed(format!("its {value_type} plaintext is not UTF-8")))?;
    let unparsable =
        || CipherError::Malformed(format!("its plaintext is not a valid {value_type}"));
    match value_type {
        "str" => Ok(PlainValue::Str(text.to_string())),
        // "int64" was written by some older sops versions.
        "int" | "int64" => text.parse().map(PlainValue::Int).map_err(|_| unparsable()),
        "float" => text
            .parse()
            .map(PlainValue::Float)
            .map_err(|_| unparsable()),
        "bool" => go_parse_bool(text)
            .map(PlainValue::Bool)
            .ok_or_else(unparsable),
        other => Err(CipherError::Malformed(format!(
            "its type {other:?} is unknown"
        ))),
    }
}

/// Go's `strconv.ParseBool`.
fn go_parse_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}
