//! Defaulting, as the apiserver does it before validation: the `SetDefaults_*` functions of
//! the built-in kinds (applied on every write, so that a client never sees an object without
//! them), and what the registries fill on create only (a Job's generated selector and pod
//! labels, a Service's cluster IP, the initial status of pods, namespaces and volumes).
//!
//! Only the defaults that kinds, runbooks or kubectl read are filled; the rest of upstream's
//! defaults (probes, security contexts, ...) are left out.

use serde_json::{Value, json};

use super::meta;
use super::resources::ResourceType;

fn set(obj: &mut Value, key: &str, value: Value) {
    if obj.is_object() && obj[key].is_null() {
        obj[key] = value;
    }
}

/// `SetDefaults_PodSpec` and `SetDefaults_Container`, for pods and pod templates.
fn pod_spec(spec: &mut Value) {
    if !spec.is_object() {
        return;
    }
    set(spec, "restartPolicy", json!("Always"));
    set(spec, "dnsPolicy", json!("ClusterFirst"));
    set(spec, "schedulerName", json!("default-scheduler"));
    set(spec, "terminationGracePeriodSeconds", json!(30));
    set(spec, "securityContext", json!({}));
    for list in ["containers", "initContainers"] {
        let Some(containers) = spec[list].as_array_mut() else {
            continue;
        };
        for c in containers {
            set(c, "terminationMessagePath", json!("/dev/termination-log"));
            set(c, "terminationMessagePolicy", json!("File"));
            let image = c["image"].as_str().unwrap_or_default().to_string();
            let tag = image.rsplit('/').next().unwrap_or_default();
            let latest = !tag.contains(':') || tag.ends_with(":latest");
            let policy = if latest && !image.contains('@') {
                "Always"
            } else {
                "IfNotPresent"
            };
            set(c, "imagePullPolicy", json!(policy));
            if let Some(ports) = c["ports"].as_array_mut() {
                for p in ports {
                    set(p, "protocol", json!("TCP"));
                }
            }
        }
    }
}

fn template(spec: &mut Value) {
    if spec["template"]["spec"].is_object() {
        pod_spec(&mut spec["template"]["spec"]);
    }
}

/// The defaults of a kind, applied on create and on every update.
pub fn apply(rt: &ResourceType, obj: &mut Value) {
    let had_spec = obj.get("spec").is_some();
    apply_to_spec(rt, obj);
    // Indexing `obj["spec"]` inserts a null into kinds without one (ConfigMap): drop it.
    if !had_spec
        && obj.get("spec").is_some_and(Value::is_null)
        && let Some(o) = obj.as_object_mut()
    {
        o.remove("spec");
    }
}

fn apply_to_spec(rt: &ResourceType, obj: &mut Value) {
    let spec = &mut obj["spec"];
    match (rt.group, rt.kind) {
        ("apps", "Deployment") if spec.is_object() => {
            set(spec, "replicas", json!(1));
            set(spec, "strategy", json!({"type": "RollingUpdate"}));
            if spec["strategy"]["type"].is_null() {
                spec["strategy"]["type"] = json!("RollingUpdate");
            }
            if spec["strategy"]["type"] == "RollingUpdate" {
                let ru = &mut spec["strategy"]["rollingUpdate"];
                if ru.is_null() {
                    *ru = json!({});
                }
                set(ru, "maxUnavailable", json!("25%"));
                set(ru, "maxSurge", json!("25%"));
            }
            set(spec, "revisionHistoryLimit", json!(10));
            set(spec, "progressDeadlineSeconds", json!(600));
            template(spec);
        }
        ("apps", "StatefulSet") if spec.is_object() => {
            set(spec, "replicas", json!(1));
            set(spec, "podManagementPolicy", json!("OrderedReady"));
            set(spec, "updateStrategy", json!({"type": "RollingUpdate"}));
            if spec["updateStrategy"]["type"] == "RollingUpdate" {
                set(
                    &mut spec["updateStrategy"],
                    "rollingUpdate",
                    json!({"partition": 0}),
                );
            }
            set(spec, "revisionHistoryLimit", json!(10));
            set(
                spec,
                "persistentVolumeClaimRetentionPolicy",
                json!({"whenDeleted": "Retain", "whenScaled": "Retain"}),
            );
            if let Some(claims) = spec["volumeClaimTemplates"].as_array_mut() {
                for c in claims {
                    set(&mut c["spec"], "volumeMode", json!("Filesystem"));
                }
            }
            template(spec);
        }
        ("apps", "ReplicaSet") if spec.is_object() => {
            set(spec, "replicas", json!(1));
            template(spec);
        }
        ("apps", "DaemonSet") if spec.is_object() => {
            set(
                spec,
                "updateStrategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}),
            );
            set(spec, "revisionHistoryLimit", json!(10));
            template(spec);
        }
        ("batch", "Job") if spec.is_object() => {
            for (k, v) in [("backoffLimit", 6), ("completions", 1), ("parallelism", 1)] {
                set(spec, k, json!(v));
            }
            set(spec, "completionMode", json!("NonIndexed"));
            set(spec, "suspend", json!(false));
            if spec["podFailurePolicy"].is_null() {
                set(spec, "podReplacementPolicy", json!("TerminatingOrFailed"));
            }
            template(spec);
        }
        ("batch", "CronJob") if spec.is_object() => {
            set(spec, "concurrencyPolicy", json!("Allow"));
            set(spec, "suspend", json!(false));
            set(spec, "successfulJobsHistoryLimit", json!(3));
            set(spec, "failedJobsHistoryLimit", json!(1));
            let job_spec = &mut spec["jobTemplate"]["spec"];
            if job_spec.is_object() {
                template(job_spec);
            }
        }
        ("", "Pod") => pod_spec(spec),
        ("", "Service") if spec.is_object() => {
            set(spec, "type", json!("ClusterIP"));
            set(spec, "sessionAffinity", json!("None"));
            if spec["type"] != "ExternalName" {
                set(spec, "internalTrafficPolicy", json!("Cluster"));
            }
            if let Some(ports) = spec["ports"].as_array_mut() {
                for p in ports {
                    set(p, "protocol", json!("TCP"));
                    let port = p["port"].clone();
                    set(p, "targetPort", port);
                }
            }
        }
        ("", "PersistentVolumeClaim") if spec.is_object() => {
            set(spec, "volumeMode", json!("Filesystem"));
        }
        ("", "PersistentVolume") if spec.is_object() => {
            set(spec, "persistentVolumeReclaimPolicy", json!("Retain"));
            set(spec, "volumeMode", json!("Filesystem"));
        }
        ("", "Secret") => set(obj, "type", json!("Opaque")),
        _ => {}
    }
}

