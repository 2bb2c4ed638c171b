//! Kubernetes step kinds, one module each, talking to the API server through the `kube` crate
//! (no kubectl at run time). Shared pieces: [`client`] (connection -> client), [`resources`]
//! (kind -> API resource), [`target`] (the inputs that name objects), [`failure`] (why a Job or
//! pod failed, with its logs) and [`waiting`] (watch an object until a condition holds).

pub mod apply;
pub mod client;
pub mod delete;
pub mod exec;
pub mod failure;
pub mod get;
pub mod job_from_cronjob;
pub mod logs;
pub mod manifests;
pub mod patch;
pub mod resources;
pub mod scale;
pub mod target;
pub mod wait;
pub mod waiting;

use runbook_engine::kind::StepError;

/// The field manager written on server-side applies, so `managedFields` show who applied what.
pub const FIELD_MANAGER: &str = "runbook";

/// A Kubernetes API error as the operator should read it.
pub fn api_error(action: &str, error: kube::Error) -> StepError {
    match &error {
        kube::Error::Api(status) if status.code == 403 || status.code == 401 => {
            StepError::permanent(format!(
                "{action}: {} (check that the kubeconfig's user may do this)",
                status.message
            ))
        }
        kube::Error::Api(status) if status.code == 422 || status.code == 400 => {
            StepError::permanent(format!("{action}: {}", status.message))
        }
        kube::Error::Api(status) => StepError::new(format!("{action}: {}", status.message)),
        other => StepError::new(format!("{action}: {other}")),
    }
}

/// Whether an API error is a 404.
pub fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(s) if s.code == 404)
}

/// Whether an API error is a 409 AlreadyExists.
pub fn is_conflict(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(s) if s.code == 409)
}

/// `kind namespace/name` (or `kind name` for cluster-scoped objects), as plans and errors show it.
pub fn object_label(kind: &str, namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) if !ns.is_empty() => format!("{kind} {ns}/{name}"),
        _ => format!("{kind} {name}"),
    }
}
