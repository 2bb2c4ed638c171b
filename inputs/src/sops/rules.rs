//! Which leaves of the tree sops encrypted (`shouldBeEncrypted` in sops.go).
//!
//! The decision matters twice: an encrypted leaf must be decrypted, and with
//! `mac_only_encrypted` only encrypted leaves are in the MAC. Suffix and regex rules look at
//! every mapping key on the path (list indices are not part of it), in sops' order.
//!
//! The comment rules (`encrypted_comment_regex`, `unencrypted_comment_regex`) look at the YAML
//! comments above a value. The parsers used here do not keep comments, so for files with a
//! comment rule the decision falls back on what sops wrote: a leaf whose comment rule encrypted
//! it is an `ENC[AES256_GCM,...]` string, one it left alone is not. An empty string is the same
//! either way (sops leaves `""` as is and it adds nothing to the MAC).

use regex::Regex;
use serde_json::Value;

use super::cipher::looks_encrypted;
use super::error::InvalidRuleRegex;

#[derive(Debug)]
pub(crate) struct EncryptionRules {
    unencrypted_suffix: Option<String>,
    encrypted_suffix: Option<String>,
    unencrypted_regex: Option<Regex>,
    encrypted_regex: Option<Regex>,
    comment_rule: Option<CommentRule>,
}

#[derive(Debug, Clone, Copy)]
enum CommentRule {
    /// A matching comment leaves the values after it in clear.
    Unencrypted,
    /// Only values after a matching comment are encrypted.
    Encrypted,
}

impl EncryptionRules {
    pub fn new(
        unencrypted_suffix: Option<String>,
        encrypted_suffix: Option<String>,
        unencrypted_regex: Option<&str>,
        encrypted_regex: Option<&str>,
        unencrypted_comment_regex: bool,
        encrypted_comment_regex: bool,
    ) -> Result<EncryptionRules, InvalidRuleRegex> {
        let compile = |name: &'static str, pattern: Option<&str>| {
            pattern
                .map(|pattern| {
                    Regex::new(pattern).map_err(|source| InvalidRuleRegex { name, source })
                })
                .transpose()
        };
        let comment_rule = if encrypted_comment_regex {
            Some(CommentRule::Encrypted)
        } else if unencrypted_comment_regex {
            Some(CommentRule::Unencrypted)
        } else {
            None
        };
        Ok(EncryptionRules {
            unencrypted_suffix,
            encrypted_suffix,
            unencrypted_regex: compile("unencrypted_regex", unencrypted_regex)?,
            encrypted_regex: compile("encrypted_regex", encrypted_regex)?,
            comment_rule,
        })
    }

    /// Whether sops encrypted the leaf `value` found under the mapping keys `keys`.
    pub fn is_encrypted(&self, keys: &[String], value: &Value) -> bool {
        let by_path = self.is_encrypted_by_path(keys);
        match self.comment_rule {
            None => by_path,
            Some(CommentRule::Unencrypted) => by_path && value_looks_encrypted(value),
            Some(CommentRule::Encrypted) => value_looks_encrypted(value),
        }
    }

    fn is_encrypted_by_path(&self, keys: &[String]) -> bool {
        let mut encrypted = true;
        if let Some(suffix) = &self.unencrypted_suffix
            && keys.iter().any(|key| key.ends_with(suffix.as_str()))
        {
            encrypted = false;
        }
        if let Some(suffix) = &self.encrypted_suffix {
            encrypted = keys.iter().any(|key| key.ends_with(suffix.as_str()));
        }
        if let Some(regex) = &self.unencrypted_regex
            && keys.iter().any(|key| regex.is_match(key))
        {
            encrypted = false;
        }
        if let Some(regex) = &self.encrypted_regex {
            encrypted = keys.iter().any(|key| regex.is_match(key));
        }
        encrypted
    }
}

fn value_looks_encrypted(value: &Value) -> bool {
    value.as_str().is_some_and(looks_encrypted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(path: &[&str]) -> Vec<String> {
        path.iter().map(|key| key.to_string()).collect()
    }

    #[test]
    fn unencrypted_suffix_applies_to_any_key_on_the_path() {
        let rules =
            EncryptionRules::new(Some("_unencrypted".into()), None, None, None, false, false)
                .unwrap();
        let any = Value::String("x".into());
        assert!(rules.is_encrypted(&keys(&["a", "b"]), &any));
        assert!(!rules.is_encrypted(&keys(&["a_unencrypted", "b"]), &any));
        assert!(!rules.is_encrypted(&keys(&["a", "b_unencrypted"]), &any));
    }

    #[test]
    fn encrypted_regex_is_an_unanchored_search_on_each_key() {
        let rules =
            EncryptionRules::new(None, None, None, Some("^(data|stringData)$"), false, false)
                .unwrap();
        let any = Value::String("x".into());
        assert!(rules.is_encrypted(&keys(&["data", "password"]), &any));
        assert!(!rules.is_encrypted(&keys(&["metadata", "name"]), &any));
        let rules = EncryptionRules::new(None, None, None, Some("pass"), false, false).unwrap();
        assert!(!rules.is_encrypted(&keys(&["db", "adminPassword"]), &any));
        assert!(rules.is_encrypted(&keys(&["db", "password"]), &any));
    }

    #[test]
    fn comment_rules_fall_back_on_the_value_shape() {
        let rules = EncryptionRules::new(None, None, None, None, false, true).unwrap();
        let encrypted = Value::String(
            "ENC[AES256_GCM,data:AAAA,iv:AAAA,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]".into(),
        );
        assert!(rules.is_encrypted(&keys(&["a"]), &encrypted));
        assert!(!rules.is_encrypted(&keys(&["a"]), &Value::String("plain".into())));
    }
}
