//! `runbook graph`: the DAG as Graphviz dot or as a Mermaid flowchart (which GitHub and GitLab
//! render inside Markdown).
//!
//! Each node shows the step's full id and its kind. Destructive steps stand out (red and bold in
//! dot, class `destructive` in Mermaid), `always` steps and the edges into them are dashed (they run
//! whether or not what they need succeeded), and the steps of an included runbook are grouped in
//! a subgraph named after the include step. Edges point from a need to the step that needs it.

use std::fmt::Write as _;

use crate::program::Program;

pub fn to_dot(program: &Program, destructive: &dyn Fn(usize) -> bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph {} {{", dot_id(&program.root().name));
    out.push_str("  rankdir=TB;\n");
    out.push_str("  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n");
    out.push_str("  edge [fontname=\"Helvetica\"];\n");
    dot_frame(&mut out, program, destructive, 0, 1);
    for step in &program.steps {
        let style = if step.def.always {
            " [style=dashed]"
        } else {
            ""
        };
        for &need in &step.needs {
            let _ = writeln!(
                out,
                "  {} -> {}{style};",
                dot_id(&program.steps[need].key),
                dot_id(&step.key)
            );
        }
    }
    out.push_str("}\n");
    out
}

/// The nodes of one frame, then each included runbook's frame as a nested cluster.
fn dot_frame(
    out: &mut String,
    program: &Program,
    destructive: &dyn Fn(usize) -> bool,
    frame: usize,
    depth: usize,
) {
    let indent = "  ".repeat(depth);
    for (index, step) in program
        .steps
        .iter()
        .enumerate()
        .filter(|(_, s)| s.frame == frame)
    {
        let mut styles = vec!["rounded"];
        let mut attributes = vec![format!(
            "label={}",
            dot_string(&format!("{}\n{}", step.key, step.def.uses))
        )];
        if step.def.name.is_some() {
            attributes.push(format!("tooltip={}", dot_string(step.def.title())));
        }
        if program.is_include(index) {
            attributes.push("shape=folder".into());
        }
        if destructive(index) {
            styles.push("bold");
            attributes.extend([
                "color=red".into(),
                "fontcolor=red".into(),
                "penwidth=2".into(),
            ]);
        }
        if step.def.always {
            styles.push("dashed");
        }
        attributes.push(format!("style={}", dot_string(&styles.join(","))));
        let _ = writeln!(
            out,
            "{indent}{} [{}];",
            dot_id(&step.key),
            attributes.join(", ")
        );
    }
    for step in program.steps.iter().filter(|s| s.frame == frame) {
        let Some(child) = step.child_frame else {
            continue;
        };
        let runbook = &program.runbooks[program.frames[child].runbook];
        // Graphviz draws a box around a subgraph only when its name starts with `cluster`.
        let _ = writeln!(
            out,
            "{indent}subgraph {} {{",
            dot_id(&format!("cluster_{}", step.key))
        );
        let _ = writeln!(
            out,
            "{indent}  label={};",
            dot_string(&format!("{} ({})", step.key, runbook.name))
        );
        let _ = writeln!(out, "{indent}  style=rounded;");
        dot_frame(out, program, destructive, child, depth + 1);
        let _ = writeln!(out, "{indent}}}");
    }
}

/// A dot ID: always quoted, since step ids hold `-` and `.`.
fn dot_id(text: &str) -> String {
    dot_string(text)
}

/// A quoted dot string. In labels a backslash starts an escape (`\n`, `\l`), so a literal one is
/// doubled; a line break becomes `\n`.
fn dot_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub fn to_mermaid(program: &Program, destructive: &dyn Fn(usize) -> bool) -> String {
    let mut out = String::from("flowchart TD\n");
    out.push_str("  classDef destructive fill:#fdecea,stroke:#c62828,stroke-width:3px,color:#b71c1c,font-weight:bold\n");
    out.push_str("  classDef always stroke-dasharray:5 5\n");
    mermaid_frame(&mut out, program, destructive, 0, 1);
    for (index, step) in program.steps.iter().enumerate() {
        // `-.->` is Mermaid's dotted arrow: the dependent runs whatever the need's outcome.
        let arrow = if step.def.always { "-.->" } else { "-->" };
        for &need in &step.needs {
            let _ = writeln!(out, "  {} {arrow} {}", mermaid_id(need), mermaid_id(index));
        }
    }
    let always: Vec<String> = (0..program.steps.len())
        .filter(|&i| program.steps[i].def.always)
        .map(mermaid_id)
        .collect();
    if !always.is_empty() {
        let _ = writeln!(out, "  class {} always", always.join(","));
    }
    out
}

fn mermaid_frame(
    out: &mut String,
    program: &Program,
    destructive: &dyn Fn(usize) -> bool,
    frame: usize,
    depth: usize,
) {
    let indent = "  ".repeat(depth);
    for (index, step) in program
        .steps
        .iter()
        .enumerate()
        .filter(|(_, s)| s.frame == frame)
    {
        let label = mermaid_label(&format!("{}\n{}", step.key, step.def.uses));
        // `[[...]]` is the subroutine shape: the step runs another runbook.
        let (open, close) = if program.is_include(index) {
            ("[[", "]]")
        } else {
            ("[", "]")
        };
        let class = if destructive(index) {
            ":::destructive"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "{indent}{}{open}\"{label}\"{close}{class}",
            mermaid_id(index)
        );
    }
    for (index, step) in program
        .steps
        .iter()
        .enumerate()
        .filter(|(_, s)| s.frame == frame)
    {
        let Some(child) = step.child_frame else {
            continue;
        };
        let runbook = &program.runbooks[program.frames[child].runbook];
        let title = mermaid_label(&format!("{} ({})", step.key, runbook.name));
        let _ = writeln!(
            out,
            "{indent}subgraph {}_steps[\"{title}\"]",
            mermaid_id(index)
        );
        mermaid_frame(out, program, destructive, child, depth + 1);
        let _ = writeln!(out, "{indent}end");
    }
}

/// Mermaid node ids are plain words: `-` and `.` would be read as arrows and ids like `end` as
/// keywords, so nodes are `s<index>` and the step's id goes in the quoted label.
fn mermaid_id(index: usize) -> String {
    format!("s{index}")
}

/// Text inside a quoted Mermaid label: quotes and markup characters as Mermaid's `#name;`
/// entities, line breaks as `<br/>`.
fn mermaid_label(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '&' => out.push_str("#amp;"),
            '\n' => out.push_str("<br/>"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    /// `drop-databases` is destructive; `cleanup` is an `always` step.
    fn rendered(render: fn(&Program, &dyn Fn(usize) -> bool) -> String) -> (Program, String) {
        let program = fixture::program();
        let drop = program.index_of("drop-databases").unwrap();
        let text = render(&program, &|i| i == drop);
        (program, text)
    }

    fn lines(text: &str) -> Vec<&str> {
        text.lines().map(str::trim_start).collect()
    }

    #[test]
    fn dot_nodes_clusters_and_marks() {
        let (program, dot) = rendered(to_dot);
        let lines = lines(&dot);
        assert_eq!(lines[0], "digraph \"influxdb-restore\" {");
        assert!(lines.contains(&r#""fetch" [label="fetch\ns3.latest", tooltip="Find the latest backup", style="rounded"];"#), "{dot}");
        assert!(
            lines.contains(&r#""drop-databases" [label="drop-databases\ninfluxdb.query", color=red, fontcolor=red, penwidth=2, style="rounded,bold"];"#),
            "{dot}"
        );
        assert!(
            lines.contains(&r#""cleanup" [label="cleanup\ncommand", style="rounded,dashed"];"#),
            "{dot}"
        );
        assert!(lines.contains(&r#""restore-influx" [label="restore-influx\nrunbook", shape=folder, style="rounded"];"#), "{dot}");
        // The included steps sit inside their include's cluster, one level deeper.
        let cluster = dot
            .split("subgraph \"cluster_restore-influx\" {\n")
            .nth(1)
            .expect("a cluster");
        let cluster = &cluster[..cluster.find("\n  }\n").expect("closed")];
        assert!(
            cluster.contains("label=\"restore-influx (restore)\";"),
            "{cluster}"
        );
        assert!(cluster.contains(r#"    "restore-influx.apply" [label="restore-influx.apply\nk8s.apply", style="rounded"];"#), "{cluster}");
        assert!(
            cluster.contains(r#""restore-influx.wait" [label"#),
            "{cluster}"
        );
        assert!(!cluster.contains("\"fetch\""), "{cluster}");
        // Every step is one node.
        for key in program.keys() {
            let node = format!("\"{key}\" [label=");
            assert_eq!(
                lines.iter().filter(|l| l.starts_with(&node)).count(),
                1,
                "{key} in {dot}"
            );
        }
    }

    #[test]
    fn dot_edges_go_from_need_to_dependent() {
        let (program, dot) = rendered(to_dot);
        let edges: Vec<&str> = lines(&dot)
            .into_iter()
            .filter(|l| l.contains(" -> "))
            .collect();
        let expected = program.steps.iter().map(|s| s.needs.len()).sum::<usize>();
        assert_eq!(edges.len(), expected);
        for edge in [
            r#""fetch" -> "drop-databases";"#,
            // An included runbook's first steps need what the include step needs...
            r#""fetch" -> "restore-influx.apply";"#,
            r#""restore-influx.apply" -> "restore-influx.wait";"#,
            // ...and the include step completes after all of them.
            r#""restore-influx.wait" -> "restore-influx";"#,
            r#""restore-influx" -> "verify";"#,
            r#""verify" -> "cleanup" [style=dashed];"#,
        ] {
            assert!(edges.contains(&edge), "{edge} in {dot}");
        }
        assert!(!edges.contains(&r#""drop-databases" -> "fetch";"#));
    }

    #[test]
    fn mermaid_nodes_subgraphs_and_edges() {
        let (program, mermaid) = rendered(to_mermaid);
        let id = |key: &str| format!("s{}", program.index_of(key).unwrap());
        let lines = lines(&mermaid);
        assert_eq!(lines[0], "flowchart TD");
        assert!(
            lines.iter().any(|l| l.starts_with("classDef destructive ")),
            "{mermaid}"
        );
        assert!(
            lines.contains(
                &format!(
                    "{}[\"drop-databases<br/>influxdb.query\"]:::destructive",
                    id("drop-databases")
                )
                .as_str()
            ),
            "{mermaid}"
        );
        assert!(
            lines.contains(&format!("{}[\"fetch<br/>s3.latest\"]", id("fetch")).as_str()),
            "{mermaid}"
        );
        assert!(
            lines.contains(
                &format!("{}[[\"restore-influx<br/>runbook\"]]", id("restore-influx")).as_str()
            ),
            "{mermaid}"
        );
        let open = format!(
            "  subgraph {}_steps[\"restore-influx (restore)\"]\n",
            id("restore-influx")
        );
        let inside = mermaid.split(&open).nth(1).expect("a subgraph");
        let inside = &inside[..inside.find("\n  end\n").expect("closed")];
        assert_eq!(inside.lines().count(), 2, "{inside}");
        assert!(
            inside.contains(&format!(
                "    {}[\"restore-influx.apply<br/>k8s.apply\"]",
                id("restore-influx.apply")
            )),
            "{inside}"
        );
        assert!(
            lines.contains(&format!("{} --> {}", id("fetch"), id("restore-influx.apply")).as_str()),
            "{mermaid}"
        );
        assert!(
            lines.contains(&format!("{} -.-> {}", id("verify"), id("cleanup")).as_str()),
            "{mermaid}"
        );
        assert!(
            lines.contains(&format!("class {} always", id("cleanup")).as_str()),
            "{mermaid}"
        );
        let edges = lines
            .iter()
            .filter(|l| l.contains("-->") || l.contains("-.->"))
            .count();
        assert_eq!(
            edges,
            program.steps.iter().map(|s| s.needs.len()).sum::<usize>()
        );
    }

    #[test]
    fn text_is_escaped_for_each_format() {
        let text = "apiVersion: runbook/v1\nkind: Runbook\nname: 'say \"hi\" \\ <now> #1'\nsteps:\n  - id: a\n    uses: command\n";
        let program = fixture::build(text, std::path::Path::new("/tmp/escape.yaml"));
        let dot = to_dot(&program, &|_| false);
        assert!(
            dot.starts_with("digraph \"say \\\"hi\\\" \\\\ <now> #1\" {\n"),
            "{dot}"
        );
        assert_eq!(
            mermaid_label("say \"hi\" <now> #1 & more\nnext"),
            "say #quot;hi#quot; #lt;now#gt; #35;1 #amp; more<br/>next"
        );
    }
}
