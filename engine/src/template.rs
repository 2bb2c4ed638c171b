//! Templates (minijinja, strict: undefined is an error, never an empty string).
//!
//! Every string in a step's `with` is a template. A string that is exactly one `{{ expression }}`
//! keeps the expression's type (a list stays a list, a number a number), so
//! `databases: "{{ params.databases }}"` passes a list; anything else renders to a string.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use minijinja::value::{Enumerator, Object, ObjectRepr};
use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior, Value as MjValue};
use serde_json::Value;

use crate::duration::format_duration;
use crate::error::TemplateError;

pub fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%") || text.contains("{#")
}

/// The expression inside a string that is one `{{ ... }}` and nothing else.
pub fn single_expression(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.strip_prefix('-').unwrap_or(inner);
    let inner = inner.strip_suffix('-').unwrap_or(inner);
    (!inner.contains("{{") && !inner.contains("}}") && !inner.contains("{%")).then(|| inner.trim())
}

/// `when` and `for_each` may be written with or without braces.
pub fn expression_text(text: &str) -> &str {
    single_expression(text).unwrap_or(text.trim())
}

pub struct Templates {
    env: Environment<'static>,
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl Templates {
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .keep_trailing_newline(true)
                .build()
                .expect("default delimiters"),
        );
        env.add_filter("shell_quote", shell_quote);
        env.add_filter("to_json", to_json);
        env.add_filter("b64encode", b64encode);
        env.add_filter("b64decode", b64decode);
        env.add_filter("latest", latest);
        env.add_filter("duration", duration);
        env.add_test("version_at_least", crate::versions::version_at_least);
        env.add_test("version_below", crate::versions::version_below);
        Templates { env }
    }

    /// Compile a template and list the variables it reads (`params.x`, `steps.y.outputs.z`).
    pub fn template_references(&self, text: &str) -> Result<BTreeSet<String>, TemplateError> {
        let template = self.env.template_from_str(text).map_err(describe)?;
        Ok(template.undeclared_variables(true).into_iter().collect())
    }

    /// Compile an expression and list the variables it reads.
    pub fn expression_references(&self, text: &str) -> Result<BTreeSet<String>, TemplateError> {
        let expr = self.env.compile_expression(text).map_err(describe)?;
        Ok(expr.undeclared_variables(true).into_iter().collect())
    }

    pub fn eval(&self, expression: &str, scope: &MjValue) -> Result<MjValue, TemplateError> {
        let expr = self.env.compile_expression(expression).map_err(describe)?;
        let refs = || self.expression_references(expression);
        match expr.eval(scope) {
            Ok(v) if v.is_undefined() => {
                Err(self.explain(Error::from(ErrorKind::UndefinedError), &refs(), scope))
            }
            Ok(v) => Ok(v),
            Err(e) => Err(self.explain(e, &refs(), scope)),
        }
    }

    pub fn eval_bool(&self, expression: &str, scope: &MjValue) -> Result<bool, TemplateError> {
        self.eval(expression_text(expression), scope)
            .map(|v| v.is_true())
    }

    /// Render one string: native value for a lone expression, text otherwise.
    pub fn render_str(&self, text: &str, scope: &MjValue) -> Result<Value, TemplateError> {
        if !is_template(text) {
            return Ok(Value::String(text.to_string()));
        }
        if let Some(expr) = single_expression(text) {
            return self.eval(expr, scope).map(|v| to_json_value(&v));
        }
        self.env
            .render_str(text, scope)
            .map(Value::String)
            .map_err(|e| self.explain(e, &self.template_references(text), scope))
    }

    /// Render every string in a value.
    pub fn render_value(&self, value: &Value, scope: &MjValue) -> Result<Value, TemplateError> {
        map_strings(value, &|s| self.render_str(s, scope))
    }

    /// Turn minijinja's terse "undefined value" into the path that was undefined and what exists.
    fn explain(
        &self,
        error: Error,
        references: &Result<BTreeSet<String>, TemplateError>,
        scope: &MjValue,
    ) -> TemplateError {
        if error.kind() == ErrorKind::UndefinedError
            && let Ok(refs) = references
        {
            for reference in refs {
                if let Some(message) = undefined_message(reference, scope) {
                    return TemplateError { message };
                }
            }
        }
        describe(error)
    }
}

