//! Exec over WebSocket.

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams};
use serde_json::json;
use tokio::io::AsyncReadExt;

use super::{client, run};
use crate::kube::{ExecResult, KubeEmulator};

#[test]
fn exec_returns_scripted_output_and_exit_status() {
    let k8s = KubeEmulator::start();
    k8s.apply(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "influxdb-0", "namespace": "influxdb-prometheus"},
        "spec": {"containers": [{"name": "influxdb", "image": "influxdb:1.8.0-alpine"}]},
        "status": {"phase": "Running"}
    }));
    k8s.on_exec_in("influxdb-0", |call| {
        if call.command.iter().any(|a| a.contains("SHOW DATABASES")) {
            ExecResult::ok("name\n----\n_internal\nservice_cluster\n")
        } else {
            ExecResult::failed(3, "unknown command\n")
        }
    });
    run(async {
        let pods: Api<Pod> = Api::namespaced(client(&k8s).await, "influxdb-prometheus");
        let params = AttachParams::default().container("influxdb").stderr(true);
        let mut proc = pods
            .exec(
                "influxdb-0",
                ["influx", "-execute", "SHOW DATABASES"],
                &params,
            )
            .await
            .unwrap();
        let mut out = String::new();
        proc.stdout()
            .unwrap()
            .read_to_string(&mut out)
            .await
            .unwrap();
        let status = proc.take_status().unwrap().await.unwrap();
        assert_eq!(out, "name\n----\n_internal\nservice_cluster\n");
        assert_eq!(status.status.as_deref(), Some("Success"));

        let mut failing = pods.exec("influxdb-0", ["false"], &params).await.unwrap();
        let mut err = String::new();
        failing
            .stderr()
            .unwrap()
            .read_to_string(&mut err)
            .await
            .unwrap();
        let status = failing.take_status().unwrap().await.unwrap();
        assert_eq!(err, "unknown command\n");
        assert_eq!(status.reason.as_deref(), Some("NonZeroExitCode"));
        let cause = &status.details.unwrap().causes.unwrap()[0];
        assert_eq!(
            (cause.reason.as_deref(), cause.message.as_deref()),
            (Some("ExitCode"), Some("3"))
        );
    });
    let exec = k8s
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/exec"))
        .unwrap();
    assert_eq!(exec.query_param("container").as_deref(), Some("influxdb"));
}
