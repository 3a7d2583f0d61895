//! Content digests (`algorithm:hex`), validated at construction.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256, Sha512};

/// A content digest such as `sha256:9f86d0…`. Only `sha256` and `sha512` are accepted, with
/// lowercase hex of the right length, so a `Digest` value is always well formed and comparable.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    hex: String,
}

/// Digest algorithms the OCI image spec registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// SHA-256, the default everywhere.
    Sha256,
    /// SHA-512.
    Sha512,
}

impl Algorithm {
    /// The name used in the digest string.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }
    fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }
}

/// Why a string is not a digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DigestError {
    /// No `:` separating algorithm and hex.
    #[error("digest {0:?} has no ':' between algorithm and hex")]
    MissingSeparator(String),
    /// The algorithm is not sha256 or sha512.
    #[error("digest {0:?} uses an unsupported algorithm (expected sha256 or sha512)")]
    UnsupportedAlgorithm(String),
    /// Wrong length or characters other than lowercase hex.
    #[error("digest {0:?} has an invalid hex part (expected {1} lowercase hex characters)")]
    InvalidHex(String, usize),
}

impl Digest {
    /// Parses and validates `algorithm:hex`.
    pub fn parse(s: &str) -> Result<Self, DigestError> {
        let (alg, hex) = s
            .split_once(':')
            .ok_or_else(|| DigestError::MissingSeparator(s.to_string()))?;
        let algorithm = match alg {
            "sha256" => Algorithm::Sha256,
            "sha512" => Algorithm::Sha512,
            _ => return Err(DigestError::UnsupportedAlgorithm(s.to_string())),
        };
        let ok = hex.len() == algorithm.hex_len()
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !ok {
            return Err(DigestError::InvalidHex(s.to_string(), algorithm.hex_len()));
        }
        Ok(Digest {
            algorithm,
            hex: hex.to_string(),
        })
    }

    /// The SHA-256 digest of `data`.
    pub fn sha256_of(data: &[u8]) -> Self {
        Digest {
            algorithm: Algorithm::Sha256,
            hex: hex::encode(Sha256::digest(data)),
        }
    }

    /// The digest of `data` computed with this digest's algorithm.
    pub fn same_algorithm_of(&self, data: &[u8]) -> Self {
        let hex = match self.algorithm {
            Algorithm::Sha256 => hex::encode(Sha256::digest(data)),
            Algorithm::Sha512 => hex::encode(Sha512::digest(data)),
        };
        Digest {
            algorithm: self.algorithm,
            hex,
        }
    }

    /// True when `data` hashes to this digest.
    pub fn matches(&self, data: &[u8]) -> bool {
        self.same_algorithm_of(data) == *self
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The lowercase hex part.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The tag the OCI referrers tag schema uses for this digest: `sha256-<hex>`.
    pub fn referrers_tag(&self) -> String {
        format!("{}-{}", self.algorithm.as_str(), self.hex)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.as_str(), self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

impl FromStr for Digest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::parse(s)
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_round_trips() {
        let d = Digest::sha256_of(b"hello");
        let s = d.to_string();
        assert_eq!(
            s,
            "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(Digest::parse(&s).unwrap(), d);
        assert!(d.matches(b"hello"));
        assert!(!d.matches(b"hello!"));
        assert_eq!(d.referrers_tag(), s.replace(':', "-"));
    }

    #[test]
    fn rejects_malformed() {
        assert!(matches!(
            Digest::parse("sha256"),
            Err(DigestError::MissingSeparator(_))
        ));
        assert!(matches!(
            Digest::parse("md5:abcd"),
            Err(DigestError::UnsupportedAlgorithm(_))
        ));
        assert!(matches!(
            Digest::parse("sha256:ABCDEF"),
            Err(DigestError::InvalidHex(_, 64))
        ));
        let upper = format!("sha256:{}", "A".repeat(64));
        assert!(Digest::parse(&upper).is_err());
        let sha512 = Digest::parse(&format!("sha512:{}", "a".repeat(128))).unwrap();
        assert!(!sha512.matches(b"x"));
    }
}
