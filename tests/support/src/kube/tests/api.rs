//! CRUD, optimistic concurrency, Status errors, patches, selectors, subresources.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::core::Status;
use serde_json::json;

use super::{client, run};
use crate::kube::KubeEmulator;

fn deployment(name: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name, "tier": "web"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [{"name": "main", "image": "nginx:1.27"}]}},
        },
    }))
    .expect("valid deployment")
}

fn api_error(e: kube::Error) -> Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[test]
fn create_get_update_delete_a_deployment() {
    let k8s = KubeEmulator::start();
    run(async {
        let api: Api<Deployment> = Api::namespaced(client(&k8s).await, "default");
        let created = api
            .create(&PostParams::default(), &deployment("web", 2))
            .await
            .unwrap();
        let meta = &created.metadata;
        assert!(
            meta.uid.as_deref().is_some_and(|u| u.len() == 36),
            "uid: {meta:?}"
        );
        assert_eq!(meta.generation, Some(1));
        assert!(meta.creation_timestamp.is_some());
        let rv1: u64 = meta.resource_version.as_deref().unwrap().parse().unwrap();

        let mut got = api.get("web").await.unwrap();
        assert_eq!(got.spec.replicas, Some(2));
        got.spec.replicas = Some(3);
        let updated = api
            .replace("web", &PostParams::default(), &got)
            .await
            .unwrap();
        let rv2: u64 = updated
            .metadata
            .resource_version
            .as_deref()
            .unwrap()
            .parse()
            .unwrap();
        assert!(rv2 > rv1, "resourceVersion moves forward: {rv1} -> {rv2}");
        assert_eq!(
            updated.metadata.generation,
            Some(2),
            "spec change bumps generation"
        );

        let dup = api
            .create(&PostParams::default(), &deployment("web", 1))
            .await
            .unwrap_err();
        let dup = api_error(dup);
        assert_eq!((dup.code, dup.reason.as_str()), (409, "AlreadyExists"));
        assert_eq!(dup.message, r#"deployments.apps "web" already exists"#);

        api.delete("web", &DeleteParams::default()).await.unwrap();
        let gone = api_error(api.get("web").await.unwrap_err());
        assert_eq!((gone.code, gone.reason.as_str()), (404, "NotFound"));
    });
}

#[test]
fn stale_resource_version_is_a_conflict() {
    let k8s = KubeEmulator::start();
    run(async {
        // A ConfigMap: no controller writes to it between our reads and writes.
        let api: Api<ConfigMap> = Api::namespaced(client(&k8s).await, "default");
        let cm: ConfigMap =
            serde_json::from_value(json!({"metadata": {"name": "cfg"}, "data": {"v": "1"}}))
                .unwrap();
        let first = api.create(&PostParams::default(), &cm).await.unwrap();
        assert_eq!(
            first.metadata.generation, None,
            "objects without spec have no generation"
        );
        let mut newer = first.clone();
        newer.data.as_mut().unwrap().insert("v".into(), "2".into());
        api.replace("cfg", &PostParams::default(), &newer)
            .await
            .unwrap();
        let mut stale = first;
        stale.data.as_mut().unwrap().insert("v".into(), "3".into());
        let err = api_error(
            api.replace("cfg", &PostParams::default(), &stale)
                .await
                .unwrap_err(),
        );
        assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));
        assert_eq!(
            err.message,
            r#"Operation cannot be fulfilled on configmaps "cfg": the object has been modified; please apply your changes to the latest version and try again"#
        );
        assert_eq!(api.get("cfg").await.unwrap().data.unwrap()["v"], "2");
        // A no-op update keeps the resourceVersion, as the apiserver does.
        let current = api.get("cfg").await.unwrap();
        let again = api
            .replace("cfg", &PostParams::default(), &current)
            .await
            .unwrap();
        assert_eq!(
            again.metadata.resource_version,
            current.metadata.resource_version
        );
    });
}

