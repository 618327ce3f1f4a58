//! The links function's one integration-test binary: handler and store tests.

mod handler;
mod store;
