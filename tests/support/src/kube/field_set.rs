//! Sets of field paths, as structured-merge-diff (`sigs.k8s.io/structured-merge-diff`,
//! `fieldpath`) models what a manager owns, and their `FieldsV1` encoding in `managedFields`.
//!
//! A path is a list of elements: `f:<name>` (a map key or struct field), `k:{"name":"web"}`
//! (an item of a list keyed by its merge keys, as JSON with the keys sorted), `v:<json>` (an
//! item of a set-list of scalars) and `i:<n>` (an index, for lists without keys). A set holds
//! members (paths owned themselves) and children; in `FieldsV1` a member with children is
//! written as the child object with a `".": {}` entry, a member without children as `{}`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{Map, Value};

/// One step of a field path. The derived order (fields, then keys, values, indices) is the one
/// the apiserver writes `FieldsV1` in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathElement {
    /// A field or map key: `f:name`.
    Field(String),
    /// A keyed list item: the JSON object of its key fields, `k:{"containerPort":80,"protocol":"TCP"}`.
    Key(String),
    /// A set-list item: its JSON value, `v:"finalizer"`.
    Value(String),
    /// A list position: `i:0`.
    Index(usize),
}

impl PathElement {
    /// The element of a keyed list item: its key fields as compact JSON, sorted by name.
    pub fn key(fields: &[(String, Value)]) -> Self {
        let mut sorted: Vec<&(String, Value)> = fields.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        let body: Vec<String> = sorted
            .iter()
            .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), v))
            .collect();
        Self::Key(format!("{{{}}}", body.join(",")))
    }

    /// The `FieldsV1` key of this element.
    fn encode(&self) -> String {
        match self {
            Self::Field(name) => format!("f:{name}"),
            Self::Key(json) => format!("k:{json}"),
            Self::Value(json) => format!("v:{json}"),
            Self::Index(i) => format!("i:{i}"),
        }
    }

    fn decode(text: &str) -> Result<Self, String> {
        let (prefix, rest) = text
            .split_once(':')
            .ok_or_else(|| format!("unexpected fields key {text:?}"))?;
        match prefix {
            "f" => Ok(Self::Field(rest.to_string())),
            "k" => {
                let fields: Map<String, Value> =
                    serde_json::from_str(rest).map_err(|e| format!("parsing key {rest:?}: {e}"))?;
                let fields: Vec<(String, Value)> = fields.into_iter().collect();
                Ok(Self::key(&fields))
            }
            "v" => {
                let v: Value = serde_json::from_str(rest)
                    .map_err(|e| format!("parsing value {rest:?}: {e}"))?;
                Ok(Self::Value(v.to_string()))
            }
            "i" => rest
                .parse()
                .map(Self::Index)
                .map_err(|e| format!("parsing index {rest:?}: {e}")),
            _ => Err(format!(
                "unknown path element prefix {prefix:?} in {text:?}"
            )),
        }
    }
}

/// The path syntax of conflict messages: `.spec.template.spec.containers[name="web"].image`.
impl fmt::Display for PathElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Field(name) => write!(f, ".{name}"),
            Self::Key(json) => {
                let fields: Map<String, Value> = serde_json::from_str(json).unwrap_or_default();
                let parts: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
                write!(f, "[{}]", parts.join(","))
            }
            Self::Value(json) => write!(f, "[={json}]"),
            Self::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// A path from the object's root.
pub type Path = Vec<PathElement>;

/// The text of a path in conflict messages.
pub fn path_string(path: &[PathElement]) -> String {
    path.iter().map(ToString::to_string).collect()
}

/// A set of paths, as a tree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet {
    members: BTreeSet<PathElement>,
    children: BTreeMap<PathElement, FieldSet>,
}

