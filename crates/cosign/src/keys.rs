//! Public keys for key-based policies: PEM `PUBLIC KEY` (SPKI) of ECDSA P-256/P-384, RSA or
//! Ed25519, parsed once at startup.

use sha2::{Digest as _, Sha256};
use sigstore_verify::crypto::{KeyAlgorithm, SigningScheme};
use sigstore_verify::types::{DerPublicKey, SignatureBytes};

/// A configured public key.
#[derive(Debug, Clone)]
pub struct PublicKey {
    /// Where it came from: the file path, or `inline key N` (reported as keyInformation.name).
    pub name: String,
    /// `file` or `inline` (reported as keyInformation.provider).
    pub provider: &'static str,
    /// DER SubjectPublicKeyInfo.
    pub der: DerPublicKey,
    /// The key's algorithm.
    pub algorithm: KeyAlgorithm,
    /// SHA-256 of the DER SPKI, hex (reported, and compared with bundle key hints).
    pub sha256: String,
}

impl PublicKey {
    /// Parses one PEM public key. `name` and `provider` are kept for reports.
    pub fn from_pem(pem: &str, name: String, provider: &'static str) -> Result<PublicKey, String> {
        let blocks = pem.matches("-----BEGIN ").count();
        if blocks != 1 {
            return Err(format!(
                "expected exactly one PEM \"PUBLIC KEY\" block, found {blocks}"
            ));
        }
        if !pem.contains("-----BEGIN PUBLIC KEY-----") {
            return Err(
                "not a PEM \"PUBLIC KEY\" (SubjectPublicKeyInfo) block; private keys and certificates are not accepted here".into(),
            );
        }
        let der = DerPublicKey::from_pem(pem).map_err(|e| format!("malformed public key: {e}"))?;
        let algorithm =
            KeyAlgorithm::from_spki(&der).map_err(|e| format!("unsupported public key: {e}"))?;
        match algorithm {
            KeyAlgorithm::EcdsaP256
            | KeyAlgorithm::EcdsaP384
            | KeyAlgorithm::Rsa
            | KeyAlgorithm::Ed25519 => {}
            other => {
                return Err(format!(
                    "unsupported key algorithm {other:?}; use ECDSA P-256/P-384, RSA or Ed25519"
                ))
            }
        }
        // Fails now, not at verification time, for keys the crypto backend rejects (for
        // example RSA keys that are too small).
        sigstore_verify::crypto::VerificationKey::from_der(
            &der,
            algorithm.default_signing_scheme(),
        )
        .map_err(|e| format!("unusable public key: {e}"))?;
        let sha256 = hex::encode(Sha256::digest(der.as_bytes()));
        Ok(PublicKey {
            name,
            provider,
            der,
            algorithm,
            sha256,
        })
    }

    /// The schemes cosign signs with for this key type, tried in order. Cosign hashes with
    /// SHA-256 for every key type when signing with `--key`; P-384 keys created by other tools
    /// may use SHA-384, which is its standard pairing.
    pub fn schemes(&self) -> &'static [SigningScheme] {
        match self.algorithm {
            KeyAlgorithm::EcdsaP256 => &[SigningScheme::EcdsaP256Sha256],
            KeyAlgorithm::EcdsaP384 => &[
                SigningScheme::EcdsaP384Sha256,
                SigningScheme::EcdsaP384Sha384,
            ],
            KeyAlgorithm::Rsa => &[SigningScheme::RsaPkcs1Sha256],
            KeyAlgorithm::Ed25519 => &[SigningScheme::Ed25519],
            _ => &[],
        }
    }

    /// Checks `signature` over `message` with this key.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), String> {
        let sig = SignatureBytes::from_bytes(signature);
        let mut last = String::from("no signing scheme for this key type");
        for scheme in self.schemes() {
            match sigstore_verify::crypto::verify_signature(&self.der, message, &sig, *scheme) {
                Ok(()) => return Ok(()),
                Err(e) => last = e.to_string(),
            }
        }
        Err(last)
    }

    /// A short description for messages: `file keys/a.pub (ECDSA P-256)`.
    pub fn describe(&self) -> String {
        format!("{} {} ({:?})", self.provider, self.name, self.algorithm)
    }
}
