//! `alerts`: where Signet reports failed (and, when asked, passed) verifications.
//!
//! The raw structs mirror the file (`deny_unknown_fields`); [`validate`] turns them into
//! [`AlertsConfig`], adding every problem with its field path. A webhook URL often carries a
//! secret in its path (Slack's do), so no message repeats a URL beyond its scheme and host, and
//! a URL may be read from a file (`urlFile`) like header values (`headerFiles`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::{duration, ConfigIssue, Secret};

/// Default `timeout` of one delivery attempt.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default `maxRetries`.
pub const DEFAULT_MAX_RETRIES: u32 = 3;
/// Default `retryBackoff` (the first wait; doubles per retry).
pub const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_millis(500);
/// Default `queueSize`.
pub const DEFAULT_QUEUE_SIZE: usize = 1000;
/// Default `dedupWindow`.
pub const DEFAULT_DEDUP_WINDOW: Duration = Duration::from_secs(60);
/// Default CloudEvents `source`.
pub const DEFAULT_SOURCE: &str = "/signet";
/// The placeholders a Slack `template` may use, as `{name}` (`{{` and `}}` are literal braces).
pub const TEMPLATE_PLACEHOLDERS: &[&str] = &[
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
/// Headers Signet sets itself.
const RESERVED_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "host",
    "transfer-encoding",
    "connection",
];

/// `alerts`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawAlerts {
    /// `alerts.sinks`.
    #[serde(default)]
    pub sinks: Vec<RawSink>,
}

/// One entry of `alerts.sinks`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawSink {
    /// `name`.
    pub name: Option<String>,
    /// `url`.
    pub url: Option<String>,
    /// `urlFile`.
    pub url_file: Option<String>,
    /// `plainHTTP`.
    #[serde(rename = "plainHTTP")]
    pub plain_http: Option<bool>,
    /// `caFile`.
    pub ca_file: Option<String>,
    /// `format`.
    pub format: Option<String>,
    /// `source` (CloudEvents).
    pub source: Option<String>,
    /// `template` (Slack).
    pub template: Option<String>,
    /// `headers`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// `headerFiles`.
    #[serde(default)]
    pub header_files: BTreeMap<String, String>,
    /// `events`.
    pub events: Option<Vec<String>>,
    /// `timeout`.
    pub timeout: Option<String>,
    /// `maxRetries`.
    pub max_retries: Option<u32>,
    /// `retryBackoff`.
    pub retry_backoff: Option<String>,
    /// `queueSize`.
    pub queue_size: Option<usize>,
    /// `dedupWindow`.
    pub dedup_window: Option<String>,
}

/// Validated `alerts`.
#[derive(Debug, Clone, Default)]
pub struct AlertsConfig {
    /// Sinks, in configuration order; none means no alerts.
    pub sinks: Vec<AlertSink>,
}

/// What a sink receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertFormat {
    /// A flat JSON object (`application/json`).
    Json,
    /// A CloudEvents 1.0 event in structured mode (`application/cloudevents+json`).
    CloudEvents,
    /// A Slack incoming-webhook message (`{"text": ..., "blocks": [...]}`).
    Slack,
}

/// Which verdicts a sink hears about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertEvent {
    /// A key whose answer failed (`isSuccess` false or an item error).
    Failed,
    /// A key whose answer passed.
    Passed,
}

/// A webhook URL. It may carry a secret in its path or query, so `Debug` and `Display` show
/// its scheme and host only.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookUrl(String);

impl WebhookUrl {
    /// The whole URL, to send to.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `scheme://host[:port]`, safe to log.
    pub fn origin(&self) -> &str {
        origin(&self.0)
    }
}

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/…", self.origin())
    }
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/…", self.origin())
    }
}

