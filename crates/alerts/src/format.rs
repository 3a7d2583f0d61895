//! What a sink receives: a flat JSON object, a CloudEvents 1.0 event in structured mode, or a
//! Slack incoming-webhook message.

use bytes::Bytes;
use serde_json::{json, Map, Value};

use crate::event::{Event, EventKind};

/// `Content-Type` of the plain JSON format.
pub const JSON: &str = "application/json";
/// `Content-Type` of a CloudEvent in structured mode (CloudEvents JSON format, section 3).
pub const CLOUDEVENTS: &str = "application/cloudevents+json";

/// The placeholders a Slack template may use, as `{name}`; `{{` and `}}` are literal braces.
pub const PLACEHOLDERS: &[&str] = &[
    "event",
    "image",
    "digest",
    "subject",
    "namespace",
    "reason",
    "message",
    "traceId",
    "key",
    "time",
];

/// How events are written for one sink.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Format {
    /// `{"id", "type", "time", "event", "image", "digest", ...}` as `application/json`.
    Json,
    /// CloudEvents 1.0, structured mode: `specversion`, `id`, `source`, `type`, `time`,
    /// `subject`, `datacontenttype: application/json`, and the event as `data`.
    CloudEvents {
        /// The `source` attribute (a URI reference naming this Signet).
        source: String,
    },
    /// `{"text": ..., "blocks": [...]}` (Slack's incoming webhooks; Mattermost and others read
    /// `text`). With a template, `{"text": <template filled in>}` only.
    Slack {
        /// The text, when not the built-in layout.
        template: Option<Template>,
    },
}

/// A body ready to send.
#[derive(Debug, Clone)]
pub struct Body {
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes (cheap to clone for a retry).
    pub bytes: Bytes,
}

impl Format {
    /// Writes `event` in this format.
    pub fn render(&self, event: &Event) -> Body {
        let (content_type, value) = match self {
            Format::Json => (JSON, plain(event)),
            Format::CloudEvents { source } => (CLOUDEVENTS, cloud_event(event, source)),
            Format::Slack { template } => (JSON, slack(event, template.as_ref())),
        };
        Body {
            content_type,
            // Serializing a tree of strings cannot fail.
            bytes: serde_json::to_vec(&value).unwrap_or_default().into(),
        }
    }
}

fn data(event: &Event) -> Map<String, Value> {
    match serde_json::to_value(event) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

fn plain(event: &Event) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(event.id));
    m.insert("type".into(), json!(event.kind.type_name()));
    m.insert("time".into(), json!(event.time));
    m.extend(data(event));
    Value::Object(m)
}

fn cloud_event(event: &Event, source: &str) -> Value {
    json!({
        "specversion": "1.0",
        "id": event.id,
        "source": source,
        "type": event.kind.type_name(),
        "time": event.time,
        "subject": event.subject.as_deref().unwrap_or(&event.image),
        "datacontenttype": JSON,
        "data": Value::Object(data(event)),
    })
}

/// Slack's mrkdwn needs `&`, `<` and `>` escaped (they open links and mentions).
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn slack(event: &Event, template: Option<&Template>) -> Value {
    if let Some(t) = template {
        return json!({"text": t.fill(event)});
    }
    let image = escape(&event.image);
    let (headline, text) = match event.kind {
        EventKind::Failed => {
            let reason = escape(event.reason.as_deref().unwrap_or("FAILED"));
            let message = escape(event.message.as_deref().unwrap_or(""));
            (
                format!(":x: *Signet denied* `{image}`\n*{reason}*: {message}"),
                format!("Signet: verification of {image} failed: {reason}: {message}"),
            )
        }
        EventKind::Passed => (
            format!(":white_check_mark: *Signet verified* `{image}`"),
            format!("Signet: verification of {image} passed"),
        ),
    };
    let mut context = Vec::new();
    if let Some(ns) = &event.namespace {
        context.push(format!("namespace `{}`", escape(ns)));
    }
    if let Some(d) = &event.digest {
        context.push(format!("digest `{}`", escape(d)));
    }
    if let Some(t) = &event.trace_id {
        context.push(format!("trace `{}`", escape(t)));
    }
    context.push(escape(&event.time));
    json!({
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": headline}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": context.join(" · ")}]}
        ]
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Field(&'static str),
}

