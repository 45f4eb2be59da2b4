//! Signing secrets: 32 random bytes, written `whsec_` + base64.

use std::fmt;

use base64::{Engine, engine::general_purpose::STANDARD};

const PREFIX: &str = "whsec_";
/// Bytes in a secret nudge makes.
const LENGTH: usize = 32;

/// A subscription's signing secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(Vec<u8>);

/// Why a secret was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    /// Not `whsec_` followed by base64.
    #[error("a signing secret is `whsec_` followed by base64")]
    Malformed,
    /// Fewer than 24 bytes, or more than 64.
    #[error("a signing secret holds 24 to 64 bytes")]
    Length,
    /// The system gave no random bytes.
    #[error("no randomness available: {0}")]
    Random(String),
}

impl SigningSecret {
    /// A new secret of 32 random bytes.
    pub fn generate() -> Result<Self, SecretError> {
        let mut bytes = vec![0; LENGTH];
        getrandom::fill(&mut bytes).map_err(|e| SecretError::Random(e.to_string()))?;
        Ok(Self(bytes))
    }

    /// Reads a secret as written (`whsec_...`).
    pub fn parse(s: &str) -> Result<Self, SecretError> {
        let encoded = s.strip_prefix(PREFIX).ok_or(SecretError::Malformed)?;
        let bytes = STANDARD.decode(encoded).map_err(|_| SecretError::Malformed)?;
        if !(24..=64).contains(&bytes.len()) {
            return Err(SecretError::Length);
        }
        Ok(Self(bytes))
    }

    /// The key bytes.
    pub(crate) fn key(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}{}", STANDARD.encode(&self.0))
    }
}

impl fmt::Debug for SigningSecret {
    /// Never prints the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_read_back() {
        let (a, b) = (SigningSecret::generate().unwrap(), SigningSecret::generate().unwrap());
        assert_ne!(a, b);
        assert_eq!(a.key().len(), 32);
        let written = a.to_string();
        assert!(written.starts_with("whsec_"));
        assert_eq!(SigningSecret::parse(&written), Ok(a.clone()));
        assert_eq!(format!("{a:?}"), "SigningSecret(…)");
        assert_eq!(SigningSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), Err(SecretError::Malformed));
        assert_eq!(SigningSecret::parse("whsec_!!!"), Err(SecretError::Malformed));
        assert_eq!(SigningSecret::parse("whsec_c2hvcnQ="), Err(SecretError::Length));
    }
}
