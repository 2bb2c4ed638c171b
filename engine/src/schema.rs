//! `runbook schema`: a JSON Schema (draft-07, the draft yaml-language-server and most editors
//! support) of the runbook format v1, so that editors complete keys, show what each one means and
//! flag mistakes as they are typed.
//!
//! It describes what [`crate::load`] accepts (and what validation checks without running anything):
//! the same keys, unknown keys rejected where the loader rejects them, and per step kind the
//! schema of `with` that the kind declares. Those kind schemas come from `schemars` (draft
//! 2020-12), so they are brought to draft-07 here: their definitions move to the root under a
//! name prefixed with the kind, their `$ref`s are rewritten to match, and every place that expects
//! a number, a boolean, a list or a fixed value also accepts a template string, which is what
//! validation allows there (`replicas: "{{ steps.scale.outputs.previous }}"`).

use serde_json::{Map, Value, json};

use crate::connection::CONNECTION_KINDS;
use crate::kind::Registry;
use crate::model::{API_VERSION, INCLUDE_KIND, KIND};

/// `params`, `vars` and `connections` names: templates read them as `params.NAME`.
const IDENTIFIER: &str = "^[A-Za-z_][A-Za-z0-9_]*$";
const STEP_ID: &str = "^[a-z0-9-]+$";
/// What [`crate::duration::parse_duration`] accepts: numbers with units, optionally compound.
const DURATION: &str = r"^\s*(([0-9]+\.?[0-9]*|\.[0-9]+)(ms|s|m|h|d))+\s*$";
/// What [`crate::template::is_template`] recognises (the pattern is unanchored: anywhere).
const TEMPLATE: &str = r"\{\{|\{%|\{#";
const TEMPLATE_REF: &str = "#/definitions/template";

pub fn runbook_schema(registry: &Registry) -> Value {
    let mut definitions = Map::new();
    definitions.insert(
        "template".into(),
        json!({
            "type": "string",
            "pattern": TEMPLATE,
            "description": "A template such as `{{ params.replicas }}`, rendered when the step runs; it may stand for a value of any type.",
        }),
    );
    let mut conditions = Vec::new();
    for kind in registry.kinds().filter(|k| k.name() != INCLUDE_KIND) {
        let with = import_kind_schema(
            kind.name(),
            kind.about(),
            kind.input_schema(),
            &mut definitions,
        );
        conditions.push(when_uses(
            kind.name(),
            json!({"properties": {"with": with}}),
        ));
    }
    conditions.push(when_uses(INCLUDE_KIND, include_step()));
    let mut kinds: Vec<&str> = registry.names().chain([INCLUDE_KIND]).collect();
    kinds.sort_unstable();
    kinds.dedup();
    definitions.insert("step".into(), step_schema(&kinds, conditions));
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "runbook (runbook/v1)",
        "description": "A disaster-recovery runbook: steps that run as a DAG, checkpointed and resumable.",
        "type": "object",
        "required": ["apiVersion", "kind", "name", "steps"],
        "additionalProperties": false,
        "properties": {
            "apiVersion": {"const": API_VERSION, "description": format!("The format version: `{API_VERSION}`.")},
            "kind": {"const": KIND, "description": format!("Always `{KIND}`.")},
            "name": scalar("A short identifier shown in plans, reports and the list of runs."),
            "description": scalar("What the runbook does, for people reading plans and reports."),
            "params": {
                "type": "object",
                "description": "Inputs of a run, given with `--set key=value` or `--params FILE`; templates read them as `params.NAME`. A resumed run uses the params it started with.",
                "propertyNames": {"pattern": IDENTIFIER},
                "additionalProperties": param_schema(),
            },
            "vars": {
                "type": "object",
                "description": "Values derived once per run (templates allowed, e.g. from `config`); templates read them as `vars.NAME`.",
                "propertyNames": {"pattern": IDENTIFIER},
                "additionalProperties": var_schema(),
            },
            "connections": {
                "type": "object",
                "description": "Endpoints with credentials, declared once and named; a step uses one with `with: {connection: NAME}`.",
                "propertyNames": {"pattern": IDENTIFIER},
                "additionalProperties": connection_schema(),
            },
            "steps": {
                "type": "array",
                "description": "The steps. They run as a DAG: a step starts when everything it `needs` has succeeded, and steps with no path between them run in parallel.",
                "minItems": 1,
                "items": {"$ref": "#/definitions/step"},
            },
        },
        "definitions": definitions,
    })
}

