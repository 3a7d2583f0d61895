//! X.509 signature algorithms → aws-lc-rs verification algorithms, for every signature Signet
//! checks on DER structures: certificates (`chain.rs`), OCSP answers and CRLs
//! (`revocation.rs`), RFC 3161 tokens (`timestamp.rs`). SHA-1 is never accepted.

use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use x509_parser::certificate::X509Certificate;
use x509_parser::x509::AlgorithmIdentifier;

pub(crate) const OID_RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
pub(crate) const OID_RSA_SHA256: &str = "1.2.840.113549.1.1.11";
pub(crate) const OID_RSA_SHA384: &str = "1.2.840.113549.1.1.12";
pub(crate) const OID_RSA_SHA512: &str = "1.2.840.113549.1.1.13";
pub(crate) const OID_RSA_PSS: &str = "1.2.840.113549.1.1.10";
pub(crate) const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
pub(crate) const OID_ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
pub(crate) const OID_ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";
pub(crate) const OID_ECDSA_SHA512: &str = "1.2.840.10045.4.3.4";
pub(crate) const OID_ED25519: &str = "1.3.101.112";
pub(crate) const OID_SHA1: &str = "1.3.14.3.2.26";
pub(crate) const OID_SHA256: &str = "2.16.840.1.101.3.4.2.1";
pub(crate) const OID_SHA384: &str = "2.16.840.1.101.3.4.2.2";
pub(crate) const OID_SHA512: &str = "2.16.840.1.101.3.4.2.3";
pub(crate) const OID_P256: &str = "1.2.840.10045.3.1.7";
pub(crate) const OID_P384: &str = "1.3.132.0.34";
pub(crate) const OID_P521: &str = "1.3.132.0.35";

/// The curve OID of an EC subject public key.
pub(crate) fn ec_curve(key: &X509Certificate<'_>) -> Option<String> {
    key.public_key()
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok())
        .map(|o| o.to_id_string())
}

/// The hash OID of RSASSA-PSS parameters.
pub(crate) fn pss_hash(alg: &AlgorithmIdentifier<'_>) -> Option<String> {
    let params = alg.parameters.as_ref()?;
    let parsed = x509_parser::signature_algorithm::RsaSsaPssParams::try_from(params).ok()?;
    Some(parsed.hash_algorithm_oid().to_id_string())
}

/// The verification algorithm for signature algorithm `sig_oid` (with the PSS hash when it is
/// RSASSA-PSS) made with `key`'s public key. Ed25519 only when `allow_ed25519`.
pub(crate) fn algorithm(
    sig_oid: &str,
    pss_hash: Option<&str>,
    key: &X509Certificate<'_>,
    allow_ed25519: bool,
) -> Option<&'static dyn VerificationAlgorithm> {
    let curve = ec_curve(key);
    let alg: &'static dyn VerificationAlgorithm = match (sig_oid, curve.as_deref()) {
        (OID_RSA_SHA256, _) => &signature::RSA_PKCS1_2048_8192_SHA256,
        (OID_RSA_SHA384, _) => &signature::RSA_PKCS1_2048_8192_SHA384,
        (OID_RSA_SHA512, _) => &signature::RSA_PKCS1_2048_8192_SHA512,
        (OID_RSA_PSS, _) => match pss_hash {
            Some(OID_SHA256) => &signature::RSA_PSS_2048_8192_SHA256,
            Some(OID_SHA384) => &signature::RSA_PSS_2048_8192_SHA384,
            Some(OID_SHA512) => &signature::RSA_PSS_2048_8192_SHA512,
            _ => return None,
        },
        (OID_ECDSA_SHA256, Some(OID_P256)) => &signature::ECDSA_P256_SHA256_ASN1,
        (OID_ECDSA_SHA256, Some(OID_P384)) => &signature::ECDSA_P384_SHA256_ASN1,
        (OID_ECDSA_SHA384, Some(OID_P256)) => &signature::ECDSA_P256_SHA384_ASN1,
        (OID_ECDSA_SHA384, Some(OID_P384)) => &signature::ECDSA_P384_SHA384_ASN1,
        (OID_ECDSA_SHA384, Some(OID_P521)) => &signature::ECDSA_P521_SHA384_ASN1,
        (OID_ECDSA_SHA512, Some(OID_P384)) => &signature::ECDSA_P384_SHA512_ASN1,
        (OID_ECDSA_SHA512, Some(OID_P521)) => &signature::ECDSA_P521_SHA512_ASN1,
        (OID_ED25519, _) if allow_ed25519 => &signature::ED25519,
        _ => return None,
    };
    Some(alg)
}

/// CMS allows the signature algorithm to be the bare key algorithm (rsaEncryption,
/// id-ecPublicKey) with the hash given by the digest algorithm: the equivalent combined OID.
pub(crate) fn combined_with_digest(sig_oid: &str, digest_oid: &str) -> Option<&'static str> {
    Some(match (sig_oid, digest_oid) {
        (OID_RSA_ENCRYPTION, OID_SHA256) => OID_RSA_SHA256,
        (OID_RSA_ENCRYPTION, OID_SHA384) => OID_RSA_SHA384,
        (OID_RSA_ENCRYPTION, OID_SHA512) => OID_RSA_SHA512,
        (OID_EC_PUBLIC_KEY, OID_SHA256) => OID_ECDSA_SHA256,
        (OID_EC_PUBLIC_KEY, OID_SHA384) => OID_ECDSA_SHA384,
        (OID_EC_PUBLIC_KEY, OID_SHA512) => OID_ECDSA_SHA512,
        _ => return None,
    })
}

/// Verifies `sig` over `message` with `key`'s public key; `Err` names what failed.
pub(crate) fn verify(
    sig_oid: &str,
    pss_hash: Option<&str>,
    key: &X509Certificate<'_>,
    allow_ed25519: bool,
    message: &[u8],
    sig: &[u8],
) -> Result<(), String> {
    let alg = algorithm(sig_oid, pss_hash, key, allow_ed25519).ok_or_else(|| {
        format!("signature algorithm {sig_oid} is not supported with the signer's key")
    })?;
    UnparsedPublicKey::new(alg, key.public_key().subject_public_key.data.as_ref())
        .verify(message, sig)
        .map_err(|_| {
            format!(
                "the signature does not verify with the key of {}",
                key.subject()
            )
        })
}
