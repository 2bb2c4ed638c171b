//! The report as JUnit XML, so CI systems that run recovery drills show each step as a test case:
//! one test suite named after the runbook, one test case per step.
//!
//! Failed steps carry `<failure>`, steps that were skipped or never ran `<skipped>`, and steps whose
//! last attempt never finished (interrupted, or still marked started) `<error>`: they neither
//! passed nor failed.

use std::fmt::Write as _;

use super::{Report, StepReport, StepState};

enum Outcome {
    Passed,
    Failure,
    Error,
    Skipped,
}

fn outcome(step: &StepReport) -> Outcome {
    match step.state {
        StepState::Succeeded | StepState::DoneByHand => Outcome::Passed,
        StepState::Failed => Outcome::Failure,
        StepState::Interrupted | StepState::Started => Outcome::Error,
        StepState::Skipped | StepState::Pending | StepState::NotRun => Outcome::Skipped,
    }
}

impl Report {
    pub fn to_junit(&self) -> String {
        let count = |wanted: fn(&Outcome) -> bool| {
            self.steps.iter().filter(|s| wanted(&outcome(s))).count()
        };
        let failures = count(|o| matches!(o, Outcome::Failure));
        let errors = count(|o| matches!(o, Outcome::Error));
        let skipped = count(|o| matches!(o, Outcome::Skipped));
        let suite = attribute(&self.runbook);
        let counts = format!(
            r#"tests="{}" failures="{failures}" errors="{errors}" skipped="{skipped}" time="{}""#,
            self.steps.len(),
            seconds(self.total_ms.unwrap_or(0))
        );
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(out, r#"<testsuites name="{suite}" {counts}>"#);
        let _ = writeln!(out, r#"  <testsuite name="{suite}" {counts}>"#);
        out.push_str("    <properties>\n");
        let properties = [
            ("run_id", Some(self.run_id.as_str())),
            ("runbook_path", Some(self.runbook_path.as_str())),
            ("status", Some(self.status.as_str())),
            ("started", Some(self.started.as_str())),
            ("ended", self.ended.as_deref()),
        ];
        for (name, value) in properties {
            if let Some(value) = value {
                let _ = writeln!(
                    out,
                    r#"      <property name="{name}" value="{}"/>"#,
                    attribute(value)
                );
            }
        }
        out.push_str("    </properties>\n");
        for step in &self.steps {
            test_case(&mut out, &suite, step);
        }
        out.push_str("  </testsuite>\n</testsuites>\n");
        out
    }
}

fn test_case(out: &mut String, suite: &str, step: &StepReport) {
    let _ = write!(
        out,
        r#"    <testcase classname="{suite}" name="{}" time="{}""#,
        attribute(&step.id),
        seconds(step.duration_ms.unwrap_or(0))
    );
    match outcome(step) {
        Outcome::Passed if step.state == StepState::DoneByHand => {
            out.push_str(
                ">\n      <system-out>done by hand (resume --skip)</system-out>\n    </testcase>\n",
            );
        }
        Outcome::Passed => out.push_str("/>\n"),
        Outcome::Failure => {
            let error = step.error.as_deref().unwrap_or("failed");
            // The message attribute is the headline CI shows in lists; the element holds it all.
            let headline = error.lines().next().unwrap_or(error);
            let _ = write!(
                out,
                ">\n      <failure message=\"{}\" type=\"failed\">{}</failure>\n    </testcase>\n",
                attribute(headline),
                element_text(error)
            );
        }
        Outcome::Error => {
            let message = format!("{}: the step's last attempt did not finish", step.state);
            let _ = write!(
                out,
                ">\n      <error message=\"{}\" type=\"{}\"/>\n    </testcase>\n",
                attribute(&message),
                step.state
            );
        }
        Outcome::Skipped => {
            let message = match (&step.skip_reason, step.state) {
                (Some(reason), _) => reason.clone(),
                (None, StepState::Pending) => "pending: to run again".into(),
                (None, other) => other.to_string(),
            };
            let _ = write!(
                out,
                ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                attribute(&message)
            );
        }
    }
}

/// JUnit times are seconds with a fraction.
fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// Text for an attribute value in double quotes. Line breaks are written as character references:
/// a parser turns literal ones into spaces.
fn attribute(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c => push_legal(&mut out, c),
        }
    }
    out
}

