//! The one error type of keyhive: everything a request can fail with, whatever layer finds it.
//! It sits at the kernel's root, below every module that returns it; its HTTP meaning (status,
//! envelope code, details) is given in one place, `http::error`.

/// Everything a request can fail with. Client errors carry a message meant for the caller;
/// `Internal` and `Unavailable` keep their source for the log and say nothing internal outward.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the request body is not a JSON object")]
    InvalidJson,
    /// The message names the field and the reason (`name: is required`); `details` has both.
    #[error("{field}: {reason}")]
    Validation { field: String, reason: String },
    #[error("a valid API key is required")]
    Unauthorized,
    #[error("this key lacks the permission {required}")]
    Forbidden { required: String },
    /// No escalation: the change would give or touch more power than the caller holds, on the
    /// named axis (`permissions` also lists the permissions lacking).
    #[error("{message}")]
    Escalation { axis: Axis, message: &'static str, permissions: Vec<String> },
    /// The named kind of thing (`key`, `sandbox`, ...) does not exist for this caller: missing,
    /// deleted, or another tenant's (never told apart).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// No route has this method and path (or the route is not this function's): 404 like a
    /// missing resource, said differently, so a route can never be mistaken for a resource.
    #[error("no route matches this path")]
    NoRoute,
    /// A resource the body refers to (e.g. the member of a user key) is not in the caller's
    /// organization: 404 like any missing resource, with the field named.
    #[error("{field}: {reason}")]
    MissingReference { field: &'static str, reason: String },
    #[error("method {method} is not allowed here")]
    MethodNotAllowed { method: String, allowed: Vec<&'static str> },
    #[error("{0}")]
    Conflict(String),
    /// A conflict with one existing thing the caller may act on instead (`details.id`).
    #[error("{message}")]
    ConflictWith { message: String, id: String },
    /// A repeated `Idempotency-Key` whose first response revealed a secret, which is never
    /// shown twice: the caller learns what was created instead.
    #[error("this Idempotency-Key already created {id}; its secret was shown once")]
    AlreadyCreated { id: String },
    /// Another request with the same `Idempotency-Key` won the race; `http::idempotent` replays its
    /// answer, so this reaches a caller only if that answer cannot be read back.
    #[error("a request with this Idempotency-Key is being processed; retry")]
    IdempotencyTaken,
    #[error("{0}")]
    QuotaExceeded(String),
    #[error("{0}")]
    Gone(String),
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("rate limit exceeded: retry after {retry_after} seconds")]
    RateLimited { retry_after: u64, limit: u32, reset: i64 },
    #[error("a dependency is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The axes of the no-escalation rule, as `details.missing` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    Permissions,
    Environment,
    RateLimit,
    ExpiresAt,
    /// The request used a secret a roll replaced.
    Secret,
}

impl Axis {
    pub fn as_str(self) -> &'static str {
        match self {
            Axis::Permissions => "permissions",
            Axis::Environment => "environment",
            Axis::RateLimit => "rate_limit",
            Axis::ExpiresAt => "expires_at",
            Axis::Secret => "secret",
        }
    }
}

impl ApiError {
    pub fn escalation(axis: Axis, message: &'static str) -> Self {
        ApiError::Escalation { axis, message, permissions: Vec::new() }
    }

    pub fn validation(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ApiError::Validation { field: field.into(), reason: reason.into() }
    }

    pub fn internal(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        ApiError::Internal(source.into())
    }

    pub fn unavailable(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        ApiError::Unavailable(source.into())
    }

    /// Whether an operator needs to see this one in the log (with its source chain).
    pub fn is_server_side(&self) -> bool {
        matches!(self, ApiError::Internal(_) | ApiError::Unavailable(_))
    }
}

/// The full source chain of an error, for the log line of a server-side failure.
pub fn source_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut next = err.source();
    while let Some(source) = next {
        out.push_str(": ");
        out.push_str(&source.to_string());
        next = source.source();
    }
    out
}
