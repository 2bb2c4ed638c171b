//! Writes of built-in kinds held to what the apiserver enforces: decoding against the published
//! schema (type errors, unknown fields), validation (required fields, names, labels, selectors),
//! immutable fields on update, and the defaults the server fills. Expected wordings are the
//! apiserver's (`encoding/json`'s for type errors, `field.Error`'s for causes).

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, Service};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::core::{DynamicObject, Status};
use serde_json::{Value, json};

use super::{client, run};
use crate::kube::KubeEmulator;

/// One request with a JSON body; returns the status code, the `Warning` headers and the body.
pub(super) fn send(
    method: &str,
    url: &str,
    content_type: &str,
    body: &Value,
) -> (u16, Vec<String>, Value) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest.split_once('/').expect("URL with a path");
    let payload = serde_json::to_vec(body).expect("JSON body");
    let mut s = std::net::TcpStream::connect(host).expect("connect");
    write!(
        s,
        "{method} /{path} HTTP/1.0\r\nHost: {host}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        payload.len()
    )
    .expect("write request head");
    s.write_all(&payload).expect("write body");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read response");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let code = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status code");
    let warnings = head
        .lines()
        .filter_map(|l| {
            l.strip_prefix("warning: ")
                .or_else(|| l.strip_prefix("Warning: "))
        })
        .map(str::to_string)
        .collect();
    let body = serde_json::from_slice(&raw[split + 4..]).unwrap_or(Value::Null);
    (code, warnings, body)
}

fn post(k8s: &KubeEmulator, path: &str, body: &Value) -> (u16, Vec<String>, Value) {
    send(
        "POST",
        &format!("{}{path}", k8s.url()),
        "application/json",
        body,
    )
}

fn deployment(name: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]}},
        },
    })
}

const DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/default/deployments";

#[test]
fn a_value_of_the_wrong_type_is_a_400_in_the_decoders_words() {
    let k8s = KubeEmulator::start();
    let mut d = deployment("web");
    d["spec"]["replicas"] = json!("3");
    let (code, _, body) = post(&k8s, DEPLOYMENTS, &d);
    assert_eq!(
        (code, body["reason"].as_str()),
        (400, Some("BadRequest")),
        "{body}"
    );
    assert_eq!(
        body["message"],
        "Deployment in version \"v1\" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"
    );

    // A label value must be a string: a YAML `version: 1.2` reaches the server as a number.
    let mut d = deployment("web");
    d["metadata"]["labels"] = json!({"version": 1.2});
    let (code, _, body) = post(&k8s, DEPLOYMENTS, &d);
    assert_eq!(code, 400, "{body}");
    assert_eq!(
        body["message"],
        "Deployment in version \"v1\" cannot be handled as a Deployment: json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string"
    );
    let mut d = deployment("web");
    d["spec"]["template"]["spec"]["containers"][0]["args"] = json!(["--port", 8080]);
    let (code, _, body) = post(&k8s, DEPLOYMENTS, &d);
    assert_eq!(code, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().ends_with(
            "json: cannot unmarshal number into Go struct field Container.spec.template.spec.containers.args of type string"
        ),
        "{body}"
    );
    assert!(k8s.get("apps/v1", "Deployment", "default", "web").is_none());
}

