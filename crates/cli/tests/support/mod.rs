//! Helpers shared by the end-to-end tests of the `signet` binary.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod rego;

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};
use signet_testkit::Registry;

/// The `registry.hosts` section for these test registries: the CA file for TLS ones, plain HTTP
/// otherwise, and their credentials.
pub fn registry_hosts(regs: &[&Registry]) -> Value {
    let mut hosts = serde_json::Map::new();
    for r in regs {
        let mut h = serde_json::Map::new();
        if let Some(ca) = r.ca_file() {
            h.insert("caFile".into(), json!(ca));
        } else {
            h.insert("plainHTTP".into(), json!(true));
        }
        if let Some((u, p)) = r.credentials() {
            h.insert("username".into(), json!(u));
            h.insert("password".into(), json!(p));
        }
        hosts.insert(r.host(), Value::Object(h));
    }
    Value::Object(hosts)
}

/// Runs `openssl args` in `dir`; panics with its stderr unless it succeeds.
pub fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `signet verify --config cfg image` (JSON output) and returns the result and the exit
/// code; panics with stderr if the output is not JSON.
pub fn signet_verify(bin: &str, cfg: &Path, image: &str) -> (Value, Option<i32>) {
    let out = Command::new(bin)
        .args(["verify", "--config"])
        .arg(cfg)
        .arg(image)
        .output()
        .unwrap();
    let cli: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "signet verify {image}: {e}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (cli, out.status.code())
}

/// Waits until the provider's health listener on 127.0.0.1:`health` answers `/readyz` with
/// success; panics after 20 s.
pub async fn wait_ready(health: u16) {
    let ready = format!("http://127.0.0.1:{health}/readyz");
    signet_testkit::wait_until(
        "provider readiness",
        std::time::Duration::from_secs(20),
        || {
            let url = ready.clone();
            async move {
                Ok::<bool, anyhow::Error>(
                    matches!(reqwest::get(&url).await, Ok(r) if r.status().is_success()),
                )
            }
        },
    )
    .await
    .unwrap();
}
