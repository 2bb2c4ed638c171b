//! The `sops` section: which keys hold the data key, which values are encrypted, and the MAC.

use std::path::Path;

use serde_json::{Map, Value};

use super::error::SopsError;
use super::rules::EncryptionRules;

/// sops' default for files that name no rule: keys ending in `_unencrypted` stay in clear.
const DEFAULT_UNENCRYPTED_SUFFIX: &str = "_unencrypted";

/// One master key: a copy of the data key (or of one Shamir part) encrypted for one recipient.
#[derive(Clone)]
pub(crate) enum MasterKey {
    Age {
        recipient: String,
        enc: String,
    },
    Pgp {
        fingerprint: String,
        enc: String,
    },
    /// kms, gcp_kms, azure_kv, hc_vault, ...: only the `sops` binary can use these.
    Other {
        kind: String,
        id: String,
    },
}

impl MasterKey {
    /// A public identifier for error messages, e.g. `age age1...`, `pgp FBC7...`.
    pub fn describe(&self) -> String {
        match self {
            MasterKey::Age { recipient, .. } => format!("age {recipient}"),
            MasterKey::Pgp { fingerprint, .. } => format!("pgp {fingerprint}"),
            MasterKey::Other { kind, id } => format!("{kind} {id}"),
        }
    }

    /// sops tries age keys first, then PGP, then everything else (its `DefaultDecryptionOrder`).
    fn decryption_rank(&self) -> u8 {
        match self {
            MasterKey::Age { .. } => 0,
            MasterKey::Pgp { .. } => 1,
            MasterKey::Other { .. } => 2,
        }
    }
}

// The encrypted data keys are not secret, but they are long and useless in logs.
impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// All keys of a group decrypt the same thing: the data key, or with several groups, the
/// group's Shamir part of it.
#[derive(Debug, Clone)]
pub(crate) struct KeyGroup {
    pub keys: Vec<MasterKey>,
}

#[derive(Debug)]
pub(crate) struct Metadata {
    pub key_groups: Vec<KeyGroup>,
    /// How many groups must be decrypted when there are several (0 when not set).
    pub shamir_threshold: usize,
    /// `lastmodified` as sops re-formats it; the MAC's additional data.
    pub last_modified: String,
    /// The encrypted MAC, empty when the file has none.
    pub mac: String,
    pub mac_only_encrypted: bool,
    pub rules: EncryptionRules,
}

impl Metadata {
    pub fn parse(value: &Value, origin: &Path) -> Result<Metadata, SopsError> {
        let malformed = |message: String| SopsError::MalformedMetadata {
            path: origin.to_path_buf(),
            message,
        };
        let Value::Object(map) = value else {
            return Err(malformed("`sops` is not a mapping".to_string()));
        };

        let last_modified = match map.get("lastmodified") {
            Some(Value::String(text)) => go_rfc3339(text).ok_or_else(|| {
                malformed(format!(
                    "lastmodified {text:?} is not an RFC 3339 timestamp"
                ))
            })?,
            _ => return Err(malformed("lastmodified is missing".to_string())),
        };
        let mac = match map.get("mac") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(text)) => text.clone(),
            Some(_) => return Err(malformed("mac is not a string".to_string())),
        };
        let shamir_threshold = match map.get("shamir_threshold") {
            None | Some(Value::Null) => 0,
            Some(value) => value
                .as_u64()
                .or_else(|| value.as_str().and_then(|text| text.trim().parse().ok()))
                .ok_or_else(|| malformed("shamir_threshold is not an integer".to_string()))?
                as usize,
        };
        let mac_only_encrypted = match map.get("mac_only_encrypted") {
            Some(Value::Bool(flag)) => *flag,
            Some(Value::String(text)) => text == "true",
            _ => false,
        };

        let text = |name: &str| -> Option<String> {
            map.get(name)
                .and_then(Value::as_str)
                .filter(|text| !text.is_empty())
                .map(str::to_string)
        };
        let mut rule_texts = RuleTexts {
            unencrypted_suffix: text("unencrypted_suffix"),
            encrypted_suffix: text("encrypted_suffix"),
            unencrypted_regex: text("unencrypted_regex"),
            encrypted_regex: text("encrypted_regex"),
            unencrypted_comment_regex: text("unencrypted_comment_regex"),
            encrypted_comment_regex: text("encrypted_comment_regex"),
        };
        match rule_texts.count() {
            0 => rule_texts.unencrypted_suffix = Some(DEFAULT_UNENCRYPTED_SUFFIX.to_string()),
            1 => {}
            _ => {
                return Err(malformed(
                    "more than one of unencrypted_suffix, encrypted_suffix, unencrypted_regex, \
                     encrypted_regex, unencrypted_comment_regex, encrypted_comment_regex is set"
                        .to_string(),
                ));
            }
        }
        let rules = EncryptionRules::new(
            rule_texts.unencrypted_suffix,
            rule_texts.encrypted_suffix,
            rule_texts.unencrypted_regex.as_deref(),
            rule_texts.encrypted_regex.as_deref(),
            rule_texts.unencrypted_comment_regex.is_some(),
            rule_texts.encrypted_comment_regex.is_some(),
        )
        .map_err(|error| malformed(error.to_string()))?;

        let key_groups = key_groups(map);
        if key_groups.iter().all(|group| group.keys.is_empty()) {
            return Err(malformed(
                "it lists no keys (no age, pgp, kms, ... entry and no key_groups)".to_string(),
            ));
        }

        Ok(Metadata {
            key_groups,
            shamir_threshold,
            last_modified,
            mac,
            mac_only_encrypted,
            rules,
        })
    }

    /// Every master key in the file, for "recipients in the file".
    pub fn all_keys(&self) -> impl Iterator<Item = &MasterKey> {
        self.key_groups.iter().flat_map(|group| group.keys.iter())
    }
}

