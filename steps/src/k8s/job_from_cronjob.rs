//! `k8s.job-from-cronjob`: what `kubectl create job --from=cronjob/X` does (the CronJob's job
//! template, the `cronjob.kubernetes.io/instantiate: manual` annotation, an owner reference to
//! the CronJob), then wait for it. The Job is named after the run and step, so a resumed run
//! finds the Job it started before the interruption and waits for it instead of starting another.

use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Resource;
use kube::api::{Api, PostParams};
use runbook_engine::duration::DurationInput;
use runbook_engine::kind::{Kind, StepContext, StepError};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::waiting::{Verdict, watch_until};
use super::{client, failure};

pub struct JobFromCronJob;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JobFromCronJobInput {
    /// A `kubernetes` connection (default: the runbook's only one, else KUBECONFIG).
    pub connection: Option<String>,
    /// Default: the connection's namespace, else the kubeconfig context's.
    pub namespace: Option<String>,
    /// The CronJob whose job template to run, e.g. `opensearch-backup`.
    pub cronjob: String,
    /// The Job's name (default: `<run-id>-<step-id>`, which lets a resumed run find it).
    pub job: Option<String>,
    /// Wait until the Job completes or fails (default true).
    #[serde(default = "yes")]
    pub wait: bool,
    /// How long to wait (default 30m).
    pub timeout: Option<DurationInput>,
}

fn yes() -> bool {
    true
}

#[async_trait]
impl Kind for JobFromCronJob {
    type Input = JobFromCronJobInput;

    fn name(&self) -> &'static str {
        "k8s.job-from-cronjob"
    }

    fn about(&self) -> &'static str {
        "Run a Job from a CronJob's template (as `kubectl create job --from=cronjob/X`), named after the run and step, and wait for it; a failure reports its reason and the pod's last log lines. Outputs `job`."
    }

    fn outputs(&self) -> &'static [&'static str] {
        &["job", "namespace", "succeeded"]
    }

    fn idempotent(&self, _input: &JobFromCronJobInput) -> bool {
        true
    }

    fn describe(&self, input: &JobFromCronJobInput) -> String {
        let ns = input
            .namespace
            .as_ref()
            .map(|n| format!("{n}/"))
            .unwrap_or_default();
        let job = input.job.as_deref().unwrap_or("<run-id>-<step-id>");
        let wait = if input.wait {
            " and wait for it to complete"
        } else {
            ""
        };
        format!(
            "create Job {ns}{job} from CronJob {ns}{}{wait}",
            input.cronjob
        )
    }

    async fn run(&self, ctx: &StepContext, input: JobFromCronJobInput) -> Result<Value, StepError> {
        let cluster = client::connect(ctx, input.connection.as_deref()).await?;
        let namespace = cluster.namespace(input.namespace.as_deref());
        let job_name = input.job.clone().unwrap_or_else(|| ctx.object_name());
        let timeout = DurationInput::timeout_or(input.timeout.as_ref(), Duration::from_secs(1800))?;
        let cronjobs: Api<CronJob> = Api::namespaced(cluster.client.clone(), &namespace);
        let jobs: Api<Job> = Api::namespaced(cluster.client.clone(), &namespace);

        let existing = jobs
            .get_opt(&job_name)
            .await
            .map_err(|e| super::api_error("reading the Job", e))?;
        if existing.is_some() {
            ctx.progress.message(format!(
                "found Job {namespace}/{job_name} from an earlier attempt; waiting for it"
            ));
        } else {
            let cronjob = cronjobs
                .get_opt(&input.cronjob)
                .await
                .map_err(|e| super::api_error("reading the CronJob", e))?;
            let cronjob = cronjob.ok_or_else(|| {
                StepError::permanent(format!(
                    "CronJob {namespace}/{} does not exist",
                    input.cronjob
                ))
            })?;
            let job = job_from(&cronjob, &job_name)?;
            match jobs.create(&PostParams::default(), &job).await {
                Ok(_) => ctx
                    .progress
                    .message(format!("created Job {namespace}/{job_name}")),
                // Created by a concurrent attempt of this very step: wait for that one.
                Err(e) if super::is_conflict(&e) => {}
                Err(e) => {
                    return Err(super::api_error(
                        &format!("creating Job {namespace}/{job_name}"),
                        e,
                    ));
                }
            }
        }
        if !input.wait {
            return Ok(json!({"job": job_name, "namespace": namespace}));
        }
        let ended = watch_until(
            jobs.clone(),
            &job_name,
            timeout,
            &format!("Job {namespace}/{job_name} to complete"),
            |job| match job {
                None => Verdict::Pending,
                Some(job) if failure::job_complete(job) => Verdict::Done(None),
                Some(job) => match failure::job_failed(job) {
                    Some(reason) => Verdict::Done(Some((job.clone(), reason))),
                    None => Verdict::Pending,
                },
            },
        )
        .await?;
        match ended {
            None => Ok(json!({"job": job_name, "namespace": namespace, "succeeded": true})),
            Some((job, (reason, message))) => Err(StepError::permanent(
                failure::describe_failed_job(&cluster.client, &namespace, &job, &reason, &message)
                    .await,
            )),
        }
    }
}

/// The Job kubectl would create: the template's metadata and spec, the manual-instantiation
/// annotation, and the CronJob as controlling owner (so deleting the CronJob deletes it).
pub fn job_from(cronjob: &CronJob, name: &str) -> Result<Job, StepError> {
    let cronjob_name = cronjob.metadata.name.clone().unwrap_or_default();
    let template = cronjob.spec.job_template.clone();
    let template_meta = template.metadata.unwrap_or_default();
    let mut annotations = template_meta.annotations.unwrap_or_default();
    annotations.insert("cronjob.kubernetes.io/instantiate".into(), "manual".into());
    let owner = OwnerReference {
        api_version: CronJob::api_version(&()).into_owned(),
        kind: CronJob::kind(&()).into_owned(),
        name: cronjob_name.clone(),
        uid: cronjob.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    };
    Ok(Job {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: cronjob.metadata.namespace.clone(),
            labels: template_meta.labels,
            annotations: Some(annotations),
            owner_references: Some(vec![owner]),
            ..ObjectMeta::default()
        },
        spec: template.spec,
        status: None,
    })
}
