//! The OpenSearch kinds against the emulator: repositories, picking the latest SUCCESS snapshot
//! that holds the wanted indices, a restore refused by an open index (with the server's reason and
//! what to do), deleting it, restoring and waiting for recovery, and `http.request`.

use runbook_engine::exit;
mod common;

use common::{Ran, Workspace};
use runbook_testsupport::opensearch::{Flavour, OpenSearchEmulator};
use serde_json::Value;

const PASSWORD: &str = "Sn4pshotter-pw!";

fn emulator() -> OpenSearchEmulator {
    let os = OpenSearchEmulator::start("snapshotter", PASSWORD);
    os.with(|c| {
        c.add_repository("opensearch-snapshots", "ck8s-opensearch");
        let day = 86_400_000;
        let base = 1_795_000_000_000;
        c.add_snapshot(
            "opensearch-snapshots",
            "snapshot-20261120_000000z",
            "SUCCESS",
            &[
                ("kubernetes-default-000001", 10),
                ("other-default-000001", 3),
            ],
            base,
        );
        c.add_snapshot(
            "opensearch-snapshots",
            "snapshot-20261121_000000z",
            "SUCCESS",
            &[
                ("kubernetes-default-000001", 20),
                ("kubeaudit-default-000001", 7),
                ("other-default-000001", 5),
                (".opendistro_security", 1),
            ],
            base + day,
        );
        // Newer, but partial, or without the audit indices: not what a restore wants.
        c.add_snapshot(
            "opensearch-snapshots",
            "snapshot-20261122_000000z",
            "PARTIAL",
            &[
                ("kubernetes-default-000001", 30),
                ("kubeaudit-default-000001", 9),
                ("other-default-000001", 6),
            ],
            base + 2 * day,
        );
        c.add_snapshot(
            "opensearch-snapshots",
            "snapshot-20261122_120000z",
            "SUCCESS",
            &[("kubernetes-default-000001", 31)],
            base + 2 * day + day / 2,
        );
        // The new cluster's configurer created a write index that is in the snapshot too.
        c.add_index("other-default-000001", 0);
    });
    os
}

fn head(os: &OpenSearchEmulator) -> String {
    format!(
        r#"apiVersion: runbook/v1
kind: Runbook
name: opensearch
params:
  password: {{required: true, secret: true}}
connections:
  opensearch: {{kind: http, url: "{}", username: snapshotter, password: "{{{{ params.password }}}}"}}
steps:
  - id: snapshots
    uses: opensearch.snapshots
    with: {{connection: opensearch, repository: opensearch-snapshots, indices: [kubernetes-*, kubeaudit-*, other-*]}}
"#,
        os.url()
    )
}

const RESTORE: &str = r#"  - id: restore
    needs: [snapshots]
    uses: opensearch.restore
    with:
      connection: opensearch
      repository: opensearch-snapshots
      snapshot: "{{ steps.snapshots.outputs.latest.snapshot }}"
      indices: "kubernetes-*,kubeaudit-*,other-*"
      timeout: 1m
"#;

fn run(ws: &Workspace, file: &std::path::Path) -> Ran {
    let password = format!("password={PASSWORD}");
    ws.runbook(&["run", file.to_str().unwrap(), "--set", &password, "--yes"])
}

fn outputs(ws: &Workspace, ran: &Ran, step: &str) -> Value {
    let events = ws.events(&ran.run_id(), "step_succeeded", step);
    assert_eq!(events.len(), 1, "{step} did not succeed once: {ran}");
    events[0]["outputs"].clone()
}

