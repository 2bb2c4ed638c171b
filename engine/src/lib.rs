//! The runbook engine.