/// A value the loader reads as text: it takes numbers and booleans too and uses their text.
fn scalar(description: &str) -> Value {
    json!({"type": ["string", "number", "boolean"], "description": description})
}

fn duration(description: &str) -> Value {
    json!({"type": "string", "pattern": DURATION, "description": description})
}

fn flag(description: &str) -> Value {
    json!({"type": "boolean", "description": description})
}

/// A field that is templated when the run starts: its own type, or a template.
fn templated(mut schema: Value) -> Value {
    let description = schema.as_object_mut().and_then(|m| m.remove("description"));
    json!({"anyOf": [schema, {"$ref": TEMPLATE_REF}], "description": description})
}

fn param_schema() -> Value {
    json!({
        "description": "A param: `{description, required, default, secret}`, or nothing for an optional param without a default.",
        "type": ["object", "null"],
        "additionalProperties": false,
        "properties": {
            "description": scalar("What the param is for, shown by `runbook plan` and in errors."),
            "required": flag("The run refuses to start without it. A required param has no default."),
            "default": {"description": "The value when the param is not given: any YAML value."},
            "secret": flag("Masked everywhere and never written to the run's state: give it again on resume."),
        },
        // The loader rejects a param that is both required and defaulted.
        "if": {"properties": {"required": {"const": true}}, "required": ["required"]},
        "then": {"not": {"required": ["default"]}},
    })
}

fn var_schema() -> Value {
    json!({
        "description": "Any value (strings in it are templates), or `{value: ..., secret: true}` to mask it everywhere.",
        // Exactly the two keys `value` and `secret` mark the secret form; any other mapping is
        // the value itself.
        "if": {"type": "object", "required": ["value", "secret"], "maxProperties": 2},
        "then": {"properties": {
            "value": {"description": "The value; strings in it are templates."},
            "secret": flag("Mask the value everywhere (plans, logs, the journal)."),
        }},
    })
}

fn connection_field(field: &str) -> Value {
    match field {
        "url" => {
            json!({"type": "string", "description": "Base URL, e.g. `https://opensearch.example.com:9200`."})
        }
        "username" => json!({"type": "string", "description": "User for basic authentication."}),
        "password" => {
            json!({"type": "string", "description": "Password for basic authentication; write it as a template reading `secrets`."})
        }
        "token" => {
            json!({"type": "string", "description": "Bearer token; write it as a template reading `secrets`."})
        }
        "headers" => {
            json!({"type": "object", "additionalProperties": {"type": "string"}, "description": "Headers sent with every request."})
        }
        "ca_file" => {
            json!({"type": "string", "description": "PEM file of the certificate authorities to trust."})
        }
        "insecure" => templated(flag(
            "Skip TLS certificate verification (for test environments only).",
        )),
        "timeout" => duration("Timeout of each request, e.g. `30s`."),
        "endpoint" => {
            json!({"type": "string", "description": "S3 endpoint URL, e.g. `https://s3.example.com`."})
        }
        "region" => json!({"type": "string", "description": "S3 region."}),
        "access_key" => json!({"type": "string", "description": "S3 access key id."}),
        "secret_key" => {
            json!({"type": "string", "description": "S3 secret access key; write it as a template reading `secrets`."})
        }
        "session_token" => {
            json!({"type": "string", "description": "Session token of temporary S3 credentials."})
        }
        "path_style" => templated(flag(
            "Address buckets as `endpoint/bucket` rather than `bucket.endpoint` (most S3-compatible stores).",
        )),
        "checksums" => templated(flag(
            "Send an integrity check with every upload (default true): `Content-MD5`, or a CRC32. Turn off only for a store that rejects them; object-lock buckets refuse uploads without one.",
        )),
        "kubeconfig" => {
            json!({"type": "string", "description": "Path of the kubeconfig file (default: `KUBECONFIG`)."})
        }
        "context" => {
            json!({"type": "string", "description": "Context of the kubeconfig to use (default: its current context)."})
        }
        "namespace" => {
            json!({"type": "string", "description": "Default namespace for steps that name none."})
        }
        other => json!({"description": format!("The `{other}` field of the connection.")}),
    }
}

