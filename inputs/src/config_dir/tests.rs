//! Merge tests against `tests/fixtures/ck8s-config` (defaults + overrides) and small configs
//! written on the spot.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};

use super::*;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/ck8s-config");

fn fixture_config(cluster: Cluster) -> ClusterConfig {
    ClusterConfig::load(Path::new(FIXTURE), cluster).unwrap()
}

/// The file a key came from, relative to the fixture directory.
fn origin_of(config: &ClusterConfig, key: &str) -> Option<String> {
    config
        .origin(key)
        .map(|path| path.strip_prefix(FIXTURE).unwrap().display().to_string())
}

/// A config directory written for one test and removed afterwards.
struct ConfigDir(PathBuf);

impl ConfigDir {
    fn with_files(files: &[(&str, &str)]) -> ConfigDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "runbook-config-dir-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("defaults")).unwrap();
        for (name, text) in files {
            std::fs::write(dir.join(name), text).unwrap();
        }
        ConfigDir(dir)
    }
}

impl Drop for ConfigDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_bucket_set_only_in_defaults_is_found_with_its_origin() {
    let config = fixture_config(Cluster::Sc);
    assert_eq!(
        config.lookup("objectStorage.buckets.audit"),
        Some(&json!("ck8s-default-audit"))
    );
    assert_eq!(
        origin_of(&config, "objectStorage.buckets.audit").as_deref(),
        Some("defaults/sc-config.yaml")
    );
}

#[test]
fn later_files_win() {
    let config = fixture_config(Cluster::Sc);
    // defaults/sc-config.yaml < sc-config.yaml
    assert_eq!(
        config.lookup("objectStorage.buckets.influxDB"),
        Some(&json!("ck8s-test-influxdb"))
    );
    assert_eq!(
        origin_of(&config, "objectStorage.buckets.influxDB").as_deref(),
        Some("sc-config.yaml")
    );
    // defaults/common-config.yaml < common-config.yaml, and sc-config.yaml repeats it last.
    assert_eq!(
        config.lookup("global.opsDomain"),
        Some(&json!("ops.ck8s-test.example.invalid"))
    );
    assert_eq!(
        origin_of(&config, "global.opsDomain").as_deref(),
        Some("common-config.yaml")
    );
    assert_eq!(
        origin_of(&config, "objectStorage.s3.region").as_deref(),
        Some("sc-config.yaml")
    );
    assert_eq!(config.lookup("velero.enabled"), Some(&json!(true)));
}

#[test]
fn nested_mappings_are_merged_key_by_key() {
    let config = fixture_config(Cluster::Sc);
    let s3 = config.lookup("objectStorage.s3").unwrap();
    assert_eq!(
        s3,
        &json!({
            "region": "test-region-1",
            "regionEndpoint": "https://s3.test-region-1.example.invalid",
            "forcePathStyle": true,
            "v2Auth": false
        })
    );
    assert_eq!(
        origin_of(&config, "objectStorage.s3.v2Auth").as_deref(),
        Some("defaults/common-config.yaml")
    );
    assert_eq!(
        config.lookup("opensearch.snapshot.retentionAge"),
        Some(&json!("30d"))
    );
    assert_eq!(
        config.lookup("opensearch.snapshot.enabled"),
        Some(&json!(true))
    );
    assert_eq!(
        config.origin("objectStorage.s3"),
        None,
        "a mapping has no single origin"
    );
}

#[test]
fn lists_are_replaced_not_merged() {
    let config = fixture_config(Cluster::Sc);
    assert_eq!(
        config.lookup("objectStorage.sync.buckets"),
        Some(&json!([{
            "source": "ck8s-test-harbor",
            "destination": "ck8s-test-harbor-offsite",
            "schedule": "0 6 * * *"
        }]))
    );
    assert_eq!(
        origin_of(&config, "objectStorage.sync.buckets").as_deref(),
        Some("sc-config.yaml")
    );
    assert_eq!(
        config.lookup("velero.excludedNamespaces"),
        Some(&json!(["kube-system", "velero"]))
    );
}

#[test]
fn null_in_a_later_file_overrides_a_default() {
    let config = fixture_config(Cluster::Sc);
    assert_eq!(config.lookup("harbor.persistence"), Some(&Value::Null));
    assert_eq!(
        origin_of(&config, "harbor.persistence").as_deref(),
        Some("sc-config.yaml")
    );
    assert_eq!(config.lookup("harbor.persistence.type"), None);
}

