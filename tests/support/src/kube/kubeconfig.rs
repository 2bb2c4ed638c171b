//! A kubeconfig pointing at the emulator: one cluster (plain http server URL), one user (a static
//! token, which the emulator accepts without checking), one context, selected as current.

use std::path::{Path, PathBuf};

/// The context, cluster and user name written to the kubeconfig.
pub const CONTEXT: &str = "runbook-emulator";

/// The kubeconfig text for a server URL.
pub fn render(server: &str, namespace: &str) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: {CONTEXT}
  cluster:
    server: {server}
users:
- name: {CONTEXT}
  user:
    token: emulator-token
contexts:
- name: {CONTEXT}
  context:
    cluster: {CONTEXT}
    user: {CONTEXT}
    namespace: {namespace}
current-context: {CONTEXT}
preferences: {{}}
"
    )
}

/// Writes the kubeconfig into `dir` and returns its path.
pub fn write(dir: &Path, server: &str) -> std::io::Result<PathBuf> {
    let path = dir.join("kubeconfig");
    std::fs::write(&path, render(server, "default"))?;
    Ok(path)
}
