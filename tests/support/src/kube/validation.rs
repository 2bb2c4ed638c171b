//! The apiserver's own validation of the built-in kinds (the `pkg/apis/*/validation` rules that
//! no schema expresses), for what runbooks and kinds write: object names, label keys and values,
//! workload selectors, and the fields an update may not change. Findings are `Cause`s; the
//! store turns them, with the schema's, into one 422 `Invalid`.

use serde_json::{Map, Value};

use super::resources::ResourceType;
use super::schema;
use super::status::{ApiError, Cause};

const DNS1123_LABEL: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN: &str = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1035_LABEL: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const QUALIFIED_NAME: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_VALUE: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";

fn full_match(pattern: &str, s: &str) -> bool {
    regex::Regex::new(&format!("^(?:{pattern})$"))
        .map(|r| r.is_match(s))
        .unwrap_or(false)
}

fn quoted(s: &str) -> String {
    format!("{s:?}")
}

/// The name rule of a kind: most are DNS-1123 subdomains; Namespaces are DNS-1123 labels and
/// Services DNS-1035 labels (their names become DNS names).
fn name_causes(rt: &ResourceType, name: &str) -> Vec<Cause> {
    let field = "metadata.name";
    let mut out = Vec::new();
    match rt.kind {
        "Namespace" => {
            if name.len() > 63 {
                out.push(Cause::invalid(
                    field,
                    &quoted(name),
                    "must be no more than 63 characters",
                ));
            }
            if !full_match(DNS1123_LABEL, name) {
                out.push(Cause::invalid(field, &quoted(name), &format!(
                    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '{DNS1123_LABEL}')"
                )));
            }
        }
        "Service" => {
            if name.len() > 63 {
                out.push(Cause::invalid(
                    field,
                    &quoted(name),
                    "must be no more than 63 characters",
                ));
            }
            if !full_match(DNS1035_LABEL, name) {
                out.push(Cause::invalid(field, &quoted(name), &format!(
                    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '{DNS1035_LABEL}')"
                )));
            }
        }
        _ => {
            if name.len() > 253 {
                out.push(Cause::invalid(
                    field,
                    &quoted(name),
                    "must be no more than 253 characters",
                ));
            }
            if !full_match(DNS1123_SUBDOMAIN, name) {
                out.push(Cause::invalid(field, &quoted(name), &format!(
                    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '{DNS1123_SUBDOMAIN}')"
                )));
            }
        }
    }
    // The Job controller labels pods with the Job's name; a CronJob's Jobs add an 11-digit suffix.
    match rt.kind {
        "Job" if name.len() > 63 && out.is_empty() => out.push(Cause::invalid(
            field,
            &quoted(name),
            "must be no more than 63 characters",
        )),
        "CronJob" if name.len() > 52 && out.is_empty() => out.push(Cause::invalid(
            field,
            &quoted(name),
            "must be no more than 52 characters",
        )),
        _ => {}
    }
    out
}

/// A name that fails its kind's rule, as the 422 the apiserver returns (used where a name is
/// checked before the rest of the object, such as generateName results and seeds).
pub fn check_name(rt: &ResourceType, name: &str) -> Result<(), ApiError> {
    let causes = name_causes(rt, name);
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid_causes(rt, name, &causes))
    }
}

/// `ValidateLabels`: qualified-name keys and label-value values (the schema already made them strings).
fn label_causes(labels: &Value, field: &str) -> Vec<Cause> {
    let mut out = Vec::new();
    let Some(map) = labels.as_object() else {
        return out;
    };
    for (key, value) in map {
        let (prefix, name) = match key.split_once('/') {
            Some((p, n)) => (Some(p), n),
            None => (None, key.as_str()),
        };
        if let Some(p) = prefix
            && (p.is_empty() || p.len() > 253 || !full_match(DNS1123_SUBDOMAIN, p))
        {
            out.push(Cause::invalid(field, &quoted(key), &format!(
                "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '{DNS1123_SUBDOMAIN}')"
            )));
        }
        if name.is_empty() || name.len() > 63 || !full_match(QUALIFIED_NAME, name) {
            let detail = if name.len() > 63 {
                "name part must be no more than 63 characters".to_string()
            } else {
                format!(
                    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '{QUALIFIED_NAME}')"
                )
            };
            out.push(Cause::invalid(field, &quoted(key), &detail));
        }
        let Some(v) = value.as_str() else { continue };
        if v.len() > 63 {
            out.push(Cause::invalid(
                field,
                &quoted(v),
                "must be no more than 63 characters",
            ));
        } else if !full_match(LABEL_VALUE, v) {
            out.push(Cause::invalid(field, &quoted(v), &format!(
                "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '{LABEL_VALUE}')"
            )));
        }
    }
    out
}

/// Go's `%#v` of a `map[string]string`, as the apiserver prints label maps in messages.
fn go_string_map(v: &Value) -> String {
    let pairs: Vec<String> = v
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k:?}:{:?}", v.as_str().unwrap_or_default()))
        .collect();
    format!("map[string]string{{{}}}", pairs.join(", "))
}

/// Whether a structured selector (matchLabels and matchExpressions) selects these labels.
fn selects(selector: &Value, labels: &Value) -> bool {
    super::selectors::LabelSelector::from_structured(selector)
        .matches(&serde_json::json!({"metadata": {"labels": labels}}))
}

fn selector_is_empty(selector: &Value) -> bool {
    let none = |v: &Value| {
        v.as_object().is_none_or(Map::is_empty) && v.as_array().is_none_or(Vec::is_empty)
    };
    none(&selector["matchLabels"]) && none(&selector["matchExpressions"])
}

