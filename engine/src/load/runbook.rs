//! Loading a runbook's top level: its name and description, params, vars and connections.

use std::path::Path;

use super::*;
use crate::source::Loc;
use crate::yaml::{Key, Node, NodeValue};

impl Loader {
    pub(super) fn runbook(&mut self, root: &Node, path: &Path) -> Runbook {
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
        let requires = get("requires")
            .map(|n| self.requires(n))
            .unwrap_or_default();
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
            requires,
            connections,
            steps,
        }
    }

    fn requires(&mut self, node: &Node) -> Vec<Requirement> {
        let NodeValue::Seq(items) = &node.value else {
            let loc = self.loc(node);
            self.error(
                loc,
                format!("requires must be a list, found {}", node.type_name()),
            )
            .expected = Some("a list of `{that: EXPRESSION, message: TEXT}`".into());
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            let entries = self.mapping(item, REQUIREMENT_KEYS, "a requirement");
            if item.as_map().is_none() {
                continue;
            }
            let mut field = |name: &str| {
                let found = entries.iter().find(|(k, _)| k.name == name).map(|(_, v)| v);
                if found.is_none() {
                    let loc = self.loc(item);
                    self.error(loc, format!("the requirement has no `{name}`")).help = Some(
                        "write `{that: config.global.ck8sVersion is version_at_least(\"v0.36\"), message: \"needs v0.36 or later; on older releases use ...\"}`: `that` must hold for the runbook to apply, `message` says why it does not and what to do instead".into(),
                    );
                }
                found.and_then(|v| Some((self.string(v, name)?, self.loc(v))))
            };
            if let (Some((that, loc)), Some((message, message_loc))) =
                (field("that"), field("message"))
            {
                out.push(Requirement {
                    that: Expr { text: that, loc },
                    message,
                    message_loc,
                });
            }
        }
        out
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

    pub(super) fn check_identifier(&mut self, name: &str, loc: Loc, what: &str) {
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
}
