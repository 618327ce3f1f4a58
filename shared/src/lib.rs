//! keyhive's shared library: everything the Lambda functions have in common.

pub mod api;
pub mod auth;
pub mod aws;
pub mod body;
pub mod change;
pub mod config;
pub mod cursor;
pub mod envelope;
pub mod error;
pub mod idempotency;
pub mod keys;
pub mod manage;
pub mod model;
pub mod paging;
pub mod permissions;
pub mod routes;
pub mod schema;
pub mod secrets;
pub mod store;
pub mod telemetry;

pub use api::{Api, Call};
pub use envelope::{Reply, RequestId};
pub use error::ApiError;
#[cfg(feature = "testkit")]
pub mod testkit;
