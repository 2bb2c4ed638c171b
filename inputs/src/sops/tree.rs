//! Walks a document in order, decrypts the encrypted leaves and feeds every leaf to the MAC,
//! like sops' `Tree.Decrypt`.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Map, Number, Value};
use zeroize::Zeroize as _;

use super::cipher::{CipherError, PlainValue, ValueCipher};
use super::error::SopsError;
use super::mac::{MacHasher, go_float};
use super::rules::EncryptionRules;

pub(crate) struct TreeDecryptor<'a> {
    cipher: &'a ValueCipher,
    rules: &'a EncryptionRules,
    mac: MacHasher,
    mac_only_encrypted: bool,
    origin: &'a Path,
    /// Mapping keys from the root to the current node: the additional data of its values.
    keys: Vec<String>,
    /// The same path with list indices, for error messages.
    display: Vec<Segment>,
}

enum Segment {
    Key(String),
    Index(usize),
}

impl<'a> TreeDecryptor<'a> {
    pub fn new(
        cipher: &'a ValueCipher,
        rules: &'a EncryptionRules,
        mac: MacHasher,
        mac_only_encrypted: bool,
        origin: &'a Path,
    ) -> TreeDecryptor<'a> {
        TreeDecryptor {
            cipher,
            rules,
            mac,
            mac_only_encrypted,
            origin,
            keys: Vec::new(),
            display: Vec::new(),
        }
    }

    /// Decrypts one document of the file. Documents must be walked in file order.
    pub fn decrypt_document(&mut self, document: Value) -> Result<Value, SopsError> {
        match document {
            Value::Object(_) | Value::Null => self.walk(document),
            _ => Err(SopsError::Malformed {
                path: self.origin.to_path_buf(),
                format: "sops",
                location: None,
                message: "the top level of an encrypted document must be a mapping".to_string(),
            }),
        }
    }

    /// The MAC of everything walked so far.
    pub fn finish(self) -> String {
        self.mac.finish()
    }

    fn walk(&mut self, value: Value) -> Result<Value, SopsError> {
        match value {
            Value::Object(map) => {
                let mut decrypted = Map::with_capacity(map.len());
                for (key, child) in map {
                    self.keys.push(key.clone());
                    self.display.push(Segment::Key(key.clone()));
                    let child = self.walk(child);
                    self.keys.pop();
                    self.display.pop();
                    decrypted.insert(key, child?);
                }
                Ok(Value::Object(decrypted))
            }
            Value::Array(items) => {
                let mut decrypted = Vec::with_capacity(items.len());
                for (index, item) in items.into_iter().enumerate() {
                    self.display.push(Segment::Index(index));
                    let item = self.walk(item);
                    self.display.pop();
                    decrypted.push(item?);
                }
                Ok(Value::Array(decrypted))
            }
            // sops neither decrypts nor hashes nulls.
            Value::Null => Ok(Value::Null),
            leaf => self.leaf(leaf),
        }
    }

    fn leaf(&mut self, value: Value) -> Result<Value, SopsError> {
        if !self.rules.is_encrypted(&self.keys, &value) {
            if !self.mac_only_encrypted {
                self.mac.add_clear_leaf(&value);
            }
            return Ok(value);
        }
        let Value::String(ciphertext) = &value else {
            return Err(self.malformed_value(
                "it should be encrypted but is a clear number or boolean".to_string(),
            ));
        };
        let mut additional_data = self.keys.join(":");
        additional_data.push(':');
        match self.cipher.decrypt(ciphertext, &additional_data) {
            Ok(plain) => {
                self.mac.add_decrypted_leaf(&plain);
                Ok(into_json(plain))
            }
            Err(CipherError::Authentication) => Err(SopsError::ValueAuthentication {
                path: self.origin.to_path_buf(),
                key_path: self.key_path(),
            }),
            Err(CipherError::Malformed(reason)) => Err(self.malformed_value(reason)),
        }
    }

    fn malformed_value(&self, reason: String) -> SopsError {
        SopsError::MalformedValue {
            path: self.origin.to_path_buf(),
            key_path: self.key_path(),
            reason,
        }
    }

    /// `objectStorage.s3.accessKey`, `listOfSecrets[1]`.
    fn key_path(&self) -> String {
        let mut path = String::new();
        for segment in &self.display {
            match segment {
                Segment::Key(key) => {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(key);
                }
                Segment::Index(index) => {
                    let _ = write!(path, "[{index}]");
                }
            }
        }
        path
    }
}

/// The JSON form of a decrypted leaf. A float with an integral value becomes an integer, as
/// sops prints it (`8086`, not `8086.0`); sops' JSON store records every number as a float.
fn into_json(value: PlainValue) -> Value {
    match value {
        PlainValue::Str(text) => Value::String(text),
        PlainValue::Int(int) => Value::from(int),
        PlainValue::Float(float) => {
            if float.is_finite() && float.fract() == 0.0 && float.abs() < 1e15 {
                Value::from(float as i64)
            } else {
                Number::from_f64(float)
                    .map(Value::Number)
                    .unwrap_or_else(|| Value::String(go_float(float)))
            }
        }
        PlainValue::Bool(flag) => Value::Bool(flag),
        PlainValue::Bytes(mut bytes) => {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            bytes.zeroize();
            Value::String(text)
        }
        PlainValue::Comment => Value::Null,
    }
}
