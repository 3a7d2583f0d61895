//! The event model, and how one answered key becomes an event.
//!
//! An answer is read, not trusted to be anything: a key passes only when its item has no error
//! and its value says `isSuccess: true` (what `signet verify` and the templates read); anything
//! else is a failure. Only the head of a result is read: Signet writes `isSuccess`, `traceID`,
//! `subject`, `errorReason` and `message` before `verifierReports` (in its own field order and
//! in a sorted map alike), so reading stops there and the reports, most of a result's bytes,
//! are never scanned.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use signet_types::gatekeeper::{Item, ProviderKey};

/// What happened to an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// The key's answer failed: `isSuccess` false, or an item error.
    Failed,
    /// The key's answer passed.
    Passed,
}

impl EventKind {
    /// `failed` or `passed`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Failed => "failed",
            EventKind::Passed => "passed",
        }
    }

    /// The event type, in reverse-DNS form as CloudEvents recommends:
    /// `com.github.signet-project.verification.failed` or `....passed`.
    pub fn type_name(self) -> &'static str {
        match self {
            EventKind::Failed => "com.github.signet-project.verification.failed",
            EventKind::Passed => "com.github.signet-project.verification.passed",
        }
    }
}

/// One verification outcome to report. Serialized (camelCase, absent fields left out) it is the
/// `data` of a CloudEvent and, with `id`, `type` and `time`, the plain JSON body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// Unique per event (128 random bits in hex); the same in every retry and every sink, so a
    /// receiver can drop a repeat delivery.
    #[serde(skip)]
    pub id: String,
    /// When the answer was given (RFC 3339, UTC).
    #[serde(skip)]
    pub time: String,
    /// Failed or passed.
    #[serde(rename = "event")]
    pub kind: EventKind,
    /// The image as the key named it (without the `[namespace]` prefix).
    pub image: String,
    /// The image's digest, from the result's pinned `subject`, once resolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The image pinned by digest (the result's `subject`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The key's `[namespace]`, when Gatekeeper sent one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The reason code (`NO_SIGNATURE`, `TIMEOUT`, ...); absent for a pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What the result or the item error says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The result's `traceID` (the verification's line in Signet's logs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// The key exactly as Gatekeeper sent it.
    pub key: String,
}

impl Event {
    /// The event for one answered key, stamped with `id` and `time`.
    pub fn from_item(item: &Item, id: String, time: String) -> Event {
        let head = Head::read(item);
        let passed = item.error.is_empty() && head.is_success == Some(true);
        let (namespace, image) = match ProviderKey::parse(&item.key) {
            Ok(k) => (k.namespace.map(str::to_string), k.image.to_string()),
            Err(_) => (None, item.key.clone()),
        };
        let digest = head
            .subject
            .as_deref()
            .and_then(|s| s.rsplit_once('@'))
            .map(|(_, d)| d.to_string())
            .filter(|d| d.contains(':'));
        // An item error reads `<reason in lower case>: <message>`.
        let from_error = (!item.error.is_empty()).then(|| match item.error.split_once(": ") {
            Some((code, message))
                if !code.is_empty()
                    && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') =>
            {
                (Some(code.to_ascii_uppercase()), message.to_string())
            }
            _ => (None, item.error.clone()),
        });
        let (reason, message) = if passed {
            (None, None)
        } else {
            let (err_reason, err_message) = from_error.unzip();
            (
                head.reason
                    .or(err_reason.flatten())
                    .or_else(|| Some("INTERNAL_ERROR".into())),
                head.message
                    .or(err_message)
                    .or_else(|| Some("the answer carried no verification result".to_string())),
            )
        };
        Event {
            id,
            time,
            kind: if passed {
                EventKind::Passed
            } else {
                EventKind::Failed
            },
            image,
            digest,
            subject: head.subject,
            namespace,
            reason,
            message,
            trace_id: head.trace_id,
            key: item.key.clone(),
        }
    }

