//! The walks over objects that field management is built from, with structured-merge-diff's
//! rules (`typed/tofieldset.go`, `compare.go`, `merge.go`, `remove.go`): the field set of a
//! value, the comparison of two values, the merge of an applied configuration into a live
//! object, and the removal of fields from a value.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::field_set::{FieldSet, Path, PathElement};
use super::field_shape::{Form, ListKind, Shape};

/// The fields a value sets: every leaf, every list item, and the map entries that are not
/// struct fields (or are null or empty), as `ToFieldSet` collects them.
pub fn field_set(value: &Value, shape: Shape) -> FieldSet {
    let mut set = FieldSet::new();
    collect(value, shape, &mut Vec::new(), &mut set);
    set
}

fn collect(value: &Value, shape: Shape, path: &mut Path, set: &mut FieldSet) {
    match shape.form(value) {
        Form::Scalar | Form::Map { atomic: true } | Form::List(ListKind::Atomic) => {
            set.insert(path);
        }
        Form::Map { atomic: false } => {
            for (key, child) in value.as_object().into_iter().flatten() {
                let (child_shape, named) = shape.field(key);
                path.push(PathElement::Field(key.clone()));
                collect(child, child_shape, path, set);
                let empty_map = child.as_object().is_some_and(Map::is_empty);
                if child.is_null() || empty_map || !named {
                    set.insert(path);
                }
                path.pop();
            }
        }
        Form::List(kind) => {
            let items = shape.items();
            for (i, item) in value.as_array().into_iter().flatten().enumerate() {
                path.push(Shape::item_element(&kind, i, item));
                collect(item, items, path, set);
                set.insert(path);
                path.pop();
            }
        }
    }
}

/// What changed from one value to another.
#[derive(Debug, Default)]
pub struct Comparison {
    /// Paths only in the new value.
    pub added: FieldSet,
    /// Leaves whose value changed.
    pub modified: FieldSet,
    /// Paths only in the old value.
    pub removed: FieldSet,
}

impl Comparison {
    /// The comparison without the paths under `prefix` (the fields a write resets).
    pub fn without_prefix(&self, prefix: &[PathElement]) -> Comparison {
        Comparison {
            added: self.added.without_prefix(prefix),
            modified: self.modified.without_prefix(prefix),
            removed: self.removed.without_prefix(prefix),
        }
    }

    /// Added and modified paths: what a write takes ownership of.
    pub fn changed(&self) -> FieldSet {
        self.added.union(&self.modified)
    }
}

/// Compares two values of one type.
pub fn compare(old: &Value, new: &Value, shape: Shape) -> Comparison {
    let mut c = Comparison::default();
    compare_at(Some(old), Some(new), shape, &mut Vec::new(), &mut c);
    c
}

fn leaf(lhs: Option<&Value>, rhs: Option<&Value>, path: &Path, c: &mut Comparison) {
    match (lhs, rhs) {
        (None, Some(_)) => c.added.insert(path),
        (Some(_), None) => c.removed.insert(path),
        (Some(l), Some(r)) if l != r => c.modified.insert(path),
        _ => {}
    }
}

fn compare_at(
    lhs: Option<&Value>,
    rhs: Option<&Value>,
    shape: Shape,
    path: &mut Path,
    c: &mut Comparison,
) {
    let Some(probe) = rhs.or(lhs) else {
        return;
    };
    let form = shape.form(probe);
    let other_form = lhs.zip(rhs).map(|(l, _)| shape.form(l));
    if other_form.is_some_and(|f| f != form) {
        leaf(lhs, rhs, path, c);
        return;
    }
    match form {
        Form::Scalar | Form::Map { atomic: true } | Form::List(ListKind::Atomic) => {
            leaf(lhs, rhs, path, c);
        }
        Form::Map { atomic: false } => {
            let l = lhs.and_then(Value::as_object);
            let r = rhs.and_then(Value::as_object);
            if l.is_none_or(Map::is_empty) && r.is_none_or(Map::is_empty) {
                leaf(lhs, rhs, path, c);
                return;
            }
            let keys: BTreeSet<&String> = l.into_iter().chain(r).flat_map(Map::keys).collect();
            for key in keys {
                let (child_shape, _) = shape.field(key);
                path.push(PathElement::Field(key.clone()));
                compare_at(
                    l.and_then(|m| m.get(key)),
                    r.and_then(|m| m.get(key)),
                    child_shape,
                    path,
                    c,
                );
                path.pop();
            }
        }
        Form::List(kind) => {
            let l = lhs.and_then(Value::as_array);
            let r = rhs.and_then(Value::as_array);
            if l.is_none_or(Vec::is_empty) && r.is_none_or(Vec::is_empty) {
                leaf(lhs, rhs, path, c);
                return;
            }
            let items = shape.items();
            let l_items = keyed(&kind, l);
            let r_items = keyed(&kind, r);
            let mut elements: Vec<&PathElement> = l_items.iter().map(|(pe, _)| pe).collect();
            for (pe, _) in &r_items {
                if !elements.contains(&pe) {
                    elements.push(pe);
                }
            }
            for pe in elements {
                let (lv, rv) = (find_item(&l_items, pe), find_item(&r_items, pe));
                path.push(pe.clone());
                compare_at(lv, rv, items, path, c);
                path.pop();
            }
        }
    }
    match (lhs, rhs) {
        (None, Some(_)) => c.added.insert(path),
        (Some(_), None) => c.removed.insert(path),
        _ => {}
    }
}

