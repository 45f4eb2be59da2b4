//! Standard Webhooks signatures: `webhook-signature: v1,<base64 HMAC-SHA256 of
//! "{webhook-id}.{webhook-timestamp}.{body}">`, one per secret in force,
//! space-separated, so a subscriber rotating secrets accepts either.

use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::SigningSecret;

/// The three headers of a signed delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// `webhook-id`: the same for every attempt of one message.
    pub id: String,
    /// `webhook-timestamp`: seconds since the epoch, at this attempt.
    pub timestamp: i64,
    /// `webhook-signature`.
    pub signature: String,
}

/// Why a delivery did not verify.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    /// The timestamp is further from now than the tolerance.
    #[error("the timestamp is outside the tolerance")]
    Timestamp,
    /// No signature matches any secret.
    #[error("no signature matches")]
    Mismatch,
}

fn mac(secret: &SigningSecret, id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.key()).unwrap_or_else(|_| unreachable!());
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// Signs `body` for message `id` at `timestamp` with every secret in force.
pub fn sign(secrets: &[SigningSecret], id: &str, timestamp: i64, body: &[u8]) -> Signed {
    let signature = secrets
        .iter()
        .map(|secret| format!("v1,{}", STANDARD.encode(mac(secret, id, timestamp, body).finalize().into_bytes())))
        .collect::<Vec<_>>()
        .join(" ");
    Signed { id: id.to_owned(), timestamp, signature }
}

/// Checks a delivery as a subscriber would: the timestamp within `tolerance`
/// seconds of `now`, and one `v1` signature matching `secret` (in constant time).
pub fn verify(
    secret: &SigningSecret,
    signed: &Signed,
    body: &[u8],
    now: i64,
    tolerance: i64,
) -> Result<(), SignatureError> {
    if (now - signed.timestamp).abs() > tolerance {
        return Err(SignatureError::Timestamp);
    }
    let matches = signed.signature.split(' ').filter_map(|s| s.strip_prefix("v1,")).any(|candidate| {
        STANDARD
            .decode(candidate)
            .is_ok_and(|bytes| mac(secret, &signed.id, signed.timestamp, body).verify_slice(&bytes).is_ok())
    });
    if matches { Ok(()) } else { Err(SignatureError::Mismatch) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks reference libraries.
    #[test]
    fn signs_the_reference_example() {
        let secret = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        let signed = sign(std::slice::from_ref(&secret), "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(signed.signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert_eq!(verify(&secret, &signed, body, 1614265330 + 60, 300), Ok(()));
        assert_eq!(verify(&secret, &signed, body, 1614265330 + 301, 300), Err(SignatureError::Timestamp));
        assert_eq!(verify(&secret, &signed, b"{}", 1614265330, 300), Err(SignatureError::Mismatch));
    }

    #[test]
    fn a_rotated_secret_and_its_successor_both_verify() {
        let (old, new) = (SigningSecret::generate().unwrap(), SigningSecret::generate().unwrap());
        let signed = sign(&[new.clone(), old.clone()], "msg_1", 1_700_000_000, b"body");
        assert_eq!(signed.signature.split(' ').count(), 2);
        assert_eq!(verify(&old, &signed, b"body", 1_700_000_000, 0), Ok(()));
        assert_eq!(verify(&new, &signed, b"body", 1_700_000_000, 0), Ok(()));
        let stranger = SigningSecret::generate().unwrap();
        assert_eq!(verify(&stranger, &signed, b"body", 1_700_000_000, 0), Err(SignatureError::Mismatch));
    }
}
