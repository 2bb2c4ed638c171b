//! Expand: from the root runbook to a [`Program`]. Every `uses: runbook` step is replaced by the
//! included runbook's steps (as `<include>.<id>`), each included file is loaded once per
//! include, and the graph of `needs` is built and checked for cycles.

use std::path::{Path, PathBuf};

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::graph::Dag;
use crate::load::load_file;
use crate::model::{INCLUDE_KIND, Runbook};
use crate::program::{Frame, INCLUDE_KEYS, Program, ProgramStep};
use crate::source::{Loc, Sources};
use crate::suggest::did_you_mean;
use crate::yaml::{Node, NodeValue};

/// Expand includes and build the graph. Reports unknown `needs`, include problems and cycles.
pub fn expand(root: Runbook, sources: &Sources) -> Result<Program, Diagnostics> {
    let mut builder = Builder {
        sources: sources.clone(),
        runbooks: vec![root],
        frames: Vec::new(),
        steps: Vec::new(),
        diags: Diagnostics::default(),
    };
    builder.frames.push(Frame {
        runbook: 0,
        parent: None,
        include_step: None,
        prefix: String::new(),
        params: None,
    });
    builder.expand_frame(0, &[], &[]);
    let Builder {
        sources,
        runbooks,
        frames,
        steps,
        mut diags,
    } = builder;
    let needs: Vec<Vec<usize>> = steps.iter().map(|s| s.needs.clone()).collect();
    let dag = Dag::new(&needs);
    for cycle in dag.cycles() {
        let names: Vec<&str> = cycle.iter().map(|&i| steps[i].key.as_str()).collect();
        let first = &steps[cycle[0]];
        let file = runbooks[frames[first.frame].runbook].file;
        let loc = first
            .def
            .needs
            .first()
            .map(|(_, l)| *l)
            .unwrap_or(Loc::file_only(file));
        diags.push(
            Diagnostic::new(
                loc,
                format!("the steps form a cycle: {}", names.join(" -> ")),
            )
            .expected("`needs` that form a directed acyclic graph")
            .help(format!(
                "remove one of these `needs` so that `{}` no longer waits on itself",
                names[0]
            )),
        );
    }
    if diags.is_empty() {
        Ok(Program {
            sources,
            runbooks,
            frames,
            steps,
            dag,
        })
    } else {
        Err(diags)
    }
}

struct Builder {
    sources: Sources,
    runbooks: Vec<Runbook>,
    frames: Vec<Frame>,
    steps: Vec<ProgramStep>,
    diags: Diagnostics,
}

impl Builder {
    /// Add a frame's steps; `entry_needs` are what the include step needed (for the frame's
    /// first steps), `gates` the enclosing include steps.
    fn expand_frame(&mut self, frame: usize, entry_needs: &[usize], gates: &[usize]) {
        let runbook = self.runbooks[self.frames[frame].runbook].clone();
        let prefix = self.frames[frame].prefix.clone();
        let first = self.steps.len();
        for def in &runbook.steps {
            self.steps.push(ProgramStep {
                key: format!("{prefix}{}", def.id),
                frame,
                def: def.clone(),
                needs: Vec::new(),
                child_frame: None,
                gates: gates.to_vec(),
            });
        }
        let ids: Vec<&str> = runbook.steps.iter().map(|s| s.id.as_str()).collect();
        for (offset, def) in runbook.steps.iter().enumerate() {
            let mut needs = Vec::new();
            for (need, loc) in &def.needs {
                match ids.iter().position(|id| id == need) {
                    Some(i) => needs.push(first + i),
                    None => self.diags.push(
                        Diagnostic::new(
                            *loc,
                            format!(
                                "step `{}` needs `{need}`, which is not a step of this runbook",
                                def.id
                            ),
                        )
                        .help_opt(did_you_mean(need, ids.iter().copied()))
                        .expected(format!("one of: {}", ids.join(", "))),
                    ),
                }
            }
            if needs.is_empty() {
                needs.extend_from_slice(entry_needs);
            }
            self.steps[first + offset].needs = needs;
        }
        for offset in 0..runbook.steps.len() {
            if runbook.steps[offset].uses == INCLUDE_KIND {
                self.expand_include(frame, first + offset, gates);
            }
        }
    }