/// One validated sink.
#[derive(Debug, Clone)]
pub struct AlertSink {
    /// Unique name (a metric label).
    pub name: String,
    /// Where events are POSTed.
    pub url: WebhookUrl,
    /// PEM CA bundle trusted for an `https` URL, besides the system roots.
    pub ca_file: Option<std::path::PathBuf>,
    /// What is sent.
    pub format: AlertFormat,
    /// CloudEvents `source` (only used with [`AlertFormat::CloudEvents`]).
    pub source: String,
    /// Slack text template (only with [`AlertFormat::Slack`]); the built-in layout otherwise.
    pub template: Option<String>,
    /// Extra request headers, in name order (`headers` and `headerFiles` together); values
    /// may be secrets and are redacted in `Debug`.
    pub headers: Vec<(String, Secret)>,
    /// Which verdicts are sent.
    pub events: Vec<AlertEvent>,
    /// Longest wait for one delivery attempt.
    pub timeout: Duration,
    /// Attempts after the first for an event that could not be delivered.
    pub max_retries: u32,
    /// Wait before the first retry; doubles for each next one.
    pub retry_backoff: Duration,
    /// Events waiting for delivery at most; more are dropped and counted.
    pub queue_size: usize,
    /// The same event (sink, kind, namespace, digest or image, reason) is not sent again
    /// within this window; zero sends every one.
    pub dedup_window: Duration,
}

/// `scheme://authority` of a URL (the text before the path, query or fragment).
fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let end = url[after_scheme..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| after_scheme + i);
    // Never show user information, should a URL that has it reach this point.
    match url[after_scheme..end].rfind('@') {
        Some(_) => &url[..after_scheme],
        None => &url[..end],
    }
}

fn add(is: &mut Vec<ConfigIssue>, path: impl Into<String>, message: impl Into<String>) {
    is.push(ConfigIssue {
        path: path.into(),
        message: message.into(),
    });
}

fn duration_in(
    is: &mut Vec<ConfigIssue>,
    path: &str,
    value: Option<&str>,
    default: Duration,
    (min, max): (Duration, Duration),
) -> Duration {
    let Some(text) = value else { return default };
    match duration::parse(text) {
        Ok(d) if d >= min && d <= max => d,
        Ok(_) => {
            add(
                is,
                path,
                format!("{text} is out of range (expected {min:?} to {max:?})"),
            );
            default
        }
        Err(e) => {
            add(is, path, e);
            default
        }
    }
}

/// Reads a file holding one secret value; a trailing newline is dropped.
fn secret_file(is: &mut Vec<ConfigIssue>, path: &str, value: &str, base: &Path) -> Option<String> {
    if value.trim().is_empty() {
        add(is, path, "is empty (expected a file path)");
        return None;
    }
    let file = if Path::new(value).is_absolute() {
        Path::new(value).to_path_buf()
    } else {
        base.join(value)
    };
    match std::fs::read_to_string(&file) {
        Ok(text) => {
            let v = text.trim_end_matches(['\n', '\r']);
            if v.is_empty() {
                add(is, path, format!("{} is empty", file.display()));
                None
            } else {
                Some(v.to_string())
            }
        }
        Err(e) => {
            add(is, path, format!("cannot read {}: {e}", file.display()));
            None
        }
    }
}

/// Checks a webhook URL; `None` with issues added when it cannot be used. Messages name the
/// scheme and host at most.
fn check_url(
    is: &mut Vec<ConfigIssue>,
    path: &str,
    url: &str,
    plain_http: bool,
) -> Option<WebhookUrl> {
    let before = is.len();
    let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        add(
            is,
            path,
            "is not an http(s) URL (expected https://host/path, or http:// with plainHTTP: true)",
        );
        return None;
    };
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        add(
            is,
            path,
            "contains white space or control characters (percent-encode them)",
        );
    }
    if url.contains('@') {
        // What precedes an @ may be a password: the URL is not repeated.
        add(
            is,
            path,
            "contains an @ (user information): give credentials in headerFiles (e.g. Authorization), never in the URL; percent-encode an @ in the path as %40",
        );
        return None;
    }
    if url.contains('#') {
        add(
            is,
            path,
            "has a #fragment, which is never sent to the receiver; remove it",
        );
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = if let Some(v6) = authority.strip_prefix('[') {
        match v6.split_once(']') {
            Some((h, port)) if port.is_empty() || port.starts_with(':') => {
                check_port(is, path, port.strip_prefix(':'));
                h
            }
            _ => {
                add(is, path, "has an unclosed [IPv6] host");
                ""
            }
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, port)) => {
                check_port(is, path, Some(port));
                h
            }
            None => authority,
        }
    };
    if host.is_empty() {
        add(is, path, "names no host (expected https://host/path)");
    } else if !host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_'))
    {
        add(
            is,
            path,
            format!(
                "the host of {} is not a host name or IP address",
                origin(url)
            ),
        );
    }
    if !https && !plain_http {
        add(
            is,
            path,
            format!(
                "{} is plain HTTP: events would travel unencrypted; use https://, or set plainHTTP: true on this sink",
                origin(url)
            ),
        );
    }
    if https && plain_http {
        let p = path.rsplit_once('.').map_or("", |(p, _)| p);
        add(
            is,
            format!("{p}.plainHTTP"),
            "is true but the URL is https:// (choose one)",
        );
    }
    (is.len() == before).then(|| WebhookUrl(url.to_string()))
}

