//! The emulator refuses what OpenSearch refuses, with OpenSearch's status, error type and
//! reason, and serves what operators read (text `_cat`, health, status, aliases). Each test
//! here is one a real OpenSearch 2 would pass.

use runbook_testsupport::opensearch::{OpenSearchEmulator, http_request};
use runbook_testsupport::services::moto::MotoServer;
use serde_json::{Value, json};

const PW: &str = "Adm1n-pw";

fn call(os: &OpenSearchEmulator, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let (status, text) =
        http_request(os.url(), method, path, ("admin", PW), body.as_ref()).unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn text(os: &OpenSearchEmulator, path: &str) -> String {
    let (status, body) = http_request(os.url(), "GET", path, ("admin", PW), None).unwrap();
    assert_eq!(status, 200, "{path}: {body}");
    body
}

fn assert_error(reply: &(u16, Value), status: u16, kind: &str, reason: &str) {
    assert_eq!(reply.0, status, "{}", reply.1);
    assert_eq!(reply.1["status"], status, "{}", reply.1);
    assert_eq!(reply.1["error"]["type"], kind, "{}", reply.1);
    assert_eq!(reply.1["error"]["reason"], reason, "{}", reply.1);
    assert_eq!(
        reply.1["error"]["root_cause"][0]["type"], kind,
        "{}",
        reply.1
    );
}

/// A cluster with repository `repo` (on bucket `bucket`) holding a PARTIAL snapshot whose
/// `logs-a` shard failed and whose `logs-b` is whole.
fn with_partial_snapshot() -> OpenSearchEmulator {
    let os = OpenSearchEmulator::start("admin", PW);
    os.with(|c| {
        c.add_repository("repo", "bucket");
        c.add_snapshot(
            "repo",
            "snap-partial",
            "PARTIAL",
            &[("logs-a", 5), ("logs-b", 7)],
            1_700_000_000_000,
        );
    });
    os
}

#[test]
fn a_partial_snapshot_restores_only_with_partial_true() {
    let os = with_partial_snapshot();
    let (_, listed) = call(&os, "GET", "/_snapshot/repo/snap-partial", None);
    assert_eq!(listed["snapshots"][0]["shards"]["failed"], 1, "{listed}");
    assert_eq!(
        listed["snapshots"][0]["failures"][0]["index"], "logs-a",
        "{listed}"
    );
    assert_error(
        &call(
            &os,
            "POST",
            "/_snapshot/repo/snap-partial/_restore",
            Some(json!({"indices": "logs-*"})),
        ),
        500,
        "snapshot_restore_exception",
        "[repo:snap-partial/uuid-snap-partial] index [logs-a] wasn't fully snapshotted - cannot restore",
    );
    assert!(os.with(|c| c.indices.is_empty()), "nothing was restored");
    // The whole index restores without `partial`; the failed one with it, empty.
    let whole = call(
        &os,
        "POST",
        "/_snapshot/repo/snap-partial/_restore?wait_for_completion=true",
        Some(json!({"indices": "logs-b"})),
    );
    assert_eq!(whole.0, 200, "{}", whole.1);
    let partial = call(
        &os,
        "POST",
        "/_snapshot/repo/snap-partial/_restore?wait_for_completion=true",
        Some(json!({"indices": "logs-a", "partial": true})),
    );
    assert_eq!(partial.0, 200, "{}", partial.1);
    assert_eq!(
        os.with(|c| (c.indices["logs-a"].docs, c.indices["logs-b"].docs)),
        (0, 7)
    );
}

#[test]
fn repository_registration_checks_the_type_and_its_settings() {
    let os = OpenSearchEmulator::start("admin", PW);
    assert_error(
        &call(
            &os,
            "PUT",
            "/_snapshot/r",
            Some(json!({"type": "nfs", "settings": {}})),
        ),
        500,
        "repository_exception",
        "[r] repository type [nfs] does not exist",
    );
    assert_error(
        &call(
            &os,
            "PUT",
            "/_snapshot/r",
            Some(json!({"settings": {"bucket": "b"}})),
        ),
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: type is missing;",
    );
    assert_error(
        &call(
            &os,
            "PUT",
            "/_snapshot/r",
            Some(json!({"type": "fs", "settings": {"location": "/var/backups"}})),
        ),
        500,
        "repository_exception",
        "[r] location [/var/backups] doesn't match any of the locations specified by path.repo",
    );
    assert_error(
        &call(
            &os,
            "PUT",
            "/_snapshot/r",
            Some(json!({"type": "s3", "settings": {"bucket": "never-created"}})),
        ),
        500,
        "repository_verification_exception",
        "[r] path  is not accessible on cluster-manager node",
    );
    assert!(os.with(|c| c.repositories.is_empty()), "nothing registered");
    // Accepted registrations keep their settings as strings, as `GET _snapshot` shows them.
    os.with(|c| c.create_bucket("b"));
    let ok = call(
        &os,
        "POST",
        "/_snapshot/r",
        Some(json!({"type": "s3", "settings": {"bucket": "b", "readonly": true}})),
    );
    assert_eq!(ok.1, json!({"acknowledged": true}));
    assert_eq!(
        call(&os, "GET", "/_snapshot/r", None).1,
        json!({"r": {"type": "s3", "settings": {"bucket": "b", "readonly": "true"}}})
    );
}

#[test]
fn s3_repositories_live_in_the_bucket_of_a_real_s3_server() {
    let moto = MotoServer::start();
    let writer = OpenSearchEmulator::start("admin", PW);
    writer.with(|c| c.use_s3(&moto.endpoint()));
    let register = |os: &OpenSearchEmulator, name: &str, readonly: bool| {
        call(
            os,
            "PUT",
            &format!("/_snapshot/{name}"),
            Some(
                json!({"type": "s3", "settings": {"bucket": "os-snapshots", "client": "default", "readonly": readonly}}),
            ),
        )
    };
    for readonly in [false, true] {
        let refused = register(&writer, "main", readonly);
        assert_eq!(refused.0, 500, "readonly={readonly}: {}", refused.1);
        assert_eq!(
            refused.1["error"]["type"],
            "repository_verification_exception"
        );
        assert!(
            refused.1["error"]["caused_by"]["reason"]
                .as_str()
                .unwrap()
                .contains("The specified bucket does not exist"),
            "{}",
            refused.1
        );
    }
    moto.python("s3.create_bucket(Bucket='os-snapshots')");
    let registered = register(&writer, "main", false);
    assert_eq!(registered.0, 200, "{}", registered.1);
    assert_eq!(call(&writer, "PUT", "/logs-2024.06.01", None).0, 200);
    writer.with(|c| c.indices.get_mut("logs-2024.06.01").unwrap().docs = 42);
    let made = call(
        &writer,
        "PUT",
        "/_snapshot/main/snapshot-1?wait_for_completion=true",
        Some(json!({"indices": "logs-*"})),
    );
    assert_eq!(made.0, 200, "{}", made.1);
    // Laid out in the bucket as OpenSearch lays out a repository.
    let keys = moto.python(
        "print(sorted(o['Key'] for o in s3.list_objects_v2(Bucket='os-snapshots')['Contents']))",
    );
    for key in ["index.latest", "index-0", "snap-uuid-snapshot-1.dat"] {
        assert!(keys.contains(&format!("'{key}'")), "{key} in {keys}");
    }
    // Another cluster (after the disaster) reads the snapshot from the bucket on registration.
    let reader = OpenSearchEmulator::start("admin", PW);
    reader.with(|c| c.use_s3(&moto.endpoint()));
    let registered = register(&reader, "backup-repository", true);
    assert_eq!(registered.0, 200, "{}", registered.1);
    let listed = call(&reader, "GET", "/_snapshot/backup-repository/_all", None).1;
    assert_eq!(listed["snapshots"][0]["snapshot"], "snapshot-1", "{listed}");
    assert_eq!(
        listed["snapshots"][0]["indices"],
        json!(["logs-2024.06.01"])
    );
    let restored = call(
        &reader,
        "POST",
        "/_snapshot/backup-repository/snapshot-1/_restore?wait_for_completion=true",
        None,
    );
    assert_eq!(
        restored.1["snapshot"]["indices"],
        json!(["logs-2024.06.01"]),
        "{}",
        restored.1
    );
    assert_eq!(reader.with(|c| c.indices["logs-2024.06.01"].docs), 42);
    assert_error(
        &call(
            &reader,
            "PUT",
            "/_snapshot/backup-repository/snapshot-2",
            None,
        ),
        500,
        "repository_exception",
        "[backup-repository] cannot create snapshot in a readonly repository",
    );
}

#[test]
fn verify_is_an_action_not_a_snapshot_and_names_are_checked() {
    let os = with_partial_snapshot();
    let verified = call(&os, "POST", "/_snapshot/repo/_verify", None);
    assert_eq!(verified.0, 200, "{}", verified.1);
    assert!(
        verified.1["nodes"]
            .as_object()
            .is_some_and(|n| !n.is_empty()),
        "{}",
        verified.1
    );
    let (_, all) = call(&os, "GET", "/_snapshot/repo/_all", None);
    assert_eq!(
        all["snapshots"].as_array().unwrap().len(),
        1,
        "no snapshot `_verify`: {all}"
    );
    assert_error(
        &call(&os, "PUT", "/_snapshot/repo/_verify", None),
        400,
        "invalid_snapshot_name_exception",
        "[repo:_verify] Invalid snapshot name [_verify], must not start with '_'",
    );
    assert_error(
        &call(&os, "PUT", "/_snapshot/repo/Snapshot-1", None),
        400,
        "invalid_snapshot_name_exception",
        "[repo:Snapshot-1] Invalid snapshot name [Snapshot-1], must be lowercase",
    );
    assert_error(
        &call(&os, "PUT", "/Logs", None),
        400,
        "invalid_index_name_exception",
        "Invalid index name [Logs], must be lowercase",
    );
    assert_error(
        &call(&os, "POST", "/_snapshot/missing/_verify", None),
        404,
        "repository_missing_exception",
        "[missing] missing",
    );
}

#[test]
fn an_invalid_rename_pattern_is_a_400_and_the_server_stays_up() {
    let os = with_partial_snapshot();
    let reply = call(
        &os,
        "POST",
        "/_snapshot/repo/snap-partial/_restore",
        Some(json!({"indices": "logs-b", "rename_pattern": "(.+", "rename_replacement": "x-$1"})),
    );
    assert_eq!(reply.0, 400, "{}", reply.1);
    assert_eq!(reply.1["error"]["type"], "pattern_syntax_exception");
    assert_eq!(call(&os, "GET", "/", None).0, 200, "still serving");
    // A rename into an invalid index name is refused as index creation refuses it.
    assert_error(
        &call(
            &os,
            "POST",
            "/_snapshot/repo/snap-partial/_restore",
            Some(
                json!({"indices": "logs-b", "rename_pattern": "logs-(.+)", "rename_replacement": "Restored-$1"}),
            ),
        ),
        400,
        "invalid_index_name_exception",
        "Invalid index name [Restored-b], must be lowercase",
    );
}

#[test]
fn restoring_a_write_index_beside_the_new_write_index_of_its_alias_is_refused() {
    let os = OpenSearchEmulator::start("admin", PW);
    os.with(|c| c.add_repository("repo", "bucket"));
    let old = "other-default-2024.05.31-000001";
    let new = "other-default-2024.06.03-000001";
    assert_eq!(call(&os, "PUT", &format!("/{old}"), None).0, 200);
    let aliased = call(
        &os,
        "POST",
        "/_aliases",
        Some(
            json!({"actions": [{"add": {"index": old, "alias": "other-default", "is_write_index": true}}]}),
        ),
    );
    assert_eq!(aliased.0, 200, "{}", aliased.1);
    assert_eq!(
        call(
            &os,
            "PUT",
            "/_snapshot/repo/snapshot-1?wait_for_completion=true",
            Some(json!({"indices": "other-*"}))
        )
        .0,
        200
    );
    // The disaster: the index is lost; the new cluster's configurer makes a new write index.
    assert_eq!(call(&os, "DELETE", &format!("/{old}"), None).0, 200);
    assert_eq!(call(&os, "PUT", &format!("/{new}"), None).0, 200);
    call(
        &os,
        "POST",
        "/_aliases",
        Some(
            json!({"actions": [{"add": {"index": new, "alias": "other-default", "is_write_index": true}}]}),
        ),
    );
    assert_error(
        &call(
            &os,
            "POST",
            "/_snapshot/repo/snapshot-1/_restore",
            Some(json!({"indices": old})),
        ),
        500,
        "illegal_state_exception",
        &format!("alias [other-default] has more than one write index [{old},{new}]"),
    );
    // Two write indices for one alias by hand are refused the same way.
    assert_eq!(call(&os, "PUT", "/other-x", None).0, 200);
    let twice = call(
        &os,
        "POST",
        "/_aliases",
        Some(
            json!({"actions": [{"add": {"index": "other-x", "alias": "other-default", "is_write_index": true}}]}),
        ),
    );
    assert_eq!(twice.0, 500, "{}", twice.1);
    // Without its aliases the old index comes back beside the new one.
    let restored = call(
        &os,
        "POST",
        "/_snapshot/repo/snapshot-1/_restore?wait_for_completion=true",
        Some(json!({"indices": old, "include_aliases": false})),
    );
    assert_eq!(restored.0, 200, "{}", restored.1);
    let (_, alias) = call(&os, "GET", "/_alias/other-default", None);
    assert_eq!(
        alias,
        json!({new: {"aliases": {"other-default": {"is_write_index": true}}}})
    );
}

#[test]
fn snapshots_by_list_and_wildcard_status_and_delete() {
    let os = with_partial_snapshot();
    os.with(|c| {
        c.add_snapshot(
            "repo",
            "snap-2",
            "SUCCESS",
            &[("logs-a", 6)],
            1_700_100_000_000,
        )
    });
    let names = |v: &Value| {
        v["snapshots"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["snapshot"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(&call(&os, "GET", "/_snapshot/repo/snap-*", None).1),
        ["snap-partial", "snap-2"]
    );
    assert_eq!(
        names(&call(&os, "GET", "/_snapshot/repo/snap-2,snap-partial", None).1),
        ["snap-partial", "snap-2"]
    );
    assert_error(
        &call(&os, "GET", "/_snapshot/repo/snap-2,nope", None),
        404,
        "snapshot_missing_exception",
        "[repo:nope] is missing",
    );
    assert_eq!(
        names(
            &call(
                &os,
                "GET",
                "/_snapshot/repo/snap-2,nope?ignore_unavailable=true",
                None
            )
            .1
        ),
        ["snap-2"]
    );
    let (_, status) = call(&os, "GET", "/_snapshot/repo/snap-2/_status", None);
    assert_eq!(status["snapshots"][0]["state"], "SUCCESS", "{status}");
    assert_eq!(
        status["snapshots"][0]["indices"]["logs-a"]["shards"]["0"]["stage"], "DONE",
        "{status}"
    );
    assert_eq!(
        call(&os, "GET", "/_snapshot/_status", None).1,
        json!({"snapshots": []})
    );
    assert_eq!(
        call(&os, "DELETE", "/_snapshot/repo/snap-2", None).1,
        json!({"acknowledged": true})
    );
    assert_error(
        &call(&os, "DELETE", "/_snapshot/repo/snap-2", None),
        404,
        "snapshot_missing_exception",
        "[repo:snap-2] is missing",
    );
    assert_eq!(
        call(&os, "DELETE", "/_snapshot/repo", None).1,
        json!({"acknowledged": true})
    );
    assert_error(
        &call(&os, "GET", "/_snapshot/repo", None),
        404,
        "repository_missing_exception",
        "[repo] missing",
    );
}

#[test]
fn cat_answers_text_unless_asked_for_json() {
    let os = with_partial_snapshot();
    os.with(|c| {
        c.add_snapshot(
            "repo",
            "snap-0",
            "SUCCESS",
            &[("logs-a", 6)],
            1_600_000_000_000,
        )
    });
    assert_eq!(text(&os, "/_cat/repositories?v"), "id   type\nrepo s3\n");
    assert_eq!(text(&os, "/_cat/repositories"), "repo s3\n");
    let snapshots = text(&os, "/_cat/snapshots/repo?v&s=id:desc&h=id,status,indices");
    assert_eq!(
        snapshots,
        "id           status  indices\nsnap-partial PARTIAL 2\nsnap-0       SUCCESS 1\n"
    );
    let (_, by_query) = call(
        &os,
        "GET",
        "/_cat/snapshots?repository=repo&format=json",
        None,
    );
    let (_, by_path) = call(&os, "GET", "/_cat/snapshots/repo?format=json", None);
    assert_eq!(by_query, by_path);
    assert_eq!(by_path[0]["id"], "snap-0", "oldest first: {by_path}");
    assert_eq!(by_path[1]["failed_shards"], "1");
}

#[test]
fn health_is_red_while_a_restore_recovers_and_wait_for_completion_waits() {
    let os = with_partial_snapshot();
    os.with(|c| c.recovery_polls = 2);
    let accepted = call(
        &os,
        "POST",
        "/_snapshot/repo/snap-partial/_restore",
        Some(json!({"indices": "logs-b"})),
    );
    assert_eq!(accepted.1, json!({"accepted": true}));
    let (status, health) = call(&os, "GET", "/_cluster/health/logs-b", None);
    assert_eq!(
        (status, health["status"].as_str()),
        (200, Some("red")),
        "{health}"
    );
    assert_eq!(health["initializing_shards"], 1);
    let (_, recovery) = call(
        &os,
        "GET",
        "/_cat/recovery/logs-b?format=json&active_only=true",
        None,
    );
    assert_eq!(recovery[0]["type"], "snapshot", "{recovery}");
    assert_eq!(recovery[0]["snapshot"], "snap-partial");
    let done = (0..5).any(|_| {
        call(&os, "GET", "/logs-b/_recovery", None).1["logs-b"]["shards"][0]["stage"] == "DONE"
    });
    assert!(done, "the restore recovers as it is polled");
    assert_eq!(
        call(&os, "GET", "/_cluster/health?wait_for_status=green", None).1["status"],
        "green"
    );
    // `wait_for_completion=true` returns once recovered, with what was restored.
    assert_eq!(call(&os, "DELETE", "/logs-b", None).0, 200);
    let waited = call(
        &os,
        "POST",
        "/_snapshot/repo/snap-partial/_restore?wait_for_completion=true",
        Some(json!({"indices": "logs-b"})),
    );
    assert_eq!(
        waited.1,
        json!({"snapshot": {"snapshot": "snap-partial", "indices": ["logs-b"], "shards": {"total": 1, "failed": 0, "successful": 1}}})
    );
    assert_eq!(
        call(&os, "GET", "/_cluster/health/logs-b", None).1["status"],
        "green"
    );
}
