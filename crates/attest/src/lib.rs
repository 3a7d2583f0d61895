//! Attestation verifiers for Signet: what a signed document *says* about an image.
//!
//! Pure evaluators (document bytes + policy → [`Evaluation`]: a verdict, a reason and the facts
//! Rego reads) for SLSA provenance, SBOMs (SPDX, CycloneDX), vulnerability reports (SARIF, Trivy
//! JSON, cosign's `vuln` predicate) and VEX (OpenVEX, CycloneDX VEX). This crate knows no
//! cryptography and no HTTP: authenticity comes from elsewhere, either a DSSE statement already
//! verified by a signature verifier (the cosign crate, through
//! [`signet_verify::StatementVerifier`]), or a plain attached document whose own nested
//! signature the engine checks (`signatureRequired`). Parsing is bounded in size, depth and
//! counts ([`bounded`]); facts are bounded in size ([`facts`]).
#![warn(missing_docs)]

pub mod bounded;
pub mod evaluation;
pub mod facts;
pub mod provenance;
pub mod sbom;
pub mod statement;
pub mod verifier;
pub mod vex;
pub mod vuln;

pub use evaluation::{DocumentError, Evaluation};
