//! Name rules OpenSearch enforces before it acts, with its own wording.

/// `Strings.INVALID_FILENAME_CHARS` as OpenSearch prints the set in its messages.
const INVALID_FILENAME_CHARS: &str = r#"[ , ", *, \, <, |, ,, >, /, ?]"#;

fn valid_file_name(name: &str) -> bool {
    !name.chars().any(|c| {
        matches!(
            c,
            '\\' | '/' | '*' | '?' | '"' | '<' | '>' | '|' | ' ' | ','
        )
    })
}

/// Why `name` cannot be a snapshot's name (`SnapshotsService.validate`), checked in its order.
pub fn snapshot_name_problem(name: &str) -> Option<String> {
    let problem = if name.is_empty() {
        "cannot be empty".to_string()
    } else if name.contains(' ') {
        "must not contain whitespace".into()
    } else if name.contains(',') {
        "must not contain ','".into()
    } else if name.contains('#') {
        "must not contain '#'".into()
    } else if name.starts_with('_') {
        "must not start with '_'".into()
    } else if name.to_lowercase() != name {
        "must be lowercase".into()
    } else if !valid_file_name(name) {
        format!("must not contain the following characters {INVALID_FILENAME_CHARS}")
    } else {
        return None;
    };
    Some(problem)
}

/// Why `name` cannot be a repository's name (`RepositoriesService.validate`).
pub fn repository_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        Some("cannot be empty".into())
    } else if name.contains('#') {
        Some("must not contain '#'".into())
    } else if !valid_file_name(name) {
        Some(format!(
            "must not contain the following characters {INVALID_FILENAME_CHARS}"
        ))
    } else {
        None
    }
}

/// Why `name` cannot be an index's name (`MetadataCreateIndexService.validateIndexOrAliasName`
/// and `validateIndexName`).
pub fn index_name_problem(name: &str) -> Option<String> {
    if !valid_file_name(name) {
        Some(format!(
            "must not contain the following characters {INVALID_FILENAME_CHARS}"
        ))
    } else if name.contains('#') {
        Some("must not contain '#'".into())
    } else if name.contains(':') {
        Some("must not contain ':'".into())
    } else if name.starts_with(['_', '-', '+']) {
        Some("must not start with '_', '-', or '+'".into())
    } else if name.to_lowercase() != name {
        Some("must be lowercase".into())
    } else if name == "." || name == ".." {
        Some("must not be '.' or '..'".into())
    } else if name.len() > 255 {
        Some(format!("index name is too long, ({} > 255)", name.len()))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_names_follow_opensearch_rules() {
        assert_eq!(snapshot_name_problem("snapshot-20240602_000000z"), None);
        assert_eq!(
            snapshot_name_problem("Snap").as_deref(),
            Some("must be lowercase")
        );
        assert_eq!(
            snapshot_name_problem("_verify").as_deref(),
            Some("must not start with '_'")
        );
        assert_eq!(
            snapshot_name_problem("a b").as_deref(),
            Some("must not contain whitespace")
        );
        assert!(
            snapshot_name_problem("a*b")
                .unwrap()
                .starts_with("must not contain the following")
        );
    }

    #[test]
    fn index_names_follow_opensearch_rules() {
        assert_eq!(
            index_name_problem("kubernetes-default-2024.05.31-000001"),
            None
        );
        assert_eq!(
            index_name_problem("Books").as_deref(),
            Some("must be lowercase")
        );
        assert!(index_name_problem("_x").is_some());
    }
}
