//! The S3 kinds against real S3 servers (moto, two instances for copies between endpoints):
//! sync with multipart objects and a second sync that copies nothing, server-side copy on one
//! endpoint, the newest 14-digit backup folder, put and get, object-lock buckets, and the secret
//! key kept out of everything printed or stored.

use runbook_engine::exit;
mod common;

use common::Workspace;
use runbook_testsupport::services::moto::{MotoServer, SECRET_KEY};
use serde_json::Value;

fn head(connections: &[(&str, &MotoServer)]) -> String {
    let mut text = String::from(
        r#"apiVersion: runbook/v1
kind: Runbook
name: s3
params:
  s3_secret: {required: true, secret: true}
connections:
"#,
    );
    for (name, server) in connections {
        text.push_str(&format!("  {name}: {}\n", server.connection()));
    }
    text.push_str("steps:\n");
    text
}

fn run(ws: &Workspace, file: &std::path::Path, extra: &[&str]) -> common::Ran {
    let secret = format!("s3_secret={SECRET_KEY}");
    let mut args = vec!["run", file.to_str().unwrap(), "--set", &secret];
    args.extend_from_slice(extra);
    ws.runbook(&args)
}

fn outputs(ws: &Workspace, ran: &common::Ran, step: &str) -> Value {
    let events = ws.events(&ran.run_id(), "step_succeeded", step);
    assert_eq!(events.len(), 1, "{step} did not succeed once: {ran}");
    events[0]["outputs"].clone()
}

fn assert_no_secret(ws: &Workspace, ran: &common::Ran) {
    let journal = ws.journal_text(&ran.run_id());
    for (what, text) in [
        ("stdout", &ran.stdout),
        ("stderr", &ran.stderr),
        ("journal", &journal),
    ] {
        assert!(
            !text.contains(SECRET_KEY),
            "{what} shows the S3 secret key:\n{text}"
        );
    }
}

/// MD5 of every object in a bucket, by key, as JSON.
const CHECKSUMS: &str = "import hashlib\ndef sums(bucket, prefix=''):\n    out = {}\n    for page in s3.get_paginator('list_objects_v2').paginate(Bucket=bucket, Prefix=prefix):\n        for o in page.get('Contents', []):\n            out[o['Key'][len(prefix):]] = hashlib.md5(s3.get_object(Bucket=bucket, Key=o['Key'])['Body'].read()).hexdigest()\n    return out\n";

