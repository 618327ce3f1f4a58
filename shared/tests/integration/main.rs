//! The kernel's one integration-test binary: the DNS exchange, drift between files, the store, TLS.

mod dns;
mod drift;
mod store;
mod tls;
