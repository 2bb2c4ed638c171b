//! TLS on `s3` and `http` connections against a real S3 server (moto) serving HTTPS with a
//! certificate from a test CA: verified by default, trusted through `ca_file`, refused with a
//! clear message otherwise, and skipped only where a connection says `insecure: true` (which
//! `plan` shows).

use runbook_engine::exit;
mod common;

use common::Workspace;
use runbook_testsupport::services::moto::MotoServer;
use runbook_testsupport::services::tls::TestCa;

fn runbook(endpoint: &str, s3_tls: &str, http_tls: &str) -> String {
    format!(
        r#"apiVersion: runbook/v1
kind: Runbook
name: tls
connections:
  store: {{kind: s3, endpoint: "{endpoint}", region: us-east-1, access_key: AKIAEXAMPLE, secret_key: s3cr3t-key-for-tls, path_style: true{s3_tls}}}
  api: {{kind: http, url: "{endpoint}"{http_tls}}}
steps:
  - id: buckets
    uses: http.request
    with: {{connection: api, path: /, expect_status: [200]}}
  - id: list
    uses: s3.list
    with: {{connection: store, bucket: tls-test}}
  - id: put
    needs: [list]
    uses: s3.put
    with: {{connection: store, bucket: tls-test, key: hello.txt, content: "over TLS"}}
  - id: get
    needs: [put]
    uses: s3.get
    with: {{connection: store, bucket: tls-test, key: hello.txt}}
"#
    )
}

fn setup() -> (Workspace, MotoServer, TestCa) {
    let ws = Workspace::new();
    let ca = TestCa::create(ws.dir.path());
    let moto = MotoServer::start_tls(&ca.cert, &ca.key);
    // Created over HTTPS with the CA, as a client that trusts it would.
    let out = std::process::Command::new("python3")
        .args(["-c", &format!("import boto3; boto3.client('s3', endpoint_url='{}', aws_access_key_id='a', aws_secret_access_key='b', region_name='us-east-1', verify='{}').create_bucket(Bucket='tls-test')", moto.endpoint(), ca.ca.display())])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (ws, moto, ca)
}

#[test]
fn both_connection_kinds_trust_a_private_ca_given_as_ca_file() {
    let (ws, moto, ca) = setup();
    let with_ca = format!(", ca_file: {:?}", ca.ca.display().to_string());
    ws.write("tls.yaml", &runbook(&moto.endpoint(), &with_ca, &with_ca));
    let ran = ws.runbook(&["run", "tls.yaml", "--yes"]);
    assert_eq!(ran.code, exit::OK, "{ran}");
    let id = ran.run_id();
    assert_eq!(
        ws.events(&id, "step_succeeded", "get")[0]["outputs"]["content"],
        "over TLS"
    );
    assert_eq!(
        ws.events(&id, "step_succeeded", "buckets")[0]["outputs"]["status"],
        200
    );
    assert_eq!(
        ws.events(&id, "step_succeeded", "list")[0]["outputs"]["count"],
        0
    );
}

#[test]
fn an_unknown_ca_is_refused_with_the_way_out() {
    let (ws, moto, _ca) = setup();
    ws.write("tls.yaml", &runbook(&moto.endpoint(), "", ""));
    let ran = ws.runbook(&["run", "tls.yaml", "--yes"]);
    assert_eq!(ran.code, exit::STEP_FAILED, "{ran}");
    let printed = format!("{}{}", ran.stdout, ran.stderr);
    assert!(
        printed.contains("FAILED    buckets") && printed.contains("FAILED    list"),
        "{ran}"
    );
    assert!(
        !printed.contains("DispatchFailure"),
        "no SDK internals:\n{ran}"
    );
    assert!(
        printed.to_lowercase().contains("certificate"),
        "names the certificate problem:\n{ran}"
    );
    assert!(
        printed.contains("ca_file"),
        "says how to trust the CA:\n{ran}"
    );
}

#[test]
fn s3_without_the_ca_fails_on_the_certificate() {
    let (ws, moto, ca) = setup();
    let with_ca = format!(", ca_file: {:?}", ca.ca.display().to_string());
    ws.write("tls.yaml", &runbook(&moto.endpoint(), "", &with_ca));
    let ran = ws.runbook(&["run", "tls.yaml", "--yes"]);
    assert_eq!(ran.code, exit::STEP_FAILED, "{ran}");
    let printed = format!("{}{}", ran.stdout, ran.stderr);
    assert!(printed.contains("FAILED    list"), "{ran}");
    assert!(printed.to_lowercase().contains("certificate"), "{ran}");
}

/// [`runbook`] with every step carrying on after a failure, so that each connection shows its own
/// outcome whatever the other's is.
fn runbook_carrying_on(endpoint: &str, s3_tls: &str, http_tls: &str) -> String {
    runbook(endpoint, s3_tls, http_tls)
        .replace("    uses: ", "    continue_on_error: true\n    uses: ")
}

/// The connection lines `plan` flags as not verifying TLS, by connection name.
fn flagged_unverified(plan: &str) -> Vec<&str> {
    plan.lines()
        .filter(|l| l.contains("TLS NOT VERIFIED"))
        .filter_map(|l| l.split_whitespace().next())
        .collect()
}

#[test]
fn insecure_skips_verification_only_where_asked_and_plan_shows_it() {
    let (ws, moto, _ca) = setup();
    // Neither trusts the test CA: the one not marked insecure must refuse the certificate.
    for (insecure, s3_tls, http_tls, verified_steps, insecure_steps) in [
        (
            "store",
            ", insecure: true",
            "",
            &["buckets"][..],
            &["list", "put", "get"][..],
        ),
        // `put` and `get` need `list`, so they wait for it and never run.
        (
            "api",
            "",
            ", insecure: true",
            &["list"][..],
            &["buckets"][..],
        ),
    ] {
        ws.write(
            "tls.yaml",
            &runbook_carrying_on(&moto.endpoint(), s3_tls, http_tls),
        );
        let plan = ws.runbook(&["plan", "tls.yaml"]);
        assert_eq!(plan.code, exit::OK, "{plan}");
        assert_eq!(
            flagged_unverified(&plan.stdout),
            [insecure],
            "only `{insecure}` is flagged:\n{plan}"
        );
        let verified = if insecure == "store" { "api" } else { "store" };
        assert!(
            plan.stdout
                .lines()
                .any(|l| l.trim_start().starts_with(verified)
                    && l.trim_end().ends_with("TLS verified")),
            "`{verified}` is shown verified:\n{plan}"
        );
        let ran = ws.runbook(&["run", "tls.yaml", "--yes"]);
        let id = ran.run_id();
        for step in verified_steps {
            let failed = ws.events(&id, "step_failed", step);
            assert!(
                !failed.is_empty() && ws.events(&id, "step_succeeded", step).is_empty(),
                "{step} on the verified connection `{verified}` must fail:\n{ran}"
            );
            let error = failed[0]["error"].as_str().unwrap().to_lowercase();
            assert!(error.contains("certificate"), "{step}: {error}");
        }
        for step in insecure_steps {
            assert_eq!(
                ws.events(&id, "step_succeeded", step).len(),
                1,
                "{step} on the insecure connection `{insecure}` must work:\n{ran}"
            );
        }
        if insecure == "store" {
            assert_eq!(
                ws.events(&id, "step_succeeded", "get")[0]["outputs"]["content"],
                "over TLS"
            );
        } else {
            assert_eq!(
                ws.events(&id, "step_succeeded", "buckets")[0]["outputs"]["status"],
                200
            );
        }
    }
}