#[test]
fn sync_between_two_servers_streams_multipart_objects_and_resumes_without_copying_again() {
    let (main, offsite) = (MotoServer::start(), MotoServer::start());
    // 20 MiB: over the 16 MiB threshold and more than two 8 MiB parts, so it goes up as a
    // multipart upload with parallel parts.
    main.python(
        "import os\ns3.create_bucket(Bucket='harbor')\ns3.put_object(Bucket='harbor', Key='backups/1700000000.sql.gz', Body=os.urandom(20 * 1024 * 1024))\ns3.put_object(Bucket='harbor', Key='docker/registry/v2/blobs/a b+c.json', Body=b'{\"x\": 1}', ContentType='application/json', Metadata={'origin': 'harbor'})\ns3.put_object(Bucket='harbor', Key='empty', Body=b'')",
    );
    let ws = Workspace::new();
    let file = ws.write(
        "sync.yaml",
        &format!(
            r#"{}  - id: sync
    uses: s3.sync
    with:
      source: {{connection: main, bucket: harbor}}
      destination: {{connection: offsite, bucket: harbor-offsite, prefix: restored/}}
      concurrency: 4
      multipart_threshold_mib: 16
"#,
            head(&[("main", &main), ("offsite", &offsite)])
        ),
    );
    // It may overwrite objects, so it is destructive: not without --yes.
    let refused = run(&ws, &file, &[]);
    assert_ne!(
        refused.code,
        exit::OK,
        "a destructive sync ran without --yes: {refused}"
    );

    let first = run(&ws, &file, &["--yes"]);
    assert_eq!(first.code, exit::OK, "{first}");
    let out = outputs(&ws, &first, "sync");
    assert_eq!(out["objects_copied"], 3, "{out}");
    assert_eq!(out["objects_skipped"], 0, "{out}");
    assert_eq!(out["bytes_copied"], 20 * 1024 * 1024 + 8, "{out}");
    assert_eq!(out["server_side"], false, "{out}");
    assert_no_secret(&ws, &first);

    let source = main.python(&format!(
        "{CHECKSUMS}print(json.dumps(sums('harbor'), sort_keys=True))"
    ));
    let copied = offsite.python(&format!(
        "{CHECKSUMS}print(json.dumps(sums('harbor-offsite', 'restored/'), sort_keys=True))"
    ));
    assert_eq!(source, copied, "the copies differ from the source");
    // The big object went up in parts; metadata and content type came along.
    let details = offsite.python(
        "h = s3.head_object(Bucket='harbor-offsite', Key='restored/backups/1700000000.sql.gz')\nj = s3.head_object(Bucket='harbor-offsite', Key='restored/docker/registry/v2/blobs/a b+c.json')\nprint(json.dumps({'etag': h['ETag'], 'type': j['ContentType'], 'meta': j['Metadata']}))",
    );
    let details: Value = serde_json::from_str(details.trim()).unwrap();
    assert!(
        details["etag"].as_str().unwrap().contains('-'),
        "not a multipart upload: {details}"
    );
    assert_eq!(details["type"], "application/json");
    assert_eq!(details["meta"]["origin"], "harbor");

    // A second sync (a resume after an interruption looks the same) copies nothing.
    let second = run(&ws, &file, &["--yes"]);
    assert_eq!(second.code, exit::OK, "{second}");
    let out = outputs(&ws, &second, "sync");
    assert_eq!(out["objects_copied"], 0, "{out}");
    assert_eq!(out["objects_skipped"], 3, "{out}");

    // A changed source object is copied again; the others are still skipped.
    main.python("s3.put_object(Bucket='harbor', Key='empty', Body=b'now with content')");
    let third = run(&ws, &file, &["--yes"]);
    assert_eq!(third.code, exit::OK, "{third}");
    let out = outputs(&ws, &third, "sync");
    assert_eq!(
        (
            out["objects_copied"].as_u64(),
            out["objects_skipped"].as_u64()
        ),
        (Some(1), Some(2)),
        "{out}"
    );
}

#[test]
fn copy_on_one_endpoint_is_done_by_the_server() {
    let store = MotoServer::start();
    // Five small objects (CopyObject each) and one of 20 MiB, over the 8 MiB threshold: copied by
    // the server in parallel UploadPartCopy ranges.
    store.python("import os\ns3.create_bucket(Bucket='velero')\ns3.create_bucket(Bucket='velero-restored')\nfor i in range(5):\n    s3.put_object(Bucket='velero', Key=f'service-cluster/backups/b{i}/velero-backup.json', Body=b'{}' * (i + 1))\ns3.put_object(Bucket='velero', Key='service-cluster/kopia/pack', Body=os.urandom(20 * 1024 * 1024))");
    let ws = Workspace::new();
    let file = ws.write(
        "copy.yaml",
        &format!(
            r#"{}  - id: copy
    uses: s3.copy
    with:
      source: {{connection: store, bucket: velero, prefix: service-cluster/}}
      destination: {{connection: store, bucket: velero-restored, prefix: service-cluster/}}
      overwrite: false
      multipart_threshold_mib: 8
"#,
            head(&[("store", &store)])
        ),
    );
    // `overwrite: false` makes it non-destructive: it runs without --yes.
    let ran = run(&ws, &file, &[]);
    assert_eq!(ran.code, exit::OK, "{ran}");
    let out = outputs(&ws, &ran, "copy");
    assert_eq!(out["objects_copied"], 6, "{out}");
    assert_eq!(out["server_side"], true, "{out}");
    let parts = store.python(
        "print(s3.head_object(Bucket='velero-restored', Key='service-cluster/kopia/pack')['ETag'])",
    );
    assert!(
        parts.trim().ends_with("-3\""),
        "copied in three 8 MiB ranges: {parts}"
    );
    let (a, b) = (
        store.python(&format!(
            "{CHECKSUMS}print(json.dumps(sums('velero'), sort_keys=True))"
        )),
        store.python(&format!(
            "{CHECKSUMS}print(json.dumps(sums('velero-restored'), sort_keys=True))"
        )),
    );
    assert_eq!(a, b);
    // Now the objects exist with the same content: copying again leaves them.
    store.python("s3.put_object(Bucket='velero', Key='service-cluster/backups/b0/velero-backup.json', Body=b'changed')");
    let again = run(&ws, &file, &[]);
    assert_ne!(again.code, exit::OK, "{again}");
    assert!(
        again
            .stdout
            .contains("with other content and `overwrite: false`")
            || again
                .stderr
                .contains("with other content and `overwrite: false`"),
        "{again}"
    );
}

