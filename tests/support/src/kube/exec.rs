//! `pods/{name}/exec` over WebSocket with the Kubernetes channel subprotocols
//! (`v5.channel.k8s.io`, `v4.channel.k8s.io`): every binary frame starts with a channel byte
//! (0 stdin, 1 stdout, 2 stderr, 3 status, 255 close in v5), and the command's end is reported on
//! the status channel as a `metav1.Status` the way the kubelet writes it: `Success`, or `Failure`
//! with reason `NonZeroExitCode` and the exit code as the `ExitCode` cause.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde_json::json;

use super::resources;
use super::routes::Query;
use super::script::{ExecCall, ExecResult};
use super::state::{Cluster, RecordedRequest, lock};
use super::status::ApiError;

const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const STATUS: u8 = 3;
const CLOSE: u8 = 255;

/// Handles the upgrade request.
pub async fn handle(
    State(cluster): State<Arc<Cluster>>,
    Path((namespace, name)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    method: Method,
    uri: Uri,
    _headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let raw = raw.unwrap_or_default();
    lock(&cluster.requests).push(RecordedRequest {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: raw.clone(),
        content_type: None,
        body: None,
    });
    let query = Query::new(&raw);
    let pods = resources::by_plural("", "v1", "pods").expect("pods are served");
    let pod = match cluster.store().get_or_404(pods, &namespace, &name) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let phase = pod["status"]["phase"]
        .as_str()
        .unwrap_or("Pending")
        .to_string();
    if phase == "Succeeded" || phase == "Failed" {
        return ApiError::bad_request(format!(
            "cannot exec into a container in a completed pod; current phase is {phase}"
        ))
        .into_response();
    }
    let call = ExecCall {
        namespace,
        pod: name.clone(),
        container: query.get("container").map(str::to_string),
        command: query.all("command"),
        stdin: Vec::new(),
    };
    let wants_stdin = query.flag("stdin");
    let handler = cluster.scripts().exec_handler(&name);
    let upgrade = upgrade.protocols(["v5.channel.k8s.io", "v4.channel.k8s.io"]);
    let v5 = upgrade
        .selected_protocol()
        .is_some_and(|p| p.as_bytes() == b"v5.channel.k8s.io");
    upgrade.on_upgrade(move |socket| async move {
        run(socket, call, wants_stdin && v5, move |c| match &handler {
            Some(h) => h(c),
            None => ExecResult::failed(
                126,
                format!("runbook kube emulator: no exec scripted for pod {}", c.pod),
            ),
        })
        .await;
    })
}

fn frame(channel: u8, data: &[u8]) -> Message {
    let mut v = Vec::with_capacity(data.len() + 1);
    v.push(channel);
    v.extend_from_slice(data);
    Message::Binary(Bytes::from(v))
}

async fn run(
    mut socket: WebSocket,
    mut call: ExecCall,
    read_stdin: bool,
    handler: impl Fn(&ExecCall) -> ExecResult,
) {
    if read_stdin {
        // v5 clients signal the end of stdin with a CLOSE frame for channel 0.
        while let Some(Ok(msg)) = socket.next().await {
            match msg {
                Message::Binary(b) if b.first() == Some(&STDIN) => {
                    call.stdin.extend_from_slice(&b[1..])
                }
                Message::Binary(b) if b.as_ref() == [CLOSE, STDIN] => break,
                Message::Close(_) => break,
                _ => {}
            }
        }
    }
    let result = handler(&call);
    if !result.stdout.is_empty() {
        let _ = socket.send(frame(STDOUT, result.stdout.as_bytes())).await;
    }
    if !result.stderr.is_empty() {
        let _ = socket.send(frame(STDERR, result.stderr.as_bytes())).await;
    }
    let status = if result.exit_code == 0 {
        json!({"metadata": {}, "status": "Success"})
    } else {
        json!({
            "metadata": {},
            "status": "Failure",
            "message": format!(
                "command terminated with non-zero exit code: command terminated with exit code {}",
                result.exit_code
            ),
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": result.exit_code.to_string()}]},
        })
    };
    let _ = socket
        .send(frame(
            STATUS,
            &serde_json::to_vec(&status).unwrap_or_default(),
        ))
        .await;
    let _ = socket.send(Message::Close(None)).await;
}
