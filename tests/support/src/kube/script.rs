//! What a test scripts: how pods of Jobs (and bare run-to-completion pods) end, what they log,
//! what `exec` answers, how Velero restores end, and what object storage holds.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

/// How a scripted pod ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodOutcome {
    /// Exit code 0: the pod Succeeds.
    Succeed,
    /// Non-zero exit: the pod Fails (and the Job retries up to `backoffLimit`).
    Fail,
}

/// The script for the pods of matching Jobs (or bare pods with `restartPolicy` other than Always).
#[derive(Debug, Clone)]
pub struct JobScript {
    /// How each pod ends.
    pub outcome: PodOutcome,
    /// The container log the pod serves at `pods/{name}/log`.
    pub logs: String,
    /// The exit code reported in the container's terminated state.
    pub exit_code: i32,
    /// How long a pod stays Pending.
    pub pending_for: Duration,
    /// How long a pod runs before it terminates.
    pub running_for: Duration,
    /// What the pod's containers do, run by test code on a thread once the pod is Running; its
    /// outcome replaces `outcome`, `exit_code` and `logs`.
    pub action: Option<PodAction>,
}

/// What a pod's emulated containers see: the pod, the environment of its containers (init
/// containers first, later values winning) resolved from literal values, Secrets and ConfigMaps,
/// and the files of its ConfigMap and Secret volumes by mount path (`/scripts/restore.sh`).
#[derive(Debug, Clone)]
pub struct PodRun {
    /// The pod as stored.
    pub pod: Value,
    /// `env` and `envFrom`, resolved.
    pub env: std::collections::BTreeMap<String, String>,
    /// Mounted ConfigMap and Secret keys, by full path.
    pub files: std::collections::BTreeMap<String, String>,
}

impl PodRun {
    /// An environment variable the pod was given.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.env.get(name).map(String::as_str)
    }
}

/// How an action ended.
#[derive(Debug, Clone)]
pub struct ActionOutcome {
    /// The container's exit code: 0 succeeds the pod, anything else fails it.
    pub exit_code: i32,
    /// What the pod logged.
    pub logs: String,
}

/// Test code standing in for a pod's containers.
#[derive(Clone)]
pub struct PodAction(pub Arc<dyn Fn(&PodRun) -> ActionOutcome + Send + Sync>);

impl std::fmt::Debug for PodAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PodAction")
    }
}

impl JobScript {
    /// Every pod succeeds after printing `logs`.
    pub fn succeed(logs: impl Into<String>) -> Self {
        Self {
            outcome: PodOutcome::Succeed,
            logs: logs.into(),
            exit_code: 0,
            pending_for: Duration::from_millis(50),
            running_for: Duration::from_millis(100),
            action: None,
        }
    }

    /// Every pod runs `action` (on its own thread, once Running) and ends as it returns: the
    /// way a test makes a Job really restore a database or copy objects.
    pub fn run(action: impl Fn(&PodRun) -> ActionOutcome + Send + Sync + 'static) -> Self {
        Self {
            action: Some(PodAction(Arc::new(action))),
            running_for: Duration::ZERO,
            ..Self::succeed("")
        }
    }

    /// Every pod fails (exit code 1) after printing `logs`; the Job ends `Failed` with reason
    /// `BackoffLimitExceeded` once `backoffLimit + 1` pods failed.
    pub fn fail(logs: impl Into<String>) -> Self {
        Self {
            outcome: PodOutcome::Fail,
            exit_code: 1,
            ..Self::succeed(logs)
        }
    }

    /// Sets the container exit code (failing scripts only).
    pub fn exit_code(mut self, code: i32) -> Self {
        self.exit_code = code;
        self
    }

    /// Makes each pod run this long before it terminates.
    pub fn running_for(mut self, d: Duration) -> Self {
        self.running_for = d;
        self
    }

    /// Makes each pod stay Pending this long.
    pub fn pending_for(mut self, d: Duration) -> Self {
        self.pending_for = d;
        self
    }
}

