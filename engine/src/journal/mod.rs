//! The journal: one JSON line per state change, synced to disk before the engine acts on it. It is
//! the truth for `resume`, `status` and `report`. It never holds a secret: every record passes
//! through the redactor before it is written.

mod lock;
mod meta;
mod record;
mod replay;
mod step_state;
mod store;
mod stored;

pub use lock::{LockHolder, RunLock, current_user, hostname};
pub use meta::{FingerprintKey, RunInputs, RunMeta, fingerprint, step_fingerprints};
pub use record::{Event, Record, SessionEnd};
pub use replay::{RunState, RunStatus, StepRecord, UnitRecord, UnitStatus};
pub use step_state::StepState;
pub use store::{JournalRead, JournalWriter, RunDir, StateDir, TornTail, new_run_id, now_rfc3339};
pub use stored::StoredRun;
