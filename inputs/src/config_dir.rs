//! A Compliant Kubernetes config directory (`$CK8S_CONFIG_PATH`), read the way its tooling
//! reads it.
//!
//! The config of a cluster is the deep merge, lowest precedence first, of
//! `defaults/common-config.yaml`, `defaults/<cluster>-config.yaml`, `common-config.yaml` and
//! `<cluster>-config.yaml` (ck8s' `merge_config`: yq v3 `merge --overwrite --arrays
//! overwrite`). Mappings merge key by key; anything else in a later file, lists and `null`
//! included, replaces what came before; missing files are skipped. Every leaf remembers the
//! file it came from, so `runbook config show` and error messages can say where a value is set.
//!
//! Scalars are read with YAML 1.1 rules (`yes`/`no`/`on`/`off` are booleans, `0755` is octal)
//! because that is how Helm, the consumer of these files, reads them: `enabled: no` must not
//! become the (truthy) string "no" in a runbook.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde_json::{Map, Value};
use serde_saphyr::{NonFiniteFloatPolicy, Options};

use crate::error::ConfigDirError;

/// Which cluster's config to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cluster {
    /// The service cluster.
    Sc,
    /// The workload cluster.
    Wc,
}

impl Cluster {
    pub fn as_str(self) -> &'static str {
        match self {
            Cluster::Sc => "sc",
            Cluster::Wc => "wc",
        }
    }
}

impl fmt::Display for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Cluster {
    type Err = ConfigDirError;

    fn from_str(text: &str) -> Result<Cluster, ConfigDirError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "sc" => Ok(Cluster::Sc),
            "wc" => Ok(Cluster::Wc),
            _ => Err(ConfigDirError::UnknownCluster {
                given: text.to_string(),
            }),
        }
    }
}

/// Where each value of the merged config came from, mirroring its shape: mappings have
/// children, everything else (scalars, null, lists) is a leaf set by one file.
#[derive(Debug)]
enum Provenance {
    Leaf(usize),
    /// `set_by` is the file that introduced the mapping; it is the origin of an empty one.
    Map {
        set_by: usize,
        children: HashMap<String, Provenance>,
    },
}

impl Provenance {
    fn of(value: &Value, file: usize) -> Provenance {
        match value {
            Value::Object(map) => Provenance::Map {
                set_by: file,
                children: map
                    .iter()
                    .map(|(key, child)| (key.clone(), Provenance::of(child, file)))
                    .collect(),
            },
            _ => Provenance::Leaf(file),
        }
    }

    /// The file of a leaf, or of an empty mapping; `None` for a mapping with keys.
    fn leaf_file(&self, value: &Value) -> Option<usize> {
        match self {
            Provenance::Leaf(file) => Some(*file),
            Provenance::Map { set_by, .. } if value.as_object().is_some_and(Map::is_empty) => {
                Some(*set_by)
            }
            Provenance::Map { .. } => None,
        }
    }
}

/// The merged config of one cluster, with the origin of every leaf.
#[derive(Debug)]
pub struct ClusterConfig {
    dir: PathBuf,
    cluster: Cluster,
    value: Value,
    provenance: Provenance,
    /// The config files that exist, in merge order (full paths).
    files: Vec<PathBuf>,
    /// The same files relative to `dir`, for messages.
    relative_files: Vec<String>,
}

impl ClusterConfig {
    /// Reads and merges the config files of `cluster` in `dir`.
    pub fn load(dir: &Path, cluster: Cluster) -> Result<ClusterConfig, ConfigDirError> {
        if !dir.is_dir() {
            return Err(ConfigDirError::DirNotFound {
                dir: dir.to_path_buf(),
            });
        }
        let mut config = ClusterConfig {
            dir: dir.to_path_buf(),
            cluster,
            value: Value::Object(Map::new()),
            provenance: Provenance::Map {
                set_by: 0,
                children: HashMap::new(),
            },
            files: Vec::new(),
            relative_files: Vec::new(),
        };
        for relative in merge_order(cluster) {
            let path = dir.join(&relative);
            let text = match runbook_engine::input_file::read_text(&path) {
                Ok(text) => text,
                Err(error) if error.is_not_found() => continue,
                Err(error) => return Err(ConfigDirError::Input(error)),
            };
            let overlay = parse_config_file(&text, &path)?;
            let file = config.files.len();
            config.files.push(path);
            config.relative_files.push(relative);
            merge(&mut config.value, &mut config.provenance, overlay, file);
        }
        Ok(config)
    }

