//! Validating one step: its kind and inputs against the kind's schema and checks, `needs`,
//! `when`, `for_each`, `resume_from`, and an include step's runbook and params.

use super::*;
use crate::diagnostic::Diagnostic;
use crate::model::{ForEach, INCLUDE_KIND, Runbook};
use crate::source::Loc;
use crate::suggest::did_you_mean;
use crate::yaml::Node;

impl Validator<'_> {
    pub(super) fn step(&mut self, index: usize) {
        let step = &self.program.steps[index];
        let runbook = self.program.runbook_of(index);
        let def = &step.def;
        let for_each = def.for_each.is_some();
        let site = Site::Step {
            step: index,
            for_each,
        };

        if def.uses == INCLUDE_KIND {
            self.include(index, runbook);
        } else {
            match self.registry.get(&def.uses) {
                None => {
                    let mut names: Vec<&str> = self.registry.names().collect();
                    names.push(INCLUDE_KIND);
                    self.diags.push(
                        Diagnostic::new(def.uses_loc, format!("unknown step kind `{}`", def.uses))
                            .help_opt(did_you_mean(&def.uses, names.iter().copied()))
                            .expected(format!("one of: {}", names.join(", "))),
                    );
                }
                Some(kind) => {
                    let schema = kind.input_schema();
                    let empty = Node {
                        line: def.with_loc.line,
                        column: def.with_loc.column,
                        value: crate::yaml::NodeValue::Map(Vec::new()),
                    };
                    let with = def
                        .with
                        .as_ref()
                        .filter(|n| n.as_map().is_some())
                        .unwrap_or(&empty);
                    let checker = SchemaChecker {
                        root: &schema,
                        file: runbook.file,
                        kind: kind.name(),
                    };
                    let mut found = Vec::new();
                    checker.check(with, &schema, "", &mut found);
                    self.diags.0.extend(found);
                    let literal = with.to_json();
                    for problem in kind.check(&literal) {
                        self.diags.push(Diagnostic::new(
                            def.with_loc,
                            format!("step `{}`: {problem}", def.id),
                        ));
                    }
                    if def.destructive == Some(false) && kind.destructive(&literal) {
                        self.diags.push(
                            Diagnostic::new(def.loc, format!("step `{}` says `destructive: false`, but `{}` with these inputs is destructive", def.id, def.uses))
                                .help("a runbook may mark a step destructive, not unmark one; remove `destructive: false`"),
                        );
                    }
                    if let Some(name) = with.get("connection").and_then(Node::as_str)
                        && !crate::template::is_template(name)
                        && !runbook.connections.iter().any(|c| c.name == name)
                    {
                        let names: Vec<&str> = runbook
                            .connections
                            .iter()
                            .map(|c| c.name.as_str())
                            .collect();
                        let loc = with
                            .get("connection")
                            .map(|n| n.loc(runbook.file))
                            .unwrap_or(def.with_loc);
                        self.diags.push(
                            Diagnostic::new(
                                loc,
                                format!(
                                    "step `{}` uses connection `{name}`, which is not declared",
                                    def.id
                                ),
                            )
                            .help_opt(
                                did_you_mean(name, names.iter().copied()).or_else(|| {
                                    Some(format!(
                                        "declare it under `connections:` (declared: {})",
                                        if names.is_empty() {
                                            "none".into()
                                        } else {
                                            names.join(", ")
                                        }
                                    ))
                                }),
                            ),
                        );
                    }
                    self.templates_in(with, runbook, site);
                }
            }
        }
        if let Some(when) = &def.when {
            self.expression(
                &when.text,
                when.loc,
                runbook,
                Site::Step {
                    step: index,
                    for_each: false,
                },
                "when",
            );
        }
        match &def.for_each {
            Some(ForEach::Expr(e)) => self.expression(
                &e.text,
                e.loc,
                runbook,
                Site::Step {
                    step: index,
                    for_each: false,
                },
                "for_each",
            ),
            Some(ForEach::List(node, _)) => self.templates_in(
                node,
                runbook,
                Site::Step {
                    step: index,
                    for_each: false,
                },
            ),
            None => {}
        }
        if let Some((from, loc)) = &def.resume_from {
            self.resume_from(index, from, *loc);
        }
    }

    /// `resume_from` names a step that runs before this one, so running again from it also runs
    /// this step again.
    pub(super) fn resume_from(&mut self, index: usize, from: &str, loc: Loc) {
        let step = &self.program.steps[index];
        let me = &step.def.id;
        let ids: Vec<&str> = self
            .program
            .runbook_of(index)
            .steps
            .iter()
            .map(|s| s.id.as_str())
            .collect();
        let target = ids
            .contains(&from)
            .then(|| self.program.local(step.frame, from))
            .flatten();
        match target {
            None => self.diags.push(
                Diagnostic::new(
                    loc,
                    format!(
                        "step `{me}` resumes from `{from}`, which is not a step of this runbook"
                    ),
                )
                .help_opt(did_you_mean(from, ids.iter().copied()))
                .expected(format!("one of: {}", ids.join(", "))),
            ),
            Some(other) if !self.program.dag.is_ancestor(other, index) => self.diags.push(
                Diagnostic::new(
                    loc,
                    format!("step `{me}` resumes from `{from}`, which does not run before it"),
                )
                .expected(format!(
                    "a step that `{me}` needs, directly or through their needs"
                ))
                .help(format!(
                    "name a step `{me}` runs after, or add `{from}` to its `needs`"
                )),
            ),
            Some(_) => {}
        }
    }

    pub(super) fn include(&mut self, index: usize, runbook: &Runbook) {
        let Some(child_frame) = self.program.steps[index].child_frame else {
            return;
        };
        let frame = &self.program.frames[child_frame];
        let child = &self.program.runbooks[frame.runbook];
        let def = &self.program.steps[index].def;
        let given: Vec<(String, Loc)> = frame
            .params
            .as_ref()
            .and_then(|p| p.as_map())
            .map(|m| {
                m.iter()
                    .map(|(k, _)| (k.name.clone(), Loc::new(runbook.file, k.line, k.column)))
                    .collect()
            })
            .unwrap_or_default();
        let declared: Vec<&str> = child.params.iter().map(|p| p.name.as_str()).collect();
        for (name, loc) in &given {
            if !declared.contains(&name.as_str()) {
                self.diags.push(
                    Diagnostic::new(
                        *loc,
                        format!("`{}` has no param `{name}`", child.path.display()),
                    )
                    .help_opt(did_you_mean(name, declared.iter().copied()))
                    .expected(format!("params among: {}", declared.join(", "))),
                );
            }
        }
        for param in child.params.iter().filter(|p| p.required) {
            if !given.iter().any(|(n, _)| *n == param.name) {
                self.diags.push(
                    Diagnostic::new(
                        def.with_loc,
                        format!(
                            "step `{}` does not pass the required param `{}` of `{}`",
                            def.id,
                            param.name,
                            child.path.display()
                        ),
                    )
                    .help(format!("add `{}: ...` under `with.params`", param.name)),
                );
            }
        }
        if let Some(params) = frame.params.clone() {
            self.templates_in(&params, runbook, Site::IncludeParams);
        }
    }
}
