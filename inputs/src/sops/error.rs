//! Every way decrypting a sops file can fail, each with what the operator should do next.
//!
//! No variant carries key material or a decrypted value: values are named by their key path
//! (`objectStorage.s3.accessKey`), keys by their public identifier (age recipient, PGP
//! fingerprint, KMS ARN).

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::error::location_suffix;

/// Why a sops file could not be decrypted.
#[derive(Debug, thiserror::Error)]
pub enum SopsError {
    /// The file could not be read at all.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(transparent)]
    Input(runbook_engine::input_file::InputFileError),

    /// The extension does not say which store to use.
    #[error(
        "cannot tell the format of {} from its extension: name it .yaml, .yml, .json or .ini, \
         or give the format explicitly",
        path.display()
    )]
    UnknownFormat { path: PathBuf },

    /// The file is not valid YAML, JSON or INI.
    #[error("{}{}: malformed {format} file: {message}", path.display(), location_suffix(*location))]
    Malformed {
        path: PathBuf,
        format: &'static str,
        /// 1-based line and column, where the parser knows them.
        location: Option<(u64, u64)>,
        message: String,
    },

    /// The `sops` section exists but cannot be understood.
    #[error(
        "{}: the sops metadata is malformed: {message}; restore the file from version control",
        path.display()
    )]
    MalformedMetadata { path: PathBuf, message: String },

    /// A value that the file's rules say is encrypted is not a well-formed `ENC[...]` string.
    #[error(
        "{}: the encrypted value at {key_path} is malformed ({reason}); restore the file from \
         version control or re-encrypt it with sops",
        path.display()
    )]
    MalformedValue {
        path: PathBuf,
        key_path: String,
        reason: String,
    },

    /// The AES-GCM tag of one value did not verify: the ciphertext was changed, or moved to
    /// another key (the key path is part of the authenticated data).
    #[error(
        "{}: the value at {key_path} failed authentication: its ciphertext was changed, moved \
         from another key, or encrypted with another data key; restore the file from version \
         control",
        path.display()
    )]
    ValueAuthentication { path: PathBuf, key_path: String },

    /// The MAC over all values does not match: something was edited without sops.
    #[error(
        "{}: MAC mismatch: the file was modified outside sops ({detail}); restore it from \
         version control, or if the change is wanted, make it again with `sops edit`",
        path.display()
    )]
    MacMismatch { path: PathBuf, detail: &'static str },

    /// The file has no MAC, so its integrity cannot be checked.
    #[error(
        "{}: the file has no MAC (sops.mac is missing or empty), so its integrity cannot be \
         checked; re-encrypt it with `sops encrypt` or restore it from version control",
        path.display()
    )]
    MacMissing { path: PathBuf },

    /// No key available to this process could decrypt the data key.
    #[error("{}", render_no_key(path, needed_groups, *recovered_groups, recipients, tried))]
    NoKeyCouldDecrypt {
        path: PathBuf,
        /// `None` for a single key group; `Some((threshold, groups))` for Shamir key groups.
        needed_groups: Option<(usize, usize)>,
        recovered_groups: usize,
        /// Public identifiers of every key in the file, e.g. `age age1...`, `pgp FBC7...`.
        recipients: Vec<String>,
        /// What was tried and why it failed, e.g. `age age1... (from SOPS_AGE_KEY_FILE=...): ...`.
        tried: Vec<String>,
    },

    /// The recovered data key is unusable (wrong length, inconsistent Shamir parts).
    #[error(
        "{}: the data key recovered from the file's keys is invalid ({reason}); the key \
         stanzas in the sops metadata are corrupt, restore the file from version control",
        path.display()
    )]
    InvalidDataKey {
        path: PathBuf,
        reason: DataKeyProblem,
    },

    /// The file needs a key type only the `sops` binary can use, and it is not installed.
    #[error(
        "{}: the file can only be decrypted with {kinds} keys, which runbook cannot use \
         natively, and no `sops` binary was found on PATH: install sops, or provide an age key \
         (SOPS_AGE_KEY_FILE) or PGP key that is a recipient of the file",
        path.display()
    )]
    SopsBinaryMissing { path: PathBuf, kinds: String },

    /// The `sops` binary ran but failed or printed something unusable.
    #[error("{}: `sops --decrypt` failed: {message}", path.display())]
    SopsBinaryFailed { path: PathBuf, message: String },
}

