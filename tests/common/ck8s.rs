//! A Compliant Kubernetes config directory for the shipped runbooks' tests: the reference example
//! (tests/fixtures/ck8s-config-example) copied into the workspace with its object-storage
//! endpoints pointed at the test's S3 servers, and the cluster's kubeconfig where `ck8s` keeps it
//! (`.state/kube_config_sc.yaml`), so the runbooks run exactly as an operator runs them:
//! `runbook run runbooks/<service>/<runbook>.yaml --config-dir <dir> --cluster sc`.

use std::path::{Path, PathBuf};

use super::Workspace;

/// The endpoints in the reference example that tests replace.
const MAIN_S3: &str = "https://s3.test-region-1.example.invalid";
const OFFSITE_S3: &str = "https://s3.offsite-region-1.example.invalid";

/// Where the shipped runbooks live.
pub fn shipped(relative: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("runbooks")
        .join(relative)
        .display()
        .to_string()
}

pub struct Ck8sConfig {
    pub dir: PathBuf,
}

impl Ck8sConfig {
    /// `--config-dir DIR --cluster sc`, to append to a command line.
    pub fn args(&self) -> [String; 4] {
        [
            "--config-dir".into(),
            self.dir.display().to_string(),
            "--cluster".into(),
            "sc".into(),
        ]
    }

    /// Replaces `from` with `to` in one of the config files (for a test's own settings).
    pub fn edit(&self, file: &str, from: &str, to: &str) {
        let path = self.dir.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file} has no `{from}`");
        std::fs::write(&path, text.replace(from, to)).unwrap();
    }
}

impl Workspace {
    /// `runbook run runbooks/<runbook> --yes --config-dir … --cluster sc <extra>`.
    pub fn run_shipped(&self, config: &Ck8sConfig, runbook: &str, extra: &[&str]) -> super::Ran {
        let file = shipped(runbook);
        let mut args = vec!["run", file.as_str(), "--yes"];
        let config_args = config.args();
        args.extend(config_args.iter().map(String::as_str));
        args.extend(extra);
        self.runbook(&args)
    }

    /// The reference config in `config/`, its main and off-site S3 endpoints replaced (when
    /// given) and `kubeconfig` copied to `.state/kube_config_sc.yaml` (when given).
    pub fn ck8s_config(
        &self,
        main_s3: Option<&str>,
        offsite_s3: Option<&str>,
        kubeconfig: Option<&Path>,
    ) -> Ck8sConfig {
        let source =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ck8s-config-example");
        let dir = self.path("config");
        std::fs::create_dir_all(dir.join(".state")).unwrap();
        for file in ["common-config.yaml", "sc-config.yaml", "secrets.yaml"] {
            let mut text = std::fs::read_to_string(source.join(file)).unwrap();
            if let Some(url) = main_s3 {
                text = text.replace(MAIN_S3, url);
            }
            if let Some(url) = offsite_s3 {
                text = text.replace(OFFSITE_S3, url);
            }
            std::fs::write(dir.join(file), text).unwrap();
        }
        if let Some(k) = kubeconfig {
            std::fs::copy(k, dir.join(".state/kube_config_sc.yaml")).unwrap();
        }
        Ck8sConfig { dir }
    }
}
