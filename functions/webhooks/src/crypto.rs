//! Sealing signing secrets at rest, and signing deliveries the Standard Webhooks way.

use crate::model::{SigningSecret, WebhookId};
use base64::Engine;
use hmac::{Hmac, Mac};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use sha2::{Digest, Sha256};
use std::fmt;

/// The key that seals signing secrets (AES-256-GCM), from a Secrets Manager secret only the
/// webhook functions read. A sealed secret opens only for the endpoint it was sealed for.
pub struct SealingKey(LessSafeKey);

impl fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealingKey(<redacted>)")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("a sealed webhook secret does not open")]
pub struct Unsealable;

impl SealingKey {
    /// From the secret's bytes (at least 32): SHA-256 of them is the key.
    pub fn from_secret(secret: &[u8]) -> Option<Self> {
        if secret.len() < 32 {
            return None;
        }
        let digest = Sha256::digest(secret);
        let unbound = UnboundKey::new(&AES_256_GCM, &digest).ok()?;
        Some(SealingKey(LessSafeKey::new(unbound)))
    }

    /// `nonce || ciphertext || tag`, bound to the endpoint id.
    pub fn seal(&self, secret: &SigningSecret, endpoint: &WebhookId) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce);
        let mut sealed = secret.as_bytes().to_vec();
        let aad = Aad::from(endpoint.as_str().as_bytes());
        // Sealing fails only on inputs larger than AES-GCM allows; 32 bytes never are.
        if self.0.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), aad, &mut sealed).is_err() {
            return Vec::new();
        }
        let mut out = nonce.to_vec();
        out.extend(sealed);
        out
    }

    pub fn open(&self, sealed: &[u8], endpoint: &WebhookId) -> Result<SigningSecret, Unsealable> {
        if sealed.len() <= NONCE_LEN {
            return Err(Unsealable);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| Unsealable)?;
        let mut body = body.to_vec();
        let aad = Aad::from(endpoint.as_str().as_bytes());
        let plain = self.0.open_in_place(nonce, aad, &mut body).map_err(|_| Unsealable)?;
        SigningSecret::from_bytes(plain.to_vec()).ok_or(Unsealable)
    }
}

/// `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` under the secret's bytes.
pub fn signature(secret: &SigningSecret, message_id: &str, timestamp: i64, body: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        unreachable!("HMAC takes keys of any length")
    };
    mac.update(format!("{message_id}.{timestamp}.").as_bytes());
    mac.update(body.as_bytes());
    format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
}

/// The `webhook-signature` header: each signature, space-separated (two during a rotation).
pub fn signature_header(secrets: &[SigningSecret], message_id: &str, timestamp: i64, body: &str) -> String {
    secrets.iter().map(|s| signature(s, message_id, timestamp, body)).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_for_its_endpoint_and_key() {
        let key = SealingKey::from_secret(&[7u8; 48]).unwrap();
        let other_key = SealingKey::from_secret(&[8u8; 48]).unwrap();
        let (a, b) = (WebhookId::generate(), WebhookId::generate());
        let secret = SigningSecret::generate();
        let sealed = key.seal(&secret, &a);
        assert!(!sealed.windows(8).any(|w| secret.as_bytes().windows(8).any(|s| s == w)), "no clear bytes");
        assert_eq!(key.open(&sealed, &a).unwrap(), secret);
        assert!(key.open(&sealed, &b).is_err());
        assert!(other_key.open(&sealed, &a).is_err());
        let mut tampered = sealed.clone();
        tampered[NONCE_LEN] ^= 1;
        assert!(key.open(&tampered, &a).is_err());
        assert!(key.open(&sealed[..NONCE_LEN], &a).is_err());
        assert!(SealingKey::from_secret(&[1u8; 31]).is_none());
    }

    /// The Standard Webhooks specification's own example (its README's test vector).
    #[test]
    fn signatures_match_the_standard_webhooks_example() {
        let secret = SigningSecret::from_bytes(
            base64::engine::general_purpose::STANDARD.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap(),
        )
        .unwrap();
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            signature(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }
}
