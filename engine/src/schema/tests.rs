//! The runbook schema checked against what the loader accepts and rejects.

use std::collections::BTreeSet;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;

use super::kind_schemas::percent_decode;
use super::*;
use crate::kind::{StepContext, StepError, StepKind, schema_of};
use crate::load::{PARAM_KEYS, RETRY_KEYS, STEP_KEYS, TOP_KEYS};
use crate::schema_check::SchemaChecker;
use crate::source::FileId;

/// Inputs with what schemars turns into definitions, `$ref`s with siblings, enums and
/// non-string types.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct ScaleInput {
    /// What to scale.
    target: Target,
    /// Another object, optional: `anyOf` with null around a `$ref`.
    previous: Option<Target>,
    /// How many replicas.
    replicas: u32,
    mode: Mode,
    note: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[allow(dead_code)]
struct Target {
    kind: String,
    name: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum Mode {
    Fast,
    Slow,
}

struct Scale;

#[async_trait]
impl StepKind for Scale {
    fn name(&self) -> &'static str {
        "test.scale"
    }
    fn about(&self) -> &'static str {
        "Scale something, for tests."
    }
    fn input_schema(&self) -> Value {
        schema_of::<ScaleInput>()
    }
    fn describe(&self, _with: &Value) -> String {
        "scale".into()
    }
    async fn run(&self, _ctx: &StepContext, _with: Value) -> Result<Value, StepError> {
        Ok(Value::Null)
    }
}

fn schema() -> Value {
    let mut registry = Registry::new();
    registry.register(Scale);
    runbook_schema(&registry)
}

/// Every `$ref` in the document, with where it sits.
fn references(value: &Value, at: String, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if key == "$ref" {
                    out.push((
                        at.clone(),
                        child.as_str().expect("a $ref is a string").to_string(),
                    ));
                }
                references(child, format!("{at}/{key}"), out);
            }
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(i, v)| references(v, format!("{at}/{i}"), out)),
        _ => {}
    }
}

fn keys(value: &Value) -> BTreeSet<&str> {
    value
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect()
}

#[test]
fn every_reference_resolves_and_no_draft_2020_keyword_is_left() {
    let schema = schema();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    let mut found = Vec::new();
    references(&schema, String::new(), &mut found);
    assert!(
        found.len() >= 4,
        "the test kind's definitions are referenced: {found:?}"
    );
    for (at, reference) in &found {
        let pointer = percent_decode(reference.strip_prefix('#').expect("a local reference"));
        assert!(
            schema.pointer(&pointer).is_some(),
            "{reference} at {at} does not resolve"
        );
    }
    let text = schema.to_string();
    assert!(!text.contains("\"$defs\""), "{text}");
    assert_eq!(text.matches("\"$schema\"").count(), 1, "{text}");
    let definitions = keys(&schema["definitions"]);
    assert!(
        definitions.contains("kind:test.scale:Target"),
        "{definitions:?}"
    );
    assert!(
        definitions.contains("kind:test.scale:Mode"),
        "{definitions:?}"
    );
}

#[test]
fn uses_lists_the_kinds_and_each_kind_constrains_with() {
    let schema = schema();
    let step = &schema["definitions"]["step"];
    assert_eq!(
        step["properties"]["uses"]["enum"],
        json!(["runbook", "test.scale"])
    );
    let conditions = step["allOf"].as_array().expect("per-kind conditions");
    let then_for = |kind: &str| {
        conditions
            .iter()
            .find(|c| c["if"]["properties"]["uses"]["const"] == kind)
            .map(|c| &c["then"])
            .unwrap_or_else(|| panic!("no condition for {kind}"))
    };
    let with = &then_for("test.scale")["properties"]["with"];
    assert_eq!(with["description"], "Scale something, for tests.");
    assert_eq!(with["additionalProperties"], false);
    assert_eq!(
        keys(&with["properties"]),
        BTreeSet::from(["target", "previous", "replicas", "mode", "note"])
    );
    // The description next to a `$ref` survives draft-07, which ignores `$ref`'s siblings.
    let target = &with["properties"]["target"];
    assert_eq!(target["description"], "What to scale.");
    assert_eq!(
        target["allOf"][0]["$ref"],
        "#/definitions/kind:test.scale:Target"
    );
    // Where a number is expected, a template may stand.
    let replicas = &with["properties"]["replicas"];
    assert_eq!(replicas["description"], "How many replicas.");
    assert_eq!(replicas["anyOf"][0]["$ref"], TEMPLATE_REF);
    assert_eq!(replicas["anyOf"][1]["type"], "integer");
    // Plain strings take templates already and are left as they are.
    assert_eq!(
        with["properties"]["note"]["type"],
        json!(["string", "null"])
    );
    let include = &then_for("runbook")["properties"]["with"];
    assert_eq!(include["required"], json!(["file"]));
    assert_eq!(
        keys(&include["properties"]),
        BTreeSet::from(["file", "params"])
    );
}

