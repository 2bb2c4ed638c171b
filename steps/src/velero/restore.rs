//! `velero.restore`: restore from a schedule's latest completed backup or a named backup, and
//! wait for a terminal phase, reporting items restored as progress.
//!
//! The Restore is named after the run and step, so a resumed run finds the Restore it created
//! before the interruption and keeps waiting for it instead of restoring a second time.
//! With `policies_first`, two Restores run: first NetworkPolicies, ServiceAccounts and RBAC
//! (`<name>-policies`), then everything else, because a hardened cluster rejects workloads that
//! no NetworkPolicy selects and Velero's own order restores workloads alongside them. The first
//! also restores the Namespaces those objects live in (with their labels, which namespace
//! selectors and admission read), so it works when the namespaces were deleted too.

use std::time::Duration;

use async_trait::async_trait;
use kube::Client;
use kube::api::{Api, DynamicObject, ListParams, PostParams};
use runbook_engine::duration::DurationInput;
use runbook_engine::kind::{Kind, StepContext, StepError, Templated, object_name};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::k8s::client;
use crate::k8s::manifests::POLICY_RESOURCES;
use crate::k8s::target::Selector;
use crate::k8s::waiting::{Verdict, watch_until};

pub struct Restore;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreInput {
    /// A `kubernetes` connection (default: the runbook's only one, else KUBECONFIG).
    pub connection: Option<String>,
    /// Velero's namespace (default `velero`).
    #[serde(default = "super::default_namespace")]
    pub namespace: String,
    /// Restore the newest completed backup of this schedule, e.g. `velero-daily-backup`.
    pub schedule: Option<String>,
    /// Restore this backup.
    pub backup: Option<String>,
    pub included_namespaces: Option<Vec<String>>,
    pub excluded_namespaces: Option<Vec<String>>,
    /// Resource names as Velero takes them: `deployments`, `persistentvolumeclaims`, `configmaps.`.
    pub included_resources: Option<Vec<String>>,
    pub excluded_resources: Option<Vec<String>>,
    /// Only objects with these labels: `app=grafana` or `{app: grafana}`.
    pub label_selector: Option<Selector>,
    /// `none` (default: existing objects are left as they are, with a warning) or `update`.
    pub existing_resource_policy: Option<Templated<ExistingResourcePolicy>>,
    /// Whether persistent volumes are restored (Velero's default: true).
    pub restore_pvs: Option<bool>,
    /// Succeed when the restore ends PartiallyFailed (its warnings and errors are in the outputs).
    #[serde(default)]
    pub allow_partially_failed: bool,
    /// Restore NetworkPolicies, ServiceAccounts and RBAC first, in a Restore of their own, then the rest.
    #[serde(default)]
    pub policies_first: bool,
    /// How long to wait for the restore (default 4h, Velero's item operation timeout).
    pub timeout: Option<DurationInput>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExistingResourcePolicy {
    None,
    Update,
}

impl ExistingResourcePolicy {
    fn as_str(self) -> &'static str {
        match self {
            ExistingResourcePolicy::None => "none",
            ExistingResourcePolicy::Update => "update",
        }
    }
}

#[async_trait]
impl Kind for Restore {
    type Input = RestoreInput;