#[test]
fn the_missing_key_message_lists_the_files_that_exist() {
    let sc = fixture_config(Cluster::Sc);
    assert_eq!(
        sc.missing_key_message("objectStorage.buckets.nonexistent"),
        "config key objectStorage.buckets.nonexistent is not set (looked in: \
         defaults/common-config.yaml, defaults/sc-config.yaml, common-config.yaml, sc-config.yaml)"
    );
    let error = sc.require("objectStorage.buckets.nonexistent").unwrap_err();
    assert!(
        matches!(&error, ConfigDirError::MissingKey { key, .. } if key == "objectStorage.buckets.nonexistent")
    );
    assert_eq!(
        error.to_string(),
        sc.missing_key_message("objectStorage.buckets.nonexistent")
    );
    assert_eq!(
        sc.require("objectStorage.buckets.audit").unwrap(),
        &json!("ck8s-default-audit")
    );

    // No defaults/wc-config.yaml and no wc-config.yaml in the fixture.
    let wc = fixture_config(Cluster::Wc);
    assert_eq!(
        wc.missing_key_message("objectStorage.buckets.audit"),
        "config key objectStorage.buckets.audit is not set (looked in: \
         defaults/common-config.yaml, common-config.yaml)"
    );
    assert_eq!(wc.lookup("objectStorage.buckets.audit"), None);
}

#[test]
fn the_missing_key_message_matches_the_documented_text() {
    let dir = ConfigDir::with_files(&[
        (
            "defaults/common-config.yaml",
            "objectStorage:\n  type: s3\n",
        ),
        (
            "defaults/sc-config.yaml",
            "objectStorage:\n  buckets:\n    harbor: h\n",
        ),
        (
            "common-config.yaml",
            "global:\n  baseDomain: example.invalid\n",
        ),
        (
            "sc-config.yaml",
            "objectStorage:\n  buckets:\n    harbor: h2\n",
        ),
    ]);
    let config = ClusterConfig::load(&dir.0, Cluster::Sc).unwrap();
    assert_eq!(
        config
            .require("objectStorage.buckets.influxDB")
            .unwrap_err()
            .to_string(),
        "config key objectStorage.buckets.influxDB is not set (looked in: \
         defaults/common-config.yaml, defaults/sc-config.yaml, common-config.yaml, sc-config.yaml)"
    );

    let empty = ConfigDir::with_files(&[]);
    let config = ClusterConfig::load(&empty.0, Cluster::Sc).unwrap();
    assert!(config.files_looked_in().is_empty());
    assert_eq!(
        config.missing_key_message("objectStorage.buckets.influxDB"),
        format!(
            "config key objectStorage.buckets.influxDB is not set (no config files found in {})",
            empty.0.display()
        )
    );
}