#[test]
fn not_found_status_body_matches_the_apiserver() {
    let k8s = KubeEmulator::start();
    let (code, head, body) = super::http(
        "GET",
        &format!(
            "{}/apis/apps/v1/namespaces/default/deployments/missing",
            k8s.url()
        ),
    );
    assert_eq!(code, 404);
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    let status: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        status,
        json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "deployments.apps \"missing\" not found", "reason": "NotFound",
            "details": {"name": "missing", "group": "apps", "kind": "deployments"}, "code": 404
        })
    );
    run(async {
        let pods: Api<Pod> = Api::namespaced(client(&k8s).await, "default");
        let err = api_error(pods.get("nope").await.unwrap_err());
        assert_eq!(
            err.message, r#"pods "nope" not found"#,
            "core group has no suffix"
        );
        let details = err.details.unwrap();
        assert_eq!(
            (
                details.name.as_str(),
                details.group.as_str(),
                details.kind.as_str()
            ),
            ("nope", "", "pods")
        );
    });
}

#[test]
fn every_patch_type_applies() {
    let k8s = KubeEmulator::start();
    run(async {
        let api: Api<Deployment> = Api::namespaced(client(&k8s).await, "default");
        api.create(&PostParams::default(), &deployment("web", 1))
            .await
            .unwrap();

        let merged = api
            .patch(
                "web",
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"labels": {"tier": null, "team": "a"}}})),
            )
            .await
            .unwrap();
        let labels = merged.metadata.labels.unwrap();
        assert_eq!(labels.get("team").map(String::as_str), Some("a"));
        assert!(!labels.contains_key("tier"), "merge patch null deletes");

        let ops: json_patch::Patch = serde_json::from_value(json!([
            {"op": "test", "path": "/spec/replicas", "value": 1},
            {"op": "replace", "path": "/spec/replicas", "value": 3}
        ]))
        .unwrap();
        let patched = api
            .patch("web", &PatchParams::default(), &Patch::<()>::Json(ops))
            .await
            .unwrap();
        assert_eq!(patched.spec.replicas, Some(3));
        let failing: json_patch::Patch =
            serde_json::from_value(json!([{"op": "test", "path": "/spec/replicas", "value": 99}]))
                .unwrap();
        let err = api_error(
            api.patch("web", &PatchParams::default(), &Patch::<()>::Json(failing))
                .await
                .unwrap_err(),
        );
        assert_eq!((err.code, err.reason.as_str()), (422, "Invalid"));

        // Strategic merge merges containers by name instead of replacing the list.
        let smp = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "sidecar", "image": "busybox"}, {"name": "main", "image": "nginx:1.28"}
        ]}}}});
        let s = api
            .patch("web", &PatchParams::default(), &Patch::Strategic(smp))
            .await
            .unwrap();
        let containers = s.spec.template.spec.unwrap().containers;
        let images: Vec<_> = containers
            .iter()
            .map(|c| (c.name.as_str(), c.image.as_deref().unwrap()))
            .collect();
        assert_eq!(images, vec![("main", "nginx:1.28"), ("sidecar", "busybox")]);

        // Server-side apply updates, and creates what is missing.
        let applied = api
            .patch("web", &PatchParams::apply("runbook").force(), &Patch::Apply(json!({
                "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 5}
            })))
            .await
            .unwrap();
        assert_eq!(applied.spec.replicas, Some(5));
        let created = api
            .patch(
                "fresh",
                &PatchParams::apply("runbook"),
                &Patch::Apply(deployment("fresh", 2)),
            )
            .await
            .unwrap();
        assert_eq!(created.metadata.generation, Some(1));
        let err = api_error(
            api.patch(
                "web",
                &PatchParams::default(),
                &Patch::Apply(json!({
                    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}
                })),
            )
            .await
            .unwrap_err(),
        );
        assert_eq!(err.code, 422);
        assert!(
            err.message.contains("fieldManager: Required value"),
            "{}",
            err.message
        );

        let stale = api_error(
            api.patch(
                "web",
                &PatchParams::default(),
                &Patch::Merge(
                    json!({"metadata": {"resourceVersion": "1"}, "spec": {"replicas": 9}}),
                ),
            )
            .await
            .unwrap_err(),
        );
        assert_eq!(
            stale.reason, "Conflict",
            "a resourceVersion in a patch is a precondition"
        );
    });
    let kinds: Vec<_> = k8s
        .requests()
        .iter()
        .filter(|r| r.method == "PATCH")
        .filter_map(|r| r.content_type.clone())
        .collect();
    for ct in [
        "application/merge-patch+json",
        "application/json-patch+json",
        "application/strategic-merge-patch+json",
        "application/apply-patch+yaml",
    ] {
        assert!(kinds.iter().any(|k| k == ct), "{ct} in {kinds:?}");
    }
}

