//! Field management and server-side apply: `managedFields` written on every write, apply
//! conflicts between managers (and `force`), fields a manager stops applying removed, with the
//! `kube` client and with the real kubectl (`apply --server-side`).

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::core::Status;
use serde_json::{Value, json};

use super::kubectl::{fails, get_json, ok, path_arg, write_manifest};
use super::{client, run};
use crate::kube::KubeEmulator;

fn web(replicas: i32, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "main", "image": image,
                                                  "ports": [{"containerPort": 80}]}]}},
        },
    })
}

fn api_error(e: kube::Error) -> Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// The object's `managedFields` as JSON.
fn managed_fields<K: serde::Serialize>(obj: &K) -> Vec<Value> {
    let v = serde_json::to_value(obj).expect("object serializes");
    v["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The entry of a manager and operation; panics with all entries when there is none.
fn entry(fields: &[Value], manager: &str, operation: &str) -> Value {
    fields
        .iter()
        .find(|e| e["manager"] == manager && e["operation"] == operation)
        .cloned()
        .unwrap_or_else(|| panic!("no {operation} entry of {manager:?} in {fields:#?}"))
}

const MAIN: &str = r#"k:{"name":"main"}"#;

#[test]
fn apply_conflicts_name_the_field_and_force_moves_it() {
    let k8s = KubeEmulator::start();
    run(async {
        let api: Api<Deployment> = Api::namespaced(client(&k8s).await, "default");
        api.patch(
            "web",
            &PatchParams::apply("alpha"),
            &Patch::Apply(web(2, "nginx:1.27")),
        )
        .await
        .unwrap();

        // beta changes what alpha applied: a conflict, and nothing is written.
        let err = api_error(
            api.patch(
                "web",
                &PatchParams::apply("beta"),
                &Patch::Apply(web(3, "nginx:1.27")),
            )
            .await
            .unwrap_err(),
        );
        assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));
        assert_eq!(
            err.message,
            r#"Apply failed with 1 conflict: conflict with "alpha": .spec.replicas"#
        );
        let causes = err.details.expect("details").causes;
        assert_eq!(causes.len(), 1, "{causes:?}");
        assert_eq!(
            (
                causes[0].reason.as_str(),
                causes[0].message.as_str(),
                causes[0].field.as_str()
            ),
            (
                "FieldManagerConflict",
                r#"conflict with "alpha""#,
                ".spec.replicas"
            )
        );
        assert_eq!(api.get("web").await.unwrap().spec.replicas, Some(2));

        // Forced, beta takes .spec.replicas; the fields both applied with one value stay shared.
        let forced = api
            .patch(
                "web",
                &PatchParams::apply("beta").force(),
                &Patch::Apply(web(3, "nginx:1.27")),
            )
            .await
            .unwrap();
        assert_eq!(forced.spec.replicas, Some(3));
        let fields = managed_fields(&forced);
        let alpha = entry(&fields, "alpha", "Apply");
        let beta = entry(&fields, "beta", "Apply");
        assert!(
            alpha["fieldsV1"]["f:spec"].get("f:replicas").is_none(),
            "{alpha:#}"
        );
        assert!(
            beta["fieldsV1"]["f:spec"].get("f:replicas").is_some(),
            "{beta:#}"
        );
        for e in [&alpha, &beta] {
            let container = &e["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"][MAIN];
            assert!(container.get("f:image").is_some(), "image shared: {e:#}");
        }

        // A conflict with an updater names its API version; two fields are listed per manager.
        let mut changed = web(3, "nginx:1.28");
        changed["spec"]["replicas"] = json!(5);
        let scaler = PatchParams {
            field_manager: Some("scaler".into()),
            ..PatchParams::default()
        };
        api.patch(
            "web",
            &scaler,
            &Patch::Merge(json!({"spec": {"replicas": 4}})),
        )
        .await
        .unwrap();
        let err = api_error(
            api.patch("web", &PatchParams::apply("beta"), &Patch::Apply(changed))
                .await
                .unwrap_err(),
        );
        assert_eq!(
            err.message,
            "Apply failed with 2 conflicts: conflicts with \"alpha\":\n\
             - .spec.template.spec.containers[name=\"main\"].image\n\
             conflicts with \"scaler\" using apps/v1:\n\
             - .spec.replicas"
        );
        let causes: Vec<(String, String)> = err
            .details
            .unwrap()
            .causes
            .into_iter()
            .map(|c| (c.message, c.field))
            .collect();
        assert!(
            causes.contains(&(
                r#"conflict with "scaler" using apps/v1"#.into(),
                ".spec.replicas".into()
            )),
            "{causes:?}"
        );
    });
}

