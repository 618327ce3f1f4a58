//! The server-side secret (Secrets Manager) that keys are hashed under.

use crate::secrets::{load_secret_bytes, SecretError};
use aws_sdk_secretsmanager::Client;
use std::fmt;

/// The HMAC key for API-key hashes. Its `Debug` never shows the bytes.
#[derive(Clone)]
pub struct HashingSecret(Vec<u8>);

impl HashingSecret {
    /// At least 32 bytes: shorter would weaken every stored hash.
    pub fn new(bytes: Vec<u8>) -> Result<Self, SecretError> {
        if bytes.len() < 32 {
            return Err(SecretError::TooShort(bytes.len()));
        }
        Ok(HashingSecret(bytes))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for HashingSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HashingSecret(<redacted>)")
    }
}

/// Reads the current version of the secret.
pub async fn load_hashing_secret(client: &Client, secret_id: &str) -> Result<HashingSecret, SecretError> {
    HashingSecret::new(load_secret_bytes(client, secret_id).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_secrets_are_refused_and_debug_redacts() {
        assert!(matches!(HashingSecret::new(vec![1; 31]), Err(SecretError::TooShort(31))));
        let s = HashingSecret::new(b"0123456789abcdef0123456789abcdef".to_vec()).unwrap();
        assert_eq!(format!("{s:?}"), "HashingSecret(<redacted>)");
    }
}
