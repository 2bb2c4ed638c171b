//! Loading steps: each step's keys, `needs`, `when`, `for_each`, `with`, timeouts and `retry`.

use super::*;
use crate::source::Loc;
use crate::yaml::{Node, NodeValue};

impl Loader {
    pub(super) fn steps(&mut self, node: &Node) -> Vec<StepDef> {
        let NodeValue::Seq(items) = &node.value else {
            let loc = self.loc(node);
            self.error(
                loc,
                format!("steps must be a list, found {}", node.type_name()),
            )
            .help = Some("write each step as a list item starting with `- id: ...`".into());
            return Vec::new();
        };
        if items.is_empty() {
            let loc = self.loc(node);
            self.error(loc, "the runbook has no steps").help = Some("add at least one step".into());
        }
        let mut steps: Vec<StepDef> = items.iter().filter_map(|item| self.step(item)).collect();
        let mut seen: Vec<(String, Loc)> = Vec::new();
        for step in &steps {
            if let Some((_, first)) = seen.iter().find(|(id, _)| *id == step.id) {
                let first = *first;
                self.error(step.id_loc, format!("duplicate step id `{}`", step.id))
                    .help = Some(format!(
                    "step ids must be unique; the first `{}` is at line {}",
                    step.id, first.line
                ));
            } else {
                seen.push((step.id.clone(), step.id_loc));
            }
        }
        steps.retain(|s| !s.id.is_empty());
        steps
    }

    fn step(&mut self, node: &Node) -> Option<StepDef> {
        let entries = self.mapping(node, STEP_KEYS, "a step");
        node.as_map()?;
        let loc = self.loc(node);
        let get = |k: &str| entries.iter().find(|(key, _)| key.name == k);
        let (id, id_loc) = match get("id") {
            Some((_, v)) => {
                let written = self.string(v, "id");
                let id_loc = self.loc(v);
                if written.as_deref().is_some_and(|id| id.trim().is_empty()) {
                    self.error(id_loc, "a step id is empty").help = Some(
                        "give the step a name: `id: some-name` (lowercase letters, digits and `-`)"
                            .into(),
                    );
                }
                let id = written.unwrap_or_default();
                if !id.is_empty()
                    && !id
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                {
                    let suggestion: String = id
                        .to_lowercase()
                        .chars()
                        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                        .collect();
                    self.error(
                        id_loc,
                        format!("step id `{id}` has characters outside [a-z0-9-]"),
                    )
                    .help = Some(format!("rename it, for example `{suggestion}`"));
                }
                (id, id_loc)
            }
            None => {
                self.error(loc, "a step has no `id`").help =
                    Some("add `id: some-name` (lowercase letters, digits and `-`)".into());
                (String::new(), loc)
            }
        };
        let (uses, uses_loc) = match get("uses") {
            Some((_, v)) => (self.string(v, "uses").unwrap_or_default(), self.loc(v)),
            None => {
                self.error(id_loc, format!("step `{id}` has no `uses`"))
                    .help = Some(
                    "add `uses: KIND`, e.g. `uses: command`; `runbook schema` lists every kind"
                        .into(),
                );
                (String::new(), loc)
            }
        };
        let with = get("with").map(|(_, v)| v.clone());
        if let Some(w) = &with
            && !matches!(w.value, NodeValue::Map(_) | NodeValue::Null)
        {
            let l = self.loc(w);
            self.error(
                l,
                format!("`with` must be a mapping, found {}", w.type_name()),
            )
            .expected = Some(format!("the inputs of `{uses}` as `key: value` pairs"));
        }
        let with_loc = get("with").map(|(k, _)| self.key_loc(k)).unwrap_or(loc);
        let needs = match get("needs") {
            None => Vec::new(),
            Some((_, v)) => match &v.value {
                NodeValue::Str(s) => vec![(s.clone(), self.loc(v))],
                NodeValue::Seq(items) => items
                    .iter()
                    .filter_map(|n| Some((self.string(n, "needs")?, self.loc(n))))
                    .collect(),
                _ => {
                    let l = self.loc(v);
                    self.error(
                        l,
                        format!(
                            "`needs` must be a list of step ids, found {}",
                            v.type_name()
                        ),
                    );
                    Vec::new()
                }
            },
        };
        let when = get("when").and_then(|(_, v)| match &v.value {
            NodeValue::Bool(b) => Some(Expr {
                text: b.to_string(),
                loc: self.loc(v),
            }),
            _ => Some(Expr {
                text: self.string(v, "when")?,
                loc: self.loc(v),
            }),
        });
        let for_each = get("for_each").and_then(|(_, v)| match &v.value {
            NodeValue::Seq(_) => Some(ForEach::List(v.clone(), self.loc(v))),
            NodeValue::Str(s) => Some(ForEach::Expr(Expr {
                text: s.clone(),
                loc: self.loc(v),
            })),
            _ => {
                let l = self.loc(v);
                self.error(
                    l,
                    format!(
                        "`for_each` must be an expression or a list, found {}",
                        v.type_name()
                    ),
                )
                .help = Some("write `for_each: params.databases` or `for_each: [a, b]`".into());
                None
            }
        });
        let retry = get("retry")
            .map(|(_, v)| self.retry(v))
            .unwrap_or(Retry::NONE);
        let timeout = get("timeout").and_then(|(_, v)| self.duration(v, "timeout"));
        let flag = |this: &mut Self, k: &str| get(k).and_then(|(_, v)| this.boolean(v, k));
        let continue_on_error = flag(self, "continue_on_error").unwrap_or(false);
        let always = flag(self, "always").unwrap_or(false);
        let resume_from = get("resume_from")
            .and_then(|(_, v)| Some((self.string(v, "resume_from")?, self.loc(v))));
        let destructive = flag(self, "destructive");
        let idempotent = flag(self, "idempotent");
        let secret = flag(self, "secret").unwrap_or(false);
        let name = get("name").and_then(|(_, v)| self.string(v, "name"));
        Some(StepDef {
            id,
            loc,
            id_loc,
            name,
            uses,
            uses_loc,
            with,
            with_loc,
            needs,
            when,
            for_each,
            retry,
            timeout,
            continue_on_error,
            always,
            resume_from,
            destructive,
            idempotent,
            secret,
            definition: node.to_json(),
        })
    }