/// `kind` picks the fields a connection may have (unknown fields are validation errors).
fn connection_schema() -> Value {
    let kinds: Vec<&str> = CONNECTION_KINDS.iter().map(|(k, _)| *k).collect();
    let mut properties = Map::new();
    properties.insert(
        "kind".into(),
        json!({"enum": kinds, "description": "`http` (OpenSearch, InfluxDB, any HTTP API), `s3` or `kubernetes`."}),
    );
    for (_, fields) in CONNECTION_KINDS {
        for field in *fields {
            properties
                .entry(field.to_string())
                .or_insert_with(|| connection_field(field));
        }
    }
    let per_kind: Vec<Value> = CONNECTION_KINDS
        .iter()
        .map(|(kind, fields)| {
            let allowed: Vec<&str> = std::iter::once("kind")
                .chain(fields.iter().copied())
                .collect();
            json!({
                "if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
                "then": {"propertyNames": {"enum": allowed}},
            })
        })
        .collect();
    json!({
        "type": "object",
        "description": "A named endpoint. Its fields are templates, rendered once when the run starts.",
        "required": ["kind"],
        "properties": properties,
        "allOf": per_kind,
    })
}

fn step_schema(kinds: &[&str], conditions: Vec<Value>) -> Value {
    let step_id = json!({"type": "string", "pattern": STEP_ID});
    json!({
        "type": "object",
        "description": "A step: what it runs (`uses`, `with`), when it may start (`needs`, `when`) and how (`for_each`, `retry`, `timeout`).",
        "required": ["id", "uses"],
        "additionalProperties": false,
        "properties": {
            "id": {"type": "string", "pattern": STEP_ID, "description": "Unique in the runbook; lowercase letters, digits and `-`. Other steps read its outputs as `steps.ID.outputs`."},
            "name": scalar("A human title, shown in plans, progress and reports."),
            "uses": {"type": "string", "enum": kinds, "description": "The step kind; `runbook` runs another runbook file as one step."},
            "with": {"type": ["object", "null"], "description": "The kind's inputs. Every string in it is a template, rendered just before the step runs."},
            "needs": {
                "description": "Steps that must succeed before this one starts: an id or a list of ids.",
                "anyOf": [step_id, {"type": "array", "items": step_id}],
            },
            "when": {"type": ["string", "boolean"], "description": "An expression, with or without `{{ }}` (e.g. `params.restore_dashboards`); when false the step is skipped, and recorded as skipped."},
            "for_each": {
                "description": "An expression that yields a list (e.g. `params.databases`) or a list; the step runs once per item with `item` and `index` in scope, and its outputs become a list in item order.",
                "anyOf": [{"type": "string"}, {"type": "array"}],
            },
            "retry": {
                "description": "Attempts on failure: a number of attempts (with a 1s delay doubling each time), or `{attempts, delay, backoff, max_delay}`.",
                "anyOf": [
                    {"type": "integer"},
                    {
                        "type": "object",
                        "additionalProperties": false,
                        "properties": {
                            "attempts": {"type": "integer", "minimum": 1, "description": "Total attempts, the first included (default 3)."},
                            "delay": duration("The wait before the first retry (default `1s`)."),
                            "backoff": {"type": "number", "minimum": 1, "description": "Each retry waits `delay * backoff^(n-1)` (default 2)."},
                            "max_delay": duration("The longest wait between two attempts."),
                        },
                    },
                ],
            },
            "timeout": duration("Fail the attempt when it runs longer, e.g. `30m`."),
            "continue_on_error": flag("A failure of this step does not stop the run; steps that need it still wait for it to succeed."),
            "always": flag("Run once everything it needs has finished, succeeded or not (for clean-up such as resuming CronJobs)."),
            "resume_from": {"type": "string", "description": "When this step failed, `runbook resume` runs again from this earlier step and what follows it (for a wait whose clean-up removed what it waits on, such as a restore pod)."},
            "destructive": flag("Ask for confirmation before the run (or `--yes`). Kinds know their own destructive inputs; a runbook may only add this."),
            "idempotent": flag("Running it twice has the effect of running it once, so an interrupted attempt may be re-run on resume. Kinds know their own."),
            "secret": flag("Its outputs are secrets: masked everywhere, like `secrets` values."),
        },
        "allOf": conditions,
    })
}

