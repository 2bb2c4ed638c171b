//! From a `kubernetes` connection (or `KUBECONFIG`, or the default kubeconfig) to a `kube::Client`.
//!
//! A kubeconfig may be sops-encrypted (Compliant Kubernetes keeps `.state/kube_config_sc.yaml`
//! that way): it is decrypted in memory and never written to disk. Clients are shared by the
//! steps of a run, so discovery and connections are reused.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};
use runbook_engine::kind::{StepContext, StepError};
use runbook_inputs::sops::{self, Format, KeySources};

/// A connected client and the namespace steps use when they name none.
#[derive(Clone)]
pub struct Cluster {
    pub client: Client,
    pub default_namespace: String,
}

impl Cluster {
    /// The namespace from the step's inputs, else the connection's or kubeconfig context's.
    pub fn namespace(&self, from_inputs: Option<&str>) -> String {
        from_inputs
            .filter(|n| !n.is_empty())
            .unwrap_or(&self.default_namespace)
            .to_string()
    }
}

/// Where the cluster's credentials come from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Source {
    kubeconfig: Option<PathBuf>,
    context: Option<String>,
    namespace: Option<String>,
    insecure: bool,
}

fn cache() -> &'static Mutex<HashMap<(String, Source), Cluster>> {
    static CACHE: OnceLock<Mutex<HashMap<(String, Source), Cluster>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// The cluster a step talks to: its `connection` (which must be a `kubernetes` one), else the
/// only `kubernetes` connection the runbook declares, else `KUBECONFIG` / `~/.kube/config`.
pub async fn connect(ctx: &StepContext, connection: Option<&str>) -> Result<Cluster, StepError> {
    let source = source(ctx, connection)?;
    // Keyed by run as well: a client belongs to the tokio runtime that made it.
    let key = (ctx.run_id.clone(), source.clone());
    if let Some(cluster) = cache().lock().expect("client cache").get(&key) {
        return Ok(cluster.clone());
    }
    let cluster = build(&source).await?;
    cache()
        .lock()
        .expect("client cache")
        .insert(key, cluster.clone());
    Ok(cluster)
}

fn source(ctx: &StepContext, connection: Option<&str>) -> Result<Source, StepError> {
    let chosen = match connection {
        Some(name) => {
            let c = ctx.connection(name)?;
            if c.kind != "kubernetes" {
                return Err(StepError::permanent(format!(
                    "connection `{name}` is a `{}` connection; Kubernetes steps need `kind: kubernetes`",
                    c.kind
                )));
            }
            Some(c)
        }
        None => {
            let mut kube_connections = ctx.connections.0.iter().filter(|c| c.kind == "kubernetes");
            match (kube_connections.next(), kube_connections.next()) {
                (Some(only), None) => Some(only),
                (Some(_), Some(_)) => {
                    return Err(StepError::permanent(
                        "the runbook declares several `kubernetes` connections; name one with `connection:`",
                    ));
                }
                _ => None,
            }
        }
    };
    Ok(match chosen {
        Some(c) => Source {
            kubeconfig: c
                .str("kubeconfig")
                .filter(|p| !p.is_empty())
                .map(|p| ctx.path(p)),
            context: c
                .str("context")
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            namespace: c
                .str("namespace")
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            insecure: c.insecure(),
        },
        None => Source {
            kubeconfig: None,
            context: None,
            namespace: None,
            insecure: false,
        },
    })
}

async fn build(source: &Source) -> Result<Cluster, StepError> {
    let path = source.kubeconfig.clone().or_else(|| {
        // A single KUBECONFIG file goes through our loader too, so it may be sops-encrypted.
        std::env::var_os("KUBECONFIG")
            .filter(|v| !v.is_empty() && !v.to_string_lossy().contains(':'))
            .map(PathBuf::from)
    });
    let mut config = match &path {
        Some(path) => {
            let kubeconfig = read_kubeconfig(path)?;
            let options = KubeConfigOptions { context: source.context.clone(), ..Default::default() };
            kube::Config::from_custom_kubeconfig(kubeconfig, &options).await.map_err(|e| {
                StepError::permanent(format!("kubeconfig {}: {e}", path.display()))
            })?
        }
        None if source.context.is_some() => {
            let options = KubeConfigOptions { context: source.context.clone(), ..Default::default() };
            kube::Config::from_kubeconfig(&options)
                .await
                .map_err(|e| StepError::permanent(format!("the default kubeconfig: {e}")))?
        }
        None => kube::Config::infer().await.map_err(|e| {
            StepError::permanent(format!(
                "no Kubernetes credentials: declare a `kubernetes` connection with `kubeconfig:`, or set KUBECONFIG ({e})"
            ))
        })?,
    };
    if source.insecure {
        config.accept_invalid_certs = true;
    }
    let default_namespace = source
        .namespace
        .clone()
        .unwrap_or_else(|| config.default_namespace.clone());
    let client = Client::try_from(config)
        .map_err(|e| StepError::permanent(format!("cannot build a Kubernetes client: {e}")))?;
    Ok(Cluster {
        client,
        default_namespace,
    })
}

/// Reads a kubeconfig, decrypting it in memory when it is a sops file.
fn read_kubeconfig(path: &Path) -> Result<Kubeconfig, StepError> {
    let text = runbook_engine::input_file::read_text(path)
        .map_err(|e| StepError::permanent(format!("kubeconfig: {e}")))?;
    if sops::is_encrypted(&text, Format::Yaml) {
        // Kubeconfigs often have no extension: they are YAML whatever the name says.
        let value =
            sops::decrypt_str(&text, Format::Yaml, path, &KeySources::from_env()).map_err(|e| {
                StepError::permanent(format!(
                    "cannot decrypt the sops-encrypted kubeconfig {}: {e}",
                    path.display()
                ))
            })?;
        return serde_json::from_value(value).map_err(|e| {
            StepError::permanent(format!("kubeconfig {} (decrypted): {e}", path.display()))
        });
    }
    Kubeconfig::from_yaml(&text)
        .map_err(|e| StepError::permanent(format!("kubeconfig {}: {e}", path.display())))
}
