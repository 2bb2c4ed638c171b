//! Step kinds.