/// Applies `then` to steps with `uses: NAME`.
fn when_uses(name: &str, then: Value) -> Value {
    json!({"if": {"properties": {"uses": {"const": name}}, "required": ["uses"]}, "then": then})
}

/// `uses: runbook`: the engine's own include kind.
fn include_step() -> Value {
    json!({
        "properties": {"with": {
            "type": "object",
            "description": "Run another runbook file as one step; its steps run under `ID.STEP`.",
            "required": ["file"],
            "additionalProperties": false,
            "properties": {
                "file": {"type": "string", "description": "The runbook to run, relative to this one; a literal path (it is loaded and validated before the run)."},
                "params": {"type": "object", "description": "The included runbook's params; strings are templates, rendered in this runbook."},
            },
        }},
        // The builder rejects `for_each` on an include step.
        "not": {"required": ["for_each"]},
    })
}

/// A kind's `with` schema brought into the runbook schema. Its definitions go to `definitions`
/// as `kind:NAME:DEFINITION`; the schema itself is returned for the kind's `then` (and stored as
/// `kind:NAME` only if something refers to it).
fn import_kind_schema(
    kind: &str,
    about: &str,
    schema: Value,
    definitions: &mut Map<String, Value>,
) -> Value {
    let Value::Object(mut root) = schema else {
        return schema;
    };
    let mut own_definitions = Map::new();
    for key in ["$defs", "definitions"] {
        if let Some(Value::Object(found)) = root.remove(key) {
            own_definitions.extend(found);
        }
    }
    // The generator's name for the input struct means nothing to an author; the kind's one line
    // is what an editor should show on hover.
    for key in ["$schema", "$id", "title"] {
        root.remove(key);
    }
    root.insert("description".into(), about.into());
    let mut import = KindImport {
        kind,
        refers_to_root: false,
    };
    for (name, definition) in own_definitions {
        let imported = import.schema(definition, true);
        definitions.insert(import.definition_name(&name), imported);
    }
    // `with` itself must be a mapping (the loader says so), so the root takes no template.
    let root = import.schema(Value::Object(root), false);
    if import.refers_to_root {
        definitions.insert(import.root_name(), root.clone());
    }
    root
}

struct KindImport<'a> {
    kind: &'a str,
    refers_to_root: bool,
}

impl KindImport<'_> {
    fn definition_name(&self, name: &str) -> String {
        format!("kind:{}:{name}", self.kind)
    }

    fn root_name(&self) -> String {
        format!("kind:{}", self.kind)
    }

    /// One schema, its subschemas first. `accept_templates`: whether a template string may stand
    /// for the value (everywhere but the root and conditions).
    fn schema(&mut self, schema: Value, accept_templates: bool) -> Value {
        let Value::Object(mut map) = schema else {
            return schema;
        };
        for key in ["properties", "patternProperties", "dependentSchemas"] {
            if let Some(Value::Object(entries)) = map.get_mut(key) {
                for value in entries.values_mut() {
                    *value = self.schema(value.take(), true);
                }
            }
        }
        // The branches of `anyOf` and `oneOf` take no template of their own: the combinator as a
        // whole does (see `rejects_template_strings`), once, rather than in every branch.
        for (key, accept) in [
            ("allOf", true),
            ("prefixItems", true),
            ("anyOf", false),
            ("oneOf", false),
        ] {
            if let Some(Value::Array(items)) = map.get_mut(key) {
                for value in items.iter_mut() {
                    *value = self.schema(value.take(), accept);
                }
            }
        }
        for (key, accept) in [
            ("items", true),
            ("additionalItems", true),
            ("additionalProperties", true),
            ("contains", true),
            ("then", true),
            ("else", true),
            // Property names are never templates; conditions test the value as written.
            ("propertyNames", false),
            ("if", false),
            ("not", false),
        ] {
            match map.get_mut(key) {
                Some(Value::Array(items)) => {
                    for value in items.iter_mut() {
                        *value = self.schema(value.take(), accept);
                    }
                }
                Some(value @ Value::Object(_)) => *value = self.schema(value.take(), accept),
                _ => {}
            }
        }
        if let Some(Value::String(reference)) = map.get("$ref") {
            let rewritten = self.reference(reference);
            map.insert("$ref".into(), rewritten.into());
        }
        let map = to_draft07(map);
        if accept_templates && rejects_template_strings(&map) {
            with_template(map)
        } else {
            Value::Object(map)
        }
    }

    /// `#/$defs/Name` (or `#/definitions/Name`) to `#/definitions/kind:KIND:Name`, and `#` (the
    /// kind's root) to `#/definitions/kind:KIND`. References outside the document are left alone.
    fn reference(&mut self, reference: &str) -> String {
        let Some(fragment) = reference.strip_prefix('#') else {
            return reference.to_string();
        };
        let pointer = percent_decode(fragment);
        let segments: Vec<String> = pointer.split('/').skip(1).map(pointer_unescape).collect();
        let mut target = vec!["definitions".to_string()];
        match segments.first().map(String::as_str) {
            Some("$defs" | "definitions") if segments.len() >= 2 => {
                target.push(self.definition_name(&segments[1]));
                target.extend(segments[2..].iter().cloned());
            }
            _ => {
                self.refers_to_root = true;
                target.push(self.root_name());
                target.extend(segments);
            }
        }
        let encoded: String = target
            .iter()
            .map(|s| format!("/{}", percent_encode(&pointer_escape(s))))
            .collect();
        format!("#{encoded}")
    }
}

