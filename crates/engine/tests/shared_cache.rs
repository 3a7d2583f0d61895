//! The shared verdict cache against a real `redis-server`: engines of two "replicas" share a
//! verdict; forged, edited, moved and garbage entries are refused; a changed configuration does
//! not reuse another's verdicts; failed verdicts live `negativeTTL`, transient ones are never
//! shared; Redis killed or stalled costs no answer and at most its timeout; TLS with a password.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use signet_engine::Engine;
use signet_testkit::RedisServer;
use support::*;
use tokio::time::Instant;

/// The secrets of one Signet installation, as files.
struct Secrets {
    dir: tempfile::TempDir,
}

impl Secrets {
    fn new(redis: &RedisServer) -> Self {
        let dir = tempfile::tempdir().unwrap();
        redis.write_password(&dir.path().join("password"));
        std::fs::write(
            dir.path().join("hmac.key"),
            "9f2c1e0b7d6a5f4e3d2c1b0a99887766554433221100ffeeddccbbaa\n",
        )
        .unwrap();
        Secrets { dir }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// `cache:` with Redis; `more` adds lines under `redis:`.
fn redis_cache(redis: &RedisServer, secrets: &Secrets, more: &str) -> String {
    format!(
        "cache:\n  ttl: 60s\n  negativeTTL: 20s\n  redis:\n    url: {}\n    passwordFile: {}\n    hmacKeyFile: {}\n    timeout: 200ms\n{more}",
        redis.url(),
        secrets.file("password").display(),
        secrets.file("hmac.key").display()
    )
}

fn metrics_text(registry: &prometheus_client::registry::Registry) -> String {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry).unwrap();
    text
}

/// The value of a counter line `name{labels} N`, 0 when absent.
fn counter(text: &str, line_start: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(line_start))
        .and_then(|rest| rest.trim().parse().ok())
        .unwrap_or(0)
}

/// Waits until Redis holds `n` verdict keys (writes happen in the background).
async fn wait_for_keys(redis: &RedisServer, n: usize) -> Vec<String> {
    wait_for_keys_within(redis, n, Duration::from_secs(10)).await
}

async fn wait_for_keys_within(redis: &RedisServer, n: usize, within: Duration) -> Vec<String> {
    wait_for_matching(redis, "signet:*", n, within).await
}