#[test]
fn label_and_field_selectors_filter_lists() {
    let k8s = KubeEmulator::start();
    for (name, ns, labels) in [
        ("a", "default", json!({"app": "web", "env": "prod"})),
        ("b", "default", json!({"app": "web", "env": "dev"})),
        ("c", "default", json!({"app": "db"})),
        ("d", "other", json!({"app": "web", "env": "prod"})),
    ] {
        k8s.apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns, "labels": labels}}));
    }
    run(async {
        let c = client(&k8s).await;
        let names = |list: kube::core::ObjectList<ConfigMap>| {
            let mut v: Vec<String> = list
                .items
                .into_iter()
                .map(|o| o.metadata.name.unwrap())
                .collect();
            v.sort();
            v
        };
        let default: Api<ConfigMap> = Api::namespaced(c.clone(), "default");
        let all: Api<ConfigMap> = Api::all(c.clone());
        let q = |s: &str| ListParams::default().labels(s);
        assert_eq!(
            names(default.list(&q("app=web")).await.unwrap()),
            ["a", "b"]
        );
        assert_eq!(
            names(default.list(&q("app=web,env!=prod")).await.unwrap()),
            ["b"]
        );
        assert_eq!(
            names(default.list(&q("env in (prod,dev)")).await.unwrap()),
            ["a", "b"]
        );
        assert_eq!(
            names(default.list(&q("app notin (web)")).await.unwrap()),
            ["c"]
        );
        assert_eq!(names(default.list(&q("env")).await.unwrap()), ["a", "b"]);
        assert_eq!(names(default.list(&q("!env")).await.unwrap()), ["c"]);
        assert_eq!(names(all.list(&q("env=prod")).await.unwrap()), ["a", "d"]);
        let by_name = ListParams::default().fields("metadata.name=d");
        assert_eq!(names(all.list(&by_name).await.unwrap()), ["d"]);
        let bad = api_error(
            all.list(&ListParams::default().fields("data.x=1"))
                .await
                .unwrap_err(),
        );
        assert_eq!(
            (bad.code, bad.message.as_str()),
            (400, "field label not supported: data.x")
        );

        let paged = default.list(&ListParams::default().limit(2)).await.unwrap();
        assert_eq!(paged.items.len(), 2);
        let token = paged.metadata.continue_.clone().expect("a continue token");
        let rest = default
            .list(&ListParams::default().limit(2).continue_token(&token))
            .await
            .unwrap();
        assert_eq!(names(rest), ["c"]);
    });
}