#[test]
fn apply_removes_fields_the_manager_stops_applying_unless_another_owns_them() {
    let k8s = KubeEmulator::start();
    run(async {
        let api: Api<ConfigMap> = Api::namespaced(client(&k8s).await, "default");
        let cm = |data: Value| {
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "cfg", "labels": {"team": "a"}}, "data": data})
        };
        api.patch(
            "cfg",
            &PatchParams::apply("alpha"),
            &Patch::Apply(cm(json!({"a": "1", "b": "2", "c": "3"}))),
        )
        .await
        .unwrap();
        // beta applies c with the same value: shared, no conflict.
        api.patch("cfg", &PatchParams::apply("beta"), &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"c": "3"}})))
            .await
            .unwrap();

        let mut without = cm(json!({"a": "1"}));
        without["metadata"]["labels"] = json!({});
        let after = api
            .patch("cfg", &PatchParams::apply("alpha"), &Patch::Apply(without))
            .await
            .unwrap();
        let data = after.data.clone().unwrap();
        assert_eq!(data.get("a").map(String::as_str), Some("1"));
        assert!(
            !data.contains_key("b"),
            "b was alpha's alone: removed {data:?}"
        );
        assert_eq!(
            data.get("c").map(String::as_str),
            Some("3"),
            "c is beta's too"
        );
        assert!(
            after
                .metadata
                .labels
                .as_ref()
                .is_none_or(|l| !l.contains_key("team")),
            "label alpha stopped applying is removed: {:?}",
            after.metadata.labels
        );
        let fields = managed_fields(&after);
        let alpha = entry(&fields, "alpha", "Apply");
        assert_eq!(alpha["fieldsV1"]["f:data"], json!({"f:a": {}}), "{alpha:#}");
    });
}