#[test]
fn latest_finds_the_newest_backup_folder_and_put_get_and_list_round_trip() {
    let store = MotoServer::start();
    store.python(
        "s3.create_bucket(Bucket='influxdb')\nfor folder in ['20261120000000', '20261122000000', '20261121000000', 'tmp', '2026112300000']:\n    for f in ['20261120T000000Z.meta', '20261120T000000Z.manifest']:\n        s3.put_object(Bucket='influxdb', Key=f'{folder}/{f}', Body=b'x')\nimport time\ntime.sleep(1.1)\ns3.put_object(Bucket='influxdb', Key='README', Body=b'not a backup')",
    );
    let ws = Workspace::new();
    ws.write("upload.txt", "uploaded from a file\n");
    let file = ws.write(
        "latest.yaml",
        &format!(
            r#"{}  - id: latest
    uses: s3.latest
    with: {{connection: store, bucket: influxdb, prefixes: true, pattern: '[0-9]{{14}}', by: name}}
  - id: newest-object
    uses: s3.latest
    with: {{connection: store, bucket: influxdb}}
  - id: folders
    uses: s3.list
    with: {{connection: store, bucket: influxdb, delimiter: /}}
  - id: put-text
    needs: [latest, folders]
    uses: s3.put
    with: {{connection: store, bucket: influxdb, key: 'notes/{{{{ steps.latest.outputs.name }}}}.txt', content: 'restored {{{{ steps.latest.outputs.key }}}}'}}
  - id: put-file
    needs: [folders]
    uses: s3.put
    with: {{connection: store, bucket: influxdb, key: notes/upload.txt, from: upload.txt}}
  - id: get-file
    needs: [put-text]
    uses: s3.get
    with: {{connection: store, bucket: influxdb, key: notes/20261122000000.txt, to: out/restored.txt}}
  - id: get-text
    needs: [put-file]
    uses: s3.get
    with: {{connection: store, bucket: influxdb, key: notes/upload.txt}}
"#,
            head(&[("store", &store)])
        ),
    );
    let ran = run(&ws, &file, &["--yes"]);
    assert_eq!(ran.code, exit::OK, "{ran}");
    let latest = outputs(&ws, &ran, "latest");
    assert_eq!(latest["key"], "20261122000000/", "{latest}");
    assert_eq!(latest["name"], "20261122000000");
    assert_eq!(latest["objects"], 2);
    assert_eq!(outputs(&ws, &ran, "newest-object")["key"], "README");
    let folders = outputs(&ws, &ran, "folders");
    assert_eq!(
        folders["prefixes"].as_array().unwrap().len(),
        5,
        "{folders}"
    );
    assert_eq!(folders["objects"][0]["key"], "README", "{folders}");
    assert_eq!(folders["objects"][0]["size"], 12, "{folders}");
    assert!(
        folders["objects"][0]["last_modified"]
            .as_str()
            .unwrap()
            .ends_with('Z'),
        "{folders}"
    );
    assert_eq!(ws.read("out/restored.txt"), "restored 20261122000000/");
    assert_eq!(
        outputs(&ws, &ran, "get-text")["content"],
        "uploaded from a file\n"
    );
    assert_no_secret(&ws, &ran);

    // Nothing matching is an error that says what was looked for.
    let none = ws.write(
        "none.yaml",
        &format!(
            r#"{}  - id: latest
    uses: s3.latest
    with: {{connection: store, bucket: influxdb, prefixes: true, pattern: '[0-9]{{20}}'}}
"#,
            head(&[("store", &store)])
        ),
    );
    let ran = run(&ws, &none, &[]);
    assert_ne!(ran.code, exit::OK, "{ran}");
    let failed = ws.events(&ran.run_id(), "step_failed", "latest");
    assert!(
        failed[0]["error"]
            .as_str()
            .unwrap()
            .contains("no folder matching `[0-9]{20}` under s3://influxdb/"),
        "{failed:?}"
    );
}

