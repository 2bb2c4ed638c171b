//! PGP stanzas are decrypted by the operator's own gpg, so that keys held by gpg-agent or on a
//! smartcard work as they do for sops.

use std::io::Write as _;
use std::process::{Command, Stdio};

use zeroize::Zeroizing;

use super::error::GpgError;
use super::key_sources::GpgProgram;

/// Runs `gpg --batch --quiet --decrypt` with the armored stanza on stdin.
pub(crate) fn decrypt_stanza(
    gpg: &GpgProgram,
    armored: &str,
) -> Result<Zeroizing<Vec<u8>>, GpgError> {
    let mut command = Command::new(&gpg.program);
    command
        .args(["--batch", "--quiet", "--decrypt"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(home) = &gpg.gnupg_home {
        command.env("GNUPGHOME", home);
    }
    let mut child = command.spawn().map_err(|source| {
        let program = gpg.program.clone();
        if source.kind() == std::io::ErrorKind::NotFound {
            GpgError::NotFound { program }
        } else {
            GpgError::CannotRun { program, source }
        }
    })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A stanza is a few kilobytes, well under a pipe buffer: no need for a writer thread.
        // gpg may exit early (e.g. no secret key) and close the pipe; its stderr says why.
        let _ = stdin.write_all(armored.as_bytes());
    }
    let output = child.wait_with_output().map_err(GpgError::Wait)?;
    let data_key = Zeroizing::new(output.stdout);
    if output.status.success() && !data_key.is_empty() {
        return Ok(data_key);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let reason = stderr
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| format!("gpg exited with {}", output.status));
    Err(GpgError::Refused(if reason.starts_with("gpg:") {
        reason
    } else {
        format!("gpg: {reason}")
    }))
}
