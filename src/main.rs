//! `runbook`: the command line. It only wires the engine, the step kinds and the terminal together.

mod args;
mod commands;
mod config;
mod inputs;
mod ui;

use clap::Parser;

/// Exit codes (DESIGN 2).
pub mod exit {
    pub const OK: i32 = 0;
    pub const STEP_FAILED: i32 = 1;
    pub const INVALID: i32 = 2;
    pub const INTERRUPTED: i32 = 3;
    pub const REFUSED: i32 = 4;
}

fn main() {
    // `runbook plan ... | head` ends quietly, as other Unix tools do, instead of panicking on
    // a closed stdout.
    // SAFETY: restoring the default disposition of one signal before any thread starts.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let cli = args::Cli::parse();
    let code = commands::dispatch(cli);
    std::process::exit(code);
}
