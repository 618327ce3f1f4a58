//! The keys function's one integration-test binary: escalation, faults, handler, hardening and store tests.

mod escalation;
mod faults;
mod handler;
mod hardening;
mod store;
mod usage;
