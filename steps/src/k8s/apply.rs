//! `k8s.apply`: server-side apply of manifests (inline, or a file next to the runbook rendered
//! over `values`), in dependency order unless told otherwise. Outputs what was applied.

use async_trait::async_trait;
use kube::api::{DynamicObject, Patch, PatchParams};
use runbook_engine::kind::{Kind, StepContext, StepError, Templated};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{FIELD_MANAGER, client, manifests, object_label, resources};

pub struct Apply;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyInput {
    /// A `kubernetes` connection (default: the runbook's only one, else KUBECONFIG).
    pub connection: Option<String>,
    /// The namespace of objects that name none (default: the connection's, else the context's).
    pub namespace: Option<String>,
    /// A manifest file relative to the runbook (one or more YAML documents), or YAML text.
    pub manifest: Option<String>,
    /// Objects written inline in the runbook (or YAML texts).
    pub manifests: Option<Templated<Vec<Value>>>,
    /// What a manifest file's templates read as `values.NAME`.
    #[serde(default)]
    pub values: Value,
    /// Render a manifest file as a template (default true; false keeps `{{ }}` literal).
    #[serde(default = "yes")]
    pub render: bool,
    /// Apply in dependency phases: namespaces, then NetworkPolicies and RBAC, then configuration,
    /// then workloads (default true), as hardened clusters admit workloads only in that order.
    #[serde(default = "yes")]
    pub policies_first: bool,
}

fn yes() -> bool {
    true
}

#[async_trait]
impl Kind for Apply {
    type Input = ApplyInput;

    fn name(&self) -> &'static str {
        "k8s.apply"
    }

    fn about(&self) -> &'static str {
        "Server-side apply Kubernetes manifests (inline or from a file, templated), NetworkPolicies and RBAC before workloads. Outputs `objects: [{kind, namespace, name, uid}]`."
    }

    fn outputs(&self) -> &'static [&'static str] {
        &["objects", "name"]
    }

    fn check(&self, input: &ApplyInput) -> Vec<String> {
        if input.manifest.is_none() && input.manifests.is_none() {
            return vec!["give `manifest` (a file next to the runbook, or YAML text) or `manifests` (objects)".into()];
        }
        Vec::new()
    }

    fn idempotent(&self, _input: &ApplyInput) -> bool {
        true
    }

    fn describe(&self, input: &ApplyInput) -> String {
        let mut parts = Vec::new();
        if let Some(m) = &input.manifest {
            parts.push(if manifests::is_inline(m) {
                describe_objects(&manifests::parse(m, "inline").unwrap_or_default())
            } else {
                format!("the manifests in {m}")
            });
        }
        if let Some(Templated::Value(list)) = &input.manifests {
            parts.push(describe_objects(list));
        }
        format!("server-side apply {}", parts.join(" and "))
    }

    async fn run(&self, ctx: &StepContext, input: ApplyInput) -> Result<Value, StepError> {
        let mut objects = load(ctx, &input)?;
        if input.policies_first {
            manifests::order_by_dependencies(&mut objects);
        }
        let cluster = client::connect(ctx, input.connection.as_deref()).await?;
        let default_namespace = cluster.namespace(input.namespace.as_deref());
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let mut applied = Vec::new();
        for (i, object) in objects.into_iter().enumerate() {
            let dynamic: DynamicObject = serde_json::from_value(object)
                .map_err(|e| StepError::permanent(format!("manifest object {}: {e}", i + 1)))?;
            let resource = resources::of_object(&cluster.client, &dynamic).await?;
            let namespace = dynamic
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| default_namespace.clone());
            let name = dynamic.metadata.name.clone().unwrap_or_default();
            let label = object_label(&resource.api.kind, resource.scope(&namespace), &name);
            let mut body = serde_json::to_value(&dynamic).expect("object serializes");
            if resource.namespaced {
                body["metadata"]["namespace"] = json!(namespace);
            }
            let result = resource
                .api(&cluster.client, &namespace)
                .patch(&name, &params, &Patch::Apply(&body))
                .await
                .map_err(|e| super::api_error(&format!("applying {label}"), e))?;
            ctx.progress.message(format!("applied {label}"));
            applied.push(json!({
                "kind": resource.api.kind,
                "namespace": resource.scope(&namespace),
                "name": name,
                "uid": result.metadata.uid,
            }));
        }
        let first = applied
            .first()
            .map(|o| o["name"].clone())
            .unwrap_or(Value::Null);
        // `name` is the first object's, for the common one-object manifest.
        Ok(json!({"objects": applied, "name": first}))
    }
}

fn load(ctx: &StepContext, input: &ApplyInput) -> Result<Vec<Value>, StepError> {
    let mut objects = Vec::new();
    if let Some(manifest) = &input.manifest {
        if manifests::is_inline(manifest) {
            objects.extend(manifests::parse(manifest, "`manifest`")?);
        } else {
            let path = ctx.path(manifest);
            let text = manifests::read_file(&path)?;
            let text = if input.render {
                manifests::render(&text, &input.values, manifest)?
            } else {
                text
            };
            objects.extend(manifests::parse(&text, manifest)?);
        }
    }
    let inline = match &input.manifests {
        Some(manifests) => manifests.rendered("manifests")?.as_slice(),
        None => &[],
    };
    for (i, item) in inline.iter().enumerate() {
        let origin = format!("`manifests[{i}]`");
        match item {
            Value::String(text) => objects.extend(manifests::parse(text, &origin)?),
            other => manifests::push_object(other.clone(), &origin, &mut objects)?,
        }
    }
    if objects.is_empty() {
        return Err(StepError::permanent("the manifests hold no objects"));
    }
    Ok(objects)
}

fn describe_objects(objects: &[Value]) -> String {
    objects
        .iter()
        .map(|o| {
            object_label(
                o["kind"].as_str().unwrap_or("?"),
                o["metadata"]["namespace"].as_str(),
                o["metadata"]["name"].as_str().unwrap_or("?"),
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}
