//! keyhive's kernel: what every Lambda function shares, and nothing a single resource owns.
//!
//! - `http`: the pipeline (route, authenticate, permit, handler, envelope), the route table,
//!   replies, bodies, paging and the one error type;
//! - `auth`: the credential format and keyed hash, the one-round-trip authentication, permissions,
//!   the server secrets, and an organization's bootstrap;
//! - `change`: the change log every change writes in its own transaction (audit entries, outbox
//!   events with their typed event types, `Idempotency-Key` records);
//! - `store`: DynamoDB primitives (transactions, query pages, sealed cursors, attribute codecs)
//!   and the kernel's own store traits;
//! - `schema`: the one key-schema module; `config`, `aws`, `telemetry`.
//!
//! A resource's own rules, store and handler live in its function crate (`functions/<name>`).

pub mod auth;
pub mod aws;
pub mod bootstrap;
pub mod change;
pub mod config;
#[cfg(feature = "dns")]
pub mod dns;
pub mod error;
pub mod http;
pub mod jobs;
pub mod model;
pub mod schema;
pub mod secrets;
pub mod store;
pub mod telemetry;

pub use error::ApiError;
pub use http::envelope::{Reply, RequestId};
pub use http::{ApiState, Call};
#[cfg(feature = "testkit")]
pub mod testkit;