#[test]
fn scale_and_status_subresources() {
    let k8s = KubeEmulator::start();
    run(async {
        let api: Api<Deployment> = Api::namespaced(client(&k8s).await, "default");
        api.create(&PostParams::default(), &deployment("web", 1))
            .await
            .unwrap();
        let scale = api.get_scale("web").await.unwrap();
        assert_eq!(scale.spec.unwrap().replicas, Some(1));
        assert_eq!(scale.status.unwrap().selector.as_deref(), Some("app=web"));
        api.patch_scale(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .unwrap();
        assert_eq!(api.get("web").await.unwrap().spec.replicas, Some(3));

        // Status written on the main resource is ignored; through /status it sticks.
        let mut d = api.get("web").await.unwrap();
        d.status = Some(serde_json::from_value(json!({"replicas": 42})).unwrap());
        let kept = api
            .replace("web", &PostParams::default(), &d)
            .await
            .unwrap();
        assert_ne!(kept.status.and_then(|s| s.replicas), Some(42));
        let via_status = api
            .patch_status(
                "web",
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {"observedGeneration": 77}})),
            )
            .await
            .unwrap();
        assert_eq!(via_status.status.unwrap().observed_generation, Some(77));
    });
}

#[test]
fn deployment_status_follows_replicas() {
    let k8s = KubeEmulator::start();
    run(async {
        let api: Api<Deployment> = Api::namespaced(client(&k8s).await, "default");
        api.create(&PostParams::default(), &deployment("web", 2))
            .await
            .unwrap();
        let cond = kube::runtime::wait::conditions::is_deployment_completed();
        let done = tokio::time::timeout(
            super::SETTLE,
            kube::runtime::wait::await_condition(api.clone(), "web", cond),
        )
        .await
        .expect("rollout completes")
        .unwrap()
        .unwrap();
        let status = done.status.unwrap();
        assert_eq!(
            (
                status.ready_replicas,
                status.available_replicas,
                status.observed_generation
            ),
            (Some(2), Some(2), Some(1))
        );
        let available = status
            .conditions
            .unwrap()
            .into_iter()
            .find(|c| c.type_.as_deref() == Some("Available"))
            .unwrap();
        assert_eq!(
            (available.status.as_deref(), available.reason.as_deref()),
            (Some("True"), Some("MinimumReplicasAvailable"))
        );

        api.patch_scale(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 0}})),
        )
        .await
        .unwrap();
        let pods: Api<Pod> = Api::namespaced(client(&k8s).await, "default");
        let deadline = std::time::Instant::now() + super::SETTLE;
        loop {
            let d = api.get("web").await.unwrap();
            let s = d.status.unwrap();
            let left = pods
                .list(&ListParams::default().labels("app=web"))
                .await
                .unwrap()
                .items
                .len();
            if s.ready_replicas.is_none() && s.replicas.is_none() && left == 0 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "scaled to zero: {s:?}, {left} pods"
            );
            tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        }
    });
}

#[test]
fn namespaces_must_exist_and_terminate_with_their_content() {
    let k8s = KubeEmulator::start();
    run(async {
        let c = client(&k8s).await;
        let cms: Api<ConfigMap> = Api::namespaced(c.clone(), "team");
        let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "x"}})).unwrap();
        let err = api_error(cms.create(&PostParams::default(), &cm).await.unwrap_err());
        assert_eq!(
            (err.code, err.message.as_str()),
            (404, r#"namespaces "team" not found"#)
        );
        let nss: Api<Namespace> = Api::all(c.clone());
        nss.create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "team"}})).unwrap(),
        )
        .await
        .unwrap();
        cms.create(&PostParams::default(), &cm).await.unwrap();
        let gen_named: ConfigMap =
            serde_json::from_value(json!({"metadata": {"generateName": "cfg-"}})).unwrap();
        let g = cms
            .create(&PostParams::default(), &gen_named)
            .await
            .unwrap();
        assert!(g.metadata.name.unwrap().starts_with("cfg-"));
        nss.delete("team", &DeleteParams::default()).await.unwrap();
        let deadline = std::time::Instant::now() + super::SETTLE;
        while nss.get_opt("team").await.unwrap().is_some() {
            assert!(std::time::Instant::now() < deadline, "namespace terminates");
            tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        }
        assert!(k8s.list("v1", "ConfigMap", Some("team")).is_empty());
    });
}
