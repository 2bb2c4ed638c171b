//! Runs the OpenSearch API specification's own test stories (`tests/**/*.yaml` of the
//! specification project) against a server, as the project's tester does: the prologues, then
//! each chapter (its request, expected status, the expected payload as a subset of the reply,
//! `retry`, and `version` ranges the server's version must meet), then the epilogues whatever
//! happened. Each chapter's reply is also checked against the specification's response schema
//! where the reference holds it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::http_request;
use super::spec_schema::Spec;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    /// Not run, and why (a version range the server is outside of).
    Skipped(String),
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct ChapterResult {
    /// The story's file, relative to the stories' root.
    pub story: String,
    pub synopsis: String,
    pub method: String,
    pub outcome: Outcome,
    /// The specification's `x-operation-group` whose response schema the reply was checked
    /// against, when the reference holds that schema.
    pub schema_checked: Option<String>,
}

/// Every story file under `root`, sorted.
pub fn story_files(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'*' | b',' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn parameter_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(parameter_text)
            .collect::<Vec<_>>()
            .join(","),
        other => other.to_string(),
    }
}

/// The request target: `{name}` placeholders filled from `parameters`, the rest as the query.
fn target(path: &str, parameters: Option<&Value>) -> String {
    let mut path = path.to_string();
    let mut query = Vec::new();
    for (name, value) in parameters.and_then(Value::as_object).into_iter().flatten() {
        let placeholder = format!("{{{name}}}");
        if path.contains(&placeholder) {
            path = path.replace(&placeholder, &encode(&parameter_text(value)));
        } else {
            query.push(format!(
                "{}={}",
                encode(name),
                encode(&parameter_text(value))
            ));
        }
    }
    if query.is_empty() {
        path
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

/// Whether `actual` holds everything `expected` says: objects by key, arrays element by element.
pub fn contains(expected: &Value, actual: &Value, at: &str) -> Result<(), String> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, v) in e {
                let Some(got) = a.get(k) else {
                    return Err(format!("{at}.{k} is missing"));
                };
                contains(v, got, &format!("{at}.{k}"))?;
            }
            Ok(())
        }
        (Value::Array(e), Value::Array(a)) => {
            for (i, v) in e.iter().enumerate() {
                let Some(got) = a.get(i) else {
                    return Err(format!("{at}[{i}] is missing"));
                };
                contains(v, got, &format!("{at}[{i}]"))?;
            }
            Ok(())
        }
        (Value::Number(e), Value::Number(a)) if e.as_f64() == a.as_f64() => Ok(()),
        (e, a) if e == a => Ok(()),
        (e, a) => Err(format!("{at} is {a}, expected {e}")),
    }
}

fn version_parts(v: &str) -> Vec<u64> {
    v.split('.')
        .map(|p| p.trim().parse().unwrap_or(0))
        .collect()
}

/// Whether `version` is in a range like `>= 2.18` (space-separated conditions all hold).
pub fn version_matches(range: &str, version: &str) -> bool {
    let have = version_parts(version);
    let conditions: Vec<&str> = range.split_whitespace().collect();
    let mut i = 0;
    while i < conditions.len() {
        let (op, mut bound) = match conditions[i].find(|c: char| c.is_ascii_digit()) {
            Some(0) => ("=", conditions[i].to_string()),
            Some(at) => (&conditions[i][..at], conditions[i][at..].to_string()),
            None => {
                i += 1;
                (
                    conditions[i - 1],
                    conditions.get(i).map(|s| s.to_string()).unwrap_or_default(),
                )
            }
        };
        if bound.is_empty() {
            bound = "0".into();
        }
        let want = version_parts(&bound);
        let n = want.len().max(have.len());
        let pad = |v: &[u64]| {
            (0..n)
                .map(|k| v.get(k).copied().unwrap_or(0))
                .collect::<Vec<_>>()
        };
        let order = pad(&have).cmp(&pad(&want));
        let ok = match op {
            ">=" => order.is_ge(),
            ">" => order.is_gt(),
            "<=" => order.is_le(),
            "<" => order.is_lt(),
            "~" | "^" => order.is_ge() && have.first() == want.first(),
            _ => order.is_eq(),
        };
        if !ok {
            return false;
        }
        i += 1;
    }
    true
}

pub struct Runner<'a> {
    pub url: &'a str,
    pub credentials: (&'a str, &'a str),
    pub spec: &'a Spec,
    /// The server's version, for chapters' `version` ranges.
    pub version: String,
}

