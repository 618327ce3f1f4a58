//! The kernel's one integration-test binary: the DNS exchange, drift between files, the layers of
//! its modules, the store, TLS.

mod dns;
mod drift;
mod layers;
mod store;
mod tls;
