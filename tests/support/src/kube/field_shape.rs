//! What field management needs to know of a type: which maps are structs (named fields) or
//! atomic, which lists are atomic, sets, or maps keyed by some fields. Read from the published
//! schemas (`x-kubernetes-list-type`, `x-kubernetes-list-map-keys`, `x-kubernetes-map-type`,
//! and, where no list type is given, `x-kubernetes-patch-strategy: merge` with its
//! `x-kubernetes-patch-merge-key`, as kube-openapi's schema conversion reads them) for
//! built-in kinds, from the CRD's `openAPIV3Schema` for custom kinds. A value the schema does
//! not describe is deduced as structured-merge-diff deduces it: objects are maps of unnamed
//! keys, arrays are atomic.

use serde_json::Value;

use super::field_set::PathElement;
use super::schema;

/// `metadata` of every kind is `ObjectMeta`, whatever a CRD's schema says of it.
const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

/// List-map key fields the schemas default when an item leaves them out (the OpenAPI
/// `default` structured-merge-diff fills keys from; the JSON schemas here do not carry it).
const KEY_DEFAULTS: &[(&str, &str)] = &[("protocol", "TCP")];

/// How a list's items are told apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListKind {
    /// Replaced whole: one field.
    Atomic,
    /// Scalars, each item its own field (`v:`).
    Set,
    /// Objects identified by these key fields (`k:`).
    Map(Vec<String>),
}

/// The form of a value at some place in an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Form {
    /// A leaf.
    Scalar,
    /// An object; an atomic one is a leaf.
    Map { atomic: bool },
    /// An array.
    List(ListKind),
}

/// A place in a type's schema (or none, when the schema says nothing of it).
#[derive(Debug, Clone, Copy)]
pub struct Shape<'a> {
    node: Option<&'a Value>,
    root: bool,
}

fn resolve(mut node: &Value) -> &Value {
    for _ in 0..32 {
        let Some(r) = node["$ref"].as_str() else {
            break;
        };
        match schema::definition(r.rsplit('/').next().unwrap_or_default()) {
            Some(d) => node = d,
            None => break,
        }
    }
    node
}

fn has_type(node: &Value, t: &str) -> bool {
    match &node["type"] {
        Value::String(s) => s == t,
        Value::Array(a) => a.iter().any(|x| x == t),
        _ => false,
    }
}

impl<'a> Shape<'a> {
    /// The root of a type whose schema is `node` (none: everything deduced).
    pub fn root(node: Option<&'a Value>) -> Self {
        Self {
            node: node.map(resolve),
            root: true,
        }
    }

    fn at(node: Option<&'a Value>) -> Self {
        Self {
            node: node.map(resolve),
            root: false,
        }
    }

    /// The form of `value` here.
    pub fn form(&self, value: &Value) -> Form {
        let deduced = match value {
            Value::Object(_) => Form::Map { atomic: false },
            Value::Array(_) => Form::List(ListKind::Atomic),
            _ => Form::Scalar,
        };
        let Some(node) = self.node else {
            return deduced;
        };
        let is_list = has_type(node, "array") || node.get("items").is_some();
        let is_map = has_type(node, "object")
            || node.get("properties").is_some()
            || node.get("additionalProperties").is_some();
        if is_list && value.is_array() {
            return Form::List(list_kind(node));
        }
        if is_map && value.is_object() {
            let atomic = node["x-kubernetes-map-type"] == "atomic";
            return Form::Map { atomic };
        }
        match value {
            // A value of the wrong form (or int-or-string, JSON, RawExtension): as deduced.
            Value::Object(_) | Value::Array(_) => deduced,
            _ => Form::Scalar,
        }
    }

    /// The shape of a map entry, and whether it is a named (struct) field.
    pub fn field(&self, name: &str) -> (Shape<'a>, bool) {
        if self.root && name == "metadata" {
            return (Shape::at(schema::definition(OBJECT_META)), true);
        }
        let Some(node) = self.node else {
            return (Shape::at(None), false);
        };
        if let Some(p) = node["properties"].get(name) {
            return (Shape::at(Some(p)), true);
        }
        match node.get("additionalProperties") {
            Some(ap) if ap.is_object() => (Shape::at(Some(ap)), false),
            _ => (Shape::at(None), false),
        }
    }

    /// The shape of a list's items.
    pub fn items(&self) -> Shape<'a> {
        Shape::at(self.node.and_then(|n| n.get("items")))
    }

    /// The path element of a list item.
    pub fn item_element(kind: &ListKind, index: usize, item: &Value) -> PathElement {
        match kind {
            ListKind::Atomic => PathElement::Index(index),
            ListKind::Set => PathElement::Value(item.to_string()),
            ListKind::Map(keys) => {
                let fields: Vec<(String, Value)> = keys
                    .iter()
                    .filter_map(|k| {
                        let v = item.get(k).filter(|v| !v.is_null()).cloned().or_else(|| {
                            KEY_DEFAULTS
                                .iter()
                                .find(|(name, _)| name == k)
                                .map(|(_, d)| Value::String(d.to_string()))
                        })?;
                        Some((k.clone(), v))
                    })
                    .collect();
                if fields.is_empty() {
                    PathElement::Index(index)
                } else {
                    PathElement::key(&fields)
                }
            }
        }
    }
}

fn list_kind(node: &Value) -> ListKind {
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect()
    };
    match node["x-kubernetes-list-type"].as_str() {
        Some("map") => return ListKind::Map(strings(&node["x-kubernetes-list-map-keys"])),
        Some("set") => return ListKind::Set,
        Some(_) => return ListKind::Atomic,
        None => {}
    }
    let merge = node["x-kubernetes-patch-strategy"]
        .as_str()
        .is_some_and(|s| s.split(',').any(|p| p == "merge"));
    match node["x-kubernetes-patch-merge-key"].as_str() {
        Some(key) if merge => ListKind::Map(vec![key.to_string()]),
        None if merge => ListKind::Set,
        _ => ListKind::Atomic,
    }
}