/// A cluster IP from the service CIDR (10.96.0.0/12), unique enough for one test cluster.
fn allocate_cluster_ip() -> String {
    let n = meta::new_uid();
    let bytes: Vec<u8> = n.bytes().filter(u8::is_ascii_hexdigit).take(4).collect();
    let hex = |b: u8| (b as char).to_digit(16).unwrap_or(0);
    let (a, b) = (
        hex(bytes[0]) * 16 + hex(bytes[1]),
        hex(bytes[2]) * 16 + hex(bytes[3]),
    );
    format!("10.96.{}.{}", a, b.clamp(1, 254))
}

/// What the registries fill on create only, after [`apply`]; `metadata.uid` is already set.
pub fn on_create(rt: &ResourceType, obj: &mut Value) {
    match (rt.group, rt.kind) {
        ("batch", "Job") => {
            // The Job strategy's generateSelector: pods are labelled with the Job's uid and
            // name, and the selector is the uid, unless the client chose `manualSelector`.
            let uid = meta::uid_of(obj).to_string();
            let name = meta::name_of(obj).to_string();
            if obj["spec"]["manualSelector"] != json!(true) {
                let labels = &mut obj["spec"]["template"]["metadata"]["labels"];
                if !labels.is_object() {
                    *labels = json!({});
                }
                for (k, v) in [
                    ("batch.kubernetes.io/controller-uid", &uid),
                    ("batch.kubernetes.io/job-name", &name),
                    ("controller-uid", &uid),
                    ("job-name", &name),
                ] {
                    labels[k] = json!(v);
                }
                if obj["spec"]["selector"].is_null() {
                    obj["spec"]["selector"] =
                        json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}});
                }
            }
        }
        ("", "Service") => {
            let spec = &mut obj["spec"];
            if spec["type"] != "ExternalName" && spec["clusterIP"].is_null() {
                let ip = allocate_cluster_ip();
                spec["clusterIP"] = json!(ip);
                spec["clusterIPs"] = json!([ip]);
            } else if spec["clusterIPs"].is_null() && spec["clusterIP"].is_string() {
                spec["clusterIPs"] = json!([spec["clusterIP"].clone()]);
            }
            if spec["type"] != "ExternalName" {
                set(spec, "ipFamilies", json!(["IPv4"]));
                set(spec, "ipFamilyPolicy", json!("SingleStack"));
            }
            obj["status"] = json!({"loadBalancer": {}});
        }
        ("", "Pod") => {
            obj["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"});
        }
        ("", "Namespace") => {
            obj["spec"] = json!({"finalizers": ["kubernetes"]});
            obj["status"] = json!({"phase": "Active"});
        }
        ("", "PersistentVolumeClaim") => {
            meta::add_finalizer(obj, "kubernetes.io/pvc-protection");
            obj["status"] = json!({"phase": "Pending"});
        }
        ("", "PersistentVolume") => {
            meta::add_finalizer(obj, "kubernetes.io/pv-protection");
            obj["status"] = json!({"phase": "Available"});
        }
        _ => {}
    }
}

/// On update, what the client may leave out and the server keeps (a Service's allocated IPs).
pub fn on_update(rt: &ResourceType, old: &Value, new: &mut Value) {
    if (rt.group, rt.kind) == ("", "Service") && new["spec"].is_object() {
        for k in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
            if new["spec"][k].is_null() && !old["spec"][k].is_null() {
                new["spec"][k] = old["spec"][k].clone();
            }
        }
    }
}
