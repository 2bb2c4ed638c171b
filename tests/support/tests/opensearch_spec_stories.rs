//! The OpenSearch API specification's own test stories for snapshot, restore, repositories,
//! recovery and cluster health, run against the emulator, each reply checked against the
//! specification's response schema where the reference holds it.

use std::path::PathBuf;

use runbook_testsupport::opensearch::OpenSearchEmulator;
use runbook_testsupport::opensearch::spec_schema::Spec;
use runbook_testsupport::opensearch::spec_stories::{Outcome, Runner, story_files};

/// Chapters not run, and why: each needs something outside disaster recovery.
const NOT_RUN: &[(&str, &str, &str)] = &[(
    "snapshot/snapshot/restore.yaml",
    "Restore snapshot with rename_alias_pattern and rename_alias_replacement.",
    // The story's own `version: '>= 2.18'`: the emulator answers as OpenSearch 2.11, which
    // has no alias renaming on restore (the runbooks restore aliases under their own names).
    "needs version >= 2.18; the server is 2.11.0",
)];

/// The reference the project keeps beside the repository (`../shared/reference/opensearch-api`),
/// or `OPENSEARCH_API_SPEC`.
fn reference() -> PathBuf {
    std::env::var_os("OPENSEARCH_API_SPEC").map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/reference/opensearch-api")
        },
        PathBuf::from,
    )
}

#[test]
fn the_specifications_test_stories_pass_against_the_emulator() {
    let root = reference();
    let spec = Spec::load(&root.join("spec")).expect("the OpenSearch API specification");
    let stories = story_files(&root.join("tests"));
    assert!(
        stories.len() >= 11,
        "found only {stories:?} under {}",
        root.display()
    );
    let os = OpenSearchEmulator::start("admin", "admin-Pw-1");
    let runner = Runner {
        url: os.url(),
        credentials: ("admin", "admin-Pw-1"),
        spec: &spec,
        version: os.with(|c| c.flavour.version().0.to_string()),
    };
    let results: Vec<_> = stories
        .iter()
        .flat_map(|file| runner.run(&root.join("tests"), file))
        .collect();
    let failed: Vec<String> = results
        .iter()
        .filter_map(|r| match &r.outcome {
            Outcome::Failed(why) => Some(format!(
                "{} / {} ({}): {why}",
                r.story, r.synopsis, r.method
            )),
            _ => None,
        })
        .collect();
    assert!(failed.is_empty(), "failed chapters:\n{}", failed.join("\n"));
    let skipped: Vec<(String, String, String)> = results
        .iter()
        .filter_map(|r| match &r.outcome {
            Outcome::Skipped(why) => Some((r.story.clone(), r.synopsis.clone(), why.clone())),
            _ => None,
        })
        .collect();
    let expected: Vec<(String, String, String)> = NOT_RUN
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(
        skipped, expected,
        "the chapters not run are exactly the listed ones"
    );
    let passed = results
        .iter()
        .filter(|r| r.outcome == Outcome::Passed)
        .count();
    assert!(passed >= 29, "{passed} chapters passed: {results:#?}");
    // The replies the runbooks read were held to the specification's schemas, not just run.
    let checked: std::collections::BTreeSet<&str> = results
        .iter()
        .filter_map(|r| r.schema_checked.as_deref())
        .collect();
    for operation in [
        "indices.recovery",
        "snapshot.get",
        "snapshot.create",
        "snapshot.restore",
        "snapshot.status",
        "cat.snapshots",
        "cat.recovery",
    ] {
        assert!(
            checked.contains(operation),
            "{operation} not checked against its schema: {checked:?}"
        );
    }
}

/// The schema check is not vacuous: the recovery reply the emulator gave before (no `translog`,
/// `verify_index`, `target`, timings, file counts) does not fit the specification.
#[test]
fn the_old_recovery_reply_does_not_fit_the_specification() {
    let spec = Spec::load(&reference().join("spec")).expect("the OpenSearch API specification");
    let schema = spec
        .response_schema("/{index}/_recovery", "GET", 200, false)
        .expect("the indices.recovery schema");
    let old = serde_json::json!({"books": {"shards": [{
        "id": 0, "type": "SNAPSHOT", "stage": "DONE", "primary": true,
        "source": {"repository": "r", "snapshot": "s", "version": "2.11.0", "index": "books"},
        "index": {"size": {"total_in_bytes": 1000, "recovered_in_bytes": 1000, "percent": "100.0%"}},
    }]}});
    let problems = spec.check(&schema, &old);
    for field in [
        "translog",
        "verify_index",
        "target",
        "start_time_in_millis",
        "files",
    ] {
        assert!(
            problems.iter().any(|p| p.contains(&format!("`{field}`"))),
            "{field}: {problems:?}"
        );
    }
}
