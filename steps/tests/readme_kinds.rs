//! The README's tables of step kinds against the registry: every kind has a row, and the row
//! names each of its inputs (the top-level properties of its input schema) and each output it
//! declares. Inputs every kind of a group takes may be named once, above the group's table.

use std::collections::{BTreeMap, BTreeSet};

use runbook_engine::model::INCLUDE_KIND;

/// One table row: the kinds it documents, and the names its inputs and outputs cells mention.
struct Row {
    inputs: BTreeSet<String>,
    outputs: BTreeSet<String>,
    /// Names mentioned between the (sub)section's heading and its table.
    shared: BTreeSet<String>,
}

/// The identifiers inside the `code spans` of a piece of Markdown: `` `steps: [{id, state}]` ``
/// mentions `steps`, `id` and `state`.
fn names(markdown: &str) -> BTreeSet<String> {
    markdown
        .split('`')
        .skip(1)
        .step_by(2)
        .flat_map(|span| {
            span.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|word| !word.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The cells of a table row, split on `|` that is not escaped (`\|` stands in a cell).
fn cells(line: &str) -> Vec<String> {
    let mut cells = vec![String::new()];
    let mut chars = line.trim().trim_matches('|').chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cells.last_mut().unwrap().push(chars.next().unwrap())
            }
            '|' => cells.push(String::new()),
            other => cells.last_mut().unwrap().push(other),
        }
    }
    cells
}

/// The rows of the tables in the README's "Step kinds" section, by kind.
fn readme_rows() -> BTreeMap<String, Row> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
    let readme = std::fs::read_to_string(path).expect("README.md next to the workspace");
    let start = readme
        .find("\n## Step kinds")
        .expect("the README has a `## Step kinds` section");
    let section = &readme[start + 1..];
    let end = section[3..].find("\n## ").map_or(section.len(), |i| i + 3);
    let section = &section[..end];

    let mut rows = BTreeMap::new();
    let mut prose = String::new();
    for line in section.lines() {
        if line.starts_with('#') {
            prose.clear();
        } else if line.starts_with("| `") {
            let cells = cells(line);
            assert!(
                cells.len() >= 3,
                "a step-kind row has kind, inputs and outputs: {line}"
            );
            for kind in names_of_kinds(&cells[0]) {
                let row = Row {
                    inputs: names(&cells[1]),
                    outputs: names(&cells[2]),
                    shared: names(&prose),
                };
                assert!(
                    rows.insert(kind.clone(), row).is_none(),
                    "`{kind}` has two rows in the README"
                );
            }
        } else if !line.starts_with('|') {
            prose.push_str(line);
            prose.push('\n');
        }
    }
    rows
}

/// The kinds a first cell names: `` `s3.copy`, `s3.sync` ``.
fn names_of_kinds(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

#[test]
fn every_registered_kind_has_a_readme_row_with_its_inputs_and_outputs() {
    let rows = readme_rows();
    let registry = runbook_steps::registry();
    let mut gaps = Vec::new();
    for kind in registry.kinds() {
        let name = kind.name();
        let Some(row) = rows.get(name) else {
            gaps.push(format!("`{name}` has no row in the README's step kinds"));
            continue;
        };
        let schema = kind.input_schema();
        let inputs = schema["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("`{name}`'s input schema has properties"));
        for input in inputs.keys() {
            if !row.inputs.contains(input) && !row.shared.contains(input) {
                gaps.push(format!(
                    "`{name}`: the README does not name its input `{input}`"
                ));
            }
        }
        assert!(
            !kind.outputs().is_empty(),
            "`{name}` declares no outputs (StepKind::outputs)"
        );
        for output in kind.outputs() {
            if !row.outputs.contains(*output) {
                gaps.push(format!(
                    "`{name}`: the README does not name its output `{output}`"
                ));
            }
        }
    }
    assert!(gaps.is_empty(), "README step kinds:\n{}", gaps.join("\n"));
}

#[test]
fn every_readme_row_is_a_registered_kind() {
    let registry = runbook_steps::registry();
    for kind in readme_rows().keys() {
        assert!(
            kind == INCLUDE_KIND || registry.get(kind).is_some(),
            "the README documents `{kind}`, which is not a registered kind"
        );
    }
}