#[test]
fn keys_match_what_the_loader_accepts_and_all_are_described() {
    let schema = schema();
    let definitions = &schema["definitions"];
    let step = &definitions["step"];
    let param = &schema["properties"]["params"]["additionalProperties"];
    let retry = &step["properties"]["retry"]["anyOf"][1];
    for (object, expected) in [
        (&schema, TOP_KEYS),
        (step, STEP_KEYS),
        (param, PARAM_KEYS),
        (retry, RETRY_KEYS),
    ] {
        assert_eq!(
            keys(&object["properties"]),
            expected.iter().copied().collect(),
            "{object}"
        );
        assert_eq!(object["additionalProperties"], false);
        for (name, property) in object["properties"].as_object().unwrap() {
            assert!(
                property["description"].is_string(),
                "`{name}` has no description"
            );
        }
    }
    let connection = &schema["properties"]["connections"]["additionalProperties"];
    for (kind, fields) in CONNECTION_KINDS {
        let condition = connection["allOf"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["if"]["properties"]["kind"]["const"] == *kind)
            .unwrap();
        let allowed: Vec<&str> = condition["then"]["propertyNames"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(allowed[1..], fields[..]);
        for field in *fields {
            assert!(
                connection["properties"][field]["description"].is_string(),
                "`{field}` has no description"
            );
        }
    }
}

#[test]
fn patterns_agree_with_the_loader() {
    // The regex crate is not a dependency; these patterns use only syntax shared by ECMA-262
    // and a hand check of representative values against the loader's own parsers.
    for text in ["30s", "1h30m", "250ms", "1.5h", " 2d "] {
        assert!(crate::duration::parse_duration(text).is_ok(), "{text}");
    }
    for text in ["10", "5y", "1 h", ""] {
        assert!(crate::duration::parse_duration(text).is_err(), "{text}");
    }
    assert_eq!(
        DURATION,
        r"^\s*(([0-9]+\.?[0-9]*|\.[0-9]+)(ms|s|m|h|d))+\s*$"
    );
    assert_eq!(STEP_ID, "^[a-z0-9-]+$");
}

#[test]
fn a_runbook_checks_against_the_schema() {
    let schema = schema();
    let check = |text: &str| {
        let node = crate::yaml::parse(text, FileId(0)).expect("yaml");
        let checker = SchemaChecker {
            root: &schema,
            file: FileId(0),
            kind: "runbook",
        };
        let mut found = Vec::new();
        checker.check(&node, &schema, "", &mut found);
        found.into_iter().map(|d| d.message).collect::<Vec<_>>()
    };
    let good = r#"
apiVersion: runbook/v1
kind: Runbook
name: influxdb-restore
params:
  backup_name: {description: Backup to restore, required: true}
  databases: {default: [service_cluster, workload_cluster]}
vars:
  bucket: "{{ config.objectStorage.buckets.influxDB }}"
connections:
  influx: {kind: http, url: "http://influxdb:8086", insecure: false}
steps:
  - id: drop-databases
    uses: test.scale
    for_each: params.databases
    retry: {attempts: 3, delay: 10s, backoff: 2}
    with: {target: {kind: Deployment, name: influx}, replicas: 0, mode: fast}
  - id: restore
    needs: drop-databases
    uses: runbook
    when: true
    timeout: 30m
    retry: 2
    with: {file: restore.yaml, params: {name: x}}
"#;
    assert_eq!(check(good), Vec::<String>::new());
    let bad = good
        .replace("    timeout: 30m", "    timeout: 30m\n    retires: 3")
        .replace("backoff: 2}", "backoff: 2, dealy: 1s}");
    let problems = check(&bad);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("unknown input") && p.contains("retires`")),
        "{problems:?}"
    );
    // `retry` is a number or a mapping; the checker names whichever option is closer.
    assert!(
        problems.iter().any(|p| p.contains("`steps[0].retry")),
        "{problems:?}"
    );
    let missing = good.replace("name: influxdb-restore\n", "");
    assert!(
        check(&missing).iter().any(|p| p.contains("`name`")),
        "{:?}",
        check(&missing)
    );
}
