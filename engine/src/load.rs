//! Load: YAML text into a [`Runbook`], reporting every structural problem at once.

use std::path::Path;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::duration::{self, parse_duration};
use crate::model::*;
use crate::source::{FileId, Loc, Sources};
use crate::suggest::did_you_mean;
use crate::yaml::{self, Key, Node, NodeValue};

pub const TOP_KEYS: &[&str] = &[
    "apiVersion",
    "kind",
    "name",
    "description",
    "params",
    "vars",
    "connections",
    "steps",
];
pub const PARAM_KEYS: &[&str] = &["description", "required", "default", "secret"];
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

    fn runbook(&mut self, root: &Node, path: &Path) -> Runbook {
        let entries = self.mapping(root, TOP_KEYS, "a runbook");
        let get = |k: &str| {
            entries
                .iter()
                .find(|(key, _)| key.name == k)
                .map(|(_, v)| v)
        };
        let root_loc = Loc::new(self.file, 1, 1);

        match get("apiVersion").map(|n| (n, n.as_str())) {
            Some((_, Some(API_VERSION))) => {}
            Some((node, _)) => {
                let loc = self.loc(node);
                self.error(loc, "unsupported apiVersion").expected =
                    Some(format!("`{API_VERSION}`"));
            }
            None => {
                self.error(root_loc, "the runbook has no `apiVersion`").help =
                    Some(format!("add `apiVersion: {API_VERSION}` as the first line"));
            }
        }
        match get("kind").map(|n| (n, n.as_str())) {
            Some((_, Some(KIND))) => {}
            Some((node, _)) => {
                let loc = self.loc(node);
                self.error(loc, "unsupported kind").expected = Some(format!("`{KIND}`"));
            }
            None => {
                self.error(root_loc, "the runbook has no `kind`").help =
                    Some(format!("add `kind: {KIND}`"));
            }
        }
        let name = match get("name") {
            Some(node) => self.string(node, "name").unwrap_or_default(),
            None => {
                self.error(root_loc, "the runbook has no `name`").help = Some(
                    "add `name: my-runbook` (a short identifier shown in plans and reports)".into(),
                );
                String::new()
            }
        };
        let description = get("description").and_then(|n| self.string(n, "description"));
        let params = get("params").map(|n| self.params(n)).unwrap_or_default();
        let vars = get("vars").map(|n| self.vars(n)).unwrap_or_default();
        let connections = get("connections")
            .map(|n| self.connections(n))
            .unwrap_or_default();
        let steps = match get("steps") {
            Some(node) => self.steps(node),
            None => {
                self.error(root_loc, "the runbook has no `steps`").help =
                    Some("add a `steps:` list; each step has an `id` and a `uses`".into());
                Vec::new()
            }
        };
        Runbook {
            file: self.file,
            path: path.to_path_buf(),
            name,
            description,
            params,
            vars,
            connections,
            steps,
        }
    }

    fn params(&mut self, node: &Node) -> Vec<ParamDef> {
        let Some(entries) = node.as_map() else {
            let loc = self.loc(node);
            self.error(
                loc,
                format!("params must be a mapping, found {}", node.type_name()),
            )
            .expected =
                Some("`name: {description: ..., required: true}` or `name: {default: ...}`".into());
            return Vec::new();
        };
        entries
            .iter()
            .map(|(key, value)| {
                let loc = self.key_loc(key);
                let mut param = ParamDef {
                    name: key.name.clone(),
                    loc,
                    description: None,
                    required: false,
                    default: None,
                    secret: false,
                };
                self.check_identifier(&key.name, loc, "param name");
                if matches!(value.value, NodeValue::Null) {
                    return param;
                }
                for (k, v) in self.mapping(value, PARAM_KEYS, &format!("param `{}`", key.name)) {
                    match k.name.as_str() {
                        "description" => param.description = self.string(v, "description"),
                        "required" => param.required = self.boolean(v, "required").unwrap_or(false),
                        "default" => param.default = Some(v.to_json()),
                        "secret" => param.secret = self.boolean(v, "secret").unwrap_or(false),
                        _ => {}
                    }
                }
                if param.required && param.default.is_some() {
                    self.error(
                        loc,
                        format!("param `{}` is required and has a default", key.name),
                    )
                    .help = Some(
                        "drop `required: true` (the default applies) or drop the default".into(),
                    );
                }
                param
            })
            .collect()
    }

    fn vars(&mut self, node: &Node) -> Vec<VarDef> {
        let Some(entries) = node.as_map() else {
            let loc = self.loc(node);
            self.error(
                loc,
                format!("vars must be a mapping, found {}", node.type_name()),
            );
            return Vec::new();
        };
        entries
            .iter()
            .map(|(key, value)| {
                let loc = self.key_loc(key);
                self.check_identifier(&key.name, loc, "var name");
                // `{value: ..., secret: true}` marks a secret var; any other mapping is the value itself.
                let wrapped = value.as_map().filter(|m| {
                    m.len() == 2
                        && m.iter()
                            .all(|(k, _)| k.name == "value" || k.name == "secret")
                });
                match wrapped {
                    Some(_) => {
                        let secret = value
                            .get("secret")
                            .and_then(|n| self.boolean(n, "secret"))
                            .unwrap_or(false);
                        VarDef {
                            name: key.name.clone(),
                            loc,
                            value: value.get("value").cloned().expect("checked"),
                            secret,
                        }
                    }
                    None => VarDef {
                        name: key.name.clone(),
                        loc,
                        value: value.clone(),
                        secret: false,
                    },
                }
            })
            .collect()
    }

    fn connections(&mut self, node: &Node) -> Vec<ConnectionDef> {
        let Some(entries) = node.as_map() else {
            let loc = self.loc(node);
            self.error(
                loc,
                format!("connections must be a mapping, found {}", node.type_name()),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (key, value) in entries {
            let loc = self.key_loc(key);
            self.check_identifier(&key.name, loc, "connection name");
            let Some(fields) = value.as_map() else {
                let loc = self.loc(value);
                self.error(loc, format!("connection `{}` must be a mapping", key.name))
                    .expected = Some("`{kind: http|s3|kubernetes, ...}`".into());
                continue;
            };
            let Some((kind_key, kind_node)) = fields.iter().find(|(k, _)| k.name == "kind") else {
                self.error(loc, format!("connection `{}` has no `kind`", key.name))
                    .expected = Some("`kind: http`, `kind: s3` or `kind: kubernetes`".into());
                continue;
            };
            let kind = self.string(kind_node, "kind").unwrap_or_default();
            let rest: Vec<(Key, Node)> = fields
                .iter()
                .filter(|(k, _)| k.name != "kind")
                .cloned()
                .collect();
            out.push(ConnectionDef {
                name: key.name.clone(),
                loc,
                kind,
                kind_loc: self.key_loc(kind_key),
                fields: Node {
                    line: value.line,
                    column: value.column,
                    value: NodeValue::Map(rest),
                },
            });
        }
        out
    }

    fn check_identifier(&mut self, name: &str, loc: Loc, what: &str) {
        let ok = !name.is_empty()
            && name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            self.error(loc, format!("{what} `{name}` is not a valid identifier")).help =
                Some("use letters, digits and `_`, starting with a letter, so templates can read it as `params.name`".into());
        }
    }

    fn steps(&mut self, node: &Node) -> Vec<StepDef> {
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