/// Waits until Redis holds `n` keys matching `pattern`, or `within` passes.
async fn wait_for_matching(
    redis: &RedisServer,
    pattern: &str,
    n: usize,
    within: Duration,
) -> Vec<String> {
    let until = Instant::now() + within;
    loop {
        let keys = redis.keys(pattern).unwrap();
        if keys.len() >= n || Instant::now() > until {
            return keys;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A registry with one image whose signature passes and one whose signature fails.
async fn images(f: &Fixture) -> (String, String) {
    let good = f
        .registry
        .push_sample_image("good", "v1", "good")
        .await
        .unwrap();
    f.attach("good", &good, TYPE_SIG, "pass", &good.digest)
        .await;
    let bad = f
        .registry
        .push_sample_image("bad", "v1", "bad")
        .await
        .unwrap();
    f.attach("bad", &bad, TYPE_SIG, "fail", &bad.digest).await;
    (
        f.registry.reference(&format!("good@{}", good.digest)),
        f.registry.reference(&format!("bad@{}", bad.digest)),
    )
}

async fn verify_one(e: &Engine, key: &str) -> signet_types::gatekeeper::Item {
    let mut items = e.verify_keys(&[key.to_string()], deadline(5000)).await;
    items.remove(0)
}

#[tokio::test]
async fn two_replicas_share_verdicts_and_the_second_asks_no_registry() {
    let f = Fixture::new().await;
    let redis = RedisServer::start().unwrap();
    let secrets = Secrets::new(&redis);
    let (good, bad) = images(&f).await;
    let config = format!(
        "{}{}",
        redis_cache(&redis, &secrets, ""),
        sigcheck_yaml("delayMs: 0")
    );
    let (calls_a, calls_b) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (a, _) = f.metered_engine(&config, calls_a.clone());
    let (b, b_metrics) = f.metered_engine(&config, calls_b.clone());

    let from_a = [verify_one(&a, &good).await, verify_one(&a, &bad).await];
    assert_eq!(from_a[0].value["isSuccess"], true, "{:?}", from_a[0]);
    assert_eq!(from_a[1].value["isSuccess"], false, "{:?}", from_a[1]);
    let keys = wait_for_keys(&redis, 2).await;
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(
        keys.iter()
            .all(|k| k.starts_with(&format!("signet:v1:{}.", env!("CARGO_PKG_VERSION")))),
        "{keys:?}"
    );
    // a passing verdict lives cache.ttl, a failed one cache.negativeTTL
    let ttl_of = |image: &str| {
        let key = keys
            .iter()
            .find(|k| k.ends_with(image.split_once('/').unwrap().1))
            .unwrap();
        redis.pttl(key).unwrap()
    };
    assert!(
        (50_000..=60_000).contains(&ttl_of(&good)),
        "{}",
        ttl_of(&good)
    );
    assert!(
        (10_000..=20_000).contains(&ttl_of(&bad)),
        "{}",
        ttl_of(&bad)
    );

    let from_b = [verify_one(&b, &good).await, verify_one(&b, &bad).await];
    assert_eq!(
        calls_b.load(Ordering::SeqCst),
        0,
        "replica b verified nothing itself"
    );
    for (x, y) in from_a.iter().zip(&from_b) {
        assert_eq!(
            *x.value, *y.value,
            "the shared verdict is a's, unchanged (trace id included)"
        );
        assert_eq!(x.error, y.error);
    }
    let text = metrics_text(&b_metrics);
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
        "replica b asked the registry: {text}"
    );
    assert!(text.contains("signet_cache_redis_up 1"), "{text}");
    // b keeps the verdict in memory: asking again needs neither Redis nor the registry
    verify_one(&b, &good).await;
    let text = metrics_text(&b_metrics);
    assert_eq!(
        counter(
            &text,
            "signet_cache_redis_operations_total{op=\"get\",result=\"hit\"}"
        ),
        2,
        "{text}"
    );
    assert_eq!(
        counter(&text, "signet_cache_lookups_total{result=\"hit\"}"),
        1,
        "{text}"
    );
}

#[tokio::test]
async fn forged_moved_and_garbage_entries_are_refused_and_counted() {
    let f = Fixture::new().await;
    let redis = RedisServer::start().unwrap();
    let secrets = Secrets::new(&redis);
    let (good, bad) = images(&f).await;
    let config = format!(
        "{}{}",
        redis_cache(&redis, &secrets, ""),
        sigcheck_yaml("delayMs: 0")
    );
    // a verifies both, so genuine entries exist to edit and move
    let (a, _) = f.metered_engine(&config, Arc::new(AtomicUsize::new(0)));
    verify_one(&a, &good).await;
    verify_one(&a, &bad).await;
    let keys = wait_for_keys(&redis, 2).await;
    let key_of = |image: &str| {
        keys.iter()
            .find(|k| k.ends_with(image.split_once('/').unwrap().1))
            .unwrap()
            .clone()
    };
    let (good_key, bad_key) = (key_of(&good), key_of(&bad));
    let genuine_pass = redis.get(&good_key).unwrap().unwrap();
    let text = String::from_utf8(genuine_pass.clone()).unwrap();
    let (_, body) = text.split_once('.').unwrap();

    // Each forgery tries to make the failing image pass.
    let other_key = Secrets::new(&redis);
    std::fs::write(
        other_key.file("hmac.key"),
        "an attacker's own key, long enough to be accepted\n",
    )
    .unwrap();
    let forger_config = format!(
        "{}{}",
        redis_cache(&redis, &other_key, "    keyPrefix: \"forger:\"\n"),
        sigcheck_yaml("delayMs: 0")
    );
    let (forger, _) = f.metered_engine(&forger_config, Arc::new(AtomicUsize::new(0)));
    verify_one(&forger, &good).await;
    let forger_keys = wait_for_matching(&redis, "forger:*", 1, Duration::from_secs(10)).await;
    let forged_with_other_key = redis.get(&forger_keys[0]).unwrap().unwrap();
    let bad_subject = bad.clone();
    let good_subject = good.clone();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "the passing entry of another image, moved",
            genuine_pass.clone(),
            "unauthenticated",
        ),
        ("a body with no MAC", body.as_bytes().to_vec(), "garbage"),
        (
            "the passing body, subject edited, old MAC",
            format!(
                "{}.{}",
                text.split_once('.').unwrap().0,
                body.replace(&good_subject, &bad_subject)
            )
            .into_bytes(),
            "unauthenticated",
        ),
        (
            "an entry sealed with another HMAC key",
            forged_with_other_key,
            "unauthenticated",
        ),
        (
            "bytes that are no entry",
            b"\x00\xffnot an entry".to_vec(),
            "garbage",
        ),
    ];
    for (what, entry, label) in cases {
        redis.set(&bad_key, &entry).unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        let (e, metrics) = f.metered_engine(&config, calls.clone());
        let item = verify_one(&e, &bad).await;
        assert_eq!(item.value["isSuccess"], false, "{what}: {item:?}");
        assert_eq!(
            item.value["errorReason"], "UNTRUSTED_SIGNER",
            "{what}: {item:?}"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1, "{what}: verified instead");
        let text = metrics_text(&metrics);
        assert_eq!(
            counter(
                &text,
                &format!("signet_cache_redis_operations_total{{op=\"get\",result=\"{label}\"}}")
            ),
            1,
            "{what}: {text}"
        );
        // the refused entry is replaced by the genuine verdict
        let until = Instant::now() + Duration::from_secs(10);
        while redis.get(&bad_key).unwrap().as_deref() == Some(&entry[..]) && Instant::now() < until
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let now = String::from_utf8(redis.get(&bad_key).unwrap().unwrap()).unwrap();
        assert!(now.contains("UNTRUSTED_SIGNER"), "{what}: {now}");
    }
}

