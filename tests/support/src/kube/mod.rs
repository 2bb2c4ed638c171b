//! An emulated Kubernetes API server for end-to-end tests of the Kubernetes and Velero step kinds.
//!
//! [`KubeEmulator::start`] serves the Kubernetes REST API over plain HTTP on 127.0.0.1 from a
//! background thread and writes a kubeconfig for it, so a test spawns the `runbook` CLI with
//! `KUBECONFIG` pointing there and the `kube` crate talks to it unmodified. Behind the API sit a
//! versioned object store with watch history and small controllers (workloads, Jobs and pods,
//! volumes, garbage collection, Velero) whose outcomes the test scripts.
//!
//! It emulates observable API behaviour (paths, status codes, `metav1.Status` bodies, watch
//! semantics, the fields controllers write), not Kubernetes' internals; each module says what it
//! simplifies.

mod controllers;
mod discovery;
mod emulator;
mod exec;
mod kubeconfig;
mod logs;
mod meta;
mod patch;
mod resources;
mod routes;
mod script;
mod selectors;
mod state;
mod status;
mod store;
mod velero_objects;
mod watch;

#[cfg(test)]
mod tests;

pub use emulator::KubeEmulator;
pub use kubeconfig::CONTEXT;
pub use script::{
    ExecCall, ExecResult, JobScript, PodMatcher, PodOutcome, RestoreOutcome, RestoreScript,
    StoredBackup,
};
pub use state::RecordedRequest;
