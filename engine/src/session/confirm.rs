//! Confirmation before anything runs: the destructive steps the session may run are listed and
//! confirmed once (or `--yes`); an approval no one can give (no terminal, no `--yes`) is refused
//! before the run starts.

use super::SessionError;
use crate::interaction::Interaction;
use crate::kind::Registry;
use crate::program::Program;
use crate::template::expression_text;

/// Ask once for every destructive step that may run; refuse at once if an approval will be
/// needed that no one can give.
pub(super) fn confirm_destructive(
    program: &Program,
    registry: &Registry,
    steps: &[usize],
    interaction: &dyn Interaction,
) -> Result<(), SessionError> {
    if !interaction.can_ask() {
        let asking: Vec<&str> = steps
            .iter()
            .filter(|&&s| program.asks_operator(registry, s))
            .map(|&s| program.steps[s].key.as_str())
            .collect();
        if !asking.is_empty() {
            return Err(SessionError::Refused(format!(
                "{} ask{} the operator to approve, but there is no terminal to ask on; run on a terminal, or pass --yes to approve in scripts. Nothing ran.",
                asking
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if asking.len() == 1 { "s" } else { "" }
            )));
        }
    }
    let destructive: Vec<usize> = steps
        .iter()
        .copied()
        .filter(|&s| program.is_destructive(registry, s))
        .collect();
    if destructive.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = destructive
        .iter()
        .map(|&s| {
            let def = &program.steps[s].def;
            let condition = def
                .when
                .as_ref()
                .map(|w| format!(" (if {})", expression_text(&w.text)))
                .unwrap_or_default();
            format!("  - {} ({}){condition}", program.steps[s].key, def.uses)
        })
        .collect();
    let question = format!(
        "This run includes destructive steps:\n{}\nRun them?",
        list.join("\n")
    );
    interaction.confirm(&question).map(|_| ()).map_err(|why| {
        SessionError::Refused(format!(
            "{why}\nDestructive steps: {}",
            destructive
                .iter()
                .map(|&s| program.steps[s].key.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}
