//! Manifests for `k8s.apply`: inline (objects, or YAML text) or from a file next to the runbook,
//! rendered as a template over the step's `values`, split into objects, and put in dependency
//! order.
//!
//! The order matters on hardened clusters (Compliant Kubernetes): an admission policy rejects a
//! workload that no NetworkPolicy selects, and a workload's ServiceAccount and RBAC must exist
//! before its pods start. So namespaces and CRDs go first, then NetworkPolicies and RBAC, then
//! configuration and storage, then workloads.

use std::path::Path;

use runbook_engine::kind::StepError;
use serde_json::Value;

/// Kinds applied first: what other objects live in or are made of.
const FOUNDATION: &[&str] = &[
    "Namespace",
    "CustomResourceDefinition",
    "PriorityClass",
    "StorageClass",
];

/// Kinds that must exist before workloads are admitted or can run: network policies and RBAC.
pub const POLICY_KINDS: &[&str] = &[
    "NetworkPolicy",
    "CiliumNetworkPolicy",
    "ServiceAccount",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "PodSecurityPolicy",
];

/// The Velero resource names of [`POLICY_KINDS`] that Velero restores (for `includedResources`).
pub const POLICY_RESOURCES: &[&str] = &[
    "networkpolicies.networking.k8s.io",
    "serviceaccounts",
    "roles.rbac.authorization.k8s.io",
    "clusterroles.rbac.authorization.k8s.io",
    "rolebindings.rbac.authorization.k8s.io",
    "clusterrolebindings.rbac.authorization.k8s.io",
];

/// Configuration and storage that workloads mount or reach.
const CONFIGURATION: &[&str] = &[
    "Secret",
    "ConfigMap",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Service",
    "LimitRange",
    "ResourceQuota",
];

/// The dependency phase of a kind: lower is applied earlier.
pub fn phase(kind: &str) -> u8 {
    if FOUNDATION.contains(&kind) {
        0
    } else if POLICY_KINDS.contains(&kind) {
        1
    } else if CONFIGURATION.contains(&kind) {
        2
    } else {
        3
    }
}

/// Sorts objects into dependency phases, keeping the written order within a phase.
pub fn order_by_dependencies(objects: &mut [Value]) {
    objects.sort_by_key(|o| phase(o["kind"].as_str().unwrap_or_default()));
}

/// Whether a `manifest` string is YAML text rather than a file name.
pub fn is_inline(manifest: &str) -> bool {
    manifest.contains('\n') || manifest.trim_start().starts_with('{')
}

/// Renders a manifest file as a template over `values` (strict: an undefined name is an error).
pub fn render(text: &str, values: &Value, origin: &str) -> Result<String, StepError> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .build()
            .expect("default delimiters"),
    );
    let context = minijinja::Value::from(minijinja::value::Serde(
        serde_json::json!({"values": values}),
    ));
    env.render_str(text, context).map_err(|e| {
        StepError::permanent(format!(
            "rendering {origin}: {e} (templates read `values.NAME` from the step's `values`; keep Helm or Go templates literal with {{% raw %}}...{{% endraw %}} or `render: false`)"
        ))
    })
}

/// Reads a manifest file next to the runbook.
pub fn read_file(path: &Path) -> Result<String, StepError> {
    runbook_engine::input_file::read_text(path)
        .map_err(|e| StepError::permanent(format!("manifest: {e}")))
}

/// Splits YAML text (one or more `---` documents, `kind: List` flattened) into objects.
pub fn parse(text: &str, origin: &str) -> Result<Vec<Value>, StepError> {
    let documents: Vec<Value> = serde_saphyr::from_multiple(text)
        .map_err(|e| StepError::permanent(format!("manifest {origin} is not valid YAML: {e}")))?;
    let mut objects = Vec::new();
    for document in documents {
        push_object(document, origin, &mut objects)?;
    }
    Ok(objects)
}

/// Adds an object (or a `List`'s items), checking it names its kind.
pub fn push_object(value: Value, origin: &str, objects: &mut Vec<Value>) -> Result<(), StepError> {
    match &value {
        Value::Null => Ok(()),
        Value::Object(map) if map.get("kind").and_then(Value::as_str) == Some("List") => {
            for item in map
                .get("items")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
            {
                push_object(item, origin, objects)?;
            }
            Ok(())
        }
        Value::Object(map) => {
            for field in ["apiVersion", "kind"] {
                if !map.get(field).is_some_and(Value::is_string) {
                    return Err(StepError::permanent(format!(
                        "an object in {origin} has no `{field}`"
                    )));
                }
            }
            if !map
                .get("metadata")
                .and_then(|m| m.get("name"))
                .is_some_and(Value::is_string)
            {
                return Err(StepError::permanent(format!(
                    "a {} in {origin} has no `metadata.name` (server-side apply needs one)",
                    map["kind"].as_str().unwrap_or_default()
                )));
            }
            objects.push(value);
            Ok(())
        }
        other => Err(StepError::permanent(format!(
            "{origin} holds a {} where a Kubernetes object was expected",
            type_name(other)
        ))),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn policies_and_rbac_come_before_workloads() {
        let mut objects = vec![
            json!({"kind": "Deployment"}),
            json!({"kind": "Secret"}),
            json!({"kind": "NetworkPolicy"}),
            json!({"kind": "Namespace"}),
            json!({"kind": "RoleBinding"}),
        ];
        order_by_dependencies(&mut objects);
        let kinds: Vec<&str> = objects
            .iter()
            .map(|o| o["kind"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "Namespace",
                "NetworkPolicy",
                "RoleBinding",
                "Secret",
                "Deployment"
            ]
        );
    }

    #[test]
    fn multi_document_yaml_and_lists_are_split() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Secret, metadata: {name: b}}\n";
        let objects = parse(text, "test").unwrap();
        assert_eq!(objects.len(), 2);
        assert_eq!(objects[1]["kind"], "Secret");
        assert!(
            parse("apiVersion: v1\nkind: ConfigMap\n", "test")
                .unwrap_err()
                .message
                .contains("metadata.name")
        );
    }

    #[test]
    fn files_render_values_strictly() {
        let values = json!({"bucket": "b1"});
        assert_eq!(
            render("bucket: {{ values.bucket }}\n", &values, "f").unwrap(),
            "bucket: b1\n"
        );
        assert!(render("x: {{ values.missing }}", &values, "f").is_err());
    }
}