impl Runner<'_> {
    fn send(&self, method: &str, step: &Value) -> Result<(u16, String), String> {
        let path = step["path"].as_str().ok_or("a step without a path")?;
        let target = target(path, step.get("parameters"));
        let body = step.pointer("/request/payload");
        http_request(self.url, method, &target, self.credentials, body)
            .map_err(|e| format!("{method} {target}: {e}"))
    }

    fn methods(step: &Value) -> Vec<String> {
        match &step["method"] {
            Value::Array(m) => m
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            Value::String(m) => vec![m.clone()],
            _ => vec!["GET".into()],
        }
    }

    /// A prologue or epilogue: its `status` list, 200 unless given.
    fn setup(&self, step: &Value) -> Result<(), String> {
        let allowed: Vec<u64> = match &step["status"] {
            Value::Array(s) => s.iter().filter_map(Value::as_u64).collect(),
            _ => vec![200],
        };
        for method in Self::methods(step) {
            let (status, body) = self.send(&method, step)?;
            if !allowed.contains(&u64::from(status)) {
                return Err(format!(
                    "{method} {}: status {status}, wanted one of {allowed:?}: {body}",
                    step["path"].as_str().unwrap_or("")
                ));
            }
        }
        Ok(())
    }

    fn chapter(&self, method: &str, step: &Value) -> (Outcome, Option<String>) {
        let expected_status = step
            .pointer("/response/status")
            .and_then(Value::as_u64)
            .unwrap_or(200);
        let attempts = 1 + step
            .pointer("/retry/count")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let mut last = Outcome::Failed("not run".into());
        let mut checked = None;
        for attempt in 0..attempts {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(100));
            }
            let (status, body) = match self.send(method, step) {
                Ok(reply) => reply,
                Err(e) => return (Outcome::Failed(e), None),
            };
            if u64::from(status) != expected_status {
                last = Outcome::Failed(format!(
                    "status {status}, expected {expected_status}: {body}"
                ));
                continue;
            }
            let text = !body.trim_start().starts_with(['{', '[']);
            let json: Value = if text {
                Value::String(body.clone())
            } else {
                match serde_json::from_str(&body) {
                    Ok(v) => v,
                    Err(e) => {
                        return (
                            Outcome::Failed(format!("reply is not JSON ({e}): {body}")),
                            None,
                        );
                    }
                }
            };
            let path = step["path"].as_str().unwrap_or("");
            if let Some(schema) = self.spec.response_schema(path, method, status, text) {
                let problems = self.spec.check(&schema, &json);
                if !problems.is_empty() {
                    return (
                        Outcome::Failed(format!(
                            "reply does not fit the specification's {} schema: {}",
                            schema.operation,
                            problems.join("; ")
                        )),
                        Some(schema.operation),
                    );
                }
                checked = Some(schema.operation);
            }
            if let Some(expected) = step.pointer("/response/payload")
                && let Err(e) = contains(expected, &json, "$")
            {
                last = Outcome::Failed(format!("{e}: {body}"));
                continue;
            }
            return (Outcome::Passed, checked);
        }
        (last, checked)
    }

    /// Runs one story file; `root` is what its name in the results is relative to.
    pub fn run(&self, root: &Path, file: &Path) -> Vec<ChapterResult> {
        let story_name = file
            .strip_prefix(root)
            .unwrap_or(file)
            .display()
            .to_string();
        let story: Value = match std::fs::read_to_string(file)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_saphyr::from_str(&t).map_err(|e| e.to_string()))
        {
            Ok(s) => s,
            Err(e) => {
                return vec![ChapterResult {
                    story: story_name,
                    synopsis: "(reading the story)".into(),
                    method: String::new(),
                    outcome: Outcome::Failed(e),
                    schema_checked: None,
                }];
            }
        };
        let steps = |key: &str| story[key].as_array().cloned().unwrap_or_default();
        let mut results = Vec::new();
        let prologue = steps("prologues").iter().try_for_each(|p| self.setup(p));
        for chapter in steps("chapters") {
            for method in Self::methods(&chapter) {
                let synopsis = chapter["synopsis"].as_str().unwrap_or("").to_string();
                let (outcome, schema_checked) = match (&prologue, chapter["version"].as_str()) {
                    (Err(e), _) => (Outcome::Failed(format!("prologue failed: {e}")), None),
                    (_, Some(range)) if !version_matches(range, &self.version) => (
                        Outcome::Skipped(format!(
                            "needs version {range}; the server is {}",
                            self.version
                        )),
                        None,
                    ),
                    _ => self.chapter(&method, &chapter),
                };
                results.push(ChapterResult {
                    story: story_name.clone(),
                    synopsis,
                    method,
                    outcome,
                    schema_checked,
                });
            }
        }
        for epilogue in steps("epilogues") {
            if let Err(e) = self.setup(&epilogue) {
                results.push(ChapterResult {
                    story: story_name.clone(),
                    synopsis: "(epilogue)".into(),
                    method: String::new(),
                    outcome: Outcome::Failed(e),
                    schema_checked: None,
                });
            }
        }
        results
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn payloads_are_compared_as_subsets() {
        let actual = json!({"snapshots": [{"snapshot": "a", "state": "SUCCESS"}], "total": 1});
        assert!(contains(&json!({"snapshots": [{"snapshot": "a"}]}), &actual, "$").is_ok());
        assert!(contains(&json!({"snapshots": [{"snapshot": "b"}]}), &actual, "$").is_err());
        assert!(contains(&json!({"missing": 1}), &actual, "$").is_err());
    }

    #[test]
    fn version_ranges() {
        assert!(version_matches(">= 2.5", "2.11.0"));
        assert!(!version_matches(">= 2.18", "2.11.0"));
        assert!(version_matches(">=2.0 <3", "2.11.0"));
    }

    #[test]
    fn parameters_fill_the_path_and_the_query() {
        let p = json!({"repository": "r", "wait_for_completion": true, "h": ["*"], "wait_for_nodes": "<2"});
        assert_eq!(
            target("/_snapshot/{repository}", Some(&p)),
            "/_snapshot/r?wait_for_completion=true&h=*&wait_for_nodes=%3C2"
        );
    }
}
