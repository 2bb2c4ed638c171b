//! `influxdb.query` against a real InfluxDB 1.x: the restore path of the runbooks. Databases with
//! points are backed up with `influxd backup -portable`, dropped by a runbook (destructive: only
//! with --yes), restored with `influxd restore -portable` (which brings back neither users' grants
//! nor dropped databases' grants), and their writers are granted again by the runbook.

use runbook_engine::exit;
mod common;

use common::{Ran, Workspace};
use runbook_testsupport::services::influxdb::{ADMIN, ADMIN_PASSWORD, InfluxDb};
use serde_json::{Value, json};

fn head(influx: &InfluxDb) -> String {
    format!(
        r#"apiVersion: runbook/v1
kind: Runbook
name: influxdb
params:
  admin_password: {{required: true, secret: true}}
  databases: {{default: [service_cluster, workload_cluster]}}
connections:
  influxdb: {{kind: http, url: "{}", username: {ADMIN}, password: "{{{{ params.admin_password }}}}"}}
steps:
"#,
        influx.url()
    )
}

fn run(ws: &Workspace, file: &std::path::Path, extra: &[&str]) -> Ran {
    let password = format!("admin_password={ADMIN_PASSWORD}");
    let mut args = vec!["run", file.to_str().unwrap(), "--set", &password];
    args.extend_from_slice(extra);
    ws.runbook(&args)
}

fn outputs(ws: &Workspace, ran: &Ran, step: &str) -> Value {
    let events = ws.events(&ran.run_id(), "step_succeeded", step);
    assert_eq!(events.len(), 1, "{step} did not succeed once: {ran}");
    events[0]["outputs"].clone()
}

fn databases(influx: &InfluxDb) -> Vec<String> {
    influx
        .rows("SHOW DATABASES", None)
        .into_iter()
        .map(|r| r[0].as_str().unwrap().to_string())
        .filter(|d| d != "_internal")
        .collect()
}

#[test]
fn drop_restore_and_regrant_the_databases() {
    let influx = InfluxDb::start();
    for (db, rp, writer) in [
        ("service_cluster", "service_cluster_rp", "scWriter"),
        ("workload_cluster", "workload_cluster_rp", "wcWriter"),
    ] {
        influx.query(&format!("CREATE DATABASE {db} WITH DURATION 3d NAME {rp}; CREATE USER {writer} WITH PASSWORD 'w-pass'; GRANT WRITE ON {db} TO {writer}"), None);
        influx.query("INSERT up,job=prometheus value=1", Some(db));
        influx.query("INSERT up,job=alertmanager value=2", Some(db));
    }
    let backup = tempfile::tempdir().unwrap();
    let out = influx.backup(backup.path());
    assert!(
        out.status.success(),
        "influxd backup: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let ws = Workspace::new();
    let drop = ws.write(
        "drop.yaml",
        &format!(
            r#"{}  - id: before
    uses: influxdb.query
    with: {{connection: influxdb, query: SHOW DATABASES}}
  - id: drop
    needs: [before]
    uses: influxdb.query
    for_each: params.databases
    with: {{connection: influxdb, query: "DROP DATABASE {{{{ item }}}}"}}
"#,
            head(&influx)
        ),
    );
    // DROP DATABASE is destructive: without --yes nothing is dropped.
    let refused = run(&ws, &drop, &[]);
    assert_ne!(refused.code, exit::OK, "{refused}");
    assert_eq!(databases(&influx), ["service_cluster", "workload_cluster"]);

    let dropped = run(&ws, &drop, &["--yes"]);
    assert_eq!(dropped.code, exit::OK, "{dropped}");
    let before = outputs(&ws, &dropped, "before");
    assert_eq!(before["series"][0]["name"], "databases", "{before}");
    assert!(
        before["series"][0]["values"]
            .as_array()
            .unwrap()
            .contains(&json!(["service_cluster"])),
        "{before}"
    );
    assert!(databases(&influx).is_empty(), "{:?}", databases(&influx));
    for text in [
        &dropped.stdout,
        &dropped.stderr,
        &ws.journal_text(&dropped.run_id()),
    ] {
        assert!(
            !text.contains(ADMIN_PASSWORD),
            "the admin password shows:\n{text}"
        );
    }

    let out = influx.restore(backup.path());
    assert!(
        out.status.success(),
        "influxd restore: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The data is back (once the restored shards are enabled), the writers' grants are not
    // (DROP DATABASE removed them).
    common::wait_until(
        std::time::Duration::from_secs(30),
        "the restored shards",
        || {
            influx
                .try_query("SELECT count(value) FROM up", Some("workload_cluster"))
                .is_ok_and(|r| r[0].get("error").is_none())
        },
    );
    assert_eq!(
        influx.rows("SELECT count(value) FROM up", Some("service_cluster"))[0][1],
        2
    );
    assert!(influx.rows("SHOW GRANTS FOR scWriter", None).is_empty());

    let grant = ws.write(
        "grant.yaml",
        &format!(
            r#"{}  - id: grant-sc
    uses: influxdb.query
    with: {{connection: influxdb, query: GRANT WRITE ON service_cluster TO scWriter}}
  - id: grant-wc
    uses: influxdb.query
    with: {{connection: influxdb, query: GRANT WRITE ON workload_cluster TO wcWriter}}
  - id: points
    needs: [grant-sc, grant-wc]
    uses: influxdb.query
    with: {{connection: influxdb, database: workload_cluster, query: SELECT value FROM up, epoch: s}}
"#,
            head(&influx)
        ),
    );
    // Grants are not destructive: no --yes needed.
    let granted = run(&ws, &grant, &[]);
    assert_eq!(granted.code, exit::OK, "{granted}");
    assert_eq!(
        outputs(&ws, &granted, "points")["series"][0]["values"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    for (db, writer) in [
        ("service_cluster", "scWriter"),
        ("workload_cluster", "wcWriter"),
    ] {
        assert_eq!(
            influx.rows(&format!("SHOW GRANTS FOR {writer}"), None),
            vec![vec![json!(db), json!("WRITE")]]
        );
        assert_eq!(
            influx.rows("SELECT count(value) FROM up", Some(db))[0][1],
            2,
            "{db}"
        );
    }
}

#[test]
fn server_errors_fail_the_step_with_the_servers_message() {
    let influx = InfluxDb::start();
    let ws = Workspace::new();
    let file = ws.write(
        "bad.yaml",
        &format!(
            r#"{}  - id: parse
    uses: influxdb.query
    with: {{connection: influxdb, query: SHOW DATABASEZ}}
  - id: statement
    uses: influxdb.query
    with: {{connection: influxdb, query: GRANT WRITE ON nodb TO nobody}}
"#,
            head(&influx)
        ),
    );
    let ran = run(&ws, &file, &[]);
    assert_ne!(ran.code, exit::OK, "{ran}");
    let error = |step: &str| {
        ws.events(&ran.run_id(), "step_failed", step)[0]["error"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(
        error("parse").contains("HTTP 400: error parsing query"),
        "{}",
        error("parse")
    );
    assert!(
        error("statement")
            .contains("InfluxDB refused `GRANT WRITE ON nodb TO nobody`: user not found"),
        "{}",
        error("statement")
    );

    let wrong = ws.runbook(&[
        "run",
        file.to_str().unwrap(),
        "--set",
        "admin_password=wrong",
    ]);
    let first = ws.events(&wrong.run_id(), "step_failed", "parse")[0]["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(first.contains("HTTP 401: authorization failed"), "{first}");
}
