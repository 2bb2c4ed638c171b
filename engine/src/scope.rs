//! What templates see. Each frame (the root runbook, each included one) has its own `params`,
//! `vars` and `connections`; `config`, `secrets`, `env` and `run` are shared; `steps` is a live
//! view of the frame's finished steps (or placeholders when planning).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use minijinja::Value as MjValue;
use minijinja::value::{Enumerator, Object, ObjectRepr};
use serde_json::{Map, Value};

use crate::connection::{Connection, Connections};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::error::SetError;
use crate::program::Program;
use crate::redact::Redactor;
use crate::source::Loc;
use crate::suggest::did_you_mean;
use crate::template::{Placeholder, Templates, from_json};

/// Everything a run reads besides the runbook.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// Root params from `--set` and `--params`.
    pub params: Map<String, Value>,
    /// `--vars FILE`: values that override the root runbook's vars of the same name.
    pub vars: Map<String, Value>,
    pub config: Option<Value>,
    pub secrets: Option<Value>,
    pub env: BTreeMap<String, String>,
    /// The kubeconfig a `kubernetes` connection uses when it names none: in the Compliant
    /// Kubernetes layout, the config directory's sops-encrypted `.state/kube_config_<cluster>.yaml`.
    pub default_kubeconfig: Option<String>,
    /// Where that default was looked for when the config directory has none: a `kubernetes`
    /// connection with nothing else to fall back on is refused before anything runs, naming it.
    pub missing_default_kubeconfig: Option<String>,
}

impl Inputs {
    /// Why a `kubernetes` connection with these `fields` will have no kubeconfig, if it will not:
    /// none in the connection, none in the config directory, and none kube could infer.
    pub fn missing_kubeconfig(&self, fields: &Map<String, Value>) -> Option<String> {
        if fields.contains_key("kubeconfig") || self.default_kubeconfig.is_some() {
            return None;
        }
        let looked_for = self.missing_default_kubeconfig.as_ref()?;
        (!self.kube_can_infer()).then(|| {
            format!(
                "no kubeconfig: the config directory has none at {looked_for}, KUBECONFIG is not set and ~/.kube/config does not exist"
            )
        })
    }

    /// Whether kube's own inference would find a kubeconfig: `KUBECONFIG`, `~/.kube/config`, or
    /// running inside a cluster.
    fn kube_can_infer(&self) -> bool {
        let set = |name: &str| self.env.get(name).is_some_and(|v| !v.is_empty());
        set("KUBECONFIG")
            || set("KUBERNETES_SERVICE_HOST")
            || self
                .env
                .get("HOME")
                .is_some_and(|home| std::path::Path::new(home).join(".kube/config").exists())
    }
}

impl Drop for Inputs {
    fn drop(&mut self) {
        if let Some(secrets) = &mut self.secrets {
            crate::wipe::wipe_value(secrets);
        }
    }
}

#[derive(Debug, Clone)]
pub struct RunInfo {
    pub id: String,
    pub started_at: String,
}

/// A frame's resolved scope.
#[derive(Debug, Clone)]
pub struct FrameScope {
    pub params: Map<String, Value>,
    pub vars: Map<String, Value>,
    pub connections: Arc<Connections>,
    base: BTreeMap<String, MjValue>,
    steps: Arc<StepsView>,
}

impl FrameScope {
    /// The scope for one render: the frame's values, the finished steps, and `item`/`index`.
    pub fn value(&self, item: Option<(&Value, usize)>) -> MjValue {
        let mut map = self.base.clone();
        map.insert("steps".into(), MjValue::from_dyn_object(self.steps.clone()));
        if let Some((item, index)) = item {
            map.insert("item".into(), from_json(item));
            map.insert("index".into(), MjValue::from(index));
        }
        MjValue::from(map)
    }

    /// Planning a `for_each` over step outputs: `item` is a placeholder whose every attribute is
    /// one too (`⟨item⟩.metadata.name`), as the items are not known before the run.
    pub fn value_with_placeholder_item(&self, text: &str) -> MjValue {
        let mut map = self.base.clone();
        map.insert("steps".into(), MjValue::from_dyn_object(self.steps.clone()));
        map.insert(
            "item".into(),
            MjValue::from_object(Placeholder(text.to_string())),
        );
        map.insert(
            "index".into(),
            MjValue::from_object(Placeholder("index".into())),
        );
        MjValue::from(map)
    }

    /// Record a finished step of this frame for the steps after it.
    pub fn set_step(&self, local_id: &str, status: &str, outputs: Option<&Value>) {
        let mut entry = serde_json::Map::new();
        entry.insert("status".into(), Value::String(status.into()));
        if let Some(outputs) = outputs {
            entry.insert("outputs".into(), outputs.clone());
        }
        self.steps.set(local_id, from_json(&Value::Object(entry)));
    }
}

/// `steps` as templates see it.
#[derive(Debug, Default)]
pub struct StepsView {
    finished: Mutex<BTreeMap<String, MjValue>>,
    /// Planning: every step is a placeholder.
    placeholders: bool,
}