struct RuleTexts {
    unencrypted_suffix: Option<String>,
    encrypted_suffix: Option<String>,
    unencrypted_regex: Option<String>,
    encrypted_regex: Option<String>,
    unencrypted_comment_regex: Option<String>,
    encrypted_comment_regex: Option<String>,
}

impl RuleTexts {
    fn count(&self) -> usize {
        [
            &self.unencrypted_suffix,
            &self.encrypted_suffix,
            &self.unencrypted_regex,
            &self.encrypted_regex,
            &self.unencrypted_comment_regex,
            &self.encrypted_comment_regex,
        ]
        .iter()
        .filter(|rule| rule.is_some())
        .count()
    }
}

/// Keys listed directly under `sops` form one group; otherwise `key_groups` lists the groups.
fn key_groups(map: &Map<String, Value>) -> Vec<KeyGroup> {
    let top_level = KeyGroup {
        keys: master_keys(map),
    };
    if !top_level.keys.is_empty() {
        return vec![top_level];
    }
    match map.get("key_groups") {
        Some(Value::Array(groups)) => groups
            .iter()
            .map(|group| KeyGroup {
                keys: group.as_object().map(master_keys).unwrap_or_default(),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Every list entry with an `enc` field is a master key; the list's name is its type. This
/// also catches key types newer than this code, which then go to the `sops` binary.
fn master_keys(map: &Map<String, Value>) -> Vec<MasterKey> {
    let mut keys = Vec::new();
    for (kind, entries) in map {
        let Value::Array(entries) = entries else {
            continue;
        };
        for entry in entries {
            let Some(entry) = entry.as_object() else {
                continue;
            };
            let field = |name: &str| {
                entry
                    .get(name)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            if !entry.contains_key("enc") {
                continue;
            }
            keys.push(match kind.as_str() {
                "age" => MasterKey::Age {
                    recipient: field("recipient"),
                    enc: field("enc"),
                },
                "pgp" => MasterKey::Pgp {
                    fingerprint: field("fp"),
                    enc: field("enc"),
                },
                _ => MasterKey::Other {
                    kind: kind.clone(),
                    id: other_key_id(kind, entry),
                },
            });
        }
    }
    keys.sort_by_key(MasterKey::decryption_rank);
    keys
}

/// The identifier sops itself prints for a key type it can use and we cannot.
fn other_key_id(kind: &str, entry: &Map<String, Value>) -> String {
    let field = |name: &str| entry.get(name).and_then(Value::as_str).unwrap_or_default();
    match kind {
        "kms" => field("arn").to_string(),
        "gcp_kms" => field("resource_id").to_string(),
        "azure_kv" => format!(
            "{}/keys/{}/{}",
            field("vault_url"),
            field("name"),
            field("version")
        ),
        "hc_vault" => format!(
            "{}/v1/{}/keys/{}",
            field("vault_address"),
            field("engine_path"),
            field("key_name")
        ),
        _ => {
            // Unknown type: show its descriptive fields, never the encrypted key.
            let parts: Vec<String> = entry
                .iter()
                .filter(|(name, _)| !matches!(name.as_str(), "enc" | "created_at"))
                .filter_map(|(name, value)| value.as_str().map(|text| format!("{name}={text}")))
                .collect();
            parts.join(",")
        }
    }
}

/// sops parses `lastmodified` as RFC 3339 and authenticates the MAC with it formatted back by
/// Go's `time.RFC3339` layout: fractional seconds dropped, a zero offset written `Z`.
fn go_rfc3339(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        bytes
            .get(range)
            .is_some_and(|part| part.iter().all(u8::is_ascii_digit))
    };
    let well_formed_date_time = bytes.len() >= 20
        && digits(0..4)
        && bytes[4] == b'-'
        && digits(5..7)
        && bytes[7] == b'-'
        && digits(8..10)
        && bytes[10] == b'T'
        && digits(11..13)
        && bytes[13] == b':'
        && digits(14..16)
        && bytes[16] == b':'
        && digits(17..19);
    if !well_formed_date_time {
        return None;
    }
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits_len = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits_len == 0 {
            return None;
        }
        rest = &fraction[digits_len..];
    }
    let zone = match rest {
        "Z" | "+00:00" | "-00:00" => "Z",
        offset
            if offset.len() == 6
                && (offset.starts_with('+') || offset.starts_with('-'))
                && offset.as_bytes()[3] == b':'
                && offset[1..3].bytes().all(|b| b.is_ascii_digit())
                && offset[4..6].bytes().all(|b| b.is_ascii_digit()) =>
        {
            offset
        }
        _ => return None,
    };
    Some(format!("{}{zone}", &text[..19]))
}

#[cfg(test)]
mod tests {
    use super::go_rfc3339;

    #[test]
    fn lastmodified_is_normalised_like_go_time_format() {
        assert_eq!(
            go_rfc3339("2026-11-23T07:44:55Z").unwrap(),
            "2026-11-23T07:44:55Z"
        );
        assert_eq!(
            go_rfc3339("2026-11-23T07:44:55.123456Z").unwrap(),
            "2026-11-23T07:44:55Z"
        );
        assert_eq!(
            go_rfc3339("2026-11-23T07:44:55+00:00").unwrap(),
            "2026-11-23T07:44:55Z"
        );
        assert_eq!(
            go_rfc3339("2026-11-23T07:44:55+01:00").unwrap(),
            "2026-11-23T07:44:55+01:00"
        );
        assert!(go_rfc3339("2026-11-23 07:44:55").is_none());
        assert!(go_rfc3339("yesterday").is_none());
    }
}