impl FieldSet {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the set holds no path.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.values().all(FieldSet::is_empty)
    }

    /// Adds a path (the empty path, the root, is never a member).
    pub fn insert(&mut self, path: &[PathElement]) {
        match path {
            [] => {}
            [last] => {
                self.members.insert(last.clone());
            }
            [first, rest @ ..] => self.children.entry(first.clone()).or_default().insert(rest),
        }
    }

    /// Whether a path is a member.
    #[cfg(test)]
    pub fn has(&self, path: &[PathElement]) -> bool {
        match path {
            [] => false,
            [last] => self.members.contains(last),
            [first, rest @ ..] => self.children.get(first).is_some_and(|c| c.has(rest)),
        }
    }

    /// Whether an element is a member at this level.
    pub fn has_member(&self, pe: &PathElement) -> bool {
        self.members.contains(pe)
    }

    /// The subset below an element.
    pub fn child(&self, pe: &PathElement) -> Option<&FieldSet> {
        self.children.get(pe)
    }

    /// The elements that have children here.
    pub fn child_elements(&self) -> impl Iterator<Item = (&PathElement, &FieldSet)> {
        self.children.iter()
    }

    /// Every path in either set.
    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.members.extend(other.members.iter().cloned());
        for (pe, child) in &other.children {
            let merged = match out.children.get(pe) {
                Some(mine) => mine.union(child),
                None => child.clone(),
            };
            out.children.insert(pe.clone(), merged);
        }
        out
    }

    /// The paths of this set that are not in `other`.
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let empty = FieldSet::new();
        let members = self.members.difference(&other.members).cloned().collect();
        let children = self
            .children
            .iter()
            .map(|(pe, c)| {
                (
                    pe.clone(),
                    c.difference(other.children.get(pe).unwrap_or(&empty)),
                )
            })
            .filter(|(_, c)| !c.is_empty())
            .collect();
        FieldSet { members, children }
    }

    /// The paths in both sets.
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let members = self.members.intersection(&other.members).cloned().collect();
        let children = self
            .children
            .iter()
            .filter_map(|(pe, c)| {
                other
                    .children
                    .get(pe)
                    .map(|o| (pe.clone(), c.intersection(o)))
            })
            .filter(|(_, c)| !c.is_empty())
            .collect();
        FieldSet { members, children }
    }

    /// The set without a path and everything below it.
    pub fn without_prefix(&self, prefix: &[PathElement]) -> FieldSet {
        let mut out = self.clone();
        match prefix {
            [] => return FieldSet::new(),
            [last] => {
                out.members.remove(last);
                out.children.remove(last);
            }
            [first, rest @ ..] => {
                if let Some(c) = out.children.get(first) {
                    let pruned = c.without_prefix(rest);
                    out.children.insert(first.clone(), pruned);
                }
            }
        }
        out
    }

    /// Adds an element as a member at this level.
    pub fn add_member(&mut self, pe: PathElement) {
        self.members.insert(pe);
    }

    /// The subset below an element, created if absent.
    pub fn child_mut(&mut self, pe: &PathElement) -> &mut FieldSet {
        self.children.entry(pe.clone()).or_default()
    }

    /// Every member path, in order.
    pub fn paths(&self) -> Vec<Path> {
        let mut out = Vec::new();
        self.collect_paths(&mut Vec::new(), &mut out);
        out
    }

    fn collect_paths(&self, prefix: &mut Path, out: &mut Vec<Path>) {
        let elements: BTreeSet<&PathElement> =
            self.members.iter().chain(self.children.keys()).collect();
        for pe in elements {
            prefix.push(pe.clone());
            if self.members.contains(pe) {
                out.push(prefix.clone());
            }
            if let Some(c) = self.children.get(pe) {
                c.collect_paths(prefix, out);
            }
            prefix.pop();
        }
    }

    /// The `fieldsV1` object.
    pub fn to_fields_v1(&self) -> Value {
        let elements: BTreeSet<&PathElement> = self
            .members
            .iter()
            .chain(
                self.children
                    .iter()
                    .filter(|(_, c)| !c.is_empty())
                    .map(|(pe, _)| pe),
            )
            .collect();
        let mut out = Map::new();
        for pe in elements {
            let mut entry = Map::new();
            if let Some(c) = self.children.get(pe).filter(|c| !c.is_empty()) {
                if self.members.contains(pe) {
                    entry.insert(".".into(), Value::Object(Map::new()));
                }
                if let Value::Object(inner) = c.to_fields_v1() {
                    entry.extend(inner);
                }
            }
            out.insert(pe.encode(), Value::Object(entry));
        }
        Value::Object(out)
    }

    /// Parses a `fieldsV1` object.
    pub fn from_fields_v1(v: &Value) -> Result<FieldSet, String> {
        let obj = v
            .as_object()
            .ok_or_else(|| "fieldsV1 must be an object".to_string())?;
        let mut set = FieldSet::new();
        for (key, inner) in obj {
            if key == "." {
                continue;
            }
            let pe = PathElement::decode(key)?;
            let inner_obj = inner
                .as_object()
                .ok_or_else(|| format!("fieldsV1 entry {key:?} must be an object"))?;
            if inner_obj.is_empty() || inner_obj.contains_key(".") {
                set.members.insert(pe.clone());
            }
            let child = FieldSet::from_fields_v1(inner)?;
            if !child.is_empty() {
                set.children.insert(pe, child);
            }
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_v1_round_trips_with_dot_for_members_that_have_children() {
        let encoded = json!({
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}}}},
        });
        let set = FieldSet::from_fields_v1(&encoded).unwrap();
        let web = PathElement::key(&[("name".into(), json!("web"))]);
        let containers = [
            PathElement::Field("spec".into()),
            PathElement::Field("containers".into()),
        ];
        assert!(set.has(&[containers[0].clone(), containers[1].clone(), web.clone()]));
        assert!(!set.has(&[PathElement::Field("spec".into())]));
        assert_eq!(set.to_fields_v1(), encoded);
        let image = vec![
            containers[0].clone(),
            containers[1].clone(),
            web,
            PathElement::Field("image".into()),
        ];
        assert_eq!(path_string(&image), r#".spec.containers[name="web"].image"#);
    }
}