#[test]
fn unknown_fields_are_pruned_with_a_warning_or_refused_when_strict() {
    let k8s = KubeEmulator::start();
    let mut d = deployment("web");
    d["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = json!("Always");
    d["spec"]["replica"] = json!(2);
    let (code, warnings, body) = post(&k8s, DEPLOYMENTS, &d);
    assert_eq!(code, 201, "{body}");
    warnings
        .iter()
        .for_each(|w| assert!(w.starts_with("299 - "), "{w}"));
    assert!(
        warnings
            .iter()
            .any(|w| w.contains(r#"unknown field \"spec.replica\""#)),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w
            .contains(r#"unknown field \"spec.template.spec.containers[0].imagePullPolicyy\""#)),
        "{warnings:?}"
    );
    assert!(body["spec"].get("replica").is_none(), "pruned: {body}");
    assert!(
        body["spec"]["template"]["spec"]["containers"][0]
            .get("imagePullPolicyy")
            .is_none()
    );

    let mut d = deployment("strict");
    d["spec"]["replica"] = json!(2);
    let (code, _, body) = post(&k8s, &format!("{DEPLOYMENTS}?fieldValidation=Strict"), &d);
    assert_eq!(code, 400, "{body}");
    assert_eq!(
        body["message"],
        "Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \"spec.replica\""
    );
    assert!(
        k8s.get("apps/v1", "Deployment", "default", "strict")
            .is_none()
    );

    // A patch's result is decoded too.
    let (code, warnings, _) = send(
        "PATCH",
        &format!("{}{DEPLOYMENTS}/web", k8s.url()),
        "application/merge-patch+json",
        &json!({"spec": {"paused": true, "pausedd": true}}),
    );
    assert_eq!(code, 200);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains(r#"unknown field \"spec.pausedd\""#)),
        "{warnings:?}"
    );
    let stored = k8s.get("apps/v1", "Deployment", "default", "web").unwrap();
    assert_eq!(stored["spec"]["paused"], true);
    assert!(stored["spec"].get("pausedd").is_none());
}

fn causes(body: &Value) -> Vec<(String, String, String)> {
    body["details"]["causes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            (
                c["reason"].as_str().unwrap_or_default().to_string(),
                c["field"].as_str().unwrap_or_default().to_string(),
                c["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn missing_fields_bad_names_labels_and_selectors_are_422_with_causes() {
    let k8s = KubeEmulator::start();
    let mut d = deployment("web");
    d["spec"].as_object_mut().unwrap().remove("selector");
    let (code, _, body) = post(&k8s, DEPLOYMENTS, &d);
    assert_eq!(
        (code, body["reason"].as_str()),
        (422, Some("Invalid")),
        "{body}"
    );
    assert_eq!(
        body["message"],
        "Deployment.apps \"web\" is invalid: spec.selector: Required value"
    );
    assert_eq!(
        causes(&body),
        vec![(
            "FieldValueRequired".into(),
            "spec.selector".into(),
            "Required value".into()
        )]
    );

    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                     "spec": {"containers": [{"image": "busybox:1.36"}]}});
    let (code, _, body) = post(&k8s, "/api/v1/namespaces/default/pods", &pod);
    assert_eq!(code, 422, "{body}");
    assert!(
        causes(&body).contains(&(
            "FieldValueRequired".into(),
            "spec.containers[0].name".into(),
            "Required value".into()
        )),
        "{body}"
    );

    let mut d = deployment("web");
    d["metadata"]["labels"] = json!({"team": "data platform", "bad key!": "x"});
    d["spec"]["template"]["metadata"]["labels"] = json!({"app": "other"});
    let (code, _, body) = post(&k8s, DEPLOYMENTS, &d);
    assert_eq!(code, 422, "{body}");
    let mut found = causes(&body);
    found.sort();
    let fields: Vec<&str> = found.iter().map(|(_, f, _)| f.as_str()).collect();
    assert_eq!(
        fields,
        vec![
            "metadata.labels",
            "metadata.labels",
            "spec.template.metadata.labels"
        ],
        "{body}"
    );
    assert!(
        found[0]
            .2
            .starts_with("Invalid value: \"bad key!\": name part must consist of"),
        "{found:?}"
    );
    assert!(
        found[1]
            .2
            .starts_with("Invalid value: \"data platform\": a valid label must be"),
        "{found:?}"
    );
    assert_eq!(
        found[2].2,
        "Invalid value: map[string]string{\"app\":\"other\"}: `selector` does not match template `labels`"
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("Deployment.apps \"web\" is invalid: ["),
        "{body}"
    );

    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "1web"},
                     "spec": {"ports": [{"port": 80}]}});
    let (code, _, body) = post(&k8s, "/api/v1/namespaces/default/services", &svc);
    assert_eq!(code, 422, "{body}");
    assert!(
        causes(&body)[0]
            .2
            .contains("a DNS-1035 label must consist of"),
        "{body}"
    );
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a.b"}});
    let (code, _, body) = post(&k8s, "/api/v1/namespaces", &ns);
    assert_eq!(code, 422, "{body}");
    assert!(
        causes(&body)[0]
            .2
            .contains("a lowercase RFC 1123 label must consist of"),
        "{body}"
    );
}

fn api_error(e: kube::Error) -> Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[test]
fn immutable_fields_are_refused_on_update() {
    let k8s = KubeEmulator::start();
    run(async {
        let c = client(&k8s).await;
        let gvk = |g: &str, v: &str, k: &str| {
            kube::discovery::ApiResource::from_gvk(&kube::core::GroupVersionKind::gvk(g, v, k))
        };
        let jobs: Api<DynamicObject> =
            Api::namespaced_with(c.clone(), "default", &gvk("batch", "v1", "Job"));
        let job: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "sync"},
            "spec": {"suspend": true, "template": {"spec": {"restartPolicy": "Never",
                "containers": [{"name": "sync", "image": "rclone/rclone:1.68"}]}}}
        }))
        .unwrap();
        jobs.create(&PostParams::default(), &job).await.unwrap();
        let change_image = json!({"spec": {"template": {"spec": {"containers": [{"name": "sync", "image": "rclone/rclone:1.69"}]}}}});
        let err = api_error(
            jobs.patch(
                "sync",
                &PatchParams::default(),
                &Patch::Strategic(&change_image),
            )
            .await
            .unwrap_err(),
        );
        assert_eq!(err.code, 422);
        assert!(
            err.message
                .starts_with("Job.batch \"sync\" is invalid: spec.template: Invalid value: "),
            "{}",
            err.message
        );
        assert!(
            err.message.ends_with(": field is immutable"),
            "{}",
            err.message
        );
        // What may change does.
        jobs.patch(
            "sync",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"suspend": false}})),
        )
        .await
        .unwrap();

        let deployments: Api<DynamicObject> =
            Api::namespaced_with(c.clone(), "default", &gvk("apps", "v1", "Deployment"));
        deployments
            .create(
                &PostParams::default(),
                &serde_json::from_value(deployment("web")).unwrap(),
            )
            .await
            .unwrap();
        let err = api_error(
            deployments
                .patch(
                    "web",
                    &PatchParams::default(),
                    &Patch::Merge(&json!({"spec": {
                    "selector": {"matchLabels": {"app": "web", "tier": "x"}},
                    "template": {"metadata": {"labels": {"app": "web", "tier": "x"}}}}})),
                )
                .await
                .unwrap_err(),
        );
        assert_eq!(err.code, 422);
        assert!(
            err.message.contains("spec.selector: Invalid value: ")
                && err.message.ends_with("field is immutable"),
            "{}",
            err.message
        );

        let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(c.clone(), "default");
        let pvc: PersistentVolumeClaim = serde_json::from_value(json!({
            "metadata": {"name": "data"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
        }))
        .unwrap();
        let created = pvcs.create(&PostParams::default(), &pvc).await.unwrap();
        assert_eq!(
            created.spec.as_ref().unwrap().volume_mode.as_deref(),
            Some("Filesystem"),
            "defaulted"
        );
        let err = api_error(
            pvcs.patch(
                "data",
                &PatchParams::default(),
                &Patch::Merge(&json!({"spec": {"storageClassName": "fast"}})),
            )
            .await
            .unwrap_err(),
        );
        assert_eq!(err.code, 422);
        assert_eq!(
            err.message,
            "PersistentVolumeClaim \"data\" is invalid: spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"
        );
        pvcs.patch(
            "data",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"resources": {"requests": {"storage": "2Gi"}}}})),
        )
        .await
        .expect("requests may grow");

        let pods: Api<Pod> = Api::namespaced(c.clone(), "default");
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p"}, "spec": {"containers": [{"name": "m", "image": "busybox:1.36"}]}
        }))
        .unwrap();
        pods.create(&PostParams::default(), &pod).await.unwrap();
        let err = api_error(
            pods.patch(
                "p",
                &PatchParams::default(),
                &Patch::Merge(&json!({"spec": {"restartPolicy": "Never"}})),
            )
            .await
            .unwrap_err(),
        );
        assert_eq!(err.code, 422);
        assert!(
            err.message
                .contains("spec: Forbidden: pod updates may not change fields other than"),
            "{}",
            err.message
        );
        pods.patch(
            "p",
            &PatchParams::default(),
            &Patch::Strategic(
                &json!({"spec": {"containers": [{"name": "m", "image": "busybox:1.37"}]}}),
            ),
        )
        .await
        .expect("an image may change");
    });
}