    pub fn cluster(&self) -> Cluster {
        self.cluster
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The merged config.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The value at a dotted path such as `objectStorage.buckets.influxDB`. A key that itself
    /// contains dots (an annotation name, say) is found too. An explicit `null` is `Some(Null)`.
    pub fn lookup(&self, dotted: &str) -> Option<&Value> {
        let keys = resolve_keys(&self.value, dotted)?;
        keys.iter()
            .try_fold(&self.value, |value, key| value.as_object()?.get(*key))
    }

    /// The file a leaf (scalar, null, list or empty mapping) came from; `None` for a missing
    /// key or a mapping with keys (its leaves may come from several files).
    pub fn origin(&self, dotted: &str) -> Option<&Path> {
        let keys = resolve_keys(&self.value, dotted)?;
        let mut value = &self.value;
        let mut provenance = &self.provenance;
        for key in keys {
            value = value.as_object()?.get(key)?;
            provenance = match provenance {
                Provenance::Map { children, .. } => children.get(key)?,
                Provenance::Leaf(_) => return None,
            };
        }
        provenance
            .leaf_file(value)
            .map(|file| self.files[file].as_path())
    }

    /// The config files that exist and were merged, lowest precedence first.
    pub fn files_looked_in(&self) -> &[PathBuf] {
        &self.files
    }

    /// [`Self::files_looked_in`] relative to the directory, as messages name them.
    pub fn relative_files_looked_in(&self) -> &[String] {
        &self.relative_files
    }

    /// Every leaf in document order: its dotted path, value and file.
    pub fn leaves(&self) -> impl Iterator<Item = (String, &Value, &Path)> {
        let mut leaves = Vec::new();
        collect_leaves(&self.value, &self.provenance, String::new(), &mut leaves);
        leaves
            .into_iter()
            .map(|(path, value, file)| (path, value, self.files[file].as_path()))
    }

    /// The value at `dotted`, or [`ConfigDirError::MissingKey`].
    pub fn require(&self, dotted: &str) -> Result<&Value, ConfigDirError> {
        self.lookup(dotted)
            .ok_or_else(|| ConfigDirError::MissingKey {
                key: dotted.to_string(),
                message: self.missing_key_message(dotted),
            })
    }

    /// `config key objectStorage.buckets.influxDB is not set (looked in: defaults/common-config.yaml,
    /// defaults/sc-config.yaml, common-config.yaml, sc-config.yaml)`, listing the files that
    /// exist, or `(no config files found in DIR)`.
    pub fn missing_key_message(&self, dotted: &str) -> String {
        if self.relative_files.is_empty() {
            format!(
                "config key {dotted} is not set (no config files found in {})",
                self.dir.display()
            )
        } else {
            format!(
                "config key {dotted} is not set (looked in: {})",
                self.relative_files.join(", ")
            )
        }
    }
}

/// The secrets file of a config directory (sops-encrypted in a real environment).
pub fn secrets_path(dir: &Path) -> PathBuf {
    dir.join("secrets.yaml")
}

/// The kubeconfig ck8s keeps for a cluster in its config directory.
pub fn kubeconfig_path(dir: &Path, cluster: Cluster) -> PathBuf {
    dir.join(".state")
        .join(format!("kube_config_{}.yaml", cluster.as_str()))
}

/// The four files, lowest precedence first, relative to the config directory.
fn merge_order(cluster: Cluster) -> [String; 4] {
    let cluster = cluster.as_str();
    [
        "defaults/common-config.yaml".to_string(),
        format!("defaults/{cluster}-config.yaml"),
        "common-config.yaml".to_string(),
        format!("{cluster}-config.yaml"),
    ]
}

fn parse_config_file(text: &str, path: &Path) -> Result<Value, ConfigDirError> {
    let mut options = Options::default();
    // YAML 1.1 scalars, as Helm reads them (see the module comment).
    options.legacy_octal_numbers = true;
    options.non_finite_float_policy = NonFiniteFloatPolicy::AsString;
    options.with_snippet = false;
    let value: Value = serde_saphyr::from_str_with_options(text, options).map_err(|error| {
        ConfigDirError::Yaml {
            path: path.to_path_buf(),
            location: error.location().map(|at| (at.line(), at.column())),
            message: message_without_location(&error.to_string()),
        }
    })?;
    match value {
        // An empty or comment-only file sets nothing.
        Value::Null => Ok(Value::Object(Map::new())),
        Value::Object(_) => Ok(value),
        _ => Err(ConfigDirError::NotAMapping {
            path: path.to_path_buf(),
        }),
    }
}

/// serde-saphyr appends " at line L, column C"; the location is reported separately.
fn message_without_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_string(),
        None => message.to_string(),
    }
}