#[tokio::test]
async fn another_configuration_does_not_reuse_verdicts() {
    let f = Fixture::new().await;
    let redis = RedisServer::start().unwrap();
    let secrets = Secrets::new(&redis);
    let (good, _) = images(&f).await;
    let config = |param: &str| {
        format!(
            "{}{}",
            redis_cache(&redis, &secrets, ""),
            sigcheck_yaml(param)
        )
    };
    let (a, _) = f.metered_engine(&config("delayMs: 0"), Arc::new(AtomicUsize::new(0)));
    verify_one(&a, &good).await;
    assert_eq!(wait_for_keys(&redis, 1).await.len(), 1);
    // The verifier's settings are part of the fingerprint (the test verifier's is its delay).
    let calls = Arc::new(AtomicUsize::new(0));
    let (changed, metrics) = f.metered_engine(&config("delayMs: 1"), calls.clone());
    let item = verify_one(&changed, &good).await;
    assert_eq!(item.value["isSuccess"], true);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "verified under its own configuration"
    );
    let text = metrics_text(&metrics);
    assert_eq!(
        counter(
            &text,
            "signet_cache_redis_operations_total{op=\"get\",result=\"miss\"}"
        ),
        1,
        "{text}"
    );
    let keys = wait_for_keys(&redis, 2).await;
    assert_eq!(keys.len(), 2, "one entry per configuration: {keys:?}");
}

#[tokio::test]
async fn transient_failures_are_never_shared() {
    let f = Fixture::new().await;
    let redis = RedisServer::start().unwrap();
    let secrets = Secrets::new(&redis);
    let img = f
        .registry
        .push_sample_image("flaky", "v1", "flaky")
        .await
        .unwrap();
    f.attach("flaky", &img, TYPE_SIG, "transient", &img.digest)
        .await;
    let (good, _) = images(&f).await;
    let config = format!(
        "{}{}",
        redis_cache(&redis, &secrets, ""),
        sigcheck_yaml("delayMs: 0")
    );
    let (e, _) = f.metered_engine(&config, Arc::new(AtomicUsize::new(0)));
    let item = verify_one(&e, &f.registry.reference(&format!("flaky@{}", img.digest))).await;
    assert_eq!(item.value["errorReason"], "REVOCATION_UNKNOWN", "{item:?}");
    // a later verdict is written, so the transient one would be there by now if it were
    verify_one(&e, &good).await;
    let keys = wait_for_keys(&redis, 1).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(keys[0].contains("/good@"), "{keys:?}");
}

