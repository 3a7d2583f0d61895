//! Cosign and Sigstore signature verification for Signet.
//!
//! Reads every form cosign writes for an image signature: the layers of a `sha256-<hex>.sig`
//! tag, the same manifest as an OCI 1.1 referrer, and Sigstore bundle v0.3 referrers (cosign v3).
//! Key-based (ECDSA P-256/P-384, RSA, Ed25519) and keyless (Fulcio certificate, SCT, Rekor,
//! RFC 3161), fully offline from a `trusted_root.json`. Bundles and keyless chains are verified
//! with sigstore-verify (sigstore-rust); key-based simple signatures and their Rekor SETs here.
//! Knows nothing of HTTP or Gatekeeper: content arrives through `signet_verify::ContentStore`.
#![warn(missing_docs)]

pub mod attestation;
pub mod check;
pub mod dsse;
pub mod identity;
pub mod keys;
pub mod legacy;
pub mod policy;
pub mod root;
pub mod verifier;

pub use verifier::{CosignFactory, CosignVerifier};
