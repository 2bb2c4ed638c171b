//! The emulator driven by opensearch-py (`pip install opensearch-py`), a client no one here
//! wrote: it must parse every reply and raise the errors it raises against OpenSearch.

use std::process::Command;

use runbook_testsupport::opensearch::OpenSearchEmulator;
use serde_json::{Value, json};

#[test]
fn opensearch_py_registers_snapshots_restores_and_follows_recovery() {
    let os = OpenSearchEmulator::start("admin", "Py-client-pw1");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/opensearch_py_client.py");
    let out = Command::new("python3")
        .arg(script)
        .env("OPENSEARCH_URL", os.url())
        .env("OPENSEARCH_USER", "admin")
        .env("OPENSEARCH_PASSWORD", "Py-client-pw1")
        .output()
        .expect("run python3 (pip install opensearch-py)");
    assert!(
        out.status.success(),
        "opensearch-py failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_slice(&out.stdout).expect("the script's JSON");
    assert_eq!(seen["version"], "2.11.0");
    assert_eq!(seen["registered"], json!({"acknowledged": true}));
    assert_eq!(
        seen["repository"],
        json!({"nightly": {"type": "fs", "settings": {"location": "/tmp/opensearch/repo/nightly"}}})
    );
    assert_eq!(
        seen["cat_repositories"],
        json!([{"id": "nightly", "type": "fs"}])
    );
    assert_eq!(seen["created"]["snapshot"]["state"], "SUCCESS", "{seen}");
    assert_eq!(
        seen["snapshots"]["snapshots"][0]["indices"],
        json!(["logs-2024.06.01"])
    );
    assert_eq!(seen["cat_snapshots"][0]["id"], "snapshot-1");
    let text = seen["cat_snapshots_text"]
        .as_str()
        .expect("text without format=json");
    assert!(
        text.starts_with("id ") && text.contains("\nsnapshot-1 "),
        "{text}"
    );
    assert!(
        seen["verified"]["nodes"]
            .as_object()
            .is_some_and(|n| !n.is_empty())
    );
    assert_eq!(seen["status"]["snapshots"][0]["state"], "SUCCESS");
    assert_eq!(
        seen["restore_over_open_index"],
        json!({"status": 500, "error": "snapshot_restore_exception"})
    );
    assert_eq!(seen["accepted"], json!({"accepted": true}));
    assert_eq!(seen["recovered"]["stage"], "DONE", "{seen}");
    assert_eq!(seen["recovered"]["type"], "SNAPSHOT");
    assert_eq!(seen["recovered"]["source"]["snapshot"], "snapshot-1");
    assert_eq!(seen["cat_recovery"][0]["stage"], "done");
    assert_eq!(seen["health"]["status"], "green");
    assert_eq!(
        seen["missing_snapshot"],
        json!({"status": 404, "error": "snapshot_missing_exception"})
    );
    assert_eq!(seen["deleted"], json!({"acknowledged": true}));
    assert_eq!(seen["deleted_repository"], json!({"acknowledged": true}));
}