/// Workloads: a non-empty selector that selects the pod template's labels.
fn selector_causes(rt: &ResourceType, obj: &Value) -> Vec<Cause> {
    let mut out = Vec::new();
    let spec = &obj["spec"];
    let selector = &spec["selector"];
    let template_labels = &spec["template"]["metadata"]["labels"];
    out.extend(label_causes(
        &selector["matchLabels"],
        "spec.selector.matchLabels",
    ));
    out.extend(label_causes(
        template_labels,
        "spec.template.metadata.labels",
    ));
    let workload = matches!(
        rt.kind,
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet"
    );
    let manual_job = rt.kind == "Job" && spec["manualSelector"] == Value::Bool(true);
    if !(workload || manual_job) || selector.is_null() {
        return out;
    }
    if selector_is_empty(selector) {
        out.push(Cause::invalid(
            "spec.selector",
            &selector.to_string(),
            &format!("empty selector is invalid for {}", rt.singular),
        ));
    } else if !selects(selector, template_labels) {
        out.push(Cause::invalid(
            "spec.template.metadata.labels",
            &go_string_map(template_labels),
            "`selector` does not match template `labels`",
        ));
    }
    out
}

/// Everything wrong with a (defaulted) object of a built-in kind, from its schema and the rules.
pub fn causes(rt: &ResourceType, obj: &Value) -> Vec<Cause> {
    if rt.custom {
        return super::crd::causes(rt, obj);
    }
    if rt.kind == "CustomResourceDefinition" {
        let mut out = schema::causes(rt, obj);
        out.extend(super::crd::name_causes(obj));
        return out;
    }
    if !schema::knows(rt) {
        return Vec::new();
    }
    let mut out = schema::causes(rt, obj);
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    if !name.is_empty() {
        out.extend(name_causes(rt, name));
    }
    out.extend(label_causes(&obj["metadata"]["labels"], "metadata.labels"));
    out.extend(selector_causes(rt, obj));
    out
}

fn immutable(field: &str, value: &Value) -> Cause {
    Cause::invalid(field, &value.to_string(), "field is immutable")
}

/// A Pod spec with the fields an update may change blanked out, for comparison.
fn pod_spec_without_mutable(spec: &Value) -> Value {
    let mut s = spec.clone();
    for list in ["containers", "initContainers"] {
        if let Some(cs) = s[list].as_array_mut() {
            for c in cs {
                if let Some(c) = c.as_object_mut() {
                    c.remove("image");
                }
            }
        }
    }
    if let Some(o) = s.as_object_mut() {
        for k in [
            "activeDeadlineSeconds",
            "tolerations",
            "terminationGracePeriodSeconds",
        ] {
            o.remove(k);
        }
    }
    s
}

/// The fields of `old` an update to `new` may not change, for what runbooks touch.
pub fn update_causes(rt: &ResourceType, old: &Value, new: &Value) -> Vec<Cause> {
    let mut out = Vec::new();
    let (o, n) = (&old["spec"], &new["spec"]);
    match (rt.group, rt.kind) {
        ("batch", "Job") => {
            if n["selector"] != o["selector"] {
                out.push(immutable("spec.selector", &n["selector"]));
            }
            // A suspended Job's pod scheduling directives may change; nothing else of the template.
            if n["template"] != o["template"] {
                out.push(immutable("spec.template", &n["template"]));
            }
            if n["completions"] != o["completions"] {
                out.push(immutable("spec.completions", &n["completions"]));
            }
        }
        ("apps", "Deployment" | "ReplicaSet" | "DaemonSet") if n["selector"] != o["selector"] => {
            out.push(immutable("spec.selector", &n["selector"]));
        }
        ("apps", "StatefulSet") => {
            let strip = |s: &Value| {
                let mut s = s.clone();
                if let Some(m) = s.as_object_mut() {
                    for k in [
                        "replicas",
                        "ordinals",
                        "template",
                        "updateStrategy",
                        "revisionHistoryLimit",
                        "persistentVolumeClaimRetentionPolicy",
                        "minReadySeconds",
                    ] {
                        m.remove(k);
                    }
                }
                s
            };
            if strip(n) != strip(o) {
                out.push(Cause::forbidden(
                    "spec",
                    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
                ));
            }
        }
        ("", "PersistentVolumeClaim") => {
            let strip = |s: &Value| {
                let mut s = s.clone();
                if let Some(m) = s.as_object_mut() {
                    m.remove("volumeAttributesClassName");
                    if let Some(r) = m.get_mut("resources").and_then(Value::as_object_mut) {
                        r.remove("requests");
                    }
                    // The binder fills volumeName on a claim that had none.
                    if o["volumeName"].is_null() {
                        m.remove("volumeName");
                    }
                }
                s
            };
            if strip(n) != strip(o) {
                out.push(Cause::forbidden(
                    "spec",
                    "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
                ));
            }
        }
        ("", "Pod") if pod_spec_without_mutable(n) != pod_spec_without_mutable(o) => {
            out.push(Cause::forbidden(
                    "spec",
                    "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
                ));
        }
        ("", "Secret" | "ConfigMap") if old["immutable"] == Value::Bool(true) => {
            if new["data"] != old["data"] {
                out.push(Cause::forbidden(
                    "data",
                    "field is immutable when `immutable` is set",
                ));
            }
            if new["immutable"] != old["immutable"] {
                out.push(Cause::forbidden(
                    "immutable",
                    "field is immutable when `immutable` is set",
                ));
            }
        }
        _ => {}
    }
    out
}
