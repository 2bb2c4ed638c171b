//! The `sops` binary, for files whose only usable keys are types runbook does not implement
//! (AWS KMS, GCP KMS, Azure Key Vault, HashiCorp Vault, ...): sops has their SDKs and
//! credential chains.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use zeroize::Zeroizing;

use super::format::Format;

#[derive(Debug)]
pub(crate) enum FallbackError {
    /// The program is not installed.
    NotFound,
    /// It ran and failed; the message is its first line of stderr and its exit status.
    Failed(String),
}

/// Runs `sops --decrypt --input-type F --output-type json FILE`. The text is decrypted from
/// `origin` when that file holds exactly this text, otherwise from a private temporary copy
/// (the ciphertext is not secret, but it is still the operator's file).
pub(crate) fn decrypt_with_sops(
    program: &Path,
    text: &str,
    format: Format,
    origin: &Path,
    gnupg_home: Option<&Path>,
) -> Result<Value, FallbackError> {
    let origin_matches = std::fs::read_to_string(origin).is_ok_and(|on_disk| on_disk == text);
    let temporary = if origin_matches {
        None
    } else {
        Some(TemporaryCopy::create(text, format).map_err(|error| {
            FallbackError::Failed(format!("cannot write a temporary copy for sops: {error}"))
        })?)
    };
    let file = temporary
        .as_ref()
        .map_or(origin, |copy| copy.path.as_path());

    let mut command = Command::new(program);
    command
        .arg("--decrypt")
        .args(["--input-type", format.as_str(), "--output-type", "json"])
        .arg(file)
        .env("SOPS_DISABLE_VERSION_CHECK", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(home) = gnupg_home {
        command.env("GNUPGHOME", home);
    }
    let output = command.output().map_err(|error| {
        if error.kind() == std::io::ErrorKind::NotFound {
            FallbackError::NotFound
        } else {
            FallbackError::Failed(format!("cannot run `{}`: {error}", program.display()))
        }
    })?;
    let stdout = Zeroizing::new(output.stdout);
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first_line = stderr
            .lines()
            .map(str::trim)
            .find(|line| !line.is_empty())
            .unwrap_or("(no message)");
        return Err(FallbackError::Failed(format!(
            "{first_line} ({})",
            output.status
        )));
    }
    serde_json::from_slice(&stdout)
        .map_err(|_| FallbackError::Failed("its output is not JSON".to_string()))
}

/// A 0600 file removed on drop.
struct TemporaryCopy {
    path: PathBuf,
}

impl TemporaryCopy {
    fn create(text: &str, format: Format) -> std::io::Result<TemporaryCopy> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos())
            .unwrap_or_default();
        let path = std::env::temp_dir().join(format!(
            "runbook-sops-{}-{nanos}.{}",
            std::process::id(),
            format.as_str()
        ));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&path)?;
        let copy = TemporaryCopy { path };
        file.write_all(text.as_bytes())?;
        Ok(copy)
    }
}

impl Drop for TemporaryCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
