//! The runbook engine: load, expand, validate, plan, execute, journal and report runbooks. It knows
//! no Kubernetes, S3 or HTTP: step kinds come from a [`Registry`] the caller fills.
//!
//! The pipeline, one module each:
//! [`load`] (YAML into a typed [`model::Runbook`], positions kept) → [`expand`] (includes expanded
//! into one [`Program`], the graph built) → [`validate`] (kinds, inputs, templates, references;
//! nothing contacted) → [`plan`] (what would run, rendered) → [`session`] and [`execute`] (run or
//! resume the DAG, every state change in the [`journal`]) → [`report`] (a stored run read back).
//! Errors other than a runbook's [`Diagnostics`] live in [`error`]; exit codes in [`exit`].

pub mod connection;
pub mod diagnostic;
pub mod duration;
pub mod error;
pub mod execute;
pub mod exit;
pub mod expand;
mod graph;
pub mod graph_render;
pub mod input_file;
pub mod interaction;
pub mod journal;
pub mod kind;
pub mod load;
pub mod model;
pub mod plan;
pub mod program;
pub mod progress;
pub mod redact;
pub mod report;
mod requirements;
pub mod schema;
mod schema_check;
pub mod scope;
pub mod session;
pub mod source;
mod suggest;
pub mod template;
pub mod validate;
mod versions;
mod wipe;
pub mod yaml;

pub use diagnostic::Diagnostics;
pub use error::{SessionError, StateError, StepError};
pub use expand::expand;
pub use journal::{StateDir, StoredRun};
pub use kind::{Kind, Registry, StepContext, StepKind};
pub use load::load_file;
pub use plan::{Plan, build_plan};
pub use program::Program;
pub use report::Report;
pub use source::Sources;
pub use validate::{KnownInputs, validate_program};