/// Which pods a [`JobScript`] applies to.
#[derive(Debug, Clone)]
pub enum PodMatcher {
    /// The owning Job's name (or a bare pod's name) starts with this.
    NamePrefix(String),
    /// A container image contains this.
    Image(String),
    /// A container's command or args contain this (as a whole argument or a substring of one).
    Argument(String),
}

impl PodMatcher {
    /// Whether a pod (whose Job or own name is `owner_name`) matches.
    pub fn matches(&self, owner_name: &str, pod: &Value) -> bool {
        let containers = pod["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(
                pod["spec"]["initContainers"]
                    .as_array()
                    .into_iter()
                    .flatten(),
            );
        match self {
            PodMatcher::NamePrefix(p) => owner_name.starts_with(p.as_str()),
            PodMatcher::Image(i) => containers.clone().any(|c| {
                c["image"]
                    .as_str()
                    .is_some_and(|img| img.contains(i.as_str()))
            }),
            PodMatcher::Argument(a) => containers.clone().any(|c| {
                ["command", "args"].iter().any(|f| {
                    c[*f]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|x| x.as_str().is_some_and(|s| s.contains(a.as_str())))
                })
            }),
        }
    }
}

/// One `exec` call as the emulator received it.
#[derive(Debug, Clone)]
pub struct ExecCall {
    /// Pod namespace.
    pub namespace: String,
    /// Pod name.
    pub pod: String,
    /// `container` query parameter, if given.
    pub container: Option<String>,
    /// The command, one argument per `command` query parameter.
    pub command: Vec<String>,
    /// What the client wrote to stdin before closing it (empty unless `stdin=true`).
    pub stdin: Vec<u8>,
}

/// What a scripted `exec` returns.
#[derive(Debug, Clone, Default)]
pub struct ExecResult {
    /// Written to the stdout channel.
    pub stdout: String,
    /// Written to the stderr channel.
    pub stderr: String,
    /// 0 is reported as `Success` on the status channel; anything else as `NonZeroExitCode`.
    pub exit_code: i32,
}

impl ExecResult {
    /// Exit 0 with this stdout.
    pub fn ok(stdout: impl Into<String>) -> Self {
        Self {
            stdout: stdout.into(),
            ..Self::default()
        }
    }

    /// A non-zero exit with this stderr.
    pub fn failed(exit_code: i32, stderr: impl Into<String>) -> Self {
        Self {
            stderr: stderr.into(),
            exit_code,
            ..Self::default()
        }
    }
}

/// A scripted exec handler.
pub type ExecHandler = Arc<dyn Fn(&ExecCall) -> ExecResult + Send + Sync>;

/// How a Velero Restore ends.
#[derive(Debug, Clone, PartialEq)]
pub enum RestoreOutcome {
    /// `Completed` (warnings from existing objects may still be counted).
    Completed,
    /// `PartiallyFailed` with these extra warnings and errors (namespace, message).
    PartiallyFailed {
        /// Warning messages, per namespace ("" for cluster-scoped / Velero messages).
        warnings: Vec<(String, String)>,
        /// Error messages, per namespace.
        errors: Vec<(String, String)>,
    },
    /// `Failed` with this `failureReason`.
    Failed(String),
}

/// The script for Velero Restores.
#[derive(Debug, Clone)]
pub struct RestoreScript {
    /// How the restore ends.
    pub outcome: RestoreOutcome,
    /// Items restored per controller tick (so `progress.itemsRestored` visibly moves).
    pub items_per_step: usize,
    /// Time between ticks.
    pub step: Duration,
}

impl RestoreScript {
    /// The restore completes.
    pub fn completed() -> Self {
        Self {
            outcome: RestoreOutcome::Completed,
            items_per_step: 1,
            step: Duration::from_millis(40),
        }
    }