#[test]
fn restore_of_the_latest_good_snapshot_is_refused_by_an_open_index_then_succeeds_after_deleting_it()
{
    let os = emulator();
    let ws = Workspace::new();
    let refused_file = ws.write("refused.yaml", &format!("{}{RESTORE}", head(&os)));
    let refused = run(&ws, &refused_file);
    assert_ne!(refused.code, exit::OK, "{refused}");
    let latest = outputs(&ws, &refused, "snapshots")["latest"].clone();
    assert_eq!(latest["snapshot"], "snapshot-20261121_000000z", "{latest}");
    assert_eq!(latest["state"], "SUCCESS");
    assert_eq!(latest["indices"].as_array().unwrap().len(), 4);
    let error = ws.events(&refused.run_id(), "step_failed", "restore")[0]["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(error.contains("HTTP 500"), "{error}");
    assert!(error.contains("snapshot_restore_exception"), "{error}");
    assert!(error.contains("cannot restore index [other-default-000001] because an open index with same name already exists"), "{error}");
    assert!(
        error.contains("delete the index first (`opensearch.delete-index`) or close it"),
        "{error}"
    );
    // A refusal from the server is not retried.
    assert_eq!(
        ws.events(&refused.run_id(), "step_failed", "restore").len(),
        1
    );

    let file = ws.write(
        "restore.yaml",
        &format!(
            r#"{}  - id: delete
    uses: opensearch.delete-index
    with: {{connection: opensearch, index: [other-default-000001, not-there]}}
{}"#,
            head(&os),
            RESTORE.replace("needs: [snapshots]", "needs: [snapshots, delete]")
        ),
    );
    let ran = run(&ws, &file);
    assert_eq!(ran.code, exit::OK, "{ran}");
    let deleted = outputs(&ws, &ran, "delete");
    assert_eq!(
        deleted["deleted"],
        serde_json::json!(["other-default-000001"])
    );
    assert_eq!(deleted["missing"], serde_json::json!(["not-there"]));
    let restored = outputs(&ws, &ran, "restore");
    assert_eq!(
        restored["indices"],
        serde_json::json!([
            "kubeaudit-default-000001",
            "kubernetes-default-000001",
            "other-default-000001"
        ]),
        "{restored}"
    );
    assert_eq!(restored["shards"]["total"], 3, "{restored}");
    assert_eq!(restored["shards"]["done"], 3);
    // It waited: every restored index has recovered, with the snapshot's documents.
    os.with(|c| {
        for (name, docs) in [
            ("kubernetes-default-000001", 20),
            ("kubeaudit-default-000001", 7),
            ("other-default-000001", 5),
        ] {
            let index = &c.indices[name];
            assert_eq!(index.recovery_polls_left, 0, "{name} was still recovering");
            assert_eq!(index.docs, docs, "{name}");
        }
        assert!(
            !c.indices.contains_key(".opendistro_security"),
            "the security index was restored"
        );
        assert_eq!(c.restores.len(), 1);
        assert_eq!(c.restores[0]["include_global_state"], false);
    });
    for text in [&ran.stdout, &ran.stderr, &ws.journal_text(&ran.run_id())] {
        assert!(!text.contains(PASSWORD), "the password shows:\n{text}");
    }
}

#[test]
fn repositories_renamed_restores_and_http_requests() {
    let os = emulator();
    // The off-site copy was imported into this bucket: OpenSearch reads it on registration.
    os.with(|c| c.create_bucket("restored-offsite"));
    let ws = Workspace::new();
    let file = ws.write(
        "misc.yaml",
        &format!(
            r#"{}  - id: register
    uses: opensearch.repository
    with: {{connection: opensearch, action: register, name: backup-repository, settings: {{bucket: restored-offsite}}, readonly: true}}
  - id: repos
    needs: [register]
    uses: opensearch.repository
    with: {{connection: opensearch}}
  - id: renamed
    needs: [snapshots]
    uses: opensearch.restore
    with: {{connection: opensearch, repository: opensearch-snapshots, snapshot: snapshot-20261120_000000z, indices: [other-*], rename_pattern: '(.+)', rename_replacement: 'restored-$1'}}
  - id: count
    needs: [renamed]
    uses: http.request
    with: {{connection: opensearch, path: restored-other-default-000001/_count}}
  - id: cat
    needs: [renamed]
    uses: http.request
    with: {{connection: opensearch, path: _cat/indices, query: {{format: json}}}}
  - id: missing
    uses: http.request
    with: {{connection: opensearch, path: nope/_count, expect_status: [404]}}
"#,
            head(&os)
        ),
    );
    let ran = run(&ws, &file);
    assert_eq!(ran.code, exit::OK, "{ran}");
    let repos = outputs(&ws, &ran, "repos")["repositories"].clone();
    let registered = repos
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "backup-repository")
        .expect("registered")
        .clone();
    // OpenSearch keeps and shows every setting as a string.
    assert_eq!(registered["settings"]["readonly"], "true", "{registered}");
    assert_eq!(registered["type"], "s3");
    assert_eq!(
        outputs(&ws, &ran, "renamed")["indices"],
        serde_json::json!(["restored-other-default-000001"])
    );
    assert_eq!(outputs(&ws, &ran, "count")["json"]["count"], 3);
    let cat = outputs(&ws, &ran, "cat")["json"].clone();
    assert!(
        cat.as_array()
            .unwrap()
            .iter()
            .any(|i| i["index"] == "restored-other-default-000001"),
        "{cat}"
    );
    assert_eq!(
        outputs(&ws, &ran, "missing")["json"]["error"]["type"],
        "index_not_found_exception"
    );
}

