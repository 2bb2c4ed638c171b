//! The retry policy: whether a failed attempt is tried again in this session, and after how long.
//! The budget is per session, so a resumed run retries afresh; an interrupted run retries nothing.

use std::time::Duration;

use crate::kind::StepError;
use crate::model::Retry;

/// The wait before the next attempt, or `None` when the unit has failed for this session.
pub(super) fn next_attempt(
    error: &StepError,
    policy: &Retry,
    session_attempts: u32,
    interrupted: bool,
) -> Option<Duration> {
    (error.retryable && session_attempts < policy.attempts && !interrupted)
        .then(|| policy.delay_before(session_attempts + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(attempts: u32, delay_ms: u64, backoff: f64, max_ms: Option<u64>) -> Retry {
        Retry {
            attempts,
            delay: Duration::from_millis(delay_ms),
            backoff,
            max_delay: max_ms.map(Duration::from_millis),
        }
    }

    #[test]
    fn retries_until_the_sessions_budget_is_spent() {
        let p = policy(3, 100, 1.0, None);
        let e = StepError::new("boom");
        assert_eq!(
            next_attempt(&e, &p, 1, false),
            Some(Duration::from_millis(100))
        );
        assert_eq!(
            next_attempt(&e, &p, 2, false),
            Some(Duration::from_millis(100))
        );
        assert_eq!(next_attempt(&e, &p, 3, false), None);
    }

    #[test]
    fn backs_off_and_stops_growing_at_the_limit() {
        let p = policy(5, 100, 2.0, Some(300));
        let e = StepError::new("boom");
        let waits: Vec<_> = (1..5)
            .map(|n| next_attempt(&e, &p, n, false).unwrap().as_millis())
            .collect();
        assert_eq!(waits, [100, 200, 300, 300]);
    }

    #[test]
    fn a_permanent_error_or_an_interruption_ends_the_retries() {
        let p = policy(3, 100, 1.0, None);
        assert_eq!(
            next_attempt(&StepError::permanent("bad input"), &p, 1, false),
            None
        );
        assert_eq!(next_attempt(&StepError::new("boom"), &p, 1, true), None);
    }
}