    fn retry(&mut self, node: &Node) -> Retry {
        let mut retry = Retry {
            attempts: 3,
            delay: std::time::Duration::from_secs(1),
            backoff: 2.0,
            max_delay: None,
        };
        if let NodeValue::Int(n) = node.value {
            // `retry: 3` is shorthand for three attempts with the default delays.
            retry.attempts = n.max(1) as u32;
            return retry;
        }
        for (k, v) in self.mapping(node, RETRY_KEYS, "retry") {
            match k.name.as_str() {
                "attempts" => {
                    match v.value {
                        NodeValue::Int(n) if n >= 1 => retry.attempts = n as u32,
                        _ => {
                            let l = self.loc(v);
                            self.error(l, "retry.attempts must be a whole number of at least 1").help =
                            Some("attempts counts the first try: `attempts: 3` means up to two retries".into());
                        }
                    }
                }
                "delay" => retry.delay = self.duration(v, "retry.delay").unwrap_or(retry.delay),
                "max_delay" => retry.max_delay = self.duration(v, "retry.max_delay"),
                "backoff" => match v.value {
                    NodeValue::Int(n) if n >= 1 => retry.backoff = n as f64,
                    NodeValue::Float(f) if f >= 1.0 => retry.backoff = f,
                    _ => {
                        let l = self.loc(v);
                        self.error(l, "retry.backoff must be a number of at least 1")
                            .help =
                            Some("`backoff: 2` doubles the delay after each failed attempt".into());
                    }
                },
                _ => {}
            }
        }
        retry
    }
}