    fn name(&self) -> &'static str {
        "velero.restore"
    }

    fn about(&self) -> &'static str {
        "Restore from a Velero schedule's latest completed backup or a named backup and wait for it; PartiallyFailed fails listing warnings and errors unless allowed. Outputs `restore`, `backup`, `phase`, `warnings`, `errors`, `items_restored`."
    }

    fn outputs(&self) -> &'static [&'static str] {
        &[
            "restore",
            "backup",
            "phase",
            "warnings",
            "errors",
            "warning_messages",
            "error_messages",
            "items_restored",
            "total_items",
        ]
    }

    fn check(&self, input: &RestoreInput) -> Vec<String> {
        match (&input.schedule, &input.backup) {
            (Some(_), Some(_)) => vec!["give `schedule` or `backup`, not both".into()],
            (None, None) => {
                vec!["give `schedule` (its newest completed backup is restored) or `backup`".into()]
            }
            _ => Vec::new(),
        }
    }

    /// Restoring adds what is missing; only `existing_resource_policy: update` overwrites.
    fn destructive(&self, input: &RestoreInput) -> bool {
        matches!(&input.existing_resource_policy, Some(p) if p.value() != Some(&ExistingResourcePolicy::None))
    }

    fn idempotent(&self, _input: &RestoreInput) -> bool {
        true
    }

    fn describe(&self, input: &RestoreInput) -> String {
        let source = match (&input.schedule, &input.backup) {
            (Some(s), _) => format!("the latest completed backup of schedule {s}"),
            (_, Some(b)) => format!("backup {b}"),
            _ => "?".into(),
        };
        let mut text = format!("create Velero Restore <run-id>-<step-id> from {source}");
        for (list, label) in [
            (&input.included_namespaces, "namespaces"),
            (&input.excluded_namespaces, "except namespaces"),
            (&input.included_resources, "resources"),
            (&input.excluded_resources, "except resources"),
        ] {
            if let Some(v) = list {
                text.push_str(&format!(", {label} {}", v.join(",")));
            }
        }
        match &input.label_selector {
            Some(Selector::Text(s)) => text.push_str(&format!(", labels {s}")),
            Some(Selector::Labels(m)) => text.push_str(&format!(", labels {}", json!(m))),
            None => {}
        }
        if let Some(p) = &input.existing_resource_policy {
            let p = p.show(|p| p.as_str().to_string());
            text.push_str(&format!(", existing objects: {p}"));
        }
        if input.policies_first {
            text.push_str(
                "; NetworkPolicies and RBAC first, in Restore <run-id>-<step-id>-policies",
            );
        }
        text.push_str("; wait for it");
        text
    }

    async fn run(&self, ctx: &StepContext, input: RestoreInput) -> Result<Value, StepError> {
        let cluster = client::connect(ctx, input.connection.as_deref()).await?;
        let timeout =
            DurationInput::timeout_or(input.timeout.as_ref(), Duration::from_secs(4 * 3600))?;
        let restores = super::api(&cluster.client, &input.namespace, "Restore").await?;
        let mut plan = Vec::new();
        if input.policies_first {
            plan.push((format!("{}-policies", ctx.idempotency_key), Part::Policies));
        }
        plan.push((
            ctx.idempotency_key.clone(),
            if input.policies_first {
                Part::Rest
            } else {
                Part::All
            },
        ));

        let mut backup: Option<String> = None;
        let mut outcome = Value::Null;
        let mut names = Vec::new();
        for (key, part) in plan {
            let (name, existing) =
                current_attempt(&restores, &key, input.allow_partially_failed).await?;
            let restore = match existing {
                Some(found) => {
                    ctx.progress.message(format!(
                        "found Restore {name} from an earlier attempt; waiting for it"
                    ));
                    found
                }
                None => {
                    let from = match &backup {
                        Some(b) => b.clone(),
                        None => resolve_backup(&cluster.client, &input).await?,
                    };
                    let Some(spec) = spec(&input, &from, part)? else {
                        continue;
                    };
                    create(&restores, &input.namespace, &name, spec, ctx).await?
                }
            };
            if let Some(b) = restore.data["spec"]["backupName"]
                .as_str()
                .filter(|b| !b.is_empty())
            {
                backup = Some(b.to_string());
            }
            names.push(name.clone());
            outcome = wait(ctx, &cluster.client, &restores, &input, &name, timeout).await?;
        }
        outcome["restores"] = json!(names);
        Ok(outcome)
    }
}

/// The Restore of this step to wait for, or the name to create one under. The first is named
/// after the run and step; when the latest one ended in failure (the step failed and the
/// operator resumed after fixing the cause), a new one is due, with a `-2`, `-3`... suffix.
async fn current_attempt(
    restores: &Api<DynamicObject>,
    key: &str,
    allow_partially_failed: bool,
) -> Result<(String, Option<DynamicObject>), StepError> {
    let mut n = 1;
    loop {
        let name = if n == 1 {
            object_name(key)
        } else {
            object_name(&format!("{key}-{n}"))
        };
        let found = restores
            .get_opt(&name)
            .await
            .map_err(|e| crate::k8s::api_error("reading the Restore", e))?;
        match found {
            None => return Ok((name, None)),
            Some(r) => {
                let phase = r.data["status"]["phase"].as_str().unwrap_or("New");
                let failed = matches!(phase, "Failed" | "FailedValidation")
                    || (phase == "PartiallyFailed" && !allow_partially_failed);
                if !failed {
                    return Ok((name, Some(r)));
                }
            }
        }
        n += 1;
    }
}

