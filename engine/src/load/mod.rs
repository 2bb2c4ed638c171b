//! Load: YAML text into a [`Runbook`], reporting every structural problem at once.

use std::path::Path;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::duration::{self, parse_duration};
use crate::model::*;
use crate::source::{FileId, Loc, Sources};
use crate::suggest::did_you_mean;
use crate::yaml::{self, Key, Node, NodeValue};

mod runbook;
mod step;

pub const TOP_KEYS: &[&str] = &[
    "apiVersion",
    "kind",
    "name",
    "description",
    "params",
    "vars",
    "requires",
    "connections",
    "steps",
];
pub const PARAM_KEYS: &[&str] = &["description", "required", "default", "secret"];
pub const REQUIREMENT_KEYS: &[&str] = &["that", "message"];
pub const STEP_KEYS: &[&str] = &[
    "id",
    "name",
    "uses",
    "with",
    "needs",
    "when",
    "for_each",
    "retry",
    "timeout",
    "continue_on_error",
    "always",
    "resume_from",
    "destructive",
    "idempotent",
    "secret",
];
pub const RETRY_KEYS: &[&str] = &["attempts", "delay", "backoff", "max_delay"];

/// Read and load a runbook file. Problems are returned together; the file is registered in
/// `sources` either way so they can be rendered.
pub fn load_file(path: &Path, sources: &Sources) -> Result<Runbook, Diagnostics> {
    let text = match crate::input_file::read_text(path) {
        Ok(text) => text,
        Err(crate::input_file::InputFileError::NotUtf8 {
            line, column, byte, ..
        }) => {
            let lossy =
                String::from_utf8_lossy(&crate::input_file::read_bytes(path).unwrap_or_default())
                    .into_owned();
            let file = sources.add(path, lossy.as_str());
            return Err(Diagnostics(vec![
                Diagnostic::new(
                    Loc::new(file, line as u32, column as u32),
                    format!("the runbook is not UTF-8 text: byte 0x{byte:02x} here"),
                )
                .help("save the file as UTF-8 (`iconv -t UTF-8`), or retype the character"),
            ]));
        }
        Err(e) => {
            let file = sources.add(path, "");
            let help = if e.is_not_found() {
                "check the path; runbooks are YAML files such as runbooks/examples/restore-drill.yaml"
            } else {
                "check that this is the runbook you meant"
            };
            return Err(Diagnostics(vec![
                Diagnostic::new(
                    Loc::file_only(file),
                    format!("cannot load the runbook: {e}"),
                )
                .help(help),
            ]));
        }
    };
    let file = sources.add(path, text.as_str());
    load_str(&text, path, file)
}

pub fn load_str(text: &str, path: &Path, file: FileId) -> Result<Runbook, Diagnostics> {
    let root = yaml::parse(text, file).map_err(|d| Diagnostics(vec![d]))?;
    let mut loader = Loader {
        file,
        diags: Diagnostics::default(),
    };
    let runbook = loader.runbook(&root, path);
    if loader.diags.is_empty() {
        Ok(runbook)
    } else {
        Err(loader.diags)
    }
}

struct Loader {
    file: FileId,
    diags: Diagnostics,
}

impl Loader {
    fn loc(&self, node: &Node) -> Loc {
        node.loc(self.file)
    }
    fn key_loc(&self, key: &Key) -> Loc {
        Loc::new(self.file, key.line, key.column)
    }

    fn error(&mut self, loc: Loc, message: impl Into<String>) -> &mut Diagnostic {
        self.diags.push(Diagnostic::new(loc, message));
        self.diags.0.last_mut().expect("just pushed")
    }

    /// A mapping's entries, with every key outside `allowed` reported.
    fn mapping<'n>(&mut self, node: &'n Node, allowed: &[&str], what: &str) -> &'n [(Key, Node)] {
        let Some(entries) = node.as_map() else {
            let loc = self.loc(node);
            self.error(
                loc,
                format!("{what} must be a mapping, found {}", node.type_name()),
            )
            .expected = Some(format!("a mapping with keys among: {}", allowed.join(", ")));
            return &[];
        };
        for (key, _) in entries {
            if !allowed.contains(&key.name.as_str()) {
                let loc = self.key_loc(key);
                let help = did_you_mean(&key.name, allowed.iter().copied()).unwrap_or_else(|| {
                    format!("remove it; {what} accepts: {}", allowed.join(", "))
                });
                self.error(loc, format!("unknown key `{}` in {what}", key.name))
                    .help = Some(help);
            }
        }
        entries
    }

    fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.value {
            NodeValue::Str(s) => Some(s.clone()),
            NodeValue::Int(i) => Some(i.to_string()),
            NodeValue::Float(f) => Some(f.to_string()),
            NodeValue::Bool(b) => Some(b.to_string()),
            _ => {
                let loc = self.loc(node);
                self.error(
                    loc,
                    format!("{what} must be a string, found {}", node.type_name()),
                );
                None
            }
        }
    }

    fn boolean(&mut self, node: &Node, what: &str) -> Option<bool> {
        match &node.value {
            NodeValue::Bool(b) => Some(*b),
            _ => {
                let loc = self.loc(node);
                self.error(
                    loc,
                    format!("{what} must be true or false, found {}", node.type_name()),
                )
                .help = Some("write `true` or `false` without quotes".into());
                None
            }
        }
    }

    fn duration(&mut self, node: &Node, what: &str) -> Option<std::time::Duration> {
        let text = self.string(node, what)?;
        match parse_duration(&text) {
            Ok(d) => Some(d),
            Err(e) => {
                let loc = self.loc(node);
                self.error(loc, format!("{what}: {e}")).expected = Some(duration::EXPECTED.into());
                None
            }
        }
    }
}
