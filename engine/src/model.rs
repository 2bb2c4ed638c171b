//! The runbook format, version 1, as typed values with the positions errors point at.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::source::{FileId, Loc};
use crate::yaml::Node;

pub const API_VERSION: &str = "runbook/v1";
pub const KIND: &str = "Runbook";
/// The step kind that runs another runbook file as one step.
pub const INCLUDE_KIND: &str = "runbook";

#[derive(Debug, Clone)]
pub struct Runbook {
    pub file: FileId,
    pub path: PathBuf,
    pub name: String,
    pub description: Option<String>,
    pub params: Vec<ParamDef>,
    pub vars: Vec<VarDef>,
    pub requires: Vec<Requirement>,
    pub connections: Vec<ConnectionDef>,
    pub steps: Vec<StepDef>,
}

impl Runbook {
    pub fn param(&self, name: &str) -> Option<&ParamDef> {
        self.params.iter().find(|p| p.name == name)
    }
    pub fn step(&self, id: &str) -> Option<&StepDef> {
        self.steps.iter().find(|s| s.id == id)
    }
    /// The directory files named by the runbook (manifests, included runbooks) are relative to.
    pub fn dir(&self) -> PathBuf {
        self.path
            .parent()
            .map(|p| p.to_path_buf())
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone)]
pub struct ParamDef {
    pub name: String,
    pub loc: Loc,
    pub description: Option<String>,
    pub required: bool,
    pub default: Option<Value>,
    /// A secret param is masked everywhere and never written to the run's state.
    pub secret: bool,
}

#[derive(Debug, Clone)]
pub struct VarDef {
    pub name: String,
    pub loc: Loc,
    pub value: Node,
    pub secret: bool,
}

/// What must hold of the inputs for the runbook to apply at all (a release it supports, a
/// feature the config enables), checked before anything runs.
#[derive(Debug, Clone)]
pub struct Requirement {
    /// An expression over params, vars, config, secrets and env.
    pub that: Expr,
    /// Why the runbook refuses when `that` is false, and what to do instead (a template).
    pub message: String,
    pub message_loc: Loc,
}

#[derive(Debug, Clone)]
pub struct ConnectionDef {
    pub name: String,
    pub loc: Loc,
    pub kind: String,
    pub kind_loc: Loc,
    /// Every field but `kind`, templated once when the run starts.
    pub fields: Node,
}

/// An expression (`when`, `for_each`) with where it was written.
#[derive(Debug, Clone)]
pub struct Expr {
    pub text: String,
    pub loc: Loc,
}

#[derive(Debug, Clone)]
pub enum ForEach {
    /// `for_each: params.databases`
    Expr(Expr),
    /// `for_each: [a, b]`: items that may themselves be templates.
    List(Node, Loc),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retry {
    /// Total attempts, the first included.
    pub attempts: u32,
    pub delay: Duration,
    /// Each retry waits `delay * backoff^(n-1)`.
    pub backoff: f64,
    pub max_delay: Option<Duration>,
}

impl Retry {
    pub const NONE: Retry = Retry {
        attempts: 1,
        delay: Duration::ZERO,
        backoff: 1.0,
        max_delay: None,
    };

    /// The wait before attempt `next` (2 for the first retry).
    pub fn delay_before(&self, next: u32) -> Duration {
        let factor = self.backoff.powi(next.saturating_sub(2) as i32);
        // Backing off long enough overflows a Duration: stop growing at the longest one allowed.
        let delay = Duration::try_from_secs_f64(self.delay.as_secs_f64() * factor.max(0.0))
            .unwrap_or(crate::duration::MAX)
            .min(crate::duration::MAX);
        self.max_delay.map_or(delay, |max| delay.min(max))
    }
}

#[derive(Debug, Clone)]
pub struct StepDef {
    pub id: String,
    pub loc: Loc,
    pub id_loc: Loc,
    pub name: Option<String>,
    pub uses: String,
    pub uses_loc: Loc,
    pub with: Option<Node>,
    pub with_loc: Loc,
    pub needs: Vec<(String, Loc)>,
    pub when: Option<Expr>,
    pub for_each: Option<ForEach>,
    pub retry: Retry,
    pub timeout: Option<Duration>,
    pub continue_on_error: bool,
    pub always: bool,
    /// When this step failed, `resume` runs again from this earlier step (and what follows it):
    /// for a wait whose clean-up removed what it waits on, such as a restore pod.
    pub resume_from: Option<(String, Loc)>,
    pub destructive: Option<bool>,
    pub idempotent: Option<bool>,
    /// Outputs of this step are secrets: masked everywhere like `secrets` values.
    pub secret: bool,
    /// The step as written, for detecting edits between a run and its resume.
    pub definition: Value,
}

impl StepDef {
    pub fn title(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }
}
