//! Where the keys that can decrypt a sops data key come from: age identities, the operator's
//! gpg (and through it gpg-agent and smartcards), and as a last resort the `sops` binary.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::age_keys::{AgeIdentity, parse_identities};

/// How to run gpg for PGP stanzas.
#[derive(Debug, Clone)]
pub(crate) struct GpgProgram {
    pub program: PathBuf,
    /// `GNUPGHOME` for the gpg process; `None` inherits the environment's.
    pub gnupg_home: Option<PathBuf>,
}

/// The keys this process may use. Build it with [`KeySources::from_env`] for the operator's
/// environment, or from [`KeySources::empty`] and the `with_*` methods.
pub struct KeySources {
    pub(crate) age: Vec<AgeIdentity>,
    /// Places searched for age identities, for "no identity found" messages.
    pub(crate) age_looked_in: Vec<String>,
    /// Identity sources that could not be used (unreadable file, malformed line).
    pub(crate) problems: Vec<String>,
    pub(crate) gpg: Option<GpgProgram>,
    /// The `sops` program for key types without native support (kms, gcp_kms, ...).
    pub(crate) sops_binary: Option<PathBuf>,
}

impl KeySources {
    /// No keys, no gpg, no `sops` binary.
    pub fn empty() -> KeySources {
        KeySources {
            age: Vec::new(),
            age_looked_in: Vec::new(),
            problems: Vec::new(),
            gpg: None,
            sops_binary: None,
        }
    }

    /// What sops itself would use: age identities from `SOPS_AGE_KEY` (several keys allowed),
    /// `SOPS_AGE_KEY_FILE` and the default key file (`$XDG_CONFIG_HOME/sops/age/keys.txt`, else
    /// `~/.config/sops/age/keys.txt`); `gpg` (or `SOPS_GPG_EXEC`) with the inherited
    /// `GNUPGHOME`; and the `sops` binary on PATH for other key types.
    pub fn from_env() -> KeySources {
        KeySources::from_variables(|name| std::env::var(name).ok())
    }

    /// [`KeySources::from_env`] over any source of variables (tests pass a map).
    pub(crate) fn from_variables(variable: impl Fn(&str) -> Option<String>) -> KeySources {
        let mut sources = KeySources::empty();
        if let Some(text) = variable("SOPS_AGE_KEY").map(Zeroizing::new) {
            sources = sources.with_age_identities(&text, "SOPS_AGE_KEY");
        }
        let key_file = variable("SOPS_AGE_KEY_FILE").filter(|path| !path.is_empty());
        if let Some(path) = &key_file {
            sources = sources.load_age_key_file(Path::new(path), "SOPS_AGE_KEY_FILE=", true);
        }
        if variable("SOPS_AGE_KEY_CMD").is_some() {
            sources.problems.push(
                "SOPS_AGE_KEY_CMD is set but not supported natively: put the key in \
                 SOPS_AGE_KEY_FILE or SOPS_AGE_KEY"
                    .to_string(),
            );
        }
        let config_home = variable("XDG_CONFIG_HOME")
            .filter(|dir| !dir.is_empty())
            .map(PathBuf::from)
            .or_else(|| variable("HOME").map(|home| Path::new(&home).join(".config")));
        if let Some(config_home) = config_home {
            let default_file = config_home.join("sops").join("age").join("keys.txt");
            if key_file.as_deref().map(Path::new) != Some(default_file.as_path()) {
                sources = sources.load_age_key_file(&default_file, "", false);
            }
        }
        let gpg = variable("SOPS_GPG_EXEC")
            .filter(|program| !program.is_empty())
            .unwrap_or_else(|| "gpg".to_string());
        sources.with_gpg(gpg, None).with_sops_binary("sops")
    }

    /// Adds the identities in `text` (age key-file format), recording `source` as their origin.
    pub fn with_age_identities(mut self, text: &str, source: &str) -> KeySources {
        self.age_looked_in.push(source.to_string());
        let (identities, problems) = parse_identities(text, source);
        self.problems.extend(problems);
        for identity in identities {
            // The same key is often both in SOPS_AGE_KEY_FILE and the default file.
            if !self
                .age
                .iter()
                .any(|known| known.public_key == identity.public_key)
            {
                self.age.push(identity);
            }
        }
        self
    }

    /// Adds the identities of an age key file. A file that cannot be read is recorded as a
    /// problem and reported if no key decrypts the file.
    pub fn with_age_key_file(self, path: &Path) -> KeySources {
        self.load_age_key_file(path, "", true)
    }

    /// Uses `program` for PGP stanzas, with `GNUPGHOME` set to `gnupg_home` when given.
    pub fn with_gpg(
        mut self,
        program: impl Into<PathBuf>,
        gnupg_home: Option<PathBuf>,
    ) -> KeySources {
        self.gpg = Some(GpgProgram {
            program: program.into(),
            gnupg_home,
        });
        self
    }

    /// Lets files whose only usable keys are kms, gcp_kms, azure_kv, hc_vault, ... be decrypted
    /// by running `program --decrypt`.
    pub fn with_sops_binary(mut self, program: impl Into<PathBuf>) -> KeySources {
        self.sops_binary = Some(program.into());
        self
    }

    /// The public keys of the loaded age identities and where each came from.
    pub fn age_recipients(&self) -> Vec<(String, String)> {
        self.age
            .iter()
            .map(|identity| (identity.public_key.clone(), identity.source.clone()))
            .collect()
    }

    /// Identity sources that could not be used.
    pub fn problems(&self) -> &[String] {
        &self.problems
    }

    fn load_age_key_file(self, path: &Path, label: &str, must_exist: bool) -> KeySources {
        let source = format!("{label}{}", path.display());
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let text = Zeroizing::new(text);
                self.with_age_identities(&text, &source)
            }
            Err(error) if !must_exist && error.kind() == std::io::ErrorKind::NotFound => {
                let mut sources = self;
                sources.age_looked_in.push(source);
                sources
            }
            Err(error) => {
                let mut sources = self;
                sources.age_looked_in.push(source.clone());
                sources
                    .problems
                    .push(format!("{source}: cannot read: {error}"));
                sources
            }
        }
    }
}

// By hand: only public keys and their sources, never the identities.
impl std::fmt::Debug for KeySources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySources")
            .field("age", &self.age)
            .field("problems", &self.problems)
            .field("gpg", &self.gpg)
            .field("sops_binary", &self.sops_binary)
            .finish()
    }
}
