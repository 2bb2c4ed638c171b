//! Step kinds for runbook, one module each, registered by [`registry`].

pub mod approve;
pub mod assert;
pub mod command;
pub mod sleep;

use runbook_engine::kind::Registry;

/// Every step kind this build knows.
pub fn registry() -> Registry {
    let mut registry = Registry::new();
    registry
        .register(command::Command)
        .register(approve::Approve)
        .register(sleep::Sleep)
        .register(assert::Assert);
    registry
}