#[test]
fn object_lock_buckets_take_streamed_and_multipart_writes() {
    let store = MotoServer::start();
    // Default retention: S3 refuses uploads without a checksum header into such a bucket.
    store.python(
        "s3.create_bucket(Bucket='locked', ObjectLockEnabledForBucket=True)\ns3.put_object_lock_configuration(Bucket='locked', ObjectLockConfiguration={'ObjectLockEnabled': 'Enabled', 'Rule': {'DefaultRetention': {'Mode': 'COMPLIANCE', 'Days': 1}}})\ns3.create_bucket(Bucket='source')\nimport os\ns3.put_object(Bucket='source', Key='big', Body=os.urandom(9 * 1024 * 1024))\ns3.put_object(Bucket='source', Key='small', Body=b'small')\nu = s3.create_multipart_upload(Bucket='source', Key='parted')['UploadId']\nparts = [{'PartNumber': n, 'ETag': s3.upload_part(Bucket='source', Key='parted', UploadId=u, PartNumber=n, Body=os.urandom(5 * 1024 * 1024))['ETag']} for n in (1, 2)]\ns3.complete_multipart_upload(Bucket='source', Key='parted', UploadId=u, MultipartUpload={'Parts': parts})",
    );
    let ws = Workspace::new();
    let file = ws.write(
        "lock.yaml",
        &format!(
            r#"{}  - id: put
    uses: s3.put
    with: {{connection: store, bucket: locked, key: note.txt, content: kept}}
  - id: sync
    uses: s3.sync
    with:
      source: {{connection: store, bucket: source}}
      destination: {{connection: other, bucket: locked, prefix: copy/}}
      multipart_threshold_mib: 8
"#,
            head(&[("store", &store), ("other", &store)])
        )
        .replace(
            "  other: {kind: s3, endpoint: \"http://127.0.0.1",
            "  other: {kind: s3, endpoint: \"http://localhost",
        ),
    );
    let ran = run(&ws, &file, &["--yes"]);
    assert_eq!(ran.code, exit::OK, "{ran}");
    // `big` went up in parts, `small` with the MD5 its ETag gives, `parted` (a multipart ETag is
    // no MD5) with a CRC32 of the stream.
    assert_eq!(outputs(&ws, &ran, "sync")["objects_copied"], 3);
    let sizes = store.python("print(s3.head_object(Bucket='locked', Key='copy/big')['ContentLength'], s3.head_object(Bucket='locked', Key='copy/parted')['ContentLength'], s3.get_object(Bucket='locked', Key='copy/small')['Body'].read().decode(), s3.get_object(Bucket='locked', Key='note.txt')['Body'].read().decode())");
    assert_eq!(
        sizes.trim(),
        format!("{} {} small kept", 9 * 1024 * 1024, 10 * 1024 * 1024)
    );
}

