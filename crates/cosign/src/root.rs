//! Offline Sigstore trust roots (`trusted_root.json`): Fulcio CAs, Rekor and CT log keys, TSAs.
//! Parsed and prepared once at startup; nothing is fetched, ever.

use std::path::Path;

use sigstore_verify::trust_root::TrustedRoot;

/// A loaded trusted root and the sigstore-verify verifier prepared from it.
pub struct Root {
    /// The file it came from (for reports).
    pub name: String,
    /// The parsed document.
    pub trusted: TrustedRoot,
    /// Keys and anchors prepared once.
    pub verifier: sigstore_verify::Verifier,
    /// SHA-256 of the file, part of the verifier fingerprint.
    pub sha256: String,
}

impl std::fmt::Debug for Root {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Root")
            .field("name", &self.name)
            .field("tlogs", &self.trusted.tlogs.len())
            .field(
                "certificateAuthorities",
                &self.trusted.certificate_authorities.len(),
            )
            .field("ctlogs", &self.trusted.ctlogs.len())
            .field(
                "timestampAuthorities",
                &self.trusted.timestamp_authorities.len(),
            )
            .finish()
    }
}

impl Root {
    /// Loads `path` (shown as `name`).
    pub fn load(path: &Path, name: &str) -> Result<Root, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Root::from_json(&bytes, name)
    }

    /// Parses a trusted root document.
    pub fn from_json(bytes: &[u8], name: &str) -> Result<Root, String> {
        use sha2::{Digest as _, Sha256};
        let text = std::str::from_utf8(bytes).map_err(|_| format!("{name}: not UTF-8"))?;
        let trusted = TrustedRoot::from_json(text)
            .map_err(|e| format!("{name}: not a Sigstore trusted root: {e}"))?;
        if trusted.tlogs.is_empty() && trusted.certificate_authorities.is_empty() {
            return Err(format!(
                "{name}: the trusted root lists no transparency log and no certificate authority"
            ));
        }
        let verifier = sigstore_verify::Verifier::new(&trusted)
            .map_err(|e| format!("{name}: unusable trusted root: {e}"))?;
        Ok(Root {
            name: name.to_string(),
            trusted,
            verifier,
            sha256: hex::encode(Sha256::digest(bytes)),
        })
    }
}
