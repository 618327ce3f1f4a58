//! The one place that maps the error type (`crate::error::ApiError`) to an HTTP status, an
//! envelope error code and the envelope's `details`.

use crate::error::ApiError;
use http::StatusCode;
use serde_json::{json, Value};

impl ApiError {
    /// The single mapping from error to (HTTP status, envelope code).
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::InvalidJson => (StatusCode::BAD_REQUEST, "INVALID_JSON"),
            ApiError::Validation { .. } => (StatusCode::BAD_REQUEST, "VALIDATION_FAILED"),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "UNAUTHORIZED"),
            ApiError::Forbidden { .. } | ApiError::Escalation { .. } => (StatusCode::FORBIDDEN, "FORBIDDEN"),
            ApiError::NotFound(_) | ApiError::NoRoute | ApiError::MissingReference { .. } => {
                (StatusCode::NOT_FOUND, "NOT_FOUND")
            }
            ApiError::MethodNotAllowed { .. } => (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED"),
            ApiError::Conflict(_)
            | ApiError::ConflictWith { .. }
            | ApiError::AlreadyCreated { .. }
            | ApiError::IdempotencyTaken => (StatusCode::CONFLICT, "CONFLICT"),
            ApiError::QuotaExceeded(_) => (StatusCode::CONFLICT, "QUOTA_EXCEEDED"),
            ApiError::Gone(_) => (StatusCode::GONE, "GONE"),
            ApiError::PayloadTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE"),
            ApiError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR"),
        }
    }

    /// `error.details` of the envelope, when the variant has any.
    pub fn details(&self) -> Option<Value> {
        match self {
            ApiError::Validation { field, reason } => Some(json!({ "field": field, "reason": reason })),
            ApiError::MissingReference { field, reason } => Some(json!({ "field": field, "reason": reason })),
            ApiError::AlreadyCreated { id } | ApiError::ConflictWith { id, .. } => Some(json!({ "id": id })),
            ApiError::Forbidden { required } => Some(json!({ "required": required })),
            ApiError::Escalation { axis, permissions, .. } if !permissions.is_empty() => {
                Some(json!({ "missing": axis.as_str(), "permissions": permissions }))
            }
            ApiError::Escalation { axis, .. } => Some(json!({ "missing": axis.as_str() })),
            ApiError::MethodNotAllowed { allowed, .. } => Some(json!({ "allowed": allowed })),
            ApiError::PayloadTooLarge { limit } => Some(json!({ "limit_bytes": limit })),
            ApiError::RateLimited { retry_after, .. } => Some(json!({ "retry_after": retry_after })),
            _ => None,
        }
    }
}
