//! `runbook`: the command line. It only wires the engine, the step kinds and the terminal together.

mod args;
mod commands;
mod error;
mod inputs;
mod ui;

use clap::Parser;

/// Exit codes: the engine's one table.
pub use runbook_engine::exit;

fn main() {
    // `runbook plan ... | head` ends quietly, as other Unix tools do, instead of panicking on
    // a closed stdout.
    // SAFETY: restoring the default disposition of one signal before any thread starts.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let cli = args::Cli::parse();
    let code = commands::dispatch(cli);
    ui::echo::restore();
    std::process::exit(code);
}
