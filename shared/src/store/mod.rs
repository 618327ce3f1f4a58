//! Persistence behind small traits, split by use. The DynamoDB implementation lives in
//! `dynamo.rs`; tests run it against DynamoDB Local.

pub mod dynamo;
mod dynamo_keys;
pub mod items;

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

use crate::change::ChangeLog;
use crate::cursor::Position;
use crate::keys::{Environment, KeyId, SecretHash, Tier};
use crate::model::{KeyRecord, Member, OrgId, Organization, UserId};
use crate::permissions::Permissions;
use time::OffsetDateTime;

/// Why a change was not made.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("{0}")]
    Conflict(String),
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
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ChangeError> for ApiError {
    fn from(err: ChangeError) -> Self {
        match err {
            ChangeError::Conflict(message) => ApiError::Conflict(message),
            ChangeError::NotFound => ApiError::NotFound,
            ChangeError::Invalid { field, reason } => ApiError::validation(field, reason),
            ChangeError::Missing { field, reason } => ApiError::MissingReference { field, reason },
            ChangeError::IdempotencyTaken => ApiError::IdempotencyTaken,
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

/// What a key listing keeps, applied in the query (never after it, so pages stay full).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyFilter {
    /// Only keys of this environment (a test key's listing).
    pub environment: Option<Environment>,
    /// Only keys created by this key id, or by keys of this user id.
    pub created_by: Option<String>,
}

/// The outcome of the one store call an authenticated request makes.
#[derive(Debug)]
pub enum Touch {
    /// Credential accepted and counted; `used` is this window's count including this request.
    Counted { record: Box<KeyRecord>, used: u32 },
    /// Refused: `record` is the stored key, if any, for telling the reason apart.
    Refused { record: Option<Box<KeyRecord>>, used: u32 },
}

/// A change to an existing key. Each is one transaction with its audit entry and event, and
/// each is refused if the key was revoked or its permissions changed since it was read.
#[derive(Debug)]
pub enum KeyChange {
    Settings { name: String, permissions: Permissions, tier: Tier, expires_at: Option<OffsetDateTime> },
    Roll { secret_hash: SecretHash, last4: String, previous: Option<(SecretHash, i64)> },
    Revoke { at: OffsetDateTime },
}

/// API keys.
#[async_trait::async_trait]
pub trait KeyStore: Send + Sync {
    /// Checks the presented hash, revocation, expiry and the rate window of `key_id`, and on
    /// success counts the request and sets `last_used_at`: all in one conditional write.
    async fn touch_key(&self, key_id: &KeyId, presented: &SecretHash, now: OffsetDateTime)
        -> Result<Touch, StoreError>;
    async fn get_key(&self, key_id: &KeyId) -> Result<Option<KeyRecord>, StoreError>;
    /// The organization's unrevoked keys that pass `filter`, newest first, from `start` on.
    async fn list_keys(
        &self,
        org: &OrgId,
        filter: &KeyFilter,
        start: Option<&Position>,
        limit: u32,
    ) -> Result<Page<KeyRecord>, ChangeError>;
    /// Creates a key; a user key also claims its member's one-key slot (409 if taken).
    async fn create_key(&self, record: &KeyRecord, log: &ChangeLog) -> Result<(), ChangeError>;
    async fn change_key(&self, current: &KeyRecord, change: &KeyChange, log: &ChangeLog) -> Result<(), ChangeError>;
}

/// The records of `Idempotency-Key`s (written by the creations themselves, in their transactions).
#[async_trait::async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// The record of a key in an organization and environment, expired or not (strongly consistent).
    async fn get_idempotency(
        &self,
        scope: &crate::idempotency::Scope,
        key_hash: &str,
    ) -> Result<Option<crate::idempotency::IdempotencyRecord>, StoreError>;
}

/// Organizations and their members.
#[async_trait::async_trait]
pub trait OrgStore: Send + Sync {
    /// The operator's bootstrap: an organization and its first admin key, together.
    async fn create_org(&self, org: &Organization, admin_key: &KeyRecord, log: &ChangeLog) -> Result<(), ChangeError>;
    async fn get_member(&self, org: &OrgId, user_id: &UserId) -> Result<Option<Member>, StoreError>;
    async fn list_members(
        &self,
        org: &OrgId,
        start: Option<&Position>,
        limit: u32,
    ) -> Result<Page<Member>, ChangeError>;
    async fn create_member(&self, member: &Member, log: &ChangeLog) -> Result<(), ChangeError>;
    /// The id of the member's user key, if they hold one (strongly consistent).
    async fn user_key_of(&self, member: &Member) -> Result<Option<KeyId>, StoreError>;
    /// Removes the member and, in the same transaction, deletes `user_key` (what `user_key_of`
    /// found). Refused as a conflict when the member's key changed since: no key is orphaned.
    async fn remove_member(
        &self,
        member: &Member,
        user_key: Option<&KeyId>,
        log: &ChangeLog,
    ) -> Result<(), ChangeError>;
}
