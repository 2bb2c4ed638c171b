use std::path::Path;

use runbook_engine::graph_render::{to_dot, to_mermaid};
use runbook_engine::session::is_destructive;
use runbook_engine::validate::KnownInputs;

use super::load_program;
use crate::args::{GraphFormat, OutputFormat};
use crate::exit;

pub fn run(file: &Path, format: GraphFormat) -> i32 {
    let Some(program) = load_program(file, &KnownInputs::default(), OutputFormat::Human) else {
        return exit::INVALID;
    };
    let registry = runbook_steps::registry();
    let destructive = |step: usize| is_destructive(&program, &registry, step);
    let text = match format {
        GraphFormat::Dot => to_dot(&program, &destructive),
        GraphFormat::Mermaid => to_mermaid(&program, &destructive),
    };
    print!("{text}");
    exit::OK
}
