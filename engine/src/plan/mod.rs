//! Plan: the steps rendered as far as they can be before running, in waves of steps that can run
//! in parallel, destructive steps marked, secrets masked. Nothing is contacted. Values only known
//! at run time (a step's outputs) show as `⟨steps.x.outputs.y⟩`.
//!
//! [`build_plan`] computes the [`Plan`]; [`Plan::to_text`] and its JSON form only format it.

mod build;
mod render;

use serde::Serialize;
use serde_json::{Map, Value};

pub use build::build_plan;

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub runbook: String,
    pub path: String,
    pub params: Map<String, Value>,
    /// The root runbook's vars as computed from the inputs (secrets masked): which variant of
    /// a procedure applies shows here.
    pub vars: Map<String, Value>,
    /// The root runbook's `requires:` that hold (a plan is only made when all do).
    pub requires: Vec<String>,
    pub connections: Vec<PlannedConnection>,
    pub waves: Vec<Vec<PlannedStep>>,
    pub destructive: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedConnection {
    pub name: String,
    pub kind: String,
    pub endpoint: Option<String>,
    /// TLS verification is off for this endpoint (`insecure: true`).
    pub insecure: bool,
    /// The endpoint is plain `http://`: nothing it carries (passwords included) is encrypted.
    pub plain_http: bool,
    pub ca_file: Option<String>,
    /// Why a run would be refused for this connection (a `kubernetes` one with no kubeconfig).
    pub problem: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedStep {
    pub id: String,
    pub title: String,
    pub uses: String,
    pub needs: Vec<String>,
    pub destructive: bool,
    pub idempotent: bool,
    pub always: bool,
    pub continue_on_error: bool,
    /// After a failure of this step, `resume` runs again from this step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resume_from: Option<String>,
    /// The condition, when it can only be decided at run time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// Why it will be skipped, when that is already known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// The items, when known before the run; the expression otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub for_each: Option<Value>,
    /// What each unit will do, as its kind describes it.
    pub actions: Vec<String>,
    /// The rendered inputs (one per item for `for_each` steps), secrets masked.
    pub with: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
}
