//! Signet's shared model.
//!
//! This crate sits at the bottom of the workspace: every other crate speaks in these types, and it
//! does no I/O and no async, so verifier crates can depend on it without pulling in a network stack.
#![warn(missing_docs)]

pub mod credentials;
pub mod digest;
pub mod gatekeeper;
pub mod matcher;
pub mod oci;
pub mod reason;
pub mod report;

pub use credentials::Credentials;
pub use digest::{Digest, DigestError};
pub use oci::{Descriptor, ImageIndex, ImageManifest};
pub use reason::ReasonCode;
pub use report::{VerificationResult, VerifierReport, RESULT_VERSION};
