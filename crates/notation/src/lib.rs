//! Notary Project signature verification (work in progress, not wired into the binary yet).
//!
//! Modules land one at a time, each tested against the Notary Project specifications and the
//! shared vectors; `docs/notation-status.md` says which parts exist.
#![warn(missing_docs)]

pub mod chain;
pub mod cose;
pub mod envelope;
pub mod jws;
pub mod revocation;
pub mod timestamp;
pub mod trust_policy;
pub mod trust_store;
