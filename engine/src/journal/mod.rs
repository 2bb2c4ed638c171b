//! The journal: one JSON line per state change, synced to disk before the engine acts on it. It is
//! the truth for `resume`, `status` and `report`. It never holds a secret: every record passes
//! through the redactor before it is written.

mod lock;
mod meta;
mod record;
mod replay;
mod store;

pub use lock::{LockError, LockHolder, RunLock, current_user, hostname};
pub use meta::{RunMeta, fingerprint, step_fingerprints};
pub use record::{Event, Record, SessionEnd};
pub use replay::{RunState, StepRecord, UnitRecord, UnitStatus};
pub use store::{JournalWriter, RunDir, StateDir, new_run_id, now_rfc3339};
