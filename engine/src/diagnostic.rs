//! Problems found in a runbook or its inputs, each pointing at a file, line and column, saying what
//! was expected and how to fix it. Validation collects all of them before reporting.

use std::fmt::Write as _;

use serde::Serialize;

use crate::source::{Loc, Sources};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    #[serde(skip)]
    pub loc: Loc,
    /// What is wrong.
    pub message: String,
    /// What the engine expected instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// How to fix it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(loc: Loc, message: impl Into<String>) -> Self {
        Diagnostic {
            loc,
            message: message.into(),
            expected: None,
            help: None,
        }
    }
    pub fn expected(mut self, expected: impl Into<String>) -> Self {
        self.expected = Some(expected.into());
        self
    }
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
    pub fn help_opt(mut self, help: Option<String>) -> Self {
        if help.is_some() {
            self.help = help;
        }
        self
    }

    /// `file:line:column` (or just `file` when the problem is the file as a whole).
    pub fn location(&self, sources: &Sources) -> String {
        let path = sources.path(self.loc.file);
        if self.loc.line == 0 {
            path.display().to_string()
        } else {
            format!("{}:{}:{}", path.display(), self.loc.line, self.loc.column)
        }
    }

    /// The compiler-style rendering: location, message, the quoted line with a caret, expected, help.
    pub fn render(&self, sources: &Sources) -> String {
        let mut out = format!(
            "error: {}\n  --> {}\n",
            self.message,
            self.location(sources)
        );
        if let Some(line) = sources.line(self.loc.file, self.loc.line) {
            let number = self.loc.line.to_string();
            let pad = " ".repeat(number.len());
            let caret_at = (self.loc.column.max(1) - 1) as usize;
            let _ = writeln!(
                out,
                "{pad} |\n{number} | {line}\n{pad} | {}^",
                " ".repeat(caret_at)
            );
        }
        if let Some(expected) = &self.expected {
            let _ = writeln!(out, "  = expected: {expected}");
        }
        if let Some(help) = &self.help {
            let _ = writeln!(out, "  = help: {help}");
        }
        out
    }

    /// The machine-readable form, with the location resolved.
    pub fn to_json(&self, sources: &Sources) -> serde_json::Value {
        let mut value = serde_json::to_value(self).expect("diagnostic serializes");
        let map = value.as_object_mut().expect("diagnostic is an object");
        map.insert(
            "file".into(),
            sources.path(self.loc.file).display().to_string().into(),
        );
        map.insert("line".into(), self.loc.line.into());
        map.insert("column".into(), self.loc.column.into());
        value
    }
}

/// A list of problems, rendered together.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }
    /// `Ok(value)` when there is no problem, else these problems.
    pub fn into_result<T>(self, value: T) -> Result<T, Diagnostics> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }
    /// Mask secret values that a message may quote (a template error can show a value).
    pub fn redacted(mut self, redactor: &crate::redact::Redactor) -> Self {
        for d in &mut self.0 {
            d.message = redactor.redact(&d.message);
            d.help = d.help.as_deref().map(|h| redactor.redact(h));
        }
        self
    }

    pub fn render(&self, sources: &Sources) -> String {
        let mut sorted = self.0.clone();
        sorted.sort_by_key(|d| (d.loc.file.0, d.loc.line, d.loc.column));
        sorted.dedup();
        let mut out: String = sorted.iter().map(|d| d.render(sources) + "\n").collect();
        let _ = write!(
            out,
            "{} problem{} found",
            sorted.len(),
            if sorted.len() == 1 { "" } else { "s" }
        );
        out
    }
}
