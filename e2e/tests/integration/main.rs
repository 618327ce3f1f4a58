//! The one end-to-end test binary, over HTTP; `make test` runs `outage::` apart, in phases.

mod console;
mod files;
mod foundation;
mod hardening;
mod keys;
mod links;
mod outage;
mod sandboxes;
mod usage;
mod webhooks;
