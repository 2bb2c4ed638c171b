//! The report as Markdown, for the incident write-up: a summary, the sessions, a table of steps,
//! the failures and skips with their full text, and the critical path.

use std::fmt::Write as _;
use std::time::Duration;

use super::{Report, RunStatus};
use crate::duration::format_duration;

const NONE: &str = "—";

impl Report {
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        self.summary(&mut out);
        self.sessions_table(&mut out);
        self.steps_table(&mut out);
        self.failures(&mut out);
        self.skips(&mut out);
        self.critical_path_list(&mut out);
        out
    }

    fn summary(&self, out: &mut String) {
        let _ = writeln!(out, "# Run report: {}\n", text(&self.runbook));
        let _ = writeln!(out, "- **Run:** `{}`", self.run_id);
        let _ = writeln!(
            out,
            "- **Runbook:** {} ({})",
            text(&self.runbook),
            text(&self.runbook_path)
        );
        let _ = writeln!(out, "- **Started:** {}", self.started);
        let ended = self
            .ended
            .as_deref()
            .unwrap_or("never (no session end recorded)");
        let _ = writeln!(out, "- **Ended:** {ended}");
        let _ = writeln!(out, "- **Status:** {}", self.status.as_str());
        let total = self.total_ms.map_or_else(|| NONE.to_string(), human);
        // Only a run that succeeded has recovered; otherwise it is the time spent so far.
        let label = if self.status == RunStatus::Succeeded {
            "Time to recovery"
        } else {
            "Total time (not recovered)"
        };
        let _ = writeln!(
            out,
            "- **{label}:** {total} (first record to the end of the last step)"
        );
        let sessions = self.sessions.len();
        let plural = if sessions == 1 { "" } else { "s" };
        let _ = writeln!(
            out,
            "- **Active time:** {} over {sessions} session{plural}",
            human(self.active_ms)
        );
    }

    fn sessions_table(&self, out: &mut String) {
        if self.sessions.is_empty() {
            return;
        }
        out.push_str("\n## Sessions\n\n");
        out.push_str("| # | Command | Started | Ended | Duration | Status |\n");
        out.push_str("|---|---|---|---|---|---|\n");
        for s in &self.sessions {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                s.session,
                cell(&s.command),
                s.started,
                s.ended.as_deref().unwrap_or(NONE),
                human(s.duration_ms),
                s.status.as_str()
            );
        }
    }

    fn steps_table(&self, out: &mut String) {
        out.push_str("\n## Steps\n\n");
        out.push_str(
            "| Step | Title | Kind | State | Started | Ended | Duration | Attempts | Items |\n",
        );
        out.push_str("|---|---|---|---|---|---|---|---|---|\n");
        for s in &self.steps {
            let kind = s.kind.as_deref().map_or_else(
                || "(no longer in the runbook)".into(),
                |k| format!("`{}`", code(k)),
            );
            let items = s.items.map_or_else(|| NONE.to_string(), |n| n.to_string());
            let _ = writeln!(
                out,
                "| `{}` | {} | {kind} | {} | {} | {} | {} | {} | {items} |",
                code(&s.id),
                cell(&s.title),
                s.state,
                s.started.as_deref().unwrap_or(NONE),
                s.ended.as_deref().unwrap_or(NONE),
                s.duration_ms.map_or_else(|| NONE.to_string(), human),
                s.attempts,
            );
        }
    }

    fn failures(&self, out: &mut String) {
        let failed: Vec<_> = self.steps.iter().filter(|s| s.error.is_some()).collect();
        if failed.is_empty() {
            return;
        }
        out.push_str("\n## Failures\n");
        for s in failed {
            let error = s.error.as_deref().unwrap_or_default();
            let attempts = if s.attempts == 1 {
                "1 attempt".into()
            } else {
                format!("{} attempts", s.attempts)
            };
            let _ = writeln!(out, "\n### `{}` ({}, {attempts})\n", code(&s.id), s.state);
            // Errors quote commands and server responses verbatim: a fence longer than any run of
            // backticks inside keeps them literal.
            let fence = "`".repeat(longest_backtick_run(error).max(2) + 1);
            let _ = writeln!(out, "{fence}text\n{error}\n{fence}");
        }
    }

    fn skips(&self, out: &mut String) {
        let skipped: Vec<_> = self
            .steps
            .iter()
            .filter(|s| s.skip_reason.is_some())
            .collect();
        if skipped.is_empty() {
            return;
        }
        out.push_str("\n## Skipped\n\n");
        for s in skipped {
            let _ = writeln!(
                out,
                "- `{}`: {}",
                code(&s.id),
                text(s.skip_reason.as_deref().unwrap_or_default())
            );
        }
    }

    fn critical_path_list(&self, out: &mut String) {
        out.push_str("\n## Critical path\n\n");
        if self.critical_path.steps.is_empty() {
            out.push_str("No step has finished yet.\n");
            return;
        }
        let _ = writeln!(
            out,
            "The chain of dependent steps that took longest: {} in total.\n",
            human(self.critical_path.total_ms)
        );
        for (n, s) in self.critical_path.steps.iter().enumerate() {
            let _ = writeln!(
                out,
                "{}. `{}`: {}",
                n + 1,
                code(&s.id),
                human(s.duration_ms)
            );
        }
    }
}