/// A Slack text template: literal text and `{placeholder}`s (see [`PLACEHOLDERS`]). Values
/// are escaped for mrkdwn; a value the event does not have is empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(Vec<Part>);

impl Template {
    /// Parses a template; the problem in words.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) => name.push(c),
                            None => return Err(format!("{{{name} is never closed")),
                        }
                    }
                    let field = PLACEHOLDERS
                        .iter()
                        .find(|p| **p == name)
                        .ok_or_else(|| format!("{{{name}}} is not a placeholder"))?;
                    if !literal.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Field(field));
                }
                '}' => return Err("a lone }".into()),
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Template(parts))
    }

    fn fill(&self, e: &Event) -> String {
        let mut out = String::new();
        for part in &self.0 {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Field(f) => {
                    let value = match *f {
                        "event" => Some(e.kind.as_str()),
                        "image" => Some(e.image.as_str()),
                        "digest" => e.digest.as_deref(),
                        "subject" => e.subject.as_deref(),
                        "namespace" => e.namespace.as_deref(),
                        "reason" => e.reason.as_deref(),
                        "message" => e.message.as_deref(),
                        "traceId" => e.trace_id.as_deref(),
                        "key" => Some(e.key.as_str()),
                        "time" => Some(e.time.as_str()),
                        _ => None,
                    };
                    out.push_str(&escape(value.unwrap_or("")));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn event() -> Event {
        Event {
            id: "0f".into(),
            time: "2025-01-01T00:00:00Z".into(),
            kind: EventKind::Failed,
            image: "reg.example/app:v1".into(),
            digest: Some("sha256:aa".into()),
            subject: Some("reg.example/app@sha256:aa".into()),
            namespace: Some("prod".into()),
            reason: Some("NO_SIGNATURE".into()),
            message: Some("no <signature> & more".into()),
            trace_id: Some("77".into()),
            key: "[prod]reg.example/app:v1".into(),
        }
    }

    fn body(f: &Format, e: &Event) -> (&'static str, Value) {
        let b = f.render(e);
        (b.content_type, serde_json::from_slice(&b.bytes).unwrap())
    }

    #[test]
    fn plain_json_is_flat() {
        let (ct, v) = body(&Format::Json, &event());
        assert_eq!(ct, "application/json");
        assert_eq!(v["id"], "0f");
        assert_eq!(v["type"], "com.github.signet-project.verification.failed");
        assert_eq!(v["time"], "2025-01-01T00:00:00Z");
        assert_eq!(v["reason"], "NO_SIGNATURE");
        assert_eq!(v["traceId"], "77");
        assert_eq!(v["namespace"], "prod");
    }

    #[test]
    fn cloud_events_have_every_required_attribute() {
        let (ct, v) = body(
            &Format::CloudEvents {
                source: "/signet".into(),
            },
            &event(),
        );
        assert_eq!(ct, "application/cloudevents+json");
        for attr in [
            "specversion",
            "id",
            "source",
            "type",
            "time",
            "datacontenttype",
            "subject",
        ] {
            assert!(v[attr].is_string(), "{attr}: {v}");
        }
        assert_eq!(v["specversion"], "1.0");
        assert_eq!(v["subject"], "reg.example/app@sha256:aa");
        assert_eq!(v["data"]["digest"], "sha256:aa");
        assert!(
            v["data"].get("id").is_none(),
            "id is an attribute, not data"
        );
    }

    #[test]
    fn slack_escapes_mrkdwn_and_templates_fill_in() {
        let (_, v) = body(&Format::Slack { template: None }, &event());
        let text = v["text"].as_str().unwrap();
        assert!(text.contains("no &lt;signature&gt; &amp; more"), "{text}");
        assert_eq!(v["blocks"][0]["type"], "section");
        let t = Template::parse("{event} {image} in {namespace}: {reason} {{x}} {digest}").unwrap();
        let mut e = event();
        e.digest = None;
        let (_, v) = body(&Format::Slack { template: Some(t) }, &e);
        assert_eq!(
            v,
            json!({"text": "failed reg.example/app:v1 in prod: NO_SIGNATURE {x} "})
        );
        assert!(Template::parse("{nope}").is_err());
        assert!(Template::parse("{image").is_err());
        assert!(Template::parse("}").is_err());
    }
}
