//! apiextensions.k8s.io/v1: the real Velero CRDs, created through the API, define what is
//! served and how custom objects are checked (their `openAPIV3Schema` and `subresources`).

use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
use kube::discovery::Discovery;
use serde_json::{Value, json};

use super::{client, run};
use crate::kube::{KubeEmulator, emulator::velero_crds};

fn api_error(e: kube::Error) -> kube::core::Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn velero(kind: &str) -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk("velero.io", "v1", kind))
}

fn object(v: Value) -> DynamicObject {
    serde_json::from_value(v).expect("a dynamic object")
}

#[test]
fn custom_kinds_are_served_once_their_crd_is_created() {
    let k8s = KubeEmulator::start_bare();
    run(async {
        let c = client(&k8s).await;
        let backups: Api<DynamicObject> =
            Api::namespaced_with(c.clone(), "default", &velero("Backup"));
        let err = api_error(backups.list(&Default::default()).await.unwrap_err());
        assert_eq!(err.code, 404, "no CRD, no resource");

        let crds: Api<DynamicObject> = Api::all_with(
            c.clone(),
            &ApiResource::from_gvk(&GroupVersionKind::gvk(
                "apiextensions.k8s.io",
                "v1",
                "CustomResourceDefinition",
            )),
        );
        for crd in velero_crds() {
            crds.create(&PostParams::default(), &object(crd))
                .await
                .unwrap();
        }
        let backup_crd = crds.get("backups.velero.io").await.unwrap();
        let conditions = backup_crd.data["status"]["conditions"]
            .as_array()
            .unwrap()
            .clone();
        assert!(
            conditions
                .iter()
                .any(|c| c["type"] == "Established" && c["status"] == "True")
        );

        let discovery = Discovery::new(c.clone()).run().await.unwrap();
        let group = discovery
            .groups()
            .find(|g| g.name() == "velero.io")
            .expect("velero.io discovered");
        let mut kinds: Vec<String> = group
            .recommended_resources()
            .into_iter()
            .map(|(r, _)| r.kind)
            .collect();
        kinds.sort();
        assert_eq!(
            kinds,
            vec![
                "Backup",
                "BackupStorageLocation",
                "DeleteBackupRequest",
                "DownloadRequest",
                "Restore",
                "Schedule"
            ]
        );
        let (_, caps) = group
            .recommended_resources()
            .into_iter()
            .find(|(r, _)| r.kind == "Backup")
            .unwrap();
        assert!(
            caps.subresources.is_empty(),
            "the Backup CRD declares no subresources: {:?}",
            caps.subresources
        );
        backups.list(&Default::default()).await.expect("served now");

        // A CRD's name must be plural.group.
        let mut bad = velero_crds().remove(0);
        bad["metadata"]["name"] = json!("wrong.velero.io");
        let err = api_error(
            crds.create(&PostParams::default(), &object(bad))
                .await
                .unwrap_err(),
        );
        assert_eq!(err.code, 422, "{}", err.message);
    });
}

