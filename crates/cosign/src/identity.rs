//! Matching a keyless certificate's identity (SAN) and OIDC issuer: the workspace's one anchored
//! matcher (D19), shared with the attestation policies.

pub use signet_types::matcher::Matcher;
