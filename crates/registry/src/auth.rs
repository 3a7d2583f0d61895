//! Registry authentication: parsing `WWW-Authenticate` challenges, the bearer token flow of the
//! distribution spec's token authentication, and a cache of tokens per (host, scope).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;

/// Lifetime assumed when a token response has no `expires_in` (the token spec's default).
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(60);
/// Tokens are dropped this long before they expire, so none expires in flight.
const EXPIRY_MARGIN: Duration = Duration::from_secs(5);

/// One authentication challenge from a `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Challenge {
    /// `Basic realm="..."`: send the username and password on every request.
    Basic,
    /// `Bearer realm=...,service=...,scope=...`: get a token from `realm`.
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

/// Parses one `WWW-Authenticate` value. Returns the challenges it holds, in order; schemes other
/// than Basic and Bearer are skipped. Quoted values may contain commas and escaped quotes.
pub(crate) fn parse_challenges(header: &str) -> Vec<Challenge> {
    let mut out = Vec::new();
    let mut rest = header.trim();
    while !rest.is_empty() {
        // The scheme: a token up to whitespace.
        let end = rest
            .find(|c: char| c.is_whitespace() || c == ',')
            .unwrap_or(rest.len());
        let scheme = rest[..end].to_ascii_lowercase();
        rest = rest[end..].trim_start_matches(|c: char| c.is_whitespace() || c == ',');
        let mut params: HashMap<String, String> = HashMap::new();
        // Parameters: key=value or key="quoted", separated by commas, until the next scheme.
        while let Some(eq) = rest.find('=') {
            let key = &rest[..eq];
            if key.is_empty() || key.contains(|c: char| c.is_whitespace() || c == ',') {
                break; // the next token is a new scheme
            }
            let key = key.to_ascii_lowercase();
            let after = &rest[eq + 1..];
            let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
                let mut value = String::new();
                let mut chars = quoted.char_indices();
                let mut end = quoted.len();
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some((_, n)) = chars.next() {
                                value.push(n);
                            }
                        }
                        '"' => {
                            end = i + 1;
                            break;
                        }
                        c => value.push(c),
                    }
                }
                (value, &quoted[end.min(quoted.len())..])
            } else {
                let end = after.find(',').unwrap_or(after.len());
                (after[..end].trim().to_string(), &after[end..])
            };
            params.insert(key, value);
            rest = remaining.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
        }
        match scheme.as_str() {
            "basic" => out.push(Challenge::Basic),
            "bearer" => {
                if let Some(realm) = params.remove("realm") {
                    out.push(Challenge::Bearer {
                        realm,
                        service: params.remove("service"),
                        scope: params.remove("scope"),
                    });
                }
            }
            _ => {}
        }
        if scheme.is_empty() {
            break;
        }
    }
    out
}

/// What a token endpoint answers (`token` per the spec, `access_token` per OAuth2).
#[derive(Debug, Deserialize)]
pub(crate) struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl TokenResponse {
    /// The token and how long it may be used; None when the answer carries no token.
    pub(crate) fn into_token(self) -> Option<(String, Duration)> {
        let token = self
            .token
            .filter(|t| !t.is_empty())
            .or(self.access_token.filter(|t| !t.is_empty()))?;
        let lifetime = self
            .expires_in
            .filter(|s| *s > 0)
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_TOKEN_LIFETIME);
        Some((token, lifetime))
    }
}

/// Bearer tokens per (registry host, scope), kept until shortly before they expire.
#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    tokens: Mutex<HashMap<(String, String), (String, Instant)>>,
}

impl TokenCache {
    /// A token still valid for `host` and `scope`.
    pub(crate) fn get(&self, host: &str, scope: &str) -> Option<String> {
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        let key = (host.to_string(), scope.to_string());
        match tokens.get(&key) {
            Some((token, expires)) if Instant::now() < *expires => Some(token.clone()),
            Some(_) => {
                tokens.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Stores a token usable for `lifetime`.
    pub(crate) fn put(&self, host: &str, scope: &str, token: String, lifetime: Duration) {
        let usable = lifetime.saturating_sub(EXPIRY_MARGIN.min(lifetime / 2));
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        tokens.insert(
            (host.to_string(), scope.to_string()),
            (token, Instant::now() + usable),
        );
    }

    /// Forgets a token the registry rejected.
    pub(crate) fn forget(&self, host: &str, scope: &str) {
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        tokens.remove(&(host.to_string(), scope.to_string()));
    }
}

/// The pull scope for a repository, as the token spec writes it.
pub(crate) fn pull_scope(repository: &str) -> String {
    format!("repository:{repository}:pull")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_hub_bearer() {
        let h = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull""#;
        assert_eq!(
            parse_challenges(h),
            vec![Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/nginx:pull".into()),
            }]
        );
    }

    #[test]
    fn parses_basic_and_odd_spellings() {
        assert_eq!(
            parse_challenges(r#"Basic realm="Registry Realm""#),
            vec![Challenge::Basic]
        );
        assert_eq!(parse_challenges("basic"), vec![Challenge::Basic]);
        // Scope lists contain commas inside quotes; escaped quotes survive; unquoted values work.
        let h = r#"BEARER realm=https://ghcr.io/token, service="ghcr.io", scope="repository:a/b:pull,push" , error="x \"y\"""#;
        assert_eq!(
            parse_challenges(h),
            vec![Challenge::Bearer {
                realm: "https://ghcr.io/token".into(),
                service: Some("ghcr.io".into()),
                scope: Some("repository:a/b:pull,push".into()),
            }]
        );
        // Two challenges in one value; an unknown scheme is skipped.
        let two = r#"Negotiate abc, Bearer realm="r",service="s", Basic realm="x""#;
        let parsed = parse_challenges(two);
        assert_eq!(parsed.len(), 2, "{parsed:?}");
        assert!(matches!(&parsed[0], Challenge::Bearer { realm, scope: None, .. } if realm == "r"));
        assert_eq!(parsed[1], Challenge::Basic);
        // A bearer challenge without a realm is unusable.
        assert!(parse_challenges(r#"Bearer service="s""#).is_empty());
        assert!(parse_challenges("").is_empty());
    }

    #[test]
    fn token_responses() {
        let t: TokenResponse = serde_json::from_str(r#"{"token":"a","expires_in":300}"#).unwrap();
        assert_eq!(t.into_token(), Some(("a".into(), Duration::from_secs(300))));
        let t: TokenResponse = serde_json::from_str(r#"{"access_token":"b"}"#).unwrap();
        assert_eq!(t.into_token(), Some(("b".into(), DEFAULT_TOKEN_LIFETIME)));
        let t: TokenResponse = serde_json::from_str(r#"{"token":""}"#).unwrap();
        assert_eq!(t.into_token(), None);
    }

    #[tokio::test]
    async fn tokens_expire() {
        let cache = TokenCache::default();
        cache.put("h", "s", "t".into(), Duration::from_millis(40));
        assert_eq!(cache.get("h", "s").as_deref(), Some("t"));
        assert_eq!(cache.get("h", "other"), None);
        assert_eq!(cache.get("other", "s"), None);
        // Used up to half the lifetime early (at most 5 s), so none expires in flight.
        tokio::time::sleep(Duration::from_millis(25)).await;
        assert_eq!(cache.get("h", "s"), None);
        cache.put("h", "s", "t2".into(), Duration::from_secs(60));
        cache.forget("h", "s");
        assert_eq!(cache.get("h", "s"), None);
    }
}
