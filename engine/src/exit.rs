//! Every command's exit codes, in one table (the README's "exit codes" says the same).

pub const OK: i32 = 0;
/// A step failed; the run is resumable once the cause is fixed.
pub const STEP_FAILED: i32 = 1;
/// The runbook or an input is invalid, or no such run exists; nothing ran.
pub const INVALID: i32 = 2;
/// Interrupted (Ctrl-C, SIGTERM, SIGHUP); resumable.
pub const INTERRUPTED: i32 = 3;
/// Refused: the run lock is held, confirmation is missing, the runbook changed, or an
/// interrupted step needs the operator's decision.
pub const REFUSED: i32 = 4;
/// The run's state could not be read or written (permission denied, disk full) or is damaged;
/// nothing further ran.
pub const STATE: i32 = 5;
