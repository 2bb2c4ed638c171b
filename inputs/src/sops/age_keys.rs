//! age identities (the operator's private keys) and decrypting sops' age stanzas with them.
//!
//! Identity text is in age key-file format: one `AGE-SECRET-KEY-1...` per line, `#` comments
//! and blank lines allowed. That is also what `SOPS_AGE_KEY` holds, possibly several keys.

use std::io::Read as _;
use std::str::FromStr as _;

use age::armor::ArmoredReader;
use zeroize::Zeroizing;

/// One parsed identity and where it came from. The secret is zeroed on drop (x25519-dalek's
/// `StaticSecret`).
pub(crate) struct AgeIdentity {
    identity: age::x25519::Identity,
    /// The matching `age1...` recipient.
    pub public_key: String,
    /// e.g. `SOPS_AGE_KEY_FILE=/home/op/keys.txt`.
    pub source: String,
}

impl std::fmt::Debug for AgeIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AgeIdentity({} from {})", self.public_key, self.source)
    }
}

/// Parses identity text. Lines that are not usable identities become problems (by line number,
/// never by content, since a malformed line may still be most of a secret key).
pub(crate) fn parse_identities(text: &str, source: &str) -> (Vec<AgeIdentity>, Vec<String>) {
    let mut identities = Vec::new();
    let mut problems = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line_number = index + 1;
        if line.starts_with("AGE-PLUGIN-") {
            problems.push(format!(
                "{source}, line {line_number}: age plugin identities are not supported natively"
            ));
            continue;
        }
        match age::x25519::Identity::from_str(line) {
            Ok(identity) => {
                let public_key = identity.to_public().to_string();
                identities.push(AgeIdentity {
                    identity,
                    public_key,
                    source: source.to_string(),
                });
            }
            Err(_) => problems.push(format!(
                "{source}, line {line_number}: not a valid age identity (AGE-SECRET-KEY-1...)"
            )),
        }
    }
    (identities, problems)
}

/// Why an age stanza could not be decrypted.
#[derive(Debug, PartialEq)]
pub(crate) enum AgeFailure {
    NoMatchingIdentity,
    Malformed(String),
}

/// Decrypts one armored age stanza (`sops.age[].enc`) with whichever identity matches.
pub(crate) fn decrypt_stanza(
    armored: &str,
    identities: &[AgeIdentity],
) -> Result<Zeroizing<Vec<u8>>, AgeFailure> {
    let reader = ArmoredReader::new(armored.trim().as_bytes());
    let decryptor = age::Decryptor::new(reader)
        .map_err(|error| AgeFailure::Malformed(format!("the age stanza is malformed: {error}")))?;
    let candidates = identities
        .iter()
        .map(|identity| &identity.identity as &dyn age::Identity);
    let mut plaintext = decryptor.decrypt(candidates).map_err(|error| match error {
        age::DecryptError::NoMatchingKeys => AgeFailure::NoMatchingIdentity,
        other => AgeFailure::Malformed(format!("the age stanza did not decrypt: {other}")),
    })?;
    let mut data_key = Zeroizing::new(Vec::with_capacity(64));
    plaintext.read_to_end(&mut data_key).map_err(|error| {
        AgeFailure::Malformed(format!("the age payload did not decrypt: {error}"))
    })?;
    Ok(data_key)
}
