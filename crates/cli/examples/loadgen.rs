//! A load generator for Signet's provider as Gatekeeper calls it: HTTPS with a client
//! certificate (mTLS), ProviderRequests of `--per-request` distinct keys drawn at random from
//! `--keys-file`, `--connections` connections each sending one request after another for
//! `--seconds`. Prints requests/s, images/s and the latency distribution. wrk cannot present a
//! client certificate, hence this. Used by `scripts/bench-provider-mtls.sh`.
//!
//!   cargo run --release -p signet --example loadgen -- --url https://127.0.0.1:PORT/v1/verify \
//!     --ca ca.pem --identity client.pem --keys-file keys.txt [--per-request 10]
//!     [--connections 8] [--seconds 10]

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

struct Args {
    url: String,
    ca: String,
    identity: String,
    keys_file: String,
    per_request: usize,
    connections: usize,
    seconds: u64,
}

fn args() -> Result<Args> {
    let mut a = Args {
        url: String::new(),
        ca: String::new(),
        identity: String::new(),
        keys_file: String::new(),
        per_request: 10,
        connections: 8,
        seconds: 10,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--url" => a.url = value,
            "--ca" => a.ca = value,
            "--identity" => a.identity = value,
            "--keys-file" => a.keys_file = value,
            "--per-request" => a.per_request = value.parse()?,
            "--connections" => a.connections = value.parse()?,
            "--seconds" => a.seconds = value.parse()?,
            other => bail!("unknown flag {other}"),
        }
    }
    if a.url.is_empty() || a.ca.is_empty() || a.identity.is_empty() || a.keys_file.is_empty() {
        bail!("--url, --ca, --identity and --keys-file are required");
    }
    Ok(a)
}

/// A small deterministic generator (xorshift), so runs draw the same key sequences.
struct Draw(u64);

impl Draw {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let a = args()?;
    let keys: Vec<String> = std::fs::read_to_string(&a.keys_file)?
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    if keys.len() < a.per_request {
        bail!("{} keys, fewer than --per-request", keys.len());
    }
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&a.ca)?)?;
    let identity = reqwest::Identity::from_pem(&std::fs::read(&a.identity)?)?;
    let until = Instant::now() + Duration::from_secs(a.seconds);
    let mut tasks = Vec::new();
    for c in 0..a.connections {
        // One client per connection: each task keeps its own connection, as Gatekeeper's
        // webhook pods each do.
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca.clone())
            .identity(identity.clone())
            .pool_max_idle_per_host(1)
            .build()?;
        let keys = keys.clone();
        let url = a.url.clone();
        let per = a.per_request;
        tasks.push(tokio::spawn(async move {
            let mut draw = Draw(0x9e37_79b9_7f4a_7c15 ^ (c as u64 + 1));
            let mut latencies = Vec::new();
            let mut failures = 0usize;
            while Instant::now() < until {
                let mut chosen: Vec<&str> = Vec::with_capacity(per);
                while chosen.len() < per {
                    let k = keys[draw.below(keys.len())].as_str();
                    if !chosen.contains(&k) {
                        chosen.push(k);
                    }
                }
                let body = serde_json::json!({"apiVersion": "externaldata.gatekeeper.sh/v1beta1",
                    "kind": "ProviderRequest", "request": {"keys": chosen}});
                let started = Instant::now();
                let ok = match client.post(&url).json(&body).send().await {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                if ok {
                    latencies.push(started.elapsed());
                } else {
                    failures += 1;
                }
            }
            (latencies, failures)
        }));
    }
    let mut all = Vec::new();
    let mut failures = 0;
    for t in tasks {
        let (l, f) = t.await?;
        all.extend(l);
        failures += f;
    }
    all.sort();
    if all.is_empty() {
        bail!("no request succeeded ({failures} failed)");
    }
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    let per_second = all.len() as f64 / a.seconds as f64;
    println!(
        "requests: {} ok, {failures} failed; {per_second:.0} requests/s, {:.0} images/s",
        all.len(),
        per_second * a.per_request as f64
    );
    println!(
        "latency: p50 {:?}  p90 {:?}  p99 {:?}  max {:?}",
        pct(0.50),
        pct(0.90),
        pct(0.99),
        all[all.len() - 1]
    );
    Ok(())
}