fn undefined_message(reference: &str, scope: &MjValue) -> Option<String> {
    let mut current = scope.clone();
    let mut walked: Vec<&str> = Vec::new();
    for part in reference.split('.') {
        let next = current.get_attr(part).ok().filter(|v| !v.is_undefined());
        match next {
            Some(v) => {
                walked.push(part);
                current = v;
            }
            None => {
                let parent = if walked.is_empty() {
                    "the template scope".to_string()
                } else {
                    format!("`{}`", walked.join("."))
                };
                let keys: Vec<String> = current
                    .try_iter()
                    .map(|it| it.filter_map(|k| k.as_str().map(str::to_string)).collect())
                    .unwrap_or_default();
                let has = if keys.is_empty() {
                    String::new()
                } else {
                    format!(" ({parent} has: {})", keys.join(", "))
                };
                walked.push(part);
                return Some(format!("`{}` is undefined{has}", walked.join(".")));
            }
        }
    }
    None
}

fn describe(error: Error) -> TemplateError {
    let mut text = error.kind().to_string();
    if let Some(detail) = error.detail() {
        text = format!("{text}: {detail}");
    }
    TemplateError { message: text }
}

/// `value` with every string in it (not keys) replaced by what `render` makes of it.
pub fn map_strings<E>(
    value: &Value,
    render: &impl Fn(&str) -> Result<Value, E>,
) -> Result<Value, E> {
    Ok(match value {
        Value::String(s) => render(s)?,
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| map_strings(v, render))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), map_strings(v, render)?)))
                .collect::<Result<_, E>>()?,
        ),
        other => other.clone(),
    })
}

/// A minijinja value as JSON. Placeholders (values not known until the run) become their text.
pub fn to_json_value(value: &MjValue) -> Value {
    if let Some(placeholder) = value.downcast_object_ref::<Placeholder>() {
        return Value::String(placeholder.to_string());
    }
    serde_json::to_value(value).unwrap_or_else(|_| Value::String(value.to_string()))
}

pub fn from_json(value: &Value) -> MjValue {
    MjValue::from(minijinja::value::Serde(value))
}

/// Stands for a value only known at run time (a step's outputs) when planning: any attribute of
/// it is another placeholder, and it prints as `⟨steps.restore.outputs.name⟩`.
#[derive(Debug)]
pub struct Placeholder(pub String);

impl fmt::Display for Placeholder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "⟨{}⟩", self.0)
    }
}

impl Object for Placeholder {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }
    fn get_value(self: &Arc<Self>, key: &MjValue) -> Option<MjValue> {
        Some(MjValue::from_object(Placeholder(format!(
            "{}.{}",
            self.0, key
        ))))
    }
    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Empty
    }
    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "⟨{}⟩", self.0)
    }
}

fn shell_quote(value: String) -> String {
    if !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
    {
        return value;
    }
    format!("'{}'", value.replace('\'', r"'\''"))
}

fn to_json(value: MjValue) -> Result<String, Error> {
    serde_json::to_string(&value)
        .map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))
}

fn b64encode(value: String) -> String {
    base64::engine::general_purpose::STANDARD.encode(value)
}

fn b64decode(value: String) -> Result<String, Error> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("not base64: {e}")))?;
    String::from_utf8(bytes)
        .map_err(|_| Error::new(ErrorKind::InvalidOperation, "base64 data is not UTF-8 text"))
}

