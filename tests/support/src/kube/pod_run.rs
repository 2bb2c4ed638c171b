//! What a scripted pod's containers would see when the kubelet starts them: the environment
//! resolved from Secrets and ConfigMaps, and the files of mounted ConfigMap and Secret volumes.
//! A reference to a missing object or key leaves the variable or file out, as an `optional`
//! reference would (a real kubelet would keep the pod in `CreateContainerConfigError`).

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::Value;

use super::meta::namespace_of;
use super::resources;
use super::script::PodRun;
use super::store::Store;

/// Reads the Secret or ConfigMap `name` as a map of decoded strings.
fn object_data(store: &Store, kind: &str, namespace: &str, name: &str) -> BTreeMap<String, String> {
    let Some(rt) = resources::by_kind("v1", kind) else {
        return BTreeMap::new();
    };
    let Some(obj) = store.get(rt, namespace, name) else {
        return BTreeMap::new();
    };
    let mut out = BTreeMap::new();
    for (k, v) in obj["data"].as_object().into_iter().flatten() {
        let text = v.as_str().unwrap_or_default();
        let value = if kind == "Secret" {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .unwrap_or_default()
        } else {
            text.to_string()
        };
        out.insert(k.clone(), value);
    }
    out
}

fn containers(pod: &Value) -> impl Iterator<Item = &Value> {
    pod["spec"]["initContainers"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(pod["spec"]["containers"].as_array().into_iter().flatten())
}

fn env_of(store: &Store, ns: &str, pod: &Value) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for c in containers(pod) {
        for from in c["envFrom"].as_array().into_iter().flatten() {
            let prefix = from["prefix"].as_str().unwrap_or_default();
            let (kind, name) = if let Some(n) = from["secretRef"]["name"].as_str() {
                ("Secret", n)
            } else if let Some(n) = from["configMapRef"]["name"].as_str() {
                ("ConfigMap", n)
            } else {
                continue;
            };
            for (k, v) in object_data(store, kind, ns, name) {
                env.insert(format!("{prefix}{k}"), v);
            }
        }
        for var in c["env"].as_array().into_iter().flatten() {
            let Some(name) = var["name"].as_str() else {
                continue;
            };
            let from = &var["valueFrom"];
            let value = if let Some(v) = var["value"].as_str() {
                Some(v.to_string())
            } else if from["secretKeyRef"].is_object() {
                let r = &from["secretKeyRef"];
                object_data(store, "Secret", ns, r["name"].as_str().unwrap_or_default())
                    .remove(r["key"].as_str().unwrap_or_default())
            } else if from["configMapKeyRef"].is_object() {
                let r = &from["configMapKeyRef"];
                object_data(
                    store,
                    "ConfigMap",
                    ns,
                    r["name"].as_str().unwrap_or_default(),
                )
                .remove(r["key"].as_str().unwrap_or_default())
            } else {
                None
            };
            if let Some(v) = value {
                env.insert(name.to_string(), v);
            }
        }
    }
    env
}

fn files_of(store: &Store, ns: &str, pod: &Value) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    for volume in pod["spec"]["volumes"].as_array().into_iter().flatten() {
        let (kind, source) = if volume["configMap"].is_object() {
            ("ConfigMap", &volume["configMap"])
        } else if volume["secret"].is_object() {
            ("Secret", &volume["secret"])
        } else {
            continue;
        };
        let name = source["name"]
            .as_str()
            .or_else(|| source["secretName"].as_str())
            .unwrap_or_default();
        let data = object_data(store, kind, ns, name);
        let items: Vec<(String, String)> = match source["items"].as_array() {
            Some(items) => items
                .iter()
                .filter_map(|i| Some((i["key"].as_str()?.into(), i["path"].as_str()?.into())))
                .collect(),
            None => data.keys().map(|k| (k.clone(), k.clone())).collect(),
        };
        let volume_name = volume["name"].as_str().unwrap_or_default();
        for c in containers(pod) {
            for mount in c["volumeMounts"].as_array().into_iter().flatten() {
                if mount["name"].as_str() != Some(volume_name) {
                    continue;
                }
                let dir = mount["mountPath"]
                    .as_str()
                    .unwrap_or_default()
                    .trim_end_matches('/');
                for (key, path) in &items {
                    if let Some(content) = data.get(key) {
                        match mount["subPath"].as_str() {
                            Some(sub) if sub == path => {
                                files.insert(dir.to_string(), content.clone());
                            }
                            Some(_) => {}
                            None => {
                                files.insert(format!("{dir}/{path}"), content.clone());
                            }
                        }
                    }
                }
            }
        }
    }
    files
}

/// What `pod`'s containers see, read from the store now.
pub fn pod_run(store: &Store, pod: &Value) -> PodRun {
    let ns = namespace_of(pod);
    PodRun {
        pod: pod.clone(),
        env: env_of(store, ns, pod),
        files: files_of(store, ns, pod),
    }
}
