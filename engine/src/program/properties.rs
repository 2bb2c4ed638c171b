//! What a step is, as the plan, the graph, confirmation and resume must know it: destructive,
//! idempotent, asking the operator. Its kind says so for its inputs as written; the runbook may
//! add `destructive: true` or set `idempotent`.

use serde_json::Value;

use super::Program;
use crate::kind::Registry;

impl Program {
    /// The step's inputs as written, templates unrendered.
    fn literal_with(&self, step: usize) -> Value {
        self.steps[step]
            .def
            .with
            .as_ref()
            .map(|n| n.to_json())
            .unwrap_or_default()
    }

    /// Whether a step deletes, drops or overwrites: its kind says so for these inputs, or the
    /// runbook does. A runbook can mark a step destructive, never the reverse.
    pub fn is_destructive(&self, registry: &Registry, step: usize) -> bool {
        let def = &self.steps[step].def;
        def.destructive == Some(true)
            || registry
                .get(&def.uses)
                .is_some_and(|k| k.destructive(&self.literal_with(step)))
    }

    /// Whether a step interrupted mid-way may simply run again. An include step is: its own
    /// steps carry their own answers.
    pub fn is_idempotent(&self, registry: &Registry, step: usize) -> bool {
        if self.is_include(step) {
            return true;
        }
        let def = &self.steps[step].def;
        def.idempotent.unwrap_or_else(|| {
            registry
                .get(&def.uses)
                .is_some_and(|k| k.idempotent(&self.literal_with(step)))
        })
    }

    /// Whether running the step asks the operator (an approval).
    pub fn asks_operator(&self, registry: &Registry, step: usize) -> bool {
        registry
            .get(&self.steps[step].def.uses)
            .is_some_and(|k| k.asks_operator())
    }
}