#[test]
fn a_restore_of_hundreds_of_daily_indices_is_followed_to_the_end() {
    // 200 daily indices: their names joined are far longer than the 4 KB request line OpenSearch
    // accepts, so progress is read in batches.
    let os = emulator();
    let names: Vec<String> = (0..200)
        .map(|day| {
            format!(
                "kubernetes-default-2026.{:02}.{:02}-000001",
                1 + day / 28,
                1 + day % 28
            )
        })
        .collect();
    os.with(|c| {
        let indices: Vec<(&str, u64)> = names.iter().map(|n| (n.as_str(), 2)).collect();
        c.add_snapshot(
            "opensearch-snapshots",
            "snapshot-daily",
            "SUCCESS",
            &indices,
            1_796_000_000_000,
        );
    });
    assert!(names.join(",").len() > 4096);
    let ws = Workspace::new();
    let file = ws.write(
        "daily.yaml",
        &format!(
            r#"{}  - id: restore
    uses: opensearch.restore
    with: {{connection: opensearch, repository: opensearch-snapshots, snapshot: snapshot-daily, indices: [kubernetes-default-2026.*], timeout: 1m}}
"#,
            head(&os)
        ),
    );
    let ran = run(&ws, &file);
    assert_eq!(ran.code, exit::OK, "{ran}");
    let restored = outputs(&ws, &ran, "restore");
    assert_eq!(restored["indices"].as_array().unwrap().len(), 200);
    assert_eq!(restored["shards"]["done"], 200, "{restored}");
    for name in [&names[0], &names[199]] {
        assert_eq!(os.with(|c| c.indices[name.as_str()].docs), 2, "{name}");
    }
}

#[test]
fn elasticsearch_7_and_opensearch_1_list_and_restore_the_same() {
    for flavour in [Flavour::Elasticsearch7, Flavour::OpenSearch1] {
        let os = emulator();
        os.with(|c| c.flavour = flavour);
        let ws = Workspace::new();
        let file = ws.write(
            "flavour.yaml",
            &format!(
                r#"{}  - id: restore
    needs: [snapshots]
    uses: opensearch.restore
    with: {{connection: opensearch, repository: opensearch-snapshots, snapshot: "{{{{ steps.snapshots.outputs.latest.snapshot }}}}", indices: [kubernetes-*, kubeaudit-*], timeout: 1m}}
"#,
                head(&os)
            ),
        );
        let ran = run(&ws, &file);
        assert_eq!(ran.code, exit::OK, "{flavour:?}: {ran}");
        let listed = outputs(&ws, &ran, "snapshots");
        assert_eq!(listed["count"], 4, "{flavour:?}: {listed}");
        assert_eq!(
            listed["latest"]["snapshot"], "snapshot-20261121_000000z",
            "{flavour:?}: the newest SUCCESS snapshot holding every pattern"
        );
        let restored = outputs(&ws, &ran, "restore");
        assert_eq!(
            restored["indices"],
            serde_json::json!(["kubeaudit-default-000001", "kubernetes-default-000001"]),
            "{flavour:?}"
        );
        assert_eq!(restored["shards"]["done"], 2, "{flavour:?}: {restored}");
        assert_eq!(os.with(|c| c.indices["kubernetes-default-000001"].docs), 20);
    }
}

#[test]
fn wrong_password_and_missing_repository_are_explained() {
    let os = emulator();
    let ws = Workspace::new();
    let file = ws.write(
        "bad.yaml",
        &head(&os).replace("repository: opensearch-snapshots", "repository: nope"),
    );
    let ran = run(&ws, &file);
    let error = ws.events(&ran.run_id(), "step_failed", "snapshots")[0]["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        error.contains("HTTP 404: repository_missing_exception: [nope] missing"),
        "{error}"
    );
    let file = ws.write("auth.yaml", &head(&os));
    let ran = ws.runbook(&[
        "run",
        file.to_str().unwrap(),
        "--set",
        "password=wrong-password",
    ]);
    let error = ws.events(&ran.run_id(), "step_failed", "snapshots")[0]["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        error.contains("HTTP 401")
            && error.contains("check the connection's username and password"),
        "{error}"
    );
}

#[test]
fn unknown_inputs_are_reported_with_a_suggestion() {
    let ws = Workspace::new();
    let file = ws.write(
        "typo.yaml",
        r#"apiVersion: runbook/v1
kind: Runbook
name: typo
connections:
  opensearch: {kind: http, url: "http://127.0.0.1:9"}
steps:
  - id: restore
    uses: opensearch.restore
    with: {connection: opensearch, repository: r, snapshot: s, indices: [a], ignore_unavailabel: true}
"#,
    );
    let ran = ws.runbook(&["validate", file.to_str().unwrap()]);
    assert_eq!(ran.code, exit::INVALID, "{ran}");
    assert!(
        ran.stderr
            .contains("unknown input `ignore_unavailabel` for `opensearch.restore`"),
        "{ran}"
    );
    assert!(
        ran.stderr.contains("did you mean `ignore_unavailable`?"),
        "{ran}"
    );
}