/// Text content of an element.
fn element_text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' | '\r' | '\t' => out.push(c),
            c => push_legal(&mut out, c),
        }
    }
    out
}

/// XML 1.0 cannot carry most control characters even as references (a command's output can hold
/// them, e.g. terminal colour codes); they become U+FFFD so the document still parses.
fn push_legal(out: &mut String, c: char) {
    let legal =
        matches!(c, '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}');
    out.push(if legal { c } else { '\u{FFFD}' });
}

#[cfg(test)]
mod tests {
    use super::super::fixture;
    use super::*;

    fn test_case_of<'a>(xml: &'a str, id: &str) -> &'a str {
        let start = format!(r#"<testcase classname="influxdb-restore" name="{id}" "#);
        let found: Vec<_> = xml.match_indices(&start).collect();
        assert_eq!(found.len(), 1, "one test case for `{id}` in:\n{xml}");
        let rest = &xml[found[0].0..];
        let end = rest
            .find("/>\n")
            .filter(|&i| !rest[..i].contains('\n'))
            .map(|i| i + 3);
        let end =
            end.unwrap_or_else(|| rest.find("</testcase>").expect("closed") + "</testcase>".len());
        &rest[..end]
    }

    #[test]
    fn one_suite_with_counts_and_one_case_per_step() {
        let xml = fixture::failed_report().to_junit();
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"));
        assert_eq!(xml.matches("<testsuite ").count(), 1);
        assert!(
            xml.contains(r#"<testsuite name="influxdb-restore" tests="9" failures="1" errors="0" skipped="2" time="133.000">"#),
            "{xml}"
        );
        assert_eq!(xml.matches("<testcase ").count(), 9);
        for id in fixture::program().keys() {
            test_case_of(&xml, id);
        }
        assert_eq!(
            test_case_of(&xml, "fetch"),
            r#"<testcase classname="influxdb-restore" name="fetch" time="4.500"/>"#.to_owned()
                + "\n"
        );
        assert!(xml.contains(&format!(
            r#"<property name="run_id" value="{}"/>"#,
            fixture::RUN_ID
        )));
    }

    #[test]
    fn failures_are_escaped_and_skips_say_why() {
        let xml = fixture::failed_report().to_junit();
        let verify = test_case_of(&xml, "verify");
        assert!(verify.contains(r#"time="1.000">"#), "{verify}");
        assert!(
            verify.contains(r#"<failure message="expected &lt;ok&gt; &amp; got &quot;bad&quot;" type="failed">expected &lt;ok&gt; &amp; got "bad"</failure>"#),
            "{verify}"
        );
        assert!(test_case_of(&xml, "notify").contains(r#"<skipped message="not run"/>"#));
        assert!(
            test_case_of(&xml, "dashboards")
                .contains(r#"<skipped message="`when: params.dashboards` is false"/>"#)
        );
    }

    #[test]
    fn unfinished_steps_are_errors() {
        let mut report = fixture::failed_report();
        report.steps[0].state = StepState::Interrupted;
        let xml = report.to_junit();
        assert!(xml.contains(r#"errors="1""#), "{xml}");
        assert!(test_case_of(&xml, "fetch").contains(r#"<error message="interrupted: the step&apos;s last attempt did not finish" type="interrupted"/>"#));
    }

    #[test]
    fn escaping_keeps_the_document_well_formed() {
        assert_eq!(
            attribute("a<b>&\"c'\nd"),
            "a&lt;b&gt;&amp;&quot;c&apos;&#10;d"
        );
        assert_eq!(
            element_text("x < y && \"z\"\n"),
            "x &lt; y &amp;&amp; \"z\"\n"
        );
        assert_eq!(element_text("\u{1b}[31mred"), "\u{FFFD}[31mred");
    }
}
