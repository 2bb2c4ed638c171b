//! PVC protection and reclaiming.

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::json;

use super::{SETTLE, client, run};
use crate::kube::KubeEmulator;

#[test]
fn a_claim_in_use_stays_until_its_pod_is_gone_then_its_volume_goes() {
    let k8s = KubeEmulator::start();
    run(async {
        let c = client(&k8s).await;
        let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(c.clone(), "monitoring");
        k8s.apply(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "monitoring"}}),
        );
        let claim: PersistentVolumeClaim = serde_json::from_value(json!({
            "metadata": {"name": "user-grafana"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}}
        }))
        .unwrap();
        pvcs.create(&PostParams::default(), &claim).await.unwrap();
        let deadline = std::time::Instant::now() + SETTLE;
        let volume = loop {
            let p = pvcs.get("user-grafana").await.unwrap();
            if p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound") {
                break p.spec.unwrap().volume_name.unwrap();
            }
            assert!(std::time::Instant::now() < deadline, "claim binds");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        let pods: Api<Pod> = Api::namespaced(c.clone(), "monitoring");
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "grafana"},
            "spec": {"containers": [{"name": "g", "image": "grafana"}],
                     "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "user-grafana"}}]}
        }))
        .unwrap();
        pods.create(&PostParams::default(), &pod).await.unwrap();
        let deleting = pvcs
            .delete("user-grafana", &DeleteParams::default())
            .await
            .unwrap()
            .left()
            .unwrap();
        assert!(deleting.metadata.deletion_timestamp.is_some());
        assert_eq!(
            deleting.metadata.finalizers.unwrap(),
            ["kubernetes.io/pvc-protection"]
        );
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(
            pvcs.get_opt("user-grafana").await.unwrap().is_some(),
            "protected while the pod uses it"
        );

        pods.delete("grafana", &DeleteParams::default())
            .await
            .unwrap();
        let pvs: Api<PersistentVolume> = Api::all(c.clone());
        while pvcs.get_opt("user-grafana").await.unwrap().is_some()
            || pvs.get_opt(&volume).await.unwrap().is_some()
        {
            assert!(
                std::time::Instant::now() < deadline,
                "claim and its Delete-policy volume go"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    });
}