/// Which resources one Restore of the plan covers.
#[derive(Clone, Copy)]
enum Part {
    All,
    Policies,
    Rest,
}

/// The backup to restore: the named one, or the schedule's newest completed (or, when allowed,
/// partially failed) backup, chosen as `velero restore create --from-schedule` does.
async fn resolve_backup(client: &Client, input: &RestoreInput) -> Result<String, StepError> {
    if let Some(b) = &input.backup {
        return Ok(b.clone());
    }
    let schedule = input
        .schedule
        .as_deref()
        .ok_or_else(|| StepError::permanent("give `schedule` or `backup`"))?;
    let backups = super::api(client, &input.namespace, "Backup").await?;
    let list = backups
        .list(&ListParams::default().labels(&format!("velero.io/schedule-name={schedule}")))
        .await
        .map_err(|e| crate::k8s::api_error("listing Velero backups", e))?;
    let phases: &[&str] = if input.allow_partially_failed {
        &["Completed", "PartiallyFailed"]
    } else {
        &["Completed"]
    };
    match super::latest(&list.items, phases) {
        Some(b) => Ok(b.metadata.name.clone().unwrap_or_default()),
        None if list.items.is_empty() => Err(StepError::permanent(format!(
            "schedule {schedule} has no backups in namespace {} (Velero may not have synced the backup location yet; `velero.backups` lists what exists)",
            input.namespace
        ))),
        None => Err(StepError::permanent(format!(
            "schedule {schedule} has no completed backup ({} found, none Completed); name one with `backup:`",
            list.items.len()
        ))),
    }
}

/// The Restore spec for one part, or `None` when the filters leave that part nothing to do.
fn spec(input: &RestoreInput, backup: &str, part: Part) -> Result<Option<Value>, StepError> {
    let mut spec = json!({"backupName": backup});
    let mut included = input.included_resources.clone();
    let mut excluded = input.excluded_resources.clone().unwrap_or_default();
    match part {
        Part::All => {}
        Part::Policies => {
            let policies: Vec<String> = POLICY_RESOURCES
                .iter()
                .filter(|p| {
                    included
                        .as_ref()
                        .is_none_or(|inc| inc.iter().any(|i| i == "*" || names_same(i, p)))
                })
                .map(|p| p.to_string())
                .collect();
            if policies.is_empty() {
                return Ok(None);
            }
            // The policies' namespaces, or they have nowhere to go when the namespaces are gone.
            included = Some(
                std::iter::once("namespaces".to_string())
                    .chain(policies)
                    .collect(),
            );
        }
        Part::Rest => excluded.extend(POLICY_RESOURCES.iter().map(|p| p.to_string())),
    }
    if let Some(v) = &input.included_namespaces {
        spec["includedNamespaces"] = json!(v);
    }
    if let Some(v) = &input.excluded_namespaces {
        spec["excludedNamespaces"] = json!(v);
    }
    if let Some(v) = included {
        spec["includedResources"] = json!(v);
    }
    if !excluded.is_empty() {
        spec["excludedResources"] = json!(excluded);
    }
    if let Some(s) = &input.label_selector {
        spec["labelSelector"] = s.to_label_selector()?;
    }
    if let Some(p) = &input.existing_resource_policy {
        spec["existingResourcePolicy"] = json!(p.rendered("existing_resource_policy")?.as_str());
    }
    if let Some(r) = input.restore_pvs {
        spec["restorePVs"] = json!(r);
    }
    Ok(Some(spec))
}

/// Whether a Velero resource name (`roles`, `roles.rbac.authorization.k8s.io`) names `full`.
fn names_same(given: &str, full: &str) -> bool {
    let given = given.to_ascii_lowercase();
    given == full || full.split('.').next() == Some(given.trim_end_matches('.'))
}

