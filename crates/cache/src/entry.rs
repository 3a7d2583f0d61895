//! The authenticated form of a shared verdict.
//!
//! An entry is `<HMAC-SHA256, hex>.<body>`. The MAC covers the Redis key and the body, so an
//! entry copied under another key (another image, another configuration) does not verify, and
//! anyone who can write to Redis but lacks the key cannot make one. The body is JSON and names
//! again the configuration fingerprint, the image and an expiry time, so a genuine entry that
//! outlived its TTL (kept by a Redis that ignores expiry, or written back by someone replaying
//! it) is refused too.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::hmac;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Version of the entry format; part of every key, so a format change never reads old entries.
pub(crate) const FORMAT: &str = "v1";

/// A verdict as replicas share it.
#[derive(Debug, Clone)]
pub struct SharedVerdict {
    /// The verification result, as JSON (what the provider answers for the image).
    pub result: Box<RawValue>,
    /// The item-level error the answer carries, if any.
    pub item_error: Option<String>,
    /// When the entry stops being valid.
    pub expires_at: SystemTime,
}

/// Why a stored entry was not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not an entry at all, or a body that does not parse.
    #[error("not a Signet verdict entry")]
    Garbage,
    /// The MAC is wrong: written without the key, or moved from another key.
    #[error("its HMAC does not match (written without the key, or under another key)")]
    Unauthenticated,
    /// Authenticated, but for another configuration or image, or past its expiry.
    #[error("it is stale (another configuration, another image, or expired)")]
    Stale,
}

impl Refusal {
    /// A short label for metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Garbage => "garbage",
            Refusal::Unauthenticated => "unauthenticated",
            Refusal::Stale => "stale",
        }
    }
}

#[derive(Serialize)]
struct BodyOut<'a> {
    fingerprint: &'a str,
    subject: &'a str,
    #[serde(rename = "expiresAt")]
    expires_at: u64,
    #[serde(rename = "itemError", skip_serializing_if = "Option::is_none")]
    item_error: Option<&'a str>,
    result: &'a RawValue,
}

#[derive(Deserialize)]
struct BodyIn {
    fingerprint: String,
    subject: String,
    #[serde(rename = "expiresAt")]
    expires_at: u64,
    #[serde(rename = "itemError")]
    item_error: Option<String>,
    result: Box<RawValue>,
}

/// Seals and opens entries of one configuration with one key.
pub struct Sealer {
    key: hmac::Key,
    prefix: String,
    fingerprint: String,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("prefix", &self.prefix)
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

impl Sealer {
    /// A sealer for `fingerprint` (the configuration's), writing keys under `prefix`.
    pub fn new(hmac_key: &[u8], prefix: &str, fingerprint: &str) -> Self {
        Sealer {
            key: hmac::Key::new(hmac::HMAC_SHA256, hmac_key),
            prefix: prefix.to_string(),
            fingerprint: fingerprint.to_string(),
        }
    }

    /// The Redis key of an image's verdict: prefix, format, fingerprint, pinned reference.
    pub fn key(&self, subject: &str) -> String {
        format!("{}{FORMAT}:{}:{subject}", self.prefix, self.fingerprint)
    }

    /// The entry for `subject`'s verdict.
    pub fn seal(&self, subject: &str, verdict: &SharedVerdict) -> Vec<u8> {
        let body = BodyOut {
            fingerprint: &self.fingerprint,
            subject,
            expires_at: unix_seconds(verdict.expires_at),
            item_error: verdict.item_error.as_deref(),
            result: &verdict.result,
        };
        // Serializing a struct of strings, a number and valid JSON cannot fail.
        let body = serde_json::to_vec(&body).unwrap_or_default();
        let tag = self.tag(&self.key(subject), &body);
        let mut entry = hex::encode(tag).into_bytes();
        entry.push(b'.');
        entry.extend_from_slice(&body);
        entry
    }

    /// The verdict in `entry`, found under `subject`'s key, if it is genuine and current.
    pub fn open(
        &self,
        subject: &str,
        entry: &[u8],
        now: SystemTime,
    ) -> Result<SharedVerdict, Refusal> {
        let dot = entry
            .iter()
            .position(|b| *b == b'.')
            .ok_or(Refusal::Garbage)?;
        let (tag_hex, body) = (&entry[..dot], &entry[dot + 1..]);
        let tag = hex::decode(tag_hex).map_err(|_| Refusal::Garbage)?;
        let mut message = self.key(subject).into_bytes();
        message.push(0);
        message.extend_from_slice(body);
        hmac::verify(&self.key, &message, &tag).map_err(|_| Refusal::Unauthenticated)?;
        let body: BodyIn = serde_json::from_slice(body).map_err(|_| Refusal::Garbage)?;
        let expires_at = UNIX_EPOCH + Duration::from_secs(body.expires_at);
        if body.fingerprint != self.fingerprint || body.subject != subject || expires_at <= now {
            return Err(Refusal::Stale);
        }
        Ok(SharedVerdict {
            result: body.result,
            item_error: body.item_error,
            expires_at,
        })
    }