/// Merges `overlay` (from file number `file`) into `target`: mappings key by key, anything
/// else replaced. New keys keep the order they have in the overlay, after existing ones.
fn merge(target: &mut Value, provenance: &mut Provenance, overlay: Value, file: usize) {
    match (target, overlay) {
        (Value::Object(target_map), Value::Object(overlay_map)) => {
            let Provenance::Map { children, .. } = provenance else {
                unreachable!("a mapping's provenance is always a map");
            };
            for (key, value) in overlay_map {
                match (target_map.get_mut(&key), children.get_mut(&key)) {
                    (Some(existing), Some(existing_provenance))
                        if existing.is_object() && value.is_object() =>
                    {
                        merge(existing, existing_provenance, value, file);
                    }
                    _ => {
                        children.insert(key.clone(), Provenance::of(&value, file));
                        target_map.insert(key, value);
                    }
                }
            }
        }
        (target, overlay) => {
            *provenance = Provenance::of(&overlay, file);
            *target = overlay;
        }
    }
}

/// The actual keys a dotted path names. Keys are split at dots, but a key that contains dots
/// matches too: at each level the shortest key that leads to a match wins.
fn resolve_keys<'a>(value: &'a Value, dotted: &str) -> Option<Vec<&'a str>> {
    if dotted.is_empty() {
        return Some(Vec::new());
    }
    let map = value.as_object()?;
    let ends = dotted
        .match_indices('.')
        .map(|(index, _)| index)
        .chain(std::iter::once(dotted.len()));
    for end in ends {
        let Some((key, child)) = map.get_key_value(&dotted[..end]) else {
            continue;
        };
        if end == dotted.len() {
            return Some(vec![key.as_str()]);
        }
        if let Some(mut rest) = resolve_keys(child, &dotted[end + 1..]) {
            rest.insert(0, key.as_str());
            return Some(rest);
        }
    }
    None
}

fn collect_leaves<'a>(
    value: &'a Value,
    provenance: &Provenance,
    path: String,
    leaves: &mut Vec<(String, &'a Value, usize)>,
) {
    if let (Value::Object(map), Provenance::Map { children, .. }) = (value, provenance)
        && !map.is_empty()
    {
        for (key, child) in map {
            let child_path = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            if let Some(child_provenance) = children.get(key) {
                collect_leaves(child, child_provenance, child_path, leaves);
            }
        }
        return;
    }
    if let Some(file) = provenance.leaf_file(value) {
        leaves.push((path, value, file));
    }
}

#[cfg(test)]
#[path = "config_dir/tests.rs"]
mod tests;
