//! Test support: launchers for real services and emulators of the APIs that cannot be installed here.
pub mod kube;
pub mod opensearch;
pub mod services;