    fn expand_include(&mut self, frame: usize, step: usize, gates: &[usize]) {
        let def = self.steps[step].def.clone();
        let parent_runbook = self.frames[frame].runbook;
        let file = self.runbooks[parent_runbook].file;
        let with = def.with.clone().unwrap_or(Node {
            line: def.loc.line,
            column: def.loc.column,
            value: NodeValue::Map(Vec::new()),
        });
        for (key, _) in with.as_map().unwrap_or_default() {
            if !INCLUDE_KEYS.contains(&key.name.as_str()) {
                self.diags.push(
                    Diagnostic::new(
                        Loc::new(file, key.line, key.column),
                        format!("unknown key `{}` in the inputs of `runbook`", key.name),
                    )
                    .help_opt(did_you_mean(&key.name, INCLUDE_KEYS.iter().copied()))
                    .expected("`file` (the runbook to run) and `params`"),
                );
            }
        }
        if def.for_each.is_some() {
            self.diags.push(Diagnostic::new(def.loc, "`for_each` is not supported on a `uses: runbook` step").help(
                "put the `for_each` on the steps inside the included runbook, driven by one of its params",
            ));
        }
        let Some(path_node) = with.get("file") else {
            self.diags.push(
                Diagnostic::new(
                    def.with_loc,
                    format!("step `{}` includes a runbook but names no `file`", def.id),
                )
                .help("add `with: {file: ../other/runbook.yaml}` (relative to this runbook)"),
            );
            return;
        };
        let Some(relative) = path_node
            .as_str()
            .filter(|s| !crate::template::is_template(s))
        else {
            self.diags.push(Diagnostic::new(path_node.loc(file), "`file` of an included runbook must be a literal path")
                .help("included runbooks are loaded and validated before the run, so the path cannot be a template"));
            return;
        };
        let path = self.runbooks[parent_runbook].dir().join(relative);
        if self
            .include_chain(frame)
            .iter()
            .any(|p| same_file(p, &path))
        {
            self.diags.push(
                Diagnostic::new(
                    path_node.loc(file),
                    format!("`{relative}` includes itself (directly or through other runbooks)"),
                )
                .help("remove the include that leads back to this runbook"),
            );
            return;
        }
        let child = match load_file(&path, &self.sources) {
            Ok(child) => child,
            Err(diags) => {
                self.diags.push(
                    Diagnostic::new(
                        path_node.loc(file),
                        format!("the included runbook `{relative}` cannot be loaded"),
                    )
                    .help("its own problems are listed with their positions"),
                );
                self.diags.extend(diags);
                return;
            }
        };
        let params = with.get("params").cloned();
        if let Some(p) = &params
            && p.as_map().is_none()
        {
            self.diags.push(Diagnostic::new(
                p.loc(file),
                "`params` of an included runbook must be a mapping",
            ));
        }
        self.runbooks.push(child);
        let child_frame = self.frames.len();
        self.frames.push(Frame {
            runbook: self.runbooks.len() - 1,
            parent: Some(frame),
            include_step: Some(step),
            prefix: format!("{}.", self.steps[step].key),
            params,
        });
        self.steps[step].child_frame = Some(child_frame);
        let entry = self.steps[step].needs.clone();
        let mut inner_gates = gates.to_vec();
        inner_gates.push(step);
        let first = self.steps.len();
        self.expand_frame(child_frame, &entry, &inner_gates);
        let children: Vec<usize> = (first..self.steps.len())
            .filter(|&i| self.steps[i].frame == child_frame)
            .collect();
        // The include step completes when all of its runbook's steps have.
        self.steps[step].needs = entry.into_iter().chain(children).collect();
    }

    fn include_chain(&self, frame: usize) -> Vec<PathBuf> {
        let mut chain = Vec::new();
        let mut current = Some(frame);
        while let Some(f) = current {
            chain.push(self.runbooks[self.frames[f].runbook].path.clone());
            current = self.frames[f].parent;
        }
        chain
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}
