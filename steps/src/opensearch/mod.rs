//! OpenSearch (and Elasticsearch 7) kinds over an `http` connection: snapshot repositories,
//! snapshots, restores that wait for shard recovery, and index deletion.

pub mod delete_index;
pub mod repository;
pub mod restore;
pub mod snapshots;

/// `indices` may be written as a list or as one comma-separated string, as the API takes it.
#[derive(Debug, Clone, serde::Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum Indices {
    List(Vec<String>),
    Text(String),
}

impl Indices {
    pub fn patterns(&self) -> Vec<String> {
        match self {
            Indices::List(list) => list
                .iter()
                .flat_map(|s| s.split(','))
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            Indices::Text(text) => text
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
        }
    }
}

/// Index-name wildcard matching as the APIs do it: `*` for any run of characters.
pub fn wildcard(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

/// The indices a list of patterns selects, with `-pattern` excluding what earlier ones included.
pub fn select<'a>(patterns: &[String], names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    names
        .into_iter()
        .filter(|name| {
            let mut selected = false;
            for pattern in patterns {
                if let Some(excluded) = pattern.strip_prefix('-') {
                    if wildcard(excluded, name) {
                        selected = false;
                    }
                } else if wildcard(pattern, name) {
                    selected = true;
                }
            }
            selected
        })
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_and_exclusions() {
        assert!(wildcard(
            "kubernetes-*",
            "kubernetes-default-2026.11.23-000001"
        ));
        assert!(wildcard("*", ".opendistro_security"));
        assert!(!wildcard("other-*", "kubeaudit-x"));
        assert!(wildcard("a*b*c", "a-x-b-y-c"));
        let names = ["kubernetes-1", ".opendistro_security", "other-1"];
        assert_eq!(
            select(&["*".into(), "-.opendistro_security".into()], names),
            vec!["kubernetes-1", "other-1"]
        );
    }
}