impl StepsView {
    fn set(&self, id: &str, value: MjValue) {
        self.finished
            .lock()
            .expect("steps view")
            .insert(id.to_string(), value);
    }
}

impl Object for StepsView {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }
    fn get_value(self: &Arc<Self>, key: &MjValue) -> Option<MjValue> {
        let id = key.as_str()?;
        if self.placeholders {
            return Some(MjValue::from_object(Placeholder(format!(
                "steps.{}",
                id.replace('_', "-")
            ))));
        }
        let finished = self.finished.lock().expect("steps view");
        // `steps.count_restored` reads step `count-restored`: a `-` would be a minus sign.
        finished
            .get(id)
            .or_else(|| finished.get(&id.replace('_', "-")))
            .cloned()
    }
    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let keys: Vec<MjValue> = self
            .finished
            .lock()
            .expect("steps view")
            .keys()
            .map(|k| MjValue::from(k.as_str()))
            .collect();
        Enumerator::Values(keys)
    }
}

/// Resolve params, vars and connections of every frame, parents before children. Secret values
/// are registered with the redactor as they become known.
pub fn resolve_frames(
    program: &Program,
    inputs: &Inputs,
    run: &RunInfo,
    templates: &Templates,
    redactor: &Redactor,
    planning: bool,
) -> Result<Vec<FrameScope>, Diagnostics> {
    if let Some(secrets) = &inputs.secrets {
        redactor.add_value(secrets);
    }
    let mut shared = BTreeMap::new();
    shared.insert(
        "config".to_string(),
        inputs
            .config
            .as_ref()
            .map(from_json)
            .unwrap_or_else(|| from_json(&Value::Object(Map::new()))),
    );
    shared.insert(
        "secrets".to_string(),
        inputs
            .secrets
            .as_ref()
            .map(from_json)
            .unwrap_or_else(|| from_json(&Value::Object(Map::new()))),
    );
    shared.insert("env".to_string(), MjValue::from(inputs.env.clone()));
    shared.insert(
        "run".to_string(),
        from_json(&serde_json::json!({"id": run.id, "started_at": run.started_at})),
    );

    let mut frames: Vec<FrameScope> = Vec::with_capacity(program.frames.len());
    let mut diags = Diagnostics::default();
    for (index, frame) in program.frames.iter().enumerate() {
        let runbook = &program.runbooks[frame.runbook];
        let given: Map<String, Value> = match (frame.parent, &frame.params) {
            (None, _) => {
                check_unknown_params(runbook, &inputs.params, &mut diags);
                inputs.params.clone()
            }
            (Some(parent), Some(node)) => {
                let Some(parent_scope) = frames.get(parent) else {
                    continue;
                };
                match templates.render_value(&node.to_json(), &parent_scope.value(None)) {
                    Ok(Value::Object(map)) => map,
                    Ok(_) => Map::new(),
                    Err(e) => {
                        let file = program.runbooks[program.frames[parent].runbook].file;
                        diags.push(Diagnostic::new(
                            node.loc(file),
                            format!("params of the included runbook: {e}"),
                        ));
                        continue;
                    }
                }
            }
            (Some(_), None) => Map::new(),
        };
        let mut params = Map::new();
        for def in &runbook.params {
            match given.get(&def.name).or(def.default.as_ref()) {
                Some(value) => {
                    if def.secret {
                        redactor.add_value(value);
                    }
                    params.insert(def.name.clone(), value.clone());
                }
                None if def.required => diags.push(
                    Diagnostic::new(
                        def.loc,
                        format!(
                            "param `{}` is required{}",
                            def.name,
                            def.description
                                .as_ref()
                                .map(|d| format!(" ({d})"))
                                .unwrap_or_default()
                        ),
                    )
                    .help(if frame.parent.is_none() {
                        format!(
                            "pass it with `--set {}=VALUE` or in a `--params` file",
                            def.name
                        )
                    } else {
                        format!(
                            "pass `{}` in the `params` of the step that includes this runbook",
                            def.name
                        )
                    }),
                ),
                None => {}
            }
        }
        let mut base = shared.clone();
        base.insert("params".into(), from_json(&Value::Object(params.clone())));
        let refusals = crate::requirements::unmet(runbook, &MjValue::from(base.clone()), templates);
        if !refusals.is_empty() {
            diags.0.extend(refusals);
            continue;
        }
        let mut vars = Map::new();
        for var in &runbook.vars {
            let overridden = if index == 0 {
                inputs.vars.get(&var.name).cloned()
            } else {
                None
            };
            let value = match overridden {
                Some(v) => v,
                None => {
                    base.insert("vars".into(), from_json(&Value::Object(vars.clone())));
                    let scope = MjValue::from(base.clone());
                    match templates.render_value(&var.value.to_json(), &scope) {
                        Ok(v) => v,
                        Err(e) => {
                            diags
                                .push(Diagnostic::new(var.loc, format!("var `{}`: {e}", var.name)));
                            continue;
                        }
                    }
                }
            };
            if var.secret {
                redactor.add_value(&value);
            }
            vars.insert(var.name.clone(), value);
        }
        base.insert("vars".into(), from_json(&Value::Object(vars.clone())));
        let scope = MjValue::from(base.clone());
        let mut connections = Vec::new();
        for def in &runbook.connections {
            match templates.render_value(&def.fields.to_json(), &scope) {
                Ok(Value::Object(mut fields)) => {
                    // A run without a kubeconfig is refused before it starts; a plan shows it.
                    let missing = (def.kind == "kubernetes" && !planning)
                        .then(|| inputs.missing_kubeconfig(&fields))
                        .flatten();
                    if let Some(why) = missing {
                        let looked_for = inputs
                            .missing_default_kubeconfig
                            .clone()
                            .unwrap_or_default();
                        diags.push(
                            Diagnostic::new(def.loc, format!("connection `{}` has {why}", def.name))
                                .expected("a kubeconfig for the cluster")
                                .help(format!(
                                    "put the cluster's kubeconfig at {looked_for} (the Compliant Kubernetes layout; sops-encrypted is fine), set KUBECONFIG, or give `kubeconfig: FILE` in the connection"
                                )),
                        );
                    } else if def.kind == "kubernetes"
                        && !fields.contains_key("kubeconfig")
                        && let Some(default) = &inputs.default_kubeconfig
                    {
                        fields.insert("kubeconfig".into(), Value::String(default.clone()));
                    }
                    connections.push(Connection {
                        name: def.name.clone(),
                        kind: def.kind.clone(),
                        fields,
                    })
                }
                Ok(_) => {}
                Err(e) => diags.push(Diagnostic::new(
                    def.loc,
                    format!("connection `{}`: {e}", def.name),
                )),
            }
        }
        frames.push(FrameScope {
            params,
            vars,
            connections: Arc::new(Connections(connections)),
            base,
            steps: Arc::new(StepsView {
                finished: Mutex::default(),
                placeholders: planning,
            }),
        });
    }
    if diags.is_empty() {
        Ok(frames)
    } else {
        Err(diags.redacted(redactor))
    }
}