#[test]
fn malformed_yaml_names_file_line_and_column() {
    let dir = ConfigDir::with_files(&[
        ("common-config.yaml", "global:\n  baseDomain: ok\n"),
        ("sc-config.yaml", "objectStorage:\n  buckets: [harbor\n"),
    ]);
    let error = ClusterConfig::load(&dir.0, Cluster::Sc).unwrap_err();
    assert!(
        matches!(
            &error,
            ConfigDirError::Yaml {
                location: Some((2, 12)),
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!(
            "{}:2:12: malformed YAML: unclosed bracket '['",
            dir.0.join("sc-config.yaml").display()
        )
    );

    let dir = ConfigDir::with_files(&[("sc-config.yaml", "a: 1\na: 2\n")]);
    let error = ClusterConfig::load(&dir.0, Cluster::Sc)
        .unwrap_err()
        .to_string();
    assert!(error.ends_with("sc-config.yaml:2:1: malformed YAML: duplicate mapping key: a, set DuplicateKeyPolicy in Options if acceptable"), "{error}");

    let dir = ConfigDir::with_files(&[("sc-config.yaml", "- a\n- b\n")]);
    assert!(matches!(
        ClusterConfig::load(&dir.0, Cluster::Sc),
        Err(ConfigDirError::NotAMapping { .. })
    ));
}

#[test]
fn leaves_come_in_document_order_with_their_files() {
    let config = fixture_config(Cluster::Sc);
    let leaves: Vec<(String, Value, String)> = config
        .leaves()
        .map(|(path, value, file)| {
            (
                path,
                value.clone(),
                file.strip_prefix(FIXTURE).unwrap().display().to_string(),
            )
        })
        .collect();
    assert_eq!(
        leaves[..3],
        [
            (
                "global.baseDomain".to_string(),
                json!("ck8s-test.example.invalid"),
                "common-config.yaml".to_string()
            ),
            (
                "global.opsDomain".to_string(),
                json!("ops.ck8s-test.example.invalid"),
                "common-config.yaml".to_string()
            ),
            (
                "global.ck8sCloudProvider".to_string(),
                json!("none"),
                "defaults/common-config.yaml".to_string()
            ),
        ]
    );
    let find = |key: &str| leaves.iter().find(|(path, _, _)| path == key).cloned();
    assert_eq!(
        find("objectStorage.buckets.audit"),
        Some((
            "objectStorage.buckets.audit".to_string(),
            json!("ck8s-default-audit"),
            "defaults/sc-config.yaml".to_string()
        ))
    );
    assert_eq!(
        find("user.grafana.ingress"),
        Some((
            "user.grafana.ingress".to_string(),
            json!({}),
            "defaults/sc-config.yaml".to_string()
        )),
        "an empty mapping is listed as a leaf"
    );
    assert_eq!(
        find("objectStorage.sync.buckets")
            .map(|(_, _, file)| file)
            .as_deref(),
        Some("sc-config.yaml"),
        "a list is one leaf"
    );
    assert!(find("objectStorage.sync.buckets.source").is_none());
    // Every leaf can be looked up again by its path, and has the same origin.
    for (path, value, file) in &leaves {
        assert_eq!(config.lookup(path), Some(value), "{path}");
        assert_eq!(
            origin_of(&config, path).as_deref(),
            Some(file.as_str()),
            "{path}"
        );
    }
}

#[test]
fn files_are_merged_in_ck8s_order() {
    let config = fixture_config(Cluster::Sc);
    let files: Vec<PathBuf> = [
        "defaults/common-config.yaml",
        "defaults/sc-config.yaml",
        "common-config.yaml",
        "sc-config.yaml",
    ]
    .iter()
    .map(|name| Path::new(FIXTURE).join(name))
    .collect();
    assert_eq!(config.files_looked_in(), files.as_slice());
    assert_eq!(config.cluster(), Cluster::Sc);
    assert_eq!(
        secrets_path(Path::new(FIXTURE)),
        Path::new(FIXTURE).join("secrets.yaml")
    );
}

#[test]
fn keys_containing_dots_can_be_looked_up() {
    let dir = ConfigDir::with_files(&[(
        "sc-config.yaml",
        "ingress:\n  annotations:\n    nginx.ingress.kubernetes.io/proxy-body-size: \"0\"\n  nginx:\n    enabled: true\n",
    )]);
    let config = ClusterConfig::load(&dir.0, Cluster::Sc).unwrap();
    assert_eq!(
        config.lookup("ingress.annotations.nginx.ingress.kubernetes.io/proxy-body-size"),
        Some(&json!("0"))
    );
    assert_eq!(config.lookup("ingress.nginx.enabled"), Some(&json!(true)));
    assert_eq!(config.lookup("ingress.annotations.nginx"), None);
}

#[test]
fn scalars_are_read_as_helm_reads_them() {
    let dir = ConfigDir::with_files(&[
        (
            "common-config.yaml",
            "flags:\n  a: no\n  b: yes\n  c: \"no\"\n  d: True\nmode: 0644\nport: 8086\nratio: 0.5\nempty:\n",
        ),
        ("defaults/sc-config.yaml", ""),
        ("sc-config.yaml", "# only a comment: sets nothing\n"),
    ]);
    let config = ClusterConfig::load(&dir.0, Cluster::Sc).unwrap();
    assert_eq!(
        config.lookup("flags"),
        Some(&json!({"a": false, "b": true, "c": "no", "d": true}))
    );
    assert_eq!(config.lookup("mode"), Some(&json!(420)));
    assert_eq!(config.lookup("port"), Some(&json!(8086)));
    assert_eq!(config.lookup("ratio"), Some(&json!(0.5)));
    assert_eq!(config.lookup("empty"), Some(&Value::Null));
    assert_eq!(
        config.files_looked_in().len(),
        3,
        "empty files are read and set nothing"
    );
}

#[test]
fn clusters_parse_from_their_short_names() {
    assert_eq!("sc".parse::<Cluster>().unwrap(), Cluster::Sc);
    assert_eq!(" WC ".parse::<Cluster>().unwrap(), Cluster::Wc);
    assert_eq!(Cluster::Wc.to_string(), "wc");
    assert_eq!(
        "prod".parse::<Cluster>().unwrap_err().to_string(),
        "unknown cluster \"prod\": use sc (service cluster) or wc (workload cluster)"
    );
}

#[test]
fn a_missing_directory_is_an_error() {
    let error =
        ClusterConfig::load(Path::new("/nonexistent/ck8s-config"), Cluster::Sc).unwrap_err();
    assert_eq!(
        error.to_string(),
        "config directory /nonexistent/ck8s-config does not exist: pass --config-dir or set CK8S_CONFIG_PATH"
    );
}
