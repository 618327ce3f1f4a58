//! Persistence behind small traits, split by use. The DynamoDB implementation lives in
//! `dynamo.rs`; tests run it against DynamoDB Local.

pub mod dynamo;

use crate::error::ApiError;

/// What can go wrong talking to the store, in terms the API cares about.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Timeouts, refused connections, throttling, 5xx: the caller gets 503.
    #[error("the table is unreachable or throttling")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A stored item does not have the shape this code writes: a bug or a manual edit.
    #[error("corrupt item: {0}")]
    Corrupt(String),
    #[error("store call failed")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(_) => ApiError::unavailable(err),
            _ => ApiError::internal(err),
        }
    }
}

/// Whether the table answers at all (`GET /health`).
#[async_trait::async_trait]
pub trait HealthProbe: Send + Sync {
    async fn probe(&self) -> Result<(), StoreError>;
}
