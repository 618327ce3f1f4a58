//! The webhooks function's one integration-test binary: delivery and handler tests.

mod delivery;
mod handler;
