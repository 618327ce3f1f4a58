//! The keys function's one integration-test binary: escalation, faults, handler, hardening, leaks, notices, store, usage and verify tests.

mod escalation;
mod faults;
mod handler;
mod hardening;
mod leaks;
mod notices;
mod store;
mod usage;
mod verify;