fn find_item<'v>(list: &[(PathElement, &'v Value)], pe: &PathElement) -> Option<&'v Value> {
    list.iter().find(|(p, _)| p == pe).map(|(_, v)| *v)
}

fn keyed<'v>(kind: &ListKind, list: Option<&'v Vec<Value>>) -> Vec<(PathElement, &'v Value)> {
    list.into_iter()
        .flatten()
        .enumerate()
        .map(|(i, item)| (Shape::item_element(kind, i, item), item))
        .collect()
}

/// The applied configuration merged into the live object: maps merge key by key, keyed lists
/// and sets item by item, everything else is replaced.
pub fn merge(live: &Value, config: &Value, shape: Shape) -> Value {
    let form = shape.form(config);
    if shape.form(live) != form {
        return config.clone();
    }
    match form {
        Form::Scalar | Form::Map { atomic: true } | Form::List(ListKind::Atomic) => config.clone(),
        Form::Map { atomic: false } => {
            let (Some(l), Some(r)) = (live.as_object(), config.as_object()) else {
                return config.clone();
            };
            let mut out = l.clone();
            for (key, rv) in r {
                if rv.is_null() {
                    // An explicit null in an applied configuration clears the field.
                    out.remove(key);
                    continue;
                }
                let (child_shape, _) = shape.field(key);
                let merged = match l.get(key) {
                    Some(lv) => merge(lv, rv, child_shape),
                    None => rv.clone(),
                };
                out.insert(key.clone(), merged);
            }
            Value::Object(out)
        }
        Form::List(kind) => {
            let (Some(l), Some(r)) = (live.as_array(), config.as_array()) else {
                return config.clone();
            };
            let items = shape.items();
            let mut out: Vec<(PathElement, Value)> = keyed(&kind, Some(l))
                .into_iter()
                .map(|(pe, v)| (pe, v.clone()))
                .collect();
            for (pe, rv) in keyed(&kind, Some(r)) {
                match out.iter_mut().find(|(p, _)| *p == pe) {
                    Some((_, lv)) => *lv = merge(lv, rv, items),
                    None => out.push((pe, rv.clone())),
                }
            }
            Value::Array(out.into_iter().map(|(_, v)| v).collect())
        }
    }
}

/// Removes every member of `set` (with what lies below it) from `value`.
pub fn remove_items(value: &mut Value, set: &FieldSet, shape: Shape) {
    match shape.form(value) {
        Form::Map { atomic: false } => {
            let Some(map) = value.as_object_mut() else {
                return;
            };
            map.retain(|key, _| !set.has_member(&PathElement::Field(key.clone())));
            for (key, child) in map.iter_mut() {
                if let Some(sub) = set.child(&PathElement::Field(key.clone())) {
                    remove_items(child, sub, shape.field(key).0);
                }
            }
        }
        Form::List(kind) if kind != ListKind::Atomic => {
            let Some(list) = value.as_array_mut() else {
                return;
            };
            let items = shape.items();
            let elements: Vec<PathElement> = list
                .iter()
                .enumerate()
                .map(|(i, item)| Shape::item_element(&kind, i, item))
                .collect();
            let mut kept = Vec::new();
            for (pe, mut item) in elements.into_iter().zip(std::mem::take(list)) {
                if set.has_member(&pe) {
                    continue;
                }
                if let Some(sub) = set.child(&pe) {
                    remove_items(&mut item, sub, items);
                }
                kept.push(item);
            }
            *list = kept;
        }
        _ => {}
    }
}

/// The set with every struct field that has members below it made a member itself
/// (`EnsureNamedFieldsAreMembers`), so that pruning never removes a struct a manager still
/// owns fields of.
pub fn with_named_fields(set: &FieldSet, shape: Shape) -> FieldSet {
    let mut out = set.clone();
    for (pe, sub) in set.child_elements() {
        if sub.is_empty() {
            continue;
        }
        let child_shape = match pe {
            PathElement::Field(name) => {
                let (s, named) = shape.field(name);
                if named {
                    out.add_member(pe.clone());
                }
                s
            }
            _ => shape.items(),
        };
        *out.child_mut(pe) = with_named_fields(sub, child_shape);
    }
    out
}