fn check_unknown_params(
    runbook: &crate::model::Runbook,
    given: &Map<String, Value>,
    diags: &mut Diagnostics,
) {
    for name in given.keys() {
        if !runbook.params.iter().any(|p| p.name == *name) {
            diags.push(unknown_param(
                runbook,
                name,
                Loc::file_only(runbook.file),
                "this runbook",
            ));
        }
    }
}

/// `name` is given as a param but `runbook` declares none of that name: at `loc` (where it was
/// given, when that is known), with the declared ones and a did-you-mean.
pub fn unknown_param(
    runbook: &crate::model::Runbook,
    name: &str,
    loc: Loc,
    runbook_words: &str,
) -> Diagnostic {
    let declared: Vec<&str> = runbook.params.iter().map(|p| p.name.as_str()).collect();
    Diagnostic::new(loc, format!("`{name}` is not a param of {runbook_words}"))
        .expected(format!(
            "params among: {}",
            if declared.is_empty() {
                "none".into()
            } else {
                declared.join(", ")
            }
        ))
        .help_opt(did_you_mean(name, declared.iter().copied()))
}

/// `--set key=value`: the value is read as YAML, so `--set n=3` is a number and `--set dbs=[a,b]` a list.
pub fn parse_set(assignment: &str) -> Result<(String, Value), SetError> {
    let (key, raw) = assignment
        .split_once('=')
        .ok_or_else(|| SetError::NoEquals(assignment.to_string()))?;
    let value = if raw.is_empty() {
        Value::String(String::new())
    } else {
        // A value that is not YAML is an error, not silently a string: `dbs=[a, b` meant a list.
        serde_saphyr::from_str::<Value>(raw).map_err(|e| SetError::NotYaml {
            assignment: assignment.to_string(),
            reason: e.to_string().lines().next().unwrap_or_default().to_string(),
            key: key.to_string(),
            quoted: raw.replace('"', "\\\""),
        })?
    };
    Ok((key.trim().to_string(), value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_value_that_is_not_yaml_is_an_error_that_says_how_to_quote() {
        let error = parse_set("dbs=[a, b").unwrap_err();
        assert!(error.to_string().contains("not valid YAML"), "{error}");
        assert!(
            error.to_string().contains(r#"--set 'dbs="[a, b"'"#),
            "{error}"
        );
        assert_eq!(parse_set(r#"dbs="[a, b""#).unwrap().1, Value::from("[a, b"));
    }

    #[test]
    fn set_values_are_typed() {
        assert_eq!(parse_set("n=3").unwrap(), ("n".into(), Value::from(3)));
        assert_eq!(
            parse_set("dbs=[a, b]").unwrap().1,
            serde_json::json!(["a", "b"])
        );
        assert_eq!(
            parse_set("name=backup-1").unwrap().1,
            Value::from("backup-1")
        );
        assert!(parse_set("oops").is_err());
    }
}