fn check_port(is: &mut Vec<ConfigIssue>, path: &str, port: Option<&str>) {
    let Some(port) = port else { return };
    if !matches!(port.parse::<u16>(), Ok(p) if p > 0) {
        add(
            is,
            path,
            format!("port {port:?} is not a port number (1 to 65535)"),
        );
    }
}

/// An HTTP header name: an RFC 9110 token.
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// An HTTP header value Signet sends unchanged: visible ASCII, spaces and tabs, no edge spaces.
fn is_header_value(value: &str) -> bool {
    !value.is_empty()
        && value.trim() == value
        && value
            .bytes()
            .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
}

/// Checks a Slack template's placeholders; the problem in words.
pub fn check_template(template: &str) -> Result<(), String> {
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
            }
            '{' => {
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) => name.push(c),
                        None => {
                            return Err(format!(
                                "{{{name} is never closed (write {{{{ for a literal brace)"
                            ))
                        }
                    }
                }
                if !TEMPLATE_PLACEHOLDERS.contains(&name.as_str()) {
                    return Err(format!(
                        "{{{name}}} is not a placeholder (expected one of: {})",
                        TEMPLATE_PLACEHOLDERS
                            .iter()
                            .map(|p| format!("{{{p}}}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
            '}' => return Err("a lone } (write }} for a literal brace)".into()),
            _ => {}
        }
    }
    Ok(())
}

/// Validates `alerts`, adding every problem to `is`.
pub fn validate(raw: Option<RawAlerts>, base: &Path, is: &mut Vec<ConfigIssue>) -> AlertsConfig {
    let Some(raw) = raw else {
        return AlertsConfig::default();
    };
    let mut names = BTreeSet::new();
    let mut sinks = Vec::new();
    for (i, s) in raw.sinks.into_iter().enumerate() {
        let path = format!("alerts.sinks[{i}]");
        if let Some(sink) = sink(s, &path, base, &mut names, is) {
            sinks.push(sink);
        }
    }
    AlertsConfig { sinks }
}

fn sink(
    s: RawSink,
    path: &str,
    base: &Path,
    names: &mut BTreeSet<String>,
    is: &mut Vec<ConfigIssue>,
) -> Option<AlertSink> {
    let before = is.len();
    let name = s.name.unwrap_or_default();
    if name.is_empty() {
        add(
            is,
            format!("{path}.name"),
            "is required (e.g. slack-oncall)",
        );
    } else if name.len() > 63
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        add(
            is,
            format!("{path}.name"),
            format!("{name:?} is not a sink name (letters, digits, - _ and ., at most 63; it is a metric label)"),
        );
    } else if !names.insert(name.clone()) {
        add(
            is,
            format!("{path}.name"),
            format!("{name:?} is used by another sink (names must be unique)"),
        );
    }
    let plain_http = s.plain_http.unwrap_or(false);
    let url = match (s.url.as_deref(), s.url_file.as_deref()) {
        (Some(_), Some(_)) => {
            add(
                is,
                format!("{path}.urlFile"),
                "cannot be set together with url (choose one)",
            );
            None
        }
        (None, None) => {
            add(
                is,
                format!("{path}.url"),
                "is required (or urlFile, for a URL that holds a secret)",
            );
            None
        }
        (Some(u), None) => check_url(is, &format!("{path}.url"), u, plain_http),
        (None, Some(f)) => secret_file(is, &format!("{path}.urlFile"), f, base)
            .and_then(|u| check_url(is, &format!("{path}.urlFile"), &u, plain_http)),
    };
    let ca_file = s.ca_file.as_deref().map(|f| {
        if plain_http {
            add(
                is,
                format!("{path}.caFile"),
                "is set but the sink is plainHTTP (a CA is only used for https)",
            );
        }
        let p = if Path::new(f).is_absolute() {
            Path::new(f).to_path_buf()
        } else {
            base.join(f)
        };
        if f.trim().is_empty() {
            add(
                is,
                format!("{path}.caFile"),
                "is empty (expected a file path)",
            );
        } else if !p.is_file() {
            add(
                is,
                format!("{path}.caFile"),
                format!("file {} does not exist or is not a file", p.display()),
            );
        }
        p
    });
    let format = match s.format.as_deref().unwrap_or("json") {
        "json" => AlertFormat::Json,
        "cloudevents" => AlertFormat::CloudEvents,
        "slack" => AlertFormat::Slack,
        other => {
            add(
                is,
                format!("{path}.format"),
                format!("{other:?} is not a format (expected json, cloudevents or slack)"),
            );
            AlertFormat::Json
        }
    };
    if let Some(source) = &s.source {
        if format != AlertFormat::CloudEvents {
            add(
                is,
                format!("{path}.source"),
                "is only used with format: cloudevents",
            );
        } else if source.is_empty() || source.chars().any(|c| c.is_whitespace() || c.is_control()) {
            add(
                is,
                format!("{path}.source"),
                format!("{source:?} is not a URI reference (e.g. /signet or urn:signet:prod)"),
            );
        }
    }
    if let Some(template) = &s.template {
        if format != AlertFormat::Slack {
            add(
                is,
                format!("{path}.template"),
                "is only used with format: slack",
            );
        } else if template.trim().is_empty() {
            add(is, format!("{path}.template"), "is empty");
        } else if let Err(e) = check_template(template) {
            add(is, format!("{path}.template"), e);
        }
    }
    let mut headers: Vec<(String, Secret)> = Vec::new();
    let mut seen = BTreeSet::new();
    let inline = s.headers.into_iter().map(|(k, v)| ("headers", k, Some(v)));
    let files = s.header_files.into_iter().map(|(k, f)| {
        let value = secret_file(is, &format!("{path}.headerFiles[{k:?}]"), &f, base);
        ("headerFiles", k, value)
    });
    for (field, header, value) in inline
        .collect::<Vec<_>>()
        .into_iter()
        .chain(files.collect::<Vec<_>>())
    {
        let hpath = format!("{path}.{field}[{header:?}]");
        let lower = header.to_ascii_lowercase();
        if !is_token(&header) {
            add(is, &hpath, "is not an HTTP header name");
            continue;
        }
        if RESERVED_HEADERS.contains(&lower.as_str()) {
            add(
                is,
                &hpath,
                "is set by Signet (the format decides the content type)",
            );
            continue;
        }
        if !seen.insert(lower) {
            add(
                is,
                &hpath,
                "is given twice (headers and headerFiles name the same header)",
            );
            continue;
        }
        let Some(value) = value else { continue };
        if !is_header_value(&value) {
            // The value may be a secret: it is not repeated.
            add(
                is,
                &hpath,
                "is not a usable header value (printable ASCII without line breaks or edge spaces)",
            );
            continue;
        }
        headers.push((header, Secret::new(value.into_bytes())));
    }
    headers.sort_by_key(|a| a.0.to_ascii_lowercase());
    let mut events = Vec::new();
    match &s.events {
        Some(list) if list.is_empty() => add(
            is,
            format!("{path}.events"),
            "is empty (expected failed, passed or both; remove the sink to send nothing)",
        ),
        Some(list) => {
            for (j, e) in list.iter().enumerate() {
                let event = match e.as_str() {
                    "failed" => AlertEvent::Failed,
                    "passed" => AlertEvent::Passed,
                    other => {
                        add(
                            is,
                            format!("{path}.events[{j}]"),
                            format!("{other:?} is not an event (expected failed or passed)"),
                        );
                        continue;
                    }
                };
                if events.contains(&event) {
                    add(
                        is,
                        format!("{path}.events[{j}]"),
                        format!("{e:?} is listed twice"),
                    );
                } else {
                    events.push(event);
                }
            }
        }
        None => events.push(AlertEvent::Failed),
    }
    let timeout = duration_in(
        is,
        &format!("{path}.timeout"),
        s.timeout.as_deref(),
        DEFAULT_TIMEOUT,
        (Duration::from_millis(10), Duration::from_secs(60)),
    );
    let max_retries = s.max_retries.unwrap_or(DEFAULT_MAX_RETRIES);
    if max_retries > 10 {
        add(is, format!("{path}.maxRetries"), "must be between 0 and 10");
    }
    let retry_backoff = duration_in(
        is,
        &format!("{path}.retryBackoff"),
        s.retry_backoff.as_deref(),
        DEFAULT_RETRY_BACKOFF,
        (Duration::from_millis(10), Duration::from_secs(60)),
    );
    let queue_size = s.queue_size.unwrap_or(DEFAULT_QUEUE_SIZE);
    if !(1..=100_000).contains(&queue_size) {
        add(
            is,
            format!("{path}.queueSize"),
            "must be between 1 and 100000",
        );
    }
    let dedup_window = duration_in(
        is,
        &format!("{path}.dedupWindow"),
        s.dedup_window.as_deref(),
        DEFAULT_DEDUP_WINDOW,
        (Duration::ZERO, Duration::from_secs(24 * 3600)),
    );
    if is.len() > before {
        return None;
    }
    Some(AlertSink {
        name,
        url: url?,
        ca_file,
        format,
        source: s.source.unwrap_or_else(|| DEFAULT_SOURCE.to_string()),
        template: s.template,
        headers,
        events,
        timeout,
        max_retries,
        retry_backoff,
        queue_size,
        dedup_window,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn parse(yaml: &str, base: &Path) -> Result<crate::Config, Vec<ConfigIssue>> {
        crate::parse(&format!("server:\n  plainHTTP: true\n{yaml}"), base)
    }

    fn issues(yaml: &str) -> Vec<ConfigIssue> {
        match parse(yaml, Path::new("/nonexistent")) {
            Ok(_) => panic!("expected errors for:\n{yaml}"),
            Err(i) => i,
        }
    }

    fn has(issues: &[ConfigIssue], path: &str, needle: &str) -> bool {
        issues
            .iter()
            .any(|i| i.path == path && i.message.contains(needle))
    }

    #[test]
    fn no_alerts_section_means_no_sinks() {
        let c = parse("", Path::new(".")).unwrap();
        assert!(c.alerts.sinks.is_empty());
        let c = parse("alerts: {}\n", Path::new(".")).unwrap();
        assert!(c.alerts.sinks.is_empty());
    }

    #[test]
    fn a_sink_gets_defaults() {
        let c = parse(
            "alerts:\n  sinks:\n    - {name: hook, url: \"https://hooks.example.com/signet?x=1\"}\n",
            Path::new("."),
        )
        .unwrap();
        let s = &c.alerts.sinks[0];
        assert_eq!(s.name, "hook");
        assert_eq!(s.url.expose(), "https://hooks.example.com/signet?x=1");
        assert_eq!(s.format, AlertFormat::Json);
        assert_eq!(s.events, vec![AlertEvent::Failed]);
        assert_eq!(s.timeout, DEFAULT_TIMEOUT);
        assert_eq!(s.max_retries, 3);
        assert_eq!(s.retry_backoff, Duration::from_millis(500));
        assert_eq!(s.queue_size, 1000);
        assert_eq!(s.dedup_window, Duration::from_secs(60));
        assert_eq!(s.source, "/signet");
        assert!(s.headers.is_empty() && s.template.is_none() && s.ca_file.is_none());
    }

    #[test]
    fn every_field_is_read_and_secrets_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("url"),
            "https://hooks.slack.com/services/T0/B0/sekrit\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("token"), "Bearer t0ps3cret\n").unwrap();
        std::fs::write(dir.path().join("ca.pem"), "x").unwrap();
        let c = parse(
            r#"alerts:
  sinks:
    - name: slack
      urlFile: url
      caFile: ca.pem
      format: slack
      template: "{event}: {image} {{literal}}"
      headers: {X-Team: platform}
      headerFiles: {Authorization: token}
      events: [failed, passed]
      timeout: 2s
      maxRetries: 0
      retryBackoff: 50ms
      queueSize: 10
      dedupWindow: 0s
    - name: ce
      url: http://127.0.0.1:9000/events
      plainHTTP: true
      format: cloudevents
      source: urn:signet:prod
"#,
            dir.path(),
        )
        .unwrap();
        let s = &c.alerts.sinks[0];
        assert_eq!(
            s.url.expose(),
            "https://hooks.slack.com/services/T0/B0/sekrit"
        );
        assert_eq!(s.format, AlertFormat::Slack);
        assert_eq!(s.template.as_deref(), Some("{event}: {image} {{literal}}"));
        assert_eq!(s.events, vec![AlertEvent::Failed, AlertEvent::Passed]);
        assert_eq!(
            s.headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.expose()))
                .collect::<Vec<_>>(),
            vec![
                ("Authorization", b"Bearer t0ps3cret".as_slice()),
                ("X-Team", b"platform".as_slice())
            ]
        );
        assert_eq!(
            (
                s.timeout,
                s.max_retries,
                s.retry_backoff,
                s.queue_size,
                s.dedup_window
            ),
            (
                Duration::from_secs(2),
                0,
                Duration::from_millis(50),
                10,
                Duration::ZERO
            )
        );
        let shown = format!("{:?}", c.alerts);
        assert!(
            !shown.contains("sekrit") && !shown.contains("t0ps3cret"),
            "{shown}"
        );
        assert!(shown.contains("https://hooks.slack.com/…"), "{shown}");
        let ce = &c.alerts.sinks[1];
        assert_eq!(
            (ce.format, ce.source.as_str()),
            (AlertFormat::CloudEvents, "urn:signet:prod")
        );
    }

    #[test]
    fn urls_must_be_https_without_credentials_and_are_never_repeated() {
        let i = issues(
            r#"alerts:
  sinks:
    - {name: a, url: "http://hooks.example.com/x"}
    - {name: b, url: "https://user:hunter2@hooks.example.com/x"}
    - {name: c, url: "ftp://hooks.example.com/x"}
    - {name: d, url: "https:///x"}
    - {name: e, url: "https://h.example.com:99999/x"}
    - {name: f, url: "https://h.example.com/x", plainHTTP: true}
    - {name: g}
    - {name: h, url: "https://h.example.com/a", urlFile: u}
    - {name: i, url: "https://h.example.com/a#frag"}
    - {name: j, url: "https://h.example.com/a b"}
"#,
        );
        assert!(has(&i, "alerts.sinks[0].url", "plainHTTP: true"), "{i:?}");
        assert!(has(&i, "alerts.sinks[1].url", "user information"), "{i:?}");
        assert!(
            has(&i, "alerts.sinks[2].url", "not an http(s) URL"),
            "{i:?}"
        );
        assert!(has(&i, "alerts.sinks[3].url", "names no host"), "{i:?}");
        assert!(has(&i, "alerts.sinks[4].url", "not a port number"), "{i:?}");
        assert!(has(&i, "alerts.sinks[5].plainHTTP", "choose one"), "{i:?}");
        assert!(has(&i, "alerts.sinks[6].url", "is required"), "{i:?}");
        assert!(has(&i, "alerts.sinks[7].urlFile", "choose one"), "{i:?}");
        assert!(has(&i, "alerts.sinks[8].url", "fragment"), "{i:?}");
        assert!(has(&i, "alerts.sinks[9].url", "white space"), "{i:?}");
        let all = format!("{i:?}");
        assert!(!all.contains("hunter2") && !all.contains("/x"), "{all}");
    }

    #[test]
    fn fields_are_checked_with_their_paths() {
        let i = issues(
            r#"alerts:
  sinks:
    - name: dup
      url: https://a.example.com/
      format: xml
      events: [failed, denied, failed]
      timeout: 5ms
      maxRetries: 11
      retryBackoff: 2h
      queueSize: 0
      dedupWindow: forever
      source: /x
      template: "{image}"
      headers: {Content-Type: text/plain, "bad header": x, X-A: " y", x-b: "1"}
      headerFiles: {X-B: /nonexistent/file}
    - {name: dup, url: "https://b.example.com/"}
    - {name: "no spaces", url: "https://b.example.com/"}
    - {name: s, url: "https://b.example.com/", format: slack, template: "{imgae} {image"}
"#,
        );
        let p = "alerts.sinks[0]";
        assert!(
            has(&i, &format!("{p}.format"), "json, cloudevents or slack"),
            "{i:?}"
        );
        assert!(
            has(&i, &format!("{p}.events[1]"), "\"denied\" is not an event"),
            "{i:?}"
        );
        assert!(has(&i, &format!("{p}.events[2]"), "listed twice"), "{i:?}");
        assert!(has(&i, &format!("{p}.timeout"), "out of range"), "{i:?}");
        assert!(has(&i, &format!("{p}.maxRetries"), "0 and 10"), "{i:?}");
        assert!(
            has(&i, &format!("{p}.retryBackoff"), "out of range"),
            "{i:?}"
        );
        assert!(has(&i, &format!("{p}.queueSize"), "1 and 100000"), "{i:?}");
        assert!(
            has(
                &i,
                &format!("{p}.dedupWindow"),
                "does not start with a number"
            ),
            "{i:?}"
        );
        assert!(
            has(
                &i,
                &format!("{p}.source"),
                "only used with format: cloudevents"
            ),
            "{i:?}"
        );
        assert!(
            has(&i, &format!("{p}.template"), "only used with format: slack"),
            "{i:?}"
        );
        assert!(
            has(
                &i,
                &format!("{p}.headers[\"Content-Type\"]"),
                "set by Signet"
            ),
            "{i:?}"
        );
        assert!(
            has(
                &i,
                &format!("{p}.headers[\"bad header\"]"),
                "not an HTTP header name"
            ),
            "{i:?}"
        );
        assert!(
            has(
                &i,
                &format!("{p}.headers[\"X-A\"]"),
                "not a usable header value"
            ),
            "{i:?}"
        );
        assert!(
            has(&i, &format!("{p}.headerFiles[\"X-B\"]"), "cannot read"),
            "{i:?}"
        );
        assert!(
            has(&i, &format!("{p}.headerFiles[\"X-B\"]"), "given twice"),
            "{i:?}"
        );
        assert!(
            has(&i, "alerts.sinks[1].name", "used by another sink"),
            "{i:?}"
        );
        assert!(has(&i, "alerts.sinks[2].name", "not a sink name"), "{i:?}");
        assert!(
            has(
                &i,
                "alerts.sinks[3].template",
                "{imgae} is not a placeholder"
            ),
            "{i:?}"
        );
    }

    #[test]
    fn an_unknown_sink_field_is_an_error_with_its_path() {
        let i = issues(
            "alerts:\n  sinks:\n    - {name: a, url: \"https://a.example.com/\", retries: 2}\n",
        );
        assert_eq!(i.len(), 1, "{i:?}");
        assert!(i[0].path.starts_with("alerts.sinks"), "{i:?}");
        assert!(i[0].message.contains("retries"), "{i:?}");
    }

    #[test]
    fn templates_check_every_brace() {
        assert!(check_template("{event} {image} {{x}} }}").is_ok());
        assert!(check_template("{nope}")
            .unwrap_err()
            .contains("{nope} is not a placeholder"));
        assert!(check_template("{image")
            .unwrap_err()
            .contains("never closed"));
        assert!(check_template("a } b").unwrap_err().contains("lone }"));
    }

    #[test]
    fn origins_never_show_paths_or_user_information() {
        assert_eq!(
            origin("https://h.example.com:8443/a/b?c"),
            "https://h.example.com:8443"
        );
        assert_eq!(origin("https://u:p@h.example.com/a"), "https://");
        assert_eq!(origin("http://[::1]:80"), "http://[::1]:80");
    }
}