fn human(ms: u64) -> String {
    format_duration(Duration::from_millis(ms))
}

/// Free text (titles, commands, reasons) with the characters Markdown would act on escaped, so
/// that a title such as `a|b <c>` neither splits a table cell nor becomes HTML.
fn text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '\r' => {}
            _ => out.push(c),
        }
    }
    out
}

/// Free text inside a table cell, which cannot span lines.
fn cell(value: &str) -> String {
    text(value).replace('\n', " ")
}

/// Text inside a code span: ids and kinds are `[a-z0-9.-]`, but a kind read from an edited
/// runbook could hold anything; a backtick would end the span.
fn code(value: &str) -> String {
    value.replace('`', "'").replace('\n', " ")
}

fn longest_backtick_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{self, shown};
    use super::*;

    fn row<'a>(markdown: &'a str, id: &str) -> &'a str {
        let prefix = format!("| `{id}` |");
        let rows: Vec<&str> = markdown
            .lines()
            .filter(|l| l.starts_with(&prefix))
            .collect();
        assert_eq!(rows.len(), 1, "one row for `{id}` in:\n{markdown}");
        rows[0]
    }

    #[test]
    fn summary_names_the_run_and_its_totals() {
        let md = fixture::failed_report().to_markdown();
        assert!(md.starts_with("# Run report: influxdb-restore\n"), "{md}");
        assert!(
            md.contains(&format!("- **Run:** `{}`", fixture::RUN_ID)),
            "{md}"
        );
        assert!(md.contains("- **Status:** failed"), "{md}");
        assert!(
            md.contains("- **Total time (not recovered):** 2m13s"),
            "{md}"
        );
        assert!(
            md.contains("- **Active time:** 53.5s over 2 sessions"),
            "{md}"
        );
        assert!(
            md.contains(&format!(
                "| 2 | runbook resume {} --yes | {} | {} | 33.5s | failed |",
                fixture::RUN_ID,
                shown(100.0),
                shown(133.5)
            )),
            "{md}"
        );
    }

    #[test]
    fn one_row_per_step_with_timings() {
        let md = fixture::failed_report().to_markdown();
        let fetch = row(&md, "fetch");
        assert!(
            fetch.contains("| Find the latest backup | `s3.latest` | succeeded |"),
            "{fetch}"
        );
        assert!(fetch.ends_with("| 4.5s | 2 | — |"), "{fetch}");
        assert!(row(&md, "drop-databases").ends_with("| 2.0s | 1 | 2 |"));
        assert!(row(&md, "restore-influx.wait").ends_with("| 35.2s | 2 | — |"));
        assert!(row(&md, "notify").contains("| not run | — | — | — | 0 |"));
        for step in fixture::program().keys() {
            row(&md, step);
        }
    }

    #[test]
    fn failures_skips_and_critical_path() {
        let md = fixture::failed_report().to_markdown();
        assert!(
            md.contains(&format!(
                "### `verify` (failed, 1 attempt)\n\n```text\n{}\n```\n",
                fixture::VERIFY_ERROR
            )),
            "{md}"
        );
        assert!(
            md.contains("- `dashboards`: \\`when: params.dashboards\\` is false\n"),
            "{md}"
        );
        let path = md
            .split("## Critical path")
            .nth(1)
            .expect("a critical path section");
        assert!(path.contains("51.2s in total"), "{path}");
        let items: Vec<&str> = path
            .lines()
            .filter(|l| l.starts_with(char::is_numeric))
            .collect();
        assert_eq!(
            items,
            [
                "1. `fetch`: 4.5s",
                "2. `restore-influx.apply`: 10.0s",
                "3. `restore-influx.wait`: 35.2s",
                "4. `verify`: 1.0s",
                "5. `cleanup`: 500ms"
            ]
        );
    }

    #[test]
    fn free_text_cannot_break_the_table_or_the_fence() {
        assert_eq!(cell("a|b <i>\nc"), "a\\|b \\<i\\> c");
        let mut report = fixture::failed_report();
        report.steps[0].error = Some("see ```sh\nrm -rf```".into());
        let md = report.to_markdown();
        assert!(md.contains("````text\nsee ```sh\nrm -rf```\n````"), "{md}");
    }
}
