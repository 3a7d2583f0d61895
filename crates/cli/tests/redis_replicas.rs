//! Two real `signet serve` processes sharing verdicts through a real `redis-server`, with a real
//! cosign signature: the second replica answers what the first verified without asking the
//! registry; an entry moved to another image's key is refused by a third; Redis killed, every
//! replica still answers (and stays ready).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};
use signet_testkit::{cosign_generate_key_pair, RedisServer, Registry};

mod support;

const SIG: &str = "application/vnd.dev.cosign.artifact.sig.v1+json";

fn counter(text: &str, line_start: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(line_start))
        .and_then(|rest| rest.trim().parse().ok())
        .unwrap_or(0)
}

async fn wait_for_keys(redis: &RedisServer, n: usize) -> Vec<String> {
    for _ in 0..200 {
        let keys = redis.keys("signet:*").unwrap();
        if keys.len() >= n {
            return keys;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    redis.keys("signet:*").unwrap()
}

fn shared_config(reg: &Registry, redis: &RedisServer, dir: &Path, public_key: &Path) -> Value {
    let password = redis.write_password(&dir.join("redis-password"));
    let hmac: PathBuf = dir.join("hmac.key");
    std::fs::write(
        &hmac,
        "5a0f3c2e9b8d7a6f5e4d3c2b1a0998877665544332211ffeeddccbbaa\n",
    )
    .unwrap();
    json!({
        "registry": {"hosts": support::registry_hosts(&[reg])},
        "cache": {"ttl": "5m", "redis": {"url": redis.url(), "passwordFile": password, "hmacKeyFile": hmac}},
        "verifiers": [{
            "name": "cosign", "type": "cosign", "artifactTypes": [SIG],
            "trustPolicies": [{"name": "all", "scopes": ["*"], "keys": [{"file": public_key}], "tLogVerify": false}]
        }]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_verdicts_refuse_moved_entries_and_survive_redis() {
    let reg = Registry::start_ferro().await.expect("ferro starts");
    let mut redis = RedisServer::start().expect("redis-server starts");
    let dir = tempfile::tempdir().unwrap();
    let (key, public_key) = cosign_generate_key_pair(dir.path());
    let signed = reg.push_sample_image("app", "v1", "signed").await.unwrap();
    let unsigned = reg
        .push_sample_image("other", "v1", "unsigned")
        .await
        .unwrap();
    let third = reg.push_sample_image("third", "v1", "third").await.unwrap();
    let signed_ref = reg.reference(&format!("app@{}", signed.digest));
    support::cosign_sign(&reg, &key, &signed_ref).await;
    let keys = vec![
        signed_ref,
        reg.reference(&format!("other@{}", unsigned.digest)),
    ];
    let shared = shared_config(&reg, &redis, dir.path(), &public_key);
    let a = support::Served::start(dir.path(), "a", &shared).await;
    let b = support::Served::start(dir.path(), "b", &shared).await;

    let from_a = a.ask(&keys).await;
    assert_eq!(from_a[0]["value"]["isSuccess"], true, "{:?}", from_a[0]);
    assert_eq!(
        from_a[1]["value"]["errorReason"], "NO_SIGNATURE",
        "{:?}",
        from_a[1]
    );
    let stored = wait_for_keys(&redis, 2).await;
    assert_eq!(stored.len(), 2, "{stored:?}");

    let from_b = b.ask(&keys).await;
    assert_eq!(from_a, from_b, "b answers a's verdicts, trace ids included");
    let text = b.metrics_text().await;
    assert_eq!(
        counter(
            &text,
            "signet_cache_redis_operations_total{op=\"get\",result=\"hit\"}"
        ),
        2,
        "{text}"
    );
    assert!(
        !text.contains("signet_registry_requests_total{"),
        "b asked the registry:\n{text}"
    );

    // Someone with write access moves the signed image's entry onto the unsigned one's key.
    let key_of = |image: &str| {
        stored
            .iter()
            .find(|k| k.ends_with(image.split_once('/').unwrap().1))
            .unwrap()
            .clone()
    };
    let genuine = redis.get(&key_of(&keys[0])).unwrap().unwrap();
    redis.set(&key_of(&keys[1]), &genuine).unwrap();
    let c = support::Served::start(dir.path(), "c", &shared).await;
    let from_c = c.ask(&keys[1..]).await;
    assert_eq!(from_c[0]["value"]["isSuccess"], false, "{:?}", from_c[0]);
    assert_eq!(
        from_c[0]["value"]["errorReason"], "NO_SIGNATURE",
        "{:?}",
        from_c[0]
    );
    let text = c.metrics_text().await;
    assert_eq!(
        counter(
            &text,
            "signet_cache_redis_operations_total{op=\"get\",result=\"unauthenticated\"}"
        ),
        1,
        "{text}"
    );

    // Redis gone: cached verdicts from memory, a new image verified, everyone ready.
    assert!(a.metrics_text().await.contains("signet_cache_redis_up 1"));
    redis.stop();
    let new_key = reg.reference(&format!("third@{}", third.digest));
    for r in [&a, &b, &c] {
        let items = r.ask(&[keys[0].clone(), new_key.clone()]).await;
        assert_eq!(items[0]["value"]["isSuccess"], true, "{items:?}");
        assert_eq!(
            items[1]["value"]["errorReason"], "NO_SIGNATURE",
            "{items:?}"
        );
        assert!(items.iter().all(|i| i.get("error").is_none()), "{items:?}");
        assert!(r.ready().await);
    }
    let text = a.metrics_text().await;
    assert!(text.contains("signet_cache_redis_up 0"), "{text}");
}

#[tokio::test]
async fn config_check_connects_to_no_redis() {
    let hole = signet_testkit::Blackhole::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hmac.key"),
        "0123456789abcdef0123456789abcdef\n",
    )
    .unwrap();
    let cfg = dir.path().join("signet.yaml");
    std::fs::write(
        &cfg,
        format!(
            "server:\n  plainHTTP: true\ncache:\n  redis:\n    url: redis://{}/0\n    hmacKeyFile: hmac.key\n",
            hole.addr()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_signet"))
        .args(["config", "check"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(hole.connections(), 0, "config check connected to Redis");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("Redis"),
        "{out:?}"
    );
}