    /// What makes two events "the same" for the dedup window: kind, namespace, the image (its
    /// digest when known, so a tag and its digest are one image), and the reason. The message
    /// is left out: it may carry details that change between verifications of one failure.
    pub(crate) fn dedup_key(&self) -> (EventKind, Option<&str>, &str, Option<&str>) {
        (
            self.kind,
            self.namespace.as_deref(),
            self.digest.as_deref().unwrap_or(&self.image),
            self.reason.as_deref(),
        )
    }
}

/// The head of a verification result: the fields before `verifierReports`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Head {
    pub(crate) is_success: Option<bool>,
    pub(crate) subject: Option<String>,
    pub(crate) reason: Option<String>,
    pub(crate) message: Option<String>,
    pub(crate) trace_id: Option<String>,
}

impl Head {
    /// Reads the head of an item's value. A value that is not a result leaves the head empty
    /// (and the key counts as failed).
    pub(crate) fn read(item: &Item) -> Head {
        let mut head = Head::default();
        // The value is either JSON text kept as it is sent, or a tree: serializing gives the
        // text at the cost of a copy (or of writing the tree, on the cold path only).
        let Ok(text) = serde_json::to_string(&item.value) else {
            return head;
        };
        let mut de = serde_json::Deserializer::from_str(&text);
        let mut stopped = false;
        let read = HeadSeed {
            head: &mut head,
            stopped: &mut stopped,
        }
        .deserialize(&mut de);
        if read.is_err() && !stopped {
            // A value of another shape: what was read so far is not to be trusted.
            return Head::default();
        }
        head
    }
}

#[derive(Deserialize)]
#[serde(field_identifier)]
enum Field {
    #[serde(rename = "isSuccess")]
    IsSuccess,
    #[serde(rename = "subject")]
    Subject,
    #[serde(rename = "errorReason")]
    ErrorReason,
    #[serde(rename = "message")]
    Message,
    #[serde(rename = "traceID")]
    TraceId,
    #[serde(rename = "verifierReports")]
    VerifierReports,
    #[serde(other)]
    Other,
}

struct HeadSeed<'a> {
    head: &'a mut Head,
    /// Set when reading stopped at `verifierReports` (the error that stops it is no failure).
    stopped: &'a mut bool,
}