#[test]
fn managed_fields_record_create_update_and_apply() {
    let k8s = KubeEmulator::start();
    run(async {
        let api: Api<Deployment> = Api::namespaced(client(&k8s).await, "default");
        let d: Deployment = serde_json::from_value(web(1, "nginx:1.27")).unwrap();
        let pp = PostParams {
            field_manager: Some("creator".into()),
            ..PostParams::default()
        };
        let created = api.create(&pp, &d).await.unwrap();
        let fields = managed_fields(&created);
        assert_eq!(fields.len(), 1, "{fields:#?}");
        let creator = &fields[0];
        assert_eq!(creator["manager"], "creator");
        assert_eq!(creator["operation"], "Update");
        assert_eq!(creator["apiVersion"], "apps/v1");
        assert_eq!(creator["fieldsType"], "FieldsV1");
        assert!(
            creator["time"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{creator:#}"
        );
        let f = &creator["fieldsV1"];
        assert_eq!(f["f:metadata"]["f:labels"], json!({".": {}, "f:app": {}}));
        assert!(
            f["f:metadata"].get("f:name").is_none(),
            "name is not tracked: {f:#}"
        );
        assert!(
            f.get("f:status").is_none(),
            "status is not tracked on the main resource"
        );
        let container = &f["f:spec"]["f:template"]["f:spec"]["f:containers"][MAIN];
        assert_eq!(container["."], json!({}), "{f:#}");
        assert_eq!(container["f:image"], json!({}));
        assert_eq!(
            container["f:ports"][r#"k:{"containerPort":80,"protocol":"TCP"}"#]["f:containerPort"],
            json!({}),
            "ports are keyed by containerPort and protocol: {container:#}"
        );
        assert_eq!(
            f["f:spec"]["f:selector"],
            json!({}),
            "the selector is atomic"
        );

        // An update by another manager takes the field it changed from the creator.
        let mut current = api.get("web").await.unwrap();
        // Unconditional (no resourceVersion): the controller may write the status meanwhile.
        current.metadata.resource_version = None;
        current.spec.replicas = Some(4);
        let pp = PostParams {
            field_manager: Some("editor".into()),
            ..PostParams::default()
        };
        let updated = api.replace("web", &pp, &current).await.unwrap();
        let fields = managed_fields(&updated);
        let editor = entry(&fields, "editor", "Update");
        assert_eq!(editor["fieldsV1"], json!({"f:spec": {"f:replicas": {}}}));
        let creator = entry(&fields, "creator", "Update");
        assert!(
            creator["fieldsV1"]["f:spec"].get("f:replicas").is_none(),
            "{creator:#}"
        );

        // An apply: its own entry, listed before the updates, with the applied fields only.
        let applied = api
            .patch(
                "web",
                &PatchParams::apply("applier").force(),
                &Patch::Apply(web(4, "nginx:1.28")),
            )
            .await
            .unwrap();
        let fields = managed_fields(&applied);
        assert_eq!(fields[0]["manager"], "applier", "{fields:#?}");
        assert_eq!(fields[0]["operation"], "Apply");
        let f = &fields[0]["fieldsV1"];
        assert_eq!(f["f:metadata"]["f:labels"], json!({"f:app": {}}), "{f:#}");
        assert_eq!(
            f["f:spec"]["f:template"]["f:spec"]["f:containers"][MAIN]["."],
            json!({})
        );
        let creator = entry(&fields, "creator", "Update");
        assert!(
            creator["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"][MAIN]
                .get("f:image")
                .is_none(),
            "forced apply took the image: {creator:#}"
        );

        // Lists carry them too.
        let listed = api.list(&ListParams::default()).await.unwrap();
        assert_eq!(
            entry(&managed_fields(&listed.items[0]), "applier", "Apply"),
            fields[0]
        );

        // A write through /status has its own entry, with the subresource, and only status.
        let observer = PatchParams {
            field_manager: Some("observer".into()),
            ..PatchParams::default()
        };
        let observed = api
            .patch_status(
                "web",
                &observer,
                &Patch::Merge(
                    json!({"spec": {"replicas": 9}, "status": {"observedGeneration": 99}}),
                ),
            )
            .await
            .unwrap();
        assert_eq!(observed.spec.replicas, Some(4), "/status leaves the spec");
        let status_entry = entry(&managed_fields(&observed), "observer", "Update");
        assert_eq!(status_entry["subresource"], "status", "{status_entry:#}");
        assert_eq!(
            status_entry["fieldsV1"],
            json!({"f:status": {"f:observedGeneration": {}}})
        );

        // An update that sets managedFields to [] resets them.
        let mut current = api.get("web").await.unwrap();
        current.metadata.managed_fields = Some(vec![]);
        current.metadata.resource_version = None;
        current.spec.replicas = Some(6);
        let reset = api
            .replace("web", &PostParams::default(), &current)
            .await
            .unwrap();
        assert!(
            managed_fields(&reset).is_empty(),
            "{:?}",
            reset.metadata.managed_fields
        );

        // An apply may not carry managedFields.
        let mut body = web(4, "nginx:1.28");
        body["metadata"]["managedFields"] = json!([]);
        let err = api_error(
            api.patch("web", &PatchParams::apply("applier"), &Patch::Apply(body))
                .await
                .unwrap_err(),
        );
        assert_eq!(
            (err.code, err.message.as_str()),
            (400, "metadata.managedFields must be nil")
        );
    });
}

#[test]
fn updates_without_field_manager_are_named_after_the_user_agent() {
    use std::io::{Read, Write};
    let k8s = KubeEmulator::start();
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ua"}, "data": {"k": "v"}})
        .to_string();
    let host = k8s.url().strip_prefix("http://").unwrap().to_string();
    let mut s = std::net::TcpStream::connect(&host).unwrap();
    write!(
        s,
        "POST /api/v1/namespaces/default/configmaps HTTP/1.0\r\nHost: {host}\r\n\
         User-Agent: runbook/0.3.0 (linux/amd64)\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let json_start = raw.find("\r\n\r\n").unwrap() + 4;
    let created: Value = serde_json::from_str(&raw[json_start..]).unwrap();
    let fields = created["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let e = entry(&fields, "runbook", "Update");
    assert_eq!(e["fieldsV1"], json!({"f:data": {".": {}, "f:k": {}}}));
}

#[test]
fn more_than_ten_updaters_fold_the_oldest_into_ancient_changes() {
    let k8s = KubeEmulator::start();
    run(async {
        let api: Api<ConfigMap> = Api::namespaced(client(&k8s).await, "default");
        // The create is the first update (m00), ten patches follow.
        let cm: ConfigMap =
            serde_json::from_value(json!({"metadata": {"name": "cfg"}, "data": {"k00": "v"}}))
                .unwrap();
        let pp = PostParams {
            field_manager: Some("m00".into()),
            ..PostParams::default()
        };
        api.create(&pp, &cm).await.unwrap();
        let mut last = None;
        for i in 1..11 {
            let params = PatchParams {
                field_manager: Some(format!("m{i:02}")),
                ..PatchParams::default()
            };
            let patch = json!({"data": {format!("k{i:02}"): "v"}});
            last = Some(
                api.patch("cfg", &params, &Patch::Merge(patch))
                    .await
                    .unwrap(),
            );
        }
        let fields = managed_fields(&last.unwrap());
        let managers: Vec<&str> = fields
            .iter()
            .filter_map(|e| e["manager"].as_str())
            .collect();
        assert_eq!(fields.len(), 10, "{managers:?}");
        let ancient = entry(&fields, "ancient-changes", "Update");
        assert_eq!(
            ancient["fieldsV1"]["f:data"],
            json!({".": {}, "f:k00": {}, "f:k01": {}}),
            "the two oldest updates: {fields:#?}"
        );
        assert!(
            !managers.contains(&"m00") && !managers.contains(&"m01"),
            "{managers:?}"
        );
        assert!(
            managers.contains(&"m02") && managers.contains(&"m10"),
            "{managers:?}"
        );
    });
}

const MANIFEST: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  replicas: REPLICAS
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: nginx:1.27
";

#[test]
fn kubectl_server_side_apply_conflicts_and_force_conflicts() {
    let k8s = KubeEmulator::start();
    let first = write_manifest(&k8s, "two.yaml", &MANIFEST.replace("REPLICAS", "2"));
    let second = write_manifest(&k8s, "five.yaml", &MANIFEST.replace("REPLICAS", "5"));
    let apply = |file: &std::path::Path, manager: &str, extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = ["apply", "--server-side", "--validate=false", "-f"]
            .iter()
            .map(|a| a.to_string())
            .collect();
        args.push(path_arg(file).to_string());
        args.push(format!("--field-manager={manager}"));
        args.extend(extra.iter().map(|a| a.to_string()));
        args
    };
    fn strs(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }
    let out = ok(&k8s, &strs(&apply(&first, "team-a", &[])));
    assert!(
        out.contains("deployment.apps/web serverside-applied"),
        "{out}"
    );

    let err = fails(&k8s, &strs(&apply(&second, "team-b", &[])));
    assert!(
        err.contains(r#"Apply failed with 1 conflict: conflict with "team-a": .spec.replicas"#),
        "{err}"
    );
    assert!(err.contains("--force-conflicts"), "kubectl's advice: {err}");

    ok(
        &k8s,
        &strs(&apply(&second, "team-b", &["--force-conflicts"])),
    );
    let dep = get_json(&k8s, &["deployment", "web", "--show-managed-fields"]);
    assert_eq!(dep["spec"]["replicas"], 5);
    let fields = dep["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let b = entry(&fields, "team-b", "Apply");
    assert_eq!(b["fieldsV1"]["f:spec"]["f:replicas"], json!({}), "{b:#}");
    let a = entry(&fields, "team-a", "Apply");
    assert!(a["fieldsV1"]["f:spec"].get("f:replicas").is_none(), "{a:#}");
    let plain = get_json(&k8s, &["deployment", "web"]);
    assert!(
        plain["metadata"].get("managedFields").is_none(),
        "kubectl hides them by default"
    );
}
