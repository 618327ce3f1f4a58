//! The kernel's persistence: the DynamoDB primitives every store builds on (`dynamo`: the client
//! and table, the health probe; `transact`: one transaction per change and the meaning of each
//! failed condition; `query`: pages with key-condition ranges and filters; `cursor`: sealed
//! cursors and their key; `items`: attribute codecs), and the errors a store answers. It knows
//! no record of its own: each store trait lives with the code that owns its records (`auth`
//! for keys, `change` for idempotency records, `bootstrap` for organizations, the function
//! crates for theirs). Tests run it against DynamoDB Local.

pub mod cursor;
pub mod dynamo;
pub mod items;
pub mod query;
#[cfg(feature = "streams")]
pub mod stream;
pub mod transact;

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

use crate::store::cursor::Position;

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
