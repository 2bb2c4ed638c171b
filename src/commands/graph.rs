use std::path::Path;

use runbook_engine::graph_render::{to_dot, to_mermaid};
use runbook_engine::validate::KnownInputs;

use super::load_program;
use crate::args::{GraphFormat, OutputFormat};
use crate::exit;

pub fn run(file: &Path, format: GraphFormat, output: OutputFormat) -> i32 {
    let Some(program) = load_program(file, &KnownInputs::default(), output) else {
        return exit::INVALID;
    };
    let registry = runbook_steps::registry();
    let destructive = |step: usize| program.is_destructive(&registry, step);
    if output == OutputFormat::Json {
        // The machine form: every step with what it needs, in the order the DAG runs them.
        let steps: Vec<serde_json::Value> = program
            .dag
            .topological()
            .into_iter()
            .map(|i| {
                let step = &program.steps[i];
                serde_json::json!({
                    "id": step.key,
                    "uses": step.def.uses,
                    "needs": step.needs.iter().map(|&n| program.steps[n].key.clone()).collect::<Vec<_>>(),
                    "destructive": destructive(i),
                })
            })
            .collect();
        println!("{}", serde_json::json!({"steps": steps}));
        return exit::OK;
    }
    let text = match format {
        GraphFormat::Dot => to_dot(&program, &destructive),
        GraphFormat::Mermaid => to_mermaid(&program, &destructive),
    };
    print!("{text}");
    exit::OK
}