impl<'de> DeserializeSeed<'de> for HeadSeed<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for HeadSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a verification result")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let head = self.head;
        while let Some(field) = map.next_key::<Field>()? {
            match field {
                Field::IsSuccess => head.is_success = map.next_value()?,
                Field::Subject => head.subject = map.next_value()?,
                Field::ErrorReason => head.reason = map.next_value()?,
                Field::Message => head.message = map.next_value()?,
                Field::TraceId => head.trace_id = map.next_value()?,
                Field::VerifierReports => {
                    *self.stopped = true;
                    return Err(de::Error::custom("stop: the head is read"));
                }
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use serde_json::json;
    use signet_types::gatekeeper::ItemValue;
    use signet_types::{ReasonCode, VerificationResult};

    fn result(ok: bool) -> VerificationResult {
        VerificationResult {
            version: "0.2.0".into(),
            is_success: ok,
            trace_id: "0123456789abcdef0123456789abcdef".into(),
            timestamp: "2025-01-01T00:00:00Z".into(),
            subject: Some("reg.example/app@sha256:aa".into()),
            error_reason: (!ok).then_some(ReasonCode::NoSignature),
            message: (!ok).then(|| "no signature found".into()),
            verifier_reports: Vec::new(),
            unverified_referrers: Vec::new(),
        }
    }

    fn item(key: &str, value: ItemValue, error: &str) -> Item {
        Item {
            key: key.into(),
            value,
            error: error.into(),
        }
    }

    #[test]
    fn the_head_is_the_same_from_text_and_from_a_tree() {
        for ok in [true, false] {
            let r = result(ok);
            let text: std::sync::Arc<serde_json::value::RawValue> =
                serde_json::value::to_raw_value(&r).unwrap().into();
            let tree = serde_json::to_value(&r).unwrap();
            let a = Head::read(&item("k", ItemValue::text(text), ""));
            let b = Head::read(&item("k", tree.into(), ""));
            assert_eq!(a, b);
            assert_eq!(a.is_success, Some(ok));
            assert_eq!(
                a.trace_id.as_deref(),
                Some("0123456789abcdef0123456789abcdef")
            );
            assert_eq!(a.subject.as_deref(), Some("reg.example/app@sha256:aa"));
            assert_eq!(a.reason.as_deref(), (!ok).then_some("NO_SIGNATURE"));
        }
    }

    #[test]
    fn reading_stops_before_the_reports() {
        // Everything after verifierReports is never read: a broken tail does not matter.
        let text = r#"{"isSuccess":false,"errorReason":"NO_SIGNATURE","verifierReports":[{"x":1}],"message":"late"}"#;
        let raw: std::sync::Arc<serde_json::value::RawValue> =
            serde_json::value::RawValue::from_string(text.into())
                .unwrap()
                .into();
        let h = Head::read(&item("k", ItemValue::text(raw), ""));
        assert_eq!(h.reason.as_deref(), Some("NO_SIGNATURE"));
        assert_eq!(h.message, None, "read past verifierReports");
    }

    #[test]
    fn a_pass_needs_is_success_true_and_no_item_error() {
        let ok = serde_json::to_value(result(true)).unwrap();
        let e = Event::from_item(
            &item("[team-a]reg.example/app:v1", ok.clone().into(), ""),
            "i".into(),
            "t".into(),
        );
        assert_eq!(e.kind, EventKind::Passed);
        assert_eq!(e.namespace.as_deref(), Some("team-a"));
        assert_eq!(e.image, "reg.example/app:v1");
        assert_eq!(e.digest.as_deref(), Some("sha256:aa"));
        assert_eq!((e.reason, e.message), (None, None));

        let e = Event::from_item(
            &item(
                "reg.example/app:v1",
                ok.into(),
                "timeout: did not finish in time",
            ),
            "i".into(),
            "t".into(),
        );
        assert_eq!(
            e.kind,
            EventKind::Failed,
            "an item error wins over isSuccess"
        );
        assert_eq!(e.reason.as_deref(), Some("TIMEOUT"));
        assert_eq!(e.message.as_deref(), Some("did not finish in time"));

        for odd in [
            json!({"isSuccess": "yes"}),
            json!(null),
            json!("text"),
            json!([1]),
        ] {
            let e = Event::from_item(&item("k", odd.clone().into(), ""), "i".into(), "t".into());
            assert_eq!(e.kind, EventKind::Failed, "{odd}");
            assert_eq!(e.reason.as_deref(), Some("INTERNAL_ERROR"), "{odd}");
        }
    }

    #[test]
    fn failures_carry_reason_message_digest_and_trace() {
        let v = serde_json::to_value(result(false)).unwrap();
        let e = Event::from_item(
            &item("[prod]reg.example/app:v1", v.into(), ""),
            "id1".into(),
            "now".into(),
        );
        assert_eq!(e.kind, EventKind::Failed);
        assert_eq!(e.reason.as_deref(), Some("NO_SIGNATURE"));
        assert_eq!(e.message.as_deref(), Some("no signature found"));
        assert_eq!(
            e.trace_id.as_deref(),
            Some("0123456789abcdef0123456789abcdef")
        );
        assert_eq!(
            e.dedup_key(),
            (
                EventKind::Failed,
                Some("prod"),
                "sha256:aa",
                Some("NO_SIGNATURE")
            )
        );
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(
            json,
            json!({"event": "failed", "image": "reg.example/app:v1", "digest": "sha256:aa",
                   "subject": "reg.example/app@sha256:aa", "namespace": "prod",
                   "reason": "NO_SIGNATURE", "message": "no signature found",
                   "traceId": "0123456789abcdef0123456789abcdef", "key": "[prod]reg.example/app:v1"})
        );
        // Without a subject, the image stands for itself in the dedup key.
        let e = Event::from_item(
            &item(
                "reg.example/gone:v1",
                json!({"isSuccess": false}).into(),
                "registry_not_found: repository not found",
            ),
            "i".into(),
            "t".into(),
        );
        assert_eq!(
            e.dedup_key(),
            (
                EventKind::Failed,
                None,
                "reg.example/gone:v1",
                Some("REGISTRY_NOT_FOUND")
            )
        );
    }
}