#[test]
fn custom_objects_are_checked_against_the_crd_schema() {
    let k8s = KubeEmulator::start();
    run(async {
        let c = client(&k8s).await;
        let k8s_ns: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(c.clone());
        k8s_ns
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": "velero"}})).unwrap(),
            )
            .await
            .unwrap();
        // (An unknown Restore existingResourcePolicy is no schema matter: Velero's CRD has no
        // enum for it, Velero's controller refuses it.)
        let locations: Api<DynamicObject> =
            Api::namespaced_with(c.clone(), "velero", &velero("BackupStorageLocation"));
        let err = api_error(
            locations
                .create(&PostParams::default(), &object(json!({
                    "apiVersion": "velero.io/v1", "kind": "BackupStorageLocation", "metadata": {"name": "offsite"},
                    "spec": {"provider": "aws", "accessMode": "Read", "objectStorage": {"bucket": "b"}}})))
                .await
                .unwrap_err(),
        );
        assert_eq!(err.code, 422, "{}", err.message);
        assert_eq!(
            err.message,
            "BackupStorageLocation.velero.io \"offsite\" is invalid: spec.accessMode: Unsupported value: \"Read\": supported values: \"ReadOnly\", \"ReadWrite\""
        );
        let err = api_error(
            locations
                .create(&PostParams::default(), &object(json!({
                    "apiVersion": "velero.io/v1", "kind": "BackupStorageLocation", "metadata": {"name": "offsite"},
                    "spec": {"provider": "aws"}})))
                .await
                .unwrap_err(),
        );
        assert_eq!(err.code, 422, "{}", err.message);
        assert_eq!(
            err.message,
            "BackupStorageLocation.velero.io \"offsite\" is invalid: spec.objectStorage: Required value"
        );

        let backups: Api<DynamicObject> =
            Api::namespaced_with(c.clone(), "velero", &velero("Backup"));
        let err = api_error(
            backups
                .create(
                    &PostParams::default(),
                    &object(json!({
                    "apiVersion": "velero.io/v1", "kind": "Backup", "metadata": {"name": "b1"},
                    "spec": {"ttl": 720, "includedNamespaces": "harbor"}})),
                )
                .await
                .unwrap_err(),
        );
        assert_eq!(err.code, 422, "{}", err.message);
        assert!(
            err.message.contains("spec.ttl: Invalid value: \"integer\": spec.ttl in body must be of type string: \"integer\""),
            "{}",
            err.message
        );
        assert!(
            err.message
                .contains("spec.includedNamespaces: Invalid value: \"string\""),
            "{}",
            err.message
        );

        // Unknown fields are pruned (Velero's schemas do not preserve them).
        let created = backups
            .create(
                &PostParams::default(),
                &object(json!({
                "apiVersion": "velero.io/v1", "kind": "Backup", "metadata": {"name": "b2"},
                "spec": {"includedNamespaces": ["harbor"], "includeNamespaces": ["typo"]}})),
            )
            .await
            .unwrap();
        assert!(
            created.data["spec"].get("includeNamespaces").is_none(),
            "{:?}",
            created.data
        );
        let (code, _, body) = super::validation::send(
            "POST",
            &format!(
                "{}/apis/velero.io/v1/namespaces/velero/backups?fieldValidation=Strict",
                k8s.url()
            ),
            "application/json",
            &json!({"apiVersion": "velero.io/v1", "kind": "Backup", "metadata": {"name": "b3"},
                    "spec": {"includeNamespaces": ["typo"]}}),
        );
        let err: kube::core::Status = serde_json::from_value(body).unwrap();
        assert_eq!(code, 400);
        assert_eq!(err.code, 400);
        assert!(
            err.message
                .ends_with("strict decoding error: unknown field \"spec.includeNamespaces\""),
            "{}",
            err.message
        );
    });
}

#[test]
fn a_backup_has_no_status_subresource_and_no_unconditional_update() {
    let k8s = KubeEmulator::start();
    run(async {
        let c = client(&k8s).await;
        let ns: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(c.clone());
        ns.create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "velero"}})).unwrap(),
        )
        .await
        .unwrap();
        let backups: Api<DynamicObject> =
            Api::namespaced_with(c.clone(), "velero", &velero("Backup"));
        // The status written with the object is kept: there is no status subresource to own it.
        let created = backups
            .create(
                &PostParams::default(),
                &object(json!({
                "apiVersion": "velero.io/v1", "kind": "Backup", "metadata": {"name": "seeded"},
                "spec": {"storageLocation": "nowhere"},
                "status": {"phase": "Completed"}})),
            )
            .await
            .unwrap();
        assert_eq!(created.data["status"]["phase"], "Completed");
        let err = api_error(
            backups
                .patch_status(
                    "seeded",
                    &PatchParams::default(),
                    &Patch::Merge(&json!({"status": {"phase": "Failed"}})),
                )
                .await
                .unwrap_err(),
        );
        assert_eq!(err.code, 404, "no /status: {}", err.message);

        let mut unconditional = created.clone();
        unconditional.metadata.resource_version = None;
        let err = api_error(
            backups
                .replace("seeded", &PostParams::default(), &unconditional)
                .await
                .unwrap_err(),
        );
        assert_eq!(err.code, 422);
        assert_eq!(
            err.message,
            "Backup.velero.io \"seeded\" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update"
        );
    });
}
