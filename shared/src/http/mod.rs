//! The HTTP side of every function: the pipeline a request runs through, the route table that
//! drives it, replies and the envelope, request bodies, paging, and the one error type.

pub mod body;
pub mod cors;
pub mod envelope;
pub mod error;
pub mod paging;
mod pipeline;
pub mod routes;

pub use pipeline::{file_url, idempotent, public_base, serve, short_url, stage_path, ApiState, Call};
