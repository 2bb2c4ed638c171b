//! A sync killed halfway (SIGKILL: no clean-up, as a crashed laptop) and resumed: what was
//! copied is skipped, the rest is copied, and the destination ends equal to the source.

use runbook_engine::exit;
mod common;

use std::time::Duration;

use common::{Workspace, finish, kill, wait_until};
use runbook_testsupport::services::moto::{MotoServer, SECRET_KEY};

const OBJECTS: usize = 60;

/// Objects in a bucket, by a plain ListObjectsV2 (moto does not check signatures): quick enough
/// to poll while the sync runs.
fn count(server: &MotoServer, bucket: &str) -> usize {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", server.port)) else {
        return 0;
    };
    let _ = write!(
        stream,
        "GET /{bucket}?list-type=2 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    );
    let mut body = String::new();
    let _ = stream.read_to_string(&mut body);
    body.matches("<Key>").count()
}

#[test]
fn a_sync_killed_mid_copy_resumes_with_what_is_left() {
    let (main, offsite) = (MotoServer::start(), MotoServer::start());
    main.python(&format!(
        "import os\ns3.create_bucket(Bucket='logs')\nfor i in range({OBJECTS}):\n    s3.put_object(Bucket='logs', Key=f'day-{{i:03}}.gz', Body=os.urandom(3 * 1024 * 1024 + i))"
    ));
    let ws = Workspace::new();
    ws.write(
        "sync.yaml",
        &format!(
            r#"apiVersion: runbook/v1
kind: Runbook
name: sync
params:
  s3_secret: {{required: true, secret: true}}
connections:
  main: {}
  offsite: {}
steps:
  - id: sync
    uses: s3.sync
    with: {{source: {{connection: main, bucket: logs}}, destination: {{connection: offsite, bucket: logs-copy}}, concurrency: 1}}
"#,
            main.connection(),
            offsite.connection()
        ),
    );
    let secret = format!("s3_secret={SECRET_KEY}");
    let child = ws.spawn(&["run", "sync.yaml", "--yes", "--set", &secret]);
    wait_until(
        Duration::from_secs(60),
        "a few objects to be copied",
        || count(&offsite, "logs-copy") >= 3,
    );
    kill(&child, libc::SIGKILL);
    let killed = finish(child);
    let run_id = killed.run_id();
    let copied_before = count(&offsite, "logs-copy");
    assert!(
        copied_before < OBJECTS,
        "killed before the end ({copied_before} of {OBJECTS} copied)"
    );

    // Secret params are never stored: the operator gives them again.
    let resumed = ws.runbook(&["resume", &run_id, "--yes", "--set", &secret]);
    assert_eq!(resumed.code, exit::OK, "{resumed}");
    let outputs = &ws.events(&run_id, "step_succeeded", "sync")[0]["outputs"];
    assert_eq!(outputs["objects_total"], OBJECTS, "{outputs}");
    let skipped = outputs["objects_skipped"].as_u64().unwrap() as usize;
    assert!(
        skipped >= copied_before.saturating_sub(2),
        "objects copied before the kill are skipped ({skipped} skipped, {copied_before} were there): {outputs}"
    );
    assert_eq!(
        skipped + outputs["objects_copied"].as_u64().unwrap() as usize,
        OBJECTS,
        "{outputs}"
    );
    let same = main.python(&format!(
        "import hashlib\nsrc = {{o['Key']: hashlib.md5(s3.get_object(Bucket='logs', Key=o['Key'])['Body'].read()).hexdigest() for o in s3.list_objects_v2(Bucket='logs', MaxKeys=1000)['Contents']}}\nimport boto3\nfrom botocore.config import Config\nd = boto3.client('s3', endpoint_url='{}', aws_access_key_id='a', aws_secret_access_key='b', region_name='us-east-1', config=Config(s3={{'addressing_style': 'path'}}))\ndst = {{o['Key']: hashlib.md5(d.get_object(Bucket='logs-copy', Key=o['Key'])['Body'].read()).hexdigest() for o in d.list_objects_v2(Bucket='logs-copy', MaxKeys=1000)['Contents']}}\nprint(src == dst, len(dst))",
        offsite.endpoint()
    ));
    assert_eq!(same.trim(), format!("True {OBJECTS}"));
}