/// Draft 2020-12 keywords schemars writes, in their draft-07 spelling.
fn to_draft07(mut map: Map<String, Value>) -> Map<String, Value> {
    if let Some(prefix) = map.remove("prefixItems") {
        if let Some(rest) = map.remove("items") {
            map.insert("additionalItems".into(), rest);
        }
        map.insert("items".into(), prefix);
    }
    for key in ["dependentRequired", "dependentSchemas"] {
        if let Some(Value::Object(entries)) = map.remove(key) {
            let dependencies = map.entry("dependencies").or_insert_with(|| json!({}));
            if let Some(dependencies) = dependencies.as_object_mut() {
                dependencies.extend(entries);
            }
        }
    }
    // Draft-07 ignores every keyword next to `$ref` (a description, a default, `nullable` rules):
    // `allOf: [{$ref}]` keeps them in force.
    if map.len() > 1
        && let Some(reference) = map.remove("$ref")
    {
        let reference = json!({"$ref": reference});
        match map.get_mut("allOf") {
            Some(Value::Array(all)) => all.insert(0, reference),
            _ => {
                map.insert("allOf".into(), json!([reference]));
            }
        }
    }
    map
}

/// Whether a template string could fail this schema: it expects another type, a fixed value or
/// a shaped string. `anyOf` and `oneOf` count too, as their branches take no template (and a
/// template would match every string branch of a `oneOf`, which fails it).
fn rejects_template_strings(map: &Map<String, Value>) -> bool {
    if ["anyOf", "oneOf", "enum", "const"]
        .iter()
        .any(|k| map.contains_key(*k))
    {
        return true;
    }
    let Some(types) = map.get("type") else {
        return false;
    };
    let takes_strings = match types {
        Value::String(t) => t == "string",
        Value::Array(ts) => ts.iter().any(|t| t == "string"),
        _ => true,
    };
    !takes_strings
        || ["pattern", "format", "minLength", "maxLength"]
            .iter()
            .any(|k| map.contains_key(*k))
}

/// `anyOf: [template, schema]`, with the annotations outside where editors look for them.
fn with_template(mut map: Map<String, Value>) -> Value {
    let mut outer = Map::new();
    for key in ["description", "title", "default", "examples", "deprecated"] {
        if let Some(value) = map.remove(key) {
            outer.insert(key.into(), value);
        }
    }
    outer.insert(
        "anyOf".into(),
        json!([{"$ref": TEMPLATE_REF}, Value::Object(map)]),
    );
    Value::Object(outer)
}

fn pointer_escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

fn pointer_unescape(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

/// Percent-encodes what a URI fragment cannot hold (definition names can be `Vec<Foo>`).
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        let allowed = byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?".contains(&byte);
        if allowed {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use async_trait::async_trait;
    use schemars::JsonSchema;
    use serde::Deserialize;

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
}