async fn create(
    restores: &Api<DynamicObject>,
    namespace: &str,
    name: &str,
    spec: Value,
    ctx: &StepContext,
) -> Result<DynamicObject, StepError> {
    let object = json!({
        "apiVersion": "velero.io/v1",
        "kind": "Restore",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/managed-by": "runbook"}},
        "spec": spec,
    });
    let object: DynamicObject = serde_json::from_value(object).expect("a valid object");
    match restores.create(&PostParams::default(), &object).await {
        Ok(created) => {
            ctx.progress.message(format!(
                "created Restore {namespace}/{name} from backup {}",
                created.data["spec"]["backupName"]
            ));
            Ok(created)
        }
        // A concurrent attempt of this step created it: wait for that one.
        Err(e) if crate::k8s::is_conflict(&e) => restores
            .get(name)
            .await
            .map_err(|e| crate::k8s::api_error("reading the Restore", e)),
        Err(e) => Err(crate::k8s::api_error(
            &format!("creating Restore {namespace}/{name}"),
            e,
        )),
    }
}

const TERMINAL: &[&str] = &["Completed", "PartiallyFailed", "Failed", "FailedValidation"];

/// Waits for a terminal phase and turns it into the step's outputs or error.
async fn wait(
    ctx: &StepContext,
    client: &Client,
    restores: &Api<DynamicObject>,
    input: &RestoreInput,
    name: &str,
    timeout: Duration,
) -> Result<Value, StepError> {
    let label = format!("Restore {}/{name}", input.namespace);
    let restore = watch_until(
        restores.clone(),
        name,
        timeout,
        &format!("{label} to finish"),
        |o| match o {
            None => Verdict::Failed(StepError::new(format!("{label} was deleted while it ran"))),
            Some(r) => {
                let status = &r.data["status"];
                let phase = status["phase"].as_str().unwrap_or("New");
                if TERMINAL.contains(&phase) {
                    return Verdict::Done(r.clone());
                }
                let done = status["progress"]["itemsRestored"].as_u64().unwrap_or(0);
                let total = status["progress"]["totalItems"].as_u64();
                ctx.progress
                    .position(format!("{name}: {phase}, items restored"), done, total);
                Verdict::Pending
            }
        },
    )
    .await?;
    let status = &restore.data["status"];
    let phase = status["phase"].as_str().unwrap_or_default().to_string();
    let warnings = status["warnings"].as_u64().unwrap_or(0);
    let errors = status["errors"].as_u64().unwrap_or(0);
    let (warning_messages, error_messages, details_problem) = if warnings + errors > 0 {
        match super::results::restore_messages(client, &input.namespace, name).await {
            Ok((w, e)) => (w, e, None),
            Err(problem) => (Vec::new(), Vec::new(), Some(problem)),
        }
    } else {
        (Vec::new(), Vec::new(), None)
    };
    let outputs = json!({
        "restore": name,
        "backup": restore.data["spec"]["backupName"],
        "phase": phase,
        "warnings": warnings,
        "errors": errors,
        "warning_messages": warning_messages,
        "error_messages": error_messages,
        "items_restored": status["progress"]["itemsRestored"].as_u64().unwrap_or(0),
        "total_items": status["progress"]["totalItems"].as_u64().unwrap_or(0),
    });
    match phase.as_str() {
        "Completed" => Ok(outputs),
        "PartiallyFailed" if input.allow_partially_failed => Ok(outputs),
        "PartiallyFailed" => {
            let mut text = format!(
                "{label} ended PartiallyFailed with {warnings} warning(s) and {errors} error(s)"
            );
            for (heading, lines) in [("errors", &error_messages), ("warnings", &warning_messages)] {
                if !lines.is_empty() {
                    text.push_str(&format!("\n{heading}:\n  {}", lines.join("\n  ")));
                }
            }
            if let Some(p) = details_problem {
                text.push_str(&format!("\n(could not read the details: {p}; run `velero restore describe {name} --details`)"));
            }
            text.push_str("\nFix the cause and resume, or set `allow_partially_failed: true` if this outcome is acceptable.");
            Err(StepError::permanent(text))
        }
        "FailedValidation" => Err(StepError::permanent(format!(
            "{label} failed validation: {}",
            status["validationErrors"]
                .as_array()
                .map(|a| a
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("; "))
                .unwrap_or_default()
        ))),
        _ => Err(StepError::permanent(format!(
            "{label} failed: {} (see `velero restore logs {name}`)",
            status["failureReason"]
                .as_str()
                .unwrap_or("no reason given")
        ))),
    }
}
