//! Masking of secret values in everything the engine prints or stores.
//!
//! Every string leaf of `secrets`, every secret param or var and every output of a `secret: true`
//! step is registered; each is masked verbatim and in the encodings it commonly travels in
//! (base64, as Kubernetes Secrets carry it; JSON-escaped, as it sits in a journal line), and a
//! multi-line secret line by line as well, since tools print keys and certificates a line at a time.

use std::sync::RwLock;

use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine as _;
use serde_json::Value;

pub const MASK: &str = "••••";

/// Shorter values are not masked: masking `no` or `42` everywhere would garble every line
/// while hiding nothing worth hiding.
pub const MIN_SECRET_LEN: usize = 4;

#[derive(Default)]
pub struct Redactor {
    inner: RwLock<Inner>,
}

#[derive(Default)]
struct Inner {
    patterns: Vec<String>,
    matcher: Option<AhoCorasick>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = self.inner.read().map(|i| i.patterns.len()).unwrap_or(0);
        write!(f, "Redactor({count} patterns)")
    }
}

/// The patterns are the secrets themselves: wipe them with the redactor.
impl Drop for Redactor {
    fn drop(&mut self) {
        if let Ok(inner) = self.inner.get_mut() {
            inner
                .patterns
                .iter_mut()
                .for_each(zeroize::Zeroize::zeroize);
        }
    }
}

impl Redactor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Register one secret string.
    pub fn add(&self, secret: &str) {
        self.add_all(std::iter::once(secret));
    }

    /// Register every leaf of a value that can carry a secret: strings and numbers (a PIN or a
    /// numeric password in secrets.yaml is as secret as a string). Booleans and null are left
    /// out: masking `true` everywhere would hide nothing and garble every line.
    pub fn add_value(&self, value: &Value) {
        let mut leaves = Vec::new();
        collect_leaves(value, &mut leaves);
        self.add_all(leaves.iter().map(String::as_str));
    }

    pub fn add_all<'a>(&self, secrets: impl IntoIterator<Item = &'a str>) {
        let mut inner = self.inner.write().expect("redactor lock");
        let before = inner.patterns.len();
        for secret in secrets {
            for variant in variants(secret) {
                if variant.chars().count() >= MIN_SECRET_LEN && !inner.patterns.contains(&variant) {
                    inner.patterns.push(variant);
                }
            }
        }
        if inner.patterns.len() != before {
            inner.matcher = Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(&inner.patterns)
                    .expect("literal patterns build"),
            );
        }
    }

    pub fn is_empty(&self) -> bool {
        self.inner
            .read()
            .expect("redactor lock")
            .patterns
            .is_empty()
    }

    pub fn redact(&self, text: &str) -> String {
        let inner = self.inner.read().expect("redactor lock");
        match &inner.matcher {
            Some(m) => m.replace_all(text, &vec![MASK; inner.patterns.len()]),
            None => text.to_string(),
        }
    }

    /// Mask every string in a value, and every number whose digits hold a secret (it becomes the
    /// masked string). Keys are left alone: they name things, they are not secret. Masking values
    /// before they are serialized, never serialized text, keeps the JSON valid whatever the
    /// secret is.
    pub fn redact_value(&self, value: &Value) -> Value {
        match value {
            Value::String(s) => Value::String(self.redact(s)),
            Value::Number(n) => {
                let text = n.to_string();
                let masked = self.redact(&text);
                if masked == text {
                    value.clone()
                } else {
                    Value::String(masked)
                }
            }
            Value::Array(items) => {
                Value::Array(items.iter().map(|v| self.redact_value(v)).collect())
            }
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.redact_value(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

fn collect_leaves(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(items) => items.iter().for_each(|v| collect_leaves(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_leaves(v, out)),
        _ => {}
    }
}

fn variants(secret: &str) -> Vec<String> {
    let trimmed = secret.trim();
    let mut out = vec![secret.to_string(), trimmed.to_string()];
    let b64 = base64::engine::general_purpose::STANDARD;
    // Base64 as Kubernetes Secrets hold it, and as `echo "$X" | base64` prints it (with the newline).
    for text in [
        secret.to_string(),
        trimmed.to_string(),
        format!("{trimmed}\n"),
    ] {
        out.push(b64.encode(&text));
        out.push(base64::engine::general_purpose::STANDARD_NO_PAD.encode(&text));
    }
    // JSON-escaped, as a command prints it inside its own JSON: the minimal escaping serde uses, non-ASCII as `\uXXXX` (Python's json.dumps default), and `/` as `\/` (PHP, some
    // Java encoders).
    let escaped = serde_json::to_string(secret).expect("string serializes");
    let escaped = escaped[1..escaped.len() - 1].to_string();
    let ascii: String = escaped
        .chars()
        .flat_map(|c| match c {
            c if c.is_ascii() => vec![c.to_string()],
            c => c
                .encode_utf16(&mut [0u16; 2])
                .iter()
                .map(|unit| format!("\\u{unit:04x}"))
                .collect(),
        })
        .collect();
    // Go's encoding/json (kubectl -o json) escapes `<`, `>` and `&` as well.
    out.push(
        escaped
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026"),
    );
    out.push(escaped.replace('/', "\\/"));
    out.push(ascii);
    out.push(escaped);
    if trimmed.contains('\n') {
        out.extend(
            trimmed
                .lines()
                .map(str::trim)
                .filter(|l| l.len() >= 8)
                .map(str::to_string),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_plain_base64_and_escaped_forms() {
        let r = Redactor::new();
        r.add("s3cr3t-\"pw\"");
        assert_eq!(
            r.redact("password=s3cr3t-\"pw\" ok"),
            format!("password={MASK} ok")
        );
        let b64 = base64::engine::general_purpose::STANDARD.encode("s3cr3t-\"pw\"");
        assert_eq!(r.redact(&format!("data: {b64}")), format!("data: {MASK}"));
        assert_eq!(
            r.redact(r#"{"p":"s3cr3t-\"pw\""}"#),
            format!(r#"{{"p":"{MASK}"}}"#)
        );
    }

    #[test]
    fn masks_lines_of_multiline_secrets_and_skips_short_values() {
        let r = Redactor::new();
        r.add_value(&serde_json::json!({"key": "-----BEGIN KEY-----\nAAAABBBBCCCC\n-----END KEY-----", "port": "no"}));
        assert_eq!(r.redact("got AAAABBBBCCCC"), format!("got {MASK}"));
        assert_eq!(r.redact("no"), "no");
    }

    #[test]
    fn numeric_secrets_are_masked_as_strings_and_numbers() {
        let r = Redactor::new();
        r.add_value(&serde_json::json!({"pin": 48151623, "flag": true}));
        assert_eq!(r.redact("pin is 48151623"), format!("pin is {MASK}"));
        assert_eq!(
            r.redact_value(&serde_json::json!({"pin": 48151623, "n": 7, "ok": true})),
            serde_json::json!({"pin": MASK, "n": 7, "ok": true})
        );
        assert_eq!(r.redact("true"), "true");
    }

    #[test]
    fn longest_match_wins() {
        let r = Redactor::new();
        r.add("abcd");
        r.add("abcdefgh");
        assert_eq!(r.redact("xabcdefghx"), format!("x{MASK}x"));
    }
}
