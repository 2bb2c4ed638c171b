//! A program: the root runbook with every `uses: runbook` step expanded in place, so that the
//! steps of included runbooks are checkpointed, resumed and run in parallel like any other.
//!
//! An include step `restore-influx` in the root adds the included runbook's steps as
//! `restore-influx.<id>`. They start once what the include step needs has succeeded, and the include
//! step itself completes when all of them have, with `outputs.<id>` holding each one's outputs.

mod properties;

use crate::graph::Dag;
use crate::model::{Runbook, StepDef};
use crate::source::Sources;
use crate::yaml::Node;

pub const INCLUDE_KEYS: &[&str] = &["file", "params"];

#[derive(Debug, Clone)]
pub struct Frame {
    pub runbook: usize,
    pub parent: Option<usize>,
    /// The include step that opened this frame.
    pub include_step: Option<usize>,
    /// `""` for the root, `"restore-influx."` for the steps it includes.
    pub prefix: String,
    /// The include step's `with.params`, rendered in the parent frame.
    pub params: Option<Node>,
}

#[derive(Debug, Clone)]
pub struct ProgramStep {
    /// The full id: `restore-influx.drop-databases`.
    pub key: String,
    pub frame: usize,
    pub def: StepDef,
    pub needs: Vec<usize>,
    /// For an include step, the frame of the runbook it includes.
    pub child_frame: Option<usize>,
    /// The include steps this step sits inside, outermost first; their `when` gates it.
    pub gates: Vec<usize>,
}

#[derive(Debug, Clone)]
pub struct Program {
    pub sources: Sources,
    pub runbooks: Vec<Runbook>,
    pub frames: Vec<Frame>,
    pub steps: Vec<ProgramStep>,
    pub dag: Dag,
}

impl Program {
    pub fn root(&self) -> &Runbook {
        &self.runbooks[0]
    }
    pub fn runbook_of(&self, step: usize) -> &Runbook {
        &self.runbooks[self.frames[self.steps[step].frame].runbook]
    }
    pub fn index_of(&self, key: &str) -> Option<usize> {
        self.steps.iter().position(|s| s.key == key)
    }
    /// The step of a frame by its id inside that frame's runbook.
    /// `id` may be written with `_` for `-`, as templates must (`steps.count_restored`).
    pub fn local(&self, frame: usize, id: &str) -> Option<usize> {
        let prefix = &self.frames[frame].prefix;
        self.index_of(&format!("{prefix}{id}"))
            .or_else(|| self.index_of(&format!("{prefix}{}", id.replace('_', "-"))))
    }
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.steps.iter().map(|s| s.key.as_str())
    }
    pub fn is_include(&self, step: usize) -> bool {
        self.steps[step].child_frame.is_some()
    }
}