    fn tag(&self, key: &str, body: &[u8]) -> hmac::Tag {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(key.as_bytes());
        ctx.update(&[0]);
        ctx.update(body);
        ctx.sign()
    }
}

fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
    const IMAGE: &str = "registry.example/app@sha256:aaaa";

    fn verdict(expires_in: Duration) -> SharedVerdict {
        SharedVerdict {
            result: RawValue::from_string(r#"{"isSuccess":true}"#.into()).unwrap(),
            item_error: None,
            expires_at: SystemTime::now() + expires_in,
        }
    }

    fn sealer() -> Sealer {
        Sealer::new(KEY, "signet:", "fp1")
    }

    #[test]
    fn a_sealed_verdict_opens_unchanged() {
        let s = sealer();
        let v = verdict(Duration::from_secs(60));
        let opened = s
            .open(IMAGE, &s.seal(IMAGE, &v), SystemTime::now())
            .unwrap();
        assert_eq!(opened.result.get(), v.result.get());
        assert_eq!(opened.item_error, None);
        assert_eq!(unix_seconds(opened.expires_at), unix_seconds(v.expires_at));
        assert_eq!(
            s.key(IMAGE),
            "signet:v1:fp1:registry.example/app@sha256:aaaa"
        );
    }

    #[test]
    fn an_entry_made_with_another_key_is_unauthenticated() {
        let forger = Sealer::new(b"another key, another key, 32 byte", "signet:", "fp1");
        let entry = forger.seal(IMAGE, &verdict(Duration::from_secs(60)));
        assert_eq!(
            sealer().open(IMAGE, &entry, SystemTime::now()).unwrap_err(),
            Refusal::Unauthenticated
        );
    }

    #[test]
    fn an_entry_moved_to_another_image_is_unauthenticated() {
        let s = sealer();
        let entry = s.seal(IMAGE, &verdict(Duration::from_secs(60)));
        let other = "registry.example/other@sha256:bbbb";
        assert_eq!(
            s.open(other, &entry, SystemTime::now()).unwrap_err(),
            Refusal::Unauthenticated
        );
    }

    #[test]
    fn an_edited_body_is_unauthenticated() {
        let s = sealer();
        let entry = s.seal(IMAGE, &verdict(Duration::from_secs(60)));
        let text = String::from_utf8(entry).unwrap();
        let edited = text.replace(r#""isSuccess":true"#, r#""isSuccess":fals"#);
        assert_ne!(edited, text);
        assert_eq!(
            s.open(IMAGE, edited.as_bytes(), SystemTime::now())
                .unwrap_err(),
            Refusal::Unauthenticated
        );
    }

    #[test]
    fn garbage_is_refused_as_garbage() {
        let s = sealer();
        for entry in [&b""[..], b"no dot", b"zz.{}", b"{\"isSuccess\":true}"] {
            assert_eq!(
                s.open(IMAGE, entry, SystemTime::now()).unwrap_err(),
                Refusal::Garbage,
                "{entry:?}"
            );
        }
    }

    #[test]
    fn an_expired_entry_is_stale_even_when_genuine() {
        let s = sealer();
        let entry = s.seal(IMAGE, &verdict(Duration::from_secs(5)));
        let later = SystemTime::now() + Duration::from_secs(10);
        assert_eq!(s.open(IMAGE, &entry, later).unwrap_err(), Refusal::Stale);
    }

    #[test]
    fn an_entry_of_another_configuration_is_stale_or_unauthenticated() {
        // Under its own key the other configuration's entry is found by nobody with this
        // fingerprint; copied under this configuration's key its MAC fails.
        let old = Sealer::new(KEY, "signet:", "fp0");
        let entry = old.seal(IMAGE, &verdict(Duration::from_secs(60)));
        assert_ne!(old.key(IMAGE), sealer().key(IMAGE));
        assert_eq!(
            sealer().open(IMAGE, &entry, SystemTime::now()).unwrap_err(),
            Refusal::Unauthenticated
        );
        // A genuine MAC over this key whose body names another fingerprint (only a bug could
        // write one) is still refused.
        let s = sealer();
        let body = br#"{"fingerprint":"fp0","subject":"registry.example/app@sha256:aaaa","expiresAt":99999999999,"result":{"isSuccess":true}}"#;
        let tag = s.tag(&s.key(IMAGE), body);
        let mut entry = hex::encode(tag).into_bytes();
        entry.push(b'.');
        entry.extend_from_slice(body);
        assert_eq!(
            s.open(IMAGE, &entry, SystemTime::now()).unwrap_err(),
            Refusal::Stale
        );
    }
}
