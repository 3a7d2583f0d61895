//! Credentials from a docker `config.json` (`auths` only): what `docker login`, `oras login` and
//! `cosign login` write. Credential helpers (`credsStore`, `credHelpers`) are programs and are not
//! run; hosts they cover simply have no credentials here.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use base64::Engine as _;
use serde::Deserialize;

use crate::reference::normalize_host;
use crate::settings::Credentials;
use crate::RegistryError;

/// The `auths` of a docker config, keyed by normalized registry host.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct DockerConfig {
    auths: HashMap<String, Credentials>,
}

#[derive(Deserialize)]
struct RawConfig {
    #[serde(default)]
    auths: HashMap<String, RawAuth>,
}

#[derive(Deserialize)]
struct RawAuth {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

impl DockerConfig {
    /// Reads and parses a `config.json`. A directory is taken to hold `config.json`, like
    /// `DOCKER_CONFIG`. Malformed files are errors naming the file and the entry.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, RegistryError> {
        let mut path = path.as_ref().to_path_buf();
        if path.is_dir() {
            path.push("config.json");
        }
        let bytes = std::fs::read(&path).map_err(|e| {
            RegistryError::config(format!("cannot read docker config {}: {e}", path.display()))
        })?;
        Self::parse(&bytes).map_err(|detail| {
            RegistryError::config(format!(
                "docker config {} is malformed: {detail}",
                path.display()
            ))
        })
    }

    /// Parses the text of a `config.json`; the error says which entry is wrong.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if !value.is_object() {
            return Err("the top level is not a JSON object".into());
        }
        let raw: RawConfig = serde_json::from_value(value).map_err(|e| e.to_string())?;
        let mut auths = HashMap::new();
        for (key, entry) in raw.auths {
            let creds = match (&entry.auth, &entry.username, &entry.password) {
                (Some(auth), _, _) if !auth.is_empty() => {
                    decode_auth(auth).map_err(|e| format!("auths[{key:?}].auth {e}"))?
                }
                (_, Some(u), Some(p)) => Credentials {
                    username: u.clone(),
                    password: p.clone(),
                },
                // An entry without secrets (a helper holds them): nothing to use.
                _ => continue,
            };
            auths.insert(config_key_host(&key), creds);
        }
        Ok(DockerConfig { auths })
    }

    /// Credentials for a registry host as written in references (`docker.io`, `host:port`).
    pub fn credentials_for(&self, registry: &str) -> Option<&Credentials> {
        self.auths.get(normalize_host(registry))
    }

    /// Hosts with credentials.
    pub fn hosts(&self) -> impl Iterator<Item = &str> {
        self.auths.keys().map(String::as_str)
    }
}

impl fmt::Debug for DockerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DockerConfig")
            .field("hosts", &self.auths.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// `https://index.docker.io/v1/` → `docker.io`; `http://host:5000/v2/` → `host:5000`.
fn config_key_host(key: &str) -> String {
    let rest = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = rest.split('/').next().unwrap_or(rest);
    normalize_host(host).to_string()
}

fn decode_auth(auth: &str) -> Result<Credentials, String> {
    let trimmed = auth.trim();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(trimmed)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(trimmed))
        .map_err(|_| "is not base64".to_string())?;
    let text = String::from_utf8(decoded).map_err(|_| "does not decode to UTF-8".to_string())?;
    let (u, p) = text
        .split_once(':')
        .ok_or_else(|| "does not decode to username:password".to_string())?;
    Ok(Credentials {
        username: u.to_string(),
        password: p.to_string(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_auth_forms_and_key_spellings() {
        let json = r#"{
          "auths": {
            "https://index.docker.io/v1/": {"auth": "aHViOnNlY3JldA=="},
            "127.0.0.1:5000": {"auth": "dXNlcjpwYTpzcw=="},
            "http://reg.local:8080/v1/": {"username": "u2", "password": "p2"},
            "https://ghcr.io": {"auth": "Z2g6dG9r"},
            "helper.example": {}
          },
          "credsStore": "desktop"
        }"#;
        let c = DockerConfig::parse(json.as_bytes()).unwrap();
        let hub = c.credentials_for("docker.io").unwrap();
        assert_eq!(
            (hub.username.as_str(), hub.password.as_str()),
            ("hub", "secret")
        );
        assert_eq!(c.credentials_for("index.docker.io"), Some(hub));
        // The password may contain ':'; only the first one splits.
        assert_eq!(
            c.credentials_for("127.0.0.1:5000").unwrap().password,
            "pa:ss"
        );
        assert_eq!(c.credentials_for("reg.local:8080").unwrap().username, "u2");
        assert_eq!(c.credentials_for("ghcr.io").unwrap().password, "tok");
        assert!(c.credentials_for("helper.example").is_none());
        assert!(c.credentials_for("quay.io").is_none());
        assert!(!format!("{c:?}").contains("secret"));
    }

    #[test]
    fn malformed_files_are_clear_errors() {
        assert!(DockerConfig::parse(b"{not json").is_err());
        let e = DockerConfig::parse(br#"{"auths":{"h":{"auth":"!!!"}}}"#).unwrap_err();
        assert!(e.contains("auths[\"h\"].auth is not base64"), "{e}");
        let e = DockerConfig::parse(br#"{"auths":{"h":{"auth":"bm9jb2xvbg=="}}}"#).unwrap_err();
        assert!(e.contains("username:password"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), b"[]").unwrap();
        let e = DockerConfig::load(dir.path()).unwrap_err();
        assert_eq!(e.reason(), signet_types::ReasonCode::ConfigError);
        assert!(e.to_string().contains("config.json is malformed"), "{e}");
        let missing = DockerConfig::load(dir.path().join("nope.json")).unwrap_err();
        assert!(
            missing.to_string().contains("cannot read docker config"),
            "{missing}"
        );
    }
}