#[tokio::test]
async fn redis_killed_or_stalled_costs_no_answer_and_at_most_its_timeout() {
    let f = Fixture::new().await;
    let mut redis = RedisServer::start().unwrap();
    let secrets = Secrets::new(&redis);
    let mut refs = Vec::new();
    for i in 0..10 {
        let img = f
            .registry
            .push_sample_image(&format!("r{i}"), "v1", &format!("r{i}"))
            .await
            .unwrap();
        f.attach(&format!("r{i}"), &img, TYPE_SIG, "pass", &img.digest)
            .await;
        refs.push(f.registry.reference(&format!("r{i}@{}", img.digest)));
    }
    let config = format!(
        "{}{}",
        redis_cache(&redis, &secrets, ""),
        sigcheck_yaml("delayMs: 0")
    );
    let calls = Arc::new(AtomicUsize::new(0));
    let (e, metrics) = f.metered_engine(&config, calls.clone());
    assert_eq!(verify_one(&e, &refs[0]).await.value["isSuccess"], true);
    assert_eq!(wait_for_keys(&redis, 1).await.len(), 1);

    // Killed: the next image is verified as if there were no Redis; the cached one is still
    // answered from memory.
    redis.stop();
    let started = Instant::now();
    let item = verify_one(&e, &refs[1]).await;
    assert_eq!(item.value["isSuccess"], true, "{item:?}");
    assert!(item.error.is_empty(), "{item:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(verify_one(&e, &refs[0]).await.value["isSuccess"], true);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let text = metrics_text(&metrics);
    let unavailable: u64 = ["down", "error", "timeout"]
        .iter()
        .map(|r| {
            counter(
                &text,
                &format!("signet_cache_redis_operations_total{{op=\"get\",result=\"{r}\"}}"),
            )
        })
        .sum();
    assert_eq!(unavailable, 1, "{text}");

    // Back: the same engine's link heals by itself, and verdicts are shared again.
    redis.launch().unwrap();
    let mut healed = false;
    for r in &refs[2..] {
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert_eq!(verify_one(&e, r).await.value["isSuccess"], true);
        if !wait_for_keys_within(&redis, 1, Duration::from_millis(300))
            .await
            .is_empty()
        {
            healed = true;
            break;
        }
    }
    assert!(healed, "Redis never used again: {}", metrics_text(&metrics));

    // Stalled: every client waits 3 s for answers. One lookup waits its 200 ms timeout, then
    // the link is down and the next image does not wait at all.
    let (e2, metrics2) = f.metered_engine(&config, Arc::new(AtomicUsize::new(0)));
    verify_one(&e2, &refs[0]).await; // connects, and caches refs[0] in memory
    redis.pause(3000).unwrap();
    let started = Instant::now();
    let item = verify_one(&e2, &refs[8]).await;
    let first = started.elapsed();
    assert_eq!(item.value["isSuccess"], true, "{item:?}");
    assert!(first >= Duration::from_millis(200), "{first:?}");
    assert!(first < Duration::from_millis(1500), "{first:?}");
    let started = Instant::now();
    let item = verify_one(&e2, &refs[9]).await;
    assert_eq!(item.value["isSuccess"], true, "{item:?}");
    let second = started.elapsed();
    assert!(
        second < first,
        "the second lookup skipped the stalled Redis: {second:?} vs {first:?}"
    );
    let text = metrics_text(&metrics2);
    assert!(
        counter(
            &text,
            "signet_cache_redis_operations_total{op=\"get\",result=\"timeout\"}"
        ) >= 1,
        "{text}"
    );
    assert!(
        counter(
            &text,
            "signet_cache_redis_operations_total{op=\"get\",result=\"down\"}"
        ) >= 1,
        "{text}"
    );
}

#[tokio::test]
async fn tls_with_a_password_shares_verdicts_and_a_wrong_password_only_costs_sharing() {
    let f = Fixture::new().await;
    let redis = RedisServer::start_tls().unwrap();
    let secrets = Secrets::new(&redis);
    let (good, _) = images(&f).await;
    let ca = redis.ca_file().unwrap().display().to_string();
    let config = format!(
        "{}{}",
        redis_cache(&redis, &secrets, &format!("    caFile: {ca}\n")),
        sigcheck_yaml("delayMs: 0")
    );
    let (a, _) = f.metered_engine(&config, Arc::new(AtomicUsize::new(0)));
    assert_eq!(verify_one(&a, &good).await.value["isSuccess"], true);
    assert_eq!(wait_for_keys(&redis, 1).await.len(), 1);
    let calls = Arc::new(AtomicUsize::new(0));
    let (b, _) = f.metered_engine(&config, calls.clone());
    assert_eq!(verify_one(&b, &good).await.value["isSuccess"], true);
    assert_eq!(calls.load(Ordering::SeqCst), 0, "from Redis over TLS");

    std::fs::write(secrets.file("password"), "wrong\n").unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let (c, metrics) = f.metered_engine(&config, calls.clone());
    assert_eq!(verify_one(&c, &good).await.value["isSuccess"], true);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "verified: Redis refused the password"
    );
    let text = metrics_text(&metrics);
    assert!(text.contains("signet_cache_redis_up 0"), "{text}");
}