    /// The restore ends `PartiallyFailed`; each message is given as `(namespace, message)`.
    pub fn partially_failed(warnings: Vec<(&str, &str)>, errors: Vec<(&str, &str)>) -> Self {
        let own = |v: Vec<(&str, &str)>| {
            v.into_iter()
                .map(|(n, m)| (n.to_string(), m.to_string()))
                .collect()
        };
        Self {
            outcome: RestoreOutcome::PartiallyFailed {
                warnings: own(warnings),
                errors: own(errors),
            },
            ..Self::completed()
        }
    }

    /// The restore ends `Failed` with this reason.
    pub fn failed(reason: impl Into<String>) -> Self {
        Self {
            outcome: RestoreOutcome::Failed(reason.into()),
            ..Self::completed()
        }
    }
}

/// A backup as it sits in a location's bucket (what Velero's backup sync reads).
#[derive(Debug, Clone)]
pub struct StoredBackup {
    /// Backup name.
    pub name: String,
    /// `velero.io/schedule-name`, when the backup came from a schedule.
    pub schedule: Option<String>,
    /// The Kubernetes objects in the backup tarball.
    pub objects: Vec<Value>,
    /// `status.phase` recorded in `velero-backup.json`.
    pub phase: String,
    /// `status.startTimestamp` / `completionTimestamp` (RFC 3339); "now" when `None`.
    pub timestamp: Option<String>,
}

impl StoredBackup {
    /// A Completed backup holding `objects`.
    pub fn new(name: impl Into<String>, objects: Vec<Value>) -> Self {
        Self {
            name: name.into(),
            schedule: None,
            objects,
            phase: "Completed".into(),
            timestamp: None,
        }
    }

    /// Marks it as made by this schedule.
    pub fn from_schedule(mut self, schedule: impl Into<String>) -> Self {
        self.schedule = Some(schedule.into());
        self
    }

    /// Sets the phase recorded for it.
    pub fn phase(mut self, phase: impl Into<String>) -> Self {
        self.phase = phase.into();
        self
    }

    /// Sets its start/completion time.
    pub fn at(mut self, rfc3339: impl Into<String>) -> Self {
        self.timestamp = Some(rfc3339.into());
        self
    }
}

/// Everything the test scripted, consulted by the controllers and handlers.
#[derive(Default)]
pub struct Scripts {
    /// Pod scripts, most recent first wins.
    pub pods: Vec<(PodMatcher, JobScript)>,
    /// Logs for named pods (namespace, pod), overriding script logs.
    pub pod_logs: Vec<((String, String), String)>,
    /// Exec handlers, most recent first wins; `None` pod matches every pod.
    pub exec: Vec<(Option<String>, ExecHandler)>,
    /// Restore scripts by restore-name prefix ("" for all), most recent first wins.
    pub restores: Vec<(String, RestoreScript)>,
    /// Locations scripted Unavailable, with the message Velero would report.
    pub unavailable_locations: Vec<(String, String)>,
    /// How long workloads take to report their replicas ready.
    pub rollout_delay: Duration,
}

impl Scripts {
    /// The script for a pod, if any.
    pub fn pod_script(&self, owner_name: &str, pod: &Value) -> Option<JobScript> {
        self.pods
            .iter()
            .rev()
            .find(|(m, _)| m.matches(owner_name, pod))
            .map(|(_, s)| s.clone())
    }

    /// The script for a restore (completed by default).
    pub fn restore_script(&self, restore_name: &str) -> RestoreScript {
        self.restores
            .iter()
            .rev()
            .find(|(prefix, _)| restore_name.starts_with(prefix.as_str()))
            .map(|(_, s)| s.clone())
            .unwrap_or_else(RestoreScript::completed)
    }

    /// The exec handler for a pod.
    pub fn exec_handler(&self, pod: &str) -> Option<ExecHandler> {
        self.exec
            .iter()
            .rev()
            .find(|(p, _)| p.as_deref().is_none_or(|p| p == pod))
            .map(|(_, h)| h.clone())
    }
}
