//! The server-side secret (Secrets Manager) that keys are hashed under.

use crate::http::error::ApiError;
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

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("the secret is {0} bytes long; at least 32 are required")]
    TooShort(usize),
    #[error("the secret has no string value")]
    Empty,
    #[error("Secrets Manager call failed")]
    Sdk(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<SecretError> for ApiError {
    fn from(err: SecretError) -> Self {
        match err {
            // Unreachable Secrets Manager is a dependency outage; a bad secret is a deployment bug.
            SecretError::Sdk(_) => ApiError::unavailable(err),
            _ => ApiError::internal(err),
        }
    }
}

/// Reads the current version of the secret.
pub async fn load_hashing_secret(client: &Client, secret_id: &str) -> Result<HashingSecret, SecretError> {
    HashingSecret::new(load_secret_bytes(client, secret_id).await?)
}

/// The key that seals list cursors, from a secret of its own (at least 32 bytes).
pub async fn load_cursor_key(client: &Client, secret_id: &str) -> Result<crate::store::cursor::CursorKey, SecretError> {
    let bytes = load_secret_bytes(client, secret_id).await?;
    if bytes.len() < 32 {
        return Err(SecretError::TooShort(bytes.len()));
    }
    Ok(crate::store::cursor::CursorKey::from_secret(&bytes))
}

/// A secret's current value, as bytes.
pub async fn load_secret_bytes(client: &Client, secret_id: &str) -> Result<Vec<u8>, SecretError> {
    let out = client
        .get_secret_value()
        .secret_id(secret_id)
        .version_stage("AWSCURRENT")
        .send()
        .await
        .map_err(|e| SecretError::Sdk(Box::new(e)))?;
    let value = out.secret_string().ok_or(SecretError::Empty)?;
    Ok(value.as_bytes().to_vec())
}

/// Creates the secret with `value` unless a secret with that id exists (local stack only; in
/// AWS the template generates it). Returns whether it was created.
pub async fn ensure_secret(client: &Client, secret_id: &str, value: &str) -> Result<bool, SecretError> {
    match client.describe_secret().secret_id(secret_id).send().await {
        Ok(_) => Ok(false),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => {
            client
                .create_secret()
                .name(secret_id)
                .secret_string(value)
                .send()
                .await
                .map_err(|e| SecretError::Sdk(Box::new(e)))?;
            Ok(true)
        }
        Err(err) => Err(SecretError::Sdk(Box::new(err))),
    }
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
