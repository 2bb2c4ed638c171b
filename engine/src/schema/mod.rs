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

mod kind_schemas;
#[cfg(test)]
mod tests;

use kind_schemas::import_kind_schema;
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
pub(super) const TEMPLATE_REF: &str = "#/definitions/template";

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
            "requires": {
                "type": "array",
                "description": "What must hold of the inputs for the runbook to apply (e.g. the releases it supports), checked before anything runs; a run is refused with the `message` when one does not hold.",
                "items": {
                    "type": "object",
                    "required": ["that", "message"],
                    "additionalProperties": false,
                    "properties": {
                        "that": scalar("An expression over params, config, secrets and env, e.g. `config.global.ck8sVersion is version_at_least(\"v0.36\")`."),
                        "message": scalar("Why the runbook does not apply when `that` is false, and what to do instead (a template)."),
                    },
                },
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
