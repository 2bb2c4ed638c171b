//! From what a runbook writes (`kind: Deployment`, optionally `api_version: apps/v1`) to the API
//! resource to call, through discovery: the server says which group, version and plural serve
//! a kind and whether it is namespaced, so CRDs (Velero's included) work like built-in kinds.

use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use kube::discovery::{self, ApiCapabilities, Discovery, Scope};
use runbook_engine::kind::StepError;

/// A resolved kind.
#[derive(Clone, Debug)]
pub struct Resource {
    pub api: ApiResource,
    pub namespaced: bool,
}

impl Resource {
    /// The API for objects of this kind: in `namespace` when namespaced, cluster-wide otherwise.
    pub fn api(&self, client: &Client, namespace: &str) -> Api<DynamicObject> {
        if self.namespaced {
            Api::namespaced_with(client.clone(), namespace, &self.api)
        } else {
            Api::all_with(client.clone(), &self.api)
        }
    }

    /// The namespace an object of this kind lives in (`None` for cluster-scoped kinds).
    pub fn scope<'a>(&self, namespace: &'a str) -> Option<&'a str> {
        self.namespaced.then_some(namespace)
    }
}

fn from_capabilities(api: ApiResource, caps: ApiCapabilities) -> Resource {
    Resource {
        api,
        namespaced: caps.scope == Scope::Namespaced,
    }
}

/// Kinds runbooks name without `api_version`, so the common case needs one discovery call.
const WELL_KNOWN: &[(&str, &str)] = &[
    ("Deployment", "apps/v1"),
    ("StatefulSet", "apps/v1"),
    ("DaemonSet", "apps/v1"),
    ("ReplicaSet", "apps/v1"),
    ("Job", "batch/v1"),
    ("CronJob", "batch/v1"),
    ("Pod", "v1"),
    ("Service", "v1"),
    ("ConfigMap", "v1"),
    ("Secret", "v1"),
    ("Namespace", "v1"),
    ("ServiceAccount", "v1"),
    ("PersistentVolumeClaim", "v1"),
    ("PersistentVolume", "v1"),
    ("NetworkPolicy", "networking.k8s.io/v1"),
    ("Role", "rbac.authorization.k8s.io/v1"),
    ("RoleBinding", "rbac.authorization.k8s.io/v1"),
    ("ClusterRole", "rbac.authorization.k8s.io/v1"),
    ("ClusterRoleBinding", "rbac.authorization.k8s.io/v1"),
    ("Restore", "velero.io/v1"),
    ("Backup", "velero.io/v1"),
    ("Schedule", "velero.io/v1"),
    ("BackupStorageLocation", "velero.io/v1"),
    ("DownloadRequest", "velero.io/v1"),
];

fn gvk(api_version: &str, kind: &str) -> GroupVersionKind {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    GroupVersionKind::gvk(group, version, kind)
}

/// Resolves a kind (`Deployment`, `deployment`, `deployments`) with an optional apiVersion.
pub async fn resolve(
    client: &Client,
    api_version: Option<&str>,
    kind: &str,
) -> Result<Resource, StepError> {
    let well_known = WELL_KNOWN
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(kind) || plural_of(k) == kind.to_ascii_lowercase());
    let (api_version, kind) = match (api_version, well_known) {
        (Some(v), _) => (
            v.to_string(),
            well_known.map_or(kind, |(k, _)| *k).to_string(),
        ),
        (None, Some((k, v))) => (v.to_string(), k.to_string()),
        (None, None) => return discover(client, kind).await,
    };
    let (api, caps) = discovery::pinned_kind(client, &gvk(&api_version, &kind))
        .await
        .map_err(|e| match e {
            kube::Error::Api(s) if s.code == 404 => StepError::permanent(format!(
                "the cluster serves no {api_version} {kind} (is its CRD installed?)"
            )),
            other => super::api_error(&format!("looking up {api_version} {kind}"), other),
        })?;
    Ok(from_capabilities(api, caps))
}

/// The resource of an object given as a manifest.
pub async fn of_object(client: &Client, object: &DynamicObject) -> Result<Resource, StepError> {
    let types = object.types.as_ref().ok_or_else(|| {
        StepError::permanent(format!(
            "manifest {:?} has no apiVersion/kind",
            object.metadata.name.as_deref().unwrap_or("?")
        ))
    })?;
    resolve(client, Some(&types.api_version), &types.kind).await
}

fn plural_of(kind: &str) -> String {
    let lower = kind.to_ascii_lowercase();
    if lower.ends_with('s') {
        format!("{lower}es")
    } else if lower.ends_with('y') {
        format!("{}ies", &lower[..lower.len() - 1])
    } else {
        format!("{lower}s")
    }
}

/// Full discovery, for kinds the table does not know: matches kind, plural or short name.
async fn discover(client: &Client, kind: &str) -> Result<Resource, StepError> {
    let discovery = Discovery::new(client.clone())
        .run()
        .await
        .map_err(|e| super::api_error("API discovery", e))?;
    let wanted = kind.to_ascii_lowercase();
    let mut found = Vec::new();
    for group in discovery.groups() {
        for (api, caps) in group.recommended_resources() {
            if api.kind.to_ascii_lowercase() == wanted
                || api.plural == wanted
                || format!("{}.{}", api.plural, api.group) == wanted
            {
                found.push(from_capabilities(api, caps));
            }
        }
    }
    match found.len() {
        0 => Err(StepError::permanent(format!(
            "the cluster serves no kind `{kind}`; check the spelling or give `api_version`"
        ))),
        1 => Ok(found.remove(0)),
        _ => Err(StepError::permanent(format!(
            "kind `{kind}` is served by several API groups ({}); give `api_version`",
            found
                .iter()
                .map(|r| r.api.api_version.clone())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}
