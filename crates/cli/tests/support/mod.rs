//! Helpers shared by the end-to-end tests of the `signet` binary.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod helm;
pub mod rego;

use std::path::Path;
use std::process::{Command, Output, Stdio};

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

/// The result format's JSON Schema (docs/result-schema.json), compiled.
pub fn result_schema() -> jsonschema::Validator {
    let path = signet_testkit::workspace_root().join("docs/result-schema.json");
    let text = std::fs::read_to_string(&path).unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

/// Sends one ProviderRequest with `keys` to the provider on 127.0.0.1:`port` over HTTPS (the
/// server certificate issued by `ca_pem`) at Ratify's v1 path, and returns its items, checking
/// there is one per key.
pub async fn ask_provider(port: u16, ca_pem: &str, keys: &[String]) -> Vec<Value> {
    let https = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .min_tls_version(reqwest::tls::Version::TLS_1_3)
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap();
    let body = json!({"apiVersion": "externaldata.gatekeeper.sh/v1beta1", "kind": "ProviderRequest",
                      "request": {"keys": keys}});
    let resp: Value = https
        .post(format!(
            "https://127.0.0.1:{port}/ratify/gatekeeper/v1/verify"
        ))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = resp["response"]["items"].as_array().expect("items").clone();
    assert_eq!(items.len(), keys.len(), "{resp}");
    items
}

/// Runs `cmd` without blocking the runtime (both registries are populated concurrently) and
/// fails with its output unless it succeeds.
pub async fn run(cmd: Command) -> Output {
    let shown = format!(
        "{:?} {:?}",
        cmd.get_program(),
        cmd.get_args().collect::<Vec<_>>()
    );
    let out = tokio::process::Command::from(cmd)
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"));
    assert!(
        out.status.success(),
        "{shown} failed with {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs `signet config check FILE` and panics with its output, prefixed by `context`, unless
/// the file is accepted.
pub fn assert_config_accepted(bin: &str, file: &Path, context: &str) {
    let out = Command::new(bin)
        .args(["config", "check"])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{context}: signet config check {}: {}{}",
        file.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `cosign sign --key KEY --tlog-upload=false IMAGE` against `reg` (the real CLI).
pub async fn cosign_sign(reg: &Registry, key: &Path, image: &str) {
    let mut cmd = reg.cosign();
    cmd.arg("sign")
        .args(reg.cosign_flags())
        .arg("--key")
        .arg(key)
        .arg("--tlog-upload=false")
        .arg(image);
    run(cmd).await;
}

/// A real `signet serve` on 127.0.0.1 over plain HTTP with its own ports, killed when dropped.
pub struct Served {
    child: std::process::Child,
    /// Provider port.
    pub port: u16,
    /// Metrics port.
    pub metrics: u16,
    /// Health port.
    pub health: u16,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    /// Writes `config` (its `server` section replaced) to `dir/NAME.yaml` and serves it; returns
    /// once `/readyz` answers.
    pub async fn start(dir: &Path, name: &str, config: &Value) -> Served {
        let free = signet_testkit::free_port;
        let (port, metrics, health) = (free(), free(), free());
        let mut cfg = config.clone();
        cfg["server"] = json!({
            "listen": format!("127.0.0.1:{port}"),
            "healthListen": format!("127.0.0.1:{health}"),
            "metricsListen": format!("127.0.0.1:{metrics}"),
            "plainHTTP": true,
            "requestDeadline": "5s"
        });
        let path = dir.join(format!("{name}.yaml"));
        std::fs::write(&path, serde_yaml_ng::to_string(&cfg).unwrap()).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_signet"))
            .args(["serve", "--config"])
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("signet serve starts");
        let served = Served {
            child,
            port,
            metrics,
            health,
        };
        wait_ready(health).await;
        served
    }

    /// The items of one ProviderRequest with `keys` (Ratify's v1 path).
    pub async fn ask(&self, keys: &[String]) -> Vec<Value> {
        let body = json!({"apiVersion": "externaldata.gatekeeper.sh/v1beta1", "kind": "ProviderRequest", "request": {"keys": keys}});
        let resp: Value = reqwest::Client::new()
            .post(format!(
                "http://127.0.0.1:{}/ratify/gatekeeper/v1/verify",
                self.port
            ))
            .json(&body)
            .timeout(std::time::Duration::from_secs(30))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let items = resp["response"]["items"].as_array().expect("items").clone();
        assert_eq!(items.len(), keys.len(), "{resp}");
        items
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics_text(&self) -> String {
        reqwest::get(format!("http://127.0.0.1:{}/metrics", self.metrics))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Whether `/readyz` answers with success.
    pub async fn ready(&self) -> bool {
        matches!(reqwest::get(format!("http://127.0.0.1:{}/readyz", self.health)).await, Ok(r) if r.status().is_success())
    }
}