/// Why a recovered data key cannot be used (the reason of [`SopsError::InvalidDataKey`]).
#[derive(Debug, thiserror::Error)]
pub enum DataKeyProblem {
    #[error("it is {0} bytes long instead of 32")]
    WrongLength(usize),
    #[error("fewer than two Shamir parts")]
    TooFewShamirParts,
    #[error("a Shamir part is shorter than two bytes")]
    ShamirPartTooShort,
    #[error("the Shamir parts have different lengths")]
    ShamirPartLengthsDiffer,
    #[error("two Shamir parts have the same x coordinate")]
    DuplicateShamirCoordinate,
}

/// A line gopkg.in/ini.v1 would refuse (the message of [`SopsError::Malformed`] for INI).
#[derive(Debug, thiserror::Error)]
pub(crate) enum IniSyntax {
    #[error("unclosed section header")]
    UnclosedSectionHeader,
    #[error("empty section name")]
    EmptySectionName,
    #[error("missing closing quote of a key name")]
    UnclosedKeyQuote,
    #[error("key-value delimiter (= or :) not found")]
    NoDelimiter,
    #[error("empty key name")]
    EmptyKeyName,
    #[error("missing closing {quote} of a multi-line value")]
    UnclosedValueQuote { quote: &'static str },
}

/// A rule regex of the metadata that does not compile (a [`SopsError::MalformedMetadata`]).
#[derive(Debug, thiserror::Error)]
#[error("{name} is not a valid regex: {source}")]
pub(crate) struct InvalidRuleRegex {
    pub name: &'static str,
    pub source: regex::Error,
}

/// Why gpg did not decrypt a PGP stanza: one line starting with `gpg:`, for the list of what
/// was tried.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GpgError {
    #[error("gpg: `{}` was not found on PATH; install GnuPG to use PGP keys", program.display())]
    NotFound { program: PathBuf },
    #[error("gpg: cannot run `{}`: {source}", program.display())]
    CannotRun {
        program: PathBuf,
        source: std::io::Error,
    },
    #[error("gpg: waiting for gpg failed: {0}")]
    Wait(std::io::Error),
    /// gpg's own first line of error output, or its exit status.
    #[error("{0}")]
    Refused(String),
}

fn render_no_key(
    path: &std::path::Path,
    needed_groups: &Option<(usize, usize)>,
    recovered_groups: usize,
    recipients: &[String],
    tried: &[String],
) -> String {
    let mut out = format!("no key could decrypt the data key of {}", path.display());
    if let Some((threshold, groups)) = needed_groups {
        let _ = write!(
            out,
            " (Shamir: {threshold} of its {groups} key groups are needed, {recovered_groups} \
             could be decrypted)"
        );
    }
    out.push_str("\n  recipients in the file:");
    if recipients.is_empty() {
        out.push_str("\n    (none)");
    }
    for recipient in recipients {
        let _ = write!(out, "\n    {recipient}");
    }
    out.push_str("\n  tried:");
    if tried.is_empty() {
        out.push_str("\n    nothing: no age identity was found and no PGP key is in the file");
    }
    for attempt in tried {
        let _ = write!(out, "\n    {attempt}");
    }
    out.push_str(
        "\n  hint: set SOPS_AGE_KEY_FILE to a key file holding the identity of one of the age \
         recipients (or SOPS_AGE_KEY to the key itself), or import the PGP secret key into gpg \
         (`gpg --import`, or set GNUPGHOME to the keyring that has it)",
    );
    out
}
