//! The plan for a terminal: waves of steps, destructive steps and insecure endpoints emphasized.

use std::fmt::Write as _;

use serde_json::Value;

use super::Plan;

impl Plan {
    pub fn step_count(&self) -> usize {
        self.waves.iter().map(Vec::len).sum()
    }

    /// The human rendering. `color` adds ANSI emphasis for destructive steps and insecure endpoints.
    pub fn to_text(&self, color: bool) -> String {
        let (red, bold, dim, reset) = if color {
            ("\x1b[31;1m", "\x1b[1m", "\x1b[2m", "\x1b[0m")
        } else {
            ("", "", "", "")
        };
        let mut out = format!("Plan for {bold}{}{reset} ({})\n", self.runbook, self.path);
        if !self.params.is_empty() {
            let params: Vec<String> = self
                .params
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let _ = writeln!(out, "Params: {}", params.join(", "));
        }
        if !self.vars.is_empty() {
            let _ = writeln!(out, "Vars:");
            for (name, value) in &self.vars {
                let _ = writeln!(out, "  {name} = {}", shortened(value));
            }
        }
        for requirement in &self.requires {
            let _ = writeln!(out, "Requires: {requirement}  (holds)");
        }
        if !self.connections.is_empty() {
            let _ = writeln!(out, "Connections:");
            for c in &self.connections {
                let tls = if c.plain_http {
                    format!("{red}PLAIN HTTP, NOT ENCRYPTED{reset}")
                } else if c.insecure {
                    format!("{red}TLS NOT VERIFIED (insecure: true){reset}")
                } else if let Some(ca) = &c.ca_file {
                    format!("TLS verified with {ca}")
                } else {
                    "TLS verified".to_string()
                };
                let _ = writeln!(
                    out,
                    "  {:<14} {:<10} {}  {tls}",
                    c.name,
                    c.kind,
                    c.endpoint.as_deref().unwrap_or("-")
                );
                if let Some(problem) = &c.problem {
                    let _ = writeln!(out, "  {red}{problem}{reset}");
                }
            }
        }
        for (number, wave) in self.waves.iter().enumerate() {
            let parallel = if wave.len() > 1 {
                format!(" ({} steps in parallel)", wave.len())
            } else {
                String::new()
            };
            let _ = writeln!(out, "\nWave {}{parallel}", number + 1);
            for step in wave {
                let mut tags = Vec::new();
                if step.destructive {
                    tags.push(format!("{red}DESTRUCTIVE{reset}"));
                }
                if step.always {
                    tags.push("always".into());
                }
                if step.continue_on_error {
                    tags.push("continue on error".into());
                }
                if let Some(from) = &step.resume_from {
                    tags.push(format!("if it fails, resume from {from}"));
                }
                let tags = if tags.is_empty() {
                    String::new()
                } else {
                    format!("  [{}]", tags.join(", "))
                };
                let title = if step.title != step.id {
                    format!(" {dim}{}{reset}", step.title)
                } else {
                    String::new()
                };
                let _ = writeln!(
                    out,
                    "  {bold}{}{reset} ({}){title}{tags}",
                    step.id, step.uses
                );
                if !step.needs.is_empty() {
                    let _ = writeln!(out, "      needs: {}", step.needs.join(", "));
                }
                if let Some(reason) = &step.skipped {
                    let _ = writeln!(out, "      skipped: {reason}");
                    continue;
                }
                if let Some(when) = &step.when {
                    let _ = writeln!(out, "      if: {when} (decided at run time)");
                }
                if let Some(items) = &step.for_each {
                    match items {
                        Value::Array(list) => {
                            let _ = writeln!(
                                out,
                                "      for each of {} item{}",
                                list.len(),
                                if list.len() == 1 { "" } else { "s" }
                            );
                        }
                        other => {
                            let _ = writeln!(
                                out,
                                "      for each item of {} (known at run time)",
                                other.as_str().unwrap_or_default()
                            );
                        }
                    }
                }
                for action in &step.actions {
                    let _ = writeln!(out, "      -> {action}");
                }
                if let Some(retry) = &step.retry {
                    let _ = writeln!(out, "      retry: {retry}");
                }
                if let Some(timeout) = &step.timeout {
                    let _ = writeln!(out, "      timeout: {timeout}");
                }
            }
        }
        let _ = write!(
            out,
            "\n{} step{} in {} wave{}",
            self.step_count(),
            plural(self.step_count()),
            self.waves.len(),
            plural(self.waves.len())
        );
        if self.destructive.is_empty() {
            out.push_str("; nothing destructive.\n");
        } else {
            let _ = writeln!(
                out,
                "; {red}{} destructive{reset}: {}. `runbook run` asks for confirmation (or pass --yes).",
                self.destructive.len(),
                self.destructive.join(", ")
            );
        }
        out
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A var's value on one line: long lists and texts cut, so the plan stays readable.
fn shortened(value: &Value) -> String {
    const LIMIT: usize = 120;
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let text = text.replace('\n', " ");
    match text.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}
