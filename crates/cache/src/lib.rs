//! Verdicts shared across Signet replicas, in Redis.
//!
//! Each replica keeps its own verdicts in memory first; behind that, this crate keeps them in
//! Redis so that a verdict one replica reached is found by the others. Two properties matter
//! more than speed:
//!
//! - **Redis is not trusted.** Every entry carries an HMAC-SHA256 over its key and body, made
//!   with a key only Signet holds ([`Sealer`]). A forged, edited, moved, stale or unreadable
//!   entry is ignored (and reported as a [`Refusal`]), never served: write access to Redis
//!   cannot admit an image.
//! - **Redis is never needed.** Commands are bounded by a short timeout and the caller's
//!   deadline; a failure marks the link down and later commands skip Redis at once while a
//!   background task reconnects ([`RedisVerdicts`]). The caller then verifies as if Redis did
//!   not exist.
//!
//! The crate knows nothing of verification, HTTP or Gatekeeper: it stores JSON results under
//! pinned references.
#![warn(missing_docs)]

mod entry;
mod store;

pub use entry::{Refusal, Sealer, SharedVerdict};
pub use store::{Lookup, RedisSettings, RedisVerdicts, SetupError, Unavailable, Write};
