//! Discovery, both the per-group documents and the aggregated v2 list.

use kube::discovery::{Discovery, Scope, verbs};

use super::{client, run};
use crate::kube::KubeEmulator;

#[test]
fn kube_discovery_finds_every_group_both_ways() {
    let k8s = KubeEmulator::start();
    run(async {
        let c = client(&k8s).await;
        let version = c.apiserver_version().await.unwrap();
        assert_eq!(version.major, "1");
        for discovery in [
            Discovery::new(c.clone()).run().await.unwrap(),
            Discovery::new(c.clone()).run_aggregated().await.unwrap(),
        ] {
            let (ar, caps) = discovery
                .groups()
                .flat_map(|g| g.recommended_resources())
                .find(|(ar, _)| ar.kind == "Deployment")
                .expect("deployments discovered");
            assert_eq!(
                (ar.group.as_str(), ar.plural.as_str()),
                ("apps", "deployments")
            );
            assert_eq!(caps.scope, Scope::Namespaced);
            assert!(caps.supports_operation(verbs::WATCH));
            let subs: Vec<_> = caps
                .subresources
                .iter()
                .map(|(a, _)| a.plural.clone())
                .collect();
            assert!(subs.iter().any(|s| s.ends_with("scale")), "{subs:?}");
            let restore = discovery
                .groups()
                .flat_map(|g| g.recommended_resources())
                .find(|(ar, _)| ar.kind == "Restore");
            assert_eq!(
                restore.map(|(ar, _)| ar.api_version),
                Some("velero.io/v1".to_string())
            );
            let pv = discovery
                .groups()
                .flat_map(|g| g.recommended_resources())
                .find(|(ar, _)| ar.kind == "PersistentVolume");
            assert_eq!(pv.map(|(_, c)| c.scope), Some(Scope::Cluster));
        }
    });
    let accepts_aggregated = k8s.requests().iter().any(|r| r.path == "/apis");
    assert!(accepts_aggregated);
}