#[test]
fn an_upload_refused_by_object_lock_fails_with_the_bucket_lock_and_what_to_do() {
    // A connection with `checksums: false` (for stores that reject them) sends uploads without
    // an integrity header; a bucket with a default retention refuses those.
    let store = MotoServer::start();
    store.python(
        "s3.create_bucket(Bucket='locked', ObjectLockEnabledForBucket=True)\ns3.put_object_lock_configuration(Bucket='locked', ObjectLockConfiguration={'ObjectLockEnabled': 'Enabled', 'Rule': {'DefaultRetention': {'Mode': 'COMPLIANCE', 'Days': 1}}})\ns3.create_bucket(Bucket='plain')",
    );
    let ws = Workspace::new();
    let file = ws.write(
        "refused.yaml",
        &format!(
            r#"{}  - id: plain
    uses: s3.put
    with: {{connection: bare, bucket: plain, key: note.txt, content: kept}}
  - id: locked
    needs: [plain]
    uses: s3.put
    with: {{connection: bare, bucket: locked, key: note.txt, content: kept}}
"#,
            head(&[("bare", &store)])
        )
        .replace("path_style: true}", "path_style: true, checksums: false}"),
    );
    let ran = run(&ws, &file, &["--yes"]);
    assert_eq!(ran.code, exit::STEP_FAILED, "{ran}");
    assert_eq!(
        outputs(&ws, &ran, "plain")["size"],
        4,
        "a bucket without lock takes it"
    );
    let failed = ws.events(&ran.run_id(), "step_failed", "locked");
    let error = failed[0]["error"].as_str().unwrap();
    assert!(
        error.contains(
            "refused by object lock on bucket `locked` (default retention COMPLIANCE 1 days)"
        ),
        "{error}"
    );
    assert!(
        error.contains("MissingUploadObjectWithObjectLockHeaders"),
        "{error}"
    );
    assert!(
        error.contains("remove `checksums: false` from connection `bare`"),
        "{error}"
    );
    assert_eq!(failed.len(), 1, "a refusal is not retried");
    let stored =
        store.python("print(len(s3.list_objects_v2(Bucket='locked').get('Contents', [])))");
    assert_eq!(stored.trim(), "0");
    assert_no_secret(&ws, &ran);
}

#[test]
fn progress_moves_while_a_large_object_streams() {
    let (main, offsite) = (MotoServer::start(), MotoServer::start());
    main.python("import os\ns3.create_bucket(Bucket='harbor')\ns3.put_object(Bucket='harbor', Key='backups/big.sql.gz', Body=os.urandom(24 * 1024 * 1024))");
    let ws = Workspace::new();
    let file = ws.write(
        "progress.yaml",
        &format!(
            r#"{}  - id: sync
    uses: s3.sync
    with:
      source: {{connection: main, bucket: harbor}}
      destination: {{connection: offsite, bucket: harbor}}
"#,
            head(&[("main", &main), ("offsite", &offsite)])
        ),
    );
    let ran = run(&ws, &file, &["--yes", "--output", "json"]);
    assert_eq!(ran.code, exit::OK, "{ran}");
    let total = 24 * 1024 * 1024;
    let done: Vec<u64> = ran
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["event"] == "progress" && e["step"] == "sync" && e["total"] == total)
        .filter_map(|e| e["done"].as_u64())
        .collect();
    // One GET streamed into one PUT: the bytes are counted as they go, not when the object is done.
    assert!(
        done.iter().filter(|&&d| d > 0 && d < total).count() >= 10,
        "{done:?}"
    );
    assert!(done.windows(2).all(|w| w[0] <= w[1]), "{done:?}");
    assert_eq!(done.last(), Some(&total), "{done:?}");
}
