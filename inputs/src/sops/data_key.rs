//! Recovering the data key from the file's key groups, like sops' `GetDataKeyWithKeyServices`:
//! in each group the keys are tried age first, then PGP, until one decrypts; with several
//! groups, `shamir_threshold` decrypted groups are combined into the key.

use std::collections::BTreeSet;

use zeroize::Zeroizing;

use super::age_keys::{self, AgeFailure};
use super::error::DataKeyProblem;
use super::key_sources::KeySources;
use super::metadata::{KeyGroup, MasterKey, Metadata};
use super::{pgp, shamir};

/// What was tried when the data key could not be recovered.
#[derive(Debug, Default)]
pub(crate) struct FailedAttempts {
    /// One line per attempt, e.g. `pgp FBC7...: gpg: decryption failed: No secret key`.
    pub tried: Vec<String>,
    pub recovered_groups: usize,
    /// Key types present that only the `sops` binary can use (`kms`, `hc_vault`, ...).
    pub unsupported_kinds: BTreeSet<String>,
}

pub(crate) enum Recovery {
    /// The data key (not yet checked for length).
    Recovered(Zeroizing<Vec<u8>>),
    /// Enough groups were decrypted but their Shamir parts do not combine.
    InconsistentParts(DataKeyProblem),
    /// Not enough key groups could be decrypted with the keys at hand.
    Failed(FailedAttempts),
}

pub(crate) fn recover(metadata: &Metadata, keys: &KeySources) -> Recovery {
    let mut attempts = FailedAttempts::default();
    let mut parts = Vec::new();
    let needed = needed_groups(metadata);
    for group in &metadata.key_groups {
        if parts.len() >= needed {
            break;
        }
        if let Some(part) = decrypt_group(group, keys, &mut attempts) {
            parts.push(part);
        }
    }
    attempts.recovered_groups = parts.len();
    if parts.len() < needed {
        describe_age_identities(metadata, keys, &mut attempts);
        return Recovery::Failed(attempts);
    }
    if metadata.key_groups.len() == 1 {
        return Recovery::Recovered(parts.swap_remove(0));
    }
    match shamir::combine(&parts) {
        Ok(key) => Recovery::Recovered(key),
        Err(reason) => Recovery::InconsistentParts(reason),
    }
}

/// One group decrypts the whole key; several need the threshold (all groups when unset,
/// which is what sops writes by default).
fn needed_groups(metadata: &Metadata) -> usize {
    let groups = metadata.key_groups.len();
    if groups <= 1 {
        1
    } else if metadata.shamir_threshold == 0 {
        groups
    } else {
        metadata.shamir_threshold.min(groups)
    }
}

fn decrypt_group(
    group: &KeyGroup,
    keys: &KeySources,
    attempts: &mut FailedAttempts,
) -> Option<Zeroizing<Vec<u8>>> {
    for key in &group.keys {
        match key {
            MasterKey::Age { recipient, enc } => {
                if keys.age.is_empty() {
                    continue;
                }
                match age_keys::decrypt_stanza(enc, &keys.age) {
                    Ok(part) => return Some(part),
                    // Which identities were tried is reported once, after all groups.
                    Err(AgeFailure::NoMatchingIdentity) => {}
                    Err(AgeFailure::Malformed(reason)) => {
                        attempts.tried.push(format!("age {recipient}: {reason}"));
                    }
                }
            }
            MasterKey::Pgp { fingerprint, enc } => match &keys.gpg {
                None => attempts
                    .tried
                    .push(format!("pgp {fingerprint}: not tried, PGP is disabled")),
                Some(gpg) => match pgp::decrypt_stanza(gpg, enc) {
                    Ok(part) => return Some(part),
                    Err(reason) => attempts.tried.push(format!("pgp {fingerprint}: {reason}")),
                },
            },
            MasterKey::Other { kind, .. } => {
                attempts.unsupported_kinds.insert(kind.clone());
            }
        }
    }
    None
}

/// Reports every age identity that was available and whether the file names it as a
/// recipient, plus the identity sources that failed to load.
fn describe_age_identities(metadata: &Metadata, keys: &KeySources, attempts: &mut FailedAttempts) {
    let recipients: BTreeSet<&str> = metadata
        .all_keys()
        .filter_map(|key| match key {
            MasterKey::Age { recipient, .. } => Some(recipient.as_str()),
            _ => None,
        })
        .collect();
    let mut lines = Vec::new();
    if keys.age.is_empty() && !recipients.is_empty() {
        let looked_in = if keys.age_looked_in.is_empty() {
            "no age key source was given".to_string()
        } else {
            format!("looked in {}", keys.age_looked_in.join(", "))
        };
        lines.push(format!("age: no identity found ({looked_in})"));
    }
    for identity in &keys.age {
        let verdict = if recipients.contains(identity.public_key.as_str()) {
            "a recipient of this file, but its stanza did not decrypt"
        } else {
            "not a recipient of this file"
        };
        lines.push(format!(
            "age {} (from {}): {verdict}",
            identity.public_key, identity.source
        ));
    }
    lines.extend(keys.problems.iter().cloned());
    // Identities first: they are what the operator controls most directly.
    lines.append(&mut attempts.tried);
    attempts.tried = lines;
}
