//! Public keys for key-based policies: PEM `PUBLIC KEY` (SPKI) of ECDSA P-256/P-384, RSA or
//! Ed25519, parsed once at startup.

use sha2::{Digest as _, Sha256};
use sigstore_verify::crypto::{KeyAlgorithm, SigningScheme};
use sigstore_verify::types::{DerPublicKey, SignatureBytes};

/// The smallest RSA modulus accepted (NIST SP 800-131A).
pub const MIN_RSA_BITS: usize = 2048;

/// Size in bits of the modulus of a DER SPKI RSA key.
fn rsa_modulus_bits(spki_der: &[u8]) -> Result<usize, String> {
    use der::Decode as _;
    let spki = spki::SubjectPublicKeyInfoRef::from_der(spki_der)
        .map_err(|e| format!("malformed public key: {e}"))?;
    let key = spki
        .subject_public_key
        .as_bytes()
        .ok_or("malformed RSA public key: unused bits in the key")?;
    let mut reader =
        der::SliceReader::new(key).map_err(|e| format!("malformed RSA public key: {e}"))?;
    let modulus = der::Reader::sequence(&mut reader, |r| {
        let n = der::asn1::UintRef::decode(r)?;
        let _e = der::asn1::UintRef::decode(r)?;
        Ok(n)
    })
    .map_err(|e| format!("malformed RSA public key: {e}"))?;
    let bytes = modulus.as_bytes();
    Ok(match bytes.first() {
        Some(first) => (bytes.len() - 1) * 8 + (8 - first.leading_zeros() as usize),
        None => 0,
    })
}

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
        if algorithm == KeyAlgorithm::Rsa {
            let bits = rsa_modulus_bits(der.as_bytes())?;
            if bits < MIN_RSA_BITS {
                return Err(format!(
                    "unusable public key: RSA key of {bits} bits; at least {MIN_RSA_BITS} are required"
                ));
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
