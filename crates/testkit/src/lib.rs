//! Shared test infrastructure for Signet's integration tests.
//!
//! Signet's promise is that it verifies what real registries serve and what real signing tools
//! produce, so its tests run real components instead of mocks wherever one exists on the machine:
//!
//! - [`Registry`]: a real OCI registry on 127.0.0.1, either Debian's `docker-registry`
//!   (distribution 2.8.2: HTTPS, basic auth, no referrers API) or `ferro-oci-server`
//!   (plain HTTP, no auth, with the OCI 1.1 referrers API), plus push helpers and ready-made
//!   `oras` / `cosign` commands pointed at it.
//! - [`TestCa`]: a throw-away ECDSA P-256 certificate authority for server and client certificates.
//! - [`Blackhole`]: a TCP server that accepts connections and never answers (deadline tests).
//! - [`LyingRegistry`]: a tiny in-process registry that lies about digests, serves oversized
//!   manifests, rate-limits, fails transiently or stalls, per repository name.
//! - [`RedisServer`]: Debian's `redis-server` with a password, plain or TLS, for the shared
//!   verdict cache.
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! use signet_testkit::{cosign_generate_key_pair, run_ok, Registry};
//!
//! let reg = Registry::start_distribution().await?; // HTTPS + basic auth, tag schema only
//! let image = reg.push_sample_image("app", "v1", "my-test").await?;
//! let keys = tempfile::tempdir()?;
//! let (key, _public) = cosign_generate_key_pair(keys.path());
//! run_ok(
//!     reg.cosign()
//!         .arg("sign")
//!         .args(reg.cosign_flags())
//!         .arg("--key")
//!         .arg(&key)
//!         .arg("--tlog-upload=false")
//!         .arg(reg.reference(&format!("app@{}", image.digest))),
//! )?;
//! // Point the code under test at reg.host(), trusting reg.ca_file() with reg.credentials().
//! # Ok(())
//! # }
//! ```
//!
//! Everything binds 127.0.0.1 only, and every process or server is stopped when its handle drops.
//! Helpers that cannot sensibly fail in a prepared test environment (making certificates, writing
//! temp files) panic with a message; anything that talks to a process or the network returns
//! [`anyhow::Result`] so the calling test shows the cause.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

mod blackhole;
mod ca;
mod lying;
mod redis;
mod registry;

pub use blackhole::Blackhole;
pub use ca::{CertKey, TestCa};
pub use lying::{LyingRegistry, BIG_MANIFEST_SIZE, MANY_REFERRERS, SLOW_DELAY};
pub use redis::RedisServer;
pub use registry::{cosign_generate_key_pair, Registry, RegistryKind};

/// How long helpers wait for a started component to become ready before giving up.
///
/// Generous because other builds may be hogging both cores while tests run.
pub const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// The directory holding `cosign`, `oras` and `ferro-oci-server`: `$SIGNET_TOOLS/bin`, else
/// `~/.cache/signet-tools/bin` (where `scripts/install-test-deps.sh` puts them).
pub fn tools_bin() -> PathBuf {
    if let Some(dir) = std::env::var_os("SIGNET_TOOLS").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("bin");
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
    home.join(".cache/signet-tools/bin")
}

/// The workspace root (`crates/testkit/../..`), so tests can find `docs/`, samples and scripts
/// whatever crate they run from.
pub fn workspace_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// The third-party test vectors: `$SIGNET_VECTORS`, else `<workspace_root>/tests/vectors` (copied
/// into the repository so a clone anywhere can run the tests; see `tests/README.md`).
pub fn vectors_dir() -> PathBuf {
    match std::env::var_os("SIGNET_VECTORS").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => {
            let dir = workspace_root().join("tests/vectors");
            dir.canonicalize().unwrap_or(dir)
        }
    }
}

/// A currently free TCP port on 127.0.0.1, found by binding port 0 and releasing it.
///
/// Another process could grab it before the caller binds it; callers that start servers retry
/// on a fresh port when the server fails to come up.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("cannot bind 127.0.0.1:0 to find a free port: {e}"))
}

/// Runs `cmd` to completion and fails, with the command line, status, stdout and stderr in the
/// error, unless it exits with status 0. Returns the output so callers can read stdout.
pub fn run_ok(cmd: &mut Command) -> Result<Output> {
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {shown}"))?;
    if !out.status.success() {
        bail!(
            "{shown} failed with {}\n--- stdout\n{}\n--- stderr\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(out)
}

/// Polls `probe` every 100 ms until it returns `Ok(true)` or `timeout` passes. `Err` from the
/// probe aborts at once (e.g. "the process exited"). Used instead of fixed sleeps.
pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut probe: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let until = Instant::now() + timeout;
    loop {
        if probe().await? {
            return Ok(());
        }
        if Instant::now() >= until {
            bail!("{what} not ready after {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
