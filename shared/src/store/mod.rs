//! The kernel's persistence: the DynamoDB primitives every resource store builds on
//! (`transact`: one transaction per change with its log and the meaning of each failed condition;
//! `query`: pages with key-condition ranges and filters; `cursor`: sealed cursors; `items`:
//! attribute codecs), and the kernel's own store traits (authentication, bootstrap, idempotency,
//! health) with their DynamoDB implementation (`keys`). Tests run it against DynamoDB Local.

pub mod cursor;
pub mod dynamo;
pub mod items;
mod keys;
pub mod query;
pub mod transact;

use crate::http::error::ApiError;

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

use crate::auth::{KeyId, SecretHash};
use crate::change::ChangeLog;
use crate::model::{KeyRecord, Organization};
use crate::store::cursor::Position;
use time::OffsetDateTime;

/// Why a change was not made.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("{0}")]
    Conflict(String),
    /// A one-per-owner claim the change makes is held already (a member's one user key).
    #[error("{0}")]
    Claimed(String),
    #[error("not found")]
    NotFound,
    /// A precondition named by field (e.g. `user_id` is not a member).
    #[error("{reason}")]
    Invalid { field: &'static str, reason: String },
    /// A resource the change refers to is gone (e.g. the member of a new user key).
    #[error("{reason}")]
    Missing { field: &'static str, reason: String },
    /// The change's `Idempotency-Key` was claimed by another request first.
    #[error("idempotency key taken")]
    IdempotencyTaken,
    /// An organization's limit is reached (running sandboxes).
    #[error("{0}")]
    Quota(String),
    /// An item changed between the read a change was decided on and the change's transaction.
    #[error("the item changed while this request ran; retry")]
    Stale,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ChangeError> for ApiError {
    fn from(err: ChangeError) -> Self {
        match err {
            ChangeError::Conflict(message) | ChangeError::Claimed(message) => ApiError::Conflict(message),
            ChangeError::NotFound => ApiError::NotFound("resource"),
            ChangeError::Invalid { field, reason } => ApiError::validation(field, reason),
            ChangeError::Missing { field, reason } => ApiError::MissingReference { field, reason },
            ChangeError::IdempotencyTaken => ApiError::IdempotencyTaken,
            ChangeError::Stale => ApiError::Conflict(err.to_string()),
            ChangeError::Quota(message) => ApiError::QuotaExceeded(message),
            ChangeError::Store(store) => store.into(),
        }
    }
}

/// One page of a list, newest first. `next` is where the page ended, present exactly when more
/// items match: a page is never empty while there are more. The HTTP layer seals it into the
/// opaque cursor.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Position>,
}

/// The outcome of the one store call an authenticated request makes.
#[derive(Debug)]
pub enum Touch {
    /// Credential accepted and counted; `used` is this window's count including this request;
    /// `write_units` what the write consumed, table and indexes (when the store says).
    Counted { record: Box<KeyRecord>, used: u32, write_units: Option<f64> },
    /// Refused: `record` is the stored key, if any, for telling the reason apart.
    Refused { record: Option<Box<KeyRecord>>, used: u32 },
}

/// API keys as authentication reads them (their management is the keys function's).
#[async_trait::async_trait]
pub trait KeyStore: Send + Sync {
    /// Checks the presented hash, revocation, expiry and the rate window of `key_id`, and on
    /// success counts the request and sets `last_used_at`: all in one conditional write.
    async fn touch_key(&self, key_id: &KeyId, presented: &SecretHash, now: OffsetDateTime)
        -> Result<Touch, StoreError>;
    async fn get_key(&self, key_id: &KeyId) -> Result<Option<KeyRecord>, StoreError>;
}

/// The records of `Idempotency-Key`s (written by the creations themselves, in their transactions).
#[async_trait::async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// The record of a key in an organization and environment, expired or not (strongly consistent).
    async fn get_idempotency(
        &self,
        scope: &crate::change::idempotency::Scope,
        key_hash: &str,
    ) -> Result<Option<crate::change::idempotency::IdempotencyRecord>, StoreError>;
}

/// Organizations: the operator's bootstrap of one and its first key.
#[async_trait::async_trait]
pub trait OrgStore: Send + Sync {
    /// An organization and its first admin key, together.
    async fn create_org(&self, org: &Organization, admin_key: &KeyRecord, log: &ChangeLog) -> Result<(), ChangeError>;
}
