//! Notary Project signature verification: the `notation` verifier type.
//!
//! Each module implements one part of the Notary Project specifications and is tested against
//! them and the shared vectors; `docs/notation-status.md` lists the parts and their limits.
#![warn(missing_docs)]

pub mod chain;
pub mod cose;
pub mod envelope;
pub mod go_dn;
pub mod jws;
pub mod revocation;
mod sigalg;
pub mod timestamp;
pub mod trust_policy;
pub mod trust_store;
pub mod verifier;
pub mod verify;
