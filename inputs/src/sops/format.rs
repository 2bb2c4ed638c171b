//! Which sops store a file uses.

use std::path::Path;

/// The sops stores runbook reads. sops picks the store from the file extension; so do we,
/// unless the caller says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Yaml,
    Json,
    /// The metadata is flattened into a `[sops]` section (`age__list_0__map_enc = ...`).
    Ini,
}

impl Format {
    /// The format sops would pick for this path: `.yaml`/`.yml`, `.json`, `.ini`
    /// (case-insensitive). `None` for anything else.
    pub fn from_path(path: &Path) -> Option<Format> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "yaml" | "yml" => Some(Format::Yaml),
            "json" => Some(Format::Json),
            "ini" => Some(Format::Ini),
            _ => None,
        }
    }

    /// The name sops uses for `--input-type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Yaml => "yaml",
            Format::Json => "json",
            Format::Ini => "ini",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