#[test]
fn the_server_fills_the_defaults_clients_read() {
    let k8s = KubeEmulator::start();
    run(async {
        let c = client(&k8s).await;
        let services: Api<Service> = Api::namespaced(c.clone(), "default");
        let svc: Service = serde_json::from_value(json!({
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}
        }))
        .unwrap();
        let created = services.create(&PostParams::default(), &svc).await.unwrap();
        let spec = created.spec.unwrap();
        assert_eq!(spec.type_.as_deref(), Some("ClusterIP"));
        let ip = spec.cluster_ip.clone().unwrap();
        assert!(ip.starts_with("10.96."), "{ip}");
        assert_eq!(spec.cluster_ips, Some(vec![ip.clone()]));
        let port = &spec.ports.unwrap()[0];
        assert_eq!(port.protocol.as_deref(), Some("TCP"));
        assert_eq!(
            port.target_port,
            Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(80))
        );
        // An update that leaves the allocated IP out keeps it.
        let mut again = services.get("web").await.unwrap();
        again.spec.as_mut().unwrap().cluster_ip = None;
        again.spec.as_mut().unwrap().cluster_ips = None;
        let replaced = services
            .replace("web", &PostParams::default(), &again)
            .await
            .unwrap();
        assert_eq!(replaced.spec.unwrap().cluster_ip, Some(ip));
    });
}
