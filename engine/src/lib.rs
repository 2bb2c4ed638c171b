//! The runbook engine: load, validate, plan, execute, journal and resume runbooks.
//!
//! The pipeline: [`load`] reads YAML into a typed [`model::Runbook`] (positions kept), [`validate`]
//! checks it against the registered step kinds and builds the [`graph::Dag`], [`plan`] renders what
//! can be rendered before running, [`exec`] runs the DAG with checkpoints in the [`journal`], and
//! [`report`] reads the journal back.

pub mod connection;
pub mod diagnostic;
pub mod duration;
pub mod error;
pub mod execute;
pub mod exit;
pub mod expand;
pub mod graph;
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
pub mod schema;
pub mod schema_check;
pub mod scope;
pub mod session;
pub mod source;
pub mod suggest;
pub mod template;
pub mod validate;
pub mod wipe;
pub mod yaml;
