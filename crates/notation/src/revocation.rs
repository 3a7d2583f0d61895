//! Certificate revocation checks (in progress).