/// `items | latest("last_modified")`: the item with the greatest value of that attribute.
fn latest(items: MjValue, key: String) -> Result<MjValue, Error> {
    let iter = items.try_iter()?;
    let mut best: Option<(MjValue, MjValue)> = None;
    for item in iter {
        let k = item.get_attr(&key)?;
        if k.is_undefined() {
            return Err(Error::new(
                ErrorKind::UndefinedError,
                format!("an item has no `{key}`"),
            ));
        }
        if best.as_ref().is_none_or(|(bk, _)| k > *bk) {
            best = Some((k, item));
        }
    }
    best.map(|(_, item)| item)
        .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "latest of an empty list"))
}

/// Seconds as `1h02m03s`.
fn duration(seconds: f64) -> String {
    format_duration(std::time::Duration::from_secs_f64(seconds.max(0.0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scope() -> MjValue {
        from_json(
            &json!({"params": {"dbs": ["a", "b"], "n": 3}, "steps": {"x": {"outputs": {"name": "job-1"}}}}),
        )
    }

    #[test]
    fn lone_expressions_keep_their_type() {
        let t = Templates::new();
        assert_eq!(
            t.render_str("{{ params.dbs }}", &scope()).unwrap(),
            json!(["a", "b"])
        );
        assert_eq!(
            t.render_str("{{ params.n + 1 }}", &scope()).unwrap(),
            json!(4)
        );
        assert_eq!(
            t.render_str("n={{ params.n }}", &scope()).unwrap(),
            json!("n=3")
        );
    }

    #[test]
    fn undefined_is_an_error_naming_the_path() {
        let t = Templates::new();
        let err = t
            .render_str("{{ steps.x.outputs.nam }}", &scope())
            .unwrap_err();
        assert_eq!(
            err.message,
            "`steps.x.outputs.nam` is undefined (`steps.x.outputs` has: name)"
        );
        let err = t
            .render_str("job {{ params.missing }}", &scope())
            .unwrap_err();
        assert!(
            err.message.starts_with("`params.missing` is undefined"),
            "{err}"
        );
    }

    #[test]
    fn references_are_listed_nested() {
        let t = Templates::new();
        let refs = t
            .template_references(
                "{{ params.a }} {{ steps.b.outputs.c }} {% for i in vars.l %}{{ i }}{% endfor %}",
            )
            .unwrap();
        assert!(
            refs.contains("params.a")
                && refs.contains("steps.b.outputs.c")
                && refs.contains("vars.l"),
            "{refs:?}"
        );
        assert!(!refs.iter().any(|r| r == "i"));
    }

    #[test]
    fn filters() {
        let t = Templates::new();
        let s = from_json(
            &json!({"v": "it's", "l": [{"t": 1, "k": "a"}, {"t": 3, "k": "b"}, {"t": 2, "k": "c"}]}),
        );
        assert_eq!(
            t.render_str("{{ v | shell_quote }}", &s).unwrap(),
            json!(r"'it'\''s'")
        );
        assert_eq!(
            t.render_str("{{ (l | latest('t')).k }}", &s).unwrap(),
            json!("b")
        );
        assert_eq!(
            t.render_str("{{ 'abc' | b64encode }}", &s).unwrap(),
            json!("YWJj")
        );
        assert_eq!(
            t.render_str("{{ 3723 | duration }}", &s).unwrap(),
            json!("1h02m03s")
        );
    }

    #[test]
    fn placeholders_render_as_their_path() {
        let t = Templates::new();
        let scope = MjValue::from(std::collections::BTreeMap::from([(
            "steps".to_string(),
            MjValue::from_object(Placeholder("steps".into())),
        )]));
        assert_eq!(
            t.render_str("name={{ steps.r.outputs.name }}", &scope)
                .unwrap(),
            json!("name=⟨steps.r.outputs.name⟩")
        );
        assert_eq!(
            t.render_str("{{ steps.r.outputs.name }}", &scope).unwrap(),
            json!("⟨steps.r.outputs.name⟩")
        );
    }
}
