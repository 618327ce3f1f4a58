//! Secrets Manager, as every part of the kernel reads it: a secret's value, and (local stack
//! only) its creation. What a secret is for lives with its user (`auth::secrets`: the hashing
//! secret; `store::cursor`: the cursor key).

use crate::error::ApiError;
use aws_sdk_secretsmanager::Client;

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
