//! The console function's one integration-test binary: its handler on REST v1 events.

mod handler;
