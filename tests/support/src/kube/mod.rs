//! An emulated Kubernetes API server for end-to-end tests of the Kubernetes and Velero step kinds.
//!
//! [`KubeEmulator::start`] serves the Kubernetes REST API over plain HTTP on 127.0.0.1 from a
//! background thread and writes a kubeconfig for it, so a test spawns the `runbook` CLI with
//! `KUBECONFIG` pointing there and the `kube` crate talks to it unmodified. Behind the API sit a
//! versioned object store with watch history and small controllers (workloads, Jobs and pods,
//! CronJobs, volumes, garbage collection, Velero) whose outcomes the test scripts. CronJobs run
//! on the real clock: one seeded with an old `creationTimestamp` starts its missed run at once.
//!
//! ```no_run
//! use runbook_testsupport::kube::{JobScript, KubeEmulator, RestoreScript};
//! let k8s = KubeEmulator::start();
//! k8s.script_job("restore-harbor", JobScript::fail("pg_isready: no response"));
//! k8s.script_restore(RestoreScript::partially_failed(vec![], vec![("monitoring", "boom")]));
//! let status = std::process::Command::new("runbook")
//!     .env("KUBECONFIG", k8s.kubeconfig_path())
//!     .args(["run", "runbook.yaml", "--yes"])
//!     .status();
//! assert!(k8s.requests().iter().any(|r| r.method == "POST" && r.path.ends_with("/restores")));
//! ```
//!
//! It emulates observable API behaviour (paths, status codes, `metav1.Status` bodies, watch
//! semantics, the fields controllers write), not Kubernetes' internals. Writes of built-in kinds
//! are decoded and validated against the published v1.34 JSON schemas (`schema.rs`,
//! `validation.rs`, `defaults.rs`); custom kinds are served from CustomResourceDefinitions
//! created through the API (`crd.rs`; `KubeEmulator::start` installs the real Velero 1.16.1
//! CRDs). What is still simplified, in one place (each module says more):
//! - no authentication, authorization or admission webhooks; validation covers the schema
//!   (types, unknown fields, required fields), names, labels, workload selectors and the
//!   immutable fields runbooks touch, not every rule of `pkg/apis/*/validation`; defaults are
//!   those kinds and clients read (see `defaults.rs`);
//! - request bodies are JSON or YAML: protobuf and CBOR bodies get 415 (`kubectl create
//!   <subcommand>` sends protobuf); no `/openapi/v2|v3` (so kubectl needs `--validate=false`)
//!   and no server-side printing (`kubectl get` shows NAME and AGE only);
//! - `resourceVersion` on list/get is ignored (always the latest state); pagination tokens are
//!   `namespace/name` positions, not snapshots;
//! - strategic merge knows a fixed table of merge keys; server-side apply and `managedFields`
//!   follow the apiserver's field management (`managed_fields.rs`) but without the take-over
//!   of client-side apply's last-applied annotation;
//! - CRDs: one schema per group/version/plural per process; no conversion webhooks, CEL
//!   rules, defaults from the schema, `format` checks or `/scale` of custom kinds;
//! - pods are deleted at once (no grace period); Deployments own pods directly (no ReplicaSets);
//!   DaemonSets create no pods; no events are recorded;
//! - CronJobs know no `@every` schedules, and their `schedule` and `timeZone` are not validated
//!   on write (the controller starts nothing for a bad one);
//! - Velero's object storage is a per-location-name list of backups held in memory.

mod controllers;
mod crd;
mod defaults;
mod discovery;
mod emulator;
mod exec;
mod field_set;
mod field_shape;
mod field_walk;
mod kubeconfig;
mod logs;
mod managed_fields;
mod meta;
mod patch;
mod pod_run;
mod resources;
mod routes;
mod schema;
mod script;
mod selectors;
mod state;
mod status;
mod store;
mod validation;
mod velero_objects;
mod watch;

#[cfg(test)]
mod tests;

pub use emulator::KubeEmulator;
pub use kubeconfig::CONTEXT;
pub use script::{
    ActionOutcome, ExecCall, ExecResult, JobScript, PodMatcher, PodOutcome, PodRun, RestoreOutcome,
    RestoreScript, StoredBackup,
};
pub use state::RecordedRequest;
